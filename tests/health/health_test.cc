// Health's state machine, driven with a ManualClock and run_due_checks().
#include "firebreak/health.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace firebreak {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The value of a series (gauge) or its histogram point, by family name and labels.
std::optional<MetricPoint> find_point(const Registry& registry, std::string_view family,
                                      Labels labels = {}) {
  std::sort(labels.begin(), labels.end());
  for (const FamilySnapshot& f : registry.collect()) {
    if (f.name != family) continue;
    for (const MetricPoint& p : f.points) {
      Labels got = *p.labels;
      std::sort(got.begin(), got.end());
      if (got == labels) return p;
    }
  }
  return std::nullopt;
}

std::optional<double> value_of(const Registry& registry, std::string_view family,
                               Labels labels = {}) {
  const auto p = find_point(registry, family, std::move(labels));
  if (!p) return std::nullopt;
  return p->value;
}

std::optional<CheckStatus> find_check(const HealthReport& report, std::string_view name) {
  for (const CheckStatus& c : report.checks)
    if (c.name == name) return c;
  return std::nullopt;
}

// A gate a check call can block on until the test opens it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<bool> entered{false};
  std::atomic<bool> returned{false};
  void release() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
  void block() {
    entered = true;
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return open; });
  }
};

// Repeats `step` until `done` holds or five seconds have passed.
template <class Step, class Done>
bool poll_until(Step step, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    step();
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return done();
}

class HealthTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  Registry registry_{RegistryOptions{.clock = &clock_}};
  Health health_{registry_, HealthOptions{.clock = &clock_}};
};

TEST_F(HealthTest, NotReadyUntilMarkStarted) {
  EXPECT_FALSE(health_.ready());
  const HealthReport before = health_.readiness();
  ASSERT_TRUE(find_check(before, "startup"));
  EXPECT_FALSE(find_check(before, "startup")->ok);
  EXPECT_EQ(find_check(before, "startup")->reason, "start-up not finished");

  health_.mark_started();
  EXPECT_TRUE(health_.ready());
  EXPECT_TRUE(health_.readiness().ok);
  EXPECT_TRUE(find_check(health_.readiness(), "startup")->ok);
}

TEST_F(HealthTest, ServiceReadyGaugeFollowsReadiness) {
  EXPECT_EQ(value_of(registry_, "service_ready"), 0);
  health_.mark_started();
  EXPECT_EQ(value_of(registry_, "service_ready"), 1);
  health_.start_draining();
  EXPECT_EQ(value_of(registry_, "service_ready"), 0);
}

TEST_F(HealthTest, TimeToReadyAbsentUntilFirstReady) {
  clock_.advance(seconds(2));
  EXPECT_EQ(value_of(registry_, "service_time_to_ready_seconds"), std::nullopt);
}

TEST_F(HealthTest, TimeToReadyIsSetOnceAtFirstReady) {
  bool db_ok = true;
  health_.add_readiness("db", [&] { return db_ok; }, {.interval = seconds(1)});
  health_.run_due_checks();
  clock_.advance(seconds(3));
  health_.mark_started();
  EXPECT_EQ(value_of(registry_, "service_time_to_ready_seconds"), 3.0);

  // Not ready, then ready again later: the first time stands.
  db_ok = false;
  clock_.advance(seconds(1));
  health_.run_due_checks();
  ASSERT_FALSE(health_.ready());
  db_ok = true;
  clock_.advance(seconds(5));
  health_.run_due_checks();
  ASSERT_TRUE(health_.ready());
  EXPECT_EQ(value_of(registry_, "service_time_to_ready_seconds"), 3.0);
}

TEST(Health, TimeToReadyCountsFromTheGivenStartTime) {
  ManualClock clock;
  Registry registry;
  Health health(registry,
                {.clock = &clock, .start_time = clock.wall_now() - std::chrono::seconds(10)});
  clock.advance(std::chrono::seconds(2));
  health.mark_started();
  EXPECT_EQ(value_of(registry, "service_time_to_ready_seconds"), 12.0);
}

TEST_F(HealthTest, ReadinessCheckNotRunYetFailsReadiness) {
  health_.add_readiness("db", [] { return CheckResult::success(); });
  health_.mark_started();
  EXPECT_FALSE(health_.ready());
  const auto db = find_check(health_.readiness(), "db");
  ASSERT_TRUE(db);
  EXPECT_FALSE(db->ok);
  EXPECT_FALSE(db->ran);
  EXPECT_EQ(db->reason, "not run yet");
  EXPECT_EQ(value_of(registry_, "health_check_status", {{"check", "db"}, {"kind", "readiness"}}),
            0);
}

TEST_F(HealthTest, LivenessCheckNotRunYetDoesNotFailLiveness) {
  health_.add_liveness("loop", [] { return CheckResult::failure("stuck"); });
  EXPECT_TRUE(health_.live());
  EXPECT_EQ(value_of(registry_, "health_check_status", {{"check", "loop"}, {"kind", "liveness"}}),
            1);
  health_.run_due_checks();
  EXPECT_FALSE(health_.live());
}

TEST_F(HealthTest, ReadyWhenStartedAndEveryReadinessCheckPasses) {
  health_.add_readiness("db", [] { return CheckResult::success(); });
  health_.add_readiness("cache", [] { return CheckResult::success(); });
  health_.mark_started();
  health_.run_due_checks();
  EXPECT_TRUE(health_.ready());
  EXPECT_EQ(value_of(registry_, "health_check_status", {{"check", "db"}, {"kind", "readiness"}}),
            1);
}

TEST_F(HealthTest, FailingReadinessCheckMakesNotReadyWithItsReason) {
  health_.add_readiness("db", [] { return CheckResult::success(); });
  health_.add_readiness("cache", [] { return CheckResult::failure("connection refused"); });
  health_.mark_started();
  health_.run_due_checks();
  EXPECT_FALSE(health_.ready());
  const auto cache = find_check(health_.readiness(), "cache");
  ASSERT_TRUE(cache);
  EXPECT_FALSE(cache->ok);
  EXPECT_EQ(cache->reason, "connection refused");
  EXPECT_EQ(value_of(registry_, "health_check_status", {{"check", "cache"}, {"kind", "readiness"}}),
            0);
}

TEST_F(HealthTest, FailingLivenessCheckDoesNotAffectReadiness) {
  health_.add_liveness("loop", [] { return false; });
  health_.mark_started();
  health_.run_due_checks();
  EXPECT_FALSE(health_.live());
  EXPECT_TRUE(health_.ready());
}

TEST_F(HealthTest, ProbesReadCachedResultsWithoutRunningChecks) {
  int calls = 0;
  health_.add_readiness("db", [&] {
    ++calls;
    return true;
  });
  health_.run_due_checks();
  ASSERT_EQ(calls, 1);
  for (int i = 0; i < 100; ++i) {
    (void)health_.ready();
    (void)health_.readiness();
    (void)health_.live();
  }
  EXPECT_EQ(calls, 1);
}

TEST_F(HealthTest, CheckRunsAgainOnlyWhenItsIntervalHasPassed) {
  int calls = 0;
  health_.add_readiness("db",
                        [&] {
                          ++calls;
                          return true;
                        },
                        {.interval = seconds(5)});
  health_.run_due_checks();
  health_.run_due_checks();
  EXPECT_EQ(calls, 1);
  clock_.advance(milliseconds(4999));
  health_.run_due_checks();
  EXPECT_EQ(calls, 1);
  clock_.advance(milliseconds(1));
  health_.run_due_checks();
  EXPECT_EQ(calls, 2);
}

TEST_F(HealthTest, CachedResultIsRefreshedAtTheInterval) {
  bool db_ok = true;
  health_.add_readiness("db", [&] { return db_ok; }, {.interval = seconds(5)});
  health_.mark_started();
  health_.run_due_checks();
  ASSERT_TRUE(health_.ready());

  db_ok = false;
  clock_.advance(seconds(4));
  health_.run_due_checks();
  EXPECT_TRUE(health_.ready()) << "still the cached result";
  clock_.advance(seconds(1));
  health_.run_due_checks();
  EXPECT_FALSE(health_.ready());
}

TEST_F(HealthTest, CheckThatThrowsFailsWithWhatItThrew) {
  health_.add_readiness("db", []() -> CheckResult { throw std::runtime_error("boom"); });
  health_.run_due_checks();
  const auto db = find_check(health_.readiness(), "db");
  ASSERT_TRUE(db);
  EXPECT_FALSE(db->ok);
  EXPECT_EQ(db->reason, "threw: boom");
}

TEST_F(HealthTest, CheckThatThrowsANonExceptionFailsToo) {
  health_.add_liveness("loop", []() -> CheckResult { throw 42; });
  health_.run_due_checks();
  EXPECT_FALSE(health_.live());
  EXPECT_EQ(find_check(health_.liveness(), "loop")->reason, "threw: unknown exception");
}

TEST_F(HealthTest, PredicateThatReturnsFalseFailsWithoutReason) {
  health_.add_readiness("db", [] { return false; });
  health_.run_due_checks();
  const auto db = find_check(health_.readiness(), "db");
  EXPECT_FALSE(db->ok);
  EXPECT_TRUE(db->ran);
  EXPECT_EQ(db->reason, "");
}

TEST_F(HealthTest, CheckThatReturnsAfterItsTimeoutFails) {
  health_.add_readiness("db",
                        [&] {
                          clock_.advance(milliseconds(600));  // a slow dependency
                          return CheckResult::success();
                        },
                        {.timeout = milliseconds(500)});
  health_.mark_started();
  health_.run_due_checks();
  EXPECT_FALSE(health_.ready());
  const auto db = find_check(health_.readiness(), "db");
  EXPECT_EQ(db->reason, "timed out after 500ms");
  EXPECT_EQ(db->duration, milliseconds(600));
}

TEST_F(HealthTest, CheckWithinItsTimeoutPasses) {
  health_.add_readiness("db",
                        [&] {
                          clock_.advance(milliseconds(500));
                          return CheckResult::success();
                        },
                        {.timeout = milliseconds(500)});
  health_.mark_started();
  health_.run_due_checks();
  EXPECT_TRUE(health_.ready());
}

TEST_F(HealthTest, StuckCheckFailsAtItsTimeoutAndIsNotStartedAgainUntilItReturns) {
  auto gate = std::make_shared<Gate>();
  std::atomic<int> calls{0};
  health_.add_readiness("db",
                        [&, gate] {
                          if (++calls == 1) {
                            clock_.advance(milliseconds(600));  // time passes while it hangs
                            gate->block();
                          }
                          return CheckResult::success();
                        },
                        {.timeout = milliseconds(500), .interval = seconds(1)});
  health_.mark_started();

  health_.run_due_checks();  // returns although the call is still stuck
  EXPECT_TRUE(gate->entered);
  const auto db = find_check(health_.readiness(), "db");
  EXPECT_FALSE(db->ok);
  EXPECT_EQ(db->reason, "timed out after 500ms");
  EXPECT_FALSE(health_.ready());

  clock_.advance(seconds(10));  // long past the interval
  health_.run_due_checks();
  EXPECT_EQ(calls, 1) << "started again while the stuck call had not returned";
  EXPECT_FALSE(health_.ready()) << "the late result of a timed-out call counts";

  gate->release();
  EXPECT_TRUE(poll_until([&] { health_.run_due_checks(); }, [&] { return calls == 2; }));
  health_.run_due_checks();
  EXPECT_TRUE(health_.ready());
}

TEST(Health, DestroyingWithAStuckCheckDoesNotWaitForIt) {
  auto gate = std::make_shared<Gate>();
  auto clock = std::make_shared<ManualClock>();
  {
    Registry registry;
    Health health(registry, {.clock = clock.get()});
    health.add_liveness("loop",
                        [clock, gate] {
                          clock->advance(std::chrono::seconds(2));
                          gate->block();
                          gate->returned = true;
                          return CheckResult::success();
                        },
                        {.timeout = std::chrono::seconds(1)});
    health.run_due_checks();
    ASSERT_TRUE(gate->entered);
  }  // must not block here
  gate->release();
  EXPECT_TRUE(poll_until([] {}, [&] { return gate->returned.load(); }));
}

TEST_F(HealthTest, DrainingMakesNotReadyAtOnce) {
  health_.add_readiness("db", [] { return true; });
  health_.mark_started();
  health_.run_due_checks();
  ASSERT_TRUE(health_.ready());

  health_.start_draining();
  EXPECT_TRUE(health_.draining());
  EXPECT_FALSE(health_.ready());
  const auto shutdown = find_check(health_.readiness(), "shutdown");
  ASSERT_TRUE(shutdown);
  EXPECT_FALSE(shutdown->ok);
  EXPECT_EQ(shutdown->reason, "draining");
  EXPECT_EQ(value_of(registry_, "service_ready"), 0);
}

TEST_F(HealthTest, DrainingIsFinal) {
  health_.mark_started();
  health_.start_draining();
  health_.mark_started();
  clock_.advance(seconds(60));
  health_.run_due_checks();
  EXPECT_FALSE(health_.ready());
}

TEST_F(HealthTest, DrainingDoesNotAffectLiveness) {
  health_.add_liveness("loop", [] { return true; });
  health_.run_due_checks();
  health_.start_draining();
  EXPECT_TRUE(health_.live());
}

TEST_F(HealthTest, DurationHistogramObservesEveryRun) {
  health_.add_readiness("db",
                        [&] {
                          clock_.advance(milliseconds(20));
                          return true;
                        },
                        {.interval = seconds(1)});
  health_.run_due_checks();
  clock_.advance(seconds(1));
  health_.run_due_checks();
  const auto point = find_point(registry_, "health_check_duration_seconds", {{"check", "db"}});
  ASSERT_TRUE(point);
  ASSERT_FALSE(point->bucket_counts.empty());
  EXPECT_EQ(point->bucket_counts.back(), 2u);
  EXPECT_NEAR(point->sum, 0.040, 1e-9);
}

TEST_F(HealthTest, ReportCarriesDurationAndLastRun) {
  health_.add_readiness("db", [&] {
    clock_.advance(milliseconds(7));
    return true;
  });
  const auto started = clock_.wall_now();
  health_.run_due_checks();
  const auto db = find_check(health_.readiness(), "db");
  EXPECT_EQ(db->duration, milliseconds(7));
  ASSERT_TRUE(db->last_run);
  EXPECT_EQ(*db->last_run, started);
}

TEST_F(HealthTest, NewReadinessCheckMakesNotReadyUntilItPasses) {
  health_.mark_started();
  ASSERT_TRUE(health_.ready());
  health_.add_readiness("late", [] { return true; });
  EXPECT_FALSE(health_.ready());
  health_.run_due_checks();
  EXPECT_TRUE(health_.ready());
}

TEST_F(HealthTest, ReadinessReportListsGatesThenChecksInOrder) {
  health_.add_readiness("b", [] { return true; });
  health_.add_readiness("a", [] { return true; });
  health_.add_liveness("l", [] { return true; });
  const HealthReport r = health_.readiness();
  ASSERT_EQ(r.checks.size(), 4u);
  EXPECT_EQ(r.checks[0].name, "startup");
  EXPECT_EQ(r.checks[1].name, "shutdown");
  EXPECT_EQ(r.checks[2].name, "b");
  EXPECT_EQ(r.checks[3].name, "a");
  ASSERT_EQ(health_.liveness().checks.size(), 1u);
  EXPECT_EQ(health_.liveness().checks[0].name, "l");
}

TEST_F(HealthTest, DuplicateCheckNameIsRejectedAcrossKinds) {
  health_.add_readiness("db", [] { return true; });
  EXPECT_THROW(health_.add_readiness("db", [] { return true; }), std::invalid_argument);
  EXPECT_THROW(health_.add_liveness("db", [] { return true; }), std::invalid_argument);
}

TEST_F(HealthTest, BadCheckNamesAreRejected) {
  EXPECT_THROW(health_.add_readiness("", [] { return true; }), std::invalid_argument);
  EXPECT_THROW(health_.add_readiness("has space", [] { return true; }), std::invalid_argument);
  EXPECT_THROW(health_.add_readiness("new\nline", [] { return true; }), std::invalid_argument);
  EXPECT_THROW(health_.add_readiness("startup", [] { return true; }), std::invalid_argument);
  EXPECT_THROW(health_.add_readiness("shutdown", [] { return true; }), std::invalid_argument);
  EXPECT_NO_THROW(health_.add_readiness("poststarthook/db-2.primary:5432", [] { return true; }));
}

TEST_F(HealthTest, NonPositiveTimeoutOrIntervalIsRejected) {
  EXPECT_THROW(health_.add_readiness("a", [] { return true; }, {.timeout = milliseconds(0)}),
               std::invalid_argument);
  EXPECT_THROW(health_.add_readiness("b", [] { return true; }, {.interval = milliseconds(-1)}),
               std::invalid_argument);
}

TEST_F(HealthTest, BackgroundRunnerRunsDueChecks) {
  std::atomic<int> calls{0};
  health_.add_readiness("db",
                        [&] {
                          ++calls;
                          return true;
                        },
                        {.interval = seconds(10)});
  health_.mark_started();
  health_.start_runner();
  EXPECT_TRUE(poll_until([] {}, [&] { return health_.ready(); }));
  EXPECT_EQ(calls, 1);
  clock_.advance(seconds(10));
  EXPECT_TRUE(poll_until([] {}, [&] { return calls == 2; }));
  health_.stop_runner();
}

TEST_F(HealthTest, BackgroundRunnerIsNotHeldUpByAStuckCheck) {
  auto gate = std::make_shared<Gate>();
  std::atomic<int> fast_calls{0};
  health_.add_readiness("stuck", [gate] {
    gate->block();
    return true;
  });
  health_.add_readiness("fast",
                        [&] {
                          ++fast_calls;
                          return true;
                        },
                        {.interval = seconds(1)});
  health_.start_runner();
  EXPECT_TRUE(poll_until([] {}, [&] { return fast_calls == 1; }));
  clock_.advance(milliseconds(1001));  // also times out "stuck" (1 s timeout)
  EXPECT_TRUE(poll_until([] {}, [&] { return fast_calls == 2; }));
  EXPECT_TRUE(poll_until([] {},
                         [&] {
                           const auto s = find_check(health_.readiness(), "stuck");
                           return s && s->reason == "timed out after 1000ms";
                         }));
  health_.stop_runner();
  gate->release();
}

}  // namespace
}  // namespace firebreak
