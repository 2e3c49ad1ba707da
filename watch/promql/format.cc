#include "watch/promql/format.h"

#include "watch/model/text.h"

#include <charconv>
#include <cmath>
#include <system_error>

namespace watch::promql {

void append_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out.append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  // The shortest digits that read back as v (as Go chooses them), then laid
  // out without an exponent: 1e21 is "1" and 21 zeros, not the exact value
  // of the double nearest 1e21.
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(r.ptr - buf));  // [-]d[.ddd]e(+|-)xx
  if (sci.front() == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  const std::size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos))
    if (c != '.') digits.push_back(c);
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+'), sci.data() + sci.size(),
                  exponent);
  const int point = exponent + 1;  // digits before the decimal point
  const int n = static_cast<int>(digits.size());
  if (point <= 0) {
    out.append("0.");
    out.append(static_cast<std::size_t>(-point), '0');
    out.append(digits);
  } else if (point >= n) {
    out.append(digits);
    out.append(static_cast<std::size_t>(point - n), '0');
  } else {
    out.append(digits, 0, static_cast<std::size_t>(point));
    out.push_back('.');
    out.append(digits, static_cast<std::size_t>(point));
  }
}

std::string format_value(double v) {
  std::string out;
  append_value(out, v);
  return out;
}

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

std::optional<double> parse_go_float(std::string_view s) {
  bool negative = false;
  std::string_view body = s;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (equal_fold(body, "inf") || equal_fold(body, "infinity"))
    return negative ? -HUGE_VAL : HUGE_VAL;
  if (equal_fold(body, "nan")) {
    if (body.size() != s.size()) return std::nullopt;  // Go accepts no sign on NaN
    return std::nan("");
  }
  if (body.empty()) return std::nullopt;

  double value = 0;
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    // Hexadecimal: mantissa digits with an optional point, then a mandatory
    // p exponent; Go allows '_' between digits after a base prefix.
    std::string clean;
    std::size_t i = 2;
    bool digits = false;
    bool point = false;
    char prev = 'x';
    for (; i < body.size(); ++i) {
      const char c = body[i];
      if (c == '_') {
        if (!(is_hex(prev) || prev == 'x')) return std::nullopt;
        prev = c;
        continue;
      }
      if (is_hex(c)) {
        digits = true;
      } else if (c == '.' && !point) {
        point = true;
      } else {
        break;
      }
      if (prev == '_' && !is_hex(c)) return std::nullopt;
      clean.push_back(c);
      prev = c;
    }
    if (!digits || prev == '_' || i >= body.size() || (body[i] != 'p' && body[i] != 'P'))
      return std::nullopt;
    clean.push_back('p');
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) clean.push_back(body[i++]);
    const std::size_t exp_start = i;
    for (; i < body.size() && is_digit(body[i]); ++i) clean.push_back(body[i]);
    if (i == exp_start || i != body.size()) return std::nullopt;
    auto r =
        std::from_chars(clean.data(), clean.data() + clean.size(), value, std::chars_format::hex);
    if (r.ec != std::errc() || r.ptr != clean.data() + clean.size()) return std::nullopt;
  } else {
    // Decimal: digits [. digits] [e [sign] digits], at least one mantissa digit.
    std::size_t i = 0;
    bool digits = false;
    while (i < body.size() && is_digit(body[i])) ++i, digits = true;
    if (i < body.size() && body[i] == '.') {
      ++i;
      while (i < body.size() && is_digit(body[i])) ++i, digits = true;
    }
    if (!digits) return std::nullopt;
    if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
      ++i;
      if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
      const std::size_t exp_start = i;
      while (i < body.size() && is_digit(body[i])) ++i;
      if (i == exp_start) return std::nullopt;
    }
    if (i != body.size()) return std::nullopt;
    auto r =
        std::from_chars(body.data(), body.data() + body.size(), value, std::chars_format::general);
    if (r.ec == std::errc::result_out_of_range) {
      // Underflow reads as 0 in Go; overflow is an error.
      bool big = false;
      // A value is "big" when its decimal exponent is positive enough; decide
      // by re-reading with a long double-free heuristic: digits before the point
      // plus the exponent.
      long exp10 = 0;
      std::size_t e = body.find_first_of("eE");
      if (e != std::string_view::npos) {
        long x = 0;
        std::size_t j = e + 1;
        bool neg = false;
        if (j < body.size() && (body[j] == '+' || body[j] == '-')) neg = body[j++] == '-';
        for (; j < body.size() && x < 100000; ++j) x = x * 10 + (body[j] - '0');
        exp10 = neg ? -x : x;
      }
      std::size_t int_digits = 0;
      bool seen_nonzero = false;
      for (std::size_t j = 0; j < body.size() && is_digit(body[j]); ++j) {
        if (body[j] != '0') seen_nonzero = true;
        if (seen_nonzero) ++int_digits;
      }
      big = static_cast<long>(int_digits) + exp10 > 0;
      if (big) return std::nullopt;
      value = 0;
    } else if (r.ec != std::errc() || r.ptr != body.data() + body.size()) {
      return std::nullopt;
    }
  }
  return negative ? -value : value;
}

void append_timestamp(std::string& out, std::int64_t t_ms) {
  // As Prometheus's jsonutil.MarshalTimestamp: integer seconds, then the
  // millisecond fraction with three digits when non-zero.
  std::uint64_t t;
  if (t_ms < 0) {
    out.push_back('-');
    t = static_cast<std::uint64_t>(-(t_ms + 1)) + 1;
  } else {
    t = static_cast<std::uint64_t>(t_ms);
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, t / 1000);
  out.append(buf, r.ptr);
  const unsigned fraction = static_cast<unsigned>(t % 1000);
  if (fraction != 0) {
    out.push_back('.');
    out.push_back(static_cast<char>('0' + fraction / 100));
    out.push_back(static_cast<char>('0' + fraction / 10 % 10));
    out.push_back(static_cast<char>('0' + fraction % 10));
  }
}

std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t n;
  std::uint32_t cp;
  if ((b0 & 0xe0) == 0xc0) {
    n = 2;
    cp = b0 & 0x1f;
  } else if ((b0 & 0xf0) == 0xe0) {
    n = 3;
    cp = b0 & 0x0f;
  } else if ((b0 & 0xf8) == 0xf0) {
    n = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
      cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

}  // namespace watch::promql
