// End to end: `firebreak watch` against a small Python service instrumented
// with prometheus_client only (tests/e2e/python_service.py: an API, a worker
// and a scheduled job), so watch is proven on a service it did not
// instrument: OpenMetrics from another client library, readiness known only
// from probing /readyz and prometheus_client's process_start_time_seconds,
// job metrics pushed with prometheus_client's push_to_gateway. Same
// scaled-down configuration and bounds as watch_shop_test.cc: each fault
// pages through a real webhook within one scrape interval + one evaluation
// interval + the rule's `for` of the moment its condition held in watch's
// data (the rule's expression over the recent past, through watch's API),
// then resolves once cleared; harmless perturbations page nobody. The measured
// detection latencies are printed ("detection_latency ...") and, with
// FIREBREAK_LATENCY_REPORT=FILE, appended to FILE.
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "e2e/watch_harness.h"
#include "support/http_client.h"
#include "watch/config/config.h"
#include "watch/rulepack/rule_pack.h"
#include "watch/rules/rule_file.h"
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
  std::uint16_t worker = test::closed_port();
};

std::string watch_config(const Ports& p, const std::string& hook_url) {
  return fast_watch_config(
      target_yaml("py-api", "api", p.api,
                  "{down_for: 3s, startup_budget: 4s, not_ready_for: 4s,"
                  " latency_objective: 200ms, latency_for: 8s}") +
          target_yaml("py-worker", "worker", p.worker,
                      "{down_for: 3s, startup_budget: 4s, not_ready_for: 4s, stall_for: 4s,"
                      " heartbeat_max_age: 3s, queue_lag: 60s, queue_lag_for: 30s}"),
      "  - {name: py-job, schedule: 3s, grace: 2s, max_run_time: 5s}\n", hook_url);
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// One python_service.py process, with its HTTP port.
struct PyService {
  std::unique_ptr<ShopProcess> process;
  std::uint16_t port = 0;

  int set_fault(const std::string& json) const {
    return test::http_request(port, "POST", "/fault", {{"Content-Type", "application/json"}}, json)
        .status;
  }
};

class WatchPythonTest : public WatchPagesTest {
 protected:
  WatchPythonTest() : WatchPagesTest(kScrape, kEval, kSlack) {
    yaml_ = watch_config(ports_, hook_.url());
  }

  PyService start_service(const std::string& name, std::uint16_t port,
                          std::vector<std::string> args) {
    args.insert(args.begin(), {PYTHON_SERVICE, "--port", std::to_string(port)});
    PyService s;
    s.process = std::make_unique<ShopProcess>(name, FIREBREAK_PYTHON3, args, dir_.path());
    s.port = s.process->wait_listening("http");
    return s;
  }

  PyService start_api(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--mode", "api"});
    return start_service("py-api", ports_.api, extra);
  }

  PyService start_worker(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--mode", "worker"});
    return start_service("py-worker", ports_.worker, extra);
  }

  PyService start_job(std::vector<std::string> extra) {
    extra.insert(extra.begin(),
                 {"--mode", "job", "--job", "py-job", "--checkin-url",
                  watch_->url() + "/ping/py-job", "--pushgateway-url", watch_->url()});
    return start_service("py-job", 0, extra);
  }

  // The first value of `promql`, waiting up to `timeout` for one.
  std::optional<double> query_value(const std::string& promql, milliseconds timeout = 5s) {
    std::optional<double> v;
    eventually(
        [&] {
          const auto vs = values(watch_->query(promql));
          if (vs.empty()) return false;
          v = vs.front();
          return true;
        },
        timeout);
    return v;
  }

  Ports ports_;
};

TEST_F(WatchPythonTest, AHealthyPythonSystemWithHarmlessPerturbationsPagesNobody) {
  start_watch();
  auto api = start_api();
  auto worker = start_worker();
  // Every 4 s against a schedule of 3 s with 2 s of grace: late each time, within grace.
  auto job = start_job({"--every", "4"});
  std::this_thread::sleep_for(5s);

  // A 2 s latency spike, shorter than ApiLatencyHigh's `for` minus its
  // window (8 s - 4 s); watch sees it (p95 over the objective for a while)
  // and holds.
  ASSERT_EQ(api.set_fault(R"({"slow_ms": 400})"), 200);
  std::this_thread::sleep_for(2000ms);
  ASSERT_EQ(api.set_fault(R"({"slow_ms": 0})"), 200);
  EXPECT_TRUE(eventually(
      [&] {
        return !values(watch_->query("histogram_quantile(0.95, sum by (le) (rate("
                                     "http_server_request_duration_seconds_bucket{job=\"py-api\"}"
                                     "[4s]))) > 0.2"))
                    .empty();
      },
      4s))
      << "the latency spike was not seen";

  // An idle worker with an empty queue, longer than the stall threshold:
  // no progress for stall_for, but nothing waits.
  ASSERT_EQ(worker.set_fault(R"({"idle": true})"), 200);
  std::this_thread::sleep_for(6s);
  EXPECT_FALSE(
      values(watch_->query("time() - worker_last_success_timestamp_seconds{job=\"py-worker\"} > 4"))
          .empty());
  EXPECT_EQ(values(watch_->query("queue_depth{job=\"py-worker\"}")), std::vector<double>{0.0});
  ASSERT_EQ(worker.set_fault(R"({"idle": false})"), 200);

  // A slow worker that still progresses: each message takes 1.5 s (the
  // queue grows: 10 fed a second), within the heartbeat's 3 s and the stall
  // limit's 4 s.
  ASSERT_EQ(worker.set_fault(R"({"slow_ms": 1500})"), 200);
  std::this_thread::sleep_for(7s);
  EXPECT_FALSE(values(watch_->query("queue_depth{job=\"py-worker\"} > 10")).empty())
      << "the slow worker did not fall behind";
  EXPECT_FALSE(
      values(watch_->query("time() - worker_last_success_timestamp_seconds{job=\"py-worker\"} < 3"))
          .empty())
      << "the slow worker stopped progressing";
  ASSERT_EQ(worker.set_fault(R"({"slow_ms": 0})"), 200);

  // Failed scrapes: the api frozen for 2 s, longer than the scrape timeout
  // (800 ms) plus an interval, so at least one scrape fails; fewer than
  // down_for's.
  api.process->send_signal(SIGSTOP);
  std::this_thread::sleep_for(2000ms);
  api.process->send_signal(SIGCONT);
  std::this_thread::sleep_for(1000ms);
  EXPECT_EQ(values(watch_->query("min_over_time(up{job=\"py-api\"}[5s])")),
            std::vector<double>{0.0})
      << "no scrape failed while the api was stopped";

  // A restart that is ready within its start-up budget (SIGTERM: not ready,
  // drain, exit; the new process binds the same port).
  api.process->send_signal(SIGTERM);
  ASSERT_TRUE(api.process->wait_exit(5s).has_value());
  api = start_api();
  std::this_thread::sleep_for(8s);

  // Everything was scraped and probed through prometheus_client's output...
  EXPECT_EQ(values(watch_->query("up == 1")).size(), 2u);
  EXPECT_EQ(values(watch_->query("probe_success == 1")).size(), 2u);
  EXPECT_EQ(values(watch_->query("job_checkin_state{job=\"py-job\"}")).size(), 1u);
  EXPECT_FALSE(
      values(
          watch_->query("sum(rate(http_server_request_duration_seconds_count{job=\"py-api\"}[4s]))"
                        " > 5"))
          .empty())
      << "the simulated traffic (~20 requests/s) is not seen";
  // ...the restarted api was seen as ready since its own start (the probe
  // path of ServiceNeverReady: a success after process_start_time_seconds)...
  EXPECT_EQ(values(watch_->query("firebreak:probe_last_success_timestamp_seconds{job=\"py-api\"}"
                                 " >= on(job, instance) process_start_time_seconds"))
                .size(),
            1u);
  EXPECT_EQ(values(watch_->query("changes(process_start_time_seconds{job=\"py-api\"}[1m])")),
            std::vector<double>{1.0});
  // ...OpenMetrics families of every type prometheus_client writes read as
  // Prometheus would (info, counter with _total and _created)...
  EXPECT_EQ(values(watch_->query("target_info{job=\"py-api\", workload=\"api\"}")),
            std::vector<double>{1.0});
  EXPECT_EQ(
      values(watch_->query("rate(process_cpu_seconds_total{job=\"py-worker\"}[5s]) >= 0")).size(),
      1u);
  EXPECT_FALSE(values(watch_->query("http_server_request_duration_seconds_created{job=\"py-api\"}"))
                   .empty());
  // ...the job's pushes arrived...
  EXPECT_EQ(values(watch_->query("job_last_success_timestamp_seconds{job=\"py-job\"}")).size(), 1u);
  // ...and nothing paged.
  for (const auto& a : hook_.alerts())
    ADD_FAILURE() << "paged: " << a.alertname << " " << a.status << " " << a.labels.dump();
  EXPECT_TRUE(watch_->alerts("firing").empty());
  EXPECT_TRUE(hook_.malformed().empty());
}

TEST_F(WatchPythonTest, AnApiThatNeverGetsReadyPagesThroughTheProbeThenResolves) {
  start_watch();
  const SteadyTime launched = std::chrono::steady_clock::now();
  auto api = start_api({"--fault", "never_ready"});
  // The condition can hold once the process is older than its start-up
  // budget; prometheus_client's process_start_time_seconds is
  // /proc/stat's btime (whole seconds, rounded down) plus the start in
  // clock ticks, so it may read up to 1 s early.
  ASSERT_TRUE(
      expect_page("py_never_ready", "ServiceNeverReady", "py-api", launched, launched + 4s - 1s));
  // No service_ready (that is the kit's): watch knew from the probe and the start time.
  EXPECT_TRUE(values(watch_->query("service_ready{job=\"py-api\"}")).empty());
  EXPECT_EQ(values(watch_->query("probe_success{job=\"py-api\"}")), std::vector<double>{0.0});
  ASSERT_EQ(api.set_fault(R"({"never_ready": false})"), 200);
  expect_resolved("ServiceNeverReady", "py-api");
  expect_only("ServiceNeverReady", "py-api");
}

TEST_F(WatchPythonTest, ARestartThatNeverGetsReadyPagesThoughThePreviousProcessWasReady) {
  start_watch();
  auto api = start_api();
  ASSERT_TRUE(eventually(
      [&] {
        return !values(
                    watch_->query("firebreak:probe_last_success_timestamp_seconds{job=\"py-api\"}"
                                  " >= on(job, instance) process_start_time_seconds"))
                    .empty();
      },
      10s));
  api.process->send_signal(SIGTERM);
  ASSERT_TRUE(api.process->wait_exit(5s).has_value());
  const SteadyTime launched = std::chrono::steady_clock::now();
  api = start_api({"--fault", "never_ready"});
  // Scoped to the new process: the old one's successful probes do not count.
  ASSERT_TRUE(expect_page("py_restart_never_ready", "ServiceNeverReady", "py-api", launched,
                          launched + 4s - 1s));
  ASSERT_EQ(api.set_fault(R"({"never_ready": false})"), 200);
  expect_resolved("ServiceNeverReady", "py-api");
  expect_only("ServiceNeverReady", "py-api");
}

TEST_F(WatchPythonTest, ASlowApiPagesThenResolvesWhenFastAgain) {
  start_watch();
  auto api = start_api();
  std::this_thread::sleep_for(4s);
  ASSERT_EQ(api.set_fault(R"({"slow_ms": 400})"), 200);
  const SteadyTime slow = std::chrono::steady_clock::now();
  const auto hook = expect_page("py_api_slow", "ApiLatencyHigh", "py-api", slow, slow);
  ASSERT_TRUE(hook);
  EXPECT_EQ(hook->labels.value("http_route", ""), "/items/{id}");
  ASSERT_EQ(api.set_fault(R"({"slow_ms": 0})"), 200);
  expect_resolved("ApiLatencyHigh", "py-api");
  expect_only("ApiLatencyHigh", "py-api");
}

TEST_F(WatchPythonTest, AStalledWorkerPagesThenResolvesWhenItMovesAgain) {
  start_watch();
  auto worker = start_worker();
  std::this_thread::sleep_for(3s);
  ASSERT_EQ(worker.set_fault(R"({"stall": true})"), 200);
  const SteadyTime stalled = std::chrono::steady_clock::now();
  // No message finished since `stalled`, messages waiting: true once the
  // newest progress is stall_for old. The heartbeat goes on: only the
  // no-progress branch can see this.
  const auto hook =
      expect_page("py_worker_stall", "WorkerStalled", "py-worker", stalled, stalled + 4s);
  ASSERT_TRUE(hook);
  EXPECT_EQ(hook->labels.value("reason", ""), "no_progress");
  EXPECT_EQ(hook->labels.value("messaging_destination_name", ""), "orders");
  ASSERT_EQ(worker.set_fault(R"({"stall": false})"), 200);
  expect_resolved("WorkerStalled", "py-worker");
  expect_only("WorkerStalled", "py-worker");
}

TEST_F(WatchPythonTest, AFailingJobPagesThenResolvesWhenARunSucceedsAndItsPushesAreQueryable) {
  start_watch();
  const SteadyTime launched = std::chrono::steady_clock::now();
  auto job = start_job({"--every", "2", "--fault", "fail"});
  ASSERT_TRUE(expect_page("py_job_fail", "JobFailed", "py-job", launched, launched));
  // What push_to_gateway sent: failures, and no success yet.
  const auto failed_at = query_value("job_last_failure_timestamp_seconds{job=\"py-job\"}");
  ASSERT_TRUE(failed_at.has_value());
  EXPECT_NEAR(*failed_at, unix_now(), 30);
  EXPECT_TRUE(values(watch_->query("job_last_success_timestamp_seconds{job=\"py-job\"}")).empty());
  EXPECT_FALSE(
      values(watch_->query("job_runs_total{job=\"py-job\",outcome=\"error\"} >= 1")).empty());

  const double cleared = unix_now();
  ASSERT_EQ(job.set_fault(R"({"fail": false})"), 200);
  expect_resolved("JobFailed", "py-job");
  const auto succeeded_at = query_value("job_last_success_timestamp_seconds{job=\"py-job\"} > " +
                                        std::to_string(cleared));
  ASSERT_TRUE(succeeded_at.has_value()) << "the successful run's push is not queryable";
  EXPECT_FALSE(values(watch_->query("job_runs_total{job=\"py-job\",outcome=\"ok\"} >= 1")).empty());
  EXPECT_FALSE(values(watch_->query("job_last_duration_seconds{job=\"py-job\"} > 0")).empty());
  expect_only("JobFailed", "py-job");
}

// A job that never pings, only pushes with prometheus_client's
// push_to_gateway (issue 12): its pushed success is its check-in, so running
// on time it is never missing; its pushed failure pages JobFailed.
TEST_F(WatchPythonTest, AJobThatOnlyPushesIsNotMissingAndItsFailurePages) {
  start_watch();
  auto job = start_service(
      "py-job", 0,
      {"--mode", "job", "--job", "py-job", "--pushgateway-url", watch_->url(), "--every", "2"});
  // Five schedule periods (3 s, grace 2 s): without its pushes counting it
  // would be down after 5 s.
  std::this_thread::sleep_for(15s);
  for (const auto& a : hook_.alerts())
    if (a.labels.value("job", "") == "py-job")
      ADD_FAILURE() << "a push-only job running on time paged " << a.alertname << " " << a.status;
  EXPECT_EQ(query_value("job_checkin_state{job=\"py-job\"}"), 0);
  const SteadyTime broken = std::chrono::steady_clock::now();
  ASSERT_EQ(job.set_fault(R"({"fail": true})"), 200);
  ASSERT_TRUE(expect_page("py_job_push_only_fail", "JobFailed", "py-job", broken, broken));
  ASSERT_EQ(job.set_fault(R"({"fail": false})"), 200);
  expect_resolved("JobFailed", "py-job");
  expect_only("JobFailed", "py-job");
}

// The same push-only job, pushing at the start of each run too: a run that
// hangs pages JobRunTooLong (its pushed start opened the run), and a job
// that stops running pages JobMissedRun, with no ping ever sent.
TEST_F(WatchPythonTest, APushOnlyJobThatHangsOrStopsPagesTooLongThenMissed) {
  start_watch();
  auto job = start_service("py-job", 0,
                           {"--mode", "job", "--job", "py-job", "--pushgateway-url", watch_->url(),
                            "--every", "2", "--push-start"});
  ASSERT_TRUE(query_value("job_checkin_state{job=\"py-job\"} == 0", 10s).has_value())
      << "the job's pushes never counted as runs";
  const SteadyTime hung = std::chrono::steady_clock::now();
  ASSERT_EQ(job.set_fault(R"({"hang": true})"), 200);
  // The next run starts within 2 s and hangs; max_run_time is 5 s.
  ASSERT_TRUE(expect_page("py_job_push_only_hang", "JobRunTooLong", "py-job", hung, hung + 5s));
  // The hung run also kept the next run from starting: past the schedule
  // and its grace, JobMissedRun may page too (both at 5 s here). The run's
  // finish is a check-in that ends both.
  const SteadyTime unhung = std::chrono::steady_clock::now();
  ASSERT_EQ(job.set_fault(R"({"hang": false})"), 200);
  expect_resolved("JobRunTooLong", "py-job", 30s, unhung);
  if (wait_for("JobMissedRun", "firing", "py-job", 0ms))
    expect_resolved("JobMissedRun", "py-job", 30s, unhung);

  // Let a run or two finish, then stop the job for good.
  std::this_thread::sleep_for(3s);
  job.process->send_signal(SIGKILL);  // its pushed groups stay, as on a Pushgateway
  ASSERT_TRUE(job.process->wait_exit(5s).has_value());
  const SteadyTime stopped = std::chrono::steady_clock::now();
  // Its last success is at most 2 s old: missed once schedule (3 s) + grace
  // (2 s) have passed since, 3 s from now at the earliest.
  ASSERT_TRUE(
      expect_page("py_job_push_only_stopped", "JobMissedRun", "py-job", stopped, stopped + 3s));
  for (const auto& a : hook_.alerts())
    if (a.labels.value("job", "") == "py-job" && a.alertname != "JobRunTooLong" &&
        a.alertname != "JobMissedRun")
      ADD_FAILURE() << "also paged: " << a.alertname << " " << a.status;
}

TEST_F(WatchPythonTest, AKilledApiPagesTargetDownAndNothingElse) {
  start_watch();
  auto api = start_api();
  // Up, and seen ready in this process (else a death before the first
  // successful probe is also a service that never got ready).
  ASSERT_TRUE(eventually(
      [&] {
        return !values(watch_->query("up{job=\"py-api\"} == 1")).empty() &&
               !values(
                    watch_->query("firebreak:probe_last_success_timestamp_seconds{job=\"py-api\"}"
                                  " >= on(job, instance) process_start_time_seconds"))
                    .empty();
      },
      10s));
  api.process->send_signal(SIGKILL);
  const SteadyTime killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(api.process->wait_exit(5s).has_value());
  ASSERT_TRUE(expect_page("py_api_killed", "TargetDown", "py-api", killed, killed));
  // TargetDown stands for the target's other alerts while it is down
  // (docs/alerts.md): none of them pages as well, however long it stays
  // down (here past not_ready_for and its `for`).
  std::this_thread::sleep_for(6s);
  for (const auto& a : hook_.alerts()) {
    if (a.labels.value("job", "") != "py-api" || a.alertname == "TargetDown") continue;
    ADD_FAILURE() << "also paged: " << a.alertname << " " << a.status << " " << a.labels.dump();
  }
}

}  // namespace
}  // namespace firebreak::e2e
