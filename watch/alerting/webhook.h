// Alertmanager's wire shapes for one notification: the alert fingerprint,
// RFC 3339 timestamps and the webhook JSON (version "4").
//
//   std::string body = watch::alerting::webhook_json("ops", "http://watch:9090", n);
//
// Fingerprint: as prometheus/common model.LabelSet.Fingerprint() (what
// Alertmanager puts in "fingerprint"): FNV-1a 64 over the label pairs sorted
// by name, each name and value followed by the byte 0xff; written as 16
// lower-case hex digits. An empty set hashes to FNV's offset basis.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "watch/dispatch/dispatch.h"
#include "watch/model/model.h"
#include "watch/rules/alerting.h"

namespace watch::alerting {

using dispatch::fingerprint;                       // Alertmanager's, watch/dispatch
std::string fingerprint_string(std::uint64_t fp);  // "%016x"

// Unix ms as RFC 3339 UTC, Go's RFC3339Nano layout (fraction without
// trailing zeros): "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.25Z".
// 0 is Go's zero time "0001-01-01T00:00:00Z".
std::string rfc3339(std::int64_t unix_ms);

// The webhook body for one notification, version "4":
//   {"receiver","status","alerts":[{"status","labels","annotations","startsAt",
//    "endsAt","generatorURL","fingerprint"}],"groupLabels","commonLabels",
//    "commonAnnotations","externalURL","version":"4","groupKey","truncatedAlerts":0}
// One alert a message (no grouping yet): the group is the alert's whole label
// set, so groupLabels and commonLabels are its labels, commonAnnotations its
// annotations and groupKey `{}:{name="value", ...}`. A firing alert's endsAt
// is Go's zero time (as Alertmanager writes for alerts without a known end);
// a resolved one's is its resolution time.
std::string webhook_json(std::string_view receiver, std::string_view external_url,
                         const rules::Notification& n);

// The webhook body for one group notification (watch/dispatch), version
// "4", as Alertmanager's webhook notifier writes it: at most `max_alerts`
// alerts (0: all; the rest counted in truncatedAlerts), firing ones first;
// "status" is "firing" while any alert fires; commonLabels and
// commonAnnotations are the pairs every (sent) alert has; groupKey is the
// group's key. A firing alert's endsAt is Go's zero time.
std::string webhook_group_json(const dispatch::GroupNotification& n, std::string_view external_url,
                               std::size_t max_alerts = 0);

// A rule's notification as the dispatcher (and Alertmanager) holds it: a
// resolved one ends at its resolution, a firing one is open-ended.
dispatch::Alert to_alert(const rules::Notification& n);

// The notification as stored in the pending queue, and back (nullopt when
// `text` is not one).
std::string serialize(const rules::Notification& n);
std::optional<rules::Notification> deserialize(std::string_view text);

}  // namespace watch::alerting
