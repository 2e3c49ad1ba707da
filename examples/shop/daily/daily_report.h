// The daily report: one UTC day's orders, per item and in total, stored in
// the daily_reports table and written as a CSV file for people who live in
// spreadsheets.
//
//   auto day = shop::parse_day("2026-03-14");               // or previous_day(now)
//   shop::DailyReport r = shop::build_daily_report(db, *day);
//   shop::store_daily_report(db, r, run_id, now);          // idempotent: a re-run replaces it
//   auto path = shop::write_daily_report_csv(r, "/var/lib/shop/reports");
//
// Thread-safety: as its Db.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/db.h"

namespace shop {

using Day = std::chrono::sys_days;

// "YYYY-MM-DD" (a valid date), else nullopt.
std::optional<Day> parse_day(std::string_view text);
std::string format_day(Day day);
// The UTC day before the one containing `unix_seconds`.
Day previous_day(double unix_seconds);
// The UTC day containing `unix_seconds`.
Day day_of(double unix_seconds);

struct ItemLine {
  std::string item;
  std::int64_t orders = 0;
  std::int64_t units = 0;
  std::int64_t invoiced = 0;  // orders invoiced so far
  std::int64_t revenue_cents = 0;
};

struct DailyReport {
  Day day;
  std::vector<ItemLine> items;  // sorted by item
  ItemLine total;               // item "TOTAL"
};

// Aggregates the orders created during `day` (UTC) and their invoices.
DailyReport build_daily_report(Db& db, Day day);
// Inserts or replaces the day's row in daily_reports.
void store_daily_report(Db& db, const DailyReport& report, std::string_view run_id,
                        double now_unix_seconds);
// The CSV text (RFC 4180): day,item,orders,units,invoiced,revenue_cents, one
// line per item, then the TOTAL line.
std::string daily_report_csv(const DailyReport& report);
// Writes report-YYYY-MM-DD.csv into `dir` (created if needed) atomically: to
// a temporary file, then renamed, so a reader never sees half a report.
// Returns the path; throws std::filesystem::filesystem_error or
// std::runtime_error on failure.
std::filesystem::path write_daily_report_csv(const DailyReport& report,
                                             const std::filesystem::path& dir);

}  // namespace shop
