// Time intervals: whether an instant falls in one (timeinterval.go
// ContainsTime), read in the interval's zone.
#include <date/date.h>
#include <date/tz.h>

#include <fmt/format.h>

#include <algorithm>
#include <exception>

#include "watch/routing/routing.h"

namespace watch::routing {

namespace {

using std::chrono::days;
using std::chrono::minutes;

// The wall-clock fields ContainsTime reads.
struct LocalFields {
  int minute_of_day;
  int weekday;  // 0 = Sunday
  int day;
  int days_in_month;
  int month;
  int year;
};

LocalFields local_fields(const date::time_zone* zone, std::chrono::system_clock::time_point t) {
  const auto sys = date::floor<minutes>(t);
  const date::local_time<minutes> local = zone == nullptr
                                              ? date::local_time<minutes>(sys.time_since_epoch())
                                              : date::floor<minutes>(zone->to_local(sys));
  const auto day = date::floor<days>(local);
  const date::year_month_day ymd(day);
  const date::year_month_day_last last(ymd.year(), date::month_day_last(ymd.month()));
  return {
      .minute_of_day = static_cast<int>((local - day).count()),
      .weekday = static_cast<int>(date::weekday(day).c_encoding()),
      .day = static_cast<int>(static_cast<unsigned>(ymd.day())),
      .days_in_month = static_cast<int>(static_cast<unsigned>(last.day())),
      .month = static_cast<int>(static_cast<unsigned>(ymd.month())),
      .year = static_cast<int>(ymd.year()),
  };
}

template <typename Range, typename In>
bool any_range(const std::optional<std::vector<Range>>& ranges, In in) {
  return !ranges || std::any_of(ranges->begin(), ranges->end(), in);
}

int clamp_day(int n, int days_in_month) {
  return std::clamp(n, -days_in_month, days_in_month);
}

}  // namespace

bool set_location(TimeInterval& interval, std::string_view name, std::string* error) {
  if (name.empty() || name == "UTC") {
    interval.location = "UTC";
    interval.zone = nullptr;
    return true;
  }
  // Go refuses names that could leave the zoneinfo directory.
  if (name.front() == '/' || name.front() == '\\' || name.find("..") != std::string_view::npos) {
    if (error != nullptr) *error = "time: invalid location name";
    return false;
  }
  try {
    interval.zone = name == "Local" ? date::current_zone() : date::locate_zone(std::string(name));
  } catch (const std::exception&) {
    if (name == "Local") {  // no /etc/localtime: Go's Local is UTC then
      interval.location = "Local";
      interval.zone = nullptr;
      return true;
    }
    if (error != nullptr) *error = fmt::format("unknown time zone {}", name);
    return false;
  }
  interval.location = std::string(name);
  return true;
}

bool contains(const TimeInterval& interval, std::chrono::system_clock::time_point t) {
  LocalFields f;
  try {
    f = local_fields(interval.zone, t);
  } catch (const std::exception&) {
    return false;  // a zone whose rules cannot be read: no time is in it
  }
  const bool in_times = any_range(interval.times, [&](const TimeOfDayRange& r) {
    return f.minute_of_day >= r.start_minute && f.minute_of_day < r.end_minute;
  });
  if (!in_times) return false;
  const bool in_days = any_range(interval.days_of_month, [&](const InclusiveRange& r) {
    const int begin = r.begin < 0 ? f.days_in_month + r.begin + 1 : r.begin;
    const int end = r.end < 0 ? f.days_in_month + r.end + 1 : r.end;
    if (begin > f.days_in_month) return false;  // starts after this month's end
    return f.day >= clamp_day(begin, f.days_in_month) && f.day <= clamp_day(end, f.days_in_month);
  });
  if (!in_days) return false;
  const bool in_months = any_range(interval.months, [&](const InclusiveRange& r) {
    return f.month >= r.begin && f.month <= r.end;
  });
  if (!in_months) return false;
  const bool in_weekdays = any_range(interval.weekdays, [&](const InclusiveRange& r) {
    return f.weekday >= r.begin && f.weekday <= r.end;
  });
  if (!in_weekdays) return false;
  return any_range(interval.years,
                   [&](const InclusiveRange& r) { return f.year >= r.begin && f.year <= r.end; });
}

bool contains(const std::vector<TimeInterval>& intervals, std::chrono::system_clock::time_point t) {
  return std::any_of(intervals.begin(), intervals.end(),
                     [&](const TimeInterval& i) { return contains(i, t); });
}

}  // namespace watch::routing
