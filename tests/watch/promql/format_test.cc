#include "watch/promql/format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace watch::promql {
namespace {

// Expected strings are Go's strconv.FormatFloat(v, 'f', -1, 64).
TEST(PromqlFormat, ValuesAsGoFormatsThem) {
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(1), "1");
  EXPECT_EQ(format_value(100), "100");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(-3.25), "-3.25");
  EXPECT_EQ(format_value(0.30000000000000004), "0.30000000000000004");
  EXPECT_EQ(format_value(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(format_value(123456789.123), "123456789.123");
  EXPECT_EQ(format_value(1e21), "1000000000000000000000");
  EXPECT_EQ(format_value(1.5e-7), "0.00000015");
  EXPECT_EQ(format_value(-0.0), "-0");
  EXPECT_EQ(format_value(std::numeric_limits<double>::max()),
            "17976931348623157" + std::string(292, '0'));
  EXPECT_EQ(format_value(5e-324), "0." + std::string(323, '0') + "5");
}

TEST(PromqlFormat, SpecialValues) {
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(format_value(HUGE_VAL), "+Inf");
  EXPECT_EQ(format_value(-HUGE_VAL), "-Inf");
}

TEST(PromqlFormat, ParseGoFloatAcceptsWhatGoAccepts) {
  EXPECT_EQ(parse_go_float("1"), 1);
  EXPECT_EQ(parse_go_float("-1.5"), -1.5);
  EXPECT_EQ(parse_go_float("+2"), 2);
  EXPECT_EQ(parse_go_float(".5"), 0.5);
  EXPECT_EQ(parse_go_float("5."), 5);
  EXPECT_EQ(parse_go_float("1e3"), 1000);
  EXPECT_EQ(parse_go_float("1E-3"), 0.001);
  EXPECT_EQ(parse_go_float("0.1"), 0.1);
  EXPECT_EQ(parse_go_float("+Inf"), HUGE_VAL);
  EXPECT_EQ(parse_go_float("-inf"), -HUGE_VAL);
  EXPECT_EQ(parse_go_float("Infinity"), HUGE_VAL);
  EXPECT_TRUE(std::isnan(*parse_go_float("NaN")));
  EXPECT_TRUE(std::isnan(*parse_go_float("nan")));
  EXPECT_EQ(parse_go_float("0x1p-2"), 0.25);
  EXPECT_EQ(parse_go_float("0x1.8p1"), 3);
  EXPECT_EQ(parse_go_float("1e-400"), 0);  // underflow reads as zero
}

TEST(PromqlFormat, ParseGoFloatRejectsWhatGoRejects) {
  for (const char* bad : {"", " 1", "1 ", "abc", "1_000", "+", "-", "e5", "1e", "1e+", "0x1", "0x",
                          "1.2.3", "1e400", "-1e400", "Inf1", "--1", "-nan", "0x1p"})
    EXPECT_EQ(parse_go_float(bad), std::nullopt) << bad;
}

TEST(PromqlFormat, RoundTripsEveryValue) {
  for (double v : {0.1, 1e-300, 123.456, 9007199254740993.0, 1e22, 2.2250738585072014e-308}) {
    auto back = parse_go_float(format_value(v));
    ASSERT_TRUE(back.has_value()) << v;
    EXPECT_EQ(*back, v);
  }
}

TEST(PromqlFormat, TimestampsAsPrometheusApiWritesThem) {
  auto ts = [](std::int64_t ms) {
    std::string out;
    append_timestamp(out, ms);
    return out;
  };
  EXPECT_EQ(ts(1435781451781), "1435781451.781");
  EXPECT_EQ(ts(1500), "1.500");
  EXPECT_EQ(ts(10000), "10");
  EXPECT_EQ(ts(0), "0");
  EXPECT_EQ(ts(5), "0.005");
  EXPECT_EQ(ts(50), "0.050");
  EXPECT_EQ(ts(-250), "-0.250");
  EXPECT_EQ(ts(std::numeric_limits<std::int64_t>::min()), "-9223372036854775.808");
}

}  // namespace
}  // namespace watch::promql
