// Forwarding to a real Alertmanager: POST <url>/api/v2/alerts with its
// postableAlerts (what Prometheus sends).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "watch/alerting/receivers_internal.h"
#include "watch/alerting/webhook.h"

namespace watch::alerting {

namespace {

class AlertmanagerNotifier final : public Notifier {
 public:
  AlertmanagerNotifier(const AlertmanagerConfig& config, const NotifierContext& ctx)
      : url_(config.url), client_(http_options(config.http, ctx)) {
    while (!url_.empty() && url_.back() == '/') url_.pop_back();
    url_ += "/api/v2/alerts";
  }

  SendResult notify(const dispatch::GroupNotification& n) override {
    const firebreak::HttpResponse r =
        client_.post(url_, postable_alerts_json(n), {{"Content-Type", "application/json"}});
    if (r.ok()) return {};
    return http_failure("alertmanager " + url_, r);
  }
  std::string_view integration() const override { return "alertmanager"; }

 private:
  std::string url_;
  firebreak::HttpClientPool client_;
};

}  // namespace

std::string postable_alerts_json(const dispatch::GroupNotification& n) {
  using nlohmann::json;
  json alerts = json::array();
  for (const dispatch::Alert& a : n.alerts) {
    json labels = json::object();
    for (const Label& l : a.labels) labels[l.name] = l.value;
    json annotations = json::object();
    for (const Label& l : a.annotations) annotations[l.name] = l.value;
    json alert = {{"labels", labels}, {"annotations", annotations}};
    if (a.starts_at_ms != 0) alert["startsAt"] = rfc3339(a.starts_at_ms);
    // A firing alert is sent without endsAt: Alertmanager then keeps it for
    // its resolve_timeout; a resolved one ends when it resolved.
    if (a.resolved_at(n.at_ms)) alert["endsAt"] = rfc3339(a.ends_at_ms);
    if (!a.generator_url.empty()) alert["generatorURL"] = a.generator_url;
    alerts.push_back(std::move(alert));
  }
  return alerts.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::unique_ptr<Notifier> make_alertmanager_notifier(const AlertmanagerConfig& c,
                                                     const NotifierContext& ctx) {
  return std::make_unique<AlertmanagerNotifier>(c, ctx);
}

}  // namespace watch::alerting
