// `firebreak demo`'s plan: the faults of issue 14 by name, a watch
// configuration that loads cleanly, every alert of the pack fired by some
// fault within two minutes at demo scale, and times that follow the
// thresholds the configuration sets.
#include "cli/demo_plan.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "watch/config/config.h"

namespace firebreak::cli::demo {
namespace {

const History kLongHealthy{.api_fast_ms = 3'600'000, .api_error_free_ms = 3'600'000};

Addresses addresses() {
  return {.api_admin = "127.0.0.1:9464",
          .api_http = "127.0.0.1:8080",
          .worker_admin = "127.0.0.1:9465"};
}

const Expectation* find(const FaultPlan& p, const std::string& alert,
                        const std::string& labels = "") {
  for (const auto& e : p.expect)
    if (e.alert == alert && (labels.empty() || e.labels == labels)) return &e;
  return nullptr;
}

TEST(DemoFaults, TheNamesAreTheIssuesAndParseBack) {
  EXPECT_EQ(fault_names(),
            "never-ready, not-ready, stall, slow, errors, job-fails, job-missed, job-too-long, "
            "target-down");
  for (const Fault f : all_faults()) EXPECT_EQ(parse_fault(fault_name(f)), f);
  EXPECT_FALSE(parse_fault("explode"));
  EXPECT_FALSE(parse_fault("Stall"));
  EXPECT_FALSE(parse_fault(""));
}

TEST(DemoFaults, AnUnknownNameListsTheValidOnes) {
  const std::string m = unknown_fault("explode");
  EXPECT_NE(m.find("\"explode\""), std::string::npos) << m;
  EXPECT_NE(m.find(fault_names()), std::string::npos) << m;
}

TEST(DemoConfig, LoadsWithoutErrorsOrWarningsAtEveryScale) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("demo_plan_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (const double scale : {1.0, 0.1, kMinScale, kMaxScale}) {
    const Addresses a = addresses();
    for (const Addresses* targets : {static_cast<const Addresses*>(nullptr), &a}) {
      const auto path = (dir / "firebreak.yaml").string();
      std::ofstream(path) << watch_config(demo_timing(scale), "127.0.0.1:0", targets);
      const auto loaded = watch::config::load_config(path);
      for (const auto& e : loaded.errors) ADD_FAILURE() << scale << ": " << e.to_string();
      for (const auto& w : loaded.warnings) ADD_FAILURE() << scale << ": " << w.to_string();
      EXPECT_EQ(loaded.config.targets.size(), targets ? 2u : 0u);
      EXPECT_EQ(loaded.config.jobs.size(), 1u);
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(DemoConfig, CarriesTheTimingItsTimesAreComputedFrom) {
  const Timing t = demo_timing(1);
  const Addresses a = addresses();
  const std::string yaml = watch_config(t, "127.0.0.1:0", &a);
  for (const char* part :
       {"scrape_interval: 5s", "evaluation_interval: 5s", "job_alert_for: 15s",
        "metrics_url: http://127.0.0.1:9464/metrics", "ready_url: http://127.0.0.1:9465/readyz",
        "stall_for: 30s", "down_for: 30s", "regression_baseline_offset: 2m",
        "schedule: \"20s\", grace: 20s, max_run_time: 10s", "log: {}"})
    EXPECT_NE(yaml.find(part), std::string::npos) << part << " in\n" << yaml;
}

TEST(DemoPlan, EveryAlertOfThePackFiresWithinTwoMinutesOfSomeFault) {
  const Timing t = demo_timing(1);
  std::set<std::string> fired;
  for (const Fault f : all_faults()) {
    const FaultPlan p = plan(f, t, kLongHealthy);
    EXPECT_FALSE(p.what.empty());
    EXPECT_FALSE(p.actions.empty()) << fault_name(f);
    ASSERT_FALSE(p.expect.empty()) << fault_name(f);
    for (const auto& e : p.expect) {
      ASSERT_TRUE(e.within_ms) << fault_name(f) << " " << e.alert << ": " << e.why;
      EXPECT_LE(*e.within_ms, 120'000) << fault_name(f) << " " << e.alert;
      EXPECT_GT(*e.within_ms, 0);
      fired.insert(e.alert);
    }
  }
  const auto& pack = watch::rulepack::alert_names();
  EXPECT_EQ(fired, std::set<std::string>(pack.begin(), pack.end()));
}

TEST(DemoPlan, TimesFollowTheThresholdsAtAnyScale) {
  for (const double scale : {1.0, 0.1}) {
    const Timing t = demo_timing(scale);
    const std::int64_t slack = t.scrape_ms + t.eval_ms;
    const auto eff = [&](const watch::rulepack::Thresholds& th) {
      return watch::rulepack::effective(th, t.rule_options());
    };
    EXPECT_EQ(*find(plan(Fault::kTargetDown, t, {}), "TargetDown")->within_ms,
              eff(t.worker).down_for_ms + slack);
    EXPECT_EQ(*find(plan(Fault::kNotReady, t, {}), "ServiceNotReady")->within_ms,
              eff(t.api).not_ready_for_ms + slack);
    EXPECT_EQ(*find(plan(Fault::kStall, t, {}), "WorkerStalled", "reason=no_progress")->within_ms,
              t.worker.stall_for_ms + eff(t.worker).no_progress_for_ms + slack);
    EXPECT_EQ(*find(plan(Fault::kJobMissed, t, {}), "JobMissedRun")->within_ms,
              (t.job_period_s + t.job_grace_s) * 1000 + 2 * t.eval_ms);
    EXPECT_EQ(*find(plan(Fault::kNeverReady, t, {}), "ServiceNeverReady")->within_ms,
              t.api_drain_ms + t.api.startup_budget_ms + slack);
  }
  // Ten times faster, ten times sooner (job durations are whole seconds).
  EXPECT_EQ(*find(plan(Fault::kStall, demo_timing(0.1), {}), "WorkerStalled")->within_ms * 10,
            *find(plan(Fault::kStall, demo_timing(1), {}), "WorkerStalled")->within_ms);
}

TEST(DemoPlan, TheErrorBudgetBurnsFasterAfterLessHealthyTraffic) {
  const Timing t = demo_timing(1);
  const FaultPlan after_an_hour = plan(Fault::kErrors, t, kLongHealthy);
  const FaultPlan after_10s =
      plan(Fault::kErrors, t, {.api_fast_ms = 3'600'000, .api_error_free_ms = 10'000});
  // After an hour of clean traffic the 2m window needs 0.144 * 120 s / 0.5 = 34.6 s of
  // errors, then the 12s `for`, a scrape and an evaluation.
  const auto* fast = find(after_an_hour, "ApiErrorBudgetBurn", "burn=fast");
  ASSERT_TRUE(fast && fast->within_ms);
  EXPECT_NEAR(static_cast<double>(*fast->within_ms), 34'560 + 12'000 + 10'000, 1);
  const auto* fresh = find(after_10s, "ApiErrorBudgetBurn", "burn=fast");
  ASSERT_TRUE(fresh && fresh->within_ms);
  EXPECT_LT(*fresh->within_ms, *fast->within_ms);
  // A slow API (no 5xx) before does not count: its requests were error-free.
  const FaultPlan after_slow =
      plan(Fault::kErrors, t, {.api_fast_ms = 70'000, .api_error_free_ms = 3'600'000});
  EXPECT_EQ(find(after_slow, "ApiErrorBudgetBurn", "burn=fast")->within_ms, fast->within_ms);
  const auto* slow = find(after_an_hour, "ApiErrorBudgetBurn", "burn=slow");
  ASSERT_TRUE(slow && slow->within_ms);
  EXPECT_GT(*slow->within_ms, *fast->within_ms);
}

TEST(DemoPlan, ARegressionNeedsAHealthyBaselineBeforeTheBreak) {
  const Timing t = demo_timing(1);
  const FaultPlan fresh =
      plan(Fault::kSlow, t, {.api_fast_ms = 5'000, .api_error_free_ms = 3'600'000});
  const auto* none = find(fresh, "ApiLatencyRegression");
  ASSERT_NE(none, nullptr);
  EXPECT_FALSE(none->within_ms);
  EXPECT_NE(none->why.find("not this time"), std::string::npos) << none->why;
  const FaultPlan later = plan(Fault::kSlow, t, kLongHealthy);
  const auto* fires = find(later, "ApiLatencyRegression");
  ASSERT_TRUE(fires && fires->within_ms);
  // It must fire before its baseline (2m back) catches up with the slow requests.
  EXPECT_LT(*fires->within_ms, t.api.regression_baseline_offset_ms);
}

TEST(DemoPlan, FaultsActOnTheProcessesTheirAlertsWatch) {
  const Timing t = demo_timing(1);
  const auto only = [&](Fault f) { return plan(f, t, kLongHealthy).actions.at(0); };
  EXPECT_EQ(only(Fault::kNeverReady).kind, Action::Kind::kRestartWith);
  EXPECT_EQ(only(Fault::kNeverReady).process, Process::kApi);
  EXPECT_EQ(only(Fault::kNeverReady).argument, "never_ready");
  EXPECT_EQ(only(Fault::kTargetDown).kind, Action::Kind::kStop);
  EXPECT_EQ(only(Fault::kTargetDown).process, Process::kWorker);
  EXPECT_EQ(only(Fault::kJobMissed).kind, Action::Kind::kStop);
  EXPECT_EQ(only(Fault::kJobMissed).process, Process::kDaily);
  EXPECT_EQ(only(Fault::kStall).process, Process::kWorker);
  EXPECT_EQ(only(Fault::kJobTooLong).process, Process::kDaily);
}

TEST(DemoPlan, HealClearsEverySwitchABreakSets) {
  const Timing t = demo_timing(1);
  for (const Fault f : all_faults()) {
    for (const Action& a : plan(f, t, kLongHealthy).actions) {
      if (a.kind != Action::Kind::kSetSwitches) continue;
      const auto set = nlohmann::json::parse(a.argument);
      const auto heal = nlohmann::json::parse(heal_switches(a.process));
      for (const auto& [key, value] : set.items()) {
        ASSERT_TRUE(heal.contains(key)) << fault_name(f) << ": " << key;
        EXPECT_TRUE(heal[key] == false || heal[key] == 0) << key;
      }
    }
  }
}

TEST(DemoPlan, DescribeSaysWhichAlertFiresAndAboutWhen) {
  const std::string text = describe(plan(Fault::kStall, demo_timing(1), kLongHealthy));
  EXPECT_EQ(text.rfind("break stall: shop-worker", 0), 0u) << text;
  EXPECT_NE(text.find("WorkerStalled {reason=no_progress} fires within about 50s"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("QueueLagHigh fires within about 1m10s"), std::string::npos) << text;
  const std::string table = fault_table(demo_timing(1));
  for (const Fault f : all_faults())
    EXPECT_NE(table.find("  " + std::string(fault_name(f)) + " "), std::string::npos) << table;
}

TEST(DemoPlan, DurationText) {
  EXPECT_EQ(duration_text(0), "0s");
  EXPECT_EQ(duration_text(1), "1s");
  EXPECT_EQ(duration_text(45'000), "45s");
  EXPECT_EQ(duration_text(65'000), "1m05s");
  EXPECT_EQ(duration_text(120'000), "2m");
}

}  // namespace
}  // namespace firebreak::cli::demo
