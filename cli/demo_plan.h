// What `firebreak demo` runs and breaks, without running anything: the
// demo-scale timing of the watch configuration it generates, the faults it
// knows (`--break NAME`, the `break` command), what each one does to the shop
// and which alerts of the rule pack it makes fire, and about when, computed
// from that same timing.
//
//   const auto timing = firebreak::cli::demo::demo_timing(1.0);
//   std::string yaml = firebreak::cli::demo::watch_config(timing, &addresses);
//   auto fault = firebreak::cli::demo::parse_fault("stall");          // Fault::kStall
//   auto plan = firebreak::cli::demo::plan(*fault, timing, {});
//   for (const auto& e : plan.expect) ...   // WorkerStalled within about 45s, ...
//
// Pure functions of their arguments; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "watch/rulepack/rule_pack.h"

namespace firebreak::cli::demo {

// Every interval and threshold of the demo's watch configuration. At scale 1
// each alert of the pack fires within about a minute and a half of its fault;
// `scale` multiplies every duration (0.1: ten times faster, for tests), job
// durations rounded to whole seconds (at least 1 s).
struct Timing {
  double scale = 1;
  std::int64_t scrape_ms = 0;
  std::int64_t scrape_timeout_ms = 0;
  std::int64_t eval_ms = 0;
  std::int64_t job_alert_for_ms = 0;  // global.job_alert_for: JobFailed's `for`
  std::int64_t job_period_s = 0;      // shop-daily runs every this long; its schedule
  std::int64_t job_grace_s = 0;
  std::int64_t job_max_run_s = 0;
  std::int64_t api_drain_ms = 0;  // shop-api's --drain-seconds
  watch::rulepack::Thresholds api;
  watch::rulepack::Thresholds worker;

  // The rule pack's options these values give (for effective()).
  watch::rulepack::RulePackOptions rule_options() const;
};

// shop-api's server threads: enough that requests slowed by the `slow` fault
// do not queue up behind each other at the demo's request rates.
inline constexpr int kApiThreads = 16;

// `scale` in [kMinScale, kMaxScale].
inline constexpr double kMinScale = 0.05;
inline constexpr double kMaxScale = 10;
Timing demo_timing(double scale);

// Where the demo's processes listen (HOST:PORT each).
struct Addresses {
  std::string api_admin;
  std::string api_http;
  std::string worker_admin;
};

// The watch configuration (YAML): listening on `listen`, storage in the
// configuration's directory, the check-in job shop-daily, a `log` receiver
// (alerts on watch's log), and, when `targets` is given, shop-api and
// shop-worker with the demo's thresholds.
std::string watch_config(const Timing& timing, const std::string& listen, const Addresses* targets);

// The faults, in the order `help` lists them.
enum class Fault : std::uint8_t {
  kNeverReady,
  kNotReady,
  kStall,
  kSlow,
  kErrors,
  kJobFails,
  kJobMissed,
  kJobTooLong,
  kTargetDown,
};
const std::vector<Fault>& all_faults();
std::string_view fault_name(Fault fault);  // "never-ready", ...
std::optional<Fault> parse_fault(std::string_view name);
// "never-ready, not-ready, stall, ..."
std::string fault_names();
// `unknown fault "x"; one of: never-ready, ...`
std::string unknown_fault(std::string_view name);

// The shop processes a fault acts on.
enum class Process : std::uint8_t { kApi, kWorker, kDaily };
std::string_view process_name(Process process);  // "shop-api", ...

// One step of breaking something.
struct Action {
  enum class Kind : std::uint8_t {
    kSetSwitches,  // POST `argument` (a JSON object) to the process's /fault
    kRestartWith,  // stop the process, start it again with `--fault argument`
    kStop,         // stop the process and leave it stopped
  };
  Kind kind;
  Process process;
  std::string argument;
};

// An alert a fault makes fire.
struct Expectation {
  std::string alert;   // "WorkerStalled"
  std::string labels;  // what tells it apart: "reason=no_progress"; or ""
  // Upper bound of the time from the break to the firing alert (one scrape
  // and one evaluation included); nullopt when it will not fire this time
  // (`why` says why).
  std::optional<std::int64_t> within_ms;
  std::string why;  // how the time adds up, with the thresholds' names
};

// What the demo knows of the past when a fault is applied.
struct History {
  // How long shop-api has served at its normal speed (since the demo
  // started, or since `slow` was last healed): ApiLatencyRegression's
  // baseline.
  std::int64_t api_fast_ms = 0;
  // How long it has served without injected errors (since the start, or
  // since `errors` was last healed): what the burn rates' long windows hold.
  std::int64_t api_error_free_ms = 0;
};

struct FaultPlan {
  Fault fault;
  std::string what;  // what happens to the shop, one line
  std::vector<Action> actions;
  std::vector<Expectation> expect;
};
FaultPlan plan(Fault fault, const Timing& timing, const History& history);

// What `break` prints: the plan's `what`, then one line per expectation
// ("  WorkerStalled {reason=no_progress} within about 50s: messages wait
// ...").
std::string describe(const FaultPlan& plan);

// One line per fault: its name and the alerts it fires with their times,
// assuming shop-api has been fast and error-free for long (what `help`
// prints).
std::string fault_table(const Timing& timing);

// The JSON object that clears every fault switch of `process`.
std::string heal_switches(Process process);

// "45s", "1m05s", "2m" (rounded up to the second).
std::string duration_text(std::int64_t ms);

}  // namespace firebreak::cli::demo
