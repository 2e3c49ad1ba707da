// Schedules: cron syntax and its errors, the day-of-month/day-of-week OR
// rule, leap years and last days, periods, and runs across DST changes in
// Europe/Berlin and America/New_York (checked against the zone database and,
// for wildcard expressions, against a minute-by-minute brute force).
#include "watch/checkin/schedule.h"

#include <date/date.h>
#include <date/tz.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace watch::checkin {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

WallTime utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  const date::sys_days day = date::year{y} / date::month{mo} / date::day{d};
  return WallTime(day.time_since_epoch() + hours(h) + minutes(mi) + seconds(s));
}

std::string show(std::optional<WallTime> t) {
  if (!t) return "none";
  return date::format("%F %H:%M:%S", date::floor<seconds>(*t));
}

Schedule cron(std::string_view expr, std::string_view tz = "UTC") {
  auto s = Schedule::parse_cron(expr, tz);
  EXPECT_TRUE(s.ok()) << expr << ": " << (s.ok() ? "" : s.error().to_string());
  return std::move(s).value();
}

std::string error_of(std::string_view expr, std::string_view tz = "UTC") {
  auto s = Schedule::parse_cron(expr, tz);
  if (s.ok()) return "accepted";
  return s.error().to_string();
}

// The next n runs after t, as text.
std::vector<std::string> runs(const Schedule& s, WallTime t, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    auto next = s.next_after(t);
    out.push_back(show(next));
    if (!next) break;
    t = *next;
  }
  return out;
}

using V = std::vector<std::string>;

TEST(CronParse, EveryFifteenMinutes) {
  const auto s = cron("*/15 * * * *");
  EXPECT_EQ(show(s.next_after(utc(2026, 1, 1, 10, 7))), "2026-01-01 10:15:00");
  EXPECT_EQ(show(s.previous_at_or_before(utc(2026, 1, 1, 10, 7))), "2026-01-01 10:00:00");
}

TEST(CronParse, NextIsStrictlyAfterAndPreviousIncludesNow) {
  const auto s = cron("*/15 * * * *");
  EXPECT_EQ(show(s.next_after(utc(2026, 1, 1, 10, 15))), "2026-01-01 10:30:00");
  EXPECT_EQ(show(s.previous_at_or_before(utc(2026, 1, 1, 10, 15))), "2026-01-01 10:15:00");
  // Sub-second: 10:15:00.5 is after the 10:15 run.
  const WallTime half = utc(2026, 1, 1, 10, 15) + std::chrono::milliseconds(500);
  EXPECT_EQ(show(s.next_after(half)), "2026-01-01 10:30:00");
  EXPECT_EQ(show(s.previous_at_or_before(half)), "2026-01-01 10:15:00");
}

TEST(CronParse, StepRanges) {
  EXPECT_EQ(runs(cron("10-50/20 * * * *"), utc(2026, 1, 1, 10, 0), 4),
            (V{"2026-01-01 10:10:00", "2026-01-01 10:30:00", "2026-01-01 10:50:00",
               "2026-01-01 11:10:00"}));
  // N/S runs from N to the field's maximum.
  EXPECT_EQ(runs(cron("5/20 * * * *"), utc(2026, 1, 1, 10, 0), 4),
            (V{"2026-01-01 10:05:00", "2026-01-01 10:25:00", "2026-01-01 10:45:00",
               "2026-01-01 11:05:00"}));
  EXPECT_EQ(runs(cron("0 */6 * * *"), utc(2026, 1, 1, 1, 0), 3),
            (V{"2026-01-01 06:00:00", "2026-01-01 12:00:00", "2026-01-01 18:00:00"}));
  EXPECT_EQ(runs(cron("0 9-17/4 * * *"), utc(2026, 1, 1, 0, 0), 4),
            (V{"2026-01-01 09:00:00", "2026-01-01 13:00:00", "2026-01-01 17:00:00",
               "2026-01-02 09:00:00"}));
}

TEST(CronParse, ListsAndRangesCombine) {
  EXPECT_EQ(runs(cron("0,30 8,12-13 * * *"), utc(2026, 1, 1, 0, 0), 6),
            (V{"2026-01-01 08:00:00", "2026-01-01 08:30:00", "2026-01-01 12:00:00",
               "2026-01-01 12:30:00", "2026-01-01 13:00:00", "2026-01-01 13:30:00"}));
}

TEST(CronParse, NamesAnyCase) {
  // 2026-01-01 is a Thursday.
  EXPECT_EQ(runs(cron("0 9 * * mon-FRI"), utc(2026, 1, 1, 10, 0), 3),
            (V{"2026-01-02 09:00:00", "2026-01-05 09:00:00", "2026-01-06 09:00:00"}));
  EXPECT_EQ(runs(cron("0 0 1 Jan,jul *"), utc(2026, 1, 1, 10, 0), 2),
            (V{"2026-07-01 00:00:00", "2027-01-01 00:00:00"}));
  EXPECT_EQ(runs(cron("0 0 1 FEB-APR *"), utc(2026, 1, 1), 3),
            (V{"2026-02-01 00:00:00", "2026-03-01 00:00:00", "2026-04-01 00:00:00"}));
}

TEST(CronParse, SundayIsZeroAndSeven) {
  // 2026-01-04 is a Sunday.
  for (const char* e : {"0 0 * * 0", "0 0 * * 7", "0 0 * * SUN", "0 0 * * 6-7"}) {
    EXPECT_EQ(show(cron(e).next_after(utc(2026, 1, 1))),
              std::string(e) == "0 0 * * 6-7" ? "2026-01-03 00:00:00" : "2026-01-04 00:00:00")
        << e;
  }
  EXPECT_TRUE(cron("0 0 * * 7").cron().days_of_week[0]);
  EXPECT_EQ(cron("0 0 * * 5-7").cron().days_of_week.count(), 3u);
}

TEST(CronParse, BothDayFieldsRestrictedMeansEither) {
  // The 1st of the month OR any Monday. 2026-01-05 is a Monday; 2026-02-01 a Sunday.
  EXPECT_EQ(runs(cron("0 0 1 * MON"), utc(2026, 1, 1), 6),
            (V{"2026-01-05 00:00:00", "2026-01-12 00:00:00", "2026-01-19 00:00:00",
               "2026-01-26 00:00:00", "2026-02-01 00:00:00", "2026-02-02 00:00:00"}));
}

TEST(CronParse, StarredDayFieldMeansBoth) {
  // Day of month starts with '*': AND (Vixie cron). Odd days that are Mondays.
  EXPECT_EQ(runs(cron("0 0 */2 * MON"), utc(2026, 1, 1), 3),
            (V{"2026-01-05 00:00:00", "2026-01-19 00:00:00", "2026-02-09 00:00:00"}));
  // Day of week starts with '*': only the day of month decides.
  EXPECT_EQ(runs(cron("0 0 13 * *"), utc(2026, 1, 1), 2),
            (V{"2026-01-13 00:00:00", "2026-02-13 00:00:00"}));
}

TEST(CronParse, Macros) {
  const WallTime t = utc(2026, 1, 1, 10, 30);  // a Thursday
  EXPECT_EQ(show(cron("@hourly").next_after(t)), "2026-01-01 11:00:00");
  EXPECT_EQ(show(cron("@daily").next_after(t)), "2026-01-02 00:00:00");
  EXPECT_EQ(show(cron("@midnight").next_after(t)), "2026-01-02 00:00:00");
  EXPECT_EQ(show(cron("@weekly").next_after(t)), "2026-01-04 00:00:00");
  EXPECT_EQ(show(cron("@monthly").next_after(t)), "2026-02-01 00:00:00");
  EXPECT_EQ(show(cron("@yearly").next_after(t)), "2027-01-01 00:00:00");
  EXPECT_EQ(show(cron("@ANNUALLY").next_after(t)), "2027-01-01 00:00:00");
  EXPECT_EQ(error_of("@reboot"),
            "cron: unknown macro '@reboot' (column 1); expected one of @yearly @annually "
            "@monthly @weekly @daily @midnight @hourly");
}

TEST(CronParse, ErrorsNameFieldAndColumn) {
  EXPECT_EQ(error_of("0 25 * * *"), "cron: field 2 (hour): 25 is out of range 0-23 (column 3)");
  EXPECT_EQ(error_of("60 * * * *"), "cron: field 1 (minute): 60 is out of range 0-59 (column 1)");
  EXPECT_EQ(error_of("0 0 0 * *"),
            "cron: field 3 (day-of-month): 0 is out of range 1-31 (column 5)");
  EXPECT_EQ(error_of("0 0 * 13 *"), "cron: field 4 (month): 13 is out of range 1-12 (column 7)");
  EXPECT_EQ(error_of("0 0 * * 8"), "cron: field 5 (day-of-week): 8 is out of range 0-7 (column 9)");
  EXPECT_EQ(error_of("0 1-30 * * *"), "cron: field 2 (hour): 30 is out of range 0-23 (column 5)");
  EXPECT_EQ(error_of("*/0 * * * *"), "cron: field 1 (minute): step 0 is not allowed (column 3)");
  EXPECT_EQ(error_of("30-10 * * * *"),
            "cron: field 1 (minute): range 30-10 is backwards (column 1)");
  EXPECT_EQ(error_of("0 0 * FOO *"),
            "cron: field 4 (month): 'FOO' is not a valid value (column 7)");
  EXPECT_EQ(error_of("0 0 * * MON-"),
            "cron: field 5 (day-of-week): expected the end of the range (column 13)");
  EXPECT_EQ(error_of("0 0 * * 1,"),
            "cron: field 5 (day-of-week): expected a value after ',' (column 11)");
  EXPECT_EQ(error_of("1x * * * *"), "cron: field 1 (minute): unexpected 'x' (column 2)");
  EXPECT_EQ(error_of("JAN * * * *"),
            "cron: field 1 (minute): 'JAN' is not a valid value (column 1)");
  EXPECT_EQ(error_of("* * * *"),
            "cron: 4 fields, expected 5 (minute hour day-of-month month day-of-week)");
  EXPECT_EQ(error_of("* * * * * *"),
            "cron: more than 5 fields (column 11); expected minute hour day-of-month month "
            "day-of-week");
  EXPECT_EQ(error_of(""), "cron: empty expression");
  EXPECT_EQ(error_of("   "), "cron: empty expression");
  EXPECT_EQ(error_of(std::string(2000, '1')), "cron: expression longer than 1024 bytes");
}

TEST(CronParse, ErrorColumnIsExposed) {
  auto s = Schedule::parse_cron("0 25 * * *", "UTC");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().column, 3u);
}

TEST(CronParse, ExtraBlanksAreFine) {
  EXPECT_EQ(show(cron("  0\t 9  *  * \t* ").next_after(utc(2026, 1, 1))), "2026-01-01 09:00:00");
}

TEST(CronParse, UnknownTimeZoneIsAnError) {
  EXPECT_EQ(error_of("0 0 * * *", "Mars/Olympus"),
            "unknown time zone 'Mars/Olympus' (expected an IANA name such as Europe/Berlin, "
            "from /usr/share/zoneinfo)");
}

TEST(CronImpossible, DaysThatNeverExistAreRefused) {
  EXPECT_EQ(error_of("0 0 30 2 *"),
            "cron: field 3 (day-of-month): '30' never occurs in month(s) '2' (column 5)");
  EXPECT_EQ(error_of("0 0 31 4,6,9,11 *"),
            "cron: field 3 (day-of-month): '31' never occurs in month(s) '4,6,9,11' (column 5)");
  EXPECT_EQ(error_of("0 0 30-31 FEB *"),
            "cron: field 3 (day-of-month): '30-31' never occurs in month(s) 'FEB' (column 5)");
  // With a restricted day of week, the OR rule makes it match on Mondays.
  EXPECT_EQ(show(cron("0 0 30 2 MON").next_after(utc(2026, 1, 1))), "2026-02-02 00:00:00");
  // 31 exists in some of the months: fine.
  EXPECT_EQ(show(cron("0 0 31 2-3 *").next_after(utc(2026, 1, 1))), "2026-03-31 00:00:00");
}

TEST(CronCalendar, LeapDay) {
  const auto s = cron("0 0 29 2 *");
  EXPECT_EQ(show(s.next_after(utc(2026, 1, 1))), "2028-02-29 00:00:00");
  EXPECT_EQ(show(s.previous_at_or_before(utc(2026, 1, 1))), "2024-02-29 00:00:00");
  // 2100 is not a leap year: from 2096 the next is 2104 (the longest gap).
  EXPECT_EQ(show(s.next_after(utc(2096, 3, 1))), "2104-02-29 00:00:00");
  EXPECT_EQ(show(s.previous_at_or_before(utc(2104, 2, 28))), "2096-02-29 00:00:00");
  // 2000 was a leap year (divisible by 400).
  EXPECT_EQ(show(s.next_after(utc(1999, 1, 1))), "2000-02-29 00:00:00");
}

TEST(CronCalendar, ThirtyFirstSkipsShortMonths) {
  EXPECT_EQ(runs(cron("0 0 31 * *"), utc(2026, 1, 31, 12), 4),
            (V{"2026-03-31 00:00:00", "2026-05-31 00:00:00", "2026-07-31 00:00:00",
               "2026-08-31 00:00:00"}));
}

TEST(CronCalendar, LastDaysOfMonthPattern) {
  // "28-31": the end of every month, including the shortest February.
  EXPECT_EQ(runs(cron("0 12 28-31 2 *"), utc(2027, 1, 1), 3),
            (V{"2027-02-28 12:00:00", "2028-02-28 12:00:00", "2028-02-29 12:00:00"}));
  // The last minute of the year.
  EXPECT_EQ(show(cron("59 23 31 12 *").next_after(utc(2026, 6, 1))), "2026-12-31 23:59:00");
  EXPECT_EQ(show(cron("59 23 31 12 *").next_after(utc(2026, 12, 31, 23, 59))),
            "2027-12-31 23:59:00");
}

TEST(CronCalendar, PreviousCrossesYearBoundary) {
  EXPECT_EQ(show(cron("0 0 1 1 *").previous_at_or_before(utc(2026, 6, 1))), "2026-01-01 00:00:00");
  EXPECT_EQ(show(cron("30 23 31 12 *").previous_at_or_before(utc(2026, 6, 1))),
            "2025-12-31 23:30:00");
}

// --- Time zones and DST ---

// Europe/Berlin 2026: spring forward on 29 March at 01:00Z (02:00 CET ->
// 03:00 CEST); fall back on 25 October at 01:00Z (03:00 CEST -> 02:00 CET).

TEST(CronDst, BerlinSpringForwardFixedTimeRunsAtEndOfGap) {
  const auto s = cron("30 2 * * *", "Europe/Berlin");
  EXPECT_EQ(runs(s, utc(2026, 3, 27, 12), 4),
            (V{"2026-03-28 01:30:00",  // 02:30 CET
               "2026-03-29 01:00:00",  // 02:30 does not exist: 03:00 CEST
               "2026-03-30 00:30:00",  // 02:30 CEST
               "2026-03-31 00:30:00"}));
  EXPECT_EQ(show(s.previous_at_or_before(utc(2026, 3, 29, 1, 0))), "2026-03-29 01:00:00");
  EXPECT_EQ(show(s.previous_at_or_before(utc(2026, 3, 29, 0, 59))), "2026-03-28 01:30:00");
}

TEST(CronDst, BerlinSpringForwardTwoTimesInGapCollapseIntoOne) {
  const auto s = cron("0,30 2 * * *", "Europe/Berlin");
  EXPECT_EQ(runs(s, utc(2026, 3, 28, 12), 3),
            (V{"2026-03-29 01:00:00", "2026-03-30 00:00:00", "2026-03-30 00:30:00"}));
}

TEST(CronDst, BerlinSpringForwardWildcardSkipsTheGap) {
  const auto s = cron("30 * * * *", "Europe/Berlin");
  // 01:30 CET = 00:30Z; 02:30 does not exist; 03:30 CEST = 01:30Z.
  EXPECT_EQ(runs(s, utc(2026, 3, 29, 0, 0), 3),
            (V{"2026-03-29 00:30:00", "2026-03-29 01:30:00", "2026-03-29 02:30:00"}));
}

TEST(CronDst, BerlinFallBackFixedTimeRunsOnce) {
  const auto s = cron("30 2 * * *", "Europe/Berlin");
  EXPECT_EQ(runs(s, utc(2026, 10, 24, 12), 3),
            (V{"2026-10-25 00:30:00",  // 02:30 CEST, the first of the two
               "2026-10-26 01:30:00",  // 02:30 CET
               "2026-10-27 01:30:00"}));
  // Asked from inside the repeated hour (02:30 CET happening), no second run.
  EXPECT_EQ(show(s.next_after(utc(2026, 10, 25, 1, 15))), "2026-10-26 01:30:00");
  EXPECT_EQ(show(s.previous_at_or_before(utc(2026, 10, 25, 1, 45))), "2026-10-25 00:30:00");
}

TEST(CronDst, BerlinFallBackWildcardKeepsRealTimeSpacing) {
  const auto s = cron("*/30 * * * *", "Europe/Berlin");
  EXPECT_EQ(runs(s, utc(2026, 10, 24, 23, 45), 5),
            (V{"2026-10-25 00:00:00", "2026-10-25 00:30:00", "2026-10-25 01:00:00",
               "2026-10-25 01:30:00", "2026-10-25 02:00:00"}));
  EXPECT_EQ(show(s.previous_at_or_before(utc(2026, 10, 25, 1, 15))), "2026-10-25 01:00:00");
}

// America/New_York 2026: spring forward on 8 March at 07:00Z (02:00 EST ->
// 03:00 EDT); fall back on 1 November at 06:00Z (02:00 EDT -> 01:00 EST).

TEST(CronDst, NewYorkSpringForward) {
  const auto s = cron("30 2 * * *", "America/New_York");
  EXPECT_EQ(runs(s, utc(2026, 3, 7, 0), 3),
            (V{"2026-03-07 07:30:00", "2026-03-08 07:00:00", "2026-03-09 06:30:00"}));
}

TEST(CronDst, NewYorkFallBackRunsOnce) {
  const auto s = cron("30 1 * * *", "America/New_York");
  EXPECT_EQ(runs(s, utc(2026, 10, 31, 12), 3),
            (V{"2026-11-01 05:30:00",  // 01:30 EDT
               "2026-11-02 06:30:00",  // 01:30 EST
               "2026-11-03 06:30:00"}));
}

TEST(CronDst, NewYorkHourlyInRepeatedHourRunsTwice) {
  const auto s = cron("15 * * * *", "America/New_York");
  // 00:15 EDT 04:15Z, 01:15 EDT 05:15Z, 01:15 EST 06:15Z, 02:15 EST 07:15Z.
  EXPECT_EQ(runs(s, utc(2026, 11, 1, 4, 0), 4), (V{"2026-11-01 04:15:00", "2026-11-01 05:15:00",
                                                   "2026-11-01 06:15:00", "2026-11-01 07:15:00"}));
}

TEST(CronDst, WeeklyJobAcrossDstKeepsLocalTime) {
  const auto s = cron("0 9 * * MON", "Europe/Berlin");
  EXPECT_EQ(runs(s, utc(2026, 3, 20), 3),
            (V{"2026-03-23 08:00:00", "2026-03-30 07:00:00", "2026-04-06 07:00:00"}));
}

// Brute force: for a wildcard expression the runs are exactly the UTC minutes
// whose local time matches the fields.
bool matches_local(const CronFields& f, date::local_time<minutes> l) {
  const auto day = date::floor<date::days>(l);
  const date::year_month_day ymd(day);
  const date::hh_mm_ss<minutes> hm(l - day);
  const unsigned dom = static_cast<unsigned>(ymd.day());
  const unsigned dow = date::weekday(day).c_encoding();
  if (!f.months[static_cast<unsigned>(ymd.month())]) return false;
  const bool day_ok = (f.dom_star || f.dow_star) ? (f.days_of_month[dom] && f.days_of_week[dow])
                                                 : (f.days_of_month[dom] || f.days_of_week[dow]);
  return day_ok && f.hours[static_cast<std::size_t>(hm.hours().count())] &&
         f.minutes[static_cast<std::size_t>(hm.minutes().count())];
}

TEST(CronDst, WildcardAgreesWithBruteForceAroundTransitions) {
  const auto* zone = date::locate_zone("Europe/Berlin");
  for (const char* expr : {"*/7 * * * *", "45 * * * *", "0 */2 * * *", "*/20 1-3 * * SUN"}) {
    const auto s = cron(expr, "Europe/Berlin");
    for (const WallTime from : {utc(2026, 3, 28, 20), utc(2026, 10, 24, 20)}) {
      WallTime t = from;
      std::vector<std::string> expected;
      for (int i = 0; i < 10 * 60 && expected.size() < 12; ++i) {
        const WallTime m = from + minutes(i + 1);
        const auto local = date::floor<minutes>(
            zone->to_local(date::sys_seconds(date::floor<seconds>(m).time_since_epoch())));
        if (matches_local(s.cron(), local)) expected.push_back(show(m));
      }
      EXPECT_EQ(runs(s, t, static_cast<int>(expected.size())), expected) << expr;
    }
  }
}

TEST(CronConsistency, NextAndPreviousAgree) {
  const char* exprs[] = {"30 2 * * *",   "*/15 * * * *",   "0 0 29 2 *",
                         "15 1 * * SUN", "0,30 2-3 * * *", "0 0 1 * MON"};
  for (const char* tz : {"Europe/Berlin", "America/New_York", "UTC", "Australia/Lord_Howe"}) {
    for (const char* e : exprs) {
      const auto s = cron(e, tz);
      WallTime t = utc(2026, 3, 1);
      for (int i = 0; i < 40; ++i) {
        const auto next = s.next_after(t);
        ASSERT_TRUE(next) << e << " " << tz;
        ASSERT_GT(*next, t);
        EXPECT_EQ(s.previous_at_or_before(*next), next) << e << " " << tz << " " << show(next);
        const auto before = s.previous_at_or_before(*next - seconds(1));
        ASSERT_TRUE(before);
        EXPECT_LE(*before, t) << e << " " << tz << " " << show(next);
        t = *next + hours(i % 5) * 7;  // uneven strides through the year
      }
    }
  }
}

// --- Periods and durations ---

TEST(Period, GridFromEpoch) {
  auto s = Schedule::parse("15m", "");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s.value().is_period());
  EXPECT_EQ(s.value().period(), minutes(15));
  EXPECT_EQ(show(s.value().next_after(utc(2026, 1, 1, 10, 7))), "2026-01-01 10:15:00");
  EXPECT_EQ(show(s.value().next_after(utc(2026, 1, 1, 10, 15))), "2026-01-01 10:30:00");
  EXPECT_EQ(show(s.value().previous_at_or_before(utc(2026, 1, 1, 10, 7))), "2026-01-01 10:00:00");
}

TEST(Period, ParseChoosesPeriodOrCron) {
  EXPECT_TRUE(Schedule::parse("1h30m", "").value().is_period());
  EXPECT_EQ(Schedule::parse("1h30m", "").value().period(), minutes(90));
  EXPECT_FALSE(Schedule::parse("*/5 * * * *", "UTC").value().is_period());
  EXPECT_FALSE(Schedule::parse("0 9 * * *", "UTC").value().is_period());
  EXPECT_FALSE(Schedule::parse("@daily", "UTC").value().is_period());
}

TEST(Period, Errors) {
  EXPECT_EQ(Schedule::parse_period("0s").error().to_string(), "period: 0s is outside 1s to 366d");
  EXPECT_EQ(Schedule::parse_period("400d").error().to_string(),
            "period: 34560000s is outside 1s to 366d");
  EXPECT_EQ(Schedule::parse_period("15x").error().to_string(),
            "duration '15x': unknown unit 'x' at column 3 (expected s, m, h, d or w)");
  EXPECT_EQ(Schedule::parse_period("15").error().to_string(),
            "duration '15': missing unit (s, m, h, d or w) at column 3");
  EXPECT_EQ(Schedule::parse_period("m").error().to_string(),
            "duration 'm': expected a number at column 1");
  EXPECT_EQ(parse_duration("").error().to_string(), "duration: empty");
}

TEST(CronRange, RunsPastYear2262AreNone) {
  // WallTime counts nanoseconds in 64 bits (until 2262-04-11).
  EXPECT_EQ(show(cron("0 0 1 1 *").next_after(utc(2262, 1, 2))), "none");
  EXPECT_EQ(show(cron("0 0 1 1 *").previous_at_or_before(utc(1677, 12, 31))), "none");
  EXPECT_EQ(show(cron("0 0 1 1 *").next_after(utc(2261, 1, 2))), "2262-01-01 00:00:00");
}

TEST(Period, Durations) {
  EXPECT_EQ(parse_duration("90s").value(), seconds(90));
  EXPECT_EQ(parse_duration("2d").value(), hours(48));
  EXPECT_EQ(parse_duration("1w").value(), hours(168));
  EXPECT_EQ(parse_duration("1h1m1s").value(), seconds(3661));
}

}  // namespace
}  // namespace watch::checkin

namespace watch::checkin {
namespace {

std::string words(std::string_view text) {
  auto s = Schedule::parse(text, "UTC");
  EXPECT_TRUE(s.ok()) << text;
  return s.ok() ? describe(s.value()) : "";
}

TEST(ScheduleWords, CommonShapesReadAsPeopleSayThem) {
  EXPECT_EQ(words("30 2 * * *"), "at 02:30 every day");
  EXPECT_EQ(words("@daily"), "at 00:00 every day");
  EXPECT_EQ(words("0 9 * * MON-FRI"), "at 09:00 on Monday to Friday");
  EXPECT_EQ(words("0 9 * * 1,3"), "at 09:00 on Monday and Wednesday");
  EXPECT_EQ(words("@weekly"), "at 00:00 on Sunday");
  EXPECT_EQ(words("0 0 1 * *"), "at 00:00 on day 1 of every month");
  EXPECT_EQ(words("0 0 1,15 * *"), "at 00:00 on days 1 and 15 of every month");
  EXPECT_EQ(words("@yearly"), "at 00:00 on day 1 in January");
  EXPECT_EQ(words("*/15 * * * *"), "every 15 minutes");
  EXPECT_EQ(words("* * * * *"), "every minute");
  EXPECT_EQ(words("5 * * * *"), "at minute 5 of every hour");
  EXPECT_EQ(words("0 */6 * * *"), "at minute 0 of every 6 hours");
  EXPECT_EQ(words("0 8,12,18 * * *"), "at 08:00, 12:00 and 18:00 every day");
  EXPECT_EQ(words("15m"), "every 15 minutes");
  EXPECT_EQ(words("1h30m"), "every 1 hour 30 minutes");
  EXPECT_EQ(words("1d"), "every 1 day");
  // Shapes without short words: the expression speaks for itself.
  EXPECT_EQ(words("7,19,23,41 3,9 * * *"), "");
  EXPECT_EQ(words("0 0 13 * FRI"), "");  // cron's OR of the two day fields
}

}  // namespace
}  // namespace watch::checkin
