// Internal: random UUID v4 text, written without allocating (request ids on
// the request path, job run ids).
#pragma once

#include <cstddef>

namespace firebreak::detail {

inline constexpr std::size_t kUuidSize = 36;

// Writes a random UUID v4 ("xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx",
// lowercase) to out: exactly kUuidSize characters, no terminator. Uses the
// trace module's per-thread generator (seeded from the kernel, re-seeded
// after fork).
void write_uuid(char* out) noexcept;

}  // namespace firebreak::detail
