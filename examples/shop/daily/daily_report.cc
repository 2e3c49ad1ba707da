#include "daily/daily_report.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace shop {
namespace {

double to_unix(Day day) {
  return static_cast<double>(
      std::chrono::duration_cast<std::chrono::seconds>(day.time_since_epoch()).count());
}

// RFC 4180: quote a field holding a comma, quote or line break; double quotes.
// A leading = + - @ is prefixed with ' so that a spreadsheet does not run an
// item name as a formula (CSV injection).
std::string csv_field(std::string_view s) {
  std::string out;
  if (!s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@')) out += '\'';
  out += s;
  if (out.find_first_of(",\"\r\n") == std::string::npos) return out;
  std::string quoted = "\"";
  for (char c : out) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

}  // namespace

std::optional<Day> parse_day(std::string_view text) {
  int y = 0;
  unsigned m = 0, d = 0;
  char tail = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(m),
                                        std::chrono::day(d)};
  if (!ymd.ok()) return std::nullopt;
  return Day(ymd);
}

std::string format_day(Day day) {
  const std::chrono::year_month_day ymd(day);
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

Day day_of(double unix_seconds) {
  const auto s = std::chrono::seconds(static_cast<std::int64_t>(std::floor(unix_seconds)));
  return std::chrono::floor<std::chrono::days>(std::chrono::sys_seconds(s));
}

Day previous_day(double unix_seconds) {
  return day_of(unix_seconds) - std::chrono::days(1);
}

DailyReport build_daily_report(Db& db, Day day) {
  DailyReport report{.day = day, .items = {}, .total = {.item = "TOTAL"}};
  auto q = db.query(
      "SELECT o.item, count(*), sum(o.quantity), count(i.id), coalesce(sum(i.amount_cents), 0) "
      "FROM orders o LEFT JOIN invoices i ON i.order_id = o.id "
      "WHERE o.created_at >= ? AND o.created_at < ? "
      "GROUP BY o.item ORDER BY o.item");
  q.bind(1, to_unix(day)).bind(2, to_unix(day + std::chrono::days(1)));
  while (q.next()) {
    ItemLine line{.item = q.text(0),
                  .orders = q.int64(1),
                  .units = q.int64(2),
                  .invoiced = q.int64(3),
                  .revenue_cents = q.int64(4)};
    report.total.orders += line.orders;
    report.total.units += line.units;
    report.total.invoiced += line.invoiced;
    report.total.revenue_cents += line.revenue_cents;
    report.items.push_back(std::move(line));
  }
  return report;
}

void store_daily_report(Db& db, const DailyReport& report, std::string_view run_id,
                        double now_unix_seconds) {
  db.query(
        "INSERT INTO daily_reports (day, orders, items, invoiced, revenue_cents, generated_at, "
        "  run_id) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (day) DO UPDATE SET orders = excluded.orders, items = excluded.items, "
        "  invoiced = excluded.invoiced, revenue_cents = excluded.revenue_cents, "
        "  generated_at = excluded.generated_at, run_id = excluded.run_id")
      .bind(1, format_day(report.day))
      .bind(2, report.total.orders)
      .bind(3, report.total.units)
      .bind(4, report.total.invoiced)
      .bind(5, report.total.revenue_cents)
      .bind(6, now_unix_seconds)
      .bind(7, run_id)
      .run();
}

std::string daily_report_csv(const DailyReport& report) {
  const std::string day = format_day(report.day);
  std::string out = "day,item,orders,units,invoiced,revenue_cents\r\n";
  auto line = [&](const ItemLine& l) {
    out += fmt::format("{},{},{},{},{},{}\r\n", day, csv_field(l.item), l.orders, l.units,
                       l.invoiced, l.revenue_cents);
  };
  for (const auto& l : report.items) line(l);
  line(report.total);
  return out;
}

std::filesystem::path write_daily_report_csv(const DailyReport& report,
                                             const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const auto path = dir / ("report-" + format_day(report.day) + ".csv");
  const auto tmp = dir / (path.filename().string() + ".tmp." + std::to_string(::getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << daily_report_csv(report);
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, path);
  return path;
}

}  // namespace shop
