// The rule pack of DESIGN.md, generated from the watch configuration: the
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
#include <string>
#include <string_view>
#include <vector>

namespace watch::rulepack {

enum class Workload : std::uint8_t { kApi, kWorker, kJob, kOther };

std::string_view to_string(Workload workload);

// Per-target thresholds; the defaults are DESIGN.md's table. Durations in
// milliseconds, as the rules module keeps them.
struct Thresholds {
  std::int64_t down_for_ms = 2 * 60'000;             // TargetDown
  std::int64_t startup_budget_ms = 2 * 60'000;       // ServiceNeverReady
  std::int64_t not_ready_for_ms = 5 * 60'000;        // ServiceNotReady
  std::int64_t stall_for_ms = 10 * 60'000;           // WorkerStalled: waiting, none finished
  std::int64_t heartbeat_max_age_ms = 2 * 60'000;    // WorkerStalled: loop heartbeat age
  std::int64_t queue_lag_ms = 10 * 60'000;           // QueueLagHigh: oldest message age
  std::int64_t queue_lag_for_ms = 5 * 60'000;        //
  double latency_objective_seconds = 0.5;            // ApiLatencyHigh: p95 by route
  std::int64_t latency_for_ms = 10 * 60'000;         //
  std::int64_t regression_window_ms = 30 * 60'000;   // ApiLatencyRegression
  std::int64_t regression_baseline_offset_ms = 24 * 3'600'000;
  double regression_factor = 1.5;
  double regression_min_request_rate = 1.0;          // requests/s: enough traffic to mean it
  double availability_objective = 0.999;             // ApiErrorBudgetBurn: 1 - error budget
  // Burn-rate windows (long, short) for the fast (14.4x) and slow (6x) pairs.
  std::int64_t fast_burn_long_window_ms = 3'600'000;
  std::int64_t fast_burn_short_window_ms = 5 * 60'000;
  std::int64_t slow_burn_long_window_ms = 6 * 3'600'000;
  std::int64_t slow_burn_short_window_ms = 30 * 60'000;
};

// One scrape target as the pack sees it. Its series carry job="<name>"
// (watch and the exported prometheus.yml both set it).
struct TargetSpec {
  std::string name;
  Workload workload = Workload::kOther;
  Thresholds thresholds;
};

struct RulePackOptions {
  std::int64_t evaluation_interval_ms = 15'000;  // each group's `interval`
  bool include_job_rules = true;                 // JobMissedRun, JobFailed, JobRunTooLong
};

// The rule file (YAML text, `groups:`), deterministic for a given input.
std::string render_rule_pack(const std::vector<TargetSpec>& targets,
                             const RulePackOptions& options);

}  // namespace watch::rulepack
