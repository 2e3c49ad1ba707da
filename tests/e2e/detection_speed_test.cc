// Detection speed beside the stack a team would otherwise run: Prometheus
// 2.42 + Alertmanager 0.25 with hand-written rules, and `firebreak watch`
// with its generated rule pack, watching the same small Python system
// (tests/e2e/python_service.py: prometheus_client only, a hand-made
// service_ready gauge, a job that pushes its metrics) at the same scrape and
// evaluation intervals (1 s). The hand-written rules are the plain forms a
// team writes, with the pack's thresholds at the same time scales (the same
// start-up budget, heartbeat age, schedule + grace, latency objective,
// window and `for`). For each of the four must-have failures the test breaks
// the system once, measures how long each stack takes from the fault to its
// webhook, and requires watch to be at least as fast: each alert within one
// evaluation interval plus delivery's 500 ms (the two evaluate on their own
// phases, so either may be up to an interval ahead), and the four together
// with no more than one interval of difference in total. The figures are printed
// ("detection_speed ...") and, with FIREBREAK_LATENCY_REPORT=FILE,
// appended to FILE (bench/RESULTS.md records them).
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "e2e/watch_harness.h"
#include "support/http_client.h"
#include "workload/support.h"

namespace firebreak::e2e {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr milliseconds kEval = 1000ms;
// How far one alert's page may trail the other stack's: evaluation phases
// differ by up to an interval; webhooks are sent within a few hundred ms.
constexpr milliseconds kPhase = kEval + 500ms;

std::string port_text(std::uint16_t p) {
  return std::to_string(p);
}

// The hand-written rules: what a team without the pack writes for the four
// failures, with the same thresholds as the pack's configuration below.
constexpr const char* kHandWrittenRules = R"(groups:
  - name: hand-written
    interval: 1s
    rules:
      - alert: ServiceNeverReady
        expr: service_ready == 0 and on(job, instance) (time() - process_start_time_seconds > 4)
        labels: {severity: page}
      - alert: WorkerStalled
        expr: time() - worker_heartbeat_timestamp_seconds > 3
        labels: {severity: page}
      - alert: JobMissedRun
        expr: time() - job_last_success_timestamp_seconds > 5
        labels: {severity: page}
      - alert: ApiLatencyHigh
        expr: |
          histogram_quantile(0.95, sum by (job, le) (rate(http_server_request_duration_seconds_bucket[4s]))) > 0.2
        for: 8s
        labels: {severity: page}
)";

class DetectionSpeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = dir_.path();
    api_port_ = test::closed_port();
    worker_port_ = test::closed_port();
    const std::uint16_t am_port = test::closed_port();
    const std::uint16_t prom_port = test::closed_port();
    const std::uint16_t pgw_port = test::closed_port();
    // Alertmanager: one group per alert and job, sent at once (group_wait 0s).
    std::ofstream(dir + "/alertmanager.yml") << "route:\n"
                                                "  receiver: hook\n"
                                                "  group_by: [alertname, job]\n"
                                                "  group_wait: 0s\n"
                                                "  group_interval: 1s\n"
                                                "  repeat_interval: 1h\n"
                                                "receivers:\n"
                                                "  - name: hook\n"
                                                "    webhook_configs:\n"
                                                "      - url: "
                                             << prom_hook_.url() << "\n";
    alertmanager_ = std::make_unique<ShopProcess>(
        "alertmanager", FIREBREAK_ALERTMANAGER,
        std::vector<std::string>{
            "--config.file=" + dir + "/alertmanager.yml", "--storage.path=" + dir + "/am",
            "--web.listen-address=127.0.0.1:" + port_text(am_port), "--cluster.listen-address="},
        dir);
    pushgateway_ = std::make_unique<ShopProcess>(
        "pushgateway", FIREBREAK_PUSHGATEWAY,
        std::vector<std::string>{"--web.listen-address=127.0.0.1:" + port_text(pgw_port)}, dir);
    pushgateway_url_ = "http://127.0.0.1:" + port_text(pgw_port);
    std::ofstream(dir + "/hand-written.rules.yml") << kHandWrittenRules;
    std::ofstream(dir + "/prometheus.yml")
        << "global: {scrape_interval: 1s, scrape_timeout: 800ms, evaluation_interval: 1s}\n"
           "rule_files: [hand-written.rules.yml]\n"
           "alerting:\n"
           "  alertmanagers:\n"
           "    - static_configs: [{targets: ['127.0.0.1:"
        << am_port
        << "']}]\n"
           "scrape_configs:\n"
           "  - job_name: py-api\n"
           "    static_configs: [{targets: ['127.0.0.1:"
        << api_port_
        << "']}]\n"
           "  - job_name: py-worker\n"
           "    static_configs: [{targets: ['127.0.0.1:"
        << worker_port_
        << "']}]\n"
           "  - job_name: pushgateway\n"
           "    honor_labels: true\n"
           "    static_configs: [{targets: ['127.0.0.1:"
        << pgw_port << "']}]\n";
    prometheus_ = std::make_unique<ShopProcess>(
        "prometheus", FIREBREAK_PROMETHEUS,
        std::vector<std::string>{"--config.file=" + dir + "/prometheus.yml",
                                 "--storage.tsdb.path=" + dir + "/prom",
                                 "--web.listen-address=127.0.0.1:" + port_text(prom_port)},
        dir);
    // watch: the pack with the same thresholds, no readiness probe (the
    // service exports service_ready itself).
    const std::string base = "http://127.0.0.1:";
    const std::string yaml =
        "listen: 127.0.0.1:0\n"
        "storage: {path: watch.db}\n"
        "global: {scrape_interval: 1s, scrape_timeout: 800ms, evaluation_interval: 1s}\n"
        "targets:\n"
        "  - name: py-api\n"
        "    workload: api\n"
        "    metrics_url: " +
        base + port_text(api_port_) +
        "/metrics\n"
        "    thresholds: {startup_budget: 4s, latency_objective: 200ms, latency_for: 8s,"
        " latency_window: 4s}\n"
        "  - name: py-worker\n"
        "    workload: worker\n"
        "    metrics_url: " +
        base + port_text(worker_port_) +
        "/metrics\n"
        "    thresholds: {startup_budget: 4s, heartbeat_max_age: 3s}\n"
        "jobs:\n"
        "  - {name: py-job, schedule: 3s, grace: 2s}\n"
        "receivers:\n"
        "  - name: hook\n"
        "    webhook: {url: " +
        watch_hook_.url() + ", timeout: 2s}\n";
    watch_ = std::make_unique<WatchProcess>(yaml, dir);
    for (const auto& [name, port] :
         {std::pair{"prometheus", prom_port}, {"alertmanager", am_port}, {"pushgateway", pgw_port}})
      ASSERT_TRUE(eventually(
          [&] {
            try {
              return test::http_get(port, "/-/ready").status == 200;
            } catch (const std::exception&) {
              return false;  // not listening yet
            }
          },
          20s))
          << name << " did not get ready";
  }

  std::unique_ptr<ShopProcess> start_python(const std::string& name, std::uint16_t port,
                                            std::vector<std::string> args) {
    args.insert(args.begin(), {PYTHON_SERVICE, "--port", std::to_string(port)});
    auto p = std::make_unique<ShopProcess>(name, FIREBREAK_PYTHON3, args, dir_.path());
    p->wait_listening("http");
    return p;
  }

  // The first firing alert named `alert` for `job` at `hook` after `from`.
  static std::optional<HookAlert> page(const WebhookReceiver& hook, const std::string& alert,
                                       const std::string& job, SteadyTime from,
                                       milliseconds timeout) {
    std::optional<HookAlert> found;
    eventually(
        [&] {
          for (const auto& a : hook.alerts())
            if (a.alertname == alert && a.status == "firing" && a.labels.value("job", "") == job &&
                a.arrived >= from) {
              found = a;
              return true;
            }
          return false;
        },
        timeout);
    return found;
  }

  // Waits for both stacks to page `alert` for `job`; reports and compares
  // the two detection times from `fault`.
  void compare(const std::string& scenario, const std::string& alert, const std::string& job,
               SteadyTime fault) {
    const auto w = page(watch_hook_, alert, job, fault, 30s);
    const auto p = page(prom_hook_, alert, job, fault, 30s);
    ASSERT_TRUE(w) << "watch never paged " << alert << "; its log:\n"
                   << watch_->process().stdout_text();
    ASSERT_TRUE(p) << "Prometheus + Alertmanager never paged " << alert << "; Prometheus:\n"
                   << prometheus_->stderr_text();
    const milliseconds watch_ms = since(fault, w->arrived);
    const milliseconds prom_ms = since(fault, p->arrived);
    const std::string line = "detection_speed " + scenario + " " + alert + ": watch " +
                             std::to_string(watch_ms.count()) + " ms, prometheus+alertmanager " +
                             std::to_string(prom_ms.count()) + " ms";
    std::printf("%s\n", line.c_str());
    if (const char* file = std::getenv("FIREBREAK_LATENCY_REPORT"))
      std::ofstream(file, std::ios::app) << line << "\n";
    EXPECT_LE(watch_ms, prom_ms + kPhase) << line;
    watch_total_ += watch_ms;
    prom_total_ += prom_ms;
  }

  milliseconds watch_total_{0};
  milliseconds prom_total_{0};
  TempDir dir_;
  WebhookReceiver watch_hook_;
  WebhookReceiver prom_hook_;
  std::uint16_t api_port_ = 0;
  std::uint16_t worker_port_ = 0;
  std::string pushgateway_url_;
  std::unique_ptr<ShopProcess> alertmanager_;
  std::unique_ptr<ShopProcess> pushgateway_;
  std::unique_ptr<ShopProcess> prometheus_;
  std::unique_ptr<WatchProcess> watch_;
};

TEST_F(DetectionSpeedTest, EachMustHaveAlertPagesAtLeastAsFastAsHandWrittenRulesOnPrometheus) {
  auto worker = start_python("py-worker", worker_port_, {"--mode", "worker", "--ready-gauge"});
  auto job = start_python("py-job", 0,
                          {"--mode", "job", "--job", "py-job", "--every", "2", "--checkin-url",
                           watch_->url() + "/ping/py-job", "--pushgateway-url", watch_->url(),
                           "--pushgateway-url", pushgateway_url_});
  // Never ready: an api that starts and never gets ready (the budget, 4 s,
  // counts from its start).
  const SteadyTime launched = std::chrono::steady_clock::now();
  auto api = start_python("py-api", api_port_,
                          {"--mode", "api", "--ready-gauge", "--fault", "never_ready"});
  compare("never_ready", "ServiceNeverReady", "py-api", launched);
  ASSERT_EQ(test::http_request(api_port_, "POST", "/fault", {{"Content-Type", "application/json"}},
                               R"({"never_ready": false})")
                .status,
            200);

  // A worker whose loop blocks: its heartbeat stops (3 s of tolerance).
  const SteadyTime hung = std::chrono::steady_clock::now();
  ASSERT_EQ(test::http_request(worker_port_, "POST", "/fault",
                               {{"Content-Type", "application/json"}}, R"({"hang": true})")
                .status,
            200);
  compare("worker_hang", "WorkerStalled", "py-worker", hung);

  // A job that stops running (schedule 3 s + grace 2 s after its last run).
  job->send_signal(SIGKILL);
  const SteadyTime stopped = std::chrono::steady_clock::now();
  compare("job_stopped", "JobMissedRun", "py-job", stopped);

  // A sustained latency increase: every request 400 ms against a 200 ms
  // objective, with the same window (4 s) and `for` (8 s) on both sides.
  const SteadyTime slowed = std::chrono::steady_clock::now();
  ASSERT_EQ(test::http_request(api_port_, "POST", "/fault", {{"Content-Type", "application/json"}},
                               R"({"slow_ms": 400})")
                .status,
            200);
  compare("latency", "ApiLatencyHigh", "py-api", slowed);
  // Phases average out over the four: a `for` or a delay of watch's own
  // would show here.
  std::printf("detection_speed total: watch %lld ms, prometheus+alertmanager %lld ms\n",
              static_cast<long long>(watch_total_.count()),
              static_cast<long long>(prom_total_.count()));
  EXPECT_LE(watch_total_, prom_total_ + kEval);
}

}  // namespace
}  // namespace firebreak::e2e
