// Health: liveness and readiness checks with cached results, a start-up gate
// and draining, as served on /livez and /readyz (see admin.h).
//
//   firebreak::Registry registry;
//   firebreak::Health health(registry);
//   health.add_readiness("database", [&] { return db.ping(); },
//                        {.timeout = std::chrono::milliseconds(500)});
//   health.start_runner();      // checks run in the background at their interval
//   ...                         // load config, warm caches
//   health.mark_started();      // ready once every readiness check passes
//   ...
//   health.start_draining();    // on SIGTERM: not ready at once
//
// Probes never run checks: they read the result of the last run, so a probe
// storm costs the dependency nothing. A background runner (one scheduling
// thread) starts each check when it is due; each check call runs on that
// check's own worker thread (created at its first run, idle in between), so a
// hung dependency cannot stall the others. A check that throws is failed with
// "threw: <what>"; one that runs longer than its timeout is failed with "timed
// out after <N>ms" as soon as the timeout passes, and is not started again
// until its stuck call returns.
//
// Liveness means the process itself can make progress (never a dependency: a
// liveness check that reaches a database turns an outage into a restart
// storm). Readiness = started && !draining && every readiness check passing.
//
// Metrics, registered on the given registry:
//   service_ready                              gauge 0/1
//   service_time_to_ready_seconds              gauge, absent until the first time
//                                              ready, then set once: seconds from
//                                              HealthOptions::start_time to then
//   health_check_status{check,kind}            gauge 0/1, kind = liveness|readiness
//   health_check_duration_seconds{check}       histogram of run durations (default
//                                              buckets, 5ms..10s): one observation per
//                                              run; a run that times out is observed
//                                              then, with its time so far
//
// Time comes from HealthOptions::clock; tests use a ManualClock and drive the
// state machine with run_due_checks() instead of the runner.
//
// Thread-safety: every member function is thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/clock.h"
#include "firebreak/metrics.h"

namespace firebreak {

enum class CheckKind { kLiveness, kReadiness };

// "liveness" or "readiness" (the value of the `kind` label).
std::string_view to_string(CheckKind kind);

// What a check returns: ok, or failed with a reason for humans.
struct CheckResult {
  bool ok = true;
  std::string reason = {};  // empty when ok

  static CheckResult success() { return {}; }
  static CheckResult failure(std::string reason) { return {false, std::move(reason)}; }
};

// A check. Runs on a worker thread owned by the Health, never concurrently
// with itself. May throw (the check is then failed with "threw: <what>").
using CheckFn = std::function<CheckResult()>;

struct CheckOptions {
  // A run that takes longer than this is failed ("timed out after 500ms").
  std::chrono::milliseconds timeout = std::chrono::seconds(1);
  // Time between the starts of two runs.
  std::chrono::milliseconds interval = std::chrono::seconds(5);
};

struct HealthOptions {
  const Clock* clock = &Clock::system();
  // The instant service_time_to_ready_seconds counts from (e.g. the process's
  // start time). Default: when the Health is constructed.
  std::optional<Clock::WallTime> start_time = std::nullopt;
};

// One line of a report: a registered check, or one of the two built-in
// readiness gates, "startup" (failed until mark_started()) and "shutdown"
// (failed with "draining" once draining).
struct CheckStatus {
  std::string name;
  CheckKind kind = CheckKind::kReadiness;
  bool ok = false;
  std::string reason;  // why it failed; empty when ok
  // False until the check's first run completed or timed out. A check that has
  // not run yet fails readiness (reason "not run yet") but not liveness (a
  // liveness probe must not restart a process whose checks have not run).
  bool ran = false;
  Clock::Duration duration{};               // of the last run
  std::optional<Clock::WallTime> last_run;  // when the last run started
};

struct HealthReport {
  bool ok = false;
  // Readiness: "startup", "shutdown", then the checks in registration order.
  std::vector<CheckStatus> checks;
};

class Health {
 public:
  // Registers the metrics above on `registry`, which must outlive this object.
  // Throws MetricError if they conflict with families already registered.
  explicit Health(Registry& registry, HealthOptions options = {});
  // Stops the runner. A check call still running is abandoned: its worker
  // thread is detached and exits when the call returns, touching neither this
  // object nor the registry; the check function must stay callable until then.
  ~Health();
  Health(const Health&) = delete;
  Health& operator=(const Health&) = delete;

  // Registers a check, due at once. `name` is non-empty, at most 128
  // characters of [A-Za-z0-9_.:/-], unique across both kinds and not
  // "startup" or "shutdown"; otherwise std::invalid_argument. A timeout or
  // interval <= 0 is std::invalid_argument too. Checks can be added at any
  // time; a new readiness check makes the service not ready until it passes.
  void add_liveness(std::string name, CheckFn fn, CheckOptions options = {});
  void add_readiness(std::string name, CheckFn fn, CheckOptions options = {});
  // Same, for a predicate: false fails the check without a reason.
  void add_liveness(std::string name, std::function<bool()> fn, CheckOptions options = {});
  void add_readiness(std::string name, std::function<bool()> fn, CheckOptions options = {});

  // Opens the start-up gate. Idempotent.
  void mark_started();
  // Readiness becomes false at once, for good (reason "draining"). Idempotent.
  void start_draining();
  bool started() const;
  bool draining() const;

  // Current state, from cached results; never runs a check.
  bool live() const;
  bool ready() const;
  HealthReport liveness() const;
  HealthReport readiness() const;
  HealthReport report(CheckKind kind) const;

  // At the clock's current time: fails every running call past its timeout,
  // starts every due check that is not still running, then waits until each
  // call it started has returned or passed its timeout (by the clock: with a
  // ManualClock, a call that never returns keeps this waiting until the clock
  // is moved past its timeout, e.g. by the check itself). Results are recorded
  // and metrics updated before it returns, except for calls it left running.
  void run_due_checks();

  // Starts / stops the background runner, which does what run_due_checks()
  // does but without waiting for calls, sleeping until the next check is due.
  // With a clock other than the system clock it polls it every 50ms. start is
  // idempotent; stop is idempotent and waits for the runner (not for checks).
  void start_runner();
  void stop_runner();

 private:
  struct Core;
  struct Check;
  void add(CheckKind kind, std::string name, CheckFn fn, CheckOptions options);
  void runner_loop();

  std::shared_ptr<Core> core_;
};

}  // namespace firebreak
