// Internal: fast JSON writing, for the hot paths (log lines) and anywhere a
// small JSON document is written by hand. `Out` is std::string or any buffer
// with append(const char*, size_t) and push_back(char) (LineBuffer).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/compile.h>
#include <fmt/format.h>

namespace firebreak::detail {

// Length of a valid UTF-8 sequence starting at s[i] (a byte >= 0x80), or 0
// when invalid: overlong forms, surrogates and code points above U+10FFFF.
std::size_t utf8_sequence(std::string_view s, std::size_t i);

// True when none of the 8 bytes needs escaping: no control character, no '"'
// or '\\', nothing >= 0x80 (which must be checked as UTF-8).
[[gnu::always_inline]] inline bool plain8(const char* p) {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  constexpr std::uint64_t k01 = 0x0101010101010101ull, k80 = 0x8080808080808080ull;
  const std::uint64_t below_space = (x - k01 * 0x20) & ~x;
  const std::uint64_t quote = x ^ (k01 * '"');
  const std::uint64_t backslash = x ^ (k01 * '\\');
  const std::uint64_t has_quote = (quote - k01) & ~quote;
  const std::uint64_t has_backslash = (backslash - k01) & ~backslash;
  return ((below_space | has_quote | has_backslash | x) & k80) == 0;
}

[[gnu::always_inline]] inline bool plain_byte(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

// Appends the escaped bytes of `s` (no quotes). Control characters and
// newlines are escaped; invalid UTF-8 is replaced by U+FFFD, so the output is
// always valid UTF-8 and one line.
template <class Out>
void append_json_escaped(Out& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t j = i;
    while (j + 8 <= s.size() && plain8(s.data() + j)) j += 8;
    while (j < s.size() && plain_byte(static_cast<unsigned char>(s[j]))) ++j;
    out.append(s.data() + i, j - i);
    if (j == s.size()) return;
    i = j;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out.append("\\\"", 2);
          break;
        case '\\':
          out.append("\\\\", 2);
          break;
        case '\n':
          out.append("\\n", 2);
          break;
        case '\r':
          out.append("\\r", 2);
          break;
        case '\t':
          out.append("\\t", 2);
          break;
        case '\b':
          out.append("\\b", 2);
          break;
        case '\f':
          out.append("\\f", 2);
          break;
        default: {
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          out.append(esc, 6);
        }
      }
      ++i;
    } else if (const std::size_t n = utf8_sequence(s, i)) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out.append("\xEF\xBF\xBD", 3);  // U+FFFD for each invalid byte
      ++i;
    }
  }
}

// Appends `s` as a JSON string, quotes included.
template <class Out>
void append_json_string(Out& out, std::string_view s) {
  out.push_back('"');
  append_json_escaped(out, s);
  out.push_back('"');
}

// Appends a number; NaN and infinities, which JSON cannot hold, as the
// strings "NaN", "+Inf", "-Inf".
template <class Out>
void append_json_double(Out& out, double v) {
  if (v != v) {
    out.append("\"NaN\"", 5);
  } else if (v == __builtin_inf() || v == -__builtin_inf()) {
    out.append(v > 0 ? "\"+Inf\"" : "\"-Inf\"", 6);
  } else {
    char buf[32];
    const char* end = fmt::format_to(buf, FMT_COMPILE("{}"), v);
    out.append(buf, static_cast<std::size_t>(end - buf));
  }
}

template <class Out>
void append_json_int(Out& out, std::int64_t v) {
  const fmt::format_int f(v);
  out.append(f.data(), f.size());
}

template <class Out>
void append_json_uint(Out& out, std::uint64_t v) {
  const fmt::format_int f(v);
  out.append(f.data(), f.size());
}

// Writes an RFC 3339 UTC timestamp with microseconds, without quotes, into
// `out` (27 bytes: 2026-11-25T23:18:47.123456Z). Caches the date per thread.
void format_rfc3339_micros(char out[27], std::int64_t unix_micros);

template <class Out>
void append_rfc3339_micros(Out& out, std::int64_t unix_micros) {
  char buf[27];
  format_rfc3339_micros(buf, unix_micros);
  out.append(buf, 27);
}

}  // namespace firebreak::detail
