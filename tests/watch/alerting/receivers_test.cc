// The receivers' notifiers against real peers (tests/support/tls_peer.py):
// Slack-, PagerDuty- and webhook-shaped HTTPS endpoints with a test CA (the
// exact JSON they get), an SMTP server (aiosmtpd) with STARTTLS and AUTH, and
// programs run by the exec receiver (their stdin, exit codes, timeouts).
// Each notifier is built from YAML through load_integrations() and
// make_notifier(), as watch builds them.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/tls_peer.h"
#include "watch/alerting/integrations.h"

namespace watch::alerting {
namespace {

using firebreak::test::https_args;
using firebreak::test::PeerServer;
using firebreak::test::TestPki;
using nlohmann::json;
using namespace std::chrono_literals;

std::string pki(const std::string& name) {
  return TestPki::get().path(name);
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("firebreak-receivers-" + std::to_string(::getpid()) + "-" + std::to_string(n_++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name, const std::string& content = "",
                   bool executable = false) const {
    const auto p = path_ / name;
    std::ofstream(p) << content;
    if (executable)
      std::filesystem::permissions(p, std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::add);
    return p.string();
  }
  std::string path(const std::string& name) const { return (path_ / name).string(); }
  std::string dir() const { return path_.string(); }

 private:
  static inline int n_ = 0;
  std::filesystem::path path_;
};

std::unique_ptr<Notifier> notifier(const std::string& yaml, const std::string& base_dir = "") {
  std::vector<routing::Error> errors;
  auto items = load_integrations(YAML::Load(yaml), "receivers[0]", base_dir, errors);
  std::string all;
  for (const auto& e : errors) all += e.to_string() + "\n";
  EXPECT_TRUE(errors.empty()) << all;
  if (items.size() != 1) {
    ADD_FAILURE() << "expected one integration";
    return nullptr;
  }
  return make_notifier(items[0], {.external_url = "http://am.example:9093", .timeout = 5s});
}

dispatch::GroupNotification group(bool resolved = false) {
  dispatch::GroupNotification n;
  n.receiver = "ops";
  n.group_key = "{}:{alertname=\"DiskFull\"}";
  n.group_labels = LabelSet::from({{"alertname", "DiskFull"}});
  n.at_ms = 1'800'000'000'000;
  n.alerts.push_back({.labels = LabelSet::from(
                          {{"alertname", "DiskFull"}, {"instance", "db1"}, {"severity", "page"}}),
                      .annotations = {{"summary", "disk full"}},
                      .starts_at_ms = 1'799'999'000'000,
                      .ends_at_ms = resolved ? 1'799'999'900'000 : 0,
                      .generator_url = "http://watch/graph"});
  return n;
}

json next_json(PeerServer& peer) {
  const auto line = peer.next();
  if (!line) return nullptr;
  return json::parse(*line);
}

std::string port_url(const PeerServer& s, const std::string& path) {
  return "https://localhost:" + std::to_string(s.port()) + path;
}

// ---- Slack

TEST(SlackReceiver, PostsAlertmanagersMessageOverHttps) {
  PeerServer peer(https_args());
  auto n = notifier(
      "slack_configs:\n  - api_url: " + port_url(peer, "/services/T0/B0/XYZ") +
      "\n    channel: '#ops'\n    http_config: {tls_config: {ca_file: " + pki("ca.pem") + "}}\n");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->integration(), "slack");
  const SendResult r = n->notify(group());
  ASSERT_TRUE(r.ok()) << r.error;
  const json req = next_json(peer);
  EXPECT_EQ(req["method"], "POST");
  EXPECT_EQ(req["path"], "/services/T0/B0/XYZ");
  EXPECT_EQ(req["headers"]["content-type"], "application/json");
  EXPECT_EQ(json::parse(req["body"].get<std::string>()), json::parse(R"J({
    "channel": "#ops",
    "username": "Alertmanager",
    "attachments": [{
      "title": "[FIRING:1] DiskFull (db1 page)",
      "title_link": "http://am.example:9093/#/alerts?receiver=ops",
      "text": "",
      "fallback": "[FIRING:1] DiskFull (db1 page) | http://am.example:9093/#/alerts?receiver=ops",
      "callback_id": "",
      "footer": "",
      "color": "danger",
      "mrkdwn_in": ["fallback", "pretext", "text"]
    }]})J"));
}

TEST(SlackReceiver, ApiUrlFileIsReadAtSendAndNeverShown) {
  PeerServer peer(https_args("server", false, "500,404"));
  TempDir dir;
  const std::string url_file = dir.file("slack-url", port_url(peer, "/services/SECRET") + "\n");
  auto n = notifier(
      "slack_configs:\n  - api_url_file: slack-url\n    http_config: "
      "{tls_config: {ca_file: " +
          pki("ca.pem") + "}}\n",
      dir.dir());
  ASSERT_TRUE(n);
  SendResult r = n->notify(group());
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.retryable) << "5xx";
  EXPECT_EQ(r.error.find("SECRET"), std::string::npos) << r.error;
  r = n->notify(group());
  EXPECT_FALSE(r.retryable) << "404: " << r.error;
  EXPECT_EQ(next_json(peer)["path"], "/services/SECRET");
  // A connection failure does not show the URL either.
  dir.file("slack-url", "https://127.0.0.1:1/services/SECRET");
  r = n->notify(group());
  EXPECT_TRUE(r.retryable);
  EXPECT_EQ(r.error.find("SECRET"), std::string::npos) << r.error;
}

// ---- PagerDuty

TEST(PagerdutyReceiver, TriggersThenResolvesWithTheGroupKeysHash) {
  PeerServer peer(https_args());
  auto n = notifier(
      "pagerduty_configs:\n  - routing_key: R0UT1NG\n    url: " + port_url(peer, "/v2/enqueue") +
      "\n    http_config: {tls_config: {ca_file: " + pki("ca.pem") + "}}\n");
  ASSERT_TRUE(n);
  ASSERT_TRUE(n->notify(group()).ok());
  ASSERT_TRUE(n->notify(group(/*resolved=*/true)).ok());
  const std::string firing_list =
      "Labels:\n - alertname = DiskFull\n - instance = db1\n - severity = page\n"
      "Annotations:\n - summary = disk full\nSource: http://watch/graph\n";
  // sha256 of {}:{alertname="DiskFull"}
  const std::string dedup = "17c4e445d234645c9e547ff6d32a864af0ebdadcd1902771c24c8d366637ff41";
  const json trigger = next_json(peer);
  EXPECT_EQ(trigger["path"], "/v2/enqueue");
  EXPECT_EQ(json::parse(trigger["body"].get<std::string>()), json::parse(R"J({
    "routing_key": "R0UT1NG",
    "dedup_key": ")J" + dedup + R"J(",
    "event_action": "trigger",
    "client": "Alertmanager",
    "client_url": "http://am.example:9093/#/alerts?receiver=ops",
    "payload": {
      "summary": "[FIRING:1] DiskFull (db1 page)",
      "source": "Alertmanager",
      "severity": "error",
      "custom_details": {"firing": )J" + json(firing_list).dump() + R"J(,
                         "resolved": "", "num_firing": "1", "num_resolved": "0"}}})J"));
  const json resolve = json::parse(next_json(peer)["body"].get<std::string>());
  EXPECT_EQ(resolve["event_action"], "resolve");
  EXPECT_EQ(resolve["dedup_key"], dedup);
  EXPECT_EQ(resolve["payload"]["summary"], "[RESOLVED] DiskFull (db1 page)");
  EXPECT_EQ(resolve["payload"]["custom_details"]["num_resolved"], "1");
}

TEST(PagerdutyReceiver, RateLimitIsRetryableABadEventIsNot) {
  PeerServer peer(https_args("server", false, "429,400"));
  TempDir dir;
  dir.file("key", "  K3Y\n");
  auto n = notifier("pagerduty_configs:\n  - routing_key_file: key\n    url: " +
                        port_url(peer, "/v2/enqueue") + "\n    severity: critical\n    " +
                        "http_config: {tls_config: {ca_file: " + pki("ca.pem") + "}}\n",
                    dir.dir());
  ASSERT_TRUE(n);
  SendResult r = n->notify(group());
  EXPECT_TRUE(r.retryable) << r.error;
  r = n->notify(group());
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.retryable) << r.error;
  const json first = json::parse(next_json(peer)["body"].get<std::string>());
  EXPECT_EQ(first["routing_key"], "K3Y");
  EXPECT_EQ(first["payload"]["severity"], "critical");
}

// ---- webhook over https with http_config

TEST(WebhookReceiver, HttpsWithBasicAuthClientCertificateAndMaxAlerts) {
  PeerServer peer(https_args("server", /*client_ca=*/true));
  TempDir dir;
  dir.file("pw", "hunter2\n");
  auto n = notifier("webhook_configs:\n  - url: " + port_url(peer, "/hook") +
                        "\n    max_alerts: 1\n    http_config:\n      basic_auth: {username: am, "
                        "password_file: pw}\n      tls_config: {ca_file: " +
                        pki("ca.pem") + ", cert_file: " + pki("client.pem") +
                        ", key_file: " + pki("client.key") + "}\n",
                    dir.dir());
  ASSERT_TRUE(n);
  dispatch::GroupNotification g = group();
  g.alerts.push_back(g.alerts[0]);
  g.alerts[1].labels = g.alerts[1].labels.with("instance", "db2");
  ASSERT_TRUE(n->notify(g).ok());
  const json req = next_json(peer);
  EXPECT_EQ(req["client_cn"], "firebreak-test-client");
  EXPECT_EQ(req["headers"]["authorization"], "Basic YW06aHVudGVyMg==");  // am:hunter2
  const json body = json::parse(req["body"].get<std::string>());
  EXPECT_EQ(body["alerts"].size(), 1u);
  EXPECT_EQ(body["truncatedAlerts"], 1);
  EXPECT_EQ(body["externalURL"], "http://am.example:9093");
}

// ---- exec

TEST(ExecReceiver, GivesTheWebhookJsonOnStdinWithoutAShell) {
  TempDir dir;
  const std::string out = dir.path("stdin.json");
  const std::string script =
      dir.file("hook.sh", "#!/bin/sh\ncat > \"$1\"\necho \"$2\" > \"$1.arg\"\n", true);
  auto n = notifier("exec_configs:\n  - command: [" + script + ", " + out +
                    ", 'two words; $(no shell)']\n");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->integration(), "exec");
  const SendResult r = n->notify(group());
  ASSERT_TRUE(r.ok()) << r.error;
  std::ifstream in(out);
  const json body = json::parse(in);
  EXPECT_EQ(body["version"], "4");
  EXPECT_EQ(body["receiver"], "ops");
  EXPECT_EQ(body["groupKey"], "{}:{alertname=\"DiskFull\"}");
  std::string arg;
  std::getline(std::ifstream(out + ".arg"), arg);
  EXPECT_EQ(arg, "two words; $(no shell)");
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "a child left behind";
}

TEST(ExecReceiver, ANonZeroExitIsARetryableFailureWithStderr) {
  TempDir dir;
  const std::string script =
      dir.file("fail.sh", "#!/bin/sh\ncat >/dev/null\necho 'pager API down' >&2\nexit 3\n", true);
  auto n = notifier("exec_configs:\n  - command: [" + script + "]\n");
  ASSERT_TRUE(n);
  const SendResult r = n->notify(group());
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.retryable);
  EXPECT_EQ(r.error, "exec " + script + ": exited with status 3: pager API down");
}

TEST(ExecReceiver, AProgramThatIgnoresStdinStillCounts) {
  auto n = notifier("exec_configs:\n  - command: [true]\n");  // looked up in PATH
  ASSERT_TRUE(n);
  const SendResult r = n->notify(group());
  EXPECT_TRUE(r.ok()) << r.error;
}

TEST(ExecReceiver, AMissingProgramIsAnError) {
  auto n = notifier("exec_configs:\n  - command: [/nonexistent/pager]\n");
  ASSERT_TRUE(n);
  const SendResult r = n->notify(group());
  EXPECT_EQ(r.error, "exec /nonexistent/pager: cannot start: No such file or directory");
  EXPECT_FALSE(r.retryable);
}

TEST(ExecReceiver, TimeoutKillsTheWholeProcessGroup) {
  TempDir dir;
  const std::string pid_file = dir.path("bg.pid");
  const std::string script = dir.file(
      "hang.sh", "#!/bin/sh\necho starting >&2\nsleep 30 &\necho $! > " + pid_file + "\nsleep 30\n",
      true);
  auto n = notifier("exec_configs:\n  - command: [" + script + "]\n    timeout: 300ms\n");
  ASSERT_TRUE(n);
  const auto start = std::chrono::steady_clock::now();
  const SendResult r = n->notify(group());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_TRUE(r.retryable);
  EXPECT_EQ(r.error,
            "exec " + script + ": timed out after 300 ms (process group killed): starting");
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "a child left behind";
  // The background sleep (a grandchild) was killed with its group: gone, or
  // a zombie waiting for whoever adopted it.
  pid_t bg = 0;
  std::ifstream(pid_file) >> bg;
  ASSERT_GT(bg, 0);
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(bg) + "/stat");
    std::string pid, comm, state;
    gone = !(stat >> pid >> comm >> state) || state == "Z";
    if (!gone) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(gone) << "the background process survived";
}

// ---- email

std::vector<std::string> smtp_args(bool tls, const std::string& extra_name = "",
                                   const std::string& extra_value = "") {
  std::vector<std::string> args{"smtp", "--user", "alertuser", "--password", "s3cr3t"};
  if (tls) {
    args.insert(args.end(), {"--cert", pki("server.pem"), "--key", pki("server.key")});
  }
  if (!extra_name.empty()) args.insert(args.end(), {extra_name, extra_value});
  return args;
}

std::string email_yaml(const PeerServer& peer, const std::string& extra = "") {
  return "email_configs:\n  - to: 'Ops Team <ops@example.com>, oncall@example.com'\n"
         "    from: watch@example.com\n    smarthost: localhost:" +
         std::to_string(peer.port()) +
         "\n    auth_username: alertuser\n    auth_password: s3cr3t\n    tls_config: {ca_file: " +
         pki("ca.pem") + "}\n" + extra;
}

TEST(EmailReceiver, SendsOverStartTlsWithAuthPlain) {
  PeerServer peer(smtp_args(true));
  auto n = notifier(email_yaml(peer, "    headers: {X-Team: storage}\n"));
  ASSERT_TRUE(n);
  EXPECT_EQ(n->integration(), "email");
  const SendResult r = n->notify(group());
  ASSERT_TRUE(r.ok()) << r.error;
  const json m = next_json(peer);
  ASSERT_FALSE(m.is_null());
  EXPECT_TRUE(m["tls"].get<bool>());
  EXPECT_EQ(m["auth_user"], "alertuser");
  EXPECT_EQ(m["helo"], "localhost");
  EXPECT_EQ(m["mail_from"], "watch@example.com");
  EXPECT_EQ(m["rcpt_tos"], json::array({"ops@example.com", "oncall@example.com"}));
  const std::string data = m["data"];
  EXPECT_NE(data.find("Subject: [FIRING:1] DiskFull (db1 page)\r\n"), std::string::npos) << data;
  EXPECT_NE(data.find("To: Ops Team <ops@example.com>, oncall@example.com\r\n"), std::string::npos);
  EXPECT_NE(data.find("From: watch@example.com\r\n"), std::string::npos);
  EXPECT_NE(data.find("X-Team: storage\r\n"), std::string::npos);
  EXPECT_NE(data.find("Content-Type: multipart/alternative;  boundary="), std::string::npos);
  EXPECT_NE(data.find("Content-Type: text/plain; charset=UTF-8"), std::string::npos);
  EXPECT_NE(data.find("Content-Type: text/html; charset=UTF-8"), std::string::npos);
  EXPECT_NE(data.find("1 alert for alertname=3DDiskFull"), std::string::npos)
      << "quoted-printable '=' in the text part: " << data;
  EXPECT_NE(data.find("[1] Firing"), std::string::npos);
  EXPECT_NE(data.find("summary =3D disk full"), std::string::npos);
  EXPECT_NE(data.find("View in Alertmanager"), std::string::npos);
  EXPECT_NE(data.find("Message-Id: <"), std::string::npos);
}

TEST(EmailReceiver, AuthLoginWithAPasswordFile) {
  PeerServer peer(smtp_args(true, "--mechanisms", "LOGIN"));
  TempDir dir;
  dir.file("pw", "s3cr3t");
  std::string yaml = email_yaml(peer);
  yaml.replace(yaml.find("auth_password: s3cr3t"), 21, "auth_password_file: pw");
  auto n = notifier(yaml, dir.dir());
  ASSERT_TRUE(n);
  const SendResult r = n->notify(group());
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(next_json(peer)["auth_user"], "alertuser");
}

TEST(EmailReceiver, ATemporaryRefusalIsRetryableAPermanentOneIsNot) {
  {
    PeerServer peer(smtp_args(true, "--data-reply", "451 4.3.0 try again later"));
    const SendResult r = notifier(email_yaml(peer))->notify(group());
    EXPECT_EQ(r.error, "email: send message: 451 4.3.0 try again later");
    EXPECT_TRUE(r.retryable);
  }
  {
    PeerServer peer(smtp_args(true, "--data-reply", "554 5.7.1 rejected"));
    const SendResult r = notifier(email_yaml(peer))->notify(group());
    EXPECT_EQ(r.error, "email: send message: 554 5.7.1 rejected");
    EXPECT_FALSE(r.retryable);
  }
}

TEST(EmailReceiver, WrongCredentialsAreNotRetriedAndNotShown) {
  PeerServer peer(smtp_args(true));
  std::string yaml = email_yaml(peer);
  yaml.replace(yaml.find("auth_password: s3cr3t"), 21, "auth_password: wr0ng-pw");
  const SendResult r = notifier(yaml)->notify(group());
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.retryable) << r.error;
  EXPECT_NE(r.error.find("535"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find("wr0ng-pw"), std::string::npos) << r.error;
}

TEST(EmailReceiver, RequireTlsRefusesAServerWithoutStartTls) {
  PeerServer peer({"smtp"});
  const SendResult r = notifier(email_yaml(peer))->notify(group());
  EXPECT_EQ(r.error, "email: 'require_tls' is true (default) but \"localhost:" +
                         std::to_string(peer.port()) +
                         "\" does not advertise the STARTTLS extension");
  EXPECT_TRUE(r.retryable);
}

TEST(EmailReceiver, AnUntrustedServerCertificateIsRefused) {
  PeerServer peer(smtp_args(true));
  std::string yaml = email_yaml(peer);
  yaml.replace(yaml.find(pki("ca.pem")), pki("ca.pem").size(), pki("other-ca.pem"));
  const SendResult r = notifier(yaml)->notify(group());
  EXPECT_NE(r.error.find("certificate verify failed for \"localhost\""), std::string::npos)
      << r.error;
  EXPECT_TRUE(r.retryable);
}

TEST(EmailReceiver, PlainSmtpWithoutAuthWhenTlsIsNotRequired) {
  PeerServer peer({"smtp"});
  auto n = notifier(
      "email_configs:\n  - to: ops@example.com\n    from: watch@example.com\n"
      "    smarthost: 127.0.0.1:" +
      std::to_string(peer.port()) +
      "\n    require_tls: false\n    hello: watch.example.com\n"
      "    headers: {subject: 'Störung: disk'}\n");
  ASSERT_TRUE(n);
  const SendResult r = n->notify(group());
  ASSERT_TRUE(r.ok()) << r.error;
  const json m = next_json(peer);
  EXPECT_FALSE(m["tls"].get<bool>());
  EXPECT_EQ(m["helo"], "watch.example.com");
  EXPECT_NE(m["data"].get<std::string>().find("Subject: =?utf-8?q?St=C3=B6rung:_disk?=\r\n"),
            std::string::npos)
      << m["data"];
}

TEST(EmailReceiver, NoServerIsRetryable) {
  auto n = notifier("email_configs:\n  - {to: a@b.c, from: d@e.f, smarthost: '127.0.0.1:1'}\n");
  ASSERT_TRUE(n);
  const SendResult r = n->notify(group());
  EXPECT_TRUE(r.retryable);
  EXPECT_NE(r.error.find("email: establish connection to server: connect to 127.0.0.1:1"),
            std::string::npos)
      << r.error;
}

}  // namespace
}  // namespace watch::alerting
