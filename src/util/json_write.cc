#include "util/json_write.h"

#include <cstring>

namespace firebreak::detail {

std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](std::size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b0 == 0xE0 && b1 < 0xA0) return 0;   // overlong
    if (b0 == 0xED && b1 >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b0 == 0xF0 && b1 < 0x90) return 0;   // overlong
    if (b0 == 0xF4 && b1 >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

namespace {

// Days since 1970-01-01 to a civil date (proleptic Gregorian), after the
// well-known era-based algorithm.
void civil_from_days(std::int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yoe + era * 400 + (m <= 2));
}

void put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

void format_rfc3339_micros(char out[27], std::int64_t unix_micros) {
  std::int64_t secs = unix_micros / 1000000;
  std::int64_t micros = unix_micros % 1000000;
  if (micros < 0) {
    micros += 1000000;
    secs -= 1;
  }
  // "YYYY-MM-DDTHH:MM:SS" for the last second seen on this thread.
  thread_local std::int64_t cached_secs = INT64_MIN;
  thread_local char cached[20];
  if (secs != cached_secs) {
    std::int64_t days = secs / 86400;
    std::int64_t rem = secs % 86400;
    if (rem < 0) {
      rem += 86400;
      days -= 1;
    }
    int y;
    unsigned mo, d;
    civil_from_days(days, y, mo, d);
    const auto yy = static_cast<unsigned>(y < 0 ? 0 : y > 9999 ? 9999 : y);
    cached[0] = static_cast<char>('0' + yy / 1000);
    cached[1] = static_cast<char>('0' + yy / 100 % 10);
    put2(cached + 2, yy % 100);
    cached[4] = '-';
    put2(cached + 5, mo);
    cached[7] = '-';
    put2(cached + 8, d);
    cached[10] = 'T';
    put2(cached + 11, static_cast<unsigned>(rem / 3600));
    cached[13] = ':';
    put2(cached + 14, static_cast<unsigned>(rem / 60 % 60));
    cached[16] = ':';
    put2(cached + 17, static_cast<unsigned>(rem % 60));
    cached[19] = '.';
    cached_secs = secs;
  }
  std::memcpy(out, cached, 20);
  auto us = static_cast<unsigned>(micros);
  for (int k = 25; k >= 20; --k) {
    out[k] = static_cast<char>('0' + us % 10);
    us /= 10;
  }
  out[26] = 'Z';
}

}  // namespace firebreak::detail
