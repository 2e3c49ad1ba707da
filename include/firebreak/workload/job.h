// Scheduled jobs: one run of a job as an RAII object that records its start,
// outcome, duration and items, tells a check-in receiver (healthchecks style,
// e.g. firebreak watch) and optionally a Pushgateway, and keeps two runs of
// the same job from overlapping.
//
//   int main() {
//     return firebreak::run_job({.name = "shop-daily", .lock_file = "/run/shop-daily.lock"},
//                               [&](firebreak::JobRun& run) {
//                                 for (auto& day : days) { build_report(day); run.add_items(1); }
//                               });   // 0 on success, 1 on an exception, 75 when locked out
//   }
//
//   // Or by hand:
//   firebreak::JobRun run({.name = "shop-daily"});
//   if (!run.acquired()) return run.exit_status();      // another run holds the lock: 75
//   try { run.add_items(prune()); } catch (const std::exception& e) { return run.fail(e.what()); }
//   return run.succeed();
//
// A run, from construction to its end (succeed(), fail(), finish(), or the
// destructor):
//   - a run id, a random UUID v4, in the log context (`job`, `job_run_id`), in
//     the span (job.name, job.run_id) and in every check-in (`?rid=`);
//   - a root span "job <name>" (internal kind), status ERROR on failure;
//   - log records `job_started` and `job_finished` (outcome, exit_status,
//     duration_s, items; error level on failure, with the reason);
//   - metrics, all labelled `job` (= the name), as the Pushgateway groups them:
//       job_last_start_timestamp_seconds     set at start
//       job_last_success_timestamp_seconds   set at the end of a successful run
//       job_last_failure_timestamp_seconds   set at the end of a failed run
//       job_last_duration_seconds            set at the end of every run
//       job_items_processed                  items of the current/last run
//       job_runs_total{job,outcome}          outcome: success | failure | skipped
//                                            (skipped: locked out by another run)
//   - check-ins, when a check-in URL is configured, in the healthchecks.io
//     ping API's form (POST, `rid` the run id, a short text summary as body):
//       at start                       <url>/start?rid=<run id>
//       succeed()                      <url>?rid=<run id>
//       fail(), exception, destructor  <url>/fail?rid=<run id>
//       finish(status)                 <url>/<status>?rid=<run id>   (0..255)
//     e.g. url = http://127.0.0.1:9095/ping/shop-daily for firebreak watch.
//   - a push, when a Pushgateway URL is configured, at start and at the end:
//     PUT <pushgateway>/metrics/job/<name> with the job_* families of this job
//     in the text format (a name with '/' goes as job@base64/<base64url>, as
//     the Pushgateway's URL rules ask; other names are percent-encoded), the
//     `job` label left to the URL's grouping key. PUT replaces the whole
//     group, so the gateway shows exactly what this process knows: a one-shot
//     process knows only its own run, so after a failed run the group's
//     job_last_success_timestamp_seconds is 0 (unknown). Check-ins, whose
//     receiver keeps the history, are the primary signal for missed runs; or
//     set push_method = PushMethod::kPost (the Pushgateway's "push add"): only
//     the families pushed are replaced and timestamps this process never set
//     are left out, so the gateway keeps the last success across failed runs.
//   - delivery: each check-in and push gets `delivery_attempts` tries (default
//     3) with a short doubling backoff (250 ms, 500 ms) and a per-try timeout
//     (3 s, so a black-holed receiver delays a run by at most ~10 s a delivery);
//     one that still fails is logged (`job_checkin_failed`,
//     `job_push_failed`, warn) and never fails the job.
//   - lock, when a lock file is configured: an exclusive flock(2) on it for
//     the run's life (the file is created if missing and left in place). A run
//     that finds it held does not run: acquired() is false, the outcome is
//     skipped, the exit status kJobExitLocked (75, EX_TEMPFAIL), it logs
//     `job_locked` (error), counts job_runs_total{outcome="skipped"} and sends
//     no check-in and no push (the run holding the lock owns those).
//
// Configuration: options in code, then the environment, which wins (the
// operator has the last word, as for Service):
//   FIREBREAK_JOB_CHECKIN_URL   check-in base URL (http or https)
//   FIREBREAK_PUSHGATEWAY_URL   Pushgateway base URL, e.g. http://127.0.0.1:9091
//   FIREBREAK_JOB_LOCK_FILE     lock file path
// An empty value turns the feature off.
//
// Exit status: 0 success; 1 failure (fail(), an exception, a destructor
// without an explicit end); finish(n) gives n; 75 locked out.
//
// Time: timestamps from the clock's wall time, the duration from its
// monotonic time, so tests move a ManualClock.
//
// Thread-safety: add_items() may be called from any thread. Everything else
// belongs to the thread that created the run (its span and log context are
// that thread's current ones while it runs).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "firebreak/clock.h"
#include "firebreak/metrics.h"
#include "firebreak/trace.h"

namespace firebreak {

inline constexpr int kJobExitSuccess = 0;
inline constexpr int kJobExitFailure = 1;
// A run locked out by another run of the same job (sysexits.h EX_TEMPFAIL).
inline constexpr int kJobExitLocked = 75;

enum class JobOutcome : std::uint8_t { kRunning, kSuccess, kFailure, kSkipped };

// How a run pushes to the Pushgateway (see above).
enum class PushMethod : std::uint8_t {
  kPut,   // replace the job's group (default)
  kPost,  // replace the pushed families only; never-set timestamps left out
};

// "running", "success", "failure", "skipped" (the last three are the values
// of job_runs_total's `outcome` label).
std::string_view to_string(JobOutcome outcome) noexcept;

struct JobOptions {
  // The job's name: the `job` label, the log's `job` field. Required.
  std::string name;
  // Where the job_* families go; null: a registry owned by the run (what is
  // pushed is the same either way). Pass the Service's registry when the job
  // also serves /metrics (e.g. a long-lived `--every` loop).
  Registry* registry = nullptr;
  std::string checkin_url = {};      // FIREBREAK_JOB_CHECKIN_URL
  std::string pushgateway_url = {};  // FIREBREAK_PUSHGATEWAY_URL
  PushMethod push_method = PushMethod::kPut;
  std::string lock_file = {};  // FIREBREAK_JOB_LOCK_FILE
  // Delivery of check-ins and pushes (see above).
  int delivery_attempts = 3;
  std::chrono::milliseconds delivery_backoff{250};
  std::chrono::milliseconds delivery_timeout{3000};
  const Clock* clock = &Clock::system();
  // Starts the run's span; null: the global tracer.
  const Tracer* tracer = nullptr;
  // Where environment variables come from; empty: the process environment.
  EnvLookup env = {};
  // Waits between delivery attempts; empty: std::this_thread::sleep_for.
  std::function<void(std::chrono::milliseconds)> sleep = {};
};

// `options` with the environment applied and checked. Throws
// std::invalid_argument with a message naming the setting for an empty or
// over-long (> 200 characters) name, a check-in or Pushgateway URL that is not
// an absolute http URL, or delivery_attempts < 1.
JobOptions resolve_job_options(JobOptions options);

// The Pushgateway URL of a job's group: "<base>/metrics/job/<encoded name>"
// (base without its trailing '/'; job@base64 for a name with '/').
std::string pushgateway_job_url(std::string_view base, std::string_view job);

// A new random UUID v4, lowercase, 36 characters (run ids, request ids).
std::string generate_uuid();

// One run of a job. Not copyable or movable.
class JobRun {
 public:
  // Resolves the options (resolve_job_options; throws std::invalid_argument
  // as it does, and when the lock file cannot be opened or locked for another
  // reason than being held), takes the lock, then starts: metrics, span, log context,
  // `job_started`, the start check-in and push. When the lock is held
  // elsewhere, the run is over at once (see acquired()).
  explicit JobRun(JobOptions options);
  // Ends a run that was not ended: failure (exit status 1, /fail), with the
  // exception's message as the reason when one is unwinding. Releases the lock.
  ~JobRun();
  JobRun(const JobRun&) = delete;
  JobRun& operator=(const JobRun&) = delete;

  // False when another run held the lock: this one did not start (outcome
  // skipped, exit status 75) and its end functions do nothing.
  bool acquired() const noexcept;

  const std::string& name() const noexcept;
  const std::string& run_id() const noexcept;

  // Counts processed items (job_items_processed follows at once). Any thread.
  void add_items(std::uint64_t n = 1) noexcept;
  std::uint64_t items() const noexcept;

  // End the run; each returns the exit status. Only the first end counts;
  // later calls return the recorded status. None throws.
  int succeed() noexcept;                                              // 0, <url>
  int fail(std::string_view reason = {}) noexcept;                     // 1, <url>/fail
  int finish(int exit_status, std::string_view reason = {}) noexcept;  // n, <url>/<n>
  //   finish(): 0 is a success, anything else a failure; a status outside
  //   0..255 is recorded and pinged as 1.

  bool finished() const noexcept;
  JobOutcome outcome() const noexcept;  // kRunning until the end
  int exit_status() const noexcept;     // 0 while running
  // Seconds since start (the final duration once ended).
  double duration_seconds() const noexcept;

  // The run's span, e.g. to add events. Not recording when tracing is off.
  Span& span() noexcept;
  // The registry holding the job_* families (options' or the run's own).
  Registry& registry() noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs `body` as one run of the job and returns the process exit status.
// `body(JobRun&)` may return void (success), bool (false: failure "job
// returned false") or int (finish() with that exit status); an exception
// fails the run with its message (exit status 1) and is not rethrown. When
// locked out, `body` is not called and 75 is returned. Throws only what
// JobRun's constructor throws (configuration).
template <class F>
int run_job(JobOptions options, F&& body) {
  JobRun run(std::move(options));
  if (!run.acquired()) return run.exit_status();
  try {
    using R = std::invoke_result_t<F&, JobRun&>;
    if constexpr (std::is_void_v<R>) {
      body(run);
      return run.succeed();
    } else if constexpr (std::is_same_v<R, bool>) {
      return body(run) ? run.succeed() : run.fail("job returned false");
    } else {
      static_assert(std::is_convertible_v<R, int>, "the job body returns void, bool or int");
      const int status = static_cast<int>(body(run));
      return run.finish(status);
    }
  } catch (const std::exception& e) {
    return run.fail(e.what());
  } catch (...) {
    return run.fail("unknown exception");
  }
}

}  // namespace firebreak
