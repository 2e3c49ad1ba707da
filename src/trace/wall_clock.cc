#include "trace/wall_clock.h"

#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace firebreak::detail {

namespace {

std::int64_t realtime_nanos() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

#if defined(__x86_64__)

constexpr std::int64_t kCalibrationNanos = 50'000'000;  // 50 ms
constexpr double kAnchorNanos = 100'000'000;            // re-anchor every 100 ms

enum State : int { kUnknown = 0, kCalibrating = 1, kReady = 2, kUnusable = -1 };

static_assert(kReady == 2, "wall_clock.h tests tsc_state against 2");

struct Calibration {
  std::atomic<int>& state = wall_clock_internal::tsc_state;
  std::atomic<double> ns_per_tick{0};
  std::mutex mu;
  std::int64_t start_ns = 0;    // guarded by mu
  std::uint64_t start_tsc = 0;  // guarded by mu
};
Calibration g_calibration;

using wall_clock_internal::Anchor;

// The kernel trusts the TSC (synchronised across CPUs, constant rate) when it
// uses it as its clocksource; we trust it no more than that.
bool kernel_uses_tsc() {
  std::FILE* f =
      std::fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
  if (!f) return false;
  char buf[32] = {};
  const bool ok = std::fgets(buf, sizeof buf, f) != nullptr && std::strcmp(buf, "tsc\n") == 0;
  std::fclose(f);
  return ok;
}

[[gnu::noinline]] std::int64_t reanchor(Anchor& a) noexcept {
  // The TSC on both sides of the system clock reading: its midpoint.
  const std::uint64_t before = __rdtsc();
  const std::int64_t ns = realtime_nanos();
  const std::uint64_t after = __rdtsc();
  const std::uint64_t tsc = before + (after - before) / 2;
  if (a.window != 0 && tsc > a.tsc) {
    // The previous anchor predicted this reading. Far off (more than 0.5%:
    // NTP slews at most 0.05%): the clock was stepped, or the TSC's rate
    // changed (a VM moved): measure the rate again.
    const double elapsed = static_cast<double>(ns - a.ns);
    const double predicted = static_cast<double>(tsc - a.tsc) * a.ns_per_tick;
    if (elapsed - predicted > 0.005 * predicted || predicted - elapsed > 0.005 * predicted) {
      int ready = kReady;
      g_calibration.state.compare_exchange_strong(ready, kUnknown, std::memory_order_acq_rel);
      a.window = 0;
      return ns;
    }
  }
  a.ns_per_tick = g_calibration.ns_per_tick.load(std::memory_order_relaxed);
  a.tsc = tsc;
  a.ns = ns;
  a.window = static_cast<std::uint64_t>(kAnchorNanos / a.ns_per_tick);
  a.mult = static_cast<std::uint64_t>(a.ns_per_tick * 4294967296.0);
  return ns;
}

[[gnu::noinline]] std::int64_t slow_path(int state) noexcept {
  const std::int64_t now = realtime_nanos();
  if (state == kUnusable) return now;
  std::unique_lock lock(g_calibration.mu, std::try_to_lock);
  if (!lock.owns_lock()) return now;
  Calibration& c = g_calibration;
  state = c.state.load(std::memory_order_relaxed);
  if (state == kUnknown) {
    bool usable = false;
    try {
      usable = kernel_uses_tsc();
    } catch (...) {
    }
    if (!usable) {
      c.state.store(kUnusable, std::memory_order_release);
      return now;
    }
    c.start_ns = now;
    c.start_tsc = __rdtsc();
    c.state.store(kCalibrating, std::memory_order_release);
  } else if (state == kCalibrating && now - c.start_ns >= kCalibrationNanos) {
    const std::uint64_t tsc = __rdtsc();
    const double ns_per_tick =
        static_cast<double>(now - c.start_ns) / static_cast<double>(tsc - c.start_tsc);
    // Between 100 MHz and 100 GHz, or something is wrong: keep the system clock.
    if (tsc > c.start_tsc && ns_per_tick > 0.01 && ns_per_tick < 10.0) {
      c.ns_per_tick.store(ns_per_tick, std::memory_order_relaxed);
      c.state.store(kReady, std::memory_order_release);
    } else {
      c.state.store(kUnusable, std::memory_order_release);
    }
  }
  return now;
}

#endif

}  // namespace

namespace wall_clock_internal {

#if defined(__x86_64__)
std::atomic<int> tsc_state{kUnknown};
#else
std::atomic<int> tsc_state{-1};
#endif
constinit thread_local Anchor t_anchor{0, 0, 0, 0, 0};

std::int64_t fast_wall_nanos_slow() noexcept {
#if defined(__x86_64__)
  const int state = g_calibration.state.load(std::memory_order_acquire);
  if (state == kReady) return reanchor(t_anchor);
  return slow_path(state);
#else
  return realtime_nanos();
#endif
}

}  // namespace wall_clock_internal

bool fast_wall_clock_uses_tsc() noexcept {
#if defined(__x86_64__)
  return g_calibration.state.load(std::memory_order_acquire) == kReady;
#else
  return false;
#endif
}

}  // namespace firebreak::detail
