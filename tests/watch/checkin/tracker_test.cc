// The check-in tracker on a ManualClock: up/late/down around the grace
// boundary, the late-but-within-grace run that must not page, runs too long,
// failures and exit statuses, rid matching for durations, the series it
// writes (names, values, staleness markers), history and restart.
#include "watch/checkin/tracker.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

namespace watch::checkin {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// ManualClock starts at 2026-01-01T00:00:00Z.
constexpr double kStart = 1767225600.0;

JobConfig daily(std::string name = "backup", seconds max_run = hours(1)) {
  return JobConfig{.name = std::move(name),
                   .schedule = Schedule::parse_cron("0 2 * * *", "UTC").value(),
                   .grace = minutes(30),
                   .max_run_time = max_run};
}

PingRequest ping(std::string_view path, std::string_view query = {}) {
  auto r = parse_ping_path(path, query);
  EXPECT_TRUE(r.ok()) << path << ": " << (r.ok() ? "" : r.error().to_string());
  return r.value();
}

class TrackerTest : public ::testing::Test {
 protected:
  TrackerTest() { tracker.configure({daily()}); }

  JobStatus status() { return tracker.evaluate(clock.wall_now()).at(0); }
  JobState state() { return status().state; }
  // Moves the clock to 2026-01-01 + offset.
  void at(firebreak::Clock::Duration offset) {
    clock.set_wall(WallTime(seconds(static_cast<std::int64_t>(kStart))) + offset);
  }
  // The value of one series in a collect() (NaN when absent).
  static double value(const std::vector<SeriesSample>& samples, std::string_view name,
                      std::string_view kind = {}) {
    for (const auto& s : samples) {
      if (s.labels.metric_name() == name && s.labels.get("kind") == kind) return s.sample.v;
    }
    return std::nan("");
  }

  firebreak::ManualClock clock;
  Tracker tracker{clock};
};

TEST_F(TrackerTest, OnTimeRunIsUp) {
  at(hours(1));
  EXPECT_EQ(state(), JobState::kUp);
  EXPECT_EQ(status().due, WallTime(seconds(static_cast<std::int64_t>(kStart))) + hours(2));
  at(hours(2) + seconds(5));
  ASSERT_TRUE(tracker.ping(ping("/ping/backup")).ok());
  EXPECT_EQ(state(), JobState::kUp);
  // Next due: tomorrow 02:00.
  EXPECT_EQ(status().due, WallTime(seconds(static_cast<std::int64_t>(kStart))) + hours(26));
  at(hours(25));
  EXPECT_EQ(state(), JobState::kUp);
}

TEST_F(TrackerTest, MissedRunIsLateThenDownAtTheGraceBoundary) {
  at(hours(2) - seconds(1));
  EXPECT_EQ(state(), JobState::kUp);
  at(hours(2));
  EXPECT_EQ(state(), JobState::kLate);
  at(hours(2) + minutes(30) - std::chrono::milliseconds(1));
  EXPECT_EQ(state(), JobState::kLate);
  at(hours(2) + minutes(30));
  EXPECT_EQ(state(), JobState::kDown);
  at(hours(30));
  EXPECT_EQ(state(), JobState::kDown);
  // A check-in brings it back up.
  ASSERT_TRUE(tracker.ping(ping("/ping/backup")).ok());
  EXPECT_EQ(state(), JobState::kUp);
}

TEST_F(TrackerTest, LateButWithinGraceNeverGoesDown) {
  // Every minute from 00:00 to the next day's 02:00, with a run starting at
  // 02:20 and finishing at 02:25 (grace 30m): late for 20 minutes, never down.
  int late_minutes = 0;
  for (int m = 0; m <= 26 * 60; ++m) {
    at(minutes(m));
    if (m == 2 * 60 + 20) {
      ASSERT_TRUE(tracker.ping(ping("/ping/backup/start")).ok());
    }
    if (m == 2 * 60 + 25) {
      ASSERT_TRUE(tracker.ping(ping("/ping/backup")).ok());
    }
    const JobState s = state();
    ASSERT_NE(s, JobState::kDown) << "minute " << m;
    late_minutes += s == JobState::kLate;
  }
  EXPECT_EQ(late_minutes, 20 + 1);  // 02:00..02:19, and 02:00 the next day
}

TEST_F(TrackerTest, StartedButNeverFinishedIsRunningTooLongAfterMaxRunTime) {
  at(hours(2));
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/start")).ok());
  at(hours(3) - seconds(1));
  EXPECT_TRUE(status().running);
  EXPECT_FALSE(status().run_too_long);
  EXPECT_EQ(state(), JobState::kUp);  // the start was the check-in
  at(hours(3));
  EXPECT_TRUE(status().run_too_long);
  const auto series = tracker.collect();
  EXPECT_EQ(value(series, "job_checkin_running"), 1);
  EXPECT_EQ(value(series, "job_checkin_run_too_long"), 1);
  EXPECT_EQ(value(series, "job_checkin_run_started_timestamp_seconds"), kStart + 7200);
  // The finish closes it.
  ASSERT_TRUE(tracker.ping(ping("/ping/backup")).ok());
  EXPECT_FALSE(status().running);
  EXPECT_FALSE(status().run_too_long);
}

TEST_F(TrackerTest, NoMaxRunTimeIsNeverTooLong) {
  tracker.configure({daily("backup", seconds(0))});
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/start")).ok());
  at(hours(200));
  EXPECT_TRUE(status().running);
  EXPECT_FALSE(status().run_too_long);
}

TEST_F(TrackerTest, FailPingMarksLastRunFailedButNotMissed) {
  at(hours(2));
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/fail")).ok());
  EXPECT_EQ(status().last_run_failed, true);
  EXPECT_EQ(state(), JobState::kUp);
  auto series = tracker.collect();
  EXPECT_EQ(value(series, "job_checkin_last_run_failed"), 1);
  EXPECT_EQ(value(series, "job_checkin_last_ping_timestamp_seconds", "fail"), kStart + 7200);
  EXPECT_TRUE(std::isnan(value(series, "job_checkin_last_exit_status")));
  // The next success clears it.
  at(hours(26));
  ASSERT_TRUE(tracker.ping(ping("/ping/backup")).ok());
  EXPECT_EQ(status().last_run_failed, false);
  series = tracker.collect();
  EXPECT_EQ(value(series, "job_checkin_last_run_failed"), 0);
}

TEST_F(TrackerTest, ExitStatusZeroIsSuccessNonZeroIsFailure) {
  at(hours(2));
  auto r0 = ping("/ping/backup/0");
  EXPECT_EQ(r0.kind, PingKind::kSuccess);
  ASSERT_TRUE(tracker.ping(r0).ok());
  auto series = tracker.collect();
  EXPECT_EQ(value(series, "job_checkin_last_exit_status"), 0);
  EXPECT_EQ(value(series, "job_checkin_last_run_failed"), 0);
  EXPECT_EQ(value(series, "job_checkin_last_ping_timestamp_seconds", "success"), kStart + 7200);

  at(hours(26));
  auto r3 = ping("/ping/backup/3");
  EXPECT_EQ(r3.kind, PingKind::kFail);
  ASSERT_TRUE(tracker.ping(r3).ok());
  series = tracker.collect();
  EXPECT_EQ(value(series, "job_checkin_last_exit_status"), 3);
  EXPECT_EQ(value(series, "job_checkin_last_run_failed"), 1);
  EXPECT_EQ(value(series, "job_checkin_last_ping_timestamp_seconds", "fail"), kStart + 26 * 3600);
  EXPECT_EQ(tracker.history("backup").back().exit_status, 3);
}

TEST_F(TrackerTest, RunIdsMatchStartAndFinishForDuration) {
  at(hours(2));
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/start", "rid=a")).ok());
  at(hours(2) + minutes(1));
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/start", "rid=b")).ok());
  at(hours(2) + minutes(10));
  // b finishes first: 9 minutes; and a, started before it, is dropped as crashed.
  auto rb = tracker.ping(ping("/ping/backup", "rid=b"));
  ASSERT_TRUE(rb.ok());
  ASSERT_TRUE(rb.duration);
  EXPECT_EQ(*rb.duration, minutes(9));
  EXPECT_FALSE(status().running);
  EXPECT_EQ(value(tracker.collect(), "job_checkin_last_duration_seconds"), 540);

  // Overlapping runs finishing in start order: each gets its own duration.
  at(hours(26));
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/start", "rid=c")).ok());
  at(hours(26) + minutes(2));
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/start", "rid=d")).ok());
  at(hours(26) + minutes(5));
  auto rc = tracker.ping(ping("/ping/backup/0", "rid=c"));
  ASSERT_TRUE(rc.duration);
  EXPECT_EQ(*rc.duration, minutes(5));
  EXPECT_TRUE(status().running);  // d still runs
  EXPECT_EQ(status().run_started, clock.wall_now() - minutes(3));
  at(hours(26) + minutes(7));
  auto rd = tracker.ping(ping("/ping/backup/fail", "rid=d"));
  ASSERT_TRUE(rd.duration);
  EXPECT_EQ(*rd.duration, minutes(5));
  EXPECT_EQ(tracker.history("backup").back().duration_seconds, 300.0);

  // An unknown rid closes nothing.
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/start", "rid=e")).ok());
  auto rx = tracker.ping(ping("/ping/backup", "rid=zzz"));
  EXPECT_FALSE(rx.duration);
  EXPECT_TRUE(status().running);
}

TEST_F(TrackerTest, FinishWithoutRidPairsWithTheLatestStart) {
  at(hours(2));
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/start")).ok());
  at(hours(2) + minutes(3));
  auto r = tracker.ping(ping("/ping/backup"));
  ASSERT_TRUE(r.duration);
  EXPECT_EQ(*r.duration, minutes(3));
  // A finish with no start has no duration; the last known duration stays.
  at(hours(26));
  EXPECT_FALSE(tracker.ping(ping("/ping/backup")).duration);
  EXPECT_EQ(value(tracker.collect(), "job_checkin_last_duration_seconds"), 180);
}

TEST_F(TrackerTest, UnknownJobIsRefused) {
  auto r = tracker.ping(ping("/ping/nope"));
  EXPECT_EQ(r.code, PingResult::Code::kUnknownJob);
  EXPECT_EQ(r.error, "ping: unknown job 'nope' (not in the configuration)");
  EXPECT_TRUE(tracker.history("nope").empty());
}

TEST_F(TrackerTest, InvalidRequestIsRefused) {
  PingRequest bad{.job = "backup", .kind = PingKind::kSuccess, .exit_status = 300, .rid = ""};
  EXPECT_EQ(tracker.ping(bad).code, PingResult::Code::kInvalid);
  bad.exit_status = std::nullopt;
  bad.rid = "has space";
  EXPECT_EQ(tracker.ping(bad).code, PingResult::Code::kInvalid);
}

TEST(PingPath, ParsesEveryForm) {
  auto p = parse_ping_path("/ping/backup").value();
  EXPECT_EQ(p.job, "backup");
  EXPECT_EQ(p.kind, PingKind::kSuccess);
  EXPECT_FALSE(p.exit_status);
  EXPECT_EQ(parse_ping_path("/ping/backup/").value().kind, PingKind::kSuccess);
  EXPECT_EQ(parse_ping_path("/ping/backup/start").value().kind, PingKind::kStart);
  EXPECT_EQ(parse_ping_path("/ping/backup/fail").value().kind, PingKind::kFail);
  EXPECT_EQ(parse_ping_path("/ping/backup/255").value().exit_status, 255);
  EXPECT_EQ(parse_ping_path("/ping/backup/start", "x=1&rid=r-1&y").value().rid, "r-1");
}

TEST(PingPath, ErrorsAreClear) {
  EXPECT_EQ(parse_ping_path("/pong/x").error().to_string(), "ping: path must start with /ping/");
  EXPECT_EQ(parse_ping_path("/ping/").error().to_string(),
            "ping: job name must be 1-128 characters of A-Z a-z 0-9 . _ : -");
  EXPECT_EQ(parse_ping_path("/ping/a b").error().to_string(),
            "ping: job name must be 1-128 characters of A-Z a-z 0-9 . _ : -");
  EXPECT_EQ(parse_ping_path("/ping/x/256").error().to_string(),
            "ping: exit status 256 is out of range 0-255");
  EXPECT_EQ(parse_ping_path("/ping/x/stop").error().to_string(),
            "ping: unknown action 'stop' (expected start, fail or an exit status 0-255)");
  EXPECT_EQ(parse_ping_path("/ping/x/1/2").error().to_string(),
            "ping: unknown action '1/2' (expected start, fail or an exit status 0-255)");
  EXPECT_EQ(parse_ping_path("/ping/x", "rid=").error().to_string(),
            "ping: rid must be 1-64 characters of A-Z a-z 0-9 . _ : -");
}

TEST_F(TrackerTest, PeriodScheduleIsMeasuredFromTheLastCheckin) {
  tracker.configure({JobConfig{.name = "sync",
                               .schedule = Schedule::parse("15m", "").value(),
                               .grace = minutes(5),
                               .max_run_time = seconds(0)}});
  at(minutes(7));
  ASSERT_TRUE(tracker.ping(ping("/ping/sync")).ok());
  at(minutes(22) - seconds(1));
  EXPECT_EQ(state(), JobState::kUp);
  at(minutes(22));
  EXPECT_EQ(state(), JobState::kLate);
  at(minutes(27));
  EXPECT_EQ(state(), JobState::kDown);
}

TEST_F(TrackerTest, NeverPingedJobIsDueAfterItWasConfigured) {
  // Configured at 00:00; the first 02:00 run is expected.
  at(hours(2) + minutes(30));
  EXPECT_EQ(state(), JobState::kDown);
}

TEST_F(TrackerTest, CronInTimeZoneAcrossDst) {
  // 02:30 Europe/Berlin on 29 March 2026 (spring forward): due at 01:00Z.
  clock.set_wall(WallTime(seconds(1774656000)));  // 2026-03-28T00:00:00Z
  tracker.configure(
      {JobConfig{.name = "berlin",
                 .schedule = Schedule::parse_cron("30 2 * * *", "Europe/Berlin").value(),
                 .grace = minutes(10),
                 .max_run_time = seconds(0)}});
  clock.set_wall(WallTime(seconds(1774661400)));  // 2026-03-28T01:30:00Z = 02:30 CET
  ASSERT_TRUE(tracker.ping(ping("/ping/berlin")).ok());
  EXPECT_EQ(tracker.evaluate(clock.wall_now()).at(0).due,
            WallTime(seconds(1774746000)));  // 2026-03-29T01:00:00Z
}

TEST_F(TrackerTest, SeriesNamesAndLabels) {
  at(hours(2));
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/start")).ok());
  at(hours(2) + minutes(1));
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/fail")).ok());
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/start")).ok());
  at(hours(2) + minutes(2));
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/0")).ok());
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/start")).ok());
  const auto series = tracker.collect();
  std::set<std::string> got;
  for (const auto& s : series) {
    EXPECT_EQ(s.labels.get("job"), "backup");
    EXPECT_EQ(s.sample.t, static_cast<std::int64_t>(kStart * 1000) + (2 * 3600 + 120) * 1000);
    got.insert(s.labels.to_string());
  }
  EXPECT_EQ(got, (std::set<std::string>{
                     "job_checkin_state{job=\"backup\"}",
                     "job_checkin_next_expected_timestamp_seconds{job=\"backup\"}",
                     "job_checkin_last_ping_timestamp_seconds{job=\"backup\", kind=\"start\"}",
                     "job_checkin_last_ping_timestamp_seconds{job=\"backup\", kind=\"success\"}",
                     "job_checkin_last_ping_timestamp_seconds{job=\"backup\", kind=\"fail\"}",
                     "job_checkin_running{job=\"backup\"}",
                     "job_checkin_run_started_timestamp_seconds{job=\"backup\"}",
                     "job_checkin_last_duration_seconds{job=\"backup\"}",
                     "job_checkin_last_exit_status{job=\"backup\"}",
                     "job_checkin_last_run_failed{job=\"backup\"}",
                     "job_checkin_run_too_long{job=\"backup\"}",
                 }));
  EXPECT_EQ(value(series, "job_checkin_state"), 0);
  EXPECT_EQ(value(series, "job_checkin_next_expected_timestamp_seconds"), kStart + 26 * 3600);
  EXPECT_EQ(value(series, "job_checkin_last_duration_seconds"), 60);
}

TEST_F(TrackerTest, SeriesThatDisappearGetOneStalenessMarker) {
  at(hours(2));
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/start")).ok());
  EXPECT_EQ(value(tracker.collect(), "job_checkin_run_started_timestamp_seconds"), kStart + 7200);
  ASSERT_TRUE(tracker.ping(ping("/ping/backup/3")).ok());
  auto series = tracker.collect();
  EXPECT_TRUE(is_stale_nan(value(series, "job_checkin_run_started_timestamp_seconds")));
  // Next collect: gone entirely.
  series = tracker.collect();
  for (const auto& s : series) {
    EXPECT_NE(s.labels.metric_name(), "job_checkin_run_started_timestamp_seconds");
    EXPECT_FALSE(is_stale_nan(s.sample.v));
  }
  // A success without an exit status: the exit status series goes stale.
  ASSERT_TRUE(tracker.ping(ping("/ping/backup")).ok());
  series = tracker.collect();
  EXPECT_TRUE(is_stale_nan(value(series, "job_checkin_last_exit_status")));
}

TEST_F(TrackerTest, RemovedJobSeriesGoStaleAndKeptJobKeepsState) {
  tracker.configure({daily("backup"), daily("report")});
  at(hours(2));
  ASSERT_TRUE(tracker.ping(ping("/ping/report")).ok());
  tracker.collect();
  tracker.configure({daily("report")});  // reload: backup removed
  const auto series = tracker.collect();
  int stale_backup = 0;
  for (const auto& s : series) {
    if (s.labels.get("job") == "backup") {
      EXPECT_TRUE(is_stale_nan(s.sample.v));
      ++stale_backup;
    }
  }
  EXPECT_GT(stale_backup, 0);
  EXPECT_EQ(tracker.history("report").size(), 1u);
  EXPECT_EQ(tracker.ping(ping("/ping/backup")).code, PingResult::Code::kUnknownJob);
}

TEST(TrackerHistory, RingKeepsTheLastN) {
  firebreak::ManualClock clock;
  Tracker tracker(clock, {.history_size = 3, .max_open_runs = 16});
  tracker.configure({daily()});
  for (int i = 0; i < 5; ++i) {
    clock.advance(minutes(1));
    ASSERT_TRUE(tracker.ping(ping("/ping/backup/" + std::to_string(i))).ok());
  }
  const auto h = tracker.history("backup");
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].exit_status, 2);
  EXPECT_EQ(h[2].exit_status, 4);
  EXPECT_EQ(h[2].kind, PingKind::kFail);
  EXPECT_EQ(h[2].time_ms, static_cast<std::int64_t>(kStart * 1000) + 5 * 60'000);
}

TEST(TrackerHistory, OpenRunsAreBounded) {
  firebreak::ManualClock clock;
  Tracker tracker(clock, {.history_size = 100, .max_open_runs = 2});
  tracker.configure({daily()});
  for (const char* rid : {"a", "b", "c"}) {
    clock.advance(minutes(1));
    ASSERT_TRUE(tracker.ping(ping("/ping/backup/start", std::string("rid=") + rid)).ok());
  }
  const auto saved = tracker.save();
  ASSERT_EQ(saved.at(0).open_runs.size(), 2u);
  EXPECT_EQ(saved.at(0).open_runs[0].rid, "b");
  EXPECT_FALSE(tracker.ping(ping("/ping/backup", "rid=a")).duration);
}

TEST(TrackerRestart, RestoreKeepsStateRunsAndHistory) {
  firebreak::ManualClock clock;
  std::vector<JobSnapshot> saved;
  {
    Tracker before(clock);
    before.configure({daily()});
    clock.advance(hours(2));
    ASSERT_TRUE(before.ping(ping("/ping/backup/start", "rid=r1")).ok());
    clock.advance(minutes(5));
    ASSERT_TRUE(before.ping(ping("/ping/backup/2", "rid=r1")).ok());
    clock.advance(hours(24) - minutes(5));
    ASSERT_TRUE(before.ping(ping("/ping/backup/start", "rid=r2")).ok());
    saved = before.save();
  }
  clock.advance(hours(2));  // down for a while; restarted
  Tracker after(clock);
  after.configure({daily()});
  after.restore(saved);
  EXPECT_EQ(after.save(), saved);
  const auto st = after.evaluate(clock.wall_now()).at(0);
  EXPECT_EQ(st.state, JobState::kUp);  // the 02:00 run started before the restart
  EXPECT_TRUE(st.running);
  EXPECT_TRUE(st.run_too_long);  // started 2h ago, max 1h
  EXPECT_EQ(st.last_run_failed, true);
  EXPECT_EQ(after.history("backup").size(), 3u);
  // The restored open run is matched by its rid.
  auto r = after.ping(ping("/ping/backup/0", "rid=r2"));
  ASSERT_TRUE(r.duration);
  EXPECT_EQ(*r.duration, hours(2));

  // Without restore, the same job would be "new": not running, nothing failed.
  Tracker fresh(clock);
  fresh.configure({daily()});
  EXPECT_FALSE(fresh.evaluate(clock.wall_now()).at(0).running);
}

}  // namespace
}  // namespace watch::checkin

namespace watch::checkin {
namespace {

// Jobs that push their metrics instead of pinging (issue 12).
class PushedRunsTest : public TrackerTest {};

TEST_F(PushedRunsTest, APushedSuccessIsTheRunsCheckInAtItsTime) {
  at(hours(2) + minutes(3));  // the run finished at 02:01, pushed at 02:03
  const double finished = kStart + 2 * 3600 + 60;
  EXPECT_EQ(tracker.report_pushed("backup", {.last_success = finished, .last_duration = 42}), 1);
  EXPECT_EQ(state(), JobState::kUp);
  EXPECT_EQ(status().due, WallTime(seconds(static_cast<std::int64_t>(kStart))) + hours(26));
  const auto h = tracker.history("backup");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].time_ms, static_cast<std::int64_t>(finished * 1000));
  EXPECT_EQ(h[0].kind, PingKind::kSuccess);
  EXPECT_EQ(h[0].duration_seconds, 42);
  EXPECT_EQ(status().last_run_failed, false);
  // The same push again (a job pushes its last values each time): nothing new.
  EXPECT_EQ(tracker.report_pushed("backup", {.last_success = finished, .last_duration = 42}), 0);
  EXPECT_EQ(tracker.history("backup").size(), 1u);
}

TEST_F(PushedRunsTest, APushOnlyJobThatStopsPushingIsDownAfterItsGrace) {
  at(hours(2) + minutes(1));
  tracker.report_pushed("backup", {.last_success = kStart + 2 * 3600 + 30});
  at(hours(26) + minutes(31));  // tomorrow's run never pushed
  EXPECT_EQ(state(), JobState::kDown);
}

TEST_F(PushedRunsTest, APushedFailureNewerThanTheLastSuccessFailsTheRun) {
  at(hours(2) + minutes(1));
  tracker.report_pushed("backup", {.last_success = kStart + 2 * 3600});
  at(hours(26) + minutes(1));
  EXPECT_EQ(tracker.report_pushed("backup", {.last_success = kStart + 2 * 3600,
                                             .last_failure = kStart + 26 * 3600 + 30}),
            1);
  EXPECT_EQ(status().last_run_failed, true);
  EXPECT_EQ(state(), JobState::kUp) << "a run that failed did not miss its schedule";
}

TEST_F(PushedRunsTest, APushedStartOpensARunThatAPushedFinishCloses) {
  at(hours(2) + seconds(5));
  tracker.report_pushed("backup", {.last_start = kStart + 2 * 3600});
  EXPECT_TRUE(status().running);
  at(hours(3) + minutes(5));
  EXPECT_TRUE(status().run_too_long) << "max_run_time 1h";
  tracker.report_pushed("backup",
                        {.last_start = kStart + 2 * 3600, .last_success = kStart + 3 * 3600 + 240});
  EXPECT_FALSE(status().running);
  const auto h = tracker.history("backup");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].duration_seconds, 3600 + 240) << "from the pushed start to the pushed finish";
}

TEST_F(PushedRunsTest, CountsWithoutTimestampsCountFromTheSecondPush) {
  at(hours(2));
  EXPECT_EQ(tracker.report_pushed("backup", {.runs_ok = 7}), 0) << "the baseline";
  at(hours(2) + minutes(1));
  EXPECT_EQ(tracker.report_pushed("backup", {.runs_ok = 8}), 1);
  EXPECT_EQ(state(), JobState::kUp);
  EXPECT_EQ(tracker.report_pushed("backup", {.runs_ok = 8, .runs_failed = 0}), 0);
  EXPECT_EQ(tracker.report_pushed("backup", {.runs_ok = 8, .runs_failed = 1}), 1);
  EXPECT_EQ(status().last_run_failed, true);
}

TEST_F(PushedRunsTest, AFutureOrAbsurdTimeIsNotBelieved) {
  at(hours(2));
  tracker.report_pushed("backup", {.last_success = kStart + 90 * 24 * 3600});  // in 90 days
  EXPECT_EQ(tracker.history("backup").at(0).time_ms,
            static_cast<std::int64_t>((kStart + 2 * 3600) * 1000))
      << "capped at now";
  EXPECT_EQ(tracker.report_pushed("backup", {.last_success = std::nan("")}), 0);
  EXPECT_EQ(tracker.report_pushed("backup", {.last_failure = -5}), 0);
  EXPECT_EQ(tracker.report_pushed("nope", {.last_success = kStart}), 0) << "not a configured job";
}

}  // namespace
}  // namespace watch::checkin
