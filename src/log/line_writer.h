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

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "util/json_write.h"
#include "util/line_buffer.h"

namespace firebreak::detail {

// "{"timestamp":"YYYY-MM-DDTHH:MM:SS." for the last second seen on a thread.
struct TimestampOpening {
  static constexpr std::size_t kSize = 34;
  std::int64_t secs = INT64_MIN;
  char text[40] = {};  // kSize used; the rest lets it be copied as whole words
};

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

  // Bytes copied as they are; reserves its own room.
  void raw(std::string_view s) {
    need(s.size());
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }

  // `s` escaped (no quotes); reserves its own room.
  [[gnu::always_inline]] void escaped(std::string_view s) {
    const char* src = s.data();
    const std::size_t n = s.size();
    need(n);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      if (!plain8(src + i)) [[unlikely]]
        return escape_from(s, i);
      std::memcpy(p_ + i, src + i, 8);
    }
    if (i < n) {
      if (n >= 8) {
        // The last 8 bytes, overlapping what was checked: no byte loop.
        if (!plain8(src + n - 8)) [[unlikely]]
          return escape_from(s, i);
        std::memcpy(p_ + n - 8, src + n - 8, 8);
      } else {
        for (; i < n; ++i) {
          if (!plain_byte(static_cast<unsigned char>(src[i]))) [[unlikely]]
            return escape_from(s, i);
          p_[i] = src[i];
        }
      }
    }
    p_ += n;
  }

  // `s` as a JSON string, quotes included; reserves its own room.
  [[gnu::always_inline]] void json_string(std::string_view s) {
    need(0);
    put('"');
    escaped(s);
    put('"');
  }

  // Needs 24 bytes of room.
  void signed_integer(std::int64_t v) {
    if (v < 0) {
      put('-');
      unsigned_integer(0 - static_cast<std::uint64_t>(v));
    } else {
      unsigned_integer(static_cast<std::uint64_t>(v));
    }
  }

  // Needs 20 bytes of room.
  void unsigned_integer(std::uint64_t v) {
    char tmp[20];
    char* q = tmp + 20;
    while (v >= 100) {
      q -= 2;
      std::memcpy(q, kDigits2 + (v % 100) * 2, 2);
      v /= 100;
    }
    if (v >= 10) {
      q -= 2;
      std::memcpy(q, kDigits2 + v * 2, 2);
    } else {
      *--q = static_cast<char>('0' + v);
    }
    const auto len = static_cast<std::size_t>(tmp + 20 - q);
    std::memcpy(p_, q, len);
    p_ += len;
  }

  // As append_json_double; reserves its own room.
  void number(double v) {
    need(32);
    if (short_fixed(v)) [[likely]]
      return;
    if (v != v || v == __builtin_inf() || v == -__builtin_inf()) [[unlikely]] {
      slow([&](LineBuffer& b) { append_json_double(b, v); });
      return;
    }
    p_ = fmt::format_to(p_, FMT_COMPILE("{}"), v);
  }

  // The common doubles (durations, ratios, amounts) without the general
  // shortest-form algorithm: when 1e-4 <= |v| < 1e15 and v's shortest
  // round-trip form has at most 14 significant digits (15 or 16 for most), writes
  // exactly what fmt's "{}" writes (fixed notation in that range) and returns
  // true; otherwise writes nothing and returns false. Needs 24 bytes of room.
  //
  // Why it is exact: v is scaled by 10^k to below 2^50 (and above 2^49 / 10).
  // There v's shortest decimal D, when short enough, is an integer; v is
  // within 2^-53 relative of D and the product rounds by as much again, so the
  // scaled value is within 1/4 of D and rounding it gives D; v's rounding
  // interval is narrower than 1/2 there, so no other integer is in it (which
  // makes D the shortest form and the only one of its length). And
  // m / 10^k == v, with m and 10^k exact and the division correctly rounded,
  // is precisely "the decimal m·10^-k reads back as v". Trailing zeros
  // removed, m is D.
  bool short_fixed(double v) {
    const double a = v < 0 ? -v : v;
    if (!(a >= 1e-4 && a < 1e15)) return false;
    std::uint64_t bits;
    std::memcpy(&bits, &a, 8);
    const int e2 = static_cast<int>(bits >> 52) - 1023;  // a in [2^e2, 2^(e2+1)), e2 in [-14, 49]
    const int k = ((49 - e2) * 1233) >> 12;              // floor((49 - e2) * log10(2)), 0..18
    const double scaled = a * kPow10Exact[k];            // below 2^50
    std::uint64_t m = static_cast<std::uint64_t>(scaled + 0.5);
    if (static_cast<double>(m) / kPow10Exact[k] != a) return false;
    int decimals = k;
    // Trailing zeros off (at most 15 of them, at most k): 8, 4, 2, 1 at a time.
    if (decimals >= 8 && m % 100000000 == 0) {
      m /= 100000000;
      decimals -= 8;
    }
    if (decimals >= 4 && m % 10000 == 0) {
      m /= 10000;
      decimals -= 4;
    }
    if (decimals >= 2 && m % 100 == 0) {
      m /= 100;
      decimals -= 2;
    }
    if (decimals >= 1 && m % 10 == 0) {
      m /= 10;
      --decimals;
    }
    if (v < 0) put('-');
    if (decimals == 0) {
      unsigned_integer(m);
      return true;
    }
    const std::uint64_t unit = kPow10Int[decimals];
    unsigned_integer(m / unit);
    put('.');
    // The decimals fractional digits, zeros in front included, right to left.
    std::uint64_t frac = m % unit;
    char* q = p_ + decimals;
    for (int left = decimals; left >= 2; left -= 2) {
      q -= 2;
      std::memcpy(q, kDigits2 + (frac % 100) * 2, 2);
      frac /= 100;
    }
    if (q != p_) *--q = static_cast<char>('0' + frac);
    p_ += decimals;
    return true;
  }

  // The opening of a line up to the timestamp's microseconds, from the
  // per-thread cache; then the 6 digits of `micros`. Needs 40 bytes of room.
  void timestamp_opening(TimestampOpening& cache, std::int64_t unix_micros) {
    std::int64_t secs = unix_micros / 1000000;
    std::int64_t us = unix_micros % 1000000;
    if (us < 0) {
      us += 1000000;
      secs -= 1;
    }
    if (secs != cache.secs) [[unlikely]]
      refresh(cache, secs);
    std::memcpy(p_, cache.text, sizeof cache.text);
    p_ += TimestampOpening::kSize;
    const auto u = static_cast<unsigned>(us);
    std::memcpy(p_, kDigits2 + (u / 10000) * 2, 2);
    std::memcpy(p_ + 2, kDigits2 + (u / 100 % 100) * 2, 2);
    std::memcpy(p_ + 4, kDigits2 + (u % 100) * 2, 2);
    p_ += 6;
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
  // 10^0 .. 10^18, exact.
  static constexpr double kPow10Exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                           1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
  static constexpr std::uint64_t kPow10Int[] = {1ull,
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
                                                1000000000000000000ull};
  static constexpr char kDigits2[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";

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
  // Bytes [0, i) of `s` are plain and written; escapes the rest.
  [[gnu::noinline]] void escape_from(std::string_view s, std::size_t i) {
    p_ += i;
    slow([&](LineBuffer& b) { append_json_escaped(b, s.substr(i)); });
  }
  [[gnu::noinline]] static void refresh(TimestampOpening& cache, std::int64_t secs) {
    char ts[27];
    format_rfc3339_micros(ts, secs * 1000000);
    std::memcpy(cache.text, "{\"timestamp\":\"", 14);
    std::memcpy(cache.text + 14, ts, 20);
    cache.secs = secs;
  }

  LineBuffer& buf_;
  char* region_ = nullptr;  // while writing in a caller's region
  char* p_;
  char* end_;
};

}  // namespace firebreak::detail
