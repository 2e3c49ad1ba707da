// The wired monitor with a ManualClock: check-ins drive an alert through the
// rule groups to a real webhook receiver; alert state and check-in history
// survive a restart; reloads apply all or nothing.
#include "watch/runtime/runtime.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "firebreak/http_client.h"
#include "firebreak/log.h"
#include "firebreak/metrics.h"

namespace watch::runtime {
namespace {

using namespace std::chrono_literals;

// Collects webhook bodies.
class Receiver {
 public:
  Receiver() {
    server_.add_handler("POST", "/hook", [this](const firebreak::AdminRequest& r) {
      std::lock_guard lock(mu_);
      bodies_.push_back(r.body);
      return firebreak::AdminResponse{};
    });
    server_.start();
  }
  std::string url() const { return "http://" + server_.address() + "/hook"; }
  std::vector<std::string> bodies() const {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  // Bodies mentioning `alertname` with `status` ("firing"/"resolved").
  std::size_t count(const std::string& alertname, const std::string& status) const {
    std::size_t n = 0;
    for (const auto& b : bodies())
      if (b.find("\"alertname\":\"" + alertname + "\"") != std::string::npos &&
          b.find("\"status\":\"" + status + "\"") != std::string::npos)
        ++n;
    return n;
  }

 private:
  firebreak::AdminServer server_{{.address = "127.0.0.1:0", .max_body_bytes = 1 << 20}};
  mutable std::mutex mu_;
  std::vector<std::string> bodies_;
};

// A runtime's HTTP API on an ephemeral port, and a client for it.
struct Served {
  explicit Served(Runtime& rt) {
    rt.add_http(server);
    server.start();
    base = "http://" + server.address();
  }
  firebreak::AdminServer server{{.address = "127.0.0.1:0", .max_body_bytes = 1 << 20}};
  firebreak::HttpClient client;
  std::string base;
};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/watch_runtime_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ + "/extra.yml") << R"y(groups:
  - name: extra
    interval: 15s
    rules:
      - alert: BackupDown
        expr: job_checkin_state{job="backup"} == 2
        for: 1m
        labels: {severity: page}
        annotations: {summary: "backup is down ({{ $value }})"}
)y";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  config::Config config(std::string extra = {}, std::string rule_files = "[extra.yml]") {
    const std::string yaml = "listen: 127.0.0.1:0\nstorage: {path: " + dir_ +
                             "/watch.db}\nglobal: {evaluation_interval: 15s}\n"
                             "jobs:\n  - {name: backup, schedule: 1h, grace: 5m}\n"
                             "rule_files: " +
                             rule_files +
                             "\n"
                             "receivers:\n  - name: hook\n    webhook: {url: " +
                             receiver_.url() + "}\n" + extra;
    auto r = config::parse_config(yaml, dir_ + "/firebreak.yaml");
    EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
    return r.config;
  }

  std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               clock_.wall_now().time_since_epoch())
        .count();
  }

  // Moves the clock in evaluation steps, evaluating and delivering at each.
  void run_for(Runtime& rt, std::chrono::seconds d) {
    for (auto left = d; left > 0s; left -= 15s) {
      clock_.advance(15s);
      rt.evaluate(now_ms());
      rt.deliver_due();
    }
  }

  static bool has_alert(const Runtime& rt, const std::string& name, rules::AlertState state) {
    for (const auto& a : rt.active_alerts())
      if (a.labels.get("alertname") == name && a.state == state) return true;
    return false;
  }

  std::string dir_;
  firebreak::ManualClock clock_;
  Receiver receiver_;
};

TEST_F(RuntimeTest, AMissedJobFiresReachesTheWebhookAndResolvesOnItsPing) {
  Runtime rt(config(), {.clock = &clock_});
  run_for(rt, 60min);  // due at +1h: not yet late
  EXPECT_FALSE(has_alert(rt, "BackupDown", rules::AlertState::kPending));
  EXPECT_EQ(receiver_.bodies().size(), 0u) << "a healthy job pages nobody";
  run_for(rt, 5min + 15s);  // past the grace: down, pending
  EXPECT_TRUE(has_alert(rt, "BackupDown", rules::AlertState::kPending));
  run_for(rt, 1min);
  EXPECT_TRUE(has_alert(rt, "BackupDown", rules::AlertState::kFiring));
  EXPECT_EQ(receiver_.count("BackupDown", "firing"), 1u);

  ASSERT_TRUE(rt.tracker().ping({.job = "backup", .kind = checkin::PingKind::kSuccess}).ok());
  run_for(rt, 30s);
  EXPECT_FALSE(has_alert(rt, "BackupDown", rules::AlertState::kFiring));
  EXPECT_EQ(receiver_.count("BackupDown", "resolved"), 1u);
}

TEST_F(RuntimeTest, ARestartKeepsFiringAlertsWithoutRepagingOrResettingTheirTimer) {
  std::int64_t active_at = 0;
  {
    Runtime rt(config(), {.clock = &clock_});
    run_for(rt, 67min);
    ASSERT_TRUE(has_alert(rt, "BackupDown", rules::AlertState::kFiring));
    for (const auto& a : rt.active_alerts())
      if (a.labels.get("alertname") == "BackupDown") active_at = a.active_at_ms;
  }
  ASSERT_EQ(receiver_.count("BackupDown", "firing"), 1u);
  clock_.advance(30s);  // the restart takes a while
  Runtime rt(config(), {.clock = &clock_});
  run_for(rt, 15s);
  bool found = false;
  for (const auto& a : rt.active_alerts())
    if (a.labels.get("alertname") == "BackupDown") {
      found = true;
      EXPECT_EQ(a.state, rules::AlertState::kFiring);
      EXPECT_EQ(a.active_at_ms, active_at) << "the for timer was not reset";
    }
  EXPECT_TRUE(found);
  EXPECT_EQ(receiver_.count("BackupDown", "firing"), 1u) << "no second page";
}

TEST_F(RuntimeTest, CheckinHistorySurvivesARestart) {
  firebreak::AdminServer server({.address = "127.0.0.1:0"});
  std::int64_t pinged_at = 0;
  {
    Runtime rt(config(), {.clock = &clock_});
    rt.add_http(server);
    server.start();
    run_for(rt, 50min);
    pinged_at = now_ms();
    firebreak::HttpClient client;
    ASSERT_EQ(client.get("http://" + server.address() + "/ping/backup/start?rid=r1").status, 200);
    server
        .stop();  // no stop() of the runtime: the HTTP layer saved the ping (a crash loses nothing)
  }
  Runtime rt(config(), {.clock = &clock_});
  const auto history = rt.tracker().history("backup");
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].kind, checkin::PingKind::kStart);
  EXPECT_EQ(history[0].rid, "r1");
  run_for(rt, 30min);  // 1h20m after start, 30m after the ping: not late, measured from the ping
  EXPECT_FALSE(has_alert(rt, "BackupDown", rules::AlertState::kPending));
  const auto r = rt.engine().instant_query("job_checkin_next_expected_timestamp_seconds", now_ms());
  ASSERT_TRUE(r.ok());
  const auto& v = std::get<promql::Vector>(*r.value);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].v, static_cast<double>(pinged_at) / 1000 + 3600);
}

TEST_F(RuntimeTest, ABadReloadKeepsTheRunningConfiguration) {
  Runtime rt(config(), {.clock = &clock_});
  // Two files defining the same group: each loads, together they do not.
  std::filesystem::copy_file(dir_ + "/extra.yml", dir_ + "/extra2.yml");
  const auto errors = rt.reload(config("", "[extra.yml, extra2.yml]"));
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors[0].find("group \"extra\""), std::string::npos) << errors[0];
  std::size_t extra_groups = 0;
  for (const auto& g : rt.groups()) extra_groups += g.name == "extra";
  EXPECT_EQ(extra_groups, 1u);

  auto moved = config();
  moved.listen = "127.0.0.1:1";
  EXPECT_FALSE(rt.reload(moved).empty()) << "the listen address needs a restart";
}

TEST_F(RuntimeTest, AReloadKeepsTheStateOfGroupsThatStay) {
  Runtime rt(config(), {.clock = &clock_});
  run_for(rt, 65min + 30s);
  ASSERT_TRUE(has_alert(rt, "BackupDown", rules::AlertState::kPending));
  ASSERT_TRUE(rt.reload(config("  - {name: stdout, log: {}}\n")).empty());
  run_for(rt, 1min);
  EXPECT_TRUE(has_alert(rt, "BackupDown", rules::AlertState::kFiring))
      << "the for timer carried over the reload";
}

TEST_F(RuntimeTest, PushedSeriesArePublishedAndGoStaleWhenDeleted) {
  Runtime rt(config(), {.clock = &clock_});
  Served http(rt);
  auto& client = http.client;
  const std::string& base = http.base;
  ASSERT_EQ(client.put(base + "/metrics/job/nightly", "items_processed 7\n").status, 200);
  run_for(rt, 15s);
  auto r = client.get(base + "/api/v1/query?query=items_processed");
  EXPECT_NE(r.body.find(R"("job":"nightly")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("7"])"), std::string::npos) << r.body;
  ASSERT_EQ(client.request("DELETE", base + "/metrics/job/nightly").status, 202);
  run_for(rt, 15s);
  r = client.get(base + "/api/v1/query?query=items_processed");
  EXPECT_EQ(r.body.find("nightly"), std::string::npos) << "stale at once, not after 5m: " << r.body;
  EXPECT_EQ(client.get(base + "/ping/backup").status, 200);
  EXPECT_EQ(client.get(base + "/ping/nope").status, 404);
}

TEST_F(RuntimeTest, SamplesAndPushedGroupsSurviveARestart) {
  firebreak::HttpClient client;
  auto count_over_time = [&](const std::string& base) {
    const auto r =
        client.get(base + "/api/v1/query?query=count_over_time(items_processed%5B1h%5D)");
    const auto at = r.body.find("\"value\":[");
    return at == std::string::npos ? std::string("none: ") + r.body
                                   : r.body.substr(r.body.find(",\"", at) + 2, 2);
  };
  std::string before;
  {
    Runtime rt(config(), {.clock = &clock_});
    Served http(rt);
    const std::string& base = http.base;
    ASSERT_EQ(client.put(base + "/metrics/job/nightly", "items_processed 7\n").status, 200);
    run_for(rt, 10min);  // 40 publications
    before = count_over_time(base);
    EXPECT_EQ(before, "40");
  }
  clock_.advance(30s);
  Runtime rt(config(), {.clock = &clock_});
  EXPECT_TRUE(rt.db().durable());
  EXPECT_EQ(rt.recovery().series, rt.head().num_series());
  EXPECT_TRUE(rt.recovery().from_checkpoint) << "a clean stop leaves a checkpoint";
  Served http(rt);
  const std::string& base = http.base;
  EXPECT_EQ(count_over_time(base), before) << "the samples from before the restart";
  run_for(rt, 15s);  // the pushed group is still there: published again
  EXPECT_EQ(count_over_time(base), "41");
}

// The sum of every series of a counter ("..._total") in `registry`.
double counter_value(const firebreak::Registry& registry, std::string_view name) {
  name.remove_suffix(std::string_view("_total").size());
  double sum = 0;
  for (const auto& f : registry.collect())
    if (f.name == name)
      for (const auto& p : f.points) sum += p.value;
  return sum;
}

// How many lines of each event a JSON log file holds, by "event" and by
// "event/what" for lines with a "what".
std::map<std::string, int> logged_events(const std::string& path) {
  std::map<std::string, int> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("event")) continue;
    const std::string event = j["event"].get<std::string>();
    ++out[event];
    if (j.contains("what") && j["what"].is_string())
      ++out[event + "/" + j["what"].get<std::string>()];
  }
  return out;
}

// watch's whole storage (SQLite and the head's directory) on a small tmpfs
// that fills up: evaluation and delivery go on from memory, the failures are
// counted, and once there is room again nothing of the alert's state is lost
// to a restart.
TEST_F(RuntimeTest, AFullDiskIsCountedAndLosesNoAlertState) {
  const std::string disk = dir_ + "/disk";
  std::filesystem::create_directories(disk);
  if (::mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=2m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << std::strerror(errno);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{disk};
  auto cfg = config();
  cfg.storage_path = disk + "/watch.db";
  cfg.tsdb_path = disk + "/tsdb";
  const std::string log_file = dir_ + "/watch.log";
  firebreak::configure_logging({.format = firebreak::LogFormat::kJson, .file = log_file});
  struct LogsBack {
    ~LogsBack() { firebreak::configure_logging({}); }
  } logs_back;
  firebreak::Registry registry;
  {
    Runtime rt(cfg, {.clock = &clock_, .registry = &registry});
    run_for(rt, 67min);
    ASSERT_TRUE(has_alert(rt, "BackupDown", rules::AlertState::kFiring));
    ASSERT_EQ(receiver_.count("BackupDown", "firing"), 1u);
    {
      std::ofstream filler(disk + "/filler", std::ios::binary);
      const std::string block(4096, 'x');
      while (filler.write(block.data(), static_cast<std::streamsize>(block.size())) &&
             filler.flush()) {
      }
    }
    run_for(rt, 5min);  // the disk is full
    EXPECT_TRUE(has_alert(rt, "BackupDown", rules::AlertState::kFiring));
    EXPECT_GT(rt.db().stats().wal_write_failures, 0u);
    EXPECT_GT(counter_value(registry, "watch_tsdb_wal_write_failures_total"), 0);
    EXPECT_GT(counter_value(registry, "watch_store_save_failures_total"), 0);
    // A check-in and a push the disk cannot take: they count at once, and
    // are saved once there is room, not only at the next ping or push.
    Served http(rt);
    ASSERT_EQ(http.client.get(http.base + "/ping/backup").status, 200);
    ASSERT_EQ(http.client.put(http.base + "/metrics/job/nightly", "items_processed 7\n").status,
              200);
    run_for(rt, 30s);
    EXPECT_FALSE(has_alert(rt, "BackupDown", rules::AlertState::kFiring));
    EXPECT_EQ(receiver_.count("BackupDown", "resolved"), 1u) << "delivered from memory";
    std::filesystem::remove(disk + "/filler");
    run_for(rt, 1min);  // room again: the state is saved
    firebreak::flush_logs();
    // Minutes of failures (an evaluation and a scrape every 15 s), yet one
    // line per kind of write for the episode, and one when it recovers.
    const std::map<std::string, int> events = logged_events(log_file);
    auto count = [&](const std::string& e) { return events.contains(e) ? events.at(e) : 0; };
    EXPECT_GE(count("tsdb_write_failed"), 1);
    EXPECT_LE(count("tsdb_write_failed"), 2) << "the WAL, and perhaps a chunk file";
    EXPECT_EQ(count("tsdb_write_recovered"), count("tsdb_write_failed"));
    EXPECT_EQ(count("store_save_failed/alert_states"), 2) << "one line for each rule group";
    EXPECT_EQ(count("store_save_failed/checkins"), 1);
    EXPECT_EQ(count("store_save_failed/pushed_groups"), 1);
    EXPECT_EQ(count("store_save_recovered"), count("store_save_failed"))
        << "saved again before any stop";
    EXPECT_EQ(count("notification_log_save_failed"), 1);
    EXPECT_EQ(count("notification_log_save_recovered"), 1);
  }
  clock_.advance(30s);
  Runtime rt(cfg, {.clock = &clock_});
  Served http(rt);
  run_for(rt, 1min);
  EXPECT_FALSE(has_alert(rt, "BackupDown", rules::AlertState::kFiring));
  EXPECT_EQ(receiver_.count("BackupDown", "firing"), 1u) << "no second page";
  EXPECT_EQ(receiver_.count("BackupDown", "resolved"), 1u) << "no second resolve";
  const auto r = http.client.get(http.base + "/api/v1/query?query=items_processed");
  EXPECT_NE(r.body.find(R"("job":"nightly")"), std::string::npos)
      << "the push made while the disk was full: " << r.body;
}

// A job that only pushes (prometheus_client's push_to_gateway): its pushed
// success counts as its check-in, so it is not reported missing (issue 12).
TEST_F(RuntimeTest, APushOnlyJobsPushedSuccessCountsAsItsRun) {
  Runtime rt(config(), {.clock = &clock_});
  Served http(rt);
  auto& client = http.client;
  const std::string& base = http.base;
  run_for(rt, 55min);
  const std::string body =
      "# TYPE job_last_success_timestamp_seconds gauge\n"
      "job_last_success_timestamp_seconds " +
      std::to_string(now_ms() / 1000 - 20) +
      "\n# TYPE job_last_duration_seconds gauge\n"
      "job_last_duration_seconds 20\n";
  ASSERT_EQ(client.put(base + "/metrics/job/backup", body).status, 200);
  // Without the push the job (every 1h, grace 5m) is down from 1h05 and
  // BackupDown pending from then; with it, due again at 1h55.
  run_for(rt, 20min);
  EXPECT_FALSE(has_alert(rt, "BackupDown", rules::AlertState::kPending));
  const auto history = rt.tracker().history("backup");
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].duration_seconds, 20);
  // It stops pushing: down after its grace, and pages.
  run_for(rt, 60min);
  EXPECT_TRUE(has_alert(rt, "BackupDown", rules::AlertState::kFiring));
}

TEST_F(RuntimeTest, AQueryOverItsSampleBudgetFailsWithPrometheusError) {
  Runtime rt(config("query: {max_samples: 100}\n"), {.clock = &clock_});
  Served http(rt);
  auto& client = http.client;
  const std::string& base = http.base;
  ASSERT_EQ(client.put(base + "/metrics/job/nightly", "a 1\nb 2\nc 3\n").status, 200);
  run_for(rt, 15min);  // 60 publications of 5 series: 300 samples
  const auto small = client.get(base + "/api/v1/query?query=count_over_time(a%5B5m%5D)");
  EXPECT_EQ(small.status, 200) << small.body;
  const auto big =
      client.get(base + "/api/v1/query?query=count_over_time(%7Bjob%3D%22nightly%22%7D%5B15m%5D)");
  EXPECT_EQ(big.status, 422) << big.body;
  EXPECT_NE(big.body.find("query processing would load too many samples into memory"),
            std::string::npos)
      << big.body;
}

TEST_F(RuntimeTest, RulesWaitForTheFirstScrapeOfEveryTargetAfterAStart) {
  firebreak::AdminServer target({.address = "127.0.0.1:0"});
  target.add_handler("GET", "/metrics", [](const firebreak::AdminRequest&) {
    std::this_thread::sleep_for(400ms);  // a slow first scrape
    return firebreak::AdminResponse{.body = "up_for_test 1\n"};
  });
  target.start();
  auto cfg = config("", "[extra.yml]");
  cfg.targets.push_back({.name = "slow",
                         .metrics_url = "http://" + target.address() + "/metrics",
                         .interval_ms = 1000,
                         .timeout_ms = 900});
  Runtime rt(cfg);  // the real clock: scrapes run on it
  rt.start();
  EXPECT_TRUE(rt.waiting_for_first_scrapes());
  std::this_thread::sleep_for(300ms);
  for (const auto& g : rt.groups()) EXPECT_EQ(g.last_eval_ms, 0) << g.name << " evaluated early";
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (rt.waiting_for_first_scrapes() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(rt.waiting_for_first_scrapes());
  EXPECT_GE(rt.targets().at(0).scrapes, 1u);
  rt.stop();
}

TEST_F(RuntimeTest, StatusApisListTargetsRulesAndAlerts) {
  // A real target, scraped on the real clock.
  firebreak::Registry registry;
  registry.gauge({.name = "service_ready", .help = "Ready."}).labels().set(1);
  firebreak::AdminServer target({.address = "127.0.0.1:0", .registry = &registry});
  target.start();
  auto cfg = config("", "[extra.yml]");
  cfg.targets.push_back({.name = "svc",
                         .workload = rulepack::Workload::kApi,
                         .metrics_url = "http://" + target.address() + "/metrics",
                         .ready_url = "http://" + target.address() + "/nope",
                         .interval_ms = 100,
                         .timeout_ms = 100,
                         .body_size_limit = 1 << 20});
  Runtime rt(cfg);
  firebreak::AdminServer server({.address = "127.0.0.1:0"});
  rt.add_http(server);
  server.start();
  rt.start();
  firebreak::HttpClient client;
  const std::string base = "http://" + server.address();
  std::string body;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    body = client.get(base + "/api/v1/targets").body;
    if (body.find(R"("health":"up")") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(body.find(R"("health":"up")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("job":"svc")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("ready":false)"), std::string::npos) << "the probe got a 404: " << body;
  body = client.get(base + "/api/v1/rules").body;
  EXPECT_NE(body.find(R"("name":"BackupDown")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("name":"TargetDown")"), std::string::npos) << "the rule pack: " << body;
  body = client.get(base + "/api/v1/alerts").body;
  EXPECT_EQ(body, R"({"data":{"alerts":[]},"status":"success"})");
  rt.stop();
}

TEST_F(RuntimeTest, AServiceWithInstancesFromAFileIsOneJobAndFollowsTheFile) {
  // Three processes of one service, each its own /metrics.
  std::vector<std::unique_ptr<firebreak::AdminServer>> replicas;
  for (int i = 0; i < 3; ++i) {
    replicas.push_back(std::make_unique<firebreak::AdminServer>(
        firebreak::AdminOptions{.address = "127.0.0.1:0"}));
    replicas.back()->add_handler("GET", "/metrics", [i](const firebreak::AdminRequest&) {
      return firebreak::AdminResponse{.body = "replica_index " + std::to_string(i) + "\n"};
    });
    replicas.back()->start();
  }
  const auto write_file = [&](std::vector<int> which) {
    std::string list;
    for (int i : which) list += (list.empty() ? "\"" : ", \"") + replicas[i]->address() + "\"";
    // Written aside and renamed, as tools that generate these files do.
    std::ofstream(dir_ + "/api.json.tmp")
        << "[{\"targets\": [" << list << "], \"labels\": {\"zone\": \"a\"}}]";
    std::filesystem::rename(dir_ + "/api.json.tmp", dir_ + "/api.json");
  };
  write_file({0, 1});
  auto cfg = config(R"(targets:
  - name: api
    workload: api
    interval: 100ms
    timeout: 100ms
    file_sd_configs: [{files: [api.json]}]
    static_configs: [{targets: ['127.0.0.1:1'], labels: {canary: 'yes'}}]
    relabel_configs:
      - {source_labels: [canary], regex: 'yes', action: drop}
)");
  Runtime rt(cfg);
  Served api(rt);
  rt.start();
  const auto instances_up = [&] {
    std::set<std::string> out;
    for (const auto& t : rt.targets())
      if (t.health == scrape::TargetHealth::kUp)
        out.insert(std::string(t.labels.get("job")) + " " + std::string(t.labels.get("instance")));
    return out;
  };
  const auto wait_for = [&](std::set<std::string> want) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (instances_up() != want && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    return instances_up();
  };
  EXPECT_EQ(
      wait_for({"api " + replicas[0]->address(), "api " + replicas[1]->address()}),
      (std::set<std::string>{"api " + replicas[0]->address(), "api " + replicas[1]->address()}));
  // One job, two instances: what aggregations by job see.
  std::string body;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    body =
        api.client.get(api.base + "/api/v1/query?query=count%20by%20(job)%20(replica_index)").body;
    if (body.find(R"("value":)") != std::string::npos && body.find(R"(,"2"])") != std::string::npos)
      break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(body.find(R"("metric":{"job":"api"})"), std::string::npos) << body;
  EXPECT_NE(body.find(R"(,"2"])"), std::string::npos) << body;
  // The relabeled-away static instance is listed as dropped; the file's
  // instances carry their discovery labels.
  body = api.client.get(api.base + "/api/v1/targets").body;
  EXPECT_NE(body.find(R"("droppedTargets":[{"discoveredLabels":{"__address__":"127.0.0.1:1")"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find(R"("__meta_filepath":")" + dir_ + R"(/api.json")"), std::string::npos)
      << body;
  EXPECT_NE(body.find(R"("zone":"a")"), std::string::npos) << body;

  // The file changes: replica 0 leaves, replica 2 joins, replica 1 keeps
  // being scraped.
  const auto before = [&] {
    for (const auto& t : rt.targets())
      if (t.labels.get("instance") == replicas[1]->address()) return t.scrapes;
    return std::uint64_t{0};
  }();
  write_file({1, 2});
  EXPECT_EQ(
      wait_for({"api " + replicas[1]->address(), "api " + replicas[2]->address()}),
      (std::set<std::string>{"api " + replicas[1]->address(), "api " + replicas[2]->address()}));
  for (const auto& t : rt.targets()) {
    if (t.labels.get("instance") == replicas[1]->address()) {
      EXPECT_GT(t.scrapes, before) << "an unchanged instance keeps its loop";
    }
  }
  rt.stop();
}

}  // namespace
}  // namespace watch::runtime
