// The Python shop (examples/shop-python) under `firebreak watch`, broken on
// purpose as the C++ shop is: its API under gunicorn with 4 workers that
// max_requests recycles (one admin port for all, the package's
// multi-process mode), its worker and its daily job, observed with the
// firebreak package only. Each must-have alert fires and resolves; a day of
// harmless trouble (a worker SIGKILLed, recycling, a short latency spike)
// pages nobody and loses no count.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/shop_process.h"
#include "e2e/watch_harness.h"
#include "support/http_client.h"
#include "workload/support.h"

namespace firebreak::e2e {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr milliseconds kScrape = kFastScrape;
constexpr milliseconds kEval = kFastEval;
constexpr milliseconds kSlack = kDetectionSlack;

struct Ports {
  std::uint16_t api = test::closed_port();
  std::uint16_t api_admin = test::closed_port();
  std::uint16_t worker_admin = test::closed_port();
};

std::string watch_config(const Ports& p, const std::string& hook_url) {
  return fast_watch_config(
      target_yaml("shop-api", "api", p.api_admin,
                  "{down_for: 3s, startup_budget: 5s, not_ready_for: 4s,"
                  " latency_objective: 200ms, latency_for: 8s}") +
          target_yaml("shop-worker", "worker", p.worker_admin,
                      "{down_for: 3s, startup_budget: 5s, not_ready_for: 4s, stall_for: 4s,"
                      " heartbeat_max_age: 3s, queue_lag: 60s, queue_lag_for: 30s}"),
      "  - {name: shop-daily, schedule: 3s, grace: 2s, max_run_time: 5s}\n", hook_url);
}

int post_fault(std::uint16_t admin_port, const std::string& json) {
  return test::http_request(admin_port, "POST", "/fault", {{"Content-Type", "application/json"}},
                            json)
      .status;
}

class WatchShopPythonTest : public WatchPagesTest {
 protected:
  WatchShopPythonTest() : WatchPagesTest(kScrape, kEval, kSlack) {
    yaml_ = watch_config(ports_, hook_.url());
  }

  std::vector<std::string> env(const std::string& faults = "") const {
    std::vector<std::string> e = {
        std::string("PYTHONPATH=") + FIREBREAK_PYTHONPATH + ":" + SHOP_PYTHON_DIR,
        "SHOP_DB=" + dir_.path() + "/shop.db",
        "SHOP_API_LISTEN=127.0.0.1:" + std::to_string(ports_.api),
        "SHOP_API_ADMIN=127.0.0.1:" + std::to_string(ports_.api_admin),
        "SHOP_MAX_REQUESTS=40",
        "SHOP_METRICS_FILE=" + dir_.path() + "/run/shop-api.fbm"};
    if (!faults.empty()) e.push_back("SHOP_FAULTS=" + faults);
    return e;
  }

  // gunicorn with 4 workers; returns once its admin process listens.
  std::unique_ptr<ShopProcess> start_api(const std::string& faults = "") {
    std::filesystem::create_directories(dir_.path() + "/run");
    auto p = std::make_unique<ShopProcess>(
        "shop-api", FIREBREAK_PYTHON3,
        std::vector<std::string>{"-m", "gunicorn", "-c",
                                 std::string(SHOP_PYTHON_DIR) + "/shop/gunicorn_conf.py", "--chdir",
                                 SHOP_PYTHON_DIR, "shop.api:app"},
        dir_.path(), env(faults));
    p->wait_listening("admin", 20s);
    return p;
  }

  std::unique_ptr<ShopProcess> start_worker() {
    auto p = std::make_unique<ShopProcess>(
        "shop-worker", FIREBREAK_PYTHON3,
        std::vector<std::string>{"-m", "shop.worker", "--admin-addr",
                                 "127.0.0.1:" + std::to_string(ports_.worker_admin)},
        dir_.path(), env());
    p->wait_listening("admin", 20s);
    return p;
  }

  std::unique_ptr<ShopProcess> start_daily() {
    auto p = std::make_unique<ShopProcess>(
        "shop-daily", FIREBREAK_PYTHON3,
        std::vector<std::string>{"-m", "shop.daily", "--every", "2", "--checkin-url",
                                 watch_->url() + "/ping/shop-daily"},
        dir_.path(), env());
    p->wait_listening("admin", 20s);
    return p;
  }

  // Orders and reads at `rate` a second for `seconds`; prints its counts at the end.
  std::unique_ptr<ShopProcess> start_load(int rate, int seconds) {
    return std::make_unique<ShopProcess>(
        "shop-load", FIREBREAK_PYTHON3,
        std::vector<std::string>{"-m", "shop.load", "--target",
                                 "http://127.0.0.1:" + std::to_string(ports_.api), "--rate",
                                 std::to_string(rate), "--duration", std::to_string(seconds)},
        dir_.path(), env());
  }

  // The load's final counts ({"sent", "created", "errors"}).
  nlohmann::json load_counts(ShopProcess& load) {
    EXPECT_TRUE(load.wait_exit(60s).has_value()) << "the load did not finish";
    std::istringstream lines(load.stdout_text());
    nlohmann::json counts;
    for (std::string line; std::getline(lines, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("created")) counts = j;
    }
    return counts;
  }

  double value_of(const std::string& promql) {
    const auto v = values(watch_->query(promql));
    return v.empty() ? -1 : v.front();
  }

  // The pids of gunicorn's workers: the master's children but the admin process.
  std::vector<pid_t> gunicorn_workers(pid_t master) {
    std::vector<pid_t> out;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream stat(entry.path() / "stat");
      std::string line;
      std::getline(stat, line);
      const auto paren = line.rfind(')');
      if (paren == std::string::npos) continue;
      std::istringstream rest(line.substr(paren + 2));
      std::string state;
      pid_t ppid = 0;
      rest >> state >> ppid;
      if (ppid != master) continue;
      std::ifstream cmdline(entry.path() / "cmdline");
      std::string args((std::istreambuf_iterator<char>(cmdline)), {});
      if (args.find("firebreak.multiprocess") == std::string::npos) out.push_back(std::stoi(name));
    }
    return out;
  }

  Ports ports_;
};

TEST_F(WatchShopPythonTest, HarmlessTroublePagesNobodyAndEveryOrderIsCountedOnce) {
  start_watch();
  auto api = start_api();
  auto worker = start_worker();
  auto daily = start_daily();
  auto load = start_load(20, 14);
  std::this_thread::sleep_for(4s);

  // A gunicorn worker killed outright; gunicorn starts another, and the
  // shared metrics keep what it counted.
  const auto workers = gunicorn_workers(api->pid());
  ASSERT_EQ(workers.size(), 4u);
  ::kill(workers.front(), SIGKILL);
  // A 1.5 s latency spike, well within ApiLatencyHigh's `for`.
  std::this_thread::sleep_for(2s);
  ASSERT_EQ(post_fault(ports_.api_admin, R"({"slow_ms": 300})"), 200);
  std::this_thread::sleep_for(1500ms);
  ASSERT_EQ(post_fault(ports_.api_admin, R"({"slow_ms": 0})"), 200);

  const nlohmann::json counts = load_counts(*load);
  ASSERT_TRUE(counts.is_object()) << load->stdout_text() << load->stderr_text();
  ASSERT_GT(counts["created"].get<int>(), 100);
  EXPECT_EQ(counts["errors"].get<int>(), 0) << counts.dump();
  std::this_thread::sleep_for(4s);  // the last scrapes; the worker drains the queue

  // Every order counted once, through killed and recycled workers: by the
  // app's own counter, by the kit's HTTP histogram, and by the worker.
  const double created = counts["created"].get<double>();
  EXPECT_EQ(value_of("shop_orders_created_total{job=\"shop-api\"}"), created);
  EXPECT_EQ(value_of("sum(http_server_request_duration_seconds_count{job=\"shop-api\","
                     "http_route=\"/orders\",http_response_status_code=\"201\"})"),
            created);
  EXPECT_EQ(value_of("messaging_process_duration_seconds_count{job=\"shop-worker\","
                     "outcome=\"ok\"}"),
            created);
  // The killed worker, and at least one recycled by max_requests (how many
  // depends on how gunicorn spread the requests).
  EXPECT_GE(value_of("multiprocess_processes_exited_total{job=\"shop-api\"}"), 2)
      << "max_requests did not recycle the workers";
  EXPECT_EQ(value_of("multiprocess_processes{job=\"shop-api\"}"), 5);  // 4 workers + admin
  EXPECT_GE(value_of("job_checkin_state{job=\"shop-daily\"}"), 0);
  // Nobody was paged.
  for (const auto& a : hook_.alerts())
    ADD_FAILURE() << "paged: " << a.alertname << " " << a.status << " " << a.labels.dump();

  // Stopped, the API leaves no file behind.
  api->send_signal(SIGTERM);
  ASSERT_TRUE(api->wait_exit(20s).has_value());
  EXPECT_TRUE(eventually([&] { return std::filesystem::is_empty(dir_.path() + "/run"); }, 5s))
      << "the shared metrics file was left behind";
}

TEST_F(WatchShopPythonTest, AnApiThatNeverGetsReadyPagesThenResolves) {
  start_watch();
  const SteadyTime launched = std::chrono::steady_clock::now();
  auto api = start_api(R"({"never_ready": true})");
  ASSERT_TRUE(
      expect_page("shop_py_never_ready", "ServiceNeverReady", "shop-api", launched, launched + 4s));
  expect_only("ServiceNeverReady", "shop-api");
  ASSERT_EQ(post_fault(ports_.api_admin, R"({"never_ready": false})"), 200);
  expect_resolved("ServiceNeverReady", "shop-api");
}

TEST_F(WatchShopPythonTest, ASlowApiPagesThenResolves) {
  start_watch();
  auto api = start_api();
  auto load = start_load(20, 40);
  std::this_thread::sleep_for(3s);
  const SteadyTime slow = std::chrono::steady_clock::now();
  ASSERT_EQ(post_fault(ports_.api_admin, R"({"slow_ms": 400})"), 200);
  ASSERT_TRUE(expect_page("shop_py_api_slow", "ApiLatencyHigh", "shop-api", slow, slow));
  ASSERT_EQ(post_fault(ports_.api_admin, R"({"slow_ms": 0})"), 200);
  expect_resolved("ApiLatencyHigh", "shop-api");
  expect_only("ApiLatencyHigh", "shop-api");
}

TEST_F(WatchShopPythonTest, AStalledWorkerPagesThenResolves) {
  start_watch();
  auto api = start_api();
  auto worker = start_worker();
  auto load = start_load(10, 40);
  std::this_thread::sleep_for(3s);
  const SteadyTime stalled = std::chrono::steady_clock::now();
  ASSERT_EQ(post_fault(ports_.worker_admin, R"({"stall": true})"), 200);
  ASSERT_TRUE(
      expect_page("shop_py_worker_stall", "WorkerStalled", "shop-worker", stalled, stalled + 4s));
  ASSERT_EQ(post_fault(ports_.worker_admin, R"({"stall": false})"), 200);
  expect_resolved("WorkerStalled", "shop-worker");
  expect_only("WorkerStalled", "shop-worker");
}

TEST_F(WatchShopPythonTest, ADailyJobThatStopsRunningPagesMissedThenResolves) {
  start_watch();
  auto daily = start_daily();
  std::this_thread::sleep_for(5s);
  daily->send_signal(SIGKILL);
  const SteadyTime stopped = std::chrono::steady_clock::now();
  // The last run's check-in was at most 2 s before; schedule 3 s + grace 2 s.
  ASSERT_TRUE(
      expect_page("shop_py_daily_missed", "JobMissedRun", "shop-daily", stopped, stopped + 3s));
  daily = start_daily();
  expect_resolved("JobMissedRun", "shop-daily");
  expect_only("JobMissedRun", "shop-daily");
}

}  // namespace
}  // namespace firebreak::e2e
