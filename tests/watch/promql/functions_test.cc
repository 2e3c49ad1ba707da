// The numeric kernels, against values worked out by hand from Prometheus's
// definitions (promql/functions.go, promql/quantile.go).
#include "watch/promql/functions.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace watch::promql::detail {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(PromqlFunctions, ExtrapolatedRateCoversTheWindowWhenSamplesDo) {
  // 0..60 s every 15 s, +10 each: 40 over the 60 s window.
  std::vector<Sample> s = {{0, 0}, {15000, 10}, {30000, 20}, {45000, 30}, {60000, 40}};
  EXPECT_DOUBLE_EQ(*extrapolated_rate(s, 0, 60000, true, false), 40);
  EXPECT_DOUBLE_EQ(*extrapolated_rate(s, 0, 60000, true, true), 40.0 / 60);
}

TEST(PromqlFunctions, ExtrapolatedRateStopsHalfAnIntervalOutsideAGap) {
  // Samples at 30..60 s in a 0..120 s window: 30 s gaps on both sides, more
  // than 1.1 x 15 s, so half an interval (7.5 s) each way. As a gauge:
  std::vector<Sample> s = {{30000, 10}, {45000, 20}, {60000, 30}};
  EXPECT_DOUBLE_EQ(*extrapolated_rate(s, 0, 120000, false, false), 20.0 * (30 + 15) / 30);
}

TEST(PromqlFunctions, ExtrapolatedRateNeverGoesBelowZeroForCounters) {
  // Counter at 2 after 30 s; slope 1/s would reach 0 two seconds before the
  // first sample, closer than the 3 s to the window start.
  std::vector<Sample> s = {{3000, 2}, {33000, 32}};
  EXPECT_DOUBLE_EQ(*extrapolated_rate(s, 0, 33000, true, false), 30.0 * (30 + 2) / 30);
  // delta() extrapolates the full 3 s.
  EXPECT_DOUBLE_EQ(*extrapolated_rate(s, 0, 33000, false, false), 30.0 * (30 + 3) / 30);
}

TEST(PromqlFunctions, ExtrapolatedRateAddsBackCounterResets) {
  std::vector<Sample> s = {{0, 10}, {10000, 20}, {20000, 3}, {30000, 8}};
  // 8 - 10 + 20 (the reset) = 18 over 30 s sampled, window 30 s.
  EXPECT_DOUBLE_EQ(*extrapolated_rate(s, 0, 30000, true, false), 18);
  // A gauge takes the drop as it is.
  EXPECT_DOUBLE_EQ(*extrapolated_rate(s, 0, 30000, false, false), -2);
}

TEST(PromqlFunctions, ExtrapolatedRateNeedsTwoSamples) {
  std::vector<Sample> one = {{0, 1}};
  EXPECT_EQ(extrapolated_rate(one, 0, 60000, true, true), std::nullopt);
  EXPECT_EQ(extrapolated_rate({}, 0, 60000, true, true), std::nullopt);
}

TEST(PromqlFunctions, InstantValue) {
  std::vector<Sample> s = {{0, 5}, {10000, 25}};
  EXPECT_DOUBLE_EQ(*instant_value(s, true), 2);
  EXPECT_DOUBLE_EQ(*instant_value(s, false), 20);
  std::vector<Sample> reset = {{0, 50}, {10000, 10}};
  EXPECT_DOUBLE_EQ(*instant_value(reset, true), 1);     // 10 since the reset
  EXPECT_DOUBLE_EQ(*instant_value(reset, false), -40);  // idelta: plain difference
}

TEST(PromqlFunctions, ChangesAndResets) {
  std::vector<Sample> s = {{0, 1}, {1, 1}, {2, 3}, {3, 2}, {4, 2}, {5, 0}};
  EXPECT_EQ(changes(s), 3);
  EXPECT_EQ(resets(s), 2);
}

TEST(PromqlFunctions, OverTimeKernels) {
  std::vector<Sample> s = {{0, 2}, {1, 4}, {2, 4}, {3, 4}, {4, 5}, {5, 5}, {6, 7}, {7, 9}};
  EXPECT_DOUBLE_EQ(avg_over_time(s), 5);
  EXPECT_DOUBLE_EQ(sum_over_time(s), 40);
  EXPECT_DOUBLE_EQ(min_over_time(s), 2);
  EXPECT_DOUBLE_EQ(max_over_time(s), 9);
  EXPECT_DOUBLE_EQ(stdvar_over_time(s), 4);  // the textbook example: stddev 2
}

TEST(PromqlFunctions, SumOverTimeCompensatesRounding) {
  std::vector<Sample> s = {{0, 1e100}, {1, 1.0}, {2, -1e100}};
  EXPECT_EQ(sum_over_time(s), 1.0);  // a naive sum gives 0
}

TEST(PromqlFunctions, AvgOverTimeOfInfinities) {
  std::vector<Sample> s = {{0, kInf}, {1, 5}, {2, kInf}};
  EXPECT_EQ(avg_over_time(s), kInf);
}

TEST(PromqlFunctions, QuantileInterpolatesBetweenRanks) {
  std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(quantile(0.5, v), 2.5);
  EXPECT_DOUBLE_EQ(quantile(0, v), 1);
  EXPECT_DOUBLE_EQ(quantile(1, v), 4);
  EXPECT_DOUBLE_EQ(quantile(0.9, v), 3.7);
  EXPECT_EQ(quantile(-0.1, v), -kInf);
  EXPECT_EQ(quantile(1.1, v), kInf);
  EXPECT_TRUE(std::isnan(quantile(NAN, v)));
  std::vector<double> empty;
  EXPECT_TRUE(std::isnan(quantile(0.5, empty)));
}

TEST(PromqlFunctions, BucketQuantileInterpolates) {
  std::vector<Bucket> b = {{1, 40}, {0.5, 30}, {kInf, 40}, {0.1, 10}};  // any order
  EXPECT_DOUBLE_EQ(bucket_quantile(0.5, b), 0.3);
}

TEST(PromqlFunctions, BucketQuantileInTheInfBucketGivesTheLastFiniteBound) {
  std::vector<Bucket> b = {{1, 10}, {2, 10}, {kInf, 20}};
  EXPECT_DOUBLE_EQ(bucket_quantile(0.9, b), 2);
}

TEST(PromqlFunctions, BucketQuantileOfTheFirstBucketStartsAtZero) {
  std::vector<Bucket> b = {{4, 10}, {kInf, 10}};
  EXPECT_DOUBLE_EQ(bucket_quantile(0.25, b), 1);
  std::vector<Bucket> negative = {{-2, 10}, {kInf, 10}};
  EXPECT_DOUBLE_EQ(bucket_quantile(0.25, negative), -2);  // non-positive bound: the bound itself
}

TEST(PromqlFunctions, BucketQuantileCoalescesAndFixesMonotonicity) {
  std::vector<Bucket> dup = {{1, 3}, {1, 2}, {2, 10}, {kInf, 10}};  // two le="1": 5
  EXPECT_DOUBLE_EQ(bucket_quantile(0.5, dup), 1);
  // le=2 below le=1 (scraped at slightly different times) is read as 6: rank
  // 6.4 then falls 0.4 of 2 into the 2..3 bucket (2.6 without the fix).
  std::vector<Bucket> dip = {{1, 6}, {2, 4}, {3, 8}, {kInf, 8}};
  EXPECT_DOUBLE_EQ(bucket_quantile(0.8, dip), 2.2);
}

TEST(PromqlFunctions, BucketQuantileEdges) {
  std::vector<Bucket> no_inf = {{1, 1}, {2, 2}};
  EXPECT_TRUE(std::isnan(bucket_quantile(0.5, no_inf)));
  std::vector<Bucket> only_inf = {{kInf, 5}};
  EXPECT_TRUE(std::isnan(bucket_quantile(0.5, only_inf)));
  std::vector<Bucket> empty_hist = {{1, 0}, {kInf, 0}};
  EXPECT_TRUE(std::isnan(bucket_quantile(0.5, empty_hist)));
  std::vector<Bucket> b = {{1, 1}, {kInf, 2}};
  EXPECT_EQ(bucket_quantile(-1, b), -kInf);
  EXPECT_EQ(bucket_quantile(2, b), kInf);
  EXPECT_TRUE(std::isnan(bucket_quantile(NAN, b)));
  std::vector<Bucket> nan_bound = {{NAN, 1}, {1, 1}, {kInf, 2}};  // must not crash
  (void)bucket_quantile(0.5, nan_bound);
}

TEST(PromqlFunctions, GoMaxMin) {
  EXPECT_EQ(go_max(1, 2), 2);
  EXPECT_TRUE(std::isnan(go_max(1, NAN)));
  EXPECT_TRUE(std::isnan(go_min(NAN, 1)));
  EXPECT_EQ(go_max(NAN, kInf), kInf);  // +Inf wins even over NaN, as in Go
  EXPECT_EQ(go_min(NAN, -kInf), -kInf);
  EXPECT_FALSE(std::signbit(go_max(-0.0, 0.0)));
  EXPECT_TRUE(std::signbit(go_min(0.0, -0.0)));
}

}  // namespace
}  // namespace watch::promql::detail
