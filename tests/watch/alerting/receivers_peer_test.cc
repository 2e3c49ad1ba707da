// Peer test: watch's receivers beside the real Alertmanager 0.25 (Debian's
// prometheus-alertmanager). One Alertmanager gets an alert and notifies its
// Slack, PagerDuty, webhook and email receivers, which point at the test
// peers (tests/support/tls_peer.py, HTTPS with the test CA; aiosmtpd); watch's
// notifiers, loaded from the same YAML, send the same group to the same
// peers. What both sent must agree: Slack's and PagerDuty's JSON exactly
// (texts from the default templates, the dedup key), the webhook's but for
// endsAt (Alertmanager's store gives a firing alert its resolve timeout),
// the email's Subject, To and From.
// Then watch's alertmanager receiver forwards alerts to the same
// Alertmanager, and its /api/v2/alerts must list them, then drop them once
// forwarded resolved.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "firebreak/http_client.h"
#include "support/child_process.h"
#include "support/tls_peer.h"
#include "watch/alerting/integrations.h"
#include "watch/alerting/webhook.h"

namespace watch::alerting {
namespace {

using firebreak::test::ChildProcess;
using firebreak::test::https_args;
using firebreak::test::PeerServer;
using firebreak::test::TestPki;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kExternalUrl = "http://am.example:9093";

using firebreak::test::free_port;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The receiver's integrations, as both Alertmanager and watch read them;
// `who` ("am" or "watch") only changes the paths the peers see.
std::string receiver_yaml(const std::string& who, std::uint16_t https_port,
                          std::uint16_t smtp_port) {
  const std::string base = "https://localhost:" + std::to_string(https_port);
  const std::string tls =
      "    http_config: {tls_config: {ca_file: " + TestPki::get().path("ca.pem") + "}}\n";
  return "slack_configs:\n  - api_url: " + base + "/slack/" + who +
         "\n    channel: '#ops'\n    send_resolved: true\n" + tls +
         "pagerduty_configs:\n  - routing_key: R0UT1NG\n    url: " + base + "/pagerduty/" + who +
         "\n" + tls + "webhook_configs:\n  - url: " + base + "/webhook/" + who + "\n" + tls +
         "email_configs:\n  - to: 'Ops <ops@example.com>'\n    from: " + who +
         "@example.com\n    smarthost: 127.0.0.1:" + std::to_string(smtp_port) +
         "\n    require_tls: false\n";
}

class ReceiversPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("firebreak-receivers-peer-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    https_.emplace(https_args());
    smtp_.emplace(std::vector<std::string>{"smtp"});
    std::string receiver = receiver_yaml("am", https_->port(), smtp_->port());
    // Indented under `receivers: - name: ops`.
    std::string indented;
    for (std::size_t start = 0; start < receiver.size();) {
      const std::size_t nl = receiver.find('\n', start);
      indented += "    " + receiver.substr(start, nl - start + 1);
      start = nl + 1;
    }
    std::ofstream(dir_ / "alertmanager.yml")
        << "route:\n  receiver: ops\n  group_by: [alertname]\n  group_wait: 1s\n"
           "  group_interval: 1s\n  routes:\n    - receiver: blackhole\n"
           "      matchers: ['source=\"forwarded\"']\n"
           "receivers:\n  - name: blackhole\n  - name: ops\n"
        << indented;
    port_ = free_port();
    alertmanager_.emplace(std::vector<std::string>{
        FIREBREAK_ALERTMANAGER, "--config.file=" + (dir_ / "alertmanager.yml").string(),
        "--storage.path=" + (dir_ / "data").string(),
        "--web.listen-address=127.0.0.1:" + std::to_string(port_),
        std::string("--web.external-url=") + kExternalUrl,
        "--cluster.listen-address=", "--log.level=warn"});
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!alertmanager_->running())
        FAIL() << "alertmanager exited: " << alertmanager_->read_stderr(1s);
      if (client_.get(url("/-/ready"), {}, 1s).ok()) return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "alertmanager did not get ready";
  }
  void TearDown() override {
    alertmanager_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

  // Requests the HTTPS peer got, by path, until `paths` have all come.
  std::map<std::string, json> collect_https(const std::vector<std::string>& paths) {
    std::map<std::string, json> got;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      bool all = true;
      for (const auto& p : paths) all = all && got.contains(p);
      if (all) break;
      if (auto line = https_->next(1s)) {
        const json req = json::parse(*line);
        got[req["path"].get<std::string>()] = json::parse(req["body"].get<std::string>());
      }
    }
    return got;
  }

  std::filesystem::path dir_;
  std::optional<PeerServer> https_, smtp_;
  std::uint16_t port_ = 0;
  std::optional<ChildProcess> alertmanager_;
  firebreak::HttpClient client_;
};

TEST_F(ReceiversPeerTest, SameGroupSameMessagesAsAlertmanager) {
  const std::int64_t starts = (now_ms() / 1000 - 300) * 1000 + 250;
  const json alert = {
      {"labels", {{"alertname", "DiskFull"}, {"instance", "db1"}, {"severity", "page"}}},
      {"annotations", {{"summary", "disk full"}, {"description", "/var is at 99%"}}},
      {"startsAt", rfc3339(starts)},
      {"generatorURL", "http://watch:9090/graph?g0.expr=disk"}};
  ASSERT_TRUE(client_
                  .post(url("/api/v2/alerts"), json::array({alert}).dump(),
                        {{"Content-Type", "application/json"}})
                  .ok());

  // The same group, as watch's dispatcher hands it over.
  dispatch::GroupNotification n;
  n.receiver = "ops";
  n.group_key = "{}:{alertname=\"DiskFull\"}";
  n.group_labels = LabelSet::from({{"alertname", "DiskFull"}});
  n.at_ms = now_ms();
  n.alerts.push_back({.labels = LabelSet::from(
                          {{"alertname", "DiskFull"}, {"instance", "db1"}, {"severity", "page"}}),
                      .annotations = {{"description", "/var is at 99%"}, {"summary", "disk full"}},
                      .starts_at_ms = starts,
                      .generator_url = "http://watch:9090/graph?g0.expr=disk"});
  std::vector<routing::Error> errors;
  const auto items =
      load_integrations(YAML::Load(receiver_yaml("watch", https_->port(), smtp_->port())),
                        "receivers[1]", "", errors);
  ASSERT_TRUE(errors.empty()) << errors[0].to_string();
  ASSERT_EQ(items.size(), 4u);
  for (const auto& item : items) {
    const SendResult r = make_notifier(item, {.external_url = kExternalUrl})->notify(n);
    ASSERT_TRUE(r.ok()) << item.kind << ": " << r.error;
  }

  auto got = collect_https({"/slack/am", "/slack/watch", "/pagerduty/am", "/pagerduty/watch",
                            "/webhook/am", "/webhook/watch"});
  ASSERT_TRUE(got.contains("/slack/am")) << "Alertmanager sent nothing to slack";
  EXPECT_EQ(got["/slack/watch"], got["/slack/am"]);
  EXPECT_EQ(got["/pagerduty/watch"], got["/pagerduty/am"]);
  EXPECT_EQ(got["/pagerduty/watch"]["dedup_key"], got["/pagerduty/am"]["dedup_key"]);
  json theirs = got["/webhook/am"], ours = got["/webhook/watch"];
  ASSERT_TRUE(theirs.is_object() && ours.is_object());
  theirs["alerts"][0].erase("endsAt");
  ours["alerts"][0].erase("endsAt");
  EXPECT_EQ(ours, theirs);

  // Email: the headers watch renders as Alertmanager does.
  std::map<std::string, std::string> subjects, tos;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (subjects.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    const auto line = smtp_->next(1s);
    if (!line) continue;
    const json m = json::parse(*line);
    const std::string data = "\r\n" + m["data"].get<std::string>();
    auto header = [&](const std::string& name) {
      const std::size_t at = data.find("\r\n" + name + ": ");
      if (at == std::string::npos) return std::string();
      const std::size_t start = at + name.size() + 4;
      return data.substr(start, data.find("\r\n", start) - start);
    };
    const std::string from = m["mail_from"];
    subjects[from] = header("Subject");
    tos[from] = header("To");
  }
  ASSERT_EQ(subjects.size(), 2u);
  EXPECT_EQ(subjects["watch@example.com"], subjects["am@example.com"]);
  EXPECT_EQ(subjects["watch@example.com"], "[FIRING:1] DiskFull (db1 page)");
  EXPECT_EQ(tos["watch@example.com"], tos["am@example.com"]);
}

TEST_F(ReceiversPeerTest, ForwardedAlertsArriveInAlertmanager) {
  std::vector<routing::Error> errors;
  const auto items = load_integrations(
      YAML::Load("alertmanager_configs:\n  - url: http://127.0.0.1:" + std::to_string(port_) +
                 "/\n"),
      "receivers[0]", "", errors);
  ASSERT_TRUE(errors.empty()) << errors[0].to_string();
  auto forward = make_notifier(items.at(0), {});
  EXPECT_EQ(forward->integration(), "alertmanager");

  const std::int64_t starts = (now_ms() / 1000 - 60) * 1000 + 500;
  dispatch::GroupNotification n;
  n.receiver = "upstream";
  n.group_key = "{}:{}";
  n.at_ms = now_ms();
  for (const char* instance : {"a", "b"}) {
    n.alerts.push_back(
        {.labels = LabelSet::from(
             {{"alertname", "QueueLagHigh"}, {"instance", instance}, {"source", "forwarded"}}),
         .annotations = {{"summary", std::string("lag on ") + instance}},
         .starts_at_ms = starts,
         .generator_url = "http://watch:9090/graph"});
  }
  const SendResult r = forward->notify(n);
  ASSERT_TRUE(r.ok()) << r.error;

  const auto listed = client_.get(url("/api/v2/alerts?filter=source%3D%22forwarded%22"));
  ASSERT_TRUE(listed.ok()) << listed.error;
  const json alerts = json::parse(listed.body);
  ASSERT_EQ(alerts.size(), 2u) << alerts.dump();
  std::set<std::string> instances;
  for (const json& a : alerts) {
    instances.insert(a["labels"]["instance"]);
    EXPECT_EQ(a["labels"]["alertname"], "QueueLagHigh");
    EXPECT_EQ(a["annotations"]["summary"], "lag on " + a["labels"]["instance"].get<std::string>());
    // The API writes milliseconds with three digits.
    std::string expected = rfc3339(starts);
    expected.insert(expected.size() - 1, "00");
    EXPECT_EQ(a["startsAt"], expected);
    EXPECT_EQ(a["generatorURL"], "http://watch:9090/graph");
    EXPECT_EQ(a["status"]["state"], "active");
    EXPECT_EQ(a["receivers"][0]["name"], "blackhole");
  }
  EXPECT_EQ(instances, (std::set<std::string>{"a", "b"}));

  // Resolved: forwarded with their end, they leave Alertmanager's list.
  for (auto& a : n.alerts) a.ends_at_ms = now_ms() - 1000;
  n.at_ms = now_ms();
  ASSERT_TRUE(forward->notify(n).ok());
  const auto after = client_.get(url("/api/v2/alerts?filter=source%3D%22forwarded%22"));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(json::parse(after.body).size(), 0u) << after.body;
}

}  // namespace
}  // namespace watch::alerting
