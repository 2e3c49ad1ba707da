// Internal to watch/alerting: the notifiers behind make_notifier(), one .cc
// each, and what they share. Not part of the module's interface.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "firebreak/http_client.h"
#include "watch/alerting/integrations.h"
#include "watch/alerting/notifier.h"

namespace watch::alerting {

std::unique_ptr<Notifier> make_webhook_notifier(const WebhookConfig& c, const NotifierContext& ctx);
std::unique_ptr<Notifier> make_slack_notifier(const SlackConfig& c, const NotifierContext& ctx);
std::unique_ptr<Notifier> make_pagerduty_notifier(const PagerdutyConfig& c,
                                                  const NotifierContext& ctx);
std::unique_ptr<Notifier> make_email_notifier(const EmailConfig& c, const NotifierContext& ctx);
std::unique_ptr<Notifier> make_exec_notifier(const ExecConfig& c, const NotifierContext& ctx);
std::unique_ptr<Notifier> make_alertmanager_notifier(const AlertmanagerConfig& c,
                                                     const NotifierContext& ctx);

// The HTTP client options for an integration's http_config.
firebreak::HttpClientOptions http_options(const HttpConfig& http, const NotifierContext& ctx);

// A failed HTTP send as a SendResult (http_retryable()); `what` names the
// receiver without any secret ("slack", "pagerduty https://events...").
// The response body is quoted, shortened.
SendResult http_failure(std::string_view what, const firebreak::HttpResponse& r);

// Reads a secret file at send time, trimmed of white space; on failure
// `error` names the file, never its content.
bool read_secret(const std::string& path, std::string_view what, std::string& out,
                 std::string& error, bool trim = true);

// Go's utf8-aware TruncateInRunes: at most n code points, the last one "…"
// when cut.
std::string truncate_runes(std::string_view s, std::size_t n);

}  // namespace watch::alerting

namespace watch::alerting {

// The bodies the notifiers send, for their tests.
std::string slack_json(const SlackConfig& c, const TemplateData& data);
// PagerDuty Events API v2: event_action "trigger" while any alert fires,
// else "resolve"; dedup_key is the SHA-256 hex of the group key.
std::string pagerduty_json(const PagerdutyConfig& c, const TemplateData& data,
                           std::string_view group_key, const std::string& routing_key);
// Alertmanager's postableAlerts for POST /api/v2/alerts.
std::string postable_alerts_json(const dispatch::GroupNotification& n);

}  // namespace watch::alerting
