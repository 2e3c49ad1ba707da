// Internal: the per-thread id generator (see ids.cc).
#pragma once

#include <cstdint>

namespace firebreak::detail {

// 64 random bits from a per-thread generator seeded from the kernel's entropy
// and re-seeded after fork. Not cryptographic.
std::uint64_t random_u64() noexcept;

}  // namespace firebreak::detail
