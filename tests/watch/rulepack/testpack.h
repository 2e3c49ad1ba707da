// The scaled-down configuration the rule pack's promtool-format unit tests
// (testdata/*_test.yml) run against: durations about a quarter of (the burn
// windows a fifth of) the defaults, evaluated every 15 s, in the same
// proportions as docs/alerts.md's table. The test files rely on these names and
// values; change both together.
#pragma once

#include <vector>

#include "watch/rulepack/rule_pack.h"

namespace watch::rulepack::testpack {

inline Thresholds scaled() {
  Thresholds t;
  t.down_for_ms = 60'000;
  t.startup_budget_ms = 60'000;
  t.not_ready_for_ms = 120'000;
  t.stall_for_ms = 120'000;
  t.heartbeat_max_age_ms = 60'000;
  t.queue_lag_ms = 120'000;
  t.queue_lag_for_ms = 60'000;
  t.latency_objective_seconds = 0.5;
  t.latency_for_ms = 120'000;
  t.regression_window_ms = 240'000;
  t.regression_baseline_offset_ms = 3'600'000;
  t.regression_factor = 1.5;
  t.regression_min_request_rate = 1.0;
  t.availability_objective = 0.99;
  t.fast_burn_long_window_ms = 12 * 60'000;
  t.fast_burn_short_window_ms = 60'000;
  t.slow_burn_long_window_ms = 72 * 60'000;
  t.slow_burn_short_window_ms = 6 * 60'000;
  return t;
}

// api and api-strict differ only in their latency objective, so the pack
// has two ApiLatencyHigh rules and one of everything else.
inline std::vector<TargetSpec> targets() {
  Thresholds strict = scaled();
  strict.latency_objective_seconds = 0.25;
  return {
      {.name = "worker", .workload = Workload::kWorker, .thresholds = scaled()},
      {.name = "api", .workload = Workload::kApi, .thresholds = scaled()},
      {.name = "api-strict", .workload = Workload::kApi, .thresholds = strict},
      {.name = "legacy", .workload = Workload::kOther, .thresholds = scaled()},
  };
}

inline RulePackOptions options() {
  return {.evaluation_interval_ms = 15'000, .include_job_rules = true, .job_for_ms = 30'000};
}

}  // namespace watch::rulepack::testpack
