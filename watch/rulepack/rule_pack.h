// The rule pack (docs/alerts.md), generated from the watch configuration: the
// alerts that catch the four must-have failures (and their neighbours),
// written as a Prometheus rule file so watch and Prometheus evaluate the same
// text.
//
//   std::vector<watch::rulepack::TargetSpec> targets = {
//       {.name = "shop-api", .workload = watch::rulepack::Workload::kApi},
//   };
//   std::string yaml = watch::rulepack::render_rule_pack(targets, {});
//
// Every duration is a knob so scaled-down test configurations keep the same
// proportions as production ones.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace watch::rulepack {

enum class Workload : std::uint8_t { kApi, kWorker, kJob, kOther };

std::string_view to_string(Workload workload);

// Per-target thresholds; the defaults are docs/alerts.md's table (and
// docs/config.md, targets[].thresholds). Durations in
// milliseconds, as the rules module keeps them. The optional ones (each
// alert's `for` and windows where they are not the threshold itself) are
// derived from the others when unset, as documented next to them; the
// effective values are what effective() returns.
struct Thresholds {
  std::int64_t down_for_ms = 2 * 60'000;            // TargetDown
  std::int64_t startup_budget_ms = 2 * 60'000;      // ServiceNeverReady
  std::optional<std::int64_t> never_ready_for_ms;   // default: 0 (the budget is the tolerance)
  std::int64_t not_ready_for_ms = 5 * 60'000;       // ServiceNotReady
  std::int64_t stall_for_ms = 10 * 60'000;          // WorkerStalled: waiting, none finished
  std::optional<std::int64_t> no_progress_for_ms;   // default: stall_for / 5
  std::int64_t heartbeat_max_age_ms = 2 * 60'000;   // WorkerStalled: loop heartbeat age
  std::optional<std::int64_t> heartbeat_for_ms;     // default: 0 (the max age is the tolerance)
  std::int64_t queue_lag_ms = 10 * 60'000;          // QueueLagHigh: oldest message age
  std::int64_t queue_lag_for_ms = 5 * 60'000;       //
  double latency_objective_seconds = 0.5;           // ApiLatencyHigh: p95 by route
  std::int64_t latency_for_ms = 10 * 60'000;        //
  std::optional<std::int64_t> latency_window_ms;    // default: latency_for / 2
  std::int64_t regression_window_ms = 30 * 60'000;  // ApiLatencyRegression
  std::optional<std::int64_t> regression_for_ms;    // default: twice regression_window
  std::int64_t regression_baseline_offset_ms = 24 * 3'600'000;
  double regression_factor = 1.5;
  double regression_min_request_rate = 1.0;  // requests/s: enough traffic to mean it
  double availability_objective = 0.999;     // ApiErrorBudgetBurn: 1 - error budget
  // Burn-rate windows (long, short) for the fast (14.4x) and slow (6x) pairs.
  std::int64_t fast_burn_long_window_ms = 3'600'000;
  std::int64_t fast_burn_short_window_ms = 5 * 60'000;
  std::optional<std::int64_t> fast_burn_for_ms;  // default: 2/5 of fast_burn_short_window
  std::int64_t slow_burn_long_window_ms = 6 * 3'600'000;
  std::int64_t slow_burn_short_window_ms = 30 * 60'000;
  std::optional<std::int64_t> slow_burn_for_ms;  // default: slow_burn_short_window / 2
};

// One scrape target as the pack sees it. Its series carry job="<name>"
// (watch and the exported prometheus.yml both set it), one `instance` per
// process.
struct TargetSpec {
  std::string name;
  Workload workload = Workload::kOther;
  Thresholds thresholds;
  // Which of the pack's alerts this target gets (names of alert_names());
  // nullopt: every alert its workload has. An empty list: none.
  std::optional<std::vector<std::string>> alerts;
};

struct RulePackOptions {
  std::int64_t evaluation_interval_ms = 15'000;  // each group's `interval`
  bool include_job_rules = true;                 // JobMissedRun, JobFailed, JobRunTooLong
  // Which of the Job* alerts to generate (when include_job_rules); nullopt:
  // all three.
  std::optional<std::vector<std::string>> job_alerts;
  // JobFailed's `for`: a failed run followed by a successful retry within it
  // opens no ticket.
  std::int64_t job_for_ms = 60'000;
  // JobMissedRun's and JobRunTooLong's: only time passing makes "no
  // check-in within the grace" and "open longer than the maximum run time"
  // true (a ping clears them), so the grace and the maximum are the
  // tolerance; 0 by default, and not raised.
  std::int64_t job_missed_run_for_ms = 0;
  std::int64_t job_run_too_long_for_ms = 0;
  // Where each alert's runbook_url annotation points (runbook_url()): ""
  // keeps it relative to the repository, "docs/alerts.md#<alert>"; an
  // absolute URL ("https://github.com/acme/firebreak/blob/main") is
  // prepended to that path, so receivers and pages get a working link.
  std::string runbook_base_url;
};

// The runbook_url annotation of `alert`: "docs/alerts.md#" + the alert name
// in lower case, after options.runbook_base_url and a "/" when it is set
// (trailing slashes of the base are not doubled).
std::string runbook_url(const RulePackOptions& options, std::string_view alert);

// The values the pack uses for a target: every optional threshold filled in
// from its default, each `for` raised to two evaluation intervals (but
// never_ready_for and heartbeat_for) and each rate window to four (as the
// rules are rendered).
struct Effective {
  std::int64_t down_for_ms, never_ready_for_ms, not_ready_for_ms, no_progress_for_ms,
      heartbeat_for_ms, queue_lag_for_ms, latency_window_ms, latency_for_ms, regression_for_ms,
      fast_burn_for_ms, slow_burn_for_ms;
};
Effective effective(const Thresholds& thresholds, const RulePackOptions& options);

// A threshold choice that lets a harmless perturbation page, or that the
// pack overrides: `key` is the threshold's configuration key
// ("latency_window"), `message` says what can happen, in one line. For
// `firebreak watch check-config`, which warns but does not refuse.
struct NoiseWarning {
  std::string key;
  std::string message;
};
// `scrape_interval_ms`: the target's. The pack's defaults give none.
std::vector<NoiseWarning> noise_warnings(const TargetSpec& target, const RulePackOptions& options,
                                         std::int64_t scrape_interval_ms);

// The rule file (YAML text, `groups:`), deterministic for a given input: the
// same targets in any order give the same text (targets are sorted by name).
//
// Groups: firebreak.targets (every target: TargetDown, ServiceNeverReady,
// ServiceNotReady, and the recording rule
// firebreak:probe_last_success_timestamp_seconds they read),
// firebreak.api (kApi targets), firebreak.worker (kWorker targets),
// firebreak.jobs (check-in series, when include_job_rules). A group with no
// target is left out. Per-target thresholds: targets that share an alert's
// thresholds share one expression, scoped by a matcher on `job`
// (job="a" or job=~"a|b|..."); classes with other thresholds but the same
// `for` are joined into the same rule with `or`; a class with another `for`
// gets a rule of its own under the same name and labels, so an alert's
// identity never depends on a threshold. So 100 targets with default
// thresholds cost 14 rules, not 1,400. An expression stays under 32 KiB
// (the PromQL parser takes 64 KiB): past it, the classes go on in another
// rule of the same name (from about 50 classes with their own thresholds
// for one alert).
//
// Every `for` is at least two evaluation intervals (no alert fires on one
// sample) and, except ApiErrorBudgetBurn's (see docs/alerts.md), at least the
// rule's longest rate window; except where only time passing makes the
// condition true (ServiceNeverReady; WorkerStalled's heartbeat): there the
// threshold is the tolerance and `for` is 0 unless set. Thread-safety: a
// pure function.
std::string render_rule_pack(const std::vector<TargetSpec>& targets,
                             const RulePackOptions& options);

// The alert names the pack can contain, in the order of docs/alerts.md's table.
const std::vector<std::string>& alert_names();
// The alerts a target of this workload gets by default (TargetDown,
// ServiceNeverReady, ServiceNotReady for every target; the Api* or
// Worker*/QueueLagHigh ones by workload).
std::vector<std::string> workload_alerts(Workload workload);

// A duration in Prometheus's notation: 90'000 -> "1m30s", 5'400'000 ->
// "1h30m", 86'400'000 -> "1d", 250 -> "250ms", 0 -> "0s".
std::string prom_duration(std::int64_t ms);

}  // namespace watch::rulepack
