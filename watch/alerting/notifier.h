// Receivers' integrations: a Notifier sends one group notification (the
// alerts of one aggregation group, watch/dispatch) and says whether a failure
// is worth retrying (Alertmanager's notify.Notifier).
//
//   watch::alerting::WebhookNotifier hook({.url = "http://127.0.0.1:5001/alerts"});
//   watch::alerting::SendResult r = hook.notify(group_notification);
//   if (!r.ok() && r.retryable) { /* try again later */ }
//
// Thread-safety: notify() may be called from several threads at once (an
// integration's sending threads, each with another group's notification).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "firebreak/http_client.h"
#include "watch/dispatch/dispatch.h"

namespace watch::alerting {

struct SendResult {
  std::string error;       // empty: delivered
  bool retryable = false;  // meaningful when error is set
  bool ok() const { return error.empty(); }
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  // Sends `n` (n.receiver names the receiver). Never throws.
  virtual SendResult notify(const dispatch::GroupNotification& n) = 0;
  // The integration's kind, as Alertmanager names it in its metrics and
  // API: "webhook", "slack", "pagerduty", "email", and watch's own "exec",
  // "log", "alertmanager".
  virtual std::string_view integration() const = 0;
};

// Whether an HTTP outcome is retryable: no response (connection error,
// timeout), 5xx and 429 are; any other non-2xx is not.
bool http_retryable(const firebreak::HttpResponse& response);

struct WebhookOptions {
  std::string url;           // http://host:port/path
  std::string external_url;  // "externalURL" in the body
  std::chrono::milliseconds timeout{10000};
  std::size_t max_response_bytes = 64 * 1024;
  std::size_t max_alerts = 0;  // per message, 0: all (the rest count in truncatedAlerts)
  // http_config: TLS for https:// URLs, and authentication.
  firebreak::TlsOptions tls;
  std::optional<firebreak::HttpAuthorization> authorization;
  std::optional<firebreak::HttpBasicAuth> basic_auth;
};

// POSTs Alertmanager's webhook JSON (version "4", webhook_group_json) over
// http or https. A 2xx is success.
class WebhookNotifier final : public Notifier {
 public:
  explicit WebhookNotifier(WebhookOptions options);
  SendResult notify(const dispatch::GroupNotification& n) override;
  std::string_view integration() const override { return "webhook"; }

 private:
  WebhookOptions options_;
  firebreak::HttpClientPool client_;
};

// Writes one structured log line per alert of the notification: event
// alert_firing (warn) or alert_resolved (info), with receiver, group_key,
// alertname, labels (Prometheus text form), fingerprint, summary, starts_at
// and ends_at. Always succeeds.
class LogNotifier final : public Notifier {
 public:
  SendResult notify(const dispatch::GroupNotification& n) override;
  std::string_view integration() const override { return "log"; }
};

}  // namespace watch::alerting
