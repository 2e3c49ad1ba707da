// The daily report: which orders count, the totals, the CSV.
#include "daily/daily_report.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/orders.h"
#include "temp_db.h"
#include "worker/invoicer.h"

namespace shop {
namespace {

constexpr double kMarch14 = 1773446400;  // 2026-03-14T00:00:00Z

TEST(Day, ParsesAndFormatsDates) {
  const auto d = parse_day("2026-03-14");
  ASSERT_TRUE(d);
  EXPECT_EQ(format_day(*d), "2026-03-14");
  EXPECT_FALSE(parse_day("2026-02-30"));
  EXPECT_FALSE(parse_day("2026-3-14"));
  EXPECT_FALSE(parse_day("yesterday"));
}

TEST(Day, PreviousDayIsTheUtcDayBefore) {
  EXPECT_EQ(format_day(previous_day(kMarch14 + 1)), "2026-03-13");
  EXPECT_EQ(format_day(previous_day(kMarch14 - 1)), "2026-03-12");
  EXPECT_EQ(format_day(day_of(kMarch14)), "2026-03-14");
}

class DailyReportTest : public ::testing::Test {
 protected:
  std::int64_t order_at(double t, std::string item, int quantity) {
    firebreak::ManualClock clock(firebreak::Clock::WallTime(
        std::chrono::duration_cast<firebreak::Clock::Duration>(std::chrono::duration<double>(t))));
    Queue queue(temp_.db());
    return Orders(temp_.db(), clock).create({.item = item, .quantity = quantity}, queue, {}).id;
  }
  test::TempDb temp_;
};

TEST_F(DailyReportTest, CountsTheDaysOrdersPerItemWithTheirInvoices) {
  order_at(kMarch14 - 1, "book", 9);  // the day before
  const auto a = order_at(kMarch14, "book", 2);
  order_at(kMarch14 + 3600, "book", 1);
  order_at(kMarch14 + 86399, "lamp", 4);
  order_at(kMarch14 + 86400, "lamp", 9);  // the day after
  Invoicer(temp_.db()).process({.type = "order.created", .payload = order_created_payload(a)});

  const DailyReport r = build_daily_report(temp_.db(), *parse_day("2026-03-14"));
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].item, "book");
  EXPECT_EQ(r.items[0].orders, 2);
  EXPECT_EQ(r.items[0].units, 3);
  EXPECT_EQ(r.items[0].invoiced, 1);
  EXPECT_EQ(r.items[0].revenue_cents, 2 * unit_price_cents("book"));
  EXPECT_EQ(r.items[1].item, "lamp");
  EXPECT_EQ(r.total.orders, 3);
  EXPECT_EQ(r.total.units, 7);
}

TEST_F(DailyReportTest, StoringTwiceReplacesTheDaysRow) {
  order_at(kMarch14, "book", 2);
  const auto day = *parse_day("2026-03-14");
  store_daily_report(temp_.db(), build_daily_report(temp_.db(), day), "run-1", kMarch14);
  order_at(kMarch14 + 10, "book", 1);
  store_daily_report(temp_.db(), build_daily_report(temp_.db(), day), "run-2", kMarch14);
  EXPECT_EQ(temp_.count("SELECT count(*) FROM daily_reports"), 1);
  EXPECT_EQ(temp_.count("SELECT orders FROM daily_reports WHERE run_id = 'run-2'"), 2);
}

TEST(DailyReportCsv, QuotesFieldsAndDefusesFormulas) {
  DailyReport r{.day = *parse_day("2026-03-14"),
                .items = {{.item = "a, \"b\"", .orders = 1, .units = 2},
                          {.item = "=cmd()", .orders = 1, .units = 1}},
                .total = {.item = "TOTAL", .orders = 2, .units = 3}};
  EXPECT_EQ(daily_report_csv(r),
            "day,item,orders,units,invoiced,revenue_cents\r\n"
            "2026-03-14,\"a, \"\"b\"\"\",1,2,0,0\r\n"
            "2026-03-14,'=cmd(),1,1,0,0\r\n"
            "2026-03-14,TOTAL,2,3,0,0\r\n");
}

TEST(DailyReportCsv, IsWrittenUnderTheDaysName) {
  const std::string dir = ::testing::TempDir() + "shop-reports-" + std::to_string(::getpid());
  DailyReport r{.day = *parse_day("2026-03-14"), .items = {}, .total = {.item = "TOTAL"}};
  const auto path = write_daily_report_csv(r, dir);
  EXPECT_EQ(path.filename(), "report-2026-03-14.csv");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), daily_report_csv(r));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shop
