// Internal: the wall clock that spans read at start and end, twice per span.
#pragma once

#include <cstdint>

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
std::int64_t fast_wall_nanos() noexcept;

// Whether fast_wall_nanos() reads the TSC by now (for tests).
bool fast_wall_clock_uses_tsc() noexcept;

}  // namespace firebreak::detail
