// Differential test (label peer): a real Alertmanager 0.25 and `firebreak
// watch` get the same alertmanager.yml (watch through `alertmanager_config`)
// and the same timed stream of alerts and silences on their API v2; local
// webhook receivers record what each sends. Per receiver and group, the
// notifications must match: group labels, status, the alerts and their
// status, truncatedAlerts, in the same order, each arriving within 700 ms of
// Alertmanager's. Scenarios run side by side in one configuration (each its
// own routes and alert names): grouping and group_wait, `continue`,
// group_interval for a late alert, repeat_interval, resolve, inhibition (and
// its end), a silence, a mute time interval and max_alerts with 30 alerts in
// one group. Then the real clients: amtool queries and silences watch,
// `amtool check-config` accepts the alertmanager.yml watch serves, and
// Prometheus 2.42 sends its alerts to watch, which routes them.
// About 20 s.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "e2e/watch_harness.h"
#include "firebreak/admin.h"
#include "firebreak/http_client.h"
#include "support/child_process.h"
#include "support/http_client.h"
#include "workload/support.h"

namespace firebreak::e2e {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using nlohmann::json;

std::string port_text(std::uint16_t p) {
  return std::to_string(p);
}

// One webhook message, reduced to what must match.
struct Message {
  std::string receiver;
  std::string group;  // groupLabels as JSON
  std::string text;   // status, truncatedAlerts, sorted "name/labels:status"
  Clock::duration at;
};

// Records POST /<system>/<receiver> bodies with their arrival.
class Recorder {
 public:
  explicit Recorder(Clock::time_point t0)
      : t0_(t0), server_({.address = "127.0.0.1:0", .max_body_bytes = 1 << 20, .threads = 4}) {
    server_.add_prefix_handler("POST", "/", [this](const AdminRequest& r) {
      const auto at = Clock::now() - t0_;
      const auto body = json::parse(r.body, nullptr, false);
      const std::string path = r.path.substr(1);
      const std::string system = path.substr(0, path.find('/'));
      std::lock_guard lock(mu_);
      if (body.is_discarded()) {
        malformed_.push_back(r.body);
        return AdminResponse{.status = 400};
      }
      std::vector<std::string> alerts;
      for (const auto& a : body["alerts"]) {
        json labels = a["labels"];
        labels.erase("scenario");
        alerts.push_back(labels.dump() + ":" + a["status"].get<std::string>());
      }
      std::sort(alerts.begin(), alerts.end());
      std::string text = body["status"].get<std::string>() +
                         " truncated=" + std::to_string(body.value("truncatedAlerts", 0)) + " [";
      for (const auto& a : alerts) text += a + " ";
      text += "]";
      messages_[system].push_back(
          {body["receiver"], body["groupLabels"].dump(), std::move(text), at});
      return AdminResponse{.body = "ok"};
    });
    server_.start();
  }
  std::string url(const std::string& system, const std::string& receiver) const {
    return "http://" + server_.address() + "/" + system + "/" + receiver;
  }
  std::vector<Message> messages(const std::string& system) const {
    std::lock_guard lock(mu_);
    auto it = messages_.find(system);
    return it == messages_.end() ? std::vector<Message>{} : it->second;
  }
  std::vector<std::string> malformed() const {
    std::lock_guard lock(mu_);
    return malformed_;
  }

 private:
  Clock::time_point t0_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<Message>> messages_;
  std::vector<std::string> malformed_;
  AdminServer server_;
};

std::string alertmanager_yml(const Recorder& rec, const std::string& system) {
  std::string out =
      "global: {resolve_timeout: 5m}\n"
      "route:\n"
      "  receiver: default\n"
      "  group_by: [alertname]\n"
      "  group_wait: 1s\n"
      "  group_interval: 3s\n"
      "  repeat_interval: 1h\n"
      "  routes:\n"
      "    - matchers: [scenario=\"continue\"]\n"
      "      receiver: pager\n"
      "      continue: true\n"
      "    - matchers: ['scenario=~\"continue|grouping\"']\n"
      "      receiver: team\n"
      "      group_by: [alertname, service]\n"
      "    - matchers: [scenario=repeat]\n"
      "      receiver: repeat\n"
      "      repeat_interval: 5s\n"
      "    - matchers: [scenario=muted]\n"
      "      receiver: team\n"
      "      mute_time_intervals: [always]\n"
      "    - matchers: [scenario=many]\n"
      "      receiver: many\n"
      "inhibit_rules:\n"
      "  - source_matchers: [alertname=SourceDown]\n"
      "    target_matchers: [alertname=TargetSlow]\n"
      "    equal: [service]\n"
      "time_intervals:\n"
      "  - name: always\n"
      "    time_intervals: [{weekdays: ['sunday:saturday']}]\n"
      "receivers:\n";
  for (const char* r : {"default", "pager", "team", "repeat", "many"}) {
    out += std::string("  - name: ") + r +
           "\n    webhook_configs:\n      - url: " + rec.url(system, r) + "\n";
    if (std::string(r) == "many") out += "        max_alerts: 10\n";
  }
  return out;
}

std::string iso(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t s = ms / 1000;
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

json alert(const std::string& name, const std::string& scenario, json labels = json::object(),
           std::optional<std::chrono::system_clock::time_point> ends = std::nullopt) {
  labels["alertname"] = name;
  labels["scenario"] = scenario;
  json a = {{"labels", labels}, {"annotations", {{"summary", name}}}};
  if (ends) a["endsAt"] = iso(*ends);
  return a;
}

struct AmtoolRun {
  int exit_code = -1;
  std::vector<std::string> lines;
  std::string err;
};

AmtoolRun amtool(std::vector<std::string> args) {
  args.insert(args.begin(), FIREBREAK_AMTOOL);
  test::ChildProcess child(args);
  AmtoolRun run;
  while (auto line = child.read_line(10s)) run.lines.push_back(*std::move(line));
  run.err = child.read_stderr(1s);
  const std::optional<int> status = child.wait_exit(10s);
  if (status && WIFEXITED(*status)) run.exit_code = WEXITSTATUS(*status);
  return run;
}

class AlertmanagerPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = dir_.path();
    am_port_ = test::closed_port();
    std::ofstream(dir + "/am.yml") << alertmanager_yml(rec_, "am");
    std::ofstream(dir + "/watch-am.yml") << alertmanager_yml(rec_, "watch");
    alertmanager_ = std::make_unique<ShopProcess>(
        "alertmanager", FIREBREAK_ALERTMANAGER,
        std::vector<std::string>{
            "--config.file=" + dir + "/am.yml", "--storage.path=" + dir + "/am",
            "--web.listen-address=127.0.0.1:" + port_text(am_port_), "--cluster.listen-address="},
        dir);
    watch_ = std::make_unique<WatchProcess>(
        "listen: 127.0.0.1:0\n"
        "storage: {path: watch.db}\n"
        "alertmanager_config: watch-am.yml\n",
        dir);
    ASSERT_TRUE(eventually(
        [&] {
          try {
            return test::http_get(am_port_, "/-/ready").status == 200;
          } catch (const std::exception&) {
            return false;
          }
        },
        20s))
        << "alertmanager did not get ready";
  }

  // The same request to both, as close together as possible.
  void both(const std::string& method, const std::string& path, const std::string& body) {
    for (std::uint16_t port : {am_port_, watch_->port()}) {
      auto r = test::http_request(port, method, path, {{"Content-Type", "application/json"}}, body);
      EXPECT_EQ(r.status, 200) << (port == am_port_ ? "alertmanager" : "watch") << " " << path
                               << ": " << r.body;
    }
  }
  void post_alerts(const json& alerts) { both("POST", "/api/v2/alerts", alerts.dump()); }

  TempDir dir_;
  Clock::time_point t0_ = Clock::now();
  Recorder rec_{t0_};
  std::uint16_t am_port_ = 0;
  std::unique_ptr<ShopProcess> alertmanager_;
  std::unique_ptr<WatchProcess> watch_;
};

// Every scalar of `node` by its path ("receivers[0].slack_configs[0].api_url").
void scalars(const YAML::Node& node, const std::string& path,
             std::map<std::string, std::string>& out) {
  if (node.IsScalar()) out[path] = node.Scalar();
  if (node.IsSequence())
    for (std::size_t i = 0; i < node.size(); ++i)
      scalars(node[i], path + "[" + std::to_string(i) + "]", out);
  if (node.IsMap())
    for (const auto& kv : node)
      scalars(kv.second, path + (path.empty() ? "" : ".") + kv.first.Scalar(), out);
}

std::set<std::string> secret_paths(const std::map<std::string, std::string>& values) {
  std::set<std::string> out;
  for (const auto& [path, value] : values)
    if (value == "<secret>") out.insert(path);
  return out;
}

// /api/v2/status shows the configuration; Alertmanager hides its secrets,
// and so does watch, the same ones, for the same alertmanager.yml.
TEST(AlertmanagerPeerStatus, TheConfigurationShownHidesTheSecretsAlertmanagerHides) {
  TempDir dir;
  std::ofstream(dir.file("am.yml")) << R"(global:
  smtp_auth_password: globalpw
  slack_api_url: https://hooks.slack.com/services/GLOBAL
route: {receiver: all}
receivers:
  - name: all
    webhook_configs:
      - url: https://example.com/hook?token=shown
        http_config:
          basic_auth: {username: u, password: basicpw}
      - url: https://example.com/hook2
        http_config:
          authorization: {credentials: bearercred}
    slack_configs:
      - {channel: '#x', api_url: https://hooks.slack.com/services/SLACK}
      - {channel: '#y'}
    pagerduty_configs:
      - {routing_key: pdkey}
    email_configs:
      - {to: a@b.c, from: x@y.z, smarthost: 'localhost:25', auth_username: u, auth_password: emailpw}
)";
  const std::uint16_t am_port = test::closed_port();
  ShopProcess alertmanager(
      "alertmanager", FIREBREAK_ALERTMANAGER,
      std::vector<std::string>{
          "--config.file=" + dir.file("am.yml"), "--storage.path=" + dir.path() + "/am",
          "--web.listen-address=127.0.0.1:" + port_text(am_port), "--cluster.listen-address="},
      dir.path());
  WatchProcess watch(
      "listen: 127.0.0.1:0\n"
      "storage: {path: ':memory:'}\n"
      "alertmanager_config: am.yml\n",
      dir.path());
  // Alertmanager answers this one chunked: the kit's client reads that.
  firebreak::HttpClient client;
  std::string am_body;
  ASSERT_TRUE(eventually(
      [&] {
        const auto r = client.get("http://127.0.0.1:" + port_text(am_port) + "/api/v2/status");
        am_body = r.body;
        return r.status == 200;
      },
      20s))
      << alertmanager.stderr_text();
  const auto w = test::http_get(watch.port(), "/api/v2/status");
  ASSERT_EQ(w.status, 200);
  for (const char* secret :
       {"globalpw", "GLOBAL", "basicpw", "bearercred", "SLACK", "pdkey", "emailpw"}) {
    EXPECT_EQ(am_body.find(secret), std::string::npos) << "alertmanager shows " << secret;
    EXPECT_EQ(w.body.find(secret), std::string::npos) << "watch shows " << secret;
  }
  // Alertmanager shows its configuration with the defaults filled in (the
  // global Slack URL in each Slack item); watch shows the file as written.
  // Where both show a key, both hide the same ones.
  std::map<std::string, std::string> am_values, watch_values;
  scalars(YAML::Load(json::parse(am_body)["config"]["original"].get<std::string>()), "", am_values);
  scalars(YAML::Load(json::parse(w.body)["config"]["original"].get<std::string>()), "",
          watch_values);
  const std::set<std::string> am_secrets = secret_paths(am_values);
  EXPECT_EQ(am_secrets.size(), 8u);
  for (const std::string& path : secret_paths(watch_values))
    EXPECT_TRUE(am_secrets.contains(path)) << path << ": hidden by watch only";
  for (const std::string& path : am_secrets) {
    if (watch_values.contains(path)) {
      EXPECT_EQ(watch_values[path], "<secret>") << path;
    }
  }
  EXPECT_EQ(secret_paths(watch_values).size(), 7u);
  // The webhook's URL is shown by both.
  EXPECT_NE(am_body.find("token=shown"), std::string::npos);
  EXPECT_NE(w.body.find("token=shown"), std::string::npos);
}

TEST_F(AlertmanagerPeerTest, WatchNotifiesAsAlertmanagerDoes) {
  using SysClock = std::chrono::system_clock;
  const auto start = Clock::now();
  // A silence on both first.
  both("POST", "/api/v2/silences",
       json{{"matchers", {{{"name", "alertname"}, {"value", "Silenced"}, {"isRegex", false}}}},
            {"startsAt", iso(SysClock::now())},
            {"endsAt", iso(SysClock::now() + 1h)},
            {"createdBy", "test"},
            {"comment", "peer"}}
           .dump());
  json batch = json::array({
      alert("Grouped", "grouping", {{"service", "a"}, {"i", "1"}}),
      alert("Grouped", "grouping", {{"service", "a"}, {"i", "2"}}),
      alert("Grouped", "grouping", {{"service", "b"}, {"i", "3"}}),
      alert("Continued", "continue", {{"service", "c"}}),
      alert("SourceDown", "inhibit", {{"service", "x"}}),
      alert("TargetSlow", "inhibit", {{"service", "x"}}),
      alert("TargetSlow", "inhibit", {{"service", "y"}}),
      alert("Repeated", "repeat"),
      alert("Muted", "muted"),
      alert("Silenced", "silence"),
  });
  for (int i = 0; i < 30; ++i)
    batch.push_back(alert("Many", "many", {{"i", std::to_string(100 + i)}}));
  post_alerts(batch);
  std::this_thread::sleep_until(start + 2s);
  post_alerts(json::array({alert("Grouped", "grouping", {{"service", "a"}, {"i", "4"}})}));
  std::this_thread::sleep_until(start + 5s);
  const auto now = SysClock::now();
  post_alerts(json::array({alert("SourceDown", "inhibit", {{"service", "x"}}, now),
                           alert("Grouped", "grouping", {{"service", "a"}, {"i", "1"}}, now)}));
  std::this_thread::sleep_until(start + 12s);

  const auto am = rec_.messages("am");
  const auto watch = rec_.messages("watch");
  EXPECT_TRUE(rec_.malformed().empty());
  // Per receiver and group, in order.
  using Key = std::pair<std::string, std::string>;
  std::map<Key, std::vector<const Message*>> by_am, by_watch;
  for (const auto& m : am) by_am[{m.receiver, m.group}].push_back(&m);
  for (const auto& m : watch) by_watch[{m.receiver, m.group}].push_back(&m);
  std::string am_text, watch_text;
  for (const auto& [key, ms] : by_am)
    for (const auto* m : ms) am_text += key.first + " " + key.second + " " + m->text + "\n";
  for (const auto& [key, ms] : by_watch)
    for (const auto* m : ms) watch_text += key.first + " " + key.second + " " + m->text + "\n";
  EXPECT_EQ(watch_text, am_text);
  ASSERT_GE(am.size(), 10u) << am_text;
  if (std::getenv("ALERTMANAGER_PEER_VERBOSE")) std::printf("%s", am_text.c_str());
  // Arrival within 700 ms of Alertmanager's.
  double worst_ms = 0;
  for (const auto& [key, ms] : by_am) {
    const auto& other = by_watch[key];
    for (std::size_t i = 0; i < ms.size() && i < other.size(); ++i) {
      const double d = std::chrono::duration<double, std::milli>(other[i]->at - ms[i]->at).count();
      worst_ms = std::max(worst_ms, std::abs(d));
      EXPECT_LT(std::abs(d), 700) << key.first << " " << key.second << " message " << i;
    }
  }
  std::printf("alertmanager_peer messages=%zu worst_arrival_difference_ms=%.0f\n", am.size(),
              worst_ms);
}

TEST_F(AlertmanagerPeerTest, AmtoolQueriesAndSilencesWatch) {
  const std::string url = "--alertmanager.url=" + watch_->url();
  post_alerts(json::array({alert("Down", "amtool", {{"service", "api"}}),
                           alert("Slow", "amtool", {{"service", "db"}})}));
  auto q = amtool({"alert", "query", url, "-o", "simple"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  std::string text;
  for (const auto& l : q.lines) text += l + "\n";
  EXPECT_NE(text.find("Down"), std::string::npos) << text;
  EXPECT_NE(text.find("Slow"), std::string::npos) << text;

  auto add = amtool({"silence", "add", url, "service=db", "--comment=maintenance",
                     "--author=amtool", "--duration=1h"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  ASSERT_EQ(add.lines.size(), 1u);
  const std::string id = add.lines[0];
  auto sq = amtool({"silence", "query", url, "-q"});
  ASSERT_EQ(sq.exit_code, 0) << sq.err;
  EXPECT_EQ(sq.lines, std::vector<std::string>{id});
  auto silenced = amtool({"alert", "query", url, "-s", "-o", "simple"});
  text.clear();
  for (const auto& l : silenced.lines) text += l + "\n";
  EXPECT_NE(text.find("Slow"), std::string::npos) << text;  // -s lists silenced ones too
  auto active = test::http_get(watch_->port(), "/api/v2/alerts?silenced=false");
  EXPECT_EQ(active.body.find("Slow"), std::string::npos) << active.body;

  auto ex = amtool({"silence", "expire", url, id});
  EXPECT_EQ(ex.exit_code, 0) << ex.err;
  auto after = amtool({"silence", "query", url, "-q"});
  EXPECT_TRUE(after.lines.empty());
  auto expired = amtool({"silence", "query", url, "-q", "--expired"});
  EXPECT_EQ(expired.lines, std::vector<std::string>{id});

  // The routing watch serves in /api/v2/status is a valid alertmanager.yml,
  // and amtool routes with it as Alertmanager would.
  const auto status = json::parse(test::http_get(watch_->port(), "/api/v2/status").body);
  const std::string served = dir_.path() + "/served.yml";
  std::ofstream(served) << status["config"]["original"].get<std::string>();
  auto check = amtool({"check-config", served});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  auto routes = amtool({"config", "routes", "test", url, "scenario=continue"});
  ASSERT_EQ(routes.exit_code, 0) << routes.err;
  ASSERT_FALSE(routes.lines.empty());
  EXPECT_EQ(routes.lines.back(), "pager,team");
}

// Prometheus 2.42 with `alerting.alertmanagers` pointing at watch: its alert
// is routed by watch's tree to the receiver Alertmanager would pick.
TEST_F(AlertmanagerPeerTest, PrometheusDeliversThroughWatchsRouting) {
  const std::string dir = dir_.path();
  const std::uint16_t prom_port = test::closed_port();
  std::ofstream(dir + "/prom-rules.yml") << "groups:\n"
                                            "  - name: g\n"
                                            "    interval: 1s\n"
                                            "    rules:\n"
                                            "      - alert: FromPrometheus\n"
                                            "        expr: vector(1)\n"
                                            "        labels: {scenario: continue, service: p}\n";
  std::ofstream(dir + "/prometheus.yml") << "global: {evaluation_interval: 1s}\n"
                                            "rule_files: [prom-rules.yml]\n"
                                            "alerting:\n"
                                            "  alertmanagers:\n"
                                            "    - static_configs: [{targets: ['127.0.0.1:"
                                         << watch_->port() << "']}]\n";
  ShopProcess prometheus(
      "prometheus", FIREBREAK_PROMETHEUS,
      {"--config.file=" + dir + "/prometheus.yml", "--storage.tsdb.path=" + dir + "/prom",
       "--web.listen-address=127.0.0.1:" + port_text(prom_port),
       // Its first send can come before it has found watch, and is
       // dropped; the next comes after this delay (1m by default).
       "--rules.alert.resend-delay=1s"},
      dir);
  // The `continue` route: pager, then team (grouped by alertname, service).
  ASSERT_TRUE(eventually(
      [&] {
        std::set<std::string> receivers;
        for (const auto& m : rec_.messages("watch"))
          if (m.text.find("FromPrometheus") != std::string::npos) receivers.insert(m.receiver);
        return receivers == std::set<std::string>{"pager", "team"};
      },
      30s))
      << "Prometheus's alert did not reach pager and team through watch; watch holds "
      << test::http_get(watch_->port(), "/api/v2/alerts").body << "\nprometheus:\n"
      << prometheus.stdout_text().substr(0, 3000);
  const auto listed = json::parse(test::http_get(watch_->port(), "/api/v2/alerts").body);
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  EXPECT_EQ(listed[0]["labels"]["alertname"], "FromPrometheus");
  EXPECT_NE(listed[0]["generatorURL"].get<std::string>().find("/graph?g0.expr="),
            std::string::npos);
}

}  // namespace
}  // namespace firebreak::e2e
