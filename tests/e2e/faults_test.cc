// Each fault switch moves the signals it should, and only those.
#include <gtest/gtest.h>

#include <mutex>

#include "e2e/shop_system.h"
#include "firebreak/admin.h"

namespace firebreak::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::vector<std::pair<std::string, std::string>> kOrders = {
    {"messaging_destination_name", "orders"}};

TEST(Faults, NeverReadyKeepsReadyz503WhileLivezStays200) {
  ShopSystem shop;
  Service api = shop.start_api({"--fault", "never_ready"});
  std::this_thread::sleep_for(milliseconds(700));  // start-up done, checks run several times
  EXPECT_EQ(api.admin_get("/readyz").status, 503);
  EXPECT_NE(
      api.admin_get("/readyz?verbose").body.find("[-]faults failed: fault switch never_ready"),
      std::string::npos);
  EXPECT_EQ(api.admin_get("/livez").status, 200);
  std::string metrics = api.metrics();
  EXPECT_EQ(metric(metrics, "service_ready"), 0);
  EXPECT_FALSE(metric(metrics, "service_time_to_ready_seconds")) << "never ready: absent";
  EXPECT_EQ(metric(metrics, "health_check_status", {{"check", "database"}}), 1);
  EXPECT_EQ(metric(metrics, "shop_fault_value", {{"fault", "never_ready"}}), 1);
  // Only readiness moved: the API itself still works.
  EXPECT_EQ(ShopSystem::post_order(api, R"({"item": "pen", "quantity": 1})").status, 201);

  ASSERT_EQ(api.set_fault(R"({"never_ready": false})"), 200);
  ASSERT_TRUE(eventually([&] { return api.admin_get("/readyz").status == 200; }, seconds(5)));
  metrics = api.metrics();
  EXPECT_EQ(metric(metrics, "service_ready"), 1);
  EXPECT_TRUE(metric(metrics, "service_time_to_ready_seconds"));
}

TEST(Faults, NotReadyTurnsAReadyApiNotReadyWhileItServes) {
  ShopSystem shop;
  Service api = shop.start_api();
  ASSERT_TRUE(eventually([&] { return api.admin_get("/readyz").status == 200; }, seconds(5)));
  ASSERT_EQ(api.set_fault(R"({"not_ready": true})"), 200);
  ASSERT_TRUE(eventually([&] { return api.admin_get("/readyz").status == 503; }, seconds(5)));
  EXPECT_NE(api.admin_get("/readyz?verbose").body.find("[-]faults failed: fault switch not_ready"),
            std::string::npos);
  const std::string metrics = api.metrics();
  EXPECT_EQ(metric(metrics, "service_ready"), 0);
  EXPECT_TRUE(metric(metrics, "service_time_to_ready_seconds")) << "it was ready in this process";
  EXPECT_EQ(ShopSystem::post_order(api, R"({"item": "pen", "quantity": 1})").status, 201);
  ASSERT_EQ(api.set_fault(R"({"not_ready": false})"), 200);
  EXPECT_TRUE(eventually([&] { return api.admin_get("/readyz").status == 200; }, seconds(5)));
}

TEST(Faults, StallStopsProgressWhileTheHeartbeatGoesOnAndTheQueueGrows) {
  ShopSystem shop;
  Service api = shop.start_api();
  Service worker = shop.start_worker();
  ASSERT_EQ(ShopSystem::post_order(api, R"({"item": "pen", "quantity": 1})").status, 201);
  ASSERT_TRUE(
      eventually([&] { return !worker.process->logs("invoice_created").empty(); }, seconds(5)));
  const double last_success = *worker.metric("worker_last_success_timestamp_seconds", kOrders);

  ASSERT_EQ(worker.set_fault(R"({"stall": true})"), 200);
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(ShopSystem::post_order(api, R"({"item": "pen", "quantity": 1})").status, 201);
  ASSERT_TRUE(eventually([&] { return worker.metric("queue_depth", kOrders) == 5; }, seconds(5)));
  const double heartbeat = *worker.metric("worker_heartbeat_timestamp_seconds");
  std::this_thread::sleep_for(milliseconds(400));
  const std::string metrics = worker.metrics();
  EXPECT_GT(*metric(metrics, "worker_heartbeat_timestamp_seconds"), heartbeat);
  EXPECT_EQ(metric(metrics, "worker_last_success_timestamp_seconds", kOrders), last_success);
  EXPECT_EQ(metric(metrics, "queue_depth", kOrders), 5);
  EXPECT_GT(*metric(metrics, "queue_oldest_message_age_seconds", kOrders), 0.3);
  // A heartbeat alone is not progress, and not a reason to restart either.
  EXPECT_EQ(metric(metrics, "service_ready"), 1);
  EXPECT_EQ(worker.admin_get("/livez").status, 200);

  ASSERT_EQ(worker.set_fault(R"({"stall": false})"), 200);
  ASSERT_TRUE(eventually([&] { return worker.metric("queue_depth", kOrders) == 0; }, seconds(5)));
  EXPECT_GT(*worker.metric("worker_last_success_timestamp_seconds", kOrders), last_success);
}

TEST(Faults, SlowShiftsTheRoutesLatencyHistogram) {
  ShopSystem shop;
  Service api = shop.start_api();
  const auto created = ShopSystem::post_order(api, R"({"item": "rug", "quantity": 1})");
  ASSERT_EQ(created.status, 201);
  const std::string path =
      "/orders/" + std::to_string(nlohmann::json::parse(created.body)["id"].get<int>());
  const std::vector<std::pair<std::string, std::string>> route = {
      {"http_route", "/orders/{id}"}, {"http_response_status_code", "200"}};
  auto bucket = [&](const std::string& metrics, const char* le) {
    auto labels = route;
    labels.emplace_back("le", le);
    return metric(metrics, "http_server_request_duration_seconds_bucket", labels).value_or(-1);
  };

  for (int i = 0; i < 10; ++i) ASSERT_EQ(test::http_get(api.http, path).status, 200);
  const std::string before = api.metrics();
  EXPECT_EQ(bucket(before, "0.1"), 10) << "fast before the fault";

  ASSERT_EQ(api.set_fault(R"({"slow_ms": 300})"), 200);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(test::http_get(api.http, path).status, 200);
  const std::string after = api.metrics();
  EXPECT_EQ(bucket(after, "0.25"), bucket(before, "0.25")) << "none of the slow ones under 250 ms";
  EXPECT_EQ(bucket(after, "+Inf"), 14);
  EXPECT_GE(*metric(after, "http_server_request_duration_seconds_sum", route) -
                *metric(before, "http_server_request_duration_seconds_sum", route),
            1.2);
  // Only latency moved: no errors, still ready.
  EXPECT_FALSE(metric(after, "http_server_request_duration_seconds_count",
                      {{"http_response_status_code", "500"}}));
  EXPECT_EQ(metric(after, "service_ready"), 1);
}

TEST(Faults, ErrorRateAnswers500AndTheErrorsAreRecorded) {
  ShopSystem shop;
  Service api = shop.start_api({"--fault", "error_rate=1"});
  const auto res = ShopSystem::post_order(api, R"({"item": "pen", "quantity": 1})");
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.header("Content-Type"), "application/problem+json");
  EXPECT_EQ(api.metric("http_server_request_duration_seconds_count",
                       {{"http_route", "/orders"}, {"http_response_status_code", "500"}}),
            1);
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(*) FROM orders"), 0);
  ASSERT_EQ(api.set_fault(R"({"error_rate": 0})"), 200);
  EXPECT_EQ(ShopSystem::post_order(api, R"({"item": "pen", "quantity": 1})").status, 201);
}

TEST(Faults, FailRateRetriesMessagesUntilItIsCleared) {
  ShopSystem shop;
  Service api = shop.start_api();
  Service worker = shop.start_worker("shop-worker", {"--fault", "fail_rate=1"});
  ASSERT_EQ(ShopSystem::post_order(api, R"({"item": "pen", "quantity": 1})").status, 201);
  ASSERT_TRUE(eventually(
      [&] {
        return worker
                   .metric("messaging_process_duration_seconds_count",
                           {{"messaging_destination_name", "orders"}, {"outcome", "retry"}})
                   .value_or(0) >= 2;
      },
      seconds(5)));
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(*) FROM invoices"), 0);
  ASSERT_EQ(worker.set_fault(R"({"fail_rate": 0})"), 200);
  ASSERT_TRUE(eventually(
      [&] { return count_rows(shop.db(), "SELECT count(*) FROM invoices") == 1; }, seconds(5)));
}

// A stand-in for firebreak watch's check-in endpoint and a Pushgateway.
class Receiver {
 public:
  Receiver() {
    for (const char* path : {"/ping/shop-daily", "/ping/shop-daily/start", "/ping/shop-daily/fail"})
      server_.add_handler("POST", path, [this](const AdminRequest& req) {
        std::lock_guard lock(mu_);
        pings_.push_back(req.path);
        return AdminResponse{.body = "OK"};
      });
    server_.add_handler("PUT", "/metrics/job/shop-daily", [this](const AdminRequest& req) {
      std::lock_guard lock(mu_);
      pushes_.push_back(req.body);
      return AdminResponse{};
    });
    server_.start();
  }
  std::string url() const { return "http://" + server_.address(); }
  std::vector<std::string> pings() const {
    std::lock_guard lock(mu_);
    return pings_;
  }
  std::string last_push() const {
    std::lock_guard lock(mu_);
    return pushes_.empty() ? "" : pushes_.back();
  }

 private:
  AdminServer server_{{.address = "127.0.0.1:0"}};
  mutable std::mutex mu_;
  std::vector<std::string> pings_;   // guarded by mu_
  std::vector<std::string> pushes_;  // guarded by mu_
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(Faults, FailedDailyRunSetsTheFailureTimeAndSendsTheFailCheckIn) {
  ShopSystem shop;
  Receiver receiver;
  auto daily =
      shop.start_daily({"--fault", "fail", "--checkin-url", receiver.url() + "/ping/shop-daily",
                        "--pushgateway-url", receiver.url()});
  const auto status = daily->wait_exit(seconds(15));
  ASSERT_TRUE(status) << daily->stderr_text();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  EXPECT_EQ(receiver.pings(),
            (std::vector<std::string>{"/ping/shop-daily/start", "/ping/shop-daily/fail"}));
  const std::string push = receiver.last_push();
  // The job label comes from the URL's grouping key, as the Pushgateway's API has it.
  const auto failed_at = metric(push, "job_last_failure_timestamp_seconds");
  ASSERT_TRUE(failed_at) << push;
  EXPECT_NEAR(*failed_at, now_seconds(), 30);
  EXPECT_EQ(metric(push, "job_runs_total", {{"outcome", "failure"}}), 1);
  EXPECT_FALSE(metric(push, "job_runs_total", {{"outcome", "success"}}).value_or(0) > 0);
  const auto finished = daily->logs("job_finished");
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_NE(finished[0].dump().find("injected fault: fail"), std::string::npos) << finished[0];
}

TEST(Faults, ASlowDailyRunStaysOpenUntilTheSwitchIsCleared) {
  ShopSystem shop;
  Receiver receiver;
  auto daily = shop.start_daily({"--day", "today", "--fault", "slow_ms=600000", "--checkin-url",
                                 receiver.url() + "/ping/shop-daily"});
  const std::uint16_t admin = daily->wait_listening("admin");
  ASSERT_TRUE(eventually([&] { return !receiver.pings().empty(); }, seconds(10)));
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_TRUE(daily->running()) << "the run waits";
  EXPECT_EQ(receiver.pings(), std::vector<std::string>{"/ping/shop-daily/start"});
  // Cleared: the run goes on at once, does its work and checks in.
  ASSERT_EQ(test::http_request(admin, "POST", "/fault", {{"Content-Type", "application/json"}},
                               R"({"slow_ms": 0})")
                .status,
            200);
  const auto status = daily->wait_exit(seconds(10));
  ASSERT_TRUE(status) << daily->stderr_text();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << daily->stdout_text();
  EXPECT_EQ(receiver.pings(),
            (std::vector<std::string>{"/ping/shop-daily/start", "/ping/shop-daily"}));
}

TEST(Faults, ASuccessfulDailyRunWritesTheReportAndChecksIn) {
  ShopSystem shop;
  Receiver receiver;
  auto daily =
      shop.start_daily({"--day", "today", "--checkin-url", receiver.url() + "/ping/shop-daily",
                        "--pushgateway-url", receiver.url()});
  const auto status = daily->wait_exit(seconds(15));
  ASSERT_TRUE(status) << daily->stderr_text();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << daily->stdout_text();
  EXPECT_EQ(receiver.pings(),
            (std::vector<std::string>{"/ping/shop-daily/start", "/ping/shop-daily"}));
  EXPECT_GT(metric(receiver.last_push(), "job_last_success_timestamp_seconds").value_or(0), 0);
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(*) FROM daily_reports"), 1);
  const auto written = daily->logs("daily_report_written");
  ASSERT_EQ(written.size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(written[0].value("path", "")));
}

}  // namespace
}  // namespace firebreak::e2e
