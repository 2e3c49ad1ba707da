#include "watch/alerting/notifier.h"

#include <fmt/format.h>

#include <utility>

#include "firebreak/log.h"
#include "watch/alerting/webhook.h"

namespace watch::alerting {
namespace {

std::string_view annotation(const rules::Notification& n, std::string_view name) {
  for (const auto& a : n.annotations)
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
                                           .user_agent = "firebreak-watch/0.1"}) {}

SendResult WebhookNotifier::notify(std::string_view receiver, const rules::Notification& n) {
  const std::string body = webhook_json(receiver, options_.external_url, n);
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

SendResult LogNotifier::notify(std::string_view receiver, const rules::Notification& n) {
  const std::string labels = n.labels.to_string();
  const std::string fp = fingerprint_string(fingerprint(n.labels));
  const std::string starts = rfc3339(n.starts_at_ms);
  const std::string ends = rfc3339(n.resolved ? n.ends_at_ms : 0);
  const std::string_view summary = annotation(n, "summary");
  if (n.resolved) {
    FB_LOG_INFO("alert_resolved", "", {"receiver", receiver},
                {"alertname", n.labels.get("alertname")}, {"labels", labels}, {"fingerprint", fp},
                {"summary", summary}, {"starts_at", starts}, {"ends_at", ends});
  } else {
    FB_LOG_WARN("alert_firing", "", {"receiver", receiver},
                {"alertname", n.labels.get("alertname")}, {"labels", labels}, {"fingerprint", fp},
                {"summary", summary}, {"starts_at", starts});
  }
  return {};
}

}  // namespace watch::alerting
