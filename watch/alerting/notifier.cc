#include "watch/alerting/notifier.h"

#include <fmt/format.h>

#include <utility>

#include "firebreak/log.h"
#include "watch/alerting/webhook.h"

namespace watch::alerting {
namespace {

std::string_view annotation(const dispatch::Alert& alert, std::string_view name) {
  for (const auto& a : alert.annotations)
    if (a.name == name) return a.value;
  return {};
}

}  // namespace

bool http_retryable(const firebreak::HttpResponse& r) {
  if (!r.error.empty() || r.status == 0) return true;
  return r.status >= 500 || r.status == 429;
}

WebhookNotifier::WebhookNotifier(WebhookOptions options)
    : options_(std::move(options)),
      client_(firebreak::HttpClientOptions{.timeout = options_.timeout,
                                           .max_response_bytes = options_.max_response_bytes,
                                           .user_agent = "firebreak-watch/0.1",
                                           .tls = options_.tls,
                                           .authorization = options_.authorization,
                                           .basic_auth = options_.basic_auth}) {}

SendResult WebhookNotifier::notify(const dispatch::GroupNotification& n) {
  const std::string body = webhook_group_json(n, options_.external_url, options_.max_alerts);
  firebreak::HttpResponse r =
      client_.post(options_.url, body, {{"Content-Type", "application/json"}});
  if (r.ok()) return {};
  SendResult result;
  result.retryable = http_retryable(r);
  if (!r.error.empty()) {
    result.error = r.error;
  } else {
    std::string_view excerpt(r.body);
    if (excerpt.size() > 200) excerpt = excerpt.substr(0, 200);
    result.error = fmt::format("webhook {} answered {}: {}", options_.url, r.status, excerpt);
  }
  return result;
}

SendResult LogNotifier::notify(const dispatch::GroupNotification& n) {
  for (const dispatch::Alert& a : n.alerts) {
    const std::string labels = a.labels.to_string();
    const std::string fp = fingerprint_string(fingerprint(a.labels));
    const std::string starts = rfc3339(a.starts_at_ms);
    const std::string_view summary = annotation(a, "summary");
    if (a.resolved_at(n.at_ms)) {
      FB_LOG_INFO("alert_resolved", "", {"receiver", n.receiver}, {"group_key", n.group_key},
                  {"alertname", a.labels.get("alertname")}, {"labels", labels}, {"fingerprint", fp},
                  {"summary", summary}, {"starts_at", starts}, {"ends_at", rfc3339(a.ends_at_ms)});
    } else {
      FB_LOG_WARN("alert_firing", "", {"receiver", n.receiver}, {"group_key", n.group_key},
                  {"alertname", a.labels.get("alertname")}, {"labels", labels}, {"fingerprint", fp},
                  {"summary", summary}, {"starts_at", starts});
    }
  }
  return {};
}

}  // namespace watch::alerting
