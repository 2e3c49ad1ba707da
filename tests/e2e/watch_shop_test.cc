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

// Admin ports of the services watch should scrape (0: not started, no target).
struct Ports {
  std::uint16_t api_admin = 0;
  std::uint16_t worker_admin = 0;
};

std::string watch_config(const Ports& p, const std::string& hook_url) {
  std::string yaml =
      "listen: 127.0.0.1:0\n"
      "storage: {path: watch.db}\n"
      "global: {scrape_interval: 1s, scrape_timeout: 800ms, evaluation_interval: 1s,"
      " job_alert_for: 2s}\n"
      "targets:\n";
  if (p.api_admin) {
    const std::string api = "127.0.0.1:" + std::to_string(p.api_admin);
    yaml +=
        "  - name: shop-api\n"
        "    workload: api\n"
        "    metrics_url: http://" +
        api +
        "/metrics\n"
        "    ready_url: http://" +
        api +
        "/readyz\n"
        "    thresholds: {down_for: 3s, startup_budget: 4s, not_ready_for: 4s,"
        " latency_objective: 200ms, latency_for: 6s}\n";
  }
  if (p.worker_admin) {
    const std::string worker = "127.0.0.1:" + std::to_string(p.worker_admin);
    yaml +=
        "  - name: shop-worker\n"
        "    workload: worker\n"
        "    metrics_url: http://" +
        worker +
        "/metrics\n"
        "    ready_url: http://" +
        worker +
        "/readyz\n"
        "    thresholds: {down_for: 3s, startup_budget: 4s, not_ready_for: 4s, stall_for: 4s,"
        " heartbeat_max_age: 3s, queue_lag: 60s, queue_lag_for: 30s}\n";
  }
  if (!p.api_admin && !p.worker_admin) yaml += "  []\n";
  yaml +=
      "jobs:\n"
      "  - {name: shop-daily, schedule: 3s, grace: 2s, max_run_time: 5s}\n"
      "receivers:\n"
      "  - name: hook\n"
      "    webhook: {url: " +
      hook_url + ", timeout: 2s}\n";
  return yaml;
}

class WatchShopTest : public ::testing::Test {
 protected:
  // Starts watch on the services started so far.
  void start_watch() {
    yaml_ = watch_config(ports_, hook_.url());
    watch_ = std::make_unique<WatchProcess>(yaml_, shop_.dir().path());
  }

  // On ephemeral ports the first time, on the same ports after (a restart).
  Service start_api(std::vector<std::string> extra = {}) {
    if (api_http_) {
      extra.insert(extra.end(), {"--admin-addr", "127.0.0.1:" + std::to_string(ports_.api_admin),
                                 "--listen", "127.0.0.1:" + std::to_string(api_http_)});
    }
    Service s = shop_.start_api(extra);
    ports_.api_admin = s.admin;
    api_http_ = s.http;
    return s;
  }

  Service start_worker(std::vector<std::string> extra = {}) {
    Service s = shop_.start_worker("shop-worker", extra);
    ports_.worker_admin = s.admin;
    return s;
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
        try {
          test::http_request(api_http_, "POST", "/orders", {{"Content-Type", "application/json"}},
                             R"({"item":"book","quantity":1})");
        } catch (const std::exception&) {
          // The API is restarting (a perturbation): try again next period.
        }
        std::this_thread::sleep_for(period);
      }
    });
  }
  void stop_load() {
    load_running_ = false;
    if (load_.joinable()) load_.join();
  }
  ~WatchShopTest() override { stop_load(); }

  // Waits for `alert` to fire and checks its detection latency: from the
  // moment its condition held in the scraped data (found by evaluating the
  // rule's expression over the recent past through watch's API) to the
  // webhook's arrival, at most one scrape interval + one evaluation interval
  // + the rule's `for`. `fault` is when the test broke something (reported
  // too: the latency a user sees, data delays included); `expected` is the
  // earliest the condition can hold (fault + the rule's own threshold).
  bool expect_page(const std::string& scenario, const std::string& alert, const std::string& job,
                   SteadyTime fault, SteadyTime expected) {
    const milliseconds bound = kScrape + kEval + rule_for(yaml_, alert, job);
    const auto hook = hook_.wait_for(alert, "firing", since(fault, expected) + bound + 15s);
    if (!hook) {
      ADD_FAILURE() << alert << " never reached the webhook; watch log:\n"
                    << watch_->process().stdout_text();
      return false;
    }
    EXPECT_EQ(hook->labels.value("job", ""), job);
    if (!check_detection(*watch_, *hook, scenario, job, fault, expected, bound, kSlack))
      return false;
    return true;
  }

  void expect_resolved(const std::string& alert, milliseconds timeout = 30s) {
    EXPECT_TRUE(hook_.wait_for(alert, "resolved", timeout).has_value())
        << alert << " did not resolve after the fault was cleared";
  }

  Ports ports_;
  std::uint16_t api_http_ = 0;
  WebhookReceiver hook_;
  ShopSystem shop_;
  std::string yaml_;
  std::unique_ptr<WatchProcess> watch_;
  std::atomic<bool> load_running_{false};
  std::thread load_;
};

TEST_F(WatchShopTest, AHealthySystemWithHarmlessPerturbationsPagesNobody) {
  auto api = start_api();
  auto worker = start_worker();
  start_watch();
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
  auto worker = start_worker();
  const SteadyTime launched = std::chrono::steady_clock::now();
  auto api = start_api({"--fault", "never_ready"});
  start_watch();
  // The start-up budget; the kit's process_start_time_seconds is /proc/stat's
  // btime (whole seconds, rounded down) plus the start in clock ticks, so it
  // may read up to 1 s early (ServiceNeverReady has no `for` to hide it).
  const SteadyTime condition_true = launched + 4s - 1s;
  ASSERT_TRUE(
      expect_page("never_ready", "ServiceNeverReady", "shop-api", launched, condition_true));
  ASSERT_EQ(api.set_fault(R"({"never_ready": false})"), 200);
  expect_resolved("ServiceNeverReady");
}

TEST_F(WatchShopTest, AStalledWorkerPagesThenResolvesWhenItMovesAgain) {
  auto api = start_api();
  auto worker = start_worker();
  start_watch();
  start_load(100ms);
  std::this_thread::sleep_for(3s);
  ASSERT_EQ(worker.set_fault(R"({"stall": true})"), 200);
  const SteadyTime stalled = std::chrono::steady_clock::now();
  // No message finished since `stalled`, messages waiting: true once the
  // newest progress is stall_for old.
  ASSERT_TRUE(expect_page("worker_stall", "WorkerStalled", "shop-worker", stalled, stalled + 4s));
  ASSERT_EQ(worker.set_fault(R"({"stall": false})"), 200);
  expect_resolved("WorkerStalled");
}

TEST_F(WatchShopTest, AFailingDailyJobPagesThenResolvesWhenARunSucceeds) {
  start_watch();
  const SteadyTime launched = std::chrono::steady_clock::now();
  auto daily = start_daily({"--every", "2", "--fault", "fail"});
  ASSERT_TRUE(expect_page("daily_fail", "JobFailed", "shop-daily", launched, launched));
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
  ASSERT_TRUE(
      expect_page("daily_missing", "JobMissedRun", "shop-daily", launched, launched + 3s + 2s));
  auto daily = start_daily({"--every", "2"});
  expect_resolved("JobMissedRun");
}

TEST_F(WatchShopTest, ASlowApiPagesThenResolvesWhenFastAgain) {
  auto api = start_api();
  start_watch();
  start_load();
  std::this_thread::sleep_for(4s);
  ASSERT_EQ(api.set_fault(R"({"slow_ms": 400})"), 200);
  const SteadyTime slow = std::chrono::steady_clock::now();
  ASSERT_TRUE(expect_page("api_slow", "ApiLatencyHigh", "shop-api", slow, slow));
  ASSERT_EQ(api.set_fault(R"({"slow_ms": 0})"), 200);
  expect_resolved("ApiLatencyHigh");
}

}  // namespace
}  // namespace firebreak::e2e
