// A receiver's integrations, in Alertmanager 0.25's YAML shapes and key
// names: webhook_configs, slack_configs, pagerduty_configs and email_configs,
// plus watch's own exec_configs, log_configs and alertmanager_configs
// (forwarding to a real Alertmanager's API v2). The loader reads one
// receiver mapping; make_notifier() turns each item into a Notifier.
//
//   std::vector<routing::Error> errors;
//   std::vector<IntegrationConfig> items =
//       load_integrations(receiver_node, "receivers[0]", "/etc/firebreak", errors);
//   // 14:9: receivers[0].slack_configs[1].api_uri: unknown key "api_uri" (did you mean "api_url"?)
//   for (const IntegrationConfig& c : items) {
//     std::string id = c.kind + "/" + std::to_string(c.index);   // "slack/1"
//     std::unique_ptr<Notifier> n = make_notifier(c, {.external_url = "http://watch:9093"});
//   }
//
// Texts (Slack's title, PagerDuty's description, the email's subject, ...)
// are Alertmanager's default templates, rendered in C++ exactly as 0.25's
// template/default.tmpl renders them (see render_default()). A text key may
// hold plain text (no "{{"), used as written, or exactly one reference to a
// default template ({{ template "slack.default.title" . }}); anything else is
// refused: custom Go templates are not supported yet.
//
// Secrets (api_url, routing_key, passwords, credentials) are never logged nor
// put in an error; their *_file forms are read at each send.
//
// Thread-safety: the loader and make_notifier are pure functions of their
// arguments (make_notifier reads nothing until the first send); each Notifier
// is used by one thread at a time (see notifier.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "firebreak/http_client.h"
#include "firebreak/tls.h"
#include "watch/alerting/notifier.h"
#include "watch/dispatch/dispatch.h"
#include "watch/routing/routing.h"
#include "watch/yamlconf/http_config.h"

namespace YAML {
class Node;
}

namespace watch::alerting {

// Prometheus's http_config: tls_config, authorization, basic_auth
// (yamlconf/http_config.h loads it, for receivers and scrape targets alike).
using HttpConfig = yamlconf::HttpConfig;

// A text of a notification: plain text, or one of Alertmanager's default
// templates by name ("slack.default.title"; render_default()).
struct Text {
  std::string literal;
  std::string default_template;  // non-empty: render this instead of `literal`
  static Text of_default(std::string name) { return {{}, std::move(name)}; }
};

struct WebhookConfig {
  std::string url;
  HttpConfig http;
  std::size_t max_alerts = 0;  // 0: all
  // Per request; 0: the NotifierContext's. Set by firebreak.yaml's `webhook`
  // shorthand (Alertmanager 0.25's webhook_configs have no timeout).
  std::chrono::milliseconds timeout{0};
};

struct SlackField {
  Text title;
  Text value;
  std::optional<bool> short_field;  // unset: the config's short_fields
};

struct SlackConfig {
  std::string api_url;       // secret; or
  std::string api_url_file;  // read at each send, trimmed
  HttpConfig http;
  Text channel, username{Text::of_default("slack.default.username")},
      color{Text::of_default("slack.default.color")},
      title{Text::of_default("slack.default.title")},
      title_link{Text::of_default("slack.default.titlelink")},
      pretext{Text::of_default("slack.default.pretext")},
      text{Text::of_default("slack.default.text")},
      footer{Text::of_default("slack.default.footer")},
      fallback{Text::of_default("slack.default.fallback")},
      callback_id{Text::of_default("slack.default.callbackid")},
      icon_emoji{Text::of_default("slack.default.iconemoji")},
      icon_url{Text::of_default("slack.default.iconurl")}, image_url, thumb_url;
  std::vector<SlackField> fields;
  bool short_fields = false;
  bool link_names = false;
  std::vector<std::string> mrkdwn_in;  // empty: fallback, pretext, text
};

struct PagerdutyLink {
  Text href, text;
};
struct PagerdutyImage {
  Text src, alt, href;
};

// Events API v2 only.
struct PagerdutyConfig {
  std::string routing_key;       // secret; or
  std::string routing_key_file;  // read at each send, trimmed
  std::string url = "https://events.pagerduty.com/v2/enqueue";
  HttpConfig http;
  Text client{Text::of_default("pagerduty.default.client")},
      client_url{Text::of_default("pagerduty.default.clientURL")},
      description{Text::of_default("pagerduty.default.description")},
      source{Text::of_default("pagerduty.default.client")}, severity{{"error"}, {}}, class_,
      component, group;
  // Alertmanager's defaults (firing, resolved, num_firing, num_resolved)
  // merged under the configured ones; sorted by key.
  std::vector<std::pair<std::string, Text>> details;
  std::vector<PagerdutyImage> images;
  std::vector<PagerdutyLink> links;
};

struct EmailConfig {
  std::string to;    // one address or a comma-separated list
  std::string from;  // exactly one address
  std::string hello = "localhost";
  std::string smarthost_host;
  std::uint16_t smarthost_port = 0;  // 465: TLS from the start, else STARTTLS when require_tls
  std::string auth_username;
  std::string auth_password;       // secret; or
  std::string auth_password_file;  // read at each send (not trimmed, as Alertmanager)
  std::string auth_secret;         // CRAM-MD5's secret
  std::string auth_identity;       // PLAIN's identity
  // Extra or overriding headers (canonical MIME case, sorted); Subject, To
  // and From default to Alertmanager's.
  std::vector<std::pair<std::string, Text>> headers;
  Text html{Text::of_default("email.default.html")};
  Text text{Text::of_default("email.default.text")};  // watch's: the HTML's text content
  bool require_tls = true;
  firebreak::TlsOptions tls;
};

// watch's own: runs a program without a shell, Alertmanager's webhook JSON on
// its standard input; exit status 0 is delivered.
struct ExecConfig {
  std::vector<std::string> command;  // argv; command[0] a path or a name looked up in PATH
  std::chrono::milliseconds timeout{10000};
  std::size_t max_alerts = 0;  // as the webhook's
};

// watch's own: one log line per alert (LogNotifier).
struct LogConfig {};

// watch's own: forwards the alerts to a real Alertmanager (POST
// <url>/api/v2/alerts, its postableAlerts).
struct AlertmanagerConfig {
  std::string url;  // Alertmanager's base URL: http(s)://host:9093[/prefix]
  HttpConfig http;
};

struct IntegrationConfig {
  std::string kind;       // "webhook", "slack", "pagerduty", "email", "exec", "log", "alertmanager"
  std::size_t index = 0;  // within its kind in the receiver: "slack/1" is the second slack item
  bool send_resolved = true;
  int line = 0;  // of the item in the file (1-based; 0 unknown)
  std::variant<WebhookConfig, SlackConfig, PagerdutyConfig, EmailConfig, ExecConfig, LogConfig,
               AlertmanagerConfig>
      config;
};

// The receiver keys watch reads, in order: webhook_configs, slack_configs,
// pagerduty_configs, email_configs, exec_configs, log_configs,
// alertmanager_configs.
const std::vector<std::string_view>& supported_receiver_keys();

// The values of an alertmanager.yml's `global` block that integrations
// default to, as Alertmanager 0.25's config.Load applies them to an item
// that leaves them unset: smtp_from, smtp_hello, smtp_smarthost,
// smtp_auth_* and smtp_require_tls for email; slack_api_url[_file] for
// slack; pagerduty_url for pagerduty; http_config for webhook, slack,
// pagerduty and alertmanager (watch's forwarding).
struct IntegrationDefaults {
  struct Impl;                       // the checked block; opaque
  std::shared_ptr<const Impl> impl;  // nullptr: no defaults
};

// Checks `global` (unknown keys, shapes, Alertmanager's "at most one of
// slack_api_url & slack_api_url_file ..." rules; its own resolve_timeout is
// the caller's) and returns the defaults. Problems go to `errors` with
// "global.<key>" paths. Never throws.
IntegrationDefaults load_integration_defaults(const YAML::Node& global, const std::string& base_dir,
                                              std::vector<routing::Error>& errors);

// Reads the integrations of one receiver mapping (an item of `receivers:`);
// `key` is its path for messages ("receivers[0]"); relative *_file paths and
// exec commands with a '/' are taken relative to `base_dir`. The receiver's
// `name` is the caller's and not looked at. Items come out grouped by kind
// in the order of supported_receiver_keys(), each kind's in file order.
//
// Checks what Alertmanager 0.25 checks when it loads them (with its messages
// where it has one: "missing URL in webhook config", "at most one of api_url
// & api_url_file must be configured", ...), and also: unknown keys (with the
// closest known key suggested), repeated keys, wrong shapes, keys of
// integrations watch does not have (opsgenie_configs ...: named, with what
// watch supports), settings Alertmanager has and watch does not (named),
// texts that are templates other than the defaults, and what the item
// leaves unset that Alertmanager takes from its `global` block (`defaults`,
// from load_integration_defaults(); nullptr: none, as in firebreak.yaml,
// so slack's api_url and email's smarthost and from must be in the item).
// Every problem is
// appended to `errors` with its line, column and key path
// ("receivers[0].slack_configs[1].api_url"); the result is then partial and
// must not be used. Never throws (merge keys honoured, aliases bounded).
std::vector<IntegrationConfig> load_integrations(const YAML::Node& receiver, const std::string& key,
                                                 const std::string& base_dir,
                                                 std::vector<routing::Error>& errors,
                                                 const IntegrationDefaults* defaults = nullptr);

struct NotifierContext {
  std::string external_url;  // Alertmanager's --web.external-url: links in texts, externalURL
  std::chrono::milliseconds timeout{10000};  // of one send (HTTP exchange, SMTP session)
};

// The notifier for one loaded item. Never fails: files (TLS, secrets) are
// read when sending, and their problems are send errors.
std::unique_ptr<Notifier> make_notifier(const IntegrationConfig& c, const NotifierContext& ctx);

// ---------------------------------------------------------------------------
// Alertmanager's template data and default templates, for the notifiers and
// their tests.

// template.Data: pairs in SortedPairs order (alertname first, then by name).
struct TemplateAlert {
  std::string status;  // "firing" or "resolved"
  std::vector<std::pair<std::string, std::string>> labels, annotations;
  std::int64_t starts_at_ms = 0;
  std::int64_t ends_at_ms = 0;
  std::string generator_url;
  std::string fingerprint;
};
struct TemplateData {
  std::string receiver;  // regexp.QuoteMeta of the receiver's name, as 0.25
  std::string status;    // "firing" while any alert fires
  std::vector<TemplateAlert> alerts;
  std::vector<std::pair<std::string, std::string>> group_labels, common_labels, common_annotations;
  std::string external_url;
};
TemplateData template_data(const dispatch::GroupNotification& n, std::string_view external_url);

// A default template of Alertmanager 0.25 by name, rendered for `data`:
// __subject, __alertmanager, __alertmanagerURL, slack.default.* (title,
// username, fallback, callbackid, pretext, titlelink, iconemoji, iconurl,
// text, footer), slack.default.color (the color default), pagerduty.default.*
// (description, client, clientURL), pagerduty.default.details.firing /
// .resolved / .num_firing / .num_resolved (the details defaults),
// email.default.subject, email.default.html (the same content with simple
// markup), email.default.text (watch's plain-text rendering of it).
// nullopt for another name.
std::optional<std::string> render_default(std::string_view name, const TemplateData& data);
// Whether render_default() knows `name`.
bool is_default_template(std::string_view name);
std::string render(const Text& text, const TemplateData& data);

}  // namespace watch::alerting
