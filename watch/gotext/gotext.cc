#include "watch/gotext/gotext.h"

#include <re2/re2.h>

namespace watch::gotext {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void append_hex(std::string& out, std::string_view prefix, char32_t value, int digits) {
  out.append(prefix);
  for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4)
    out.push_back(kHex[(value >> shift) & 0xF]);
}

// unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the
// ASCII space (RE2's Unicode tables stand in for Go's).
bool is_printable(char32_t r) {
  if (r < 0x80) return r >= 0x20 && r < 0x7F;
  static const re2::RE2 kGraphic("[\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}]");
  std::string utf8;
  append_utf8(utf8, r);
  return re2::RE2::FullMatch(utf8, kGraphic);
}

}  // namespace

Rune decode_rune(std::string_view s, std::size_t i) {
  constexpr Rune kBad{kReplacementChar, 1, false};
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return {b0, 1, true};
  // The lead byte fixes the length and the range of the second byte.
  std::size_t width = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  char32_t value = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    width = 2;
    value = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    width = 3;
    value = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    width = 4;
    value = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // no overlong forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return kBad;
  }
  if (i + width > s.size()) return kBad;
  for (std::size_t k = 1; k < width; ++k) {
    const unsigned char b = byte(i + k);
    if (b < lo || b > hi) return kBad;
    lo = 0x80;
    hi = 0xBF;
    value = (value << 6) | (b & 0x3F);
  }
  return {value, width, true};
}

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const Rune r = decode_rune(s, i);
    if (!r.valid) return false;
    i += r.width;
  }
  return true;
}

std::string to_valid_utf8(std::string_view s) {
  if (is_valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (std::size_t i = 0; i < s.size();) {
    const Rune r = decode_rune(s, i);
    out.append(r.valid ? s.substr(i, r.width) : kReplacementUtf8);
    i += r.width;
  }
  return out;
}

void append_utf8(std::string& out, char32_t r) {
  if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = kReplacementChar;
  if (r < 0x80) {
    out.push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (r >> 6)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (r >> 12)));
    out.push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (r >> 18)));
    out.push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const Rune r = decode_rune(s, i);
    if (!r.valid) {
      append_hex(out, "\\x", static_cast<unsigned char>(s[i]), 2);
    } else if (r.value == '"' || r.value == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(r.value));
    } else if (is_printable(r.value)) {
      out.append(s.substr(i, r.width));
    } else {
      switch (r.value) {
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\v':
          out += "\\v";
          break;
        default:
          if (r.value < 0x20 || r.value == 0x7F) {
            append_hex(out, "\\x", r.value, 2);
          } else if (r.value < 0x10000) {
            append_hex(out, "\\u", r.value, 4);
          } else {
            append_hex(out, "\\U", r.value, 8);
          }
      }
    }
    i += r.width;
  }
  out.push_back('"');
  return out;
}

}  // namespace watch::gotext
