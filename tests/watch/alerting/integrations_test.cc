// load_integrations(): every kind in Alertmanager 0.25's shapes with its
// defaults, and every error with its line, column and key path; the default
// templates rendered as 0.25 renders them.
#include <yaml-cpp/yaml.h>

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "watch/alerting/integrations.h"
#include "watch/alerting/receivers_internal.h"

namespace watch::alerting {
namespace {

struct Loaded {
  std::vector<IntegrationConfig> items;
  std::vector<routing::Error> errors;
  std::string all_errors() const {
    std::string out;
    for (const auto& e : errors) out += e.to_string() + "\n";
    return out;
  }
};

Loaded load(const std::string& yaml, const std::string& base_dir = "/etc/fb") {
  Loaded l;
  l.items = load_integrations(YAML::Load(yaml), "receivers[0]", base_dir, l.errors);
  return l;
}

// The single error of `yaml`, as "line:col: key: message".
std::string error_of(const std::string& yaml) {
  const Loaded l = load(yaml);
  if (l.errors.size() != 1) return "expected one error, got: " + l.all_errors();
  return l.errors[0].to_string();
}

TEST(LoadIntegrations, EveryKindWithAlertmanagersDefaults) {
  const Loaded l = load(R"(
name: ops
webhook_configs:
  - url: https://hooks.example.com/a
  - url: http://127.0.0.1:5001/b
    max_alerts: 3
    send_resolved: false
slack_configs:
  - api_url: https://hooks.slack.com/services/T/B/X
    channel: '#ops'
pagerduty_configs:
  - routing_key: abc
email_configs:
  - to: ops@example.com
    from: watch@example.com
    smarthost: mail.example.com:587
exec_configs:
  - command: [bin/page, --urgent]
log_configs:
  - {}
alertmanager_configs:
  - url: http://127.0.0.1:9093
)");
  ASSERT_TRUE(l.errors.empty()) << l.all_errors();
  ASSERT_EQ(l.items.size(), 8u);
  const std::vector<std::pair<std::string, std::size_t>> kinds{
      {"webhook", 0}, {"webhook", 1}, {"slack", 0}, {"pagerduty", 0},
      {"email", 0},   {"exec", 0},    {"log", 0},   {"alertmanager", 0}};
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    EXPECT_EQ(l.items[i].kind, kinds[i].first);
    EXPECT_EQ(l.items[i].index, kinds[i].second);
  }
  // send_resolved: Alertmanager's per-integration defaults.
  EXPECT_TRUE(l.items[0].send_resolved);
  EXPECT_FALSE(l.items[1].send_resolved);
  EXPECT_FALSE(l.items[2].send_resolved);  // slack
  EXPECT_TRUE(l.items[3].send_resolved);   // pagerduty
  EXPECT_FALSE(l.items[4].send_resolved);  // email
  EXPECT_TRUE(l.items[5].send_resolved);
  EXPECT_TRUE(l.items[6].send_resolved);
  EXPECT_TRUE(l.items[7].send_resolved);
  EXPECT_EQ(l.items[0].line, 4);
  EXPECT_EQ(std::get<WebhookConfig>(l.items[1].config).max_alerts, 3u);
  const auto& slack = std::get<SlackConfig>(l.items[2].config);
  EXPECT_EQ(slack.channel.literal, "#ops");
  EXPECT_EQ(slack.title.default_template, "slack.default.title");
  const auto& pd = std::get<PagerdutyConfig>(l.items[3].config);
  EXPECT_EQ(pd.url, "https://events.pagerduty.com/v2/enqueue");
  EXPECT_EQ(pd.severity.literal, "error");
  EXPECT_EQ(pd.source.default_template, "pagerduty.default.client");
  ASSERT_EQ(pd.details.size(), 4u);
  EXPECT_EQ(pd.details[0].first, "firing");
  const auto& email = std::get<EmailConfig>(l.items[4].config);
  EXPECT_EQ(email.smarthost_host, "mail.example.com");
  EXPECT_EQ(email.smarthost_port, 587);
  EXPECT_TRUE(email.require_tls);
  EXPECT_EQ(email.hello, "localhost");
  const auto& exec = std::get<ExecConfig>(l.items[5].config);
  EXPECT_EQ(exec.command, (std::vector<std::string>{"/etc/fb/bin/page", "--urgent"}));
  EXPECT_EQ(exec.timeout, std::chrono::seconds(10));
}

TEST(LoadIntegrations, HttpConfigWithTlsAndAuthFilesRelativeToTheBaseDir) {
  const Loaded l = load(R"(
webhook_configs:
  - url: https://hooks.example.com/a
    http_config:
      authorization: {credentials_file: secrets/token}
      tls_config:
        ca_file: ca.pem
        cert_file: /abs/client.pem
        key_file: client.key
        server_name: hooks.internal
        insecure_skip_verify: false
      follow_redirects: true
  - url: https://hooks.example.com/b
    http_config:
      basic_auth: {username: u, password_file: pw}
  - url: https://hooks.example.com/c
    http_config: {bearer_token: t0k}
)");
  ASSERT_TRUE(l.errors.empty()) << l.all_errors();
  const auto& a = std::get<WebhookConfig>(l.items[0].config).http;
  ASSERT_TRUE(a.authorization);
  EXPECT_EQ(a.authorization->type, "Bearer");
  EXPECT_EQ(a.authorization->credentials_file, "/etc/fb/secrets/token");
  EXPECT_EQ(a.tls.ca_file, "/etc/fb/ca.pem");
  EXPECT_EQ(a.tls.cert_file, "/abs/client.pem");
  EXPECT_EQ(a.tls.key_file, "/etc/fb/client.key");
  EXPECT_EQ(a.tls.server_name, "hooks.internal");
  const auto& b = std::get<WebhookConfig>(l.items[1].config).http;
  ASSERT_TRUE(b.basic_auth);
  EXPECT_EQ(b.basic_auth->username, "u");
  EXPECT_EQ(b.basic_auth->password_file, "/etc/fb/pw");
  const auto& c = std::get<WebhookConfig>(l.items[2].config).http;
  ASSERT_TRUE(c.authorization);
  EXPECT_EQ(c.authorization->credentials, "t0k");
}

TEST(LoadIntegrations, TextsArePlainOrADefaultTemplate) {
  const Loaded l = load(R"(
slack_configs:
  - api_url_file: slack.url
    title: 'Disk trouble'
    text: '{{ template "slack.default.title" . }}'
    color: '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    fields:
      - {title: Runbook, value: 'https://runbooks/disk', short: true}
)");
  ASSERT_TRUE(l.errors.empty()) << l.all_errors();
  const auto& s = std::get<SlackConfig>(l.items[0].config);
  EXPECT_EQ(s.api_url_file, "/etc/fb/slack.url");
  EXPECT_EQ(s.title.literal, "Disk trouble");
  EXPECT_TRUE(s.title.default_template.empty());
  EXPECT_EQ(s.text.default_template, "slack.default.title");
  EXPECT_EQ(s.color.default_template, "slack.default.color");
  ASSERT_EQ(s.fields.size(), 1u);
  EXPECT_EQ(s.fields[0].short_field, true);
}

TEST(LoadIntegrations, MergeKeysAreHonoured) {
  const Loaded l = load(R"(
webhook_configs:
  - &hook {url: 'http://a:1/x', max_alerts: 2}
  - <<: *hook
    url: 'http://b:1/y'
)");
  ASSERT_TRUE(l.errors.empty()) << l.all_errors();
  const auto& second = std::get<WebhookConfig>(l.items[1].config);
  EXPECT_EQ(second.url, "http://b:1/y");
  EXPECT_EQ(second.max_alerts, 2u);
}

TEST(LoadIntegrations, TheFuzzCorpusHasAValidReceiverOfEveryKind) {
  std::ifstream in("fuzz/corpus/integrations/every_kind");  // tests run in the source tree
  ASSERT_TRUE(in);
  std::stringstream text;
  text << in.rdbuf();
  const Loaded l = load(text.str());
  EXPECT_TRUE(l.errors.empty()) << l.all_errors();
  EXPECT_EQ(l.items.size(), 7u);
}

TEST(LoadIntegrations, AnEmptyReceiverHasNoIntegrations) {
  const Loaded l = load("name: blackhole\n");
  EXPECT_TRUE(l.errors.empty());
  EXPECT_TRUE(l.items.empty());
}

// ---- errors, each with its position and key path

TEST(LoadIntegrationsErrors, UnknownReceiverKeySuggestsTheClosest) {
  EXPECT_EQ(error_of("slack_config:\n  - api_url: http://x/\n"),
            "1:1: receivers[0].slack_config: unknown key \"slack_config\" (did you mean "
            "\"slack_configs\"?)");
}

TEST(LoadIntegrationsErrors, AnAlertmanagerIntegrationWatchLacksIsNamed) {
  const std::string e = error_of("opsgenie_configs:\n  - api_key: k\n");
  EXPECT_EQ(e,
            "1:1: receivers[0].opsgenie_configs: watch has no OpsGenie integration; a receiver "
            "may have: webhook_configs, slack_configs, pagerduty_configs, email_configs, "
            "exec_configs, log_configs, alertmanager_configs");
  for (const char* k :
       {"victorops_configs", "pushover_configs", "wechat_configs", "telegram_configs",
        "sns_configs", "webex_configs", "discord_configs", "msteams_configs"}) {
    const std::string err = error_of(std::string(k) + ": []\n");
    EXPECT_NE(err.find(std::string("receivers[0].") + k + ": watch has no"), std::string::npos)
        << err;
  }
}

TEST(LoadIntegrationsErrors, UnknownItemKeySuggestsTheClosest) {
  EXPECT_EQ(error_of(R"(
slack_configs:
  - api_url: https://hooks.slack.com/x
  - api_url: https://hooks.slack.com/x
    chanel: '#ops'
)"),
            "5:5: receivers[0].slack_configs[1].chanel: unknown key \"chanel\" (did you mean "
            "\"channel\"?)");
}

TEST(LoadIntegrationsErrors, WrongShapes) {
  EXPECT_EQ(error_of("webhook_configs: {url: x}\n"),
            "1:18: receivers[0].webhook_configs: expected a list, got a mapping");
  EXPECT_EQ(error_of("webhook_configs:\n  - http://x/\n"),
            "2:5: receivers[0].webhook_configs[0]: expected a mapping, got a string");
  EXPECT_EQ(error_of("slack_configs:\n  - api_url: [a]\n"),
            "2:14: receivers[0].slack_configs[0].api_url: expected a string, got a list");
  EXPECT_EQ(error_of("webhook_configs:\n  - url: http://x/\n    max_alerts: -1\n"),
            "3:17: receivers[0].webhook_configs[0].max_alerts: expected a non-negative integer, "
            "got \"-1\"");
  EXPECT_EQ(error_of("webhook_configs:\n  - url: http://x/\n    send_resolved: maybe\n"),
            "3:20: receivers[0].webhook_configs[0].send_resolved: expected true or false, got "
            "\"maybe\"");
  EXPECT_EQ(error_of("webhook_configs:\n  - url: http://x/\n    url: http://y/\n"),
            "3:5: receivers[0].webhook_configs[0].url: key repeated");
  EXPECT_EQ(error_of("- webhook_configs: []\n"),
            "1:1: receivers[0]: expected a mapping, got a list");
}

TEST(LoadIntegrationsErrors, Webhook) {
  EXPECT_EQ(error_of("webhook_configs:\n  - max_alerts: 1\n"),
            "2:5: receivers[0].webhook_configs[0]: missing URL in webhook config");
  EXPECT_EQ(error_of("webhook_configs:\n  - url: ftp://x/\n"),
            "2:10: receivers[0].webhook_configs[0].url: invalid URL \"ftp://x/\": scheme must be "
            "http or https");
}

// As Alertmanager 0.25's config.Load: what an item leaves unset (absent,
// null or "") comes from `global`; what it sets stays.
TEST(LoadIntegrations, AlertmanagersGlobalBlockFillsWhatItemsLeaveUnset) {
  std::vector<routing::Error> errors;
  const IntegrationDefaults defaults = load_integration_defaults(YAML::Load(R"(
resolve_timeout: 5m
smtp_from: alerts@example.com
smtp_smarthost: 'mail.example.com:587'
smtp_hello: watch.example.com
smtp_auth_username: alerts
smtp_auth_password_file: /run/secrets/smtp
smtp_require_tls: false
slack_api_url: 'https://hooks.slack.com/services/T/B/X'
pagerduty_url: 'https://pd.example.com/v2/enqueue'
http_config: {authorization: {credentials: token}}
opsgenie_api_key: unused
)"),
                                                                 "/etc/fb", errors);
  ASSERT_TRUE(errors.empty()) << errors[0].to_string();
  errors.clear();
  const auto items = load_integrations(YAML::Load(R"(
name: ops
email_configs:
  - to: a@example.com
  - {to: b@example.com, from: own@example.com, smarthost: 'own:25', require_tls: true,
     auth_password: inline}
slack_configs:
  - channel: '#ops'
pagerduty_configs:
  - routing_key: k
webhook_configs:
  - url: 'http://h:1/'
  - url: 'http://h:2/'
    http_config: {basic_auth: {username: u, password: p}}
)"),
                                       "receivers[0]", "/etc/fb", errors, &defaults);
  ASSERT_TRUE(errors.empty()) << errors[0].to_string();
  ASSERT_EQ(items.size(), 6u);
  // By kind (webhook, slack, pagerduty, email), each kind's in file order.
  const auto& e0 = std::get<EmailConfig>(items[4].config);
  EXPECT_EQ(e0.from, "alerts@example.com");
  EXPECT_EQ(e0.smarthost_host, "mail.example.com");
  EXPECT_EQ(e0.smarthost_port, 587);
  EXPECT_EQ(e0.hello, "watch.example.com");
  EXPECT_EQ(e0.auth_username, "alerts");
  EXPECT_EQ(e0.auth_password_file, "/run/secrets/smtp");
  EXPECT_FALSE(e0.require_tls);
  const auto& e1 = std::get<EmailConfig>(items[5].config);
  EXPECT_EQ(e1.from, "own@example.com");
  EXPECT_EQ(e1.smarthost_host, "own");
  EXPECT_TRUE(e1.require_tls);
  EXPECT_EQ(e1.auth_password, "inline");
  EXPECT_EQ(e1.auth_password_file, "");  // the item's password wins over the global file
  EXPECT_EQ(std::get<SlackConfig>(items[2].config).api_url,
            "https://hooks.slack.com/services/T/B/X");
  EXPECT_TRUE(std::get<SlackConfig>(items[2].config).http.authorization.has_value());
  EXPECT_EQ(std::get<PagerdutyConfig>(items[3].config).url, "https://pd.example.com/v2/enqueue");
  const auto& w0 = std::get<WebhookConfig>(items[0].config);
  EXPECT_TRUE(w0.http.authorization.has_value());
  const auto& w1 = std::get<WebhookConfig>(items[1].config);  // its own http_config, whole
  EXPECT_FALSE(w1.http.authorization.has_value());
  EXPECT_TRUE(w1.http.basic_auth.has_value());
}

TEST(LoadIntegrationsErrors, AlertmanagersGlobalBlock) {
  const auto errors_of = [](const std::string& yaml) {
    std::vector<routing::Error> errors;
    load_integration_defaults(YAML::Load(yaml), "/etc/fb", errors);
    std::string out;
    for (const auto& e : errors) out += e.to_string() + "\n";
    return out;
  };
  EXPECT_EQ(errors_of("slack_api_url: 'https://h/x'\nslack_api_url_file: f\n"),
            "1:1: global: at most one of slack_api_url & slack_api_url_file must be configured\n");
  EXPECT_EQ(errors_of("smtp_auth_password: a\nsmtp_auth_password_file: f\n"),
            "1:1: global: at most one of smtp_auth_password & smtp_auth_password_file must be "
            "configured\n");
  EXPECT_EQ(errors_of("smtp_smarthost: mail\n"),
            "1:17: global.smtp_smarthost: address mail: missing port in address\n");
  EXPECT_EQ(errors_of("smtp_require_tls: maybe\n"),
            "1:19: global.smtp_require_tls: expected true or false, got \"maybe\"\n");
  EXPECT_NE(errors_of("smtp_form: a@b\n").find("global.smtp_form: unknown key"), std::string::npos)
      << errors_of("smtp_form: a@b\n");
}

TEST(LoadIntegrationsErrors, Slack) {
  EXPECT_EQ(error_of("slack_configs:\n  - channel: '#x'\n"),
            "2:5: receivers[0].slack_configs[0]: no global Slack API URL set either inline or in "
            "a file (set api_url or api_url_file, or slack_api_url in the global block of an "
            "alertmanager_config file)");
  EXPECT_EQ(error_of("slack_configs:\n  - {api_url: 'https://h/x', api_url_file: f}\n"),
            "2:5: receivers[0].slack_configs[0]: at most one of api_url & api_url_file must be "
            "configured");
  // The URL is a secret: not quoted.
  const std::string bad = error_of("slack_configs:\n  - api_url: 'gopher://secret-token'\n");
  EXPECT_EQ(bad.find("secret-token"), std::string::npos) << bad;
  EXPECT_NE(bad.find("receivers[0].slack_configs[0].api_url: invalid URL (not shown"),
            std::string::npos)
      << bad;
  EXPECT_EQ(
      error_of("slack_configs:\n  - api_url: 'https://h/x'\n    text: '{{ .CommonLabels.x }}'\n"),
      "3:11: receivers[0].slack_configs[0].text: templates are not supported yet: use plain "
      "text, or {{ template \"NAME\" . }} naming one of Alertmanager's default templates");
  EXPECT_EQ(error_of("slack_configs:\n  - api_url: 'https://h/x'\n    title: '{{ template "
                     "\"my.title\" . }}'\n"),
            "3:12: receivers[0].slack_configs[0].title: templates are not supported yet, and "
            "\"my.title\" is not one of Alertmanager's default templates that watch renders");
  EXPECT_EQ(error_of("slack_configs:\n  - api_url: 'https://h/x'\n    fields: [{title: t}]\n"),
            "3:14: receivers[0].slack_configs[0].fields[0]: missing value in Slack field "
            "configuration");
  EXPECT_EQ(error_of("slack_configs:\n  - api_url: 'https://h/x'\n    actions: [{type: button}]\n"),
            "3:5: receivers[0].slack_configs[0].actions: Slack actions are not supported by watch "
            "yet");
}

TEST(LoadIntegrationsErrors, Pagerduty) {
  EXPECT_EQ(error_of("pagerduty_configs:\n  - severity: critical\n"),
            "2:5: receivers[0].pagerduty_configs[0]: missing service or routing key in PagerDuty "
            "config");
  EXPECT_EQ(error_of("pagerduty_configs:\n  - {routing_key: a, routing_key_file: b}\n"),
            "2:5: receivers[0].pagerduty_configs[0]: at most one of routing_key & "
            "routing_key_file must be configured");
  EXPECT_EQ(error_of("pagerduty_configs:\n  - service_key: k\n"),
            "2:5: receivers[0].pagerduty_configs[0].service_key: service_key (PagerDuty's Events "
            "API v1) is not supported by watch: use routing_key (Events API v2)");
  EXPECT_EQ(error_of("pagerduty_configs:\n  - routing_key: k\n    details: {a: '{{ .Status }}'}\n"),
            "3:18: receivers[0].pagerduty_configs[0].details.a: templates are not supported yet: "
            "use plain text, or {{ template \"NAME\" . }} naming one of Alertmanager's default "
            "templates");
}

TEST(LoadIntegrationsErrors, Email) {
  EXPECT_EQ(error_of("email_configs:\n  - {from: a@b, smarthost: 'h:25'}\n"),
            "2:5: receivers[0].email_configs[0]: missing to address in email config");
  EXPECT_EQ(error_of("email_configs:\n  - {to: a@b, smarthost: 'h:25'}\n"),
            "2:5: receivers[0].email_configs[0]: no global SMTP from set (set from, or smtp_from "
            "in the global block of an alertmanager_config file)");
  EXPECT_EQ(error_of("email_configs:\n  - {to: a@b, from: c@d}\n"),
            "2:5: receivers[0].email_configs[0]: no global SMTP smarthost set (set smarthost, or "
            "smtp_smarthost in the global block of an alertmanager_config file)");
  EXPECT_EQ(error_of("email_configs:\n  - {to: a@b, from: c@d, smarthost: mail.example.com}\n"),
            "2:37: receivers[0].email_configs[0].smarthost: address mail.example.com: missing "
            "port in address");
  EXPECT_EQ(error_of("email_configs:\n  - to: a@b\n    from: c@d\n    smarthost: 'h:25'\n"
                     "    headers: {subject: a, Subject: b}\n"),
            "5:27: receivers[0].email_configs[0].headers.Subject: duplicate header \"Subject\" in "
            "email config");
  EXPECT_EQ(error_of("email_configs:\n  - to: a@b\n    from: c@d\n    smarthost: 'h:25'\n"
                     "    auth_password: x\n    auth_password_file: y\n"),
            "2:5: receivers[0].email_configs[0]: at most one of auth_password & "
            "auth_password_file must be configured");
  EXPECT_EQ(error_of("email_configs:\n  - to: a@b\n    from: c@d\n    smarthost: 'h:25'\n"
                     "    tls_config: {cert_file: c.pem}\n"),
            "5:17: receivers[0].email_configs[0].tls_config: client cert file \"/etc/fb/c.pem\" "
            "specified without client key file");
}

TEST(LoadIntegrationsErrors, HttpConfig) {
  const std::string head = "webhook_configs:\n  - url: 'http://h/x'\n    http_config:\n";
  EXPECT_EQ(error_of(head + "      authorization: {type: Basic, credentials: x}\n"),
            "4:22: receivers[0].webhook_configs[0].http_config.authorization.type: authorization "
            "type cannot be set to \"basic\", use \"basic_auth\" instead");
  EXPECT_EQ(error_of(head + "      authorization: {credentials: x, credentials_file: y}\n"),
            "4:22: receivers[0].webhook_configs[0].http_config.authorization: at most one of "
            "authorization credentials & credentials_file must be configured");
  EXPECT_EQ(error_of(head + "      basic_auth: {username: u, password: p, password_file: f}\n"),
            "4:19: receivers[0].webhook_configs[0].http_config.basic_auth: at most one of "
            "basic_auth password & password_file must be configured");
  EXPECT_EQ(
      error_of(head + "      basic_auth: {username: u}\n      authorization: {credentials: x}\n"),
      "5:22: receivers[0].webhook_configs[0].http_config.authorization: at most one of "
      "basic_auth, oauth2 & authorization must be configured");
  EXPECT_EQ(error_of(head + "      bearer_token: a\n      bearer_token_file: b\n"),
            "4:7: receivers[0].webhook_configs[0].http_config: at most one of bearer_token & "
            "bearer_token_file must be configured");
  EXPECT_EQ(error_of(head + "      oauth2: {client_id: x}\n"),
            "4:7: receivers[0].webhook_configs[0].http_config.oauth2: oauth2 is not supported by "
            "watch");
  EXPECT_EQ(error_of(head + "      tls_config: {ca_flie: x}\n"),
            "4:20: receivers[0].webhook_configs[0].http_config.tls_config.ca_flie: unknown key "
            "\"ca_flie\" (did you mean \"ca_file\"?)");
  EXPECT_EQ(error_of(head + "      tls_config: {insecure_skip_verify: 1}\n"),
            "4:42: receivers[0].webhook_configs[0].http_config.tls_config.insecure_skip_verify: "
            "expected true or false, got \"1\"");
}

TEST(LoadIntegrationsErrors, Exec) {
  EXPECT_EQ(error_of("exec_configs:\n  - timeout: 5s\n"),
            "2:5: receivers[0].exec_configs[0]: missing command in exec config (a list: program, "
            "then arguments)");
  EXPECT_EQ(error_of("exec_configs:\n  - command: []\n"),
            "2:14: receivers[0].exec_configs[0].command: missing command in exec config (a list: "
            "program, then arguments)");
  EXPECT_EQ(error_of("exec_configs:\n  - command: /bin/page --now\n"),
            "2:14: receivers[0].exec_configs[0].command: expected a list, got a string");
  EXPECT_EQ(error_of("exec_configs:\n  - command: [[a]]\n"),
            "2:15: receivers[0].exec_configs[0].command[0]: expected a string, got a list");
  EXPECT_EQ(error_of("exec_configs:\n  - {command: [x], timeout: 5x}\n"),
            "2:29: receivers[0].exec_configs[0].timeout: not a valid duration string: \"5x\"");
  EXPECT_EQ(error_of("exec_configs:\n  - {command: [x], timeout: 0s}\n"),
            "2:29: receivers[0].exec_configs[0].timeout: timeout must be positive");
}

TEST(LoadIntegrationsErrors, LogAndAlertmanager) {
  EXPECT_EQ(error_of("log_configs:\n  - {level: info}\n"),
            "2:6: receivers[0].log_configs[0].level: unknown key \"level\" (expected one of: "
            "send_resolved)");
  EXPECT_EQ(error_of("alertmanager_configs:\n  - {}\n"),
            "2:5: receivers[0].alertmanager_configs[0]: missing url in alertmanager config");
}

TEST(LoadIntegrationsErrors, ManyErrorsAreAllReportedThenCut) {
  std::string yaml = "webhook_configs:\n";
  for (int i = 0; i < 150; ++i) yaml += "  - {}\n";
  const Loaded l = load(yaml);
  EXPECT_EQ(l.errors.size(), 101u);
  EXPECT_NE(l.errors.back().message.find("too many errors"), std::string::npos);
}

// ---- the default templates

dispatch::GroupNotification group() {
  dispatch::GroupNotification n;
  n.receiver = "team-x (pager)";
  n.group_key = "{}:{alertname=\"DiskFull\"}";
  n.group_labels = LabelSet::from({{"alertname", "DiskFull"}});
  n.at_ms = 1'800'000'000'000;
  n.alerts.push_back({.labels = LabelSet::from(
                          {{"alertname", "DiskFull"}, {"instance", "db1"}, {"severity", "page"}}),
                      .annotations = {{"summary", "disk full"}},
                      .starts_at_ms = 1'799'999'000'000,
                      .generator_url = "http://watch/graph?g0.expr=x"});
  n.alerts.push_back({.labels = LabelSet::from(
                          {{"alertname", "DiskFull"}, {"instance", "db2"}, {"severity", "page"}}),
                      .annotations = {{"summary", "disk full"}},
                      .starts_at_ms = 1'799'998'000'000,
                      .ends_at_ms = 1'799'999'500'000,
                      .generator_url = "http://watch/graph?g0.expr=y"});
  return n;
}

TEST(DefaultTemplates, SubjectTitleAndLinksAsAlertmanager) {
  const TemplateData d = template_data(group(), "http://am.example:9093");
  EXPECT_EQ(d.receiver, "team-x \\(pager\\)");  // regexp.QuoteMeta, as 0.25
  EXPECT_EQ(*render_default("__subject", d), "[FIRING:1] DiskFull (page)");
  EXPECT_EQ(*render_default("__alertmanagerURL", d),
            "http://am.example:9093/#/alerts?receiver=team-x+%5C%28pager%5C%29");
  EXPECT_EQ(*render_default("slack.default.fallback", d),
            "[FIRING:1] DiskFull (page) | "
            "http://am.example:9093/#/alerts?receiver=team-x+%5C%28pager%5C%29");
  EXPECT_EQ(*render_default("slack.default.username", d), "Alertmanager");
  EXPECT_EQ(*render_default("slack.default.color", d), "danger");
  EXPECT_EQ(*render_default("pagerduty.default.details.num_firing", d), "1");
  EXPECT_EQ(*render_default("pagerduty.default.details.firing", d),
            "Labels:\n - alertname = DiskFull\n - instance = db1\n - severity = page\n"
            "Annotations:\n - summary = disk full\nSource: http://watch/graph?g0.expr=x\n");
  EXPECT_FALSE(render_default("nope", d));
}

TEST(DefaultTemplates, SubjectWhenAllGroupLabelsAreCommonHasATrailingSpace) {
  dispatch::GroupNotification n = group();
  n.alerts.resize(1);
  n.alerts[0].labels = LabelSet::from({{"alertname", "DiskFull"}});
  n.alerts[0].ends_at_ms = n.at_ms - 1;
  const TemplateData d = template_data(n, "");
  EXPECT_EQ(*render_default("__subject", d), "[RESOLVED] DiskFull ");
  EXPECT_EQ(*render_default("slack.default.color", d), "good");
}

TEST(DefaultTemplates, SlackBodyHasAlertmanagersFields) {
  const Loaded l = load("slack_configs:\n  - {api_url: 'https://h/x', channel: '#ops'}\n");
  ASSERT_TRUE(l.errors.empty()) << l.all_errors();
  const auto body = nlohmann::json::parse(
      slack_json(std::get<SlackConfig>(l.items[0].config), template_data(group(), "http://am")));
  EXPECT_EQ(body, nlohmann::json::parse(R"J({
    "channel": "#ops", "username": "Alertmanager",
    "attachments": [{
      "title": "[FIRING:1] DiskFull (page)",
      "title_link": "http://am/#/alerts?receiver=team-x+%5C%28pager%5C%29",
      "text": "", "callback_id": "", "footer": "", "color": "danger",
      "fallback": "[FIRING:1] DiskFull (page) | http://am/#/alerts?receiver=team-x+%5C%28pager%5C%29",
      "mrkdwn_in": ["fallback", "pretext", "text"]}]})J"));
}

}  // namespace
}  // namespace watch::alerting
