#include "cli/demo_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace firebreak::cli::demo {
namespace {

namespace rp = watch::rulepack;

// What the faults set on the shop's switches.
constexpr int kSlowMs = 400;           // api slow_ms: well over the 250ms objective
constexpr double kErrorRate = 0.5;     // api error_rate: half of the requests
constexpr int kJobHangMs = 3'600'000;  // daily slow_ms: an hour, i.e. until healed

struct FaultInfo {
  Fault fault;
  std::string_view name;
};
constexpr FaultInfo kFaults[] = {
    {Fault::kNeverReady, "never-ready"},
    {Fault::kNotReady, "not-ready"},
    {Fault::kStall, "stall"},
    {Fault::kSlow, "slow"},
    {Fault::kErrors, "errors"},
    {Fault::kJobFails, "job-fails"},
    {Fault::kJobMissed, "job-missed"},
    {Fault::kJobTooLong, "job-too-long"},
    {Fault::kTargetDown, "target-down"},
};

std::int64_t scaled(double scale, std::int64_t ms) {
  return std::max<std::int64_t>(1, std::llround(static_cast<double>(ms) * scale));
}

std::int64_t scaled_seconds(double scale, std::int64_t seconds) {
  return std::max<std::int64_t>(1, std::llround(static_cast<double>(seconds) * scale));
}

std::string num(double v) {
  return fmt::format("{}", v);
}

// A thresholds mapping in flow style, with the keys the demo sets.
std::string api_thresholds(const rp::Thresholds& t) {
  return fmt::format(
      "{{down_for: {}, startup_budget: {}, not_ready_for: {}, latency_objective: {}, "
      "latency_for: {}, regression_window: {}, regression_baseline_offset: {}, "
      "availability_objective: {}, fast_burn_long_window: {}, fast_burn_short_window: {}, "
      "slow_burn_long_window: {}, slow_burn_short_window: {}}}",
      rp::prom_duration(t.down_for_ms), rp::prom_duration(t.startup_budget_ms),
      rp::prom_duration(t.not_ready_for_ms),
      rp::prom_duration(std::llround(t.latency_objective_seconds * 1000)),
      rp::prom_duration(t.latency_for_ms), rp::prom_duration(t.regression_window_ms),
      rp::prom_duration(t.regression_baseline_offset_ms), num(t.availability_objective),
      rp::prom_duration(t.fast_burn_long_window_ms), rp::prom_duration(t.fast_burn_short_window_ms),
      rp::prom_duration(t.slow_burn_long_window_ms),
      rp::prom_duration(t.slow_burn_short_window_ms));
}

std::string worker_thresholds(const rp::Thresholds& t) {
  return fmt::format(
      "{{down_for: {}, startup_budget: {}, not_ready_for: {}, stall_for: {}, "
      "heartbeat_max_age: {}, queue_lag: {}, queue_lag_for: {}}}",
      rp::prom_duration(t.down_for_ms), rp::prom_duration(t.startup_budget_ms),
      rp::prom_duration(t.not_ready_for_ms), rp::prom_duration(t.stall_for_ms),
      rp::prom_duration(t.heartbeat_max_age_ms), rp::prom_duration(t.queue_lag_ms),
      rp::prom_duration(t.queue_lag_for_ms));
}

std::string target(std::string_view name, std::string_view workload, const std::string& admin,
                   const std::string& thresholds) {
  return fmt::format(
      "  - name: {}\n"
      "    workload: {}\n"
      "    metrics_url: http://{}/metrics\n"
      "    ready_url: http://{}/readyz\n"
      "    thresholds: {}\n",
      name, workload, admin, admin, thresholds);
}

// A threshold as the configuration writes it ("250ms", "1m30s").
std::string dur(std::int64_t ms) {
  return rp::prom_duration(ms);
}

// Seconds after the start of an error burst at `rate` (0..1) until the 5xx
// ratio over `window_ms` passes `threshold`, after `healthy_ms` of error-free
// traffic (uniform traffic; the window holds at most healthy_ms + t).
double burn_crossing_ms(double threshold, double rate, std::int64_t window_ms,
                        std::int64_t healthy_ms) {
  const double w = static_cast<double>(window_ms);
  const double h = static_cast<double>(healthy_ms);
  // Within the window: rate * t / (h + t) > threshold.
  const double t = threshold * h / (rate - threshold);
  if (h + t <= w) return t;
  return threshold * w / rate;  // the window is full: rate * t / w > threshold
}

Expectation burn(std::string_view pair, double factor, std::int64_t long_ms, std::int64_t short_ms,
                 std::int64_t for_ms, const Timing& timing, const History& history) {
  const double threshold = factor * (1 - timing.api.availability_objective);
  const double t =
      std::max(burn_crossing_ms(threshold, kErrorRate, long_ms, history.api_error_free_ms),
               burn_crossing_ms(threshold, kErrorRate, short_ms, 0));
  return {.alert = "ApiErrorBudgetBurn",
          .labels = fmt::format("burn={}", pair),
          .within_ms = std::llround(t) + for_ms + timing.scrape_ms + timing.eval_ms,
          .why = fmt::format(
              "5xx over {}% of requests ({}x the error budget of availability_objective {}) "
              "over both {} and {}, held {}",
              num(std::round(threshold * 1000) / 10), num(factor),
              num(timing.api.availability_objective), dur(long_ms), dur(short_ms), dur(for_ms))};
}

// ApiLatencyRegression compares the p95 over regression_window with the same
// window regression_baseline_offset earlier: it fires only when that baseline
// was fast, i.e. when the API was fast long enough before the break, and
// resolves once the baseline has become slow too.
Expectation regression(const Timing& timing, const History& history) {
  const rp::Thresholds& t = timing.api;
  const rp::Effective e = rp::effective(t, timing.rule_options());
  const std::int64_t s = timing.scrape_ms;
  const std::int64_t offset = t.regression_baseline_offset_ms;
  // The current p95 passes the factor as soon as a tenth of its window is
  // slow; the baseline needs two scrapes of fast traffic in it.
  const std::int64_t condition =
      std::max(t.regression_window_ms / 10 + s, offset - history.api_fast_ms + 2 * s);
  const std::int64_t fires = condition + e.regression_for_ms + timing.eval_ms;
  Expectation out{.alert = "ApiLatencyRegression", .labels = "", .within_ms = std::nullopt};
  const std::string how = fmt::format(
      "p95 over {} (regression_window) above {}x its level {} earlier "
      "(regression_baseline_offset), held {}",
      dur(t.regression_window_ms), num(t.regression_factor), dur(offset), dur(e.regression_for_ms));
  if (fires <= offset) {
    out.within_ms = fires;
    out.why = how + fmt::format(
                        "; resolves by itself about {} after the break, when the baseline "
                        "is slow too",
                        duration_text(offset + t.regression_window_ms / 10 + s + timing.eval_ms));
  } else {
    out.why = how + fmt::format(
                        ": not this time, shop-api has been fast for {} of the {} it needs "
                        "before the break (heal, wait, break again)",
                        duration_text(history.api_fast_ms),
                        duration_text(2 * s + e.regression_for_ms + timing.eval_ms));
  }
  return out;
}

}  // namespace

rp::RulePackOptions Timing::rule_options() const {
  rp::RulePackOptions o;
  o.evaluation_interval_ms = eval_ms;
  o.job_for_ms = job_alert_for_ms;
  return o;
}

Timing demo_timing(double scale) {
  scale = std::clamp(scale, kMinScale, kMaxScale);
  const auto ms = [scale](std::int64_t v) { return scaled(scale, v); };
  Timing t;
  t.scale = scale;
  t.scrape_ms = ms(5'000);
  t.scrape_timeout_ms = ms(4'000);
  t.eval_ms = ms(5'000);
  t.job_alert_for_ms = ms(15'000);
  t.job_period_s = scaled_seconds(scale, 20);
  t.job_grace_s = scaled_seconds(scale, 20);
  t.job_max_run_s = scaled_seconds(scale, 10);
  t.api_drain_ms = ms(2'000);

  rp::Thresholds& a = t.api;
  a.down_for_ms = ms(30'000);
  a.startup_budget_ms = ms(30'000);
  a.not_ready_for_ms = ms(30'000);
  a.latency_objective_seconds = 0.25;  // a latency, not a time scale: kSlowMs is above it
  a.latency_for_ms = ms(60'000);       // window: half of it
  a.regression_window_ms = ms(30'000);
  a.regression_baseline_offset_ms = ms(120'000);
  a.availability_objective = 0.99;
  a.fast_burn_long_window_ms = ms(120'000);
  a.fast_burn_short_window_ms = ms(30'000);
  a.slow_burn_long_window_ms = ms(360'000);
  a.slow_burn_short_window_ms = ms(60'000);

  rp::Thresholds& w = t.worker;
  w.down_for_ms = ms(30'000);
  w.startup_budget_ms = ms(30'000);
  w.not_ready_for_ms = ms(30'000);
  w.stall_for_ms = ms(30'000);
  w.heartbeat_max_age_ms = ms(30'000);
  w.queue_lag_ms = ms(40'000);
  w.queue_lag_for_ms = ms(20'000);
  return t;
}

std::string watch_config(const Timing& timing, const std::string& listen,
                         const Addresses* targets) {
  std::string yaml = fmt::format(
      "# firebreak demo: watch on the reference shop (examples/shop), every interval and\n"
      "# threshold scaled down from the defaults of docs/config.md so that each alert of\n"
      "# the rule pack fires within a minute or two of its fault. Written by\n"
      "# `firebreak demo`, removed when it stops.\n"
      "listen: \"{}\"\n"
      "storage: {{path: watch.db}}\n"
      "global: {{scrape_interval: {}, scrape_timeout: {}, evaluation_interval: {}, "
      "job_alert_for: {}}}\n",
      listen, rp::prom_duration(timing.scrape_ms), rp::prom_duration(timing.scrape_timeout_ms),
      rp::prom_duration(timing.eval_ms), rp::prom_duration(timing.job_alert_for_ms));
  if (targets) {
    yaml += "targets:\n";
    yaml += target("shop-api", "api", targets->api_admin, api_thresholds(timing.api));
    yaml +=
        target("shop-worker", "worker", targets->worker_admin, worker_thresholds(timing.worker));
  } else {
    yaml += "targets: []\n";
  }
  yaml += fmt::format(
      "jobs:\n"
      "  - {{name: shop-daily, schedule: \"{}s\", grace: {}s, max_run_time: {}s}}\n"
      "receivers:\n"
      "  - name: log\n"
      "    log: {{}}\n",
      timing.job_period_s, timing.job_grace_s, timing.job_max_run_s);
  return yaml;
}

const std::vector<Fault>& all_faults() {
  static const std::vector<Fault> faults = [] {
    std::vector<Fault> out;
    for (const auto& f : kFaults) out.push_back(f.fault);
    return out;
  }();
  return faults;
}

std::string_view fault_name(Fault fault) {
  for (const auto& f : kFaults)
    if (f.fault == fault) return f.name;
  return "?";
}

std::optional<Fault> parse_fault(std::string_view name) {
  for (const auto& f : kFaults)
    if (f.name == name) return f.fault;
  return std::nullopt;
}

std::string fault_names() {
  std::string out;
  for (const auto& f : kFaults) {
    if (!out.empty()) out += ", ";
    out += f.name;
  }
  return out;
}

std::string unknown_fault(std::string_view name) {
  return fmt::format("unknown fault \"{}\"; one of: {}", name, fault_names());
}

std::string_view process_name(Process process) {
  switch (process) {
    case Process::kApi:
      return "shop-api";
    case Process::kWorker:
      return "shop-worker";
    case Process::kDaily:
      return "shop-daily";
  }
  return "?";
}

std::string heal_switches(Process process) {
  switch (process) {
    case Process::kApi:
      return R"({"never_ready": false, "not_ready": false, "slow_ms": 0, "error_rate": 0})";
    case Process::kWorker:
      return R"({"stall": false, "fail_rate": 0, "slow_ms": 0})";
    case Process::kDaily:
      return R"({"fail": false, "slow_ms": 0})";
  }
  return "{}";
}

FaultPlan plan(Fault fault, const Timing& timing, const History& history) {
  using K = Action::Kind;
  const rp::Effective api = rp::effective(timing.api, timing.rule_options());
  const rp::Effective worker = rp::effective(timing.worker, timing.rule_options());
  const std::int64_t slack = timing.scrape_ms + timing.eval_ms;  // seen, then evaluated
  const std::int64_t period = timing.job_period_s * 1000;
  // Check-in series are written at each evaluation; the rule reads them at the next.
  const std::int64_t job_slack = 2 * timing.eval_ms;
  FaultPlan p{.fault = fault};
  switch (fault) {
    case Fault::kNeverReady:
      p.what =
          "shop-api restarts with its readiness check failing from the start (fault switch "
          "never_ready): a deploy that never becomes ready";
      p.actions = {{K::kRestartWith, Process::kApi, "never_ready"}};
      p.expect = {{.alert = "ServiceNeverReady",
                   .labels = "job=shop-api",
                   .within_ms = timing.api_drain_ms + timing.api.startup_budget_ms +
                                api.never_ready_for_ms + slack,
                   .why = fmt::format("the new process is not ready once in {} (startup_budget)",
                                      dur(timing.api.startup_budget_ms))}};
      break;
    case Fault::kNotReady:
      p.what =
          "shop-api's readiness check fails (fault switch not_ready): it was ready, and now "
          "takes no traffic";
      p.actions = {{K::kSetSwitches, Process::kApi, R"({"not_ready": true})"}};
      p.expect = {
          {.alert = "ServiceNotReady",
           .labels = "job=shop-api",
           .within_ms = api.not_ready_for_ms + slack,
           .why = fmt::format("not ready for {} (not_ready_for)", dur(api.not_ready_for_ms))}};
      break;
    case Fault::kStall:
      p.what =
          "shop-worker claims no more messages while its loop keeps turning (fault switch "
          "stall): orders pile up";
      p.actions = {{K::kSetSwitches, Process::kWorker, R"({"stall": true})"}};
      p.expect = {
          {.alert = "WorkerStalled",
           .labels = "reason=no_progress",
           .within_ms = timing.worker.stall_for_ms + worker.no_progress_for_ms + slack,
           .why = fmt::format("messages wait and none is finished for {} (stall_for), held {}",
                              dur(timing.worker.stall_for_ms), dur(worker.no_progress_for_ms))},
          {.alert = "QueueLagHigh",
           .labels = "",
           .within_ms = timing.worker.queue_lag_ms + worker.queue_lag_for_ms + slack,
           .why = fmt::format("the oldest message waits over {} (queue_lag), held {}",
                              dur(timing.worker.queue_lag_ms), dur(worker.queue_lag_for_ms))}};
      break;
    case Fault::kSlow:
      p.what = fmt::format(
          "every shop-api request takes {}ms longer (fault switch slow_ms): a slow dependency",
          kSlowMs);
      p.actions = {{K::kSetSwitches, Process::kApi, fmt::format(R"({{"slow_ms": {}}})", kSlowMs)}};
      p.expect = {
          {.alert = "ApiLatencyHigh",
           .labels = "",
           .within_ms = api.latency_window_ms / 10 + api.latency_for_ms + slack,
           .why = fmt::format("p95 by route over {} (latency_objective) for {} "
                              "(latency_for), measured over {}",
                              dur(std::llround(timing.api.latency_objective_seconds * 1000)),
                              dur(api.latency_for_ms), dur(api.latency_window_ms))},
          regression(timing, history)};
      break;
    case Fault::kErrors:
      p.what =
          fmt::format("shop-api answers {}% of its requests with 500 (fault switch error_rate)",
                      std::lround(kErrorRate * 100));
      p.actions = {
          {K::kSetSwitches, Process::kApi, fmt::format(R"({{"error_rate": {}}})", kErrorRate)}};
      p.expect = {
          burn("fast", 14.4, timing.api.fast_burn_long_window_ms,
               timing.api.fast_burn_short_window_ms, api.fast_burn_for_ms, timing, history),
          burn("slow", 6, timing.api.slow_burn_long_window_ms, timing.api.slow_burn_short_window_ms,
               api.slow_burn_for_ms, timing, history)};
      break;
    case Fault::kJobFails:
      p.what = "every shop-daily run fails (fault switch fail) and checks in with /fail";
      p.actions = {{K::kSetSwitches, Process::kDaily, R"({"fail": true})"}};
      p.expect = {
          {.alert = "JobFailed",
           .labels = "",
           .within_ms = period + std::max(timing.job_alert_for_ms, 2 * timing.eval_ms) + job_slack,
           .why = fmt::format("the next run (every {}) fails, held {} (job_alert_for)", dur(period),
                              dur(timing.job_alert_for_ms))}};
      break;
    case Fault::kJobMissed:
      p.what = "shop-daily is stopped: no run starts and nothing checks in (a disabled timer)";
      p.actions = {{K::kStop, Process::kDaily, ""}};
      p.expect = {{.alert = "JobMissedRun",
                   .labels = "",
                   .within_ms = period + timing.job_grace_s * 1000 + job_slack,
                   .why = fmt::format("no check-in within {} (its schedule) + {} (grace)",
                                      dur(period), dur(timing.job_grace_s * 1000))}};
      break;
    case Fault::kJobTooLong:
      p.what =
          "every shop-daily run hangs before its work (fault switch slow_ms): it started and "
          "does not finish";
      p.actions = {
          {K::kSetSwitches, Process::kDaily, fmt::format(R"({{"slow_ms": {}}})", kJobHangMs)}};
      p.expect = {
          {.alert = "JobRunTooLong",
           .labels = "",
           .within_ms = period + timing.job_max_run_s * 1000 + job_slack,
           .why = fmt::format("the next run (within {}) is still open after {} (max_run_time)",
                              dur(period), dur(timing.job_max_run_s * 1000))},
          {.alert = "JobMissedRun",
           .labels = "",
           .within_ms = 2 * period + timing.job_grace_s * 1000 + job_slack,
           .why = fmt::format("left hanging, the run after it is missed: {} + {} (grace) after "
                              "the hung run started",
                              dur(period), dur(timing.job_grace_s * 1000))}};
      break;
    case Fault::kTargetDown:
      p.what = "shop-worker is stopped: watch's scrapes of it fail (orders queue up meanwhile)";
      p.actions = {{K::kStop, Process::kWorker, ""}};
      p.expect = {{.alert = "TargetDown",
                   .labels = "job=shop-worker",
                   .within_ms = worker.down_for_ms + slack,
                   .why = fmt::format("scrapes fail for {} (down_for)", dur(worker.down_for_ms))}};
      break;
  }
  return p;
}

std::string describe(const FaultPlan& plan) {
  std::string out = fmt::format("break {}: {}\n", fault_name(plan.fault), plan.what);
  for (const Expectation& e : plan.expect) {
    const std::string name = e.labels.empty() ? e.alert : e.alert + " {" + e.labels + "}";
    if (e.within_ms)
      out +=
          fmt::format("  {} fires within about {}: {}\n", name, duration_text(*e.within_ms), e.why);
    else
      out += fmt::format("  {} does not fire: {}\n", name, e.why);
  }
  return out;
}

std::string fault_table(const Timing& timing) {
  const History long_healthy{.api_fast_ms = 24 * 3'600'000, .api_error_free_ms = 24 * 3'600'000};
  std::string out;
  for (const Fault f : all_faults()) {
    const FaultPlan p = plan(f, timing, long_healthy);
    std::string alerts;
    for (const Expectation& e : p.expect) {
      if (!alerts.empty()) alerts += ", ";
      alerts += e.alert;
      if (e.alert == "ApiErrorBudgetBurn") alerts += " (" + e.labels + ")";
      if (e.within_ms) alerts += " ~" + duration_text(*e.within_ms);
    }
    out += fmt::format("  {:<13} {}\n", fault_name(f), alerts);
  }
  return out;
}

std::string duration_text(std::int64_t ms) {
  const std::int64_t s = (std::max<std::int64_t>(ms, 0) + 999) / 1000;
  if (s < 60) return fmt::format("{}s", s);
  if (s % 60 == 0) return fmt::format("{}m", s / 60);
  return fmt::format("{}m{:02}s", s / 60, s % 60);
}

}  // namespace firebreak::cli::demo
