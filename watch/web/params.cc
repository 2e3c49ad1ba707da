#include "watch/web/params.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>

#include "watch/rules/rule_file.h"

namespace watch::web {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string form_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size() && hex_digit(in[i + 1]) >= 0 &&
               hex_digit(in[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(in[i + 1]) * 16 + hex_digit(in[i + 2]));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

// A finite double from the whole of `text`.
std::optional<double> parse_double(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM).
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec))
    return std::nullopt;
  std::size_t p = 19;
  std::int64_t frac_ms = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    const std::size_t start = p;
    int scale = 100;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      frac_ms += (s[p] - '0') * scale;
      scale /= 10;
      ++p;
    }
    if (p == start) return std::nullopt;
  }
  std::int64_t offset_s = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    int oh, om;
    if (!digits(s, p + 1, 2, oh) || p + 3 >= s.size() || s[p + 3] != ':' ||
        !digits(s, p + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_s = (s[p] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    p += 6;
  } else {
    return std::nullopt;
  }
  if (p != s.size() || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
    return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(mo),
                                        std::chrono::day(d)};
  if (!ymd.ok()) return std::nullopt;
  const std::int64_t days = std::chrono::sys_days(ymd).time_since_epoch().count();
  const std::int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  return secs * 1000 + frac_ms;
}

}  // namespace

Params parse_form(std::string_view body) {
  Params out;
  while (!body.empty()) {
    const std::size_t amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos)
      out.emplace_back(form_decode(pair), std::string());
    else
      out.emplace_back(form_decode(pair.substr(0, eq)), form_decode(pair.substr(eq + 1)));
  }
  return out;
}

std::optional<std::string_view> param(const Params& params, std::string_view key) {
  for (const auto& [k, v] : params)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

std::vector<std::string> params(const Params& params, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& [k, v] : params)
    if (k == key) out.push_back(v);
  return out;
}

std::optional<std::int64_t> parse_time_ms(std::string_view text) {
  if (const auto v = parse_double(text)) {
    // Beyond ±2^53 ms a double no longer holds whole milliseconds; Prometheus
    // clamps to its min/max time there. Refuse instead of overflowing.
    if (std::abs(*v) > 9.0e12) return std::nullopt;
    return static_cast<std::int64_t>(std::llround(*v * 1000));
  }
  return parse_rfc3339_ms(text);
}

std::optional<std::int64_t> parse_duration_ms(std::string_view text) {
  if (const auto v = parse_double(text)) {
    if (*v < 0 || *v > 9.0e12) return std::nullopt;
    return static_cast<std::int64_t>(std::llround(*v * 1000));
  }
  std::int64_t ms = 0;
  if (!rules::parse_prom_duration(text, ms) || ms < 0) return std::nullopt;
  return ms;
}

}  // namespace watch::web
