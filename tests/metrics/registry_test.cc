#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "firebreak/metrics.h"

namespace firebreak {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const MetricError& e) {
    return e.what();
  }
  return "";
}

TEST(MetricNames, AcceptsPrometheusNames) {
  EXPECT_TRUE(is_valid_metric_name("http_requests_total"));
  EXPECT_TRUE(is_valid_metric_name("job:latency:p95"));
  EXPECT_TRUE(is_valid_metric_name("_private"));
  EXPECT_FALSE(is_valid_metric_name(""));
  EXPECT_FALSE(is_valid_metric_name("1st"));
  EXPECT_FALSE(is_valid_metric_name("http-requests"));
  EXPECT_FALSE(is_valid_metric_name("caf\xc3\xa9"));
}

TEST(MetricNames, AcceptsPrometheusLabelNames) {
  EXPECT_TRUE(is_valid_label_name("http_route"));
  EXPECT_TRUE(is_valid_label_name("_x1"));
  EXPECT_FALSE(is_valid_label_name("__name__"));
  EXPECT_FALSE(is_valid_label_name("a:b"));
  EXPECT_FALSE(is_valid_label_name("9a"));
  EXPECT_FALSE(is_valid_label_name(""));
}

TEST(Registry, RejectsBadMetricNameNamingIt) {
  Registry r;
  EXPECT_THAT(error_of([&] { r.counter({.name = "bad-name", .help = "h"}); }),
              HasSubstr("\"bad-name\""));
}

TEST(Registry, RejectsBadLabelNameNamingIt) {
  Registry r;
  EXPECT_THAT(error_of([&] {
                r.gauge({.name = "g", .help = "h", .labels = {"ok", "not-ok"}});
              }),
              HasSubstr("\"not-ok\""));
  EXPECT_THAT(error_of([&] { r.gauge({.name = "g2", .help = "h", .labels = {"__x"}}); }),
              HasSubstr("\"__x\""));
}

TEST(Registry, RejectsDuplicateLabelAndReservedLe) {
  Registry r;
  EXPECT_THAT(error_of([&] {
                r.gauge({.name = "g", .help = "h", .labels = {"a", "a"}});
              }),
              HasSubstr("declared twice"));
  EXPECT_THAT(error_of([&] { r.histogram({.name = "h", .help = "h", .labels = {"le"}}); }),
              HasSubstr("\"le\""));
}

TEST(Registry, SameRegistrationReturnsSameFamily) {
  Registry r;
  auto& a = r.counter({.name = "jobs_total", .help = "h", .labels = {"kind"}});
  auto& b = r.counter({.name = "jobs", .help = "other help", .labels = {"kind"}});
  EXPECT_EQ(&a, &b);
  a.labels("x").inc();
  EXPECT_EQ(b.labels("x").value(), 1);
}

TEST(Registry, ConflictingRegistrationIsAnError) {
  Registry r;
  r.counter({.name = "jobs_total", .help = "h", .labels = {"kind"}});
  EXPECT_THAT(error_of([&] { r.counter({.name = "jobs_total", .help = "h", .labels = {"k"}}); }),
              HasSubstr("already registered as a counter with labels (kind)"));
  EXPECT_THAT(error_of([&] { r.gauge({.name = "jobs", .help = "h", .labels = {"kind"}}); }),
              HasSubstr("already registered"));
  r.histogram({.name = "lat", .help = "h", .buckets = {1, 2}});
  EXPECT_THAT(error_of([&] {
                r.histogram({.name = "lat", .help = "h", .buckets = {1, 3}});
              }),
              HasSubstr("already registered"));
}

TEST(Registry, SampleNameCollisionIsAnError) {
  Registry r;
  r.histogram({.name = "lat_seconds", .help = "h"});
  EXPECT_THAT(error_of([&] { r.gauge({.name = "lat_seconds_count", .help = "h"}); }),
              HasSubstr("would write sample lat_seconds_count"));
  r.gauge({.name = "x_total", .help = "h"});
  EXPECT_THAT(error_of([&] { r.counter({.name = "x", .help = "h"}); }), HasSubstr("x_total"));
}

TEST(Registry, UnitMustBeTheNameSuffix) {
  Registry r;
  EXPECT_NO_THROW(r.histogram({.name = "d_seconds", .help = "h", .unit = "seconds"}));
  EXPECT_NO_THROW(r.counter({.name = "b_bytes_total", .help = "h", .unit = "bytes"}));
  EXPECT_THAT(error_of([&] { r.gauge({.name = "temp", .help = "h", .unit = "celsius"}); }),
              HasSubstr("*_celsius"));
}

TEST(Registry, BucketsMustIncreaseAndBeFinite) {
  Registry r;
  EXPECT_THAT(error_of([&] {
                r.histogram({.name = "a", .help = "h", .buckets = {1, 1}});
              }),
              HasSubstr("increase strictly"));
  EXPECT_THAT(error_of([&] {
                r.histogram({.name = "b", .help = "h", .buckets = {1, NAN}});
              }),
              HasSubstr("not finite"));
  // A trailing +Inf is implicit and accepted.
  EXPECT_NO_THROW(r.histogram({.name = "c", .help = "h", .buckets = {1, INFINITY}}));
}

TEST(Registry, WrongLabelCountIsAnError) {
  Registry r;
  auto& f = r.counter({.name = "c", .help = "h", .labels = {"a", "b"}});
  EXPECT_THAT(error_of([&] { f.labels("only-one"); }),
              HasSubstr("expected 2 label value(s) (a, b), got 1"));
}

TEST(Registry, LabelsReturnsTheSameSeriesForTheSameValues) {
  Registry r;
  auto& f = r.counter({.name = "c", .help = "h", .labels = {"a", "b"}});
  f.labels("x", "y").inc();
  std::string a = "x", b = "y";
  f.labels(a, b).inc();
  f.labels({std::string_view("x"), std::string_view("y")}).inc(2);
  EXPECT_EQ(f.labels("x", "y").value(), 4);
  EXPECT_EQ(f.labels("y", "x").value(), 0);
}

TEST(Registry, ManySeriesStayDistinct) {
  // Exercises the index's growth: every series keeps its own value.
  Registry r;
  auto& f = r.counter({.name = "c", .help = "h", .labels = {"i"}});
  for (int i = 0; i < 5000; ++i) f.labels(std::to_string(i)).inc(i);
  for (int i = 0; i < 5000; i += 7) ASSERT_EQ(f.labels(std::to_string(i)).value(), i);
}

TEST(Registry, CallbackMetricsAreReadAtScrape) {
  Registry r;
  double depth = 3;
  r.gauge_callback({.name = "queue_depth", .help = "h"}, [&] { return depth; });
  r.counter_callback({.name = "ticks_total", .help = "h"}, [] { return 42.0; });
  depth = 7;
  auto families = r.collect();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "queue_depth");
  EXPECT_EQ(families[0].points.at(0).value, 7);
  EXPECT_EQ(families[1].name, "ticks");
  EXPECT_EQ(families[1].type, MetricType::kCounter);
  EXPECT_EQ(families[1].points.at(0).value, 42);
  EXPECT_THROW(r.gauge({.name = "queue_depth", .help = "h"}), MetricError);
}

TEST(Registry, CollectorsAddFamiliesAndCanBeRemoved) {
  Registry r;
  const auto id = r.add_collector([](std::vector<FamilySnapshot>& out) {
    FamilySnapshot f{.name = "external", .help = "h", .type = MetricType::kGauge};
    f.points.push_back({.labels = std::make_shared<const Labels>(), .value = 1});
    out.push_back(std::move(f));
  });
  EXPECT_EQ(r.collect().size(), 1u);
  r.remove_collector(id);
  EXPECT_TRUE(r.collect().empty());
}

TEST(Registry, CollectIsSortedByNameThenLabels) {
  Registry r;
  auto& z = r.gauge({.name = "zeta", .help = "h", .labels = {"k"}});
  r.gauge({.name = "alpha", .help = "h"}).labels().set(1);
  z.labels("b").set(2);
  z.labels("a").set(1);
  z.labels("c").set(3);
  auto families = r.collect();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "alpha");
  ASSERT_EQ(families[1].points.size(), 3u);
  EXPECT_EQ((*families[1].points[0].labels)[0].second, "a");
  EXPECT_EQ((*families[1].points[2].labels)[0].second, "c");
}

}  // namespace
}  // namespace firebreak
