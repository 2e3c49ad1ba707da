#include "firebreak/health.h"

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

namespace firebreak {

std::string_view to_string(CheckKind kind) {
  return kind == CheckKind::kLiveness ? "liveness" : "readiness";
}

namespace {

constexpr std::string_view kStartupGate = "startup";
constexpr std::string_view kShutdownGate = "shutdown";
constexpr std::string_view kNotRunYet = "not run yet";

double seconds(Clock::Duration d) {
  return std::chrono::duration<double>(d).count();
}

void validate_name(std::string_view name) {
  if (name.empty()) throw std::invalid_argument("health check name must not be empty");
  if (name.size() > 128)
    throw std::invalid_argument("health check name \"" + std::string(name.substr(0, 32)) +
                                "...\" is longer than 128 characters");
  for (char c : name) {
    const bool good = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '.' || c == ':' || c == '/' || c == '-';
    if (!good)
      throw std::invalid_argument("health check name \"" + std::string(name) +
                                  "\" may only contain [A-Za-z0-9_.:/-]");
  }
  if (name == kStartupGate || name == kShutdownGate)
    throw std::invalid_argument("health check name \"" + std::string(name) +
                                "\" is reserved for the built-in readiness gate");
}

void set_thread_name(const char* name) {
  pthread_setname_np(pthread_self(), name);
}

CheckResult call_check(const CheckFn& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return CheckResult::failure(std::string("threw: ") + e.what());
  } catch (...) {
    return CheckResult::failure("threw: unknown exception");
  }
}

std::string timeout_reason(std::chrono::milliseconds timeout) {
  return "timed out after " + std::to_string(timeout.count()) + "ms";
}

}  // namespace

struct Health::Check {
  std::string name;
  CheckKind kind;
  CheckFn fn;
  CheckOptions options;
  Gauge status;        // health_check_status{check,kind}
  Histogram duration;  // health_check_duration_seconds{check}

  // Everything below is guarded by Core::mu.
  CheckResult result;
  bool ran = false;
  Clock::Duration last_duration{};
  std::optional<Clock::WallTime> last_run;
  Clock::MonoTime next_due{};
  Clock::MonoTime run_start{};
  std::uint64_t run_id = 0;  // number of runs started
  bool running = false;      // a call is in progress (possibly timed out)
  bool timed_out = false;    // the current call passed its timeout
  bool go = false;           // the worker should start a call
  std::thread worker;        // created at the first run
};

// Shared with the worker threads, so that a worker abandoned in a stuck call
// can still finish safely after the Health is gone.
struct Health::Core {
  explicit Core(const Clock& c) : clock(c) {}

  // The body of a check's worker thread.
  static void worker_loop(std::shared_ptr<Core> core, Check* c);

  const Clock& clock;
  const bool polls_clock = dynamic_cast<const SystemClock*>(&clock) == nullptr;

  std::mutex mu;
  std::condition_variable work_cv;   // workers: go or stopping
  std::condition_variable event_cv;  // a call returned, a check was added, stop
  // Guarded by mu.
  bool stopping = false;  // the Health is being destroyed: touch no gauge, no clock
  bool runner_stop = false;
  bool started = false;
  bool draining = false;
  bool ever_ready = false;
  std::vector<std::unique_ptr<Check>> checks;

  // Set at construction, then read-only.
  Gauge ready_gauge;
  GaugeFamily* status_family = nullptr;
  HistogramFamily* duration_family = nullptr;
  GaugeFamily* time_to_ready_family = nullptr;
  Clock::MonoTime created_mono{};
  Clock::Duration start_offset{};  // from start_time to construction

  std::mutex runner_mu;  // guards runner (start/stop)
  std::thread runner;

  // --- all below: caller holds mu ---

  bool compute_ready() const {
    if (!started || draining) return false;
    for (const auto& c : checks)
      if (c->kind == CheckKind::kReadiness && !(c->ran && c->result.ok)) return false;
    return true;
  }

  bool compute_live() const {
    for (const auto& c : checks)
      if (c->kind == CheckKind::kLiveness && c->ran && !c->result.ok) return false;
    return true;
  }

  void update_ready() {
    const bool ready = compute_ready();
    ready_gauge.set(ready ? 1 : 0);
    if (ready && !ever_ready) {
      ever_ready = true;
      time_to_ready_family->labels().set(seconds(clock.mono_now() - created_mono + start_offset));
    }
  }

  void record(Check& c, CheckResult result) {
    c.result = std::move(result);
    c.ran = true;
    c.status.set(c.result.ok ? 1 : 0);
    update_ready();
  }

  // Records a run's duration; `observe` is false for the late return of a
  // run that was observed when it timed out.
  void set_duration(Check& c, Clock::Duration d, bool observe) {
    c.last_duration = d;
    if (observe) c.duration.observe(seconds(d));
  }

  // Fails every call past its timeout.
  void expire(Clock::MonoTime now) {
    for (auto& c : checks) {
      if (c->running && !c->timed_out && now - c->run_start > c->options.timeout) {
        c->timed_out = true;
        set_duration(*c, now - c->run_start, true);
        record(*c, CheckResult::failure(timeout_reason(c->options.timeout)));
      }
    }
  }

  // Starts every due check that is not running; returns (check, run id) pairs.
  std::vector<std::pair<Check*, std::uint64_t>> dispatch(Clock::MonoTime now,
                                                         const std::shared_ptr<Core>& self);

  // When the runner must next look: the earliest due time or timeout.
  Clock::MonoTime next_event(Clock::MonoTime now) const {
    Clock::MonoTime next = now + std::chrono::hours(1);
    for (const auto& c : checks) {
      if (!c->running)
        next = std::min(next, c->next_due);
      else if (!c->timed_out)
        next = std::min(next, c->run_start + c->options.timeout + Clock::Duration(1));
    }
    return next;
  }

  CheckStatus status_of(const Check& c) const {
    CheckStatus s;
    s.name = c.name;
    s.kind = c.kind;
    s.ran = c.ran;
    if (c.ran) {
      s.ok = c.result.ok;
      s.reason = c.result.reason;
    } else {
      // Readiness fails closed, liveness fails open.
      s.ok = c.kind == CheckKind::kLiveness;
      if (!s.ok) s.reason = std::string(kNotRunYet);
    }
    s.duration = c.last_duration;
    s.last_run = c.last_run;
    return s;
  }
};

std::vector<std::pair<Health::Check*, std::uint64_t>> Health::Core::dispatch(
    Clock::MonoTime now, const std::shared_ptr<Core>& self) {
  std::vector<std::pair<Check*, std::uint64_t>> started_runs;
  for (auto& c : checks) {
    if (c->running || now < c->next_due) continue;
    c->running = true;
    c->timed_out = false;
    c->go = true;
    c->run_start = now;
    c->last_run = clock.wall_now();
    c->next_due = now + c->options.interval;
    ++c->run_id;
    if (!c->worker.joinable()) c->worker = std::thread(worker_loop, self, c.get());
    started_runs.emplace_back(c.get(), c->run_id);
  }
  if (!started_runs.empty()) work_cv.notify_all();
  return started_runs;
}

void Health::Core::worker_loop(std::shared_ptr<Core> core, Check* c) {
  set_thread_name("fb-check");
  std::unique_lock lock(core->mu);
  for (;;) {
    core->work_cv.wait(lock, [&] { return core->stopping || c->go; });
    if (core->stopping) return;
    c->go = false;
    lock.unlock();
    CheckResult result = call_check(c->fn);
    lock.lock();
    c->running = false;
    if (core->stopping) return;  // abandoned: the clock and registry may be gone
    const Clock::Duration elapsed = core->clock.mono_now() - c->run_start;
    core->set_duration(*c, elapsed, !c->timed_out);
    if (!c->timed_out) {  // a timed-out run was failed already; its late result is dropped
      if (elapsed > c->options.timeout)
        result = CheckResult::failure(timeout_reason(c->options.timeout));
      core->record(*c, std::move(result));
    }
    core->event_cv.notify_all();
  }
}

Health::Health(Registry& registry, HealthOptions options)
    : core_(std::make_shared<Core>(*options.clock)) {
  Core& core = *core_;
  core.ready_gauge = registry
                         .gauge({.name = "service_ready",
                                 .help = "1 when the service can serve: start-up done, not "
                                         "draining, every readiness check passing; else 0.",
                                 .combine = ProcessCombine::kServing})
                         .labels();
  core.time_to_ready_family = &registry.gauge(
      {.name = "service_time_to_ready_seconds",
       .help = "Seconds from start to the first time the service was ready (set once).",
       .unit = "seconds",
       .combine = ProcessCombine::kServing});
  core.status_family =
      &registry.gauge({.name = "health_check_status",
                       .help = "1 when the health check's last run passed, else 0.",
                       .labels = {"check", "kind"},
                       .combine = ProcessCombine::kMin});
  core.duration_family = &registry.histogram({.name = "health_check_duration_seconds",
                                              .help = "Duration of health check runs.",
                                              .labels = {"check"},
                                              .unit = "seconds"});
  core.created_mono = core.clock.mono_now();
  if (options.start_time) {
    const Clock::Duration offset = core.clock.wall_now() - *options.start_time;
    core.start_offset = std::max(offset, Clock::Duration::zero());
  }
  core.ready_gauge.set(0);
}

Health::~Health() {
  stop_runner();
  std::vector<std::thread> idle;
  {
    std::lock_guard lock(core_->mu);
    core_->stopping = true;
    for (auto& c : core_->checks) {
      if (!c->worker.joinable()) continue;
      if (c->running)
        c->worker.detach();  // stuck in a call: it exits when the call returns
      else
        idle.push_back(std::move(c->worker));
    }
  }
  core_->work_cv.notify_all();
  core_->event_cv.notify_all();
  for (auto& t : idle) t.join();
}

void Health::add(CheckKind kind, std::string name, CheckFn fn, CheckOptions options) {
  validate_name(name);
  if (!fn) throw std::invalid_argument("health check \"" + name + "\" has no function");
  if (options.timeout <= std::chrono::milliseconds::zero() ||
      options.interval <= std::chrono::milliseconds::zero())
    throw std::invalid_argument("health check \"" + name +
                                "\": timeout and interval must be positive");
  Core& core = *core_;
  std::lock_guard lock(core.mu);
  for (const auto& c : core.checks)
    if (c->name == name)
      throw std::invalid_argument("health check \"" + name + "\" is already registered (as " +
                                  std::string(to_string(c->kind)) + ")");
  auto c = std::make_unique<Check>();
  c->name = std::move(name);
  c->kind = kind;
  c->fn = std::move(fn);
  c->options = options;
  c->status = core.status_family->labels(c->name, to_string(kind));
  c->duration = core.duration_family->labels(c->name);
  c->status.set(kind == CheckKind::kLiveness ? 1 : 0);
  c->next_due = core.clock.mono_now();
  core.checks.push_back(std::move(c));
  core.update_ready();
  core.event_cv.notify_all();
}

void Health::add_liveness(std::string name, CheckFn fn, CheckOptions options) {
  add(CheckKind::kLiveness, std::move(name), std::move(fn), options);
}

void Health::add_readiness(std::string name, CheckFn fn, CheckOptions options) {
  add(CheckKind::kReadiness, std::move(name), std::move(fn), options);
}

namespace {

CheckFn from_predicate(std::function<bool()> fn) {
  if (!fn) return nullptr;
  return [fn = std::move(fn)] { return fn() ? CheckResult::success() : CheckResult{false}; };
}

}  // namespace

void Health::add_liveness(std::string name, std::function<bool()> fn, CheckOptions options) {
  add(CheckKind::kLiveness, std::move(name), from_predicate(std::move(fn)), options);
}

void Health::add_readiness(std::string name, std::function<bool()> fn, CheckOptions options) {
  add(CheckKind::kReadiness, std::move(name), from_predicate(std::move(fn)), options);
}

void Health::mark_started() {
  std::lock_guard lock(core_->mu);
  core_->started = true;
  core_->update_ready();
}

void Health::start_draining() {
  std::lock_guard lock(core_->mu);
  core_->draining = true;
  core_->update_ready();
}

bool Health::started() const {
  std::lock_guard lock(core_->mu);
  return core_->started;
}

bool Health::draining() const {
  std::lock_guard lock(core_->mu);
  return core_->draining;
}

bool Health::live() const {
  std::lock_guard lock(core_->mu);
  return core_->compute_live();
}

bool Health::ready() const {
  std::lock_guard lock(core_->mu);
  return core_->compute_ready();
}

HealthReport Health::report(CheckKind kind) const {
  const Core& core = *core_;
  std::lock_guard lock(core_->mu);
  HealthReport r;
  if (kind == CheckKind::kReadiness) {
    r.ok = core.compute_ready();
    CheckStatus startup;
    startup.name = std::string(kStartupGate);
    startup.ok = core.started;
    if (!core.started) startup.reason = "start-up not finished";
    startup.ran = true;
    r.checks.push_back(std::move(startup));
    CheckStatus shutdown;
    shutdown.name = std::string(kShutdownGate);
    shutdown.ok = !core.draining;
    if (core.draining) shutdown.reason = "draining";
    shutdown.ran = true;
    r.checks.push_back(std::move(shutdown));
  } else {
    r.ok = core.compute_live();
  }
  for (const auto& c : core.checks)
    if (c->kind == kind) r.checks.push_back(core.status_of(*c));
  return r;
}

HealthReport Health::liveness() const {
  return report(CheckKind::kLiveness);
}
HealthReport Health::readiness() const {
  return report(CheckKind::kReadiness);
}

void Health::run_due_checks() {
  Core& core = *core_;
  std::unique_lock lock(core.mu);
  Clock::MonoTime now = core.clock.mono_now();
  core.expire(now);
  const auto runs = core.dispatch(now, core_);
  for (;;) {
    now = core.clock.mono_now();
    core.expire(now);
    bool pending = false;
    Clock::Duration wait = std::chrono::milliseconds(10);
    for (const auto& [c, id] : runs) {
      if (c->run_id == id && c->running && !c->timed_out) {
        pending = true;
        wait = std::min(wait, c->run_start + c->options.timeout - now + Clock::Duration(1));
      }
    }
    if (!pending || core.stopping) return;
    core.event_cv.wait_for(lock, std::max(wait, Clock::Duration(std::chrono::microseconds(100))));
  }
}

void Health::start_runner() {
  std::lock_guard runner_lock(core_->runner_mu);
  if (core_->runner.joinable()) return;
  {
    std::lock_guard lock(core_->mu);
    core_->runner_stop = false;
  }
  core_->runner = std::thread([this] { runner_loop(); });
}

void Health::stop_runner() {
  std::lock_guard runner_lock(core_->runner_mu);
  if (!core_->runner.joinable()) return;
  {
    std::lock_guard lock(core_->mu);
    core_->runner_stop = true;
  }
  core_->event_cv.notify_all();
  core_->runner.join();
}

void Health::runner_loop() {
  set_thread_name("fb-health");
  Core& core = *core_;
  std::unique_lock lock(core.mu);
  while (!core.runner_stop && !core.stopping) {
    const Clock::MonoTime now = core.clock.mono_now();
    core.expire(now);
    core.dispatch(now, core_);
    Clock::Duration wait = core.next_event(now) - now;
    if (core.polls_clock) wait = std::min(wait, Clock::Duration(std::chrono::milliseconds(50)));
    wait = std::max(wait, Clock::Duration(std::chrono::microseconds(100)));
    core.event_cv.wait_for(lock, wait);
  }
}

}  // namespace firebreak
