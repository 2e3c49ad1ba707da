// Peer test: a real Prometheus Pushgateway (Debian's prometheus-pushgateway)
// takes the job runs' pushes, and its /metrics shows the job_* families under
// the job's grouping key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "firebreak/http_client.h"
#include "firebreak/workload/job.h"
#include "support/child_process.h"
#include "workload/support.h"

#ifndef FIREBREAK_PUSHGATEWAY
#define FIREBREAK_PUSHGATEWAY "prometheus-pushgateway"
#endif

namespace firebreak {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class PushgatewayPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = test::closed_port();
    base_ = "http://127.0.0.1:" + std::to_string(port_);
    gateway_.emplace(std::vector<std::string>{
        FIREBREAK_PUSHGATEWAY, "--web.listen-address=127.0.0.1:" + std::to_string(port_),
        "--persistence.file=", "--log.level=warn"});
    HttpClient client;
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (client.get(base_ + "/-/ready", {}, 1000ms).ok()) return;
      ASSERT_TRUE(gateway_->running()) << "pushgateway exited: " << gateway_->read_stderr(1000ms);
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "pushgateway not ready on " << base_;
  }

  // The gateway's /metrics lines for `job`.
  std::vector<std::string> lines_for(const std::string& job) {
    HttpClient client;
    HttpResponse r = client.get(base_ + "/metrics");
    EXPECT_TRUE(r.ok()) << r.error << " " << r.status;
    std::vector<std::string> out;
    std::istringstream in(r.body);
    for (std::string line; std::getline(in, line);)
      if (line.find("job=\"" + job + "\"") != std::string::npos) out.push_back(line);
    return out;
  }

  // The value of the sample of `name` (any labels) for `job`, nullopt if absent.
  std::optional<double> sample(const std::string& job, const std::string& name,
                               const std::string& extra_label = {}) {
    for (const auto& line : lines_for(job)) {
      if (!line.starts_with(name + "{")) continue;
      if (!extra_label.empty() && line.find(extra_label) == std::string::npos) continue;
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return std::nullopt;
  }

  JobOptions options(const std::string& name) {
    return {.name = name,
            .pushgateway_url = base_,
            .clock = &clock_,
            .env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; }};
  }

  test::TempDir dir_;
  test::LogCapture logs_{dir_.path()};
  std::uint16_t port_ = 0;
  std::string base_;
  std::optional<test::ChildProcess> gateway_;
  ManualClock clock_;
};

TEST_F(PushgatewayPeerTest, GatewayShowsTheRunsJobFamilies) {
  const double t0 = clock_.wall_seconds();
  ASSERT_EQ(run_job(options("peer-daily"),
                    [&](JobRun& run) {
                      clock_.advance(42s);
                      run.add_items(17);
                    }),
            0);
  EXPECT_TRUE(logs_.events("job_push_failed").empty());
  EXPECT_EQ(sample("peer-daily", "job_last_start_timestamp_seconds"), t0);
  EXPECT_EQ(sample("peer-daily", "job_last_success_timestamp_seconds"), t0 + 42);
  EXPECT_EQ(sample("peer-daily", "job_last_duration_seconds"), 42.0);
  EXPECT_EQ(sample("peer-daily", "job_items_processed"), 17.0);
  EXPECT_EQ(sample("peer-daily", "job_runs_total", "outcome=\"success\""), 1.0);
  // The gateway adds its own push-time series for the group.
  EXPECT_TRUE(sample("peer-daily", "push_time_seconds"));
  EXPECT_TRUE(sample("peer-daily", "push_failure_time_seconds"));
}

TEST_F(PushgatewayPeerTest, PutReplacesTheGroupAndPostAddsToIt) {
  ASSERT_EQ(run_job(options("peer-replace"), [](JobRun&) {}), 0);
  ASSERT_TRUE(sample("peer-replace", "job_last_success_timestamp_seconds"));
  clock_.advance(1h);
  // PUT (default) from a fresh process: the group is what this run knows.
  run_job(options("peer-replace"), [](JobRun&) { return false; });
  EXPECT_EQ(sample("peer-replace", "job_last_success_timestamp_seconds"), 0.0);
  EXPECT_EQ(sample("peer-replace", "job_runs_total", "outcome=\"failure\""), 1.0);
  EXPECT_FALSE(sample("peer-replace", "job_runs_total", "outcome=\"success\""));

  // POST keeps the last success across a failed run.
  ASSERT_EQ(run_job(options("peer-add"), [](JobRun&) {}), 0);
  const auto success = sample("peer-add", "job_last_success_timestamp_seconds");
  ASSERT_TRUE(success);
  clock_.advance(1h);
  auto o = options("peer-add");
  o.push_method = PushMethod::kPost;
  run_job(std::move(o), [](JobRun&) { return false; });
  EXPECT_EQ(sample("peer-add", "job_last_success_timestamp_seconds"), success);
  EXPECT_EQ(sample("peer-add", "job_last_failure_timestamp_seconds"), *success + 3600);
}

TEST_F(PushgatewayPeerTest, JobNamesWithSlashesAndSpacesRoundTrip) {
  ASSERT_EQ(run_job(options("reports/daily eu"), [](JobRun&) {}), 0);
  EXPECT_TRUE(logs_.events("job_push_failed").empty());
  EXPECT_TRUE(sample("reports/daily eu", "job_last_success_timestamp_seconds"));
}

TEST_F(PushgatewayPeerTest, GatewayDownIsLoggedAndTheJobSucceeds) {
  gateway_.reset();  // killed
  auto o = options("peer-down");
  o.delivery_backoff = 1ms;
  EXPECT_EQ(run_job(std::move(o), [](JobRun&) {}), 0);
  EXPECT_EQ(logs_.events("job_push_failed").size(), 2u);  // start and end
}

}  // namespace
}  // namespace firebreak
