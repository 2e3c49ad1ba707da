// Fault switches: a process's declared ways to break on purpose, for demos
// and end-to-end tests, so that every alert can be seen firing for real.
//
//   shop::FaultSwitches faults({
//       {.name = "stall", .help = "stop claiming messages"},
//       {.name = "slow_ms", .help = "delay each request", .kind = shop::FaultKind::kNumber,
//        .max = 60000}});
//   faults.set_from_flag("slow_ms=300");       // --fault slow_ms=300, at start
//   faults.install(service.admin(), service.registry());
//   const shop::Fault& slow = faults.get("slow_ms");   // resolve once
//   if (double ms = slow.value()) ...                  // one relaxed load
//
// At run time the switches are changed on the admin port only (never on the
// public port):
//   curl -X POST -d '{"slow_ms": 300}' http://127.0.0.1:9464/fault   # set
//   curl -X POST -d '{"slow_ms": 0}'   http://127.0.0.1:9464/fault   # clear (0 or false)
//   curl http://127.0.0.1:9464/fault                                 # {"slow_ms":300}
// A POST applies all of its switches or none (400 with a problem+json body
// naming the bad one). Every change is logged (event "fault_set", level warn)
// and shown by the gauge shop_fault_value{fault}, so nobody mistakes an
// injected fault for a real one.
//
// Thread-safety: everything is thread-safe; reading a switch is lock-free.
#pragma once

#include <atomic>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/metrics.h"

namespace firebreak {
class AdminServer;
}

namespace shop {

enum class FaultKind {
  kBool,    // true / false
  kNumber,  // a number in [min, max]; 0 is off
};

struct FaultSpec {
  std::string name;
  std::string help;
  FaultKind kind = FaultKind::kBool;
  double min = 0;
  double max = 1;
};

// One switch. Its address is stable for the life of the FaultSwitches.
class Fault {
 public:
  explicit Fault(FaultSpec spec) : spec_(std::move(spec)) {}
  const FaultSpec& spec() const { return spec_; }
  // 0 when off; 1 for a bool switch that is on.
  double value() const { return value_.load(std::memory_order_relaxed); }
  bool on() const { return value() != 0; }

 private:
  friend class FaultSwitches;
  FaultSpec spec_;
  std::atomic<double> value_{0};
  firebreak::Gauge gauge_;
};

class FaultSwitches {
 public:
  explicit FaultSwitches(std::vector<FaultSpec> specs);
  FaultSwitches(const FaultSwitches&) = delete;
  FaultSwitches& operator=(const FaultSwitches&) = delete;

  // The switch of that name; throws std::invalid_argument when undeclared.
  const Fault& get(std::string_view name) const;

  // Parses NAME or NAME=VALUE (a bool switch alone means true). Throws
  // std::invalid_argument with a message naming the problem and the known
  // switches.
  void set_from_flag(std::string_view flag);

  // Applies a JSON object of switches, all or none. Empty on success, else
  // why it was refused.
  std::string apply_json(std::string_view body);

  // The switches that are on, as a JSON object.
  std::string active_json() const;

  // Registers GET and POST /fault on the admin server and the gauge
  // shop_fault_value{fault} on the registry (both must outlive this object's
  // use by them; this object must outlive the server).
  void install(firebreak::AdminServer& admin, firebreak::Registry& registry);

 private:
  Fault* find(std::string_view name);
  std::string known() const;
  // Validates `value` for `fault`; empty on success, else why not.
  static std::string check(const Fault& fault, double value);
  void set(Fault& fault, double value);

  std::deque<Fault> faults_;  // deque: stable addresses
};

}  // namespace shop
