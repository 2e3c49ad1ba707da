#include "util/json_write.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

namespace firebreak::detail {

namespace {

// 1 for bytes that can be copied as they are: printable ASCII except '"' and '\\'.
constexpr auto kPlain = [] {
  struct Table {
    bool v[256] = {};
  } t;
  for (int c = 0x20; c < 0x7f; ++c) t.v[c] = c != '"' && c != '\\';
  return t;
}();

constexpr char kHex[] = "0123456789abcdef";

// Length of a valid UTF-8 sequence starting at s[i], or 0 when invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
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

}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    // Copy the longest plain run in one go.
    std::size_t j = i;
    while (j < s.size() && kPlain.v[static_cast<unsigned char>(s[j])]) ++j;
    out.append(s.data() + i, j - i);
    if (j == s.size()) return;
    i = j;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        case '\b':
          out.append("\\b");
          break;
        case '\f':
          out.append("\\f");
          break;
        default: {
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          out.append(esc, 6);
        }
      }
      ++i;
      continue;
    }
    if (const std::size_t n = utf8_sequence(s, i)) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD for each invalid byte
      ++i;
    }
  }
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  append_json_escaped(out, s);
  out.push_back('"');
}

void append_json_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("\"NaN\"");
  } else if (std::isinf(v)) {
    out.append(v > 0 ? "\"+Inf\"" : "\"-Inf\"");
  } else {
    char buf[32];
    const auto end = fmt::format_to(buf, "{}", v);
    out.append(buf, end);
  }
}

void append_json_int(std::string& out, std::int64_t v) {
  fmt::format_int f(v);
  out.append(f.data(), f.size());
}

void append_json_uint(std::string& out, std::uint64_t v) {
  fmt::format_int f(v);
  out.append(f.data(), f.size());
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

void append_rfc3339_micros(std::string& out, std::int64_t unix_micros) {
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
  char frac[7];
  auto us = static_cast<unsigned>(micros);
  for (int k = 5; k >= 0; --k) {
    frac[k] = static_cast<char>('0' + us % 10);
    us /= 10;
  }
  frac[6] = 'Z';
  out.append(cached, 20);
  out.append(frac, 7);
}

}  // namespace firebreak::detail
