#include "watch/checkin/schedule.h"

#include <date/date.h>
#include <date/tz.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <cctype>
#include <exception>
#include <limits>
#include <vector>

namespace watch::checkin {

namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using LocalMinutes = date::local_time<minutes>;

constexpr std::size_t kMaxExpressionLength = 1024;
// Every accepted expression matches within 8 years (29 Feb skips at most one
// leap year, e.g. 2096 -> 2104); scan a little more.
constexpr int kMaxScanDays = 366 * 9;
// Largest change of a zone's UTC offset at one transition, with margin.
constexpr minutes kMaxShift = hours(3);

struct FieldSpec {
  const char* name;
  int min;
  int max;
};
constexpr std::array<FieldSpec, 5> kFields{{
    {"minute", 0, 59},
    {"hour", 0, 23},
    {"day-of-month", 1, 31},
    {"month", 1, 12},
    {"day-of-week", 0, 7},
}};

constexpr std::array<const char*, 12> kMonthNames{"jan", "feb", "mar", "apr", "may", "jun",
                                                  "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<const char*, 7> kDayNames{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

bool iequals(std::string_view a, const char* b) {
  std::string_view bv(b);
  if (a.size() != bv.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != bv[i]) return false;
  }
  return true;
}

ParseError field_error(int field, std::size_t column, std::string what) {
  return ParseError{fmt::format("cron: field {} ({}): {} (column {})", field + 1,
                                kFields[field].name, what, column),
                    column};
}

// One value: a number or (months, days of week) a name. Sets `end` past it.
std::optional<int> parse_value(std::string_view s, std::size_t& pos, int field) {
  if (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
    int v = 0;
    std::size_t digits = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (++digits > 4) return std::nullopt;  // caller reports "not a number"
      v = v * 10 + (s[pos] - '0');
      ++pos;
    }
    return v;
  }
  if (pos + 3 <= s.size() && (field == 3 || field == 4)) {
    const std::string_view word = s.substr(pos, 3);
    if (field == 3) {
      for (int i = 0; i < 12; ++i) {
        if (iequals(word, kMonthNames[i])) {
          pos += 3;
          return i + 1;
        }
      }
    } else {
      for (int i = 0; i < 7; ++i) {
        if (iequals(word, kDayNames[i])) {
          pos += 3;
          return i;
        }
      }
    }
  }
  return std::nullopt;
}

// Parses one field into `bits` (indexed by value). `base` is the field's
// 0-based column in the whole expression.
std::optional<ParseError> parse_field(std::string_view text, std::size_t base, int field,
                                      std::vector<bool>& bits) {
  const FieldSpec spec = kFields[field];
  std::size_t pos = 0;
  auto col = [&](std::size_t at) { return base + at + 1; };
  while (true) {
    const std::size_t item_start = pos;
    int lo = spec.min;
    int hi = spec.max;
    if (field == 4) hi = 6;  // '*' in day-of-week: 0-6
    bool star = false;
    if (pos < text.size() && text[pos] == '*') {
      star = true;
      ++pos;
    } else {
      const std::size_t at = pos;
      auto v = parse_value(text, pos, field);
      if (!v) {
        std::string_view rest = text.substr(at);
        rest = rest.substr(0, std::min(rest.find_first_of(",-/"), rest.size()));
        if (rest.empty()) return field_error(field, col(at), "expected a value");
        return field_error(field, col(at), fmt::format("'{}' is not a valid value", rest));
      }
      if (*v < spec.min || *v > spec.max) {
        return field_error(field, col(at),
                           fmt::format("{} is out of range {}-{}", *v, spec.min, spec.max));
      }
      lo = hi = *v;
      if (pos < text.size() && text[pos] == '-') {
        ++pos;
        const std::size_t at2 = pos;
        auto v2 = parse_value(text, pos, field);
        if (!v2) return field_error(field, col(at2), "expected the end of the range");
        if (*v2 < spec.min || *v2 > spec.max) {
          return field_error(field, col(at2),
                             fmt::format("{} is out of range {}-{}", *v2, spec.min, spec.max));
        }
        if (*v2 < lo) {
          return field_error(field, col(item_start),
                             fmt::format("range {}-{} is backwards", lo, *v2));
        }
        hi = *v2;
      } else if (pos < text.size() && text[pos] == '/') {
        hi = field == 4 ? 6 : spec.max;  // "N/S": N to the field's maximum
        if (field == 4 && lo == 7) hi = 7;
      }
    }
    int step = 1;
    if (pos < text.size() && text[pos] == '/') {
      ++pos;
      const std::size_t at = pos;
      int s = 0;
      std::size_t digits = 0;
      while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
        if (++digits > 4) break;
        s = s * 10 + (text[pos] - '0');
        ++pos;
      }
      if (digits == 0 || digits > 4) return field_error(field, col(at), "expected a step number");
      if (s == 0) return field_error(field, col(at), "step 0 is not allowed");
      if (s > spec.max - spec.min + 1 && s > 1) {
        return field_error(field, col(at), fmt::format("step {} is larger than the field", s));
      }
      step = s;
    } else if (star && pos < text.size() && text[pos] == '-') {
      return field_error(field, col(pos), "'*' cannot start a range");
    }
    for (int v = lo; v <= hi; v += step)
      bits[static_cast<std::size_t>(field == 4 ? v % 7 : v)] = true;
    if (pos == text.size()) return std::nullopt;
    if (text[pos] != ',') {
      return field_error(field, col(pos), fmt::format("unexpected '{}'", text[pos]));
    }
    ++pos;
    if (pos == text.size()) return field_error(field, col(pos), "expected a value after ','");
  }
}

int days_in_month_max(int month) {  // with 29 February
  static constexpr std::array<int, 12> kDays{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return kDays[static_cast<std::size_t>(month - 1)];
}

bool day_matches(const CronFields& f, const date::year_month_day& ymd) {
  const unsigned d = static_cast<unsigned>(ymd.day());
  const unsigned m = static_cast<unsigned>(ymd.month());
  if (!f.months[m]) return false;
  const bool dom = f.days_of_month[d];
  const bool dow = f.days_of_week[date::weekday(date::sys_days(ymd)).c_encoding()];
  if (f.dom_star || f.dow_star) return dom && dow;
  return dom || dow;
}

// First minute of the day at or after `from` (minute of day) that matches, or -1.
int first_time_at_or_after(const CronFields& f, int from) {
  for (int h = from / 60; h < 24; ++h) {
    if (!f.hours[static_cast<std::size_t>(h)]) continue;
    for (int m = (h == from / 60 ? from % 60 : 0); m < 60; ++m) {
      if (f.minutes[static_cast<std::size_t>(m)]) return h * 60 + m;
    }
  }
  return -1;
}

int last_time_at_or_before(const CronFields& f, int upto) {
  for (int h = upto / 60; h >= 0; --h) {
    if (!f.hours[static_cast<std::size_t>(h)]) continue;
    for (int m = (h == upto / 60 ? upto % 60 : 59); m >= 0; --m) {
      if (f.minutes[static_cast<std::size_t>(m)]) return h * 60 + m;
    }
  }
  return -1;
}

constexpr int kMinYear = 1677;
constexpr int kMaxYear = 2263;

std::optional<LocalMinutes> next_local_match(const CronFields& f, LocalMinutes from) {
  auto day = date::floor<days>(from);
  int minute_of_day = static_cast<int>((from - day).count());
  for (int i = 0; i < kMaxScanDays; ++i) {
    const date::year_month_day ymd(day);
    if (static_cast<int>(ymd.year()) > kMaxYear) return std::nullopt;
    if (day_matches(f, ymd)) {
      const int t = first_time_at_or_after(f, minute_of_day);
      if (t >= 0) return LocalMinutes(day) + minutes(t);
    }
    day += days(1);
    minute_of_day = 0;
  }
  return std::nullopt;
}

std::optional<LocalMinutes> previous_local_match(const CronFields& f, LocalMinutes upto) {
  auto day = date::floor<days>(upto);
  int minute_of_day = static_cast<int>((upto - day).count());
  for (int i = 0; i < kMaxScanDays; ++i) {
    const date::year_month_day ymd(day);
    if (static_cast<int>(ymd.year()) < kMinYear) return std::nullopt;
    if (day_matches(f, ymd)) {
      const int t = last_time_at_or_before(f, minute_of_day);
      if (t >= 0) return LocalMinutes(day) + minutes(t);
    }
    day -= days(1);
    minute_of_day = 24 * 60 - 1;
  }
  return std::nullopt;
}

// The UTC instants at which a matching local time runs (0, 1 or 2 of them).
struct Instants {
  std::array<date::sys_seconds, 2> at;
  int count = 0;
};

Instants to_utc(const date::time_zone* zone, bool fixed_time, LocalMinutes local) {
  Instants out;
  const date::local_seconds ls(local);
  if (zone == nullptr) {
    out.at[0] = date::sys_seconds(ls.time_since_epoch());
    out.count = 1;
    return out;
  }
  const date::local_info info = zone->get_info(ls);
  switch (info.result) {
    case date::local_info::unique:
      out.at[0] = date::sys_seconds(ls.time_since_epoch() - info.first.offset);
      out.count = 1;
      break;
    case date::local_info::nonexistent:
      if (fixed_time) {
        out.at[0] = info.first.end;  // the first instant after the gap
        out.count = 1;
      }
      break;
    case date::local_info::ambiguous:
      out.at[0] = date::sys_seconds(ls.time_since_epoch() - info.first.offset);
      out.count = 1;
      if (!fixed_time) {
        out.at[1] = date::sys_seconds(ls.time_since_epoch() - info.second.offset);
        out.count = 2;
      }
      break;
  }
  return out;
}

LocalMinutes to_local_minutes(const date::time_zone* zone, date::sys_seconds t) {
  if (zone == nullptr) return date::floor<minutes>(date::local_seconds(t.time_since_epoch()));
  return date::floor<minutes>(zone->to_local(t));
}

// WallTime counts nanoseconds in 64 bits: years 1678 to 2262. Runs outside
// that range are not representable and reported as none.
constexpr std::int64_t kMaxSeconds =
    std::numeric_limits<std::int64_t>::max() / 1'000'000'000 - 86400;

bool representable(date::sys_seconds t) {
  const auto s = t.time_since_epoch().count();
  return s > -kMaxSeconds && s < kMaxSeconds;
}

bool in_supported_range(WallTime t) {
  return representable(date::sys_seconds(date::floor<seconds>(t).time_since_epoch()));
}

}  // namespace

namespace {

template <std::size_t N>
std::vector<int> set_bits(const std::bitset<N>& b, int from = 0) {
  std::vector<int> out;
  for (int i = from; i < static_cast<int>(N); ++i)
    if (b.test(static_cast<std::size_t>(i))) out.push_back(i);
  return out;
}

// The step of 0, s, 2s, ... up to the end, or 0 when the set is not that.
int regular_step(const std::vector<int>& values, int end) {
  if (values.size() < 2 || values[0] != 0) return 0;
  const int step = values[1];
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i] != static_cast<int>(i) * step) return 0;
  return values.back() + step >= end ? step : 0;
}

std::string plural(std::int64_t n, std::string_view unit) {
  return fmt::format("{} {}{}", n, unit, n == 1 ? "" : "s");
}

std::string period_words(std::chrono::seconds period) {
  std::int64_t s = period.count();
  std::string out;
  for (auto [size, unit] : {std::pair<std::int64_t, std::string_view>{604800, "week"},
                            {86400, "day"},
                            {3600, "hour"},
                            {60, "minute"},
                            {1, "second"}}) {
    if (s < size) continue;
    if (!out.empty()) out += ' ';
    out += plural(s / size, unit);
    s %= size;
  }
  return "every " + out;
}

}  // namespace

std::string describe(const Schedule& schedule) {
  if (schedule.period().count() > 0) return period_words(schedule.period());
  static constexpr std::string_view kDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                               "Thursday", "Friday", "Saturday"};
  static constexpr std::string_view kMonths[] = {
      "",     "January", "February",  "March",   "April",    "May",     "June",
      "July", "August",  "September", "October", "November", "December"};
  const CronFields& c = schedule.cron();
  const std::vector<int> minutes = set_bits(c.minutes), hours = set_bits(c.hours);
  std::string when;
  bool every_day_words = true;
  if (minutes.size() == 1 && hours.size() == 1) {
    when = fmt::format("at {:02}:{:02}", hours[0], minutes[0]);
  } else if (minutes.size() == 1 && hours.size() == 24) {
    when = fmt::format("at minute {} of every hour", minutes[0]);
    every_day_words = false;
  } else if (minutes.size() == 1 && regular_step(hours, 24) > 0) {
    when = fmt::format("at minute {} of every {}", minutes[0],
                       plural(regular_step(hours, 24), "hour"));
    every_day_words = false;
  } else if (minutes.size() == 1 && hours.size() <= 4) {
    for (std::size_t i = 0; i < hours.size(); ++i)
      when += fmt::format("{}{:02}:{:02}",
                          i == 0                  ? "at "
                          : i + 1 == hours.size() ? " and "
                                                  : ", ",
                          hours[i], minutes[0]);
  } else if (hours.size() == 24 && minutes.size() == 60) {
    when = "every minute";
    every_day_words = false;
  } else if (hours.size() == 24 && regular_step(minutes, 60) > 0) {
    when = "every " + plural(regular_step(minutes, 60), "minute");
    every_day_words = false;
  } else {
    return "";
  }
  const std::vector<int> dom = set_bits(c.days_of_month, 1), months = set_bits(c.months, 1),
                         dow = set_bits(c.days_of_week);
  std::string days;
  const bool all_dom = dom.size() == 31, all_dow = dow.size() == 7;
  if (all_dom && all_dow) {
    days = every_day_words ? "every day" : "";
  } else if (all_dom || c.dom_star) {
    // Days of the week: a run (Monday to Friday) or a list.
    bool run = dow.size() >= 3;
    for (std::size_t i = 1; run && i < dow.size(); ++i) run = dow[i] == dow[i - 1] + 1;
    if (run) {
      days = fmt::format("on {} to {}", kDays[dow.front()], kDays[dow.back()]);
    } else {
      days = "on ";
      for (std::size_t i = 0; i < dow.size(); ++i)
        days += std::string(i == 0                ? ""
                            : i + 1 == dow.size() ? " and "
                                                  : ", ") +
                std::string(kDays[dow[i]]);
    }
  } else if (all_dow || c.dow_star) {
    if (dom.size() > 3) return "";
    days = "on day";
    if (dom.size() > 1) days += 's';
    for (std::size_t i = 0; i < dom.size(); ++i)
      days += (i == 0 ? " " : i + 1 == dom.size() ? " and " : ", ") + std::to_string(dom[i]);
    days += months.size() == 12 ? " of every month" : "";
  } else {
    return "";  // both day fields restricted: cron's OR rule needs more words
  }
  std::string out = when;
  if (!days.empty()) out += " " + days;
  if (months.size() < 12) {
    if (months.size() > 3) return "";
    out += " in ";
    for (std::size_t i = 0; i < months.size(); ++i)
      out += std::string(i == 0                   ? ""
                         : i + 1 == months.size() ? " and "
                                                  : ", ") +
             std::string(kMonths[months[i]]);
  }
  return out;
}

std::string ParseError::to_string() const {
  return message;
}

Result<CronFields> parse_cron_fields(std::string_view expression) {
  if (expression.size() > kMaxExpressionLength) {
    return ParseError{fmt::format("cron: expression longer than {} bytes", kMaxExpressionLength),
                      0};
  }
  std::string_view expr = expression;
  // Leading and trailing blanks are ignored.
  std::size_t first = 0;
  while (first < expr.size() && (expr[first] == ' ' || expr[first] == '\t')) ++first;
  std::size_t last = expr.size();
  while (last > first && (expr[last - 1] == ' ' || expr[last - 1] == '\t')) --last;
  const std::string_view body = expr.substr(first, last - first);
  if (body.empty()) return ParseError{"cron: empty expression", 0};
  if (body[0] == '@') {
    static constexpr std::array<std::pair<const char*, const char*>, 7> kMacros{{
        {"@yearly", "0 0 1 1 *"},
        {"@annually", "0 0 1 1 *"},
        {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"},
        {"@daily", "0 0 * * *"},
        {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},
    }};
    for (const auto& [name, fields] : kMacros) {
      if (iequals(body, name)) return parse_cron_fields(fields);
    }
    return ParseError{fmt::format("cron: unknown macro '{}' (column {}); expected one of @yearly "
                                  "@annually @monthly @weekly @daily @midnight @hourly",
                                  body, first + 1),
                      first + 1};
  }

  std::array<std::string_view, 5> texts;
  std::array<std::size_t, 5> starts{};
  int n = 0;
  std::size_t pos = first;
  while (pos < last) {
    while (pos < last && (expr[pos] == ' ' || expr[pos] == '\t')) ++pos;
    if (pos >= last) break;
    std::size_t end = pos;
    while (end < last && expr[end] != ' ' && expr[end] != '\t') ++end;
    if (n == 5) {
      return ParseError{fmt::format("cron: more than 5 fields (column {}); expected minute hour "
                                    "day-of-month month day-of-week",
                                    pos + 1),
                        pos + 1};
    }
    texts[static_cast<std::size_t>(n)] = expr.substr(pos, end - pos);
    starts[static_cast<std::size_t>(n)] = pos;
    ++n;
    pos = end;
  }
  if (n < 5) {
    return ParseError{fmt::format("cron: {} field{}, expected 5 (minute hour day-of-month month "
                                  "day-of-week)",
                                  n, n == 1 ? "" : "s"),
                      0};
  }

  CronFields f;
  for (int i = 0; i < 5; ++i) {
    std::vector<bool> bits(static_cast<std::size_t>(kFields[i].max + 1), false);
    if (auto err = parse_field(texts[static_cast<std::size_t>(i)],
                               starts[static_cast<std::size_t>(i)], i, bits)) {
      return *err;
    }
    for (std::size_t v = 0; v < bits.size(); ++v) {
      if (!bits[v]) continue;
      switch (i) {
        case 0:
          f.minutes[v] = true;
          break;
        case 1:
          f.hours[v] = true;
          break;
        case 2:
          f.days_of_month[v] = true;
          break;
        case 3:
          f.months[v] = true;
          break;
        case 4:
          f.days_of_week[v % 7] = true;
          break;
      }
    }
  }
  f.dom_star = texts[2][0] == '*';
  f.dow_star = texts[4][0] == '*';
  f.fixed_time = texts[0][0] != '*' && texts[1][0] != '*';

  // A day must be possible: when only the day of month decides (the day of
  // week is '*'), some chosen day must exist in some chosen month.
  if (f.dow_star) {
    bool possible = false;
    for (int m = 1; m <= 12 && !possible; ++m) {
      if (!f.months[static_cast<std::size_t>(m)]) continue;
      for (int d = 1; d <= days_in_month_max(m); ++d) {
        if (f.days_of_month[static_cast<std::size_t>(d)]) {
          possible = true;
          break;
        }
      }
    }
    if (!possible) {
      return field_error(2, starts[2] + 1,
                         fmt::format("'{}' never occurs in month(s) '{}'", texts[2], texts[3]));
    }
  }
  return f;
}

Result<Schedule> Schedule::parse_cron(std::string_view expression, std::string_view time_zone) {
  auto fields = parse_cron_fields(expression);
  if (!fields.ok()) return fields.error();
  Schedule s;
  s.text_ = std::string(expression);
  s.cron_ = fields.value();
  if (!time_zone.empty() && time_zone != "UTC" && time_zone != "Etc/UTC") {
    if (time_zone.size() > 256) return ParseError{"time zone name too long", 0};
    try {
      s.zone_ = date::locate_zone(time_zone);
    } catch (const std::exception&) {
      return ParseError{fmt::format("unknown time zone '{}' (expected an IANA name such as "
                                    "Europe/Berlin, from /usr/share/zoneinfo)",
                                    time_zone),
                        0};
    }
    s.zone_name_ = std::string(time_zone);
  } else {
    s.zone_name_ = "UTC";
  }
  return s;
}

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  if (text.empty()) return ParseError{"duration: empty", 0};
  if (text.size() > 64) return ParseError{"duration: too long", 0};
  std::int64_t total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t at = pos;
    std::int64_t n = 0;
    std::size_t digits = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (++digits > 9) {
        return ParseError{fmt::format("duration: number too large (column {})", at + 1), at + 1};
      }
      n = n * 10 + (text[pos] - '0');
      ++pos;
    }
    if (digits == 0) {
      return ParseError{fmt::format("duration '{}': expected a number at column {}", text, at + 1),
                        at + 1};
    }
    if (pos == text.size()) {
      return ParseError{
          fmt::format("duration '{}': missing unit (s, m, h, d or w) at column {}", text, pos + 1),
          pos + 1};
    }
    std::int64_t unit = 0;
    switch (text[pos]) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      case 'w':
        unit = 7 * 86400;
        break;
      default:
        return ParseError{fmt::format("duration '{}': unknown unit '{}' at column {} (expected s, "
                                      "m, h, d or w)",
                                      text, text[pos], pos + 1),
                          pos + 1};
    }
    ++pos;
    total += n * unit;
    if (total > 100LL * 365 * 86400) return ParseError{"duration: longer than 100 years", 0};
  }
  return std::chrono::seconds(total);
}

Result<Schedule> Schedule::every(std::chrono::seconds period) {
  if (period < seconds(1) || period > days(366)) {
    return ParseError{fmt::format("period: {}s is outside 1s to 366d", period.count()), 0};
  }
  Schedule s;
  s.period_ = period;
  s.text_ = fmt::format("{}s", period.count());
  return s;
}

Result<Schedule> Schedule::parse_period(std::string_view period) {
  auto d = parse_duration(period);
  if (!d.ok()) return d.error();
  auto s = every(d.value());
  if (s.ok()) s.value().text_ = std::string(period);
  return s;
}

Result<Schedule> Schedule::parse(std::string_view text, std::string_view time_zone) {
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0])) &&
      text.find_first_of(" \t") == std::string_view::npos) {
    return parse_period(text);
  }
  return parse_cron(text, time_zone);
}

std::optional<WallTime> Schedule::next_after(WallTime t) const {
  if (!in_supported_range(t)) return std::nullopt;
  const auto ts = date::floor<seconds>(t);
  if (is_period()) {
    const std::int64_t p = period_.count();
    const std::int64_t s = ts.time_since_epoch().count();
    std::int64_t q = s / p;
    if (s < 0 && s % p != 0) --q;  // floor
    return WallTime(seconds((q + 1) * p));
  }
  const date::sys_seconds tsec(ts.time_since_epoch());
  std::optional<date::sys_seconds> best;
  std::optional<LocalMinutes> stop;
  LocalMinutes l = to_local_minutes(zone_, tsec) - kMaxShift;
  while (true) {
    auto m = next_local_match(cron_, l);
    if (!m) break;
    if (stop && *m > *stop) break;
    const Instants in = to_utc(zone_, cron_.fixed_time, *m);
    for (int i = 0; i < in.count; ++i) {
      // Strictly after t (t may carry sub-second precision).
      if (WallTime(in.at[static_cast<std::size_t>(i)].time_since_epoch()) > t &&
          (!best || in.at[static_cast<std::size_t>(i)] < *best)) {
        best = in.at[static_cast<std::size_t>(i)];
        stop = to_local_minutes(zone_, *best) + kMaxShift;
      }
    }
    l = *m + minutes(1);
  }
  if (!best || !representable(*best)) return std::nullopt;
  return WallTime(best->time_since_epoch());
}

std::optional<WallTime> Schedule::previous_at_or_before(WallTime t) const {
  if (!in_supported_range(t)) return std::nullopt;
  const auto ts = date::floor<seconds>(t);
  if (is_period()) {
    const std::int64_t p = period_.count();
    const std::int64_t s = ts.time_since_epoch().count();
    std::int64_t q = s / p;
    if (s < 0 && s % p != 0) --q;
    return WallTime(seconds(q * p));
  }
  const date::sys_seconds tsec(ts.time_since_epoch());
  std::optional<date::sys_seconds> best;
  std::optional<LocalMinutes> stop;
  LocalMinutes l = to_local_minutes(zone_, tsec) + kMaxShift;
  while (true) {
    auto m = previous_local_match(cron_, l);
    if (!m) break;
    if (stop && *m < *stop) break;
    const Instants in = to_utc(zone_, cron_.fixed_time, *m);
    for (int i = 0; i < in.count; ++i) {
      if (WallTime(in.at[static_cast<std::size_t>(i)].time_since_epoch()) <= t &&
          (!best || in.at[static_cast<std::size_t>(i)] > *best)) {
        best = in.at[static_cast<std::size_t>(i)];
        stop = to_local_minutes(zone_, *best) - kMaxShift;
      }
    }
    l = *m - minutes(1);
  }
  if (!best || !representable(*best)) return std::nullopt;
  return WallTime(best->time_since_epoch());
}

}  // namespace watch::checkin
