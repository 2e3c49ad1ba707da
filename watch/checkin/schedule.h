// Job schedules for check-ins: when a scheduled job is expected to run.
//
// A schedule is either a cron expression evaluated in an IANA time zone, or a
// fixed period:
//
//   auto s = watch::checkin::Schedule::parse_cron("30 2 * * MON-FRI", "Europe/Berlin");
//   if (!s.ok()) return config_error(s.error().to_string());
//   // "cron: field 2 (hour): 25 is out of range 0-23 (column 4)"
//   auto next = s.value().next_after(clock.wall_now());           // UTC, or nullopt
//   auto every = watch::checkin::Schedule::parse("15m", "");       // a period
//
// Cron syntax (Vixie cron / cronie, as healthchecks.io accepts it): five
// fields `minute hour day-of-month month day-of-week` separated by blanks;
// each a comma list of `*`, `N`, `N-M`, `*/S`, `N-M/S` or `N/S` (N to the
// field's maximum, step S); months JAN-DEC and days SUN-SAT by name (any
// case); day-of-week 0 and 7 are Sunday. When both day fields are restricted
// (neither starts with `*`) a day matches if EITHER matches (the classic OR
// rule); otherwise both must. `@hourly @daily @midnight @weekly @monthly
// @yearly @annually` are accepted; `@reboot` is not (it has no time).
// Expressions that can never match a day (`0 0 30 2 *`, `0 0 31 4,6 *`) are
// refused at parse time, so every accepted expression matches at least once
// in any 8 consecutive years (`29 2` included) and next/previous searches are
// bounded.
//
// Time zones and daylight saving time (ISC cron's rules, which healthchecks'
// cronsim also follows). A "fixed-time" expression is one whose minute and
// hour fields both do not start with `*` (e.g. `30 2 * * *`); others (`*/15
// * * * *`, `5 * * * *`) are "wildcard" expressions.
// - Spring forward (a local time that does not exist, e.g. 02:30 on
//   2026-03-29 in Europe/Berlin): a fixed-time expression runs once at the
//   first instant after the gap (03:00 local, 01:00Z); several fixed times in
//   the same gap collapse into that one run. A wildcard expression simply has
//   no runs in the gap (clock times that do not exist never come).
// - Fall back (a local time that happens twice, e.g. 02:30 on 2026-10-25 in
//   Europe/Berlin): a fixed-time expression runs once, at the first
//   occurrence (02:30 CEST, 00:30Z). A wildcard expression runs at both
//   occurrences (every 15 minutes stays every 15 minutes of real time).
//
// A period (`30s`, `15m`, `1h30m`, `1d`, `1w`; at least 1s, at most 366d)
// has runs on a grid anchored at the Unix epoch: next_after(t) is the next
// multiple of the period after t. (The check-in tracker measures periods from
// the last ping instead, as healthchecks' "simple" checks do.)
//
// Thread-safety: a Schedule is an immutable value; const methods may be
// called concurrently. Parsing reads the system time zone database
// (/usr/share/zoneinfo) once per process.
#pragma once

#include <bitset>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "firebreak/clock.h"

namespace date {
class time_zone;
}

namespace watch::checkin {

using WallTime = firebreak::Clock::WallTime;

// An error from parsing user input (a schedule, a path, a body).
struct ParseError {
  std::string message;  // the whole message, e.g. "cron: field 2 (hour): 25 is out of range 0-23"
  std::size_t column = 0;  // 1-based byte offset into the input, 0 when not about one place
  std::string to_string() const;
};

// A value or an error (paths fed by users or the network never throw).
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}           // NOLINT: implicit by design
  Result(ParseError error) : v_(std::move(error)) {}  // NOLINT: implicit by design
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const ParseError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ParseError> v_;
};

// The parsed fields of a cron expression (a bit per allowed value).
struct CronFields {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days_of_month;  // bit 0 unused
  std::bitset<13> months;         // bit 0 unused
  std::bitset<7> days_of_week;    // 0 = Sunday
  bool dom_star = false;          // the field starts with '*'
  bool dow_star = false;
  bool fixed_time = false;  // neither minute nor hour starts with '*' (see DST rules above)
};

// Parses the five fields (or an @macro), without a time zone.
Result<CronFields> parse_cron_fields(std::string_view expression);

class Schedule {
 public:
  // A cron expression in an IANA zone ("" or "UTC" for UTC). Errors name the
  // field and column, or the unknown zone.
  static Result<Schedule> parse_cron(std::string_view expression, std::string_view time_zone);
  // A period such as "15m" or "1h30m".
  static Result<Schedule> parse_period(std::string_view period);
  // Either: a period when `text` starts with a digit, else cron.
  static Result<Schedule> parse(std::string_view text, std::string_view time_zone);
  // A period given directly (1s to 366d; else a ParseError).
  static Result<Schedule> every(std::chrono::seconds period);

  // The first run strictly after t, in UTC; nullopt when there is none that
  // WallTime can hold (until 2262). Cost: bounded (at most ~9 years of days
  // scanned, a few hundred zone look-ups).
  std::optional<WallTime> next_after(WallTime t) const;
  // The last run at or before t; nullopt when there is none (from 1678).
  std::optional<WallTime> previous_at_or_before(WallTime t) const;

  bool is_period() const { return period_.count() > 0; }
  std::chrono::seconds period() const { return period_; }  // 0 for cron
  const std::string& expression() const { return text_; }  // as given (cron or period)
  const std::string& time_zone() const { return zone_name_; }
  const CronFields& cron() const { return cron_; }

 private:
  Schedule() = default;

  std::string text_;
  std::string zone_name_;
  std::chrono::seconds period_{0};
  CronFields cron_;
  const date::time_zone* zone_ = nullptr;  // nullptr: UTC
};

// The schedule in words, for people: "every 15 minutes", "at 02:30 every
// day", "at 09:00 on Monday to Friday", "at 00:00 on day 1 of every month",
// "every 1 hour 30 minutes"; the time zone is not included. "" for shapes it
// has no short words for (the expression then speaks for itself).
std::string describe(const Schedule& schedule);

// Parses a duration such as "90s", "15m", "1h30m", "2d", "1w" (Prometheus's
// units s m h d w, no fractions). For grace and max run time too.
Result<std::chrono::seconds> parse_duration(std::string_view text);

}  // namespace watch::checkin
