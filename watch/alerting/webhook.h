// Alertmanager's wire shapes for one notification: the alert fingerprint,
// RFC 3339 timestamps and the webhook JSON (version "4").
//
//   std::string body = watch::alerting::webhook_group_json(group_notification,
//   "http://watch:9090");
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

}  // namespace watch::alerting
