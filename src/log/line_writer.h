// Internal: writes one JSON log line into a LineBuffer through a raw cursor,
// for the logger's hot path. The caller reserves room (need()) before a group
// of fixed-size writes; strings reserve their own room. Fixed pieces are
// copied as whole words, plain strings (the usual case) 8 bytes at a time, and
// anything that needs escaping falls back to append_json_escaped, so the bytes
// written are exactly those of util/json_write.h.
//
//   LineWriter w(buf);
//   w.need(16);
//   w.literal("{\"k\":");
//   w.json_string(value);
//   w.literal("}\n");
//   w.finish();  // commits the bytes to `buf`
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include <fmt/compile.h>
#include <fmt/format.h>

#include "util/json_write.h"
#include "util/line_buffer.h"

namespace firebreak::detail {

// "{"timestamp":"YYYY-MM-DDTHH:MM:SS." for the last second seen on a thread.
struct TimestampOpening {
  static constexpr std::size_t kSize = 34;
  std::int64_t secs = INT64_MIN;
  char text[40] = {};  // kSize used; the rest lets it be copied as whole words
};

// Unchecked writes: each writes at `p`, which must have the room it names,
// and returns the end of what it wrote. They keep the cursor in a register
// (no stores through a member pointer that every char store might alias), so
// the logger's common line is written with them directly; LineWriter wraps
// them with its room checks for everything else.
namespace put {

inline constexpr std::uint64_t kPow10[] = {1ull,
                                           10ull,
                                           100ull,
                                           1000ull,
                                           10000ull,
                                           100000ull,
                                           1000000ull,
                                           10000000ull,
                                           100000000ull,
                                           1000000000ull,
                                           10000000000ull,
                                           100000000000ull,
                                           1000000000000ull,
                                           10000000000000ull,
                                           100000000000000ull,
                                           1000000000000000ull,
                                           10000000000000000ull,
                                           100000000000000000ull,
                                           1000000000000000000ull,
                                           10000000000000000000ull};
// 5^0 .. 5^18.
inline constexpr std::uint64_t kPow5[] = {1ull,
                                          5ull,
                                          25ull,
                                          125ull,
                                          625ull,
                                          3125ull,
                                          15625ull,
                                          78125ull,
                                          390625ull,
                                          1953125ull,
                                          9765625ull,
                                          48828125ull,
                                          244140625ull,
                                          1220703125ull,
                                          6103515625ull,
                                          30517578125ull,
                                          152587890625ull,
                                          762939453125ull,
                                          3814697265625ull};
inline constexpr char kDigits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";
inline constexpr std::uint64_t kZeros = 0x3030303030303030ull;  // '0' in every byte

using U128 = unsigned __int128;

inline void store16(char* at, U128 x) {
  const auto lo = static_cast<std::uint64_t>(x), hi = static_cast<std::uint64_t>(x >> 64);
  std::memcpy(at, &lo, 8);
  std::memcpy(at + 8, &hi, 8);
}

// The 8 decimal digits of x < 10^8 as bytes 0..9, the first in the lowest
// byte: halves, quarters and eighths split in parallel lanes of one word.
[[gnu::always_inline]] inline std::uint64_t eight_digits(std::uint32_t x) {
  const std::uint64_t halves = x / 10000 | std::uint64_t{x % 10000} << 32;
  const std::uint64_t hundreds = ((halves * 10486) >> 20) & 0x0000007f0000007full;
  const std::uint64_t quarters = ((halves - hundreds * 100) << 16) | hundreds;
  const std::uint64_t tens = ((quarters * 103) >> 10) & 0x000f000f000f000full;
  return tens | (quarters - tens * 10) << 8;
}

// Decimal digits of v (1 for 0).
[[gnu::always_inline]] inline int digit_count(std::uint64_t v) {
  const int t = (std::bit_width(v | 1) * 1233) >> 12;  // floor(log10(v)) or one more
  return t + 1 - ((v | 1) < kPow10[t]);
}

// v < 10^8 in decimal. Needs 8 bytes of room.
[[gnu::always_inline]] inline char* small_uint(char* p, std::uint32_t v) {
  if (v < 10000) {
    // Two pairs from the table (status codes, counts, small sizes), joined
    // in a register: two stores read back as one word would miss store
    // forwarding.
    std::uint16_t high, low;
    std::memcpy(&high, kDigits2 + (v / 100) * 2, 2);
    std::memcpy(&low, kDigits2 + (v % 100) * 2, 2);
    std::uint32_t word = high | std::uint32_t{low} << 16;
    const int digits = 1 + (v >= 10) + (v >= 100) + (v >= 1000);
    word >>= 8 * (4 - digits);
    std::memcpy(p, &word, 4);
    return p + digits;
  }
  // All 8 digits computed at once, the leading zeros shifted out.
  const int digits = digit_count(v);
  const std::uint64_t word = (eight_digits(v) + kZeros) >> (8 * (8 - digits));
  std::memcpy(p, &word, 8);
  return p + digits;
}

// v in decimal. Needs 24 bytes of room (writes whole words).
[[gnu::always_inline]] inline char* uint(char* p, std::uint64_t v) {
  if (v < 100000000) [[likely]]
    return small_uint(p, static_cast<std::uint32_t>(v));
  if (v < 10000000000000000ull) {
    const std::uint64_t high = v / 100000000;
    p = small_uint(p, static_cast<std::uint32_t>(high));
    const std::uint64_t word =
        eight_digits(static_cast<std::uint32_t>(v - high * 100000000)) + kZeros;
    std::memcpy(p, &word, 8);
    return p + 8;
  }
  const std::uint64_t high = v / 10000000000000000ull;  // 1..1844
  p = small_uint(p, static_cast<std::uint32_t>(high));
  const std::uint64_t rest = v - high * 10000000000000000ull;
  const std::uint64_t mid = rest / 100000000;
  const std::uint64_t w1 = eight_digits(static_cast<std::uint32_t>(mid)) + kZeros;
  const std::uint64_t w2 =
      eight_digits(static_cast<std::uint32_t>(rest - mid * 100000000)) + kZeros;
  std::memcpy(p, &w1, 8);
  std::memcpy(p + 8, &w2, 8);
  return p + 16;
}

// Needs 24 bytes of room.
[[gnu::always_inline]] inline char* int64(char* p, std::int64_t v) {
  if (v < 0) {
    *p++ = '-';
    return uint(p, 0 - static_cast<std::uint64_t>(v));
  }
  return uint(p, static_cast<std::uint64_t>(v));
}

// The n bytes at s as they are, short runs (the identity, a context) in
// inline moves. (Not copy_short(): its order of tests measured slower here.)
[[gnu::always_inline]] inline char* raw(char* p, const char* s, std::size_t n) {
  if (n > 256) {
    std::memcpy(p, s, n);
  } else if (n >= 16) {
    for (std::size_t i = 0; i + 16 < n; i += 16) std::memcpy(p + i, s + i, 16);
    std::memcpy(p + n - 16, s + n - 16, 16);
  } else if (n >= 8) {
    std::memcpy(p, s, 8);
    std::memcpy(p + n - 8, s + n - 8, 8);
  } else {
    for (std::size_t i = 0; i < n; ++i) p[i] = s[i];
  }
  return p + n;
}

// The n bytes at s when none needs escaping (the usual case); null, with
// an unspecified part written, when one does. Needs n + 16 bytes of room.
[[gnu::always_inline]] inline char* plain(char* p, const char* s, std::size_t n) {
  if (n >= 8) {
    std::size_t i = 0;
    for (; i + 8 < n; i += 8) {
      if (!plain8(s + i)) [[unlikely]]
        return nullptr;
      std::memcpy(p + i, s + i, 8);
    }
    // The last 8 bytes, overlapping what was checked: no byte loop.
    if (!plain8(s + n - 8)) [[unlikely]]
      return nullptr;
    std::memcpy(p + n - 8, s + n - 8, 8);
    return p + n;
  }
  std::uint64_t word;
  if (n >= 4) {
    // Two overlapping 4-byte halves, checked as one word.
    std::uint32_t lo, hi;
    std::memcpy(&lo, s, 4);
    std::memcpy(&hi, s + n - 4, 4);
    word = lo | std::uint64_t{hi} << 32;
    std::memcpy(p, &lo, 4);
    std::memcpy(p + n - 4, &hi, 4);
  } else if (n > 0) {
    // Bytes 0, n/2 and n-1 are every byte of a string of 1 to 3; the other
    // five bytes of the word are spaces, which need no escaping.
    const auto a = static_cast<unsigned char>(s[0]), b = static_cast<unsigned char>(s[n / 2]),
               c = static_cast<unsigned char>(s[n - 1]);
    word = 0x2020202020000000ull | a | b << 8 | std::uint64_t{c} << 16;
    p[0] = static_cast<char>(a);
    p[n / 2] = static_cast<char>(b);
    p[n - 1] = static_cast<char>(c);
  } else {
    return p;
  }
  if (!plain8(reinterpret_cast<const char*>(&word))) [[unlikely]]
    return nullptr;
  return p + n;
}

// m·10^-k in fixed notation, trailing zeros off; m in [1, 10^16), k <= 18.
// Needs 40 bytes of room.
inline char* decimal(char* p, bool negative, std::uint64_t m, int k) {
  // m < 10^16: its 16 digits (zeros in front), as bytes, in one
  // 128-bit word; v is those digits · 10^-k. The digits kept are found by
  // counting zero bytes and written by shifting the word, not by dividing.
  const std::uint64_t high = m / 100000000;
  const std::uint64_t hi8 = eight_digits(static_cast<std::uint32_t>(high));
  const std::uint64_t lo8 = eight_digits(static_cast<std::uint32_t>(m - high * 100000000));
  // Zero digits at either end of the 16 (m is not 0, so not all of them).
  const int leading = hi8 ? std::countr_zero(hi8) >> 3 : 8 + (std::countr_zero(lo8) >> 3);
  const int trailing = lo8 ? std::countl_zero(lo8) >> 3 : 8 + (std::countl_zero(hi8) >> 3);
  const U128 digits = (U128{lo8 + kZeros} << 64 | (hi8 + kZeros)) >> (8 * leading);
  const int significant = 16 - leading;
  const int decimals = k - trailing;  // after the point, trailing zeros off
  if (negative) *p++ = '-';
  if (significant > k) {
    store16(p, digits);
    p += significant - k;  // < 16 when there are decimals (k > 0)
    if (decimals > 0) {
      *p++ = '.';
      store16(p, digits >> (8 * (significant - k)));
      p += decimals;
    }
  } else {
    // 0.<k - significant zeros><digits>, at most 2 + 17 + 16 bytes.
    std::memcpy(p, "0.000000000000000000000000000000", 32);
    p += 2;
    const int zeros = k - significant;
    store16(p + zeros, digits);
    p += decimals;
  }
  return p;
}

// decimal() with k = 9 for m >= 10^10, out of line: nano_decimal is inlined
// where every line's doubles are written.
[[gnu::noinline]] inline char* nano_decimal_large(char* p, std::uint64_t m) {
  return decimal(p, false, m, 9);
}

// m·10^-9 in fixed notation, trailing zeros off, for 1 <= m < 2^53: decimal()
// with k = 9, in fewer steps below 10 (most durations). Needs 40 bytes.
[[gnu::always_inline]] inline char* nano_decimal(char* p, bool negative, std::uint64_t m) {
  if (negative) *p++ = '-';
  if (m < 10000000000) [[likely]] {
    // Below 10 (most durations): m's first two digits W and D1 from m / 10^8
    // and the other 8 in one word, written as W.D1D2..D9; the decimals'
    // trailing zeros are dropped by counting zero bytes at the word's top.
    const std::uint64_t high = m / 100000000;
    const std::uint64_t low = eight_digits(static_cast<std::uint32_t>(m - high * 100000000));
    const auto whole = static_cast<std::uint32_t>(high / 10);
    const auto first = static_cast<std::uint32_t>(high - whole * 10);
    p[0] = static_cast<char>('0' + whole);
    p[1] = '.';
    p[2] = static_cast<char>('0' + first);
    const std::uint64_t word = low + kZeros;
    std::memcpy(p + 3, &word, 8);
    if (low) return p + 11 - (std::countl_zero(low) >> 3);
    return p + (first ? 3 : 1);
  }
  return nano_decimal_large(p, m);
}

// m·10^-9 for 1 <= m < 10^5 as fmt's "{}" writes it there: scientific, the
// trailing zeros off, a two-digit exponent (2.3456e-05, 1e-09). Needs 16 bytes.
inline char* nano_scientific(char* p, bool negative, std::uint32_t m) {
  if (negative) *p++ = '-';
  const int exponent = 10 - digit_count(m);  // m·10^-9 = d.ddd·10^-exponent, 5..9
  while (m % 10 == 0) m /= 10;
  char digits[8];
  const auto n = static_cast<std::size_t>(small_uint(digits, m) - digits);
  *p++ = digits[0];
  if (n > 1) {
    *p++ = '.';
    std::memcpy(p, digits + 1, 4);
    p += n - 1;
  }
  std::memcpy(p, "e-0", 3);
  p[3] = static_cast<char>('0' + exponent);
  return p + 4;
}

// The common doubles (durations, ratios, amounts) without the general
// shortest-form algorithm, in two steps: when 1e-4 <= |v| < 1e15 and v's
// shortest round-trip form has at most 14 significant digits (15 or 16 for
// most), they write exactly what fmt's "{}" writes (fixed notation in that
// range) and return the end; otherwise they write nothing and return null.
// Both need 40 bytes of room.
//
// nano_fixed, the first and most common: for 1e-4 <= |v| < 4e5 (durations,
// ratios), the decimal m·10^-9 with m = |v|·10^9 rounded in doubles (off by
// less than 0.2 from the exact product, so the nearest integer to it): when
// it reads back as v (m / 10^9 is then correctly rounded to v), it is v's
// shortest form, as v's rounding interval (< 10^-10 wide here) holds no
// other decimal of at most as many significant digits. A short chain: values
// with at most 9 decimals (nanosecond durations included) are the common case.
//
// Below 1e-4 (durations under 100 µs) fmt writes the shortest form in
// scientific notation; the same m·10^-9 test gives its digits, for 1e-9 <=
// |v| < 1e-4 (small_nano, called out of line by uncommon_double).
[[gnu::always_inline]] inline char* nano_fixed(char* p, double v) {
  const double a = v < 0 ? -v : v;
  if (a >= 1e-4 && a < 4e5) [[likely]] {
    const double scaled = a * 1e9;
    const auto m = static_cast<std::uint64_t>((scaled + 0x1p52) - 0x1p52);  // to nearest
    if (static_cast<double>(m) / 1e9 == a) [[likely]]
      return nano_decimal(p, v < 0, m);
  }
  return nullptr;
}

// The same below 1e-4 (nano_scientific); kept out of nano_fixed, which is
// inlined where every line's doubles are written.
inline char* small_nano(char* p, double v) {
  const double a = v < 0 ? -v : v;
  if (!(a >= 1e-9 && a < 1e-4)) return nullptr;
  const double scaled = a * 1e9;  // [1, 1e5)
  const auto m = static_cast<std::uint64_t>((scaled + 0x1p52) - 0x1p52);
  if (m == 0 || static_cast<double>(m) / 1e9 != a) return nullptr;
  return nano_scientific(p, v < 0, static_cast<std::uint32_t>(m));
}

// scaled_fixed, any scale in range, in integers only: v = M·2^(e2-52) with M
// its 53-bit significand. Scaled by 10^k to below 2^50, v·10^k = M·5^k / 2^sh
// exactly (sh = 52 - e2 - k > 0, M·5^k < 2^95), and m is that rounded to an
// integer. The decimal m·10^-k reads back as v exactly when it lies in v's
// rounding interval, whose half-width is 5^k/2 in units of 2^-sh (5^k/4
// below a power of two; ends included when M is even, as reading rounds ties
// to even). That interval is narrower than 1/8 at this scale, so it holds at
// most one integer: m, if any, is v's shortest form (with trailing zeros) and
// the only one of its length, which is what fmt writes.
inline char* scaled_fixed(char* p, double v) {
  const double a = v < 0 ? -v : v;
  if (!(a >= 1e-4 && a < 1e15)) return nullptr;
  std::uint64_t bits;
  std::memcpy(&bits, &a, 8);
  const int e2 = static_cast<int>(bits >> 52) - 1023;  // a in [2^e2, 2^(e2+1)), e2 in [-14, 49]
  const int k = ((49 - e2) * 1233) >> 12;              // floor((49 - e2) * log10(2)), 0..18
  const int sh = 52 - e2 - k;                          // 3..48
  const std::uint64_t significand = (bits & ((std::uint64_t{1} << 52) - 1)) | std::uint64_t{1}
                                                                                  << 52;
  const U128 exact = static_cast<U128>(significand) * kPow5[k];  // v·10^k·2^sh
  std::uint64_t m = static_cast<std::uint64_t>((exact + (U128{1} << (sh - 1))) >> sh);
  const U128 back = static_cast<U128>(m) << sh;
  const bool above = back >= exact;
  const U128 off = above ? back - exact : exact - back;
  const U128 width = kPow5[k];  // twice the half-width
  const bool even = (significand & 1) == 0;
  if (!above && significand == std::uint64_t{1} << 52) {
    // Below a power of two the neighbour is twice as close.
    if (!(4 * off < width || (4 * off == width && even))) return nullptr;
  } else if (!(2 * off < width || (2 * off == width && even))) {
    return nullptr;
  }
  return decimal(p, v < 0, m, k);
}

// A finite double other than the common ones, as fmt's "{}" writes it.
[[gnu::noinline]] inline char* uncommon_double(char* p, double v) {
  if (char* end = small_nano(p, v)) return end;
  if (char* end = scaled_fixed(p, v)) return end;
  return fmt::format_to(p, FMT_COMPILE("{}"), v);
}

// A finite double as fmt's "{}" writes it: the common case inline, the rest
// out of line. Needs 40 bytes of room.
[[gnu::always_inline]] inline char* finite_double(char* p, double v) {
  if (char* end = nano_fixed(p, v)) [[likely]]
    return end;
  return uncommon_double(p, v);
}

[[gnu::noinline]] inline void refresh_opening(TimestampOpening& cache, std::int64_t secs) {
  char ts[27];
  format_rfc3339_micros(ts, secs * 1000000);
  std::memcpy(cache.text, "{\"timestamp\":\"", 14);
  std::memcpy(cache.text + 14, ts, 20);
  cache.secs = secs;
}

// The opening of a line up to the timestamp's microseconds, from the
// per-thread cache; then the 6 digits of `micros`. Needs 40 bytes of room.
[[gnu::always_inline]] inline char* timestamp_opening(char* p, TimestampOpening& cache,
                                                      std::int64_t unix_micros) {
  std::int64_t secs = unix_micros / 1000000;
  std::int64_t us = unix_micros % 1000000;
  if (us < 0) {
    us += 1000000;
    secs -= 1;
  }
  if (secs != cache.secs) [[unlikely]]
    refresh_opening(cache, secs);
  std::memcpy(p, cache.text, sizeof cache.text);
  p += TimestampOpening::kSize;
  const auto u = static_cast<unsigned>(us);
  std::memcpy(p, kDigits2 + (u / 10000) * 2, 2);
  std::memcpy(p + 2, kDigits2 + (u / 100 % 100) * 2, 2);
  std::memcpy(p + 4, kDigits2 + (u % 100) * 2, 2);
  return p + 6;
}

}  // namespace put

class LineWriter {
 public:
  // Room every need() leaves past what was asked, so short fixed pieces can
  // be copied as whole words.
  static constexpr std::size_t kSlack = 64;

  explicit LineWriter(LineBuffer& buf) : buf_(buf) { reload(); }
  // Writes into [region, region + size) while the line fits there, else
  // moves what it wrote to `buf` (empty) and goes on there.
  LineWriter(LineBuffer& buf, char* region, std::size_t size)
      : buf_(buf), region_(region), p_(region), end_(region + size) {}
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  // Makes room for `n` more bytes (and kSlack).
  void need(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n + kSlack) [[unlikely]]
      grow(n + kSlack);
  }

  // Commits what was written. Returns true when the line is in the region,
  // of in_region_size() bytes; false when it is in the buffer. The writer is
  // not used after.
  bool finish() {
    if (region_) return true;
    buf_.commit(static_cast<std::size_t>(p_ - buf_.tail()));
    return false;
  }
  std::size_t in_region_size() const { return static_cast<std::size_t>(p_ - region_); }

  void put(char c) { *p_++ = c; }

  // Direct access for fixed pieces copied whole and then partly kept.
  char* cursor() { return p_; }
  void advance(std::size_t n) { p_ += n; }

  // A string literal (without its terminating NUL); needs no escaping.
  template <std::size_t N>
  void literal(const char (&s)[N]) {
    static_assert(N - 1 <= kSlack);
    std::memcpy(p_, s, N - 1);
    p_ += N - 1;
  }

  // Bytes copied as they are; reserves its own room. Short runs (the
  // identity, a context) are copied inline, in overlapping words.
  void raw(std::string_view s) {
    need(s.size());
    p_ = put::raw(p_, s.data(), s.size());
  }

  // `s` escaped (no quotes); reserves its own room.
  [[gnu::always_inline]] void escaped(std::string_view s) {
    need(s.size());
    if (char* end = put::plain(p_, s.data(), s.size())) [[likely]] {
      p_ = end;
      return;
    }
    slow([&](LineBuffer& b) { append_json_escaped(b, s); });
  }

  // `s` as a JSON string, quotes included; reserves its own room.
  [[gnu::always_inline]] void json_string(std::string_view s) {
    need(0);
    put('"');
    escaped(s);
    put('"');
  }

  // Needs 24 bytes of room.
  [[gnu::always_inline]] void signed_integer(std::int64_t v) { p_ = put::int64(p_, v); }
  // Needs 24 bytes of room.
  [[gnu::always_inline]] void unsigned_integer(std::uint64_t v) { p_ = put::uint(p_, v); }

  // As append_json_double; reserves its own room.
  void number(double v) {
    need(40);
    if (v != v || v == __builtin_inf() || v == -__builtin_inf()) [[unlikely]] {
      slow([&](LineBuffer& b) { append_json_double(b, v); });
      return;
    }
    p_ = put::finite_double(p_, v);
  }

  // The opening of a line up to the timestamp's microseconds, from the
  // per-thread cache; then the 6 digits of `micros`. Needs 40 bytes of room.
  void timestamp_opening(TimestampOpening& cache, std::int64_t unix_micros) {
    p_ = put::timestamp_opening(p_, cache, unix_micros);
  }

  // Anything else, written through the buffer's own appends; leaves kSlack room.
  template <class Write>
  void slow(Write write) {
    if (region_) spill();
    finish();
    write(buf_);
    reload();
    need(0);
  }

 private:
  void reload() {
    p_ = buf_.tail();
    end_ = p_ + buf_.room();
  }
  [[gnu::noinline]] void grow(std::size_t n) {
    if (region_) spill();
    finish();
    buf_.reserve_more(n);
    reload();
  }
  // Moves the line from the region to the buffer, which it goes on in.
  [[gnu::noinline]] void spill() {
    const auto n = static_cast<std::size_t>(p_ - region_);
    buf_.append(region_, n);
    region_ = nullptr;
    reload();
  }

  LineBuffer& buf_;
  char* region_ = nullptr;  // while writing in a caller's region
  char* p_;
  char* end_;
};

}  // namespace firebreak::detail
