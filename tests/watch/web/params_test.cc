#include "watch/web/params.h"

#include <gtest/gtest.h>

namespace watch::web {
namespace {

TEST(Params, FormBodyDecodesPlusAndPercentEscapes) {
  const Params p =
      parse_form("query=sum+by+(job)+(up%7Bjob%3D%22a%22%7D)&match[]=x&match[]=y&flag&bad=%zz");
  EXPECT_EQ(param(p, "query"), "sum by (job) (up{job=\"a\"})");
  EXPECT_EQ(params(p, "match[]"), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(param(p, "flag"), "");
  EXPECT_EQ(param(p, "bad"), "%zz");
  EXPECT_EQ(param(p, "missing"), std::nullopt);
}

TEST(Params, TimesAreUnixSecondsOrRfc3339) {
  EXPECT_EQ(parse_time_ms("1435781451.781"), 1435781451781);
  EXPECT_EQ(parse_time_ms("0"), 0);
  EXPECT_EQ(parse_time_ms("2015-07-01T20:10:51.781Z"), 1435781451781);
  EXPECT_EQ(parse_time_ms("2015-07-01T22:10:51+02:00"), 1435781451000);
  EXPECT_EQ(parse_time_ms("2015-07-01T20:10:51.7Z"), 1435781451700);
  for (const char* bad : {"", "abc", "2015-07-01", "2015-02-30T00:00:00Z", "2015-07-01T20:10:51",
                          "1e300", "NaN", "2015-07-01T20:10:51.Z", "2015-07-01T25:00:00Z"})
    EXPECT_EQ(parse_time_ms(bad), std::nullopt) << bad;
}

TEST(Params, DurationsAreSecondsOrPrometheusDurations) {
  EXPECT_EQ(parse_duration_ms("15"), 15000);
  EXPECT_EQ(parse_duration_ms("0.5"), 500);
  EXPECT_EQ(parse_duration_ms("1m30s"), 90000);
  EXPECT_EQ(parse_duration_ms("-1"), std::nullopt);
  EXPECT_EQ(parse_duration_ms("5x"), std::nullopt);
}

}  // namespace
}  // namespace watch::web
