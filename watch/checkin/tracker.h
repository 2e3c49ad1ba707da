// Job check-ins: pings from scheduled jobs (healthchecks.io style), matched
// against each job's schedule to derive whether the job ran when expected,
// whether a run is in progress or too long, and how the last run ended.
//
//   watch::checkin::Tracker tracker(clock);
//   tracker.configure({{.name = "nightly-backup",
//                       .schedule = Schedule::parse_cron("30 2 * * *", "Europe/Berlin").value(),
//                       .grace = std::chrono::minutes(30),
//                       .max_run_time = std::chrono::hours(1)}});
//   // HTTP: GET /ping/nightly-backup/start?rid=7f3a...
//   auto req = watch::checkin::parse_ping_path("/ping/nightly-backup/start", "rid=7f3a");
//   auto r = tracker.ping(req.value());               // r.ok(), or 404 / 400 with r.error
//   for (auto& s : tracker.collect()) head.append(s.labels, s.sample.t, s.sample.v);
//
// Series written by collect() (one sample each, at the clock's time):
//
//   job_checkin_state{job}                                 0 up, 1 late, 2 down
//   job_checkin_next_expected_timestamp_seconds{job}       when the next check-in is due
//   job_checkin_last_ping_timestamp_seconds{job,kind}      kind = start | success | fail;
//                                                          only kinds seen so far
//   job_checkin_running{job}                               1 while a started run is open
//   job_checkin_run_started_timestamp_seconds{job}         start of the oldest open run;
//                                                          only while running
//   job_checkin_last_duration_seconds{job}                 of the last run whose start was
//                                                          matched; absent until one is
//   job_checkin_last_exit_status{job}                      of the last finished run, when it
//                                                          reported one (/ping/<job>/<status>)
//   job_checkin_last_run_failed{job}                       1 when the last finished run failed
//                                                          (fail ping or non-zero status);
//                                                          absent before the first finish
//   job_checkin_run_too_long{job}                          1 when an open run is older than
//                                                          max_run_time (0 when no limit)
//
// A series that stops being written gets one staleness marker (as Prometheus
// writes for a series that leaves a scrape), so rules stop seeing it at once.
//
// State semantics (job_checkin_state), healthchecks' model:
// - a check-in is any ping: start, success or fail (a run that started, or
//   ran and failed, did not miss its schedule; JobRunTooLong and JobFailed
//   cover those);
// - `due` = for a cron schedule, its first run strictly after the last
//   check-in (or, before the first check-in, after the time the job was first
//   configured); for a period, the last check-in + the period;
//   job_checkin_next_expected_timestamp_seconds is `due`;
// - up (0) while now < due; late (1) while due <= now < due + grace; down (2)
//   from due + grace on, until the next check-in (which makes it up again).
// So every punctual run is "late" for the seconds between its scheduled time
// and its ping: JobMissedRun should page on `job_checkin_state == 2` (did not
// start or succeed within its grace); `>= 1` is for a status page. A run that
// is late but within grace never reaches 2.
//
// Runs: a start ping opens a run (keyed by its run id, rid; a start without
// rid replaces the open run without rid); a success/fail/exit-status ping
// closes the run with its rid, or without a rid the most recently started
// one, giving the run's duration; closing a run also drops open runs started
// before it (runs that crashed without a finish ping). At most
// Options::max_open_runs runs are open per job (the oldest are dropped).
// A ping for a job not in the configuration is refused (PingResult::kUnknownJob,
// HTTP 404): watch knows every job's schedule, and auto-registered jobs would
// have none.
//
// Restart: save() returns the per-job state and history as plain structs for
// the SQLite store; restore() on a fresh tracker (after configure()) brings
// them back, so states, open runs and history survive. Jobs in the snapshot
// that are not configured are ignored.
//
// Thread-safety: all methods may be called from any thread; one mutex guards
// the state (pings and evaluation are rare and cheap).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/clock.h"
#include "watch/checkin/schedule.h"
#include "watch/checkin/series.h"

namespace watch::checkin {

enum class PingKind : std::uint8_t { kStart, kSuccess, kFail };
// "start", "success", "fail" (the `kind` label).
std::string_view to_string(PingKind kind);

enum class JobState : std::uint8_t { kUp = 0, kLate = 1, kDown = 2 };
std::string_view to_string(JobState state);

struct JobConfig {
  std::string name;
  Schedule schedule;
  std::chrono::seconds grace{std::chrono::hours(1)};
  std::chrono::seconds max_run_time{0};  // 0: no limit
};

// A ping as the HTTP layer hands it over.
struct PingRequest {
  std::string job;
  PingKind kind = PingKind::kSuccess;
  std::optional<int> exit_status;  // /ping/<job>/<status>: 0 success, else fail
  std::string rid;                 // "" when none
  // A run reported by a push (Tracker::report_pushed): when it happened
  // (Unix ms; never later than the clock's now) instead of now, and for a
  // finish its duration when the push says and no start was seen.
  std::optional<std::int64_t> time_ms;
  std::optional<double> duration_seconds;
};

// What a push (the Pushgateway API, a job pushing with any Prometheus client)
// says about the job's runs: the kit's job metrics, as the job's own push
// carries them (seconds since the epoch, and counts).
struct PushedJobMetrics {
  std::optional<double> last_start;     // job_last_start_timestamp_seconds
  std::optional<double> last_success;   // job_last_success_timestamp_seconds
  std::optional<double> last_failure;   // job_last_failure_timestamp_seconds
  std::optional<double> last_duration;  // job_last_duration_seconds
  std::optional<double> runs_ok;        // job_runs_total{outcome="ok" or "success"}
  std::optional<double> runs_failed;    // job_runs_total{outcome=anything else}
};

// Parses "/ping/<job>", "/ping/<job>/start", "/ping/<job>/fail",
// "/ping/<job>/<exit status 0-255>" and the query string ("rid=<id>", other
// parameters ignored). Job names and rids: 1-128 (rid 1-64) bytes of
// [A-Za-z0-9._:-]. Errors are 400-style messages.
Result<PingRequest> parse_ping_path(std::string_view path, std::string_view query = {});

struct PingResult {
  enum class Code : std::uint8_t { kOk, kUnknownJob, kInvalid };
  Code code = Code::kOk;
  std::string error;                                 // for kUnknownJob (404) and kInvalid (400)
  std::optional<std::chrono::nanoseconds> duration;  // a finish that closed a run
  bool ok() const { return code == Code::kOk; }
};

// One remembered ping.
struct HistoryEntry {
  std::int64_t time_ms = 0;
  PingKind kind = PingKind::kSuccess;
  std::string rid;
  std::optional<int> exit_status;
  std::optional<double> duration_seconds;  // a finish that closed a run
  friend bool operator==(const HistoryEntry&, const HistoryEntry&) = default;
};

struct OpenRun {
  std::string rid;
  std::int64_t started_ms = 0;
  friend bool operator==(const OpenRun&, const OpenRun&) = default;
};

// A job's persistent state (what save()/restore() carry). Plain data.
struct JobSnapshot {
  std::string name;
  std::int64_t configured_ms = 0;               // first configured: the anchor before any ping
  std::optional<std::int64_t> last_checkin_ms;  // any kind
  std::optional<std::int64_t> last_start_ms, last_success_ms, last_fail_ms;
  std::vector<OpenRun> open_runs;  // oldest first
  std::optional<double> last_duration_seconds;
  std::optional<int> last_exit_status;
  std::optional<bool> last_run_failed;  // nullopt before the first finish
  std::vector<HistoryEntry> history;    // oldest first
  friend bool operator==(const JobSnapshot&, const JobSnapshot&) = default;
};

// A job's derived status at one evaluation.
struct JobStatus {
  std::string name;
  JobState state = JobState::kUp;
  std::optional<WallTime> due;  // nullopt: the schedule has no further run
  bool running = false;
  std::optional<WallTime> run_started;  // oldest open run
  bool run_too_long = false;
  std::optional<bool> last_run_failed;
};

class Tracker {
 public:
  struct Options {
    std::size_t history_size = 100;  // pings remembered per job
    std::size_t max_open_runs = 16;
  };

  explicit Tracker(const firebreak::Clock& clock) : Tracker(clock, Options{}) {}
  Tracker(const firebreak::Clock& clock, Options options);

  // Sets the jobs (at start-up and on reload). Jobs that stay keep their
  // state; new ones start now (their first run is expected after now);
  // removed ones are forgotten (their series get staleness markers).
  void configure(std::vector<JobConfig> jobs);

  // Records a ping at the clock's time (or request.time_ms).
  PingResult ping(const PingRequest& request);

  // A job that pushes instead of pinging: a push whose job_last_*_timestamp
  // is newer than what the tracker has for that kind counts as that check-in
  // (at that time, with job_last_duration_seconds as the duration of a finish
  // whose start was not seen); without timestamps, an increase of
  // job_runs_total{outcome} counts as a finish now (the first push after a
  // start of watch only sets the baseline). So JobMissedRun, JobFailed and
  // JobRunTooLong work for push-only jobs. Returns the check-ins recorded;
  // 0 for a job that is not configured.
  int report_pushed(std::string_view job, const PushedJobMetrics& pushed);

  // States at `now` (sorted by job name). Pure: changes nothing.
  std::vector<JobStatus> evaluate(WallTime now) const;

  // The series above at the clock's time, plus staleness markers for series
  // written by the previous collect() and gone now.
  std::vector<SeriesSample> collect();

  // The last pings of a job, oldest first (empty for an unknown job).
  std::vector<HistoryEntry> history(std::string_view job) const;

  std::vector<JobSnapshot> save() const;
  void restore(const std::vector<JobSnapshot>& jobs);

 private:
  struct Job {
    JobConfig config;
    JobSnapshot state;
    // job_runs_total by outcome as last pushed (not saved: a restart takes
    // the next push as the baseline).
    std::optional<double> pushed_runs_ok, pushed_runs_failed;
  };
  JobStatus status_of(const Job& job, WallTime now) const;
  // Records a validated ping at `now` (or its time_ms). Requires mu_.
  PingResult record(Job& job, const PingRequest& request, std::int64_t now);

  const firebreak::Clock& clock_;
  Options options_;  // fixed after construction
  mutable std::mutex mu_;
  std::map<std::string, Job, std::less<>> jobs_;  // guarded by mu_
  std::set<LabelSet> last_collected_;             // guarded by mu_
};

}  // namespace watch::checkin
