// Time sources. Every time-dependent component of Firebreak takes a Clock, so
// tests move time instead of sleeping:
//
//   firebreak::ManualClock clock;
//   firebreak::Health health(registry, {.clock = &clock});
//   clock.advance(std::chrono::seconds(30));
//
// Both clocks are thread-safe.
#pragma once

#include <atomic>
#include <chrono>

namespace firebreak {

class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  using WallTime = std::chrono::time_point<std::chrono::system_clock, Duration>;
  using MonoTime = std::chrono::time_point<std::chrono::steady_clock, Duration>;

  virtual ~Clock() = default;
  // Wall-clock time, for timestamps that leave the process (metrics, logs).
  virtual WallTime wall_now() const = 0;
  // Monotonic time, for durations, timeouts and intervals.
  virtual MonoTime mono_now() const = 0;

  // Seconds since the Unix epoch, as Prometheus timestamps are written.
  double wall_seconds() const {
    return std::chrono::duration<double>(wall_now().time_since_epoch()).count();
  }

  // The process-wide real clock.
  static Clock& system();
};

// The real clock.
class SystemClock final : public Clock {
 public:
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
  MonoTime mono_now() const override { return std::chrono::steady_clock::now(); }
};

// A clock that moves only when told to. Starts at the given wall time
// (default 2026-01-01T00:00:00Z) and monotonic time 0; advance() moves both.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime start = WallTime(std::chrono::seconds(1767225600)))
      : wall_(start.time_since_epoch().count()) {}

  WallTime wall_now() const override { return WallTime(Duration(wall_.load())); }
  MonoTime mono_now() const override { return MonoTime(Duration(mono_.load())); }

  void advance(Duration d) {
    wall_.fetch_add(d.count());
    mono_.fetch_add(d.count());
  }
  // Moves wall time only (a clock step, NTP or DST does not move monotonic time).
  void set_wall(WallTime t) { wall_.store(t.time_since_epoch().count()); }

 private:
  std::atomic<Duration::rep> wall_;
  std::atomic<Duration::rep> mono_{0};
};

}  // namespace firebreak
