// Receivers' integrations: a Notifier sends one notification and says
// whether a failure is worth retrying (Alertmanager's notify.Notifier).
//
//   watch::alerting::WebhookNotifier hook({.url = "http://127.0.0.1:5001/alerts"});
//   watch::alerting::SendResult r = hook.notify("ops", n);
//   if (!r.ok() && r.retryable) { /* try again later */ }
//
// Thread-safety: notify() may be called from one thread at a time per
// notifier (Delivery calls it from the receiver's worker only).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "firebreak/http_client.h"
#include "watch/rules/alerting.h"

namespace watch::alerting {

struct SendResult {
  std::string error;       // empty: delivered
  bool retryable = false;  // meaningful when error is set
  bool ok() const { return error.empty(); }
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  // Sends `n` on behalf of `receiver`. Never throws.
  virtual SendResult notify(std::string_view receiver, const rules::Notification& n) = 0;
};

// Whether an HTTP outcome is retryable: no response (connection error,
// timeout), 5xx and 429 are; any other non-2xx is not.
bool http_retryable(const firebreak::HttpResponse& response);

struct WebhookOptions {
  std::string url;           // http://host:port/path
  std::string external_url;  // "externalURL" in the body
  std::chrono::milliseconds timeout{10000};
  std::size_t max_response_bytes = 64 * 1024;
};

// POSTs Alertmanager's webhook JSON (version "4", see webhook.h), one alert
// a message. A 2xx is success.
class WebhookNotifier final : public Notifier {
 public:
  explicit WebhookNotifier(WebhookOptions options);
  SendResult notify(std::string_view receiver, const rules::Notification& n) override;

 private:
  WebhookOptions options_;
  firebreak::HttpClient client_;
};

// Writes one structured log line a notification: event alert_firing (warn)
// or alert_resolved (info), with receiver, alertname, labels (Prometheus text
// form), fingerprint, summary, starts_at and ends_at. Always succeeds.
class LogNotifier final : public Notifier {
 public:
  SendResult notify(std::string_view receiver, const rules::Notification& n) override;
};

}  // namespace watch::alerting
