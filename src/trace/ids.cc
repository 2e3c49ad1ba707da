// Trace and span ids: random generation and lowercase hex.
#include <pthread.h>
#include <sys/random.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <random>

#include "firebreak/trace.h"
#include "trace/hex.h"
#include "trace/random.h"

namespace firebreak {

namespace detail {
namespace {

// Bumped in the child after fork(), so that a child never repeats its parent's
// ids: each thread's generator re-seeds when it sees a new generation.
std::atomic<std::uint64_t> g_generation{0};

void on_fork_child() {
  g_generation.fetch_add(1, std::memory_order_relaxed);
}

struct Rng {
  std::uint64_t state;
  std::uint64_t generation;  // g_generation when seeded; ~0 before the first use
};
constinit thread_local Rng t_rng{0, ~std::uint64_t{0}};

std::uint64_t entropy() noexcept {
  std::uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) == static_cast<ssize_t>(sizeof seed)) return seed;
  try {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd();
  } catch (...) {
    // Last resort: distinct per thread and time.
    return reinterpret_cast<std::uintptr_t>(&t_rng) ^
           static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
}

[[gnu::noinline]] void reseed(Rng& rng) noexcept {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(nullptr, nullptr, on_fork_child); });
  rng.state = entropy();
  rng.generation = g_generation.load(std::memory_order_relaxed);
}

}  // namespace

// wyrand: 64-bit state, one multiply; passes PractRand and BigCrush. Not a
// cryptographic generator: ids need to be unique and unpredictable enough for
// sampling, not secret.
std::uint64_t random_u64() noexcept {
  Rng& rng = t_rng;
  if (rng.generation != g_generation.load(std::memory_order_relaxed)) [[unlikely]]
    reseed(rng);
  rng.state += 0xa0761d6478bd642fULL;
  const __uint128_t m = static_cast<__uint128_t>(rng.state) * (rng.state ^ 0xe7037ed1a0b428dbULL);
  return static_cast<std::uint64_t>(m >> 64) ^ static_cast<std::uint64_t>(m);
}

}  // namespace detail

TraceId TraceId::random() noexcept {
  TraceId id;
  std::uint64_t hi, lo;
  do {
    hi = detail::random_u64();
    lo = detail::random_u64();
  } while ((hi | lo) == 0);
  std::memcpy(id.bytes_.data(), &hi, 8);
  std::memcpy(id.bytes_.data() + 8, &lo, 8);
  return id;
}

SpanId SpanId::random() noexcept {
  SpanId id;
  std::uint64_t v;
  do v = detail::random_u64();
  while (v == 0);
  std::memcpy(id.bytes_.data(), &v, 8);
  return id;
}

bool TraceId::valid() const noexcept {
  std::uint64_t a, b;
  std::memcpy(&a, bytes_.data(), 8);
  std::memcpy(&b, bytes_.data() + 8, 8);
  return (a | b) != 0;
}

bool SpanId::valid() const noexcept {
  std::uint64_t a;
  std::memcpy(&a, bytes_.data(), 8);
  return a != 0;
}

void TraceId::to_hex(char* out) const noexcept {
  detail::hex_encode(bytes_.data(), kSize, out);
}
void SpanId::to_hex(char* out) const noexcept {
  detail::hex_encode(bytes_.data(), kSize, out);
}

std::string TraceId::to_hex() const {
  std::string s(kHexSize, '0');
  to_hex(s.data());
  return s;
}

std::string SpanId::to_hex() const {
  std::string s(kHexSize, '0');
  to_hex(s.data());
  return s;
}

std::optional<TraceId> TraceId::from_hex(std::string_view hex) noexcept {
  TraceId id;
  if (hex.size() != kHexSize || !detail::hex_decode_lower(hex.data(), kSize, id.bytes_.data()))
    return std::nullopt;
  return id;
}

std::optional<SpanId> SpanId::from_hex(std::string_view hex) noexcept {
  SpanId id;
  if (hex.size() != kHexSize || !detail::hex_decode_lower(hex.data(), kSize, id.bytes_.data()))
    return std::nullopt;
  return id;
}

}  // namespace firebreak
