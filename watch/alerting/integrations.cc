// Loading a receiver's integrations (Alertmanager 0.25's config/notifiers.go;
// their http_config and tls_config through yamlconf/http_config.h), and
// make_notifier().
#include "watch/alerting/integrations.h"

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "watch/alerting/receivers_internal.h"
#include "watch/relabel/relabel.h"
#include "watch/yamlconf/http_config.h"
#include "watch/yamlconf/reader.h"

namespace watch::alerting {

namespace {

using routing::Error;
using yamlconf::Entries;
using yamlconf::Entry;
using yamlconf::join;
using yamlconf::join_key;
using yamlconf::Pos;
using yamlconf::pos_of;
using yamlconf::quote;
using yamlconf::shape_of;
using yamlconf::trim;

constexpr std::size_t kWorkBudget = 200'000;  // YAML nodes visited, aliases included
constexpr std::size_t kMaxErrors = 100;       // then one "too many errors"

// The receiver keys watch reads, and what each makes.
constexpr std::array<std::string_view, 7> kSupported{
    "webhook_configs", "slack_configs", "pagerduty_configs",   "email_configs",
    "exec_configs",    "log_configs",   "alertmanager_configs"};
constexpr std::array<std::string_view, 7> kKinds{"webhook", "slack", "pagerduty",   "email",
                                                 "exec",    "log",   "alertmanager"};

// Alertmanager's integrations watch does not have (0.25's and later ones).
constexpr std::array<std::pair<std::string_view, std::string_view>, 13> kUnsupported{{
    {"opsgenie_configs", "OpsGenie"},
    {"victorops_configs", "VictorOps"},
    {"pushover_configs", "Pushover"},
    {"wechat_configs", "WeChat"},
    {"telegram_configs", "Telegram"},
    {"sns_configs", "Amazon SNS"},
    {"webex_configs", "Webex"},
    {"discord_configs", "Discord"},
    {"msteams_configs", "Microsoft Teams"},
    {"msteamsv2_configs", "Microsoft Teams (Workflows)"},
    {"jira_configs", "Jira"},
    {"rocketchat_configs", "Rocket.Chat"},
    {"incidentio_configs", "incident.io"},
}};

const std::vector<std::string_view> kWebhookKeys{"send_resolved", "http_config", "url",
                                                 "max_alerts"};
const std::vector<std::string_view> kSlackKeys{
    "send_resolved", "http_config", "api_url",    "api_url_file", "channel",    "username",
    "color",         "title",       "title_link", "pretext",      "text",       "fields",
    "short_fields",  "footer",      "fallback",   "callback_id",  "icon_emoji", "icon_url",
    "image_url",     "thumb_url",   "link_names", "mrkdwn_in",    "actions"};
const std::vector<std::string_view> kSlackFieldKeys{"title", "value", "short"};
const std::vector<std::string_view> kPagerdutyKeys{"send_resolved", "http_config",
                                                   "service_key",   "service_key_file",
                                                   "routing_key",   "routing_key_file",
                                                   "url",           "client",
                                                   "client_url",    "description",
                                                   "details",       "images",
                                                   "links",         "source",
                                                   "severity",      "class",
                                                   "component",     "group"};
const std::vector<std::string_view> kPagerdutyImageKeys{"src", "alt", "href"};
const std::vector<std::string_view> kPagerdutyLinkKeys{"href", "text"};
const std::vector<std::string_view> kEmailKeys{"send_resolved", "to",
                                               "from",          "hello",
                                               "smarthost",     "auth_username",
                                               "auth_password", "auth_password_file",
                                               "auth_secret",   "auth_identity",
                                               "headers",       "html",
                                               "text",          "require_tls",
                                               "tls_config"};
const std::vector<std::string_view> kExecKeys{"send_resolved", "command", "timeout", "max_alerts"};
const std::vector<std::string_view> kLogKeys{"send_resolved"};
const std::vector<std::string_view> kAlertmanagerKeys{"send_resolved", "url", "http_config"};

// Exact default strings of Alertmanager's config that are not a lone
// {{ template }} reference, and the default template watch renders for them.
constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kDefaultExpressions{{
    {R"({{ if eq .Status "firing" }}danger{{ else }}good{{ end }})", "slack.default.color"},
    {R"({{ template "pagerduty.default.instances" .Alerts.Firing }})",
     "pagerduty.default.details.firing"},
    {R"({{ template "pagerduty.default.instances" .Alerts.Resolved }})",
     "pagerduty.default.details.resolved"},
    {R"({{ .Alerts.Firing | len }})", "pagerduty.default.details.num_firing"},
    {R"({{ .Alerts.Resolved | len }})", "pagerduty.default.details.num_resolved"},
}};

// textproto.CanonicalMIMEHeaderKey for ASCII tokens: "content-type" ->
// "Content-Type"; a name with a space or a non-token byte is left as is.
std::string canonical_header(std::string_view name) {
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u >= 0x7F || c == ':') return std::string(name);
  }
  std::string out(name);
  bool upper = true;
  for (char& c : out) {
    c = upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
              : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    upper = c == '-';
  }
  return out;
}

// Collapses white space runs to one space, for comparing template texts.
std::string squeeze(std::string_view s) {
  std::string out;
  bool space = false;
  for (const char c : trim(s)) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// The default template a text refers to: `{{ template "NAME" . }}` (with
// optional trim markers) or one of kDefaultExpressions; "" when neither.
std::string default_reference(std::string_view text) {
  const std::string s = squeeze(text);
  for (const auto& [expr, name] : kDefaultExpressions)
    if (s == squeeze(expr)) return std::string(name);
  std::string_view v = s;
  auto eat = [&](std::string_view prefix) {
    if (!v.starts_with(prefix)) return false;
    v.remove_prefix(prefix.size());
    return true;
  };
  if (!eat("{{")) return {};
  eat("-");
  eat(" ");
  if (!eat("template ")) return {};
  if (!eat("\"")) return {};
  const std::size_t close = v.find('"');
  if (close == std::string_view::npos) return {};
  const std::string name(v.substr(0, close));
  v.remove_prefix(close + 1);
  eat(" ");
  if (!eat(".")) return {};
  eat(" ");
  eat("-");
  if (v != "}}") return {};
  return name;
}

// Alertmanager 0.25's `global` keys; the ones for integrations watch lacks
// (opsgenie_*, wechat_*, victorops_*, telegram_api_url, webex_api_url) are
// accepted and unused, as those receivers are refused where they appear.
const std::vector<std::string_view> kGlobalKeys = {"resolve_timeout",
                                                   "http_config",
                                                   "smtp_from",
                                                   "smtp_hello",
                                                   "smtp_smarthost",
                                                   "smtp_auth_username",
                                                   "smtp_auth_password",
                                                   "smtp_auth_password_file",
                                                   "smtp_auth_secret",
                                                   "smtp_auth_identity",
                                                   "smtp_require_tls",
                                                   "slack_api_url",
                                                   "slack_api_url_file",
                                                   "pagerduty_url",
                                                   "opsgenie_api_url",
                                                   "opsgenie_api_key",
                                                   "opsgenie_api_key_file",
                                                   "wechat_api_url",
                                                   "wechat_api_secret",
                                                   "wechat_api_corp_id",
                                                   "victorops_api_url",
                                                   "victorops_api_key",
                                                   "victorops_api_key_file",
                                                   "telegram_api_url",
                                                   "webex_api_url"};

}  // namespace

struct IntegrationDefaults::Impl {
  Entries global;
};

namespace {

constexpr const char* kNoSmarthost =
    "no global SMTP smarthost set (set smarthost, or smtp_smarthost in the global block of an "
    "alertmanager_config file)";

class Loader : public yamlconf::Reader {
 public:
  Loader(std::string base_dir, std::vector<Error>& errors,
         const IntegrationDefaults* defaults = nullptr)
      : Reader(std::move(base_dir), errors, kMaxErrors, kWorkBudget), defaults_(defaults) {}

  // Checks Alertmanager's `global` block once, keeping the values the
  // integrations default to.
  IntegrationDefaults global(const YAML::Node& n) {
    auto impl = std::make_shared<IntegrationDefaults::Impl>();
    IntegrationDefaults out{impl};
    if (!n || n.IsNull()) return out;
    Entries& f = impl->global;
    if (!entries(n, "global", &kGlobalKeys, f)) return out;
    std::string s;
    for (const char* name :
         {"smtp_from", "smtp_hello", "smtp_auth_username", "smtp_auth_password", "smtp_auth_secret",
          "smtp_auth_identity", "smtp_auth_password_file", "slack_api_url_file"})
      if (const YAML::Node* v = f.get(name)) string_value(*v, join_key("global", name), s);
    if (const YAML::Node* v = f.get("smtp_smarthost");
        v && string_value(*v, "global.smtp_smarthost", s) && !s.empty()) {
      EmailConfig ignored;
      smarthost(*v, "global.smtp_smarthost", s, ignored);
    }
    if (const YAML::Node* v = f.get("smtp_require_tls")) {
      bool b;
      bool_value(*v, "global.smtp_require_tls", b);
    }
    for (const char* name : {"slack_api_url", "pagerduty_url"}) {
      if (const YAML::Node* v = f.get(name)) {
        std::string url;
        url_value(*v, join_key("global", name), url, std::string_view(name) == "slack_api_url");
      }
    }
    if (const YAML::Node* v = f.get("http_config")) {
      HttpConfig ignored;
      yamlconf::load_http_config(*this, *v, "global.http_config", ignored);
    }
    if (!f.unset("slack_api_url") && !f.unset("slack_api_url_file"))
      error(pos_of(n), "global",
            "at most one of slack_api_url & slack_api_url_file must be configured");
    if (!f.unset("smtp_auth_password") && !f.unset("smtp_auth_password_file"))
      error(pos_of(n), "global",
            "at most one of smtp_auth_password & smtp_auth_password_file must be configured");
    return out;
  }

  std::vector<IntegrationConfig> run(const YAML::Node& receiver, const std::string& key) {
    std::vector<IntegrationConfig> out;
    if (!receiver || receiver.IsNull()) return out;
    std::vector<std::string_view> allowed(kSupported.begin(), kSupported.end());
    allowed.insert(allowed.begin(), "name");
    for (const auto& [name, what] : kUnsupported) allowed.push_back(name);
    Entries f;
    if (!entries(receiver, key, &allowed, f)) return out;
    for (const Entry& e : f.all()) {
      for (const auto& [name, what] : kUnsupported) {
        if (e.name != name) continue;
        std::vector<std::string_view> supported(kSupported.begin(), kSupported.end());
        error(pos_of(e.key), join_key(key, e.name),
              fmt::format("watch has no {} integration; a receiver may have: {}", what,
                          join(supported)));
      }
    }
    for (std::size_t k = 0; k < kSupported.size(); ++k) {
      const std::string list_key = join_key(key, kSupported[k]);
      std::size_t index = 0;
      each(f.get(kSupported[k]), list_key, [&](const YAML::Node& item, const std::string& ik) {
        IntegrationConfig c;
        c.kind = std::string(kKinds[k]);
        c.index = index++;
        c.line = pos_of(item).line;
        if (load_item(k, item, ik, c)) out.push_back(std::move(c));
      });
    }
    return out;
  }

 private:
  // A text key: plain text, or a reference to a default template.
  bool text_value(const YAML::Node& n, const std::string& key, Text& out) {
    std::string s;
    if (!string_value(n, key, s)) return false;
    if (s.find("{{") == std::string::npos) {
      out = Text{std::move(s), {}};
      return true;
    }
    const std::string name = default_reference(s);
    if (!name.empty() && is_default_template(name)) {
      out = Text::of_default(name);
      return true;
    }
    error(pos_of(n), key,
          name.empty()
              ? "templates are not supported yet: use plain text, or {{ template \"NAME\" . }} "
                "naming one of Alertmanager's default templates"
              : fmt::format("templates are not supported yet, and {} is not one of "
                            "Alertmanager's default templates that watch renders",
                            quote(name)));
    return false;
  }

  bool url_value(const YAML::Node& n, const std::string& key, std::string& out, bool secret) {
    std::string s;
    if (!string_value(n, key, s)) return false;
    std::string why;
    if (!firebreak::valid_http_url(s, &why)) {
      error(pos_of(n), key,
            secret ? "invalid URL (not shown: it is a secret): " + why
                   : fmt::format("invalid URL {}: {}", quote(s), why));
      return false;
    }
    out = std::move(s);
    return true;
  }

  void http_config(const Entries& f, const std::string& key, HttpConfig& out) {
    if (const YAML::Node* v = f.get("http_config"))
      yamlconf::load_http_config(*this, *v, join_key(key, "http_config"), out);
  }

  // ---- items

  bool load_item(std::size_t kind, const YAML::Node& n, const std::string& key,
                 IntegrationConfig& c) {
    const std::size_t errors_at = error_count();
    if (!n.IsMap()) {
      error(pos_of(n), key,
            n.IsNull() ? std::string("expected a mapping, got null")
                       : fmt::format("expected a mapping, got {}", shape_of(n)));
      return false;
    }
    static const std::array<const std::vector<std::string_view>*, 7> kKeys{
        &kWebhookKeys, &kSlackKeys, &kPagerdutyKeys,   &kEmailKeys,
        &kExecKeys,    &kLogKeys,   &kAlertmanagerKeys};
    Entries f;
    if (!entries(n, key, kKeys[kind], f)) return false;
    if (defaults_ && defaults_->impl) fill_from_global(kind, f);
    // Alertmanager's per-integration defaults.
    c.send_resolved = !(kKinds[kind] == "slack" || kKinds[kind] == "email");
    if (const YAML::Node* v = f.get("send_resolved"))
      bool_value(*v, join_key(key, "send_resolved"), c.send_resolved);
    switch (kind) {
      case 0:
        c.config = webhook(f, n, key);
        break;
      case 1:
        c.config = slack(f, n, key);
        break;
      case 2:
        c.config = pagerduty(f, n, key);
        break;
      case 3:
        c.config = email(f, n, key);
        break;
      case 4:
        c.config = exec(f, n, key);
        break;
      case 5:
        c.config = LogConfig{};
        break;
      default:
        c.config = alertmanager(f, n, key);
        break;
    }
    return error_count() == errors_at;
  }

  WebhookConfig webhook(const Entries& f, const YAML::Node& n, const std::string& key) {
    WebhookConfig w;
    if (const YAML::Node* v = f.get("url"))
      url_value(*v, join_key(key, "url"), w.url, false);
    else
      error(key_pos(f, "url", n), key, "missing URL in webhook config");
    if (const YAML::Node* v = f.get("max_alerts"))
      uint_value(*v, join_key(key, "max_alerts"), w.max_alerts);
    http_config(f, key, w.http);
    return w;
  }

  void text_key(const Entries& f, const std::string& key, std::string_view name, Text& out) {
    if (const Entry* e = f.entry(name)) {
      if (e->value.IsNull()) return;  // as absent: the default
      // An empty string is Alertmanager's "omitempty": the default stays.
      if (e->value.IsScalar() && e->value.Scalar().empty()) return;
      text_value(e->value, join_key(key, name), out);
    }
  }

  SlackConfig slack(const Entries& f, const YAML::Node& n, const std::string& key) {
    SlackConfig s;
    if (const YAML::Node* v = f.get("api_url"))
      url_value(*v, join_key(key, "api_url"), s.api_url, true);
    if (const YAML::Node* v = f.get("api_url_file");
        v && string_value(*v, join_key(key, "api_url_file"), s.api_url_file))
      s.api_url_file = path(s.api_url_file);
    if (!s.api_url.empty() && !s.api_url_file.empty())
      error(pos_of(n), key, "at most one of api_url & api_url_file must be configured");
    if (s.api_url.empty() && s.api_url_file.empty() && !f.get("api_url"))
      error(pos_of(n), key,
            "no global Slack API URL set either inline or in a file (set api_url or "
            "api_url_file, or slack_api_url in the global block of an alertmanager_config file)");
    http_config(f, key, s.http);
    const std::array<std::pair<std::string_view, Text*>, 14> texts{{
        {"channel", &s.channel},
        {"username", &s.username},
        {"color", &s.color},
        {"title", &s.title},
        {"title_link", &s.title_link},
        {"pretext", &s.pretext},
        {"text", &s.text},
        {"footer", &s.footer},
        {"fallback", &s.fallback},
        {"callback_id", &s.callback_id},
        {"icon_emoji", &s.icon_emoji},
        {"icon_url", &s.icon_url},
        {"image_url", &s.image_url},
        {"thumb_url", &s.thumb_url},
    }};
    for (const auto& [name, out] : texts) text_key(f, key, name, *out);
    if (const YAML::Node* v = f.get("short_fields"))
      bool_value(*v, join_key(key, "short_fields"), s.short_fields);
    if (const YAML::Node* v = f.get("link_names"))
      bool_value(*v, join_key(key, "link_names"), s.link_names);
    each(f.get("mrkdwn_in"), join_key(key, "mrkdwn_in"),
         [&](const YAML::Node& item, const std::string& ik) {
           std::string v;
           if (string_value(item, ik, v)) s.mrkdwn_in.push_back(std::move(v));
         });
    each(f.get("fields"), join_key(key, "fields"),
         [&](const YAML::Node& item, const std::string& ik) {
           Entries ff;
           if (!entries(item, ik, &kSlackFieldKeys, ff)) return;
           SlackField field;
           text_key(ff, ik, "title", field.title);
           text_key(ff, ik, "value", field.value);
           if (const YAML::Node* v = ff.get("short")) {
             bool b = false;
             if (bool_value(*v, join_key(ik, "short"), b)) field.short_field = b;
           }
           if (field.title.literal.empty() && field.title.default_template.empty())
             error(pos_of(item), ik, "missing title in Slack field configuration");
           else if (field.value.literal.empty() && field.value.default_template.empty())
             error(pos_of(item), ik, "missing value in Slack field configuration");
           s.fields.push_back(std::move(field));
         });
    refuse(f, key, "actions", "Slack actions are not supported by watch yet");
    return s;
  }

  PagerdutyConfig pagerduty(const Entries& f, const YAML::Node& n, const std::string& key) {
    PagerdutyConfig p;
    refuse(f, key, "service_key",
           "service_key (PagerDuty's Events API v1) is not supported by watch: use routing_key "
           "(Events API v2)");
    refuse(f, key, "service_key_file",
           "service_key_file (PagerDuty's Events API v1) is not supported by watch: use "
           "routing_key_file (Events API v2)");
    if (const YAML::Node* v = f.get("routing_key"))
      string_value(*v, join_key(key, "routing_key"), p.routing_key);
    if (const YAML::Node* v = f.get("routing_key_file");
        v && string_value(*v, join_key(key, "routing_key_file"), p.routing_key_file))
      p.routing_key_file = path(p.routing_key_file);
    if (p.routing_key.empty() && p.routing_key_file.empty() && !f.get("service_key") &&
        !f.get("service_key_file"))
      error(pos_of(n), key, "missing service or routing key in PagerDuty config");
    if (!p.routing_key.empty() && !p.routing_key_file.empty())
      error(pos_of(n), key, "at most one of routing_key & routing_key_file must be configured");
    if (const YAML::Node* v = f.get("url")) url_value(*v, join_key(key, "url"), p.url, false);
    http_config(f, key, p.http);
    text_key(f, key, "client", p.client);
    text_key(f, key, "client_url", p.client_url);
    text_key(f, key, "description", p.description);
    text_key(f, key, "severity", p.severity);
    text_key(f, key, "class", p.class_);
    text_key(f, key, "component", p.component);
    text_key(f, key, "group", p.group);
    // An empty source is the client (0.25's UnmarshalYAML).
    p.source = p.client;
    text_key(f, key, "source", p.source);
    std::map<std::string, Text> details{
        {"firing", Text::of_default("pagerduty.default.details.firing")},
        {"resolved", Text::of_default("pagerduty.default.details.resolved")},
        {"num_firing", Text::of_default("pagerduty.default.details.num_firing")},
        {"num_resolved", Text::of_default("pagerduty.default.details.num_resolved")}};
    if (const YAML::Node* v = f.get("details")) {
      const std::string dk = join_key(key, "details");
      Entries d;
      if (entries(*v, dk, nullptr, d)) {
        for (const Entry& e : d.all()) {
          Text t;
          if (text_value(e.value, join_key(dk, e.name), t)) details[e.name] = std::move(t);
        }
      }
    }
    p.details.assign(details.begin(), details.end());
    each(f.get("images"), join_key(key, "images"),
         [&](const YAML::Node& item, const std::string& ik) {
           Entries e;
           if (!entries(item, ik, &kPagerdutyImageKeys, e)) return;
           PagerdutyImage image;
           text_key(e, ik, "src", image.src);
           text_key(e, ik, "alt", image.alt);
           text_key(e, ik, "href", image.href);
           p.images.push_back(std::move(image));
         });
    each(f.get("links"), join_key(key, "links"),
         [&](const YAML::Node& item, const std::string& ik) {
           Entries e;
           if (!entries(item, ik, &kPagerdutyLinkKeys, e)) return;
           PagerdutyLink link;
           text_key(e, ik, "href", link.href);
           text_key(e, ik, "text", link.text);
           p.links.push_back(std::move(link));
         });
    return p;
  }

  EmailConfig email(const Entries& f, const YAML::Node& n, const std::string& key) {
    EmailConfig m;
    std::string s;
    if (const YAML::Node* v = f.get("to")) string_value(*v, join_key(key, "to"), m.to);
    if (m.to.empty()) error(key_pos(f, "to", n), key, "missing to address in email config");
    if (const YAML::Node* v = f.get("from")) string_value(*v, join_key(key, "from"), m.from);
    if (m.from.empty())
      error(key_pos(f, "from", n), key,
            "no global SMTP from set (set from, or smtp_from in the global block of an "
            "alertmanager_config file)");
    if (const YAML::Node* v = f.get("hello");
        v && string_value(*v, join_key(key, "hello"), s) && !s.empty())
      m.hello = s;
    if (const YAML::Node* v = f.get("smarthost")) {
      if (string_value(*v, join_key(key, "smarthost"), s))
        smarthost(*v, join_key(key, "smarthost"), s, m);
    } else {
      error(key_pos(f, "smarthost", n), key, kNoSmarthost);
    }
    for (auto [name, field] :
         {std::pair<const char*, std::string*>{"auth_username", &m.auth_username},
          {"auth_password", &m.auth_password},
          {"auth_secret", &m.auth_secret},
          {"auth_identity", &m.auth_identity}}) {
      if (const YAML::Node* v = f.get(name)) string_value(*v, join_key(key, name), *field);
    }
    if (const YAML::Node* v = f.get("auth_password_file");
        v && string_value(*v, join_key(key, "auth_password_file"), m.auth_password_file))
      m.auth_password_file = path(m.auth_password_file);
    if (!m.auth_password.empty() && !m.auth_password_file.empty())
      error(pos_of(n), key, "at most one of auth_password & auth_password_file must be configured");
    if (const YAML::Node* v = f.get("require_tls"))
      bool_value(*v, join_key(key, "require_tls"), m.require_tls);
    if (const YAML::Node* v = f.get("tls_config"))
      yamlconf::load_tls_config(*this, *v, join_key(key, "tls_config"), m.tls);
    text_key(f, key, "html", m.html);
    text_key(f, key, "text", m.text);
    if (const YAML::Node* v = f.get("headers")) {
      const std::string hk = join_key(key, "headers");
      Entries h;
      if (entries(*v, hk, nullptr, h)) {
        std::map<std::string, Text> headers;
        for (const Entry& e : h.all()) {
          const std::string name = canonical_header(e.name);
          if (headers.contains(name)) {
            error(pos_of(e.key), join_key(hk, e.name),
                  fmt::format("duplicate header {} in email config", quote(name)));
            continue;
          }
          Text t;
          if (text_value(e.value, join_key(hk, e.name), t)) headers[name] = std::move(t);
        }
        m.headers.assign(headers.begin(), headers.end());
      }
    }
    return m;
  }

  void smarthost(const YAML::Node& n, const std::string& key, const std::string& s,
                 EmailConfig& m) {
    if (s.empty()) {
      error(pos_of(n), key, kNoSmarthost);
      return;
    }
    // net.SplitHostPort: "host:port" or "[v6]:port".
    std::string host, port;
    if (s.front() == '[') {
      const std::size_t close = s.find(']');
      if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') {
        error(pos_of(n), key, fmt::format("address {}: missing port in address", s));
        return;
      }
      host = s.substr(1, close - 1);
      port = s.substr(close + 2);
    } else {
      const std::size_t colon = s.rfind(':');
      if (colon == std::string::npos) {
        error(pos_of(n), key, fmt::format("address {}: missing port in address", s));
        return;
      }
      if (s.find(':') != colon) {
        error(pos_of(n), key, fmt::format("address {}: too many colons in address", s));
        return;
      }
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
    }
    if (port.empty()) {
      error(pos_of(n), key, fmt::format("address {}: port cannot be empty", quote(s)));
      return;
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      error(pos_of(n), key, fmt::format("address {}: invalid port {}", quote(s), quote(port)));
      return;
    }
    if (host.empty()) {
      error(pos_of(n), key, fmt::format("address {}: host cannot be empty", quote(s)));
      return;
    }
    m.smarthost_host = host;
    m.smarthost_port = static_cast<std::uint16_t>(value);
  }

  ExecConfig exec(const Entries& f, const YAML::Node& n, const std::string& key) {
    ExecConfig e;
    if (const YAML::Node* v = f.get("command")) {
      const std::string ck = join_key(key, "command");
      each(v, ck, [&](const YAML::Node& item, const std::string& ik) {
        std::string arg;
        if (!item.IsScalar()) {
          error(pos_of(item), ik, fmt::format("expected a string, got {}", shape_of(item)));
          return;
        }
        if (string_value(item, ik, arg)) e.command.push_back(std::move(arg));
      });
      if (v->IsSequence() && v->size() == 0)
        error(pos_of(*v), ck, "missing command in exec config (a list: program, then arguments)");
      if (!e.command.empty()) {
        if (e.command[0].empty())
          error(pos_of(*v), ck, "the program (command[0]) is empty");
        else if (e.command[0].find('/') != std::string::npos)
          e.command[0] = path(e.command[0]);
      }
    } else {
      error(key_pos(f, "command", n), key,
            "missing command in exec config (a list: program, then arguments)");
    }
    if (const YAML::Node* v = f.get("timeout")) {
      std::string s;
      if (string_value(*v, join_key(key, "timeout"), s)) {
        std::string why;
        const auto ms = relabel::parse_duration(s, &why);
        if (!ms)
          error(pos_of(*v), join_key(key, "timeout"), why);
        else if (*ms <= 0)
          error(pos_of(*v), join_key(key, "timeout"), "timeout must be positive");
        else
          e.timeout = std::chrono::milliseconds(*ms);
      }
    }
    if (const YAML::Node* v = f.get("max_alerts"))
      uint_value(*v, join_key(key, "max_alerts"), e.max_alerts);
    return e;
  }

  AlertmanagerConfig alertmanager(const Entries& f, const YAML::Node& n, const std::string& key) {
    AlertmanagerConfig a;
    if (const YAML::Node* v = f.get("url"))
      url_value(*v, join_key(key, "url"), a.url, false);
    else
      error(key_pos(f, "url", n), key, "missing url in alertmanager config");
    http_config(f, key, a.http);
    return a;
  }

  // What Alertmanager's config.Load takes from `global` for an item that
  // leaves it unset (its values point at the global block's lines).
  void fill_from_global(std::size_t kind, Entries& f) {
    const Entries& g = defaults_->impl->global;
    const auto take = [&](std::string_view item_key, std::string_view global_key) {
      if (const Entry* e = g.entry(global_key); e && f.unset(item_key))
        f.set(std::string(item_key), e->key, e->value);
    };
    const std::string_view k = kKinds[kind];
    if (k == "webhook" || k == "slack" || k == "pagerduty" || k == "alertmanager") {
      if (!f.get("http_config")) take("http_config", "http_config");
    }
    if (k == "slack" && f.unset("api_url") && f.unset("api_url_file")) {
      take("api_url", "slack_api_url");
      take("api_url_file", "slack_api_url_file");
    }
    if (k == "pagerduty") take("url", "pagerduty_url");
    if (k == "email") {
      take("from", "smtp_from");
      take("hello", "smtp_hello");
      take("smarthost", "smtp_smarthost");
      take("auth_username", "smtp_auth_username");
      if (f.unset("auth_password") && f.unset("auth_password_file")) {
        take("auth_password", "smtp_auth_password");
        take("auth_password_file", "smtp_auth_password_file");
      }
      take("auth_secret", "smtp_auth_secret");
      take("auth_identity", "smtp_auth_identity");
      if (!f.get("require_tls")) take("require_tls", "smtp_require_tls");
    }
  }

  const IntegrationDefaults* defaults_;
};

}  // namespace

const std::vector<std::string_view>& supported_receiver_keys() {
  static const std::vector<std::string_view> keys(kSupported.begin(), kSupported.end());
  return keys;
}

IntegrationDefaults load_integration_defaults(const YAML::Node& global, const std::string& base_dir,
                                              std::vector<routing::Error>& errors) {
  try {
    return Loader(base_dir, errors).global(global);
  } catch (const std::exception& e) {
    errors.push_back({0, 0, "global", std::string("cannot read global: ") + e.what()});
    return {};
  }
}

std::vector<IntegrationConfig> load_integrations(const YAML::Node& receiver, const std::string& key,
                                                 const std::string& base_dir,
                                                 std::vector<routing::Error>& errors,
                                                 const IntegrationDefaults* defaults) {
  try {
    return Loader(base_dir, errors, defaults).run(receiver, key);
  } catch (const std::exception& e) {
    errors.push_back({0, 0, key, std::string("cannot read the receiver: ") + e.what()});
    return {};
  }
}

std::unique_ptr<Notifier> make_notifier(const IntegrationConfig& c, const NotifierContext& ctx) {
  return std::visit(
      [&](const auto& config) -> std::unique_ptr<Notifier> {
        using T = std::decay_t<decltype(config)>;
        if constexpr (std::is_same_v<T, WebhookConfig>) {
          return make_webhook_notifier(config, ctx);
        } else if constexpr (std::is_same_v<T, SlackConfig>) {
          return make_slack_notifier(config, ctx);
        } else if constexpr (std::is_same_v<T, PagerdutyConfig>) {
          return make_pagerduty_notifier(config, ctx);
        } else if constexpr (std::is_same_v<T, EmailConfig>) {
          return make_email_notifier(config, ctx);
        } else if constexpr (std::is_same_v<T, ExecConfig>) {
          return make_exec_notifier(config, ctx);
        } else if constexpr (std::is_same_v<T, LogConfig>) {
          return std::make_unique<LogNotifier>();
        } else {
          return make_alertmanager_notifier(config, ctx);
        }
      },
      c.config);
}

}  // namespace watch::alerting
