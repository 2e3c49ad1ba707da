// Loading a receiver's integrations (Alertmanager 0.25's config/notifiers.go
// and prometheus/common 0.38's http_config), and make_notifier().
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

namespace watch::alerting {

namespace {

using routing::Error;

constexpr std::size_t kWorkBudget = 200'000;   // YAML nodes visited, aliases included
constexpr std::size_t kMaxErrors = 100;        // then one "too many errors"
constexpr std::size_t kMaxSuggestLength = 64;  // keys longer than this get no suggestion
constexpr std::size_t kMaxQuotedLength = 200;  // of user text quoted in a message
constexpr int kMaxMergeDepth = 16;

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
const std::vector<std::string_view> kHttpConfigKeys{
    "basic_auth", "authorization", "oauth2",           "bearer_token", "bearer_token_file",
    "proxy_url",  "tls_config",    "follow_redirects", "enable_http2"};
const std::vector<std::string_view> kTlsKeys{
    "ca_file",     "cert_file",  "key_file", "server_name", "insecure_skip_verify",
    "min_version", "max_version"};
const std::vector<std::string_view> kBasicAuthKeys{"username", "password", "password_file"};
const std::vector<std::string_view> kAuthorizationKeys{"type", "credentials", "credentials_file"};

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

struct Pos {
  int line = 0;
  int column = 0;
};

Pos pos_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

// Go's %q for short user text in messages (never for secrets).
std::string quote(std::string_view s) {
  std::string out = "\"";
  std::size_t shown = 0;
  for (const char ch : s) {
    if (shown++ == kMaxQuotedLength) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::string join(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string unknown_key_message(std::string_view key,
                                const std::vector<std::string_view>& allowed) {
  std::string_view best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  if (key.size() <= kMaxSuggestLength) {
    for (std::string_view a : allowed) {
      if (const std::size_t d = edit_distance(key, a); d < best_distance) {
        best_distance = d;
        best = a;
      }
    }
  }
  if (!best.empty() && best_distance <= std::max<std::size_t>(2, best.size() / 3))
    return fmt::format("unknown key {} (did you mean \"{}\"?)", quote(key), best);
  return fmt::format("unknown key {} (expected one of: {})", quote(key), join(allowed));
}

const char* shape_of(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a string";
    case YAML::NodeType::Null:
      return "null";
    default:
      return "nothing";
  }
}

bool is_plain(const YAML::Node& n) {
  return n.Tag() == "?";
}

std::string join_key(const std::string& parent, std::string_view child) {
  const std::string quoted = quote(child);
  const std::string part = quoted.substr(1, quoted.size() - 2);
  return parent.empty() ? part : parent + "." + part;
}

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

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
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

struct Entry {
  std::string name;
  YAML::Node key;
  YAML::Node value;
};

class Entries {
 public:
  void add(std::string name, YAML::Node key, YAML::Node value) {
    entries_.push_back({std::move(name), std::move(key), std::move(value)});
  }
  bool has(std::string_view name) const {
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const Entry& e) { return e.name == name; });
  }
  // The value, nullptr when absent or null.
  const YAML::Node* get(std::string_view name) const {
    for (const Entry& e : entries_)
      if (e.name == name) return e.value.IsNull() ? nullptr : &e.value;
    return nullptr;
  }
  const Entry* entry(std::string_view name) const {
    for (const Entry& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }
  const std::vector<Entry>& all() const { return entries_; }
  // Absent, null or "": what Alertmanager fills from its `global` block.
  bool unset(std::string_view name) const {
    const Entry* e = entry(name);
    return !e || e->value.IsNull() || (e->value.IsScalar() && e->value.Scalar().empty());
  }
  void set(std::string name, YAML::Node key, YAML::Node value) {
    std::erase_if(entries_, [&](const Entry& e) { return e.name == name; });
    add(std::move(name), std::move(key), std::move(value));
  }

 private:
  std::vector<Entry> entries_;
};

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

class Loader {
 public:
  Loader(std::string base_dir, std::vector<Error>& errors,
         const IntegrationDefaults* defaults = nullptr)
      : base_dir_(std::move(base_dir)),
        errors_(errors),
        errors_before_(errors.size()),
        defaults_(defaults) {}

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
      load_http_config(v, "global.http_config", ignored);
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
  // ---- plumbing

  void error(Pos pos, std::string key, std::string message) {
    if (stop_) return;
    if (errors_.size() - errors_before_ >= kMaxErrors) {
      errors_.push_back({pos.line, pos.column, "",
                         fmt::format("too many errors (more than {}); stopping", kMaxErrors)});
      stop_ = true;
      return;
    }
    errors_.push_back({pos.line, pos.column, std::move(key), std::move(message)});
  }

  bool charge() {
    if (work_ >= kWorkBudget) {
      if (!stop_) {
        error({}, "",
              fmt::format("configuration too complex (more than {} YAML nodes, aliases included)",
                          kWorkBudget));
        stop_ = true;
      }
      return false;
    }
    ++work_;
    return !stop_;
  }

  bool entries(const YAML::Node& n, const std::string& key,
               const std::vector<std::string_view>* allowed, Entries& out) {
    if (!n.IsMap()) {
      error(pos_of(n), key, fmt::format("expected a mapping, got {}", shape_of(n)));
      return false;
    }
    collect(n, key, allowed, out, 0);
    return true;
  }

  void collect(const YAML::Node& n, const std::string& key,
               const std::vector<std::string_view>* allowed, Entries& out, int depth) {
    std::vector<YAML::Node> merges;
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!charge()) return;
      const YAML::Node k = it->first;
      if (!k.IsScalar() && !k.IsNull()) {
        error(pos_of(k), key, "keys must be strings");
        continue;
      }
      const std::string name = k.IsNull() ? "" : k.Scalar();
      if (name == "<<" && is_plain(k)) {
        merges.push_back(YAML::Node(it->second));
        continue;
      }
      if (allowed && std::find(allowed->begin(), allowed->end(), name) == allowed->end()) {
        error(pos_of(k), join_key(key, name), unknown_key_message(name, *allowed));
        continue;
      }
      if (!seen.insert(name).second) {
        error(pos_of(k), join_key(key, name), "key repeated");
        continue;
      }
      out.add(name, k, YAML::Node(it->second));
    }
    for (const YAML::Node& merge : merges) {
      if (depth >= kMaxMergeDepth) {
        error(pos_of(merge), key, "merge keys nested too deeply");
        return;
      }
      std::vector<YAML::Node> sources;
      if (merge.IsMap()) {
        sources.push_back(merge);
      } else if (merge.IsSequence()) {
        for (auto it = merge.begin(); it != merge.end(); ++it) sources.push_back(*it);
      } else {
        error(pos_of(merge), key, "map merge requires map or sequence of maps as the value");
        continue;
      }
      for (const YAML::Node& source : sources) {
        if (!charge()) return;
        if (!source.IsMap()) {
          error(pos_of(source), key, "map merge requires map or sequence of maps as the value");
          continue;
        }
        Entries merged;
        collect(source, key, allowed, merged, depth + 1);
        for (const Entry& e : merged.all())
          if (!out.has(e.name)) out.add(e.name, e.key, e.value);
      }
    }
  }

  template <typename F>
  void each(const YAML::Node* n, const std::string& key, F&& f) {
    if (!n) return;
    if (!n->IsSequence()) {
      error(pos_of(*n), key, fmt::format("expected a list, got {}", shape_of(*n)));
      return;
    }
    std::size_t i = 0;
    for (auto it = n->begin(); it != n->end(); ++it, ++i) {
      if (!charge()) return;
      const YAML::Node item = *it;
      f(item, fmt::format("{}[{}]", key, i));
    }
  }

  // yaml.v2's string: any scalar's text; "" for null.
  bool string_value(const YAML::Node& n, const std::string& key, std::string& out) {
    if (n.IsNull()) {
      out.clear();
      return true;
    }
    if (!n.IsScalar()) {
      error(pos_of(n), key, fmt::format("expected a string, got {}", shape_of(n)));
      return false;
    }
    out = n.Scalar();
    return true;
  }

  bool bool_value(const YAML::Node& n, const std::string& key, bool& out) {
    static constexpr std::array<std::string_view, 11> kTrue{
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
    static constexpr std::array<std::string_view, 11> kFalse{
        "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
    if (n.IsScalar() && (is_plain(n) || n.Tag() == "tag:yaml.org,2002:bool")) {
      const std::string& s = n.Scalar();
      if (std::find(kTrue.begin(), kTrue.end(), s) != kTrue.end()) {
        out = true;
        return true;
      }
      if (std::find(kFalse.begin(), kFalse.end(), s) != kFalse.end()) {
        out = false;
        return true;
      }
    }
    error(pos_of(n), key,
          n.IsScalar() ? fmt::format("expected true or false, got {}", quote(n.Scalar()))
                       : fmt::format("expected true or false, got {}", shape_of(n)));
    return false;
  }

  bool uint_value(const YAML::Node& n, const std::string& key, std::size_t& out) {
    if (n.IsScalar() && is_plain(n)) {
      const std::string& s = n.Scalar();
      std::uint64_t v = 0;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (!s.empty() && ec == std::errc() && end == s.data() + s.size()) {
        out = static_cast<std::size_t>(v);
        return true;
      }
    }
    error(pos_of(n), key,
          n.IsScalar() ? fmt::format("expected a non-negative integer, got {}", quote(n.Scalar()))
                       : fmt::format("expected a non-negative integer, got {}", shape_of(n)));
    return false;
  }

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

  std::string path(const std::string& p) const {
    if (p.empty() || p.front() == '/' || base_dir_.empty()) return p;
    return base_dir_ + "/" + p;
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

  // Keys Alertmanager has and watch does not: an error naming them.
  void refuse(const Entries& f, const std::string& key, std::string_view name,
              std::string_view why) {
    if (const Entry* e = f.entry(name); e && !e->value.IsNull())
      error(pos_of(e->key), join_key(key, name), std::string(why));
  }

  Pos key_pos(const Entries& f, std::string_view name, const YAML::Node& fallback) {
    if (const Entry* e = f.entry(name)) return pos_of(e->key);
    return pos_of(fallback);
  }

  // ---- http_config

  void load_tls(const YAML::Node& n, const std::string& key, firebreak::TlsOptions& out) {
    Entries f;
    if (!entries(n, key, &kTlsKeys, f)) return;
    std::string s;
    for (auto [name, field] : {std::pair<const char*, std::string*>{"ca_file", &out.ca_file},
                               {"cert_file", &out.cert_file},
                               {"key_file", &out.key_file}}) {
      if (const YAML::Node* v = f.get(name); v && string_value(*v, join_key(key, name), s))
        *field = path(s);
    }
    if (const YAML::Node* v = f.get("server_name"))
      string_value(*v, join_key(key, "server_name"), out.server_name);
    if (const YAML::Node* v = f.get("insecure_skip_verify"))
      bool_value(*v, join_key(key, "insecure_skip_verify"), out.insecure_skip_verify);
    refuse(f, key, "min_version",
           "min_version is not supported by watch (TLS 1.2 or later is used)");
    refuse(f, key, "max_version", "max_version is not supported by watch");
    if (out.cert_file.empty() != out.key_file.empty()) {
      // prometheus/common's wording.
      error(pos_of(n), key,
            out.cert_file.empty()
                ? fmt::format("client key file {} specified without client cert file",
                              quote(out.key_file))
                : fmt::format("client cert file {} specified without client key file",
                              quote(out.cert_file)));
    }
  }

  void load_http_config(const YAML::Node* n, const std::string& key, HttpConfig& out) {
    if (!n) return;
    Entries f;
    if (!entries(*n, key, &kHttpConfigKeys, f)) return;
    refuse(f, key, "oauth2", "oauth2 is not supported by watch");
    refuse(f, key, "proxy_url", "proxy_url is not supported by watch");
    bool ignored = false;
    if (const YAML::Node* v = f.get("follow_redirects"))
      bool_value(*v, join_key(key, "follow_redirects"), ignored);
    if (const YAML::Node* v = f.get("enable_http2"))
      bool_value(*v, join_key(key, "enable_http2"), ignored);
    if (const YAML::Node* v = f.get("tls_config"))
      load_tls(*v, join_key(key, "tls_config"), out.tls);

    std::string bearer, bearer_file;
    if (const YAML::Node* v = f.get("bearer_token"))
      string_value(*v, join_key(key, "bearer_token"), bearer);
    if (const YAML::Node* v = f.get("bearer_token_file");
        v && string_value(*v, join_key(key, "bearer_token_file"), bearer_file))
      bearer_file = path(bearer_file);

    if (const YAML::Node* v = f.get("basic_auth")) {
      const std::string k = join_key(key, "basic_auth");
      Entries b;
      if (entries(*v, k, &kBasicAuthKeys, b)) {
        firebreak::HttpBasicAuth auth;
        if (const YAML::Node* u = b.get("username"))
          string_value(*u, join_key(k, "username"), auth.username);
        if (const YAML::Node* p = b.get("password"))
          string_value(*p, join_key(k, "password"), auth.password);
        if (const YAML::Node* p = b.get("password_file");
            p && string_value(*p, join_key(k, "password_file"), auth.password_file))
          auth.password_file = path(auth.password_file);
        if (!auth.password.empty() && !auth.password_file.empty())
          error(pos_of(*v), k,
                "at most one of basic_auth password & password_file must be configured");
        out.basic_auth = std::move(auth);
      }
    }
    if (const YAML::Node* v = f.get("authorization")) {
      const std::string k = join_key(key, "authorization");
      Entries a;
      if (entries(*v, k, &kAuthorizationKeys, a)) {
        firebreak::HttpAuthorization auth;
        std::string type;
        if (const YAML::Node* t = a.get("type")) string_value(*t, join_key(k, "type"), type);
        type = trim(type);
        auth.type = type.empty() ? "Bearer" : type;
        if (const YAML::Node* c = a.get("credentials"))
          string_value(*c, join_key(k, "credentials"), auth.credentials);
        if (const YAML::Node* c = a.get("credentials_file");
            c && string_value(*c, join_key(k, "credentials_file"), auth.credentials_file))
          auth.credentials_file = path(auth.credentials_file);
        if (!auth.credentials.empty() && !auth.credentials_file.empty())
          error(pos_of(*v), k,
                "at most one of authorization credentials & credentials_file must be configured");
        std::string lower = auth.type;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (lower == "basic")
          error(pos_of(*v), join_key(k, "type"),
                "authorization type cannot be set to \"basic\", use \"basic_auth\" instead");
        if (!bearer.empty() || !bearer_file.empty())
          error(pos_of(*v), k,
                "authorization is not compatible with bearer_token & bearer_token_file");
        if (out.basic_auth)
          error(pos_of(*v), k,
                "at most one of basic_auth, oauth2 & authorization must be configured");
        out.authorization = std::move(auth);
      }
    }
    if (!bearer.empty() && !bearer_file.empty())
      error(pos_of(*n), key, "at most one of bearer_token & bearer_token_file must be configured");
    if ((!bearer.empty() || !bearer_file.empty()) && out.basic_auth)
      error(
          pos_of(*n), key,
          "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured");
    if (!out.authorization && (!bearer.empty() || !bearer_file.empty()))
      out.authorization = firebreak::HttpAuthorization{
          .type = "Bearer", .credentials = bearer, .credentials_file = bearer_file};
  }

  // ---- items

  bool load_item(std::size_t kind, const YAML::Node& n, const std::string& key,
                 IntegrationConfig& c) {
    const std::size_t errors_at = errors_.size();
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
    return errors_.size() == errors_at;
  }

  WebhookConfig webhook(const Entries& f, const YAML::Node& n, const std::string& key) {
    WebhookConfig w;
    if (const YAML::Node* v = f.get("url"))
      url_value(*v, join_key(key, "url"), w.url, false);
    else
      error(key_pos(f, "url", n), key, "missing URL in webhook config");
    if (const YAML::Node* v = f.get("max_alerts"))
      uint_value(*v, join_key(key, "max_alerts"), w.max_alerts);
    load_http_config(f.get("http_config"), join_key(key, "http_config"), w.http);
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
    load_http_config(f.get("http_config"), join_key(key, "http_config"), s.http);
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
    load_http_config(f.get("http_config"), join_key(key, "http_config"), p.http);
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
    if (const YAML::Node* v = f.get("tls_config")) load_tls(*v, join_key(key, "tls_config"), m.tls);
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
    load_http_config(f.get("http_config"), join_key(key, "http_config"), a.http);
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

  std::string base_dir_;
  std::vector<Error>& errors_;
  std::size_t errors_before_;
  const IntegrationDefaults* defaults_;
  std::size_t work_ = 0;
  bool stop_ = false;
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
