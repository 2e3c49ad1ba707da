#include "firebreak/workload/job.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "workload/support.h"

namespace firebreak {
namespace {

using namespace std::chrono_literals;
using test::value_of;
using ::testing::HasSubstr;

std::map<std::string, std::string> job(const std::string& name) {
  return {{"job", name}};
}

bool is_uuid_v4(std::string_view s) {
  static const std::regex re(
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  return std::regex_match(std::string(s), re);
}

// No environment: the tests must not pick up FIREBREAK_* from the shell.
EnvLookup no_env() {
  return [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
}

class JobRunTest : public ::testing::Test {
 protected:
  JobOptions options(const std::string& name = "daily-report") {
    return {.name = name,
            .registry = &registry_,
            .delivery_backoff = 250ms,
            .delivery_timeout = 2000ms,
            .clock = &clock_,
            .tracer = &tracing_.tracer,
            .env = no_env(),
            .sleep = [this](std::chrono::milliseconds d) { sleeps_.push_back(d); }};
  }
  // Paths a check-in receiver for job `name` answers.
  void checkin_routes(const std::string& name) {
    for (const char* suffix : {"", "/start", "/fail", "/0", "/3"})
      receiver_.route("POST", "/ping/" + name + suffix);
  }

  test::TempDir dir_;
  ManualClock clock_;
  test::LogCapture logs_{dir_.path(), &clock_};
  test::MemoryTracer tracing_;
  Registry registry_;
  test::Receiver receiver_;
  std::vector<std::chrono::milliseconds> sleeps_;
};

TEST_F(JobRunTest, SuccessfulRunSetsStartSuccessDurationAndItems) {
  const double t0 = clock_.wall_seconds();
  std::string run_id;
  {
    JobRun run(options());
    ASSERT_TRUE(run.acquired());
    run_id = run.run_id();
    EXPECT_EQ(value_of(registry_, "job_last_start_timestamp_seconds", job("daily-report")), t0);
    clock_.advance(90s);
    run.add_items(5);
    run.add_items(2);
    EXPECT_EQ(value_of(registry_, "job_items_processed", job("daily-report")), 7.0);
    EXPECT_EQ(run.succeed(), 0);
    EXPECT_EQ(run.outcome(), JobOutcome::kSuccess);
    clock_.advance(10s);  // after the end: nothing moves
    EXPECT_EQ(run.fail("too late"), 0);
    EXPECT_EQ(run.outcome(), JobOutcome::kSuccess);
  }
  EXPECT_TRUE(is_uuid_v4(run_id));
  EXPECT_EQ(value_of(registry_, "job_last_success_timestamp_seconds", job("daily-report")),
            t0 + 90);
  EXPECT_EQ(value_of(registry_, "job_last_failure_timestamp_seconds", job("daily-report")), 0.0);
  EXPECT_EQ(value_of(registry_, "job_last_duration_seconds", job("daily-report")), 90.0);
  EXPECT_EQ(value_of(registry_, "job_items_processed", job("daily-report")), 7.0);
  EXPECT_EQ(value_of(registry_, "job_runs", {{"job", "daily-report"}, {"outcome", "success"}}),
            1.0);
  EXPECT_FALSE(value_of(registry_, "job_runs", {{"job", "daily-report"}, {"outcome", "failure"}}));

  auto started = logs_.events("job_started");
  auto finished = logs_.events("job_finished");
  ASSERT_EQ(started.size(), 1u);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(started[0]["job"], "daily-report");
  EXPECT_EQ(started[0]["job_run_id"], run_id);
  EXPECT_EQ(finished[0]["job_run_id"], run_id);
  EXPECT_EQ(finished[0]["outcome"], "success");
  EXPECT_EQ(finished[0]["exit_status"], 0);
  EXPECT_EQ(finished[0]["duration_s"], 90.0);
  EXPECT_EQ(finished[0]["items"], 7);

  auto spans = tracing_.spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].name(), "job daily-report");
  EXPECT_FALSE(spans[0].parent_span_id().valid());
  EXPECT_EQ(spans[0].find_attribute("job.run_id")->as_string(), run_id);
  EXPECT_EQ(spans[0].find_attribute("job.items")->as_int(), 7);
  EXPECT_EQ(finished[0]["trace_id"], spans[0].trace_id().to_hex());
}

TEST_F(JobRunTest, ExceptionInTheBodyFailsTheRun) {
  const double t0 = clock_.wall_seconds();
  const int status = run_job(options(), [&](JobRun& run) {
    run.add_items(3);
    clock_.advance(12s);
    throw std::runtime_error("orders table is locked");
  });
  EXPECT_EQ(status, kJobExitFailure);
  EXPECT_EQ(value_of(registry_, "job_last_failure_timestamp_seconds", job("daily-report")),
            t0 + 12);
  EXPECT_EQ(value_of(registry_, "job_last_success_timestamp_seconds", job("daily-report")), 0.0);
  EXPECT_EQ(value_of(registry_, "job_last_duration_seconds", job("daily-report")), 12.0);
  EXPECT_EQ(value_of(registry_, "job_runs", {{"job", "daily-report"}, {"outcome", "failure"}}),
            1.0);
  auto finished = logs_.events("job_finished");
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0]["level"], "error");
  EXPECT_EQ(finished[0]["outcome"], "failure");
  EXPECT_EQ(finished[0]["reason"], "orders table is locked");
  auto spans = tracing_.spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].status_code(), StatusCode::kError);
}

TEST_F(JobRunTest, RunDestroyedByAnExceptionFails) {
  try {
    JobRun run(options());
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(value_of(registry_, "job_runs", {{"job", "daily-report"}, {"outcome", "failure"}}),
            1.0);
  EXPECT_EQ(logs_.events("job_finished").at(0)["reason"], "exception");
}

TEST_F(JobRunTest, RunJobMapsReturnValues) {
  EXPECT_EQ(run_job(options(), [](JobRun&) {}), 0);
  EXPECT_EQ(run_job(options(), [](JobRun&) { return false; }), 1);
  EXPECT_EQ(run_job(options(), [](JobRun&) { return 4; }), 4);
  EXPECT_EQ(run_job(options(), [](JobRun&) { return 0; }), 0);
  EXPECT_EQ(value_of(registry_, "job_runs", {{"job", "daily-report"}, {"outcome", "success"}}),
            2.0);
  EXPECT_EQ(value_of(registry_, "job_runs", {{"job", "daily-report"}, {"outcome", "failure"}}),
            2.0);
}

TEST_F(JobRunTest, ExitStatusOutsideTheByteRangeIsOne) {
  JobRun run(options());
  EXPECT_EQ(run.finish(300), 1);
  EXPECT_EQ(run.outcome(), JobOutcome::kFailure);
}

TEST_F(JobRunTest, SuccessCheckInsGoToStartThenTheUrl) {
  checkin_routes("daily-report");
  receiver_.start();
  auto o = options();
  o.checkin_url = receiver_.base() + "/ping/daily-report";
  std::string run_id;
  {
    JobRun run(std::move(o));
    run_id = run.run_id();
    run.add_items(2);
    run.succeed();
  }
  auto got = receiver_.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].path, "/ping/daily-report/start");
  EXPECT_EQ(got[0].rid, run_id);
  EXPECT_EQ(got[1].path, "/ping/daily-report");
  EXPECT_EQ(got[1].rid, run_id);
  EXPECT_THAT(got[1].body, HasSubstr("outcome=success"));
  EXPECT_THAT(got[1].body, HasSubstr("items=2"));
  EXPECT_TRUE(logs_.events("job_checkin_failed").empty());
}

TEST_F(JobRunTest, FailedRunChecksInToFail) {
  checkin_routes("daily-report");
  receiver_.start();
  auto o = options();
  o.checkin_url = receiver_.base() + "/ping/daily-report/";  // a trailing slash is fine
  run_job(std::move(o), [](JobRun&) { throw std::runtime_error("disk full"); });
  auto got = receiver_.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].path, "/ping/daily-report/start");
  EXPECT_EQ(got[1].path, "/ping/daily-report/fail");
  EXPECT_EQ(got[0].rid, got[1].rid);
  EXPECT_THAT(got[1].body, HasSubstr("reason=disk full"));
}

TEST_F(JobRunTest, ExplicitExitStatusChecksInWithIt) {
  checkin_routes("daily-report");
  receiver_.start();
  auto o = options();
  o.checkin_url = receiver_.base() + "/ping/daily-report";
  EXPECT_EQ(run_job(std::move(o), [](JobRun&) { return 3; }), 3);
  auto got = receiver_.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].path, "/ping/daily-report/start");
  EXPECT_EQ(got[1].path, "/ping/daily-report/3");
  EXPECT_THAT(got[1].body, HasSubstr("exit_status=3"));
}

TEST_F(JobRunTest, UnreachableReceiverDoesNotFailTheJob) {
  auto o = options();
  o.checkin_url = "http://127.0.0.1:" + std::to_string(test::closed_port()) + "/ping/daily-report";
  const int status = run_job(std::move(o), [](JobRun& run) { run.add_items(1); });
  EXPECT_EQ(status, 0);
  EXPECT_EQ(value_of(registry_, "job_runs", {{"job", "daily-report"}, {"outcome", "success"}}),
            1.0);
  // Three attempts for each of the two check-ins, with a doubling backoff.
  EXPECT_EQ(sleeps_, (std::vector<std::chrono::milliseconds>{250ms, 500ms, 250ms, 500ms}));
  auto failed = logs_.events("job_checkin_failed");
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0]["level"], "warn");
  EXPECT_EQ(failed[0]["attempts"], 3);
  EXPECT_THAT(failed[0]["url"].get<std::string>(), HasSubstr("/ping/daily-report/start?rid="));
  EXPECT_THAT(failed[1]["url"].get<std::string>(), HasSubstr("/ping/daily-report?rid="));
  EXPECT_FALSE(failed[0]["error"].get<std::string>().empty());
}

TEST_F(JobRunTest, RetryableStatusIsRetriedAndAClientErrorIsNot) {
  checkin_routes("daily-report");
  receiver_.start();
  receiver_.set_statuses({503, 200, 404});
  auto o = options();
  o.checkin_url = receiver_.base() + "/ping/daily-report";
  run_job(std::move(o), [](JobRun&) {});
  auto got = receiver_.requests();
  ASSERT_EQ(got.size(), 3u);  // start (503), start again (200), end (404: not retried)
  EXPECT_EQ(got[0].path, "/ping/daily-report/start");
  EXPECT_EQ(got[1].path, "/ping/daily-report/start");
  EXPECT_EQ(got[2].path, "/ping/daily-report");
  EXPECT_EQ(sleeps_, (std::vector<std::chrono::milliseconds>{250ms}));
  auto failed = logs_.events("job_checkin_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["error"], "HTTP status 404");
}

// Parses the Prometheus text format loosely: sample name{labels} value.
std::map<std::string, double> samples(const std::string& body) {
  std::map<std::string, double> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

TEST_F(JobRunTest, PushSendsTheJobFamiliesAtStartAndEnd) {
  receiver_.route("PUT", "/metrics/job/daily-report");
  receiver_.start();
  // Another job's series in the same registry must not be pushed.
  registry_.gauge({.name = "job_items_processed", .help = "x", .labels = {"job"}})
      .labels("other")
      .set(99);
  registry_.counter({.name = "orders_total", .help = "Not a job family."}).labels().inc();
  auto o = options();
  o.pushgateway_url = receiver_.base();
  const double t0 = clock_.wall_seconds();
  run_job(std::move(o), [&](JobRun& run) {
    clock_.advance(30s);
    run.add_items(11);
  });
  auto got = receiver_.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].method, "PUT");
  EXPECT_THAT(got[0].content_type, HasSubstr("text/plain; version=0.0.4"));
  auto start = samples(got[0].body);
  EXPECT_EQ(start["job_last_start_timestamp_seconds"], t0);
  auto end = samples(got[1].body);
  EXPECT_EQ(end["job_last_start_timestamp_seconds"], t0);
  EXPECT_EQ(end["job_last_success_timestamp_seconds"], t0 + 30);
  EXPECT_EQ(end["job_last_duration_seconds"], 30.0);
  EXPECT_EQ(end["job_items_processed"], 11.0);
  EXPECT_EQ(end["job_runs_total{outcome=\"success\"}"], 1.0);
  for (const char* family :
       {"# TYPE job_last_start_timestamp_seconds gauge",
        "# TYPE job_last_success_timestamp_seconds gauge",
        "# TYPE job_last_failure_timestamp_seconds gauge", "# TYPE job_last_duration_seconds gauge",
        "# TYPE job_items_processed gauge", "# TYPE job_runs_total counter"})
    EXPECT_THAT(got[1].body, HasSubstr(family));
  // The grouping key carries the job; the samples do not repeat it.
  EXPECT_THAT(got[1].body, ::testing::Not(HasSubstr("job=")));
  EXPECT_THAT(got[1].body, ::testing::Not(HasSubstr("99")));
  EXPECT_THAT(got[1].body, ::testing::Not(HasSubstr("orders_total")));
}

TEST_F(JobRunTest, PushAddLeavesNeverSetTimestampsOut) {
  receiver_.route("POST", "/metrics/job/daily-report");
  receiver_.start();
  auto o = options();
  o.registry = nullptr;  // a one-shot process: the run's own registry
  o.pushgateway_url = receiver_.base();
  o.push_method = PushMethod::kPost;
  run_job(std::move(o), [](JobRun&) { throw std::runtime_error("failed"); });
  auto got = receiver_.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].method, "POST");
  auto end = samples(got[1].body);
  EXPECT_TRUE(end.count("job_last_failure_timestamp_seconds"));
  EXPECT_TRUE(end.count("job_last_start_timestamp_seconds"));
  // Not known to this process: not pushed, so the gateway keeps its value.
  EXPECT_FALSE(end.count("job_last_success_timestamp_seconds"));
  EXPECT_FALSE(samples(got[0].body).count("job_last_duration_seconds"));
}

TEST_F(JobRunTest, PushgatewayUrlEncodesTheJobName) {
  EXPECT_EQ(pushgateway_job_url("http://pg:9091", "daily"), "http://pg:9091/metrics/job/daily");
  EXPECT_EQ(pushgateway_job_url("http://pg:9091/", "daily report"),
            "http://pg:9091/metrics/job/daily%20report");
  EXPECT_EQ(pushgateway_job_url("http://pg:9091", "a/b"), "http://pg:9091/metrics/job@base64/YS9i");
  EXPECT_EQ(pushgateway_job_url("http://pg:9091", "backup/db?"),
            "http://pg:9091/metrics/job@base64/YmFja3VwL2RiPw==");
}

TEST_F(JobRunTest, LockPreventsOverlappingRuns) {
  checkin_routes("daily-report");
  receiver_.start();
  auto o = options();
  o.lock_file = (dir_.path() / "daily.lock").string();
  o.checkin_url = receiver_.base() + "/ping/daily-report";
  {
    JobRun first(o);
    ASSERT_TRUE(first.acquired());
    bool body_ran = false;
    const int second = run_job(o, [&](JobRun&) { body_ran = true; });
    EXPECT_EQ(second, kJobExitLocked);
    EXPECT_FALSE(body_ran);
    JobRun third(o);
    EXPECT_FALSE(third.acquired());
    EXPECT_EQ(third.outcome(), JobOutcome::kSkipped);
    EXPECT_EQ(third.succeed(), kJobExitLocked);  // ending a locked-out run does nothing
    first.succeed();
  }
  EXPECT_EQ(value_of(registry_, "job_runs", {{"job", "daily-report"}, {"outcome", "skipped"}}),
            2.0);
  EXPECT_EQ(value_of(registry_, "job_runs", {{"job", "daily-report"}, {"outcome", "success"}}),
            1.0);
  // Only the run holding the lock checked in.
  EXPECT_EQ(receiver_.requests().size(), 2u);
  auto locked = logs_.events("job_locked");
  ASSERT_EQ(locked.size(), 2u);
  EXPECT_EQ(locked[0]["level"], "error");
  EXPECT_EQ(locked[0]["exit_status"], kJobExitLocked);
  // Released at the end: the next run gets it.
  JobRun next(o);
  EXPECT_TRUE(next.acquired());
}

TEST_F(JobRunTest, EnvironmentOverridesTheCode) {
  std::map<std::string, std::string> env = {
      {"FIREBREAK_JOB_CHECKIN_URL", "http://watch:9095/ping/x"},
      {"FIREBREAK_PUSHGATEWAY_URL", ""},
      {"FIREBREAK_JOB_LOCK_FILE", "/tmp/x.lock"}};
  JobOptions o = options();
  o.pushgateway_url = "http://pg:9091";
  o.env = [&](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  JobOptions r = resolve_job_options(o);
  EXPECT_EQ(r.checkin_url, "http://watch:9095/ping/x");
  EXPECT_EQ(r.pushgateway_url, "");  // an empty variable turns it off
  EXPECT_EQ(r.lock_file, "/tmp/x.lock");
}

TEST_F(JobRunTest, BadConfigurationIsRejectedAtStart) {
  auto expect_error = [&](JobOptions o, const std::string& fragment) {
    try {
      JobRun run(std::move(o));
      ADD_FAILURE() << "no error for " << fragment;
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), HasSubstr(fragment));
    }
  };
  auto o = options();
  o.name = "";
  expect_error(o, "name is required");
  o = options();
  o.checkin_url = "ftp://hc-ping.com/uuid";
  expect_error(o, "FIREBREAK_JOB_CHECKIN_URL");
  o = options();
  o.pushgateway_url = "pushgateway:9091";
  expect_error(o, "FIREBREAK_PUSHGATEWAY_URL");
  o = options();
  o.lock_file = (dir_.path() / "no-such-dir" / "x.lock").string();
  expect_error(o, "cannot open lock file");
}

}  // namespace
}  // namespace firebreak
