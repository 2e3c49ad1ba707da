#include <gtest/gtest.h>

#include "firebreak/exposition.h"
#include "firebreak/metrics.h"

namespace firebreak {
namespace {

TEST(Cardinality, SeriesBeyondTheLimitGoToOneOverflowSeries) {
  Registry r;
  auto& f = r.counter({.name = "req_total", .help = "h", .labels = {"user"}, .max_series = 3});
  for (int i = 0; i < 10; ++i) f.labels("user" + std::to_string(i)).inc();
  // Existing series keep working after the limit is reached.
  f.labels("user0").inc();

  auto families = r.collect();
  ASSERT_EQ(families.size(), 2u);
  const FamilySnapshot& req = families[1];
  ASSERT_EQ(req.name, "req");
  ASSERT_EQ(req.points.size(), 4u);  // 3 real + 1 overflow
  EXPECT_EQ(req.points[0].value, 2);
  const MetricPoint& overflow = req.points[3];
  EXPECT_EQ(*overflow.labels, (Labels{{"otel_metric_overflow", "true"}}));
  EXPECT_EQ(overflow.value, 7);
  EXPECT_EQ(f.overflowed(), 7u);

  const FamilySnapshot& refused = families[0];
  EXPECT_EQ(refused.name, "metric_series_overflow");
  EXPECT_EQ(refused.type, MetricType::kCounter);
  EXPECT_EQ(*refused.points.at(0).labels, (Labels{{"metric", "req"}}));
  EXPECT_EQ(refused.points.at(0).value, 7);
}

TEST(Cardinality, DefaultLimitIsTenThousand) {
  Registry r;
  auto& f = r.gauge({.name = "g", .help = "h", .labels = {"k"}});
  for (int i = 0; i < 10005; ++i) f.labels(std::to_string(i)).set(1);
  EXPECT_EQ(f.overflowed(), 5u);
  EXPECT_EQ(r.collect().front().points.size(), 10001u);
}

TEST(Cardinality, OverflowNameIsReserved) {
  Registry r;
  EXPECT_THROW(r.counter({.name = "metric_series_overflow_total", .help = "h"}), MetricError);
}

TEST(Cardinality, OverflowSeriesIsExposed) {
  Registry r;
  auto& f =
      r.histogram({.name = "h", .help = "h", .labels = {"k"}, .buckets = {1}, .max_series = 1});
  f.labels("a").observe(0.5);
  f.labels("b").observe(2);
  std::string out;
  write_exposition(r.collect(), ExpositionFormat::kPrometheusText, out);
  EXPECT_NE(out.find("h_bucket{otel_metric_overflow=\"true\",le=\"+Inf\"} 1\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("metric_series_overflow_total{metric=\"h\"} 1\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace firebreak
