// Alertmanager's API v2 on watch's listen address, served from watch's own
// delivery (alerting/delivery.h), so Prometheus (`alerting.alertmanagers`),
// amtool and Grafana's Alertmanager data source talk to watch unchanged:
//
//   POST   /api/v2/alerts          postableAlerts: routed like watch's own
//   GET    /api/v2/alerts          filter=<matcher>..., active, silenced,
//                                  inhibited, unprocessed, receiver=<regex>
//   GET    /api/v2/alerts/groups   the same filters, by aggregation group
//   GET    /api/v2/silences        filter=<matcher>...
//   POST   /api/v2/silences        postableSilence -> {"silenceID": ...}
//   GET    /api/v2/silence/{id}
//   DELETE /api/v2/silence/{id}
//   GET    /api/v2/status          cluster (disabled), config.original, uptime
//   GET    /api/v2/receivers
//
// Bodies, validation and errors are Alertmanager 0.25's: e.g. an alert
// without labels is answered 400 "at least one label pair required", a bad
// matcher in `filter` 400 "bad matcher format: ...". Alerts posted without
// startsAt start now; without endsAt they resolve after resolve_timeout
// unless posted again (Prometheus re-posts firing alerts every minute).
// Bounded: a body over max_body_bytes is 413, more than max_alerts_per_post
// alerts 400.
//
// Thread-safety: handlers run on the server's threads; the delivery is
// thread-safe and must outlive the server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "firebreak/admin.h"
#include "firebreak/clock.h"
#include "watch/alerting/delivery.h"

namespace watch::web {

struct AlertmanagerApiOptions {
  std::string version = "0.1.0";
  // config.original in /api/v2/status (amtool reads routes from it).
  std::function<std::string()> config_yaml = [] { return std::string(); };
  std::int64_t resolve_timeout_ms = 5 * 60'000;
  std::size_t max_body_bytes = 8 << 20;
  std::size_t max_alerts_per_post = 10'000;
};

void add_alertmanager_api(firebreak::AdminServer& server, alerting::Delivery& delivery,
                          const firebreak::Clock& clock, AlertmanagerApiOptions options = {});

}  // namespace watch::web
