// Internal: the wall clock that spans read at start and end, twice per span.
#pragma once

#include <atomic>
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace firebreak::detail {

// Nanoseconds since the Unix epoch, as CLOCK_REALTIME, at less than half its
// cost where that is safe: when the kernel's own clocksource is the TSC, the
// TSC is read and scaled from a per-thread anchor (a CLOCK_REALTIME reading
// taken at most 100 ms earlier), so steps and slews of the system clock are
// followed within 100 ms. The TSC rate is measured against CLOCK_REALTIME over
// the first 50 ms of use, and again whenever an anchor's prediction of the
// next one is off by more than 0.5% (a clock step, a VM moved to another
// host); until then, and on other clocksources, it is
// clock_gettime(CLOCK_REALTIME). Thread-safe; no lock on the common path.
inline std::int64_t fast_wall_nanos() noexcept;

// Whether fast_wall_nanos() reads the TSC by now (for tests).
bool fast_wall_clock_uses_tsc() noexcept;

namespace wall_clock_internal {

// A thread's anchor: a CLOCK_REALTIME reading and the TSC at it, used for
// `window` ticks after it; ns = ns + ticks * mult / 2^32.
struct Anchor {
  std::uint64_t tsc;
  std::int64_t ns;
  std::uint64_t window;
  std::uint64_t mult;
  double ns_per_tick;
};
extern constinit thread_local Anchor t_anchor;
// 2 when the TSC is calibrated and in use.
extern std::atomic<int> tsc_state;
// Everything but the common case: re-anchoring, calibrating, the system clock.
std::int64_t fast_wall_nanos_slow() noexcept;

}  // namespace wall_clock_internal

inline std::int64_t fast_wall_nanos() noexcept {
#if defined(__x86_64__)
  if (wall_clock_internal::tsc_state.load(std::memory_order_acquire) == 2) [[likely]] {
    const wall_clock_internal::Anchor& a = wall_clock_internal::t_anchor;
    // Unsigned: a TSC behind the anchor (another CPU's) also re-anchors.
    const std::uint64_t ticks = __rdtsc() - a.tsc;
    // ticks * mult < 2^64: a window is at most 100 ms of ticks, mult ns/tick * 2^32.
    if (ticks < a.window) [[likely]]
      return a.ns + static_cast<std::int64_t>((ticks * a.mult) >> 32);
  }
#endif
  return wall_clock_internal::fast_wall_nanos_slow();
}

}  // namespace firebreak::detail
