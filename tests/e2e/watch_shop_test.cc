// End to end: `firebreak watch` against the reference system (examples/shop),
// with short intervals and scaled-down thresholds in the same proportions as
// the defaults. Each fault switch pages through a real webhook within
// one scrape interval + one evaluation interval + the rule's `for` of the
// moment its condition became true, then resolves once the fault is
// cleared; perturbations that must not page do not. The measured detection
// latencies are printed ("detection_latency ...") and, with
// FIREBREAK_LATENCY_REPORT=FILE, appended to FILE.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "e2e/shop_system.h"
#include "e2e/watch_harness.h"
#include "watch/config/config.h"
#include "watch/rulepack/rule_pack.h"
#include "watch/rules/rule_file.h"

namespace firebreak::e2e {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr milliseconds kScrape = 1000ms;
constexpr milliseconds kEval = 1000ms;
// Time a loaded 2-core machine may add to the bound: a scrape that takes a
// while, a webhook that is delivered a few milliseconds late.
constexpr milliseconds kSlack = 1500ms;

struct Ports {
  std::uint16_t api_admin = free_port();
  std::uint16_t api_http = free_port();
  std::uint16_t worker_admin = free_port();
};

std::string watch_config(const Ports& p, const std::string& hook_url) {
  const std::string api = "127.0.0.1:" + std::to_string(p.api_admin);
  const std::string worker = "127.0.0.1:" + std::to_string(p.worker_admin);
  return "listen: 127.0.0.1:0\n"
         "storage: {path: watch.db}\n"
         "global: {scrape_interval: 1s, scrape_timeout: 800ms, evaluation_interval: 1s,"
         " job_alert_for: 2s}\n"
         "targets:\n"
         "  - name: shop-api\n"
         "    workload: api\n"
         "    metrics_url: http://" +
         api +
         "/metrics\n"
         "    ready_url: http://" +
         api +
         "/readyz\n"
         "    thresholds: {down_for: 3s, startup_budget: 4s, not_ready_for: 4s,"
         " latency_objective: 200ms, latency_for: 6s}\n"
         "  - name: shop-worker\n"
         "    workload: worker\n"
         "    metrics_url: http://" +
         worker +
         "/metrics\n"
         "    ready_url: http://" +
         worker +
         "/readyz\n"
         "    thresholds: {down_for: 3s, startup_budget: 4s, not_ready_for: 4s, stall_for: 4s,"
         " heartbeat_max_age: 3s, queue_lag: 60s, queue_lag_for: 30s}\n"
         "jobs:\n"
         "  - {name: shop-daily, schedule: 3s, grace: 2s, max_run_time: 5s}\n"
         "receivers:\n"
         "  - name: hook\n"
         "    webhook: {url: " +
         hook_url + ", timeout: 2s}\n";
}

// The `for` of `alert` for `job` in the rule pack watch generates from this
// configuration (the bound depends on it).
milliseconds rule_for(const std::string& yaml, const std::string& alert, const std::string& job) {
  const auto config =
      watch::config::parse_config(yaml, "/tmp/firebreak.yaml", {.load_rule_files = false});
  EXPECT_TRUE(config.ok());
  const std::string pack =
      watch::rulepack::render_rule_pack(watch::config::rule_pack_targets(config.config),
                                        watch::config::rule_pack_options(config.config));
  const auto parsed = watch::rules::parse_rule_file(pack, "pack.yml");
  for (const auto& g : parsed.file.groups)
    for (const auto& r : g.rules)
      // Targets that share thresholds share a rule (job=~"a|b").
      if (r.name == alert && (r.expr.find(job) != std::string::npos ||
                              r.expr.find("job_checkin") != std::string::npos))
        return milliseconds(r.for_ms);
  ADD_FAILURE() << "no " << alert << " rule for " << job;
  return 0ms;
}

class WatchShopTest : public ::testing::Test {
 protected:
  WatchShopTest() : yaml_(watch_config(ports_, hook_.url())) {}

  void start_watch() { watch_ = std::make_unique<WatchProcess>(yaml_, shop_.dir().path()); }

  Service start_api(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--admin-addr", "127.0.0.1:" + std::to_string(ports_.api_admin),
                               "--listen", "127.0.0.1:" + std::to_string(ports_.api_http)});
    return shop_.start_api(extra);
  }

  Service start_worker(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--admin-addr", "127.0.0.1:" + std::to_string(ports_.worker_admin)});
    return shop_.start_worker("shop-worker", extra);
  }

  std::unique_ptr<ShopProcess> start_daily(std::vector<std::string> extra) {
    extra.insert(extra.end(), {"--admin-addr", "127.0.0.1:0", "--checkin-url",
                               watch_->url() + "/ping/shop-daily"});
    return shop_.start_daily(extra);
  }

  // Posts an order every `period` until stopped.
  void start_load(milliseconds period = 50ms) {
    load_running_ = true;
    load_ = std::thread([this, period] {
      while (load_running_) {
        test::http_request(ports_.api_http, "POST", "/orders",
                           {{"Content-Type", "application/json"}},
                           R"({"item":"book","quantity":1})");
        std::this_thread::sleep_for(period);
      }
    });
  }
  void stop_load() {
    load_running_ = false;
    if (load_.joinable()) load_.join();
  }
  ~WatchShopTest() override { stop_load(); }

  // Waits for `alert` to fire, checks the latency from `condition_true`
  // against the bound, reports it, and returns whether it fired.
  bool expect_page(const std::string& scenario, const std::string& alert, const std::string& job,
                   SteadyTime condition_true, milliseconds extra_wait = 0ms) {
    const milliseconds bound = kScrape + kEval + rule_for(yaml_, alert, job);
    const auto hook = hook_.wait_for(alert, "firing", bound + kSlack + extra_wait + 10s);
    if (!hook) {
      ADD_FAILURE() << alert << " never reached the webhook; watch log:\n"
                    << watch_->process().stdout_text();
      return false;
    }
    const milliseconds latency = since(condition_true, hook->arrived);
    report_latency(scenario, alert, latency, bound);
    EXPECT_LE(latency, bound + kSlack) << alert << " took longer than its bound";
    EXPECT_EQ(hook->labels.value("job", ""), job);
    return true;
  }

  void expect_resolved(const std::string& alert, milliseconds timeout = 30s) {
    EXPECT_TRUE(hook_.wait_for(alert, "resolved", timeout).has_value())
        << alert << " did not resolve after the fault was cleared";
  }

  Ports ports_;
  WebhookReceiver hook_;
  ShopSystem shop_;
  std::string yaml_;
  std::unique_ptr<WatchProcess> watch_;
  std::atomic<bool> load_running_{false};
  std::thread load_;
};

TEST_F(WatchShopTest, AHealthySystemWithHarmlessPerturbationsPagesNobody) {
  start_watch();
  auto api = start_api();
  auto worker = start_worker();
  // Every 4 s against a schedule of 3 s with 2 s of grace: late each time, within grace.
  auto daily = start_daily({"--every", "4"});
  start_load();
  std::this_thread::sleep_for(5s);

  // A latency spike shorter than ApiLatencyHigh's `for`.
  ASSERT_EQ(api.set_fault(R"({"slow_ms": 400})"), 200);
  std::this_thread::sleep_for(1500ms);
  ASSERT_EQ(api.set_fault(R"({"slow_ms": 0})"), 200);

  // An idle worker with an empty queue, longer than the stall threshold.
  stop_load();
  std::this_thread::sleep_for(6s);
  start_load();

  // One failed scrape: the worker frozen for longer than the scrape timeout.
  worker.process->send_signal(SIGSTOP);
  std::this_thread::sleep_for(1200ms);
  worker.process->send_signal(SIGCONT);

  // A restart that is ready within its start-up budget.
  stop_load();
  api.process->send_signal(SIGTERM);
  ASSERT_TRUE(api.process->wait_exit(5s).has_value());
  api = start_api();
  start_load();

  // A slow worker that still finishes messages.
  ASSERT_EQ(worker.set_fault(R"({"fail_rate": 0.5})"), 200);
  std::this_thread::sleep_for(6s);
  ASSERT_EQ(worker.set_fault(R"({"fail_rate": 0})"), 200);
  std::this_thread::sleep_for(4s);
  stop_load();

  // Everything was scraped, and nothing paged.
  EXPECT_EQ(watch_->query("up")["data"]["result"].size(), 2u);
  EXPECT_EQ(watch_->query("job_checkin_state{job=\"shop-daily\"}")["data"]["result"].size(), 1u);
  for (const auto& a : hook_.alerts())
    ADD_FAILURE() << "paged: " << a.alertname << " " << a.status << " " << a.labels.dump();
  EXPECT_TRUE(watch_->alerts("firing").empty());
  EXPECT_TRUE(hook_.malformed().empty());
}

TEST_F(WatchShopTest, AnApiThatNeverGetsReadyPagesThenResolvesWhenReady) {
  start_watch();
  auto worker = start_worker();
  const SteadyTime launched = std::chrono::steady_clock::now();
  auto api = start_api({"--fault", "never_ready"});
  const SteadyTime condition_true = launched + 4s;  // the start-up budget
  ASSERT_TRUE(expect_page("never_ready", "ServiceNeverReady", "shop-api", condition_true));
  ASSERT_EQ(api.set_fault(R"({"never_ready": false})"), 200);
  expect_resolved("ServiceNeverReady");
}

TEST_F(WatchShopTest, AStalledWorkerPagesThenResolvesWhenItMovesAgain) {
  start_watch();
  auto api = start_api();
  auto worker = start_worker();
  start_load(100ms);
  std::this_thread::sleep_for(3s);
  ASSERT_EQ(worker.set_fault(R"({"stall": true})"), 200);
  const SteadyTime stalled = std::chrono::steady_clock::now();
  // No message finished since `stalled`, messages waiting: true once the
  // newest progress is stall_for old.
  ASSERT_TRUE(expect_page("worker_stall", "WorkerStalled", "shop-worker", stalled + 4s));
  ASSERT_EQ(worker.set_fault(R"({"stall": false})"), 200);
  expect_resolved("WorkerStalled");
}

TEST_F(WatchShopTest, AFailingDailyJobPagesThenResolvesWhenARunSucceeds) {
  start_watch();
  const SteadyTime launched = std::chrono::steady_clock::now();
  auto daily = start_daily({"--every", "2", "--fault", "fail"});
  ASSERT_TRUE(expect_page("daily_fail", "JobFailed", "shop-daily", launched));
  const auto admin = daily->wait_listening("admin");
  ASSERT_EQ(test::http_request(admin, "POST", "/fault", {{"Content-Type", "application/json"}},
                               R"({"fail": false})")
                .status,
            200);
  expect_resolved("JobFailed");
}

TEST_F(WatchShopTest, ADailyJobThatDoesNotRunPagesThenResolvesWhenItRuns) {
  const SteadyTime launched = std::chrono::steady_clock::now();
  start_watch();
  // Never pinged: due one period after watch took the job, down after the grace.
  ASSERT_TRUE(expect_page("daily_missing", "JobMissedRun", "shop-daily", launched + 3s + 2s));
  auto daily = start_daily({"--every", "2"});
  expect_resolved("JobMissedRun");
}

TEST_F(WatchShopTest, ASlowApiPagesThenResolvesWhenFastAgain) {
  start_watch();
  auto api = start_api();
  start_load();
  std::this_thread::sleep_for(4s);
  ASSERT_EQ(api.set_fault(R"({"slow_ms": 400})"), 200);
  const SteadyTime slow = std::chrono::steady_clock::now();
  ASSERT_TRUE(expect_page("api_slow", "ApiLatencyHigh", "shop-api", slow));
  ASSERT_EQ(api.set_fault(R"({"slow_ms": 0})"), 200);
  expect_resolved("ApiLatencyHigh");
}

}  // namespace
}  // namespace firebreak::e2e
