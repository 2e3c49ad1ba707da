#include "watch/rules/series_notation.h"

#include <gtest/gtest.h>

namespace watch::rules {
namespace {

TEST(SeriesNotation, Expands) {
  auto r = expand_series_values("1+1x3 _ stale 5x2 _x2 -2-0.5x1 1e3", 60000);
  ASSERT_TRUE(r.error.empty()) << r.error;
  std::vector<std::pair<std::int64_t, double>> want = {
      {0, 1},      {60000, 2},  {120000, 3},  {180000, 4},    {360000, 5},
      {420000, 5}, {480000, 5}, {660000, -2}, {720000, -2.5}, {780000, 1000}};
  std::vector<Sample> got;
  for (const auto& s : r.samples)
    if (!is_stale_nan(s.v)) got.push_back(s);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].t, want[i].first) << i;
    EXPECT_DOUBLE_EQ(got[i].v, want[i].second) << i;
  }
  ASSERT_EQ(r.samples.size(), want.size() + 1);
  EXPECT_EQ(r.samples[4].t, 300000);
  EXPECT_TRUE(is_stale_nan(r.samples[4].v));
}

TEST(SeriesNotation, Errors) {
  EXPECT_FALSE(expand_series_values("1 abc", 1000).error.empty());
  EXPECT_FALSE(expand_series_values("1+1xz", 1000).error.empty());
  EXPECT_FALSE(parse_series_labels("up{job=~\"a\"}").error.empty());
  auto l = parse_series_labels("up{job=\"a\"}");
  ASSERT_TRUE(l.error.empty());
  EXPECT_EQ(l.labels, LabelSet::from({{"__name__", "up"}, {"job", "a"}}));
}

}  // namespace
}  // namespace watch::rules
