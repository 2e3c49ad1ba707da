// Evaluator tests: each function and operator on small hand-made series, with
// the expected values computed by hand from Prometheus's definitions.
#include "watch/promql/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <string>
#include <thread>

#include "watch/promql/series_notation.h"

namespace watch::promql {
namespace {

using ::testing::HasSubstr;
using testing::load;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kMinute = 60 * kSecond;

class PromqlEngine : public ::testing::Test {
 protected:
  void series(std::string_view labels, std::string_view values, std::int64_t interval = kMinute) {
    load(storage_, labels, values, interval);
  }

  // label set (Prometheus's text form) -> value
  std::map<std::string, double> vec(std::string_view q, std::int64_t t) {
    QueryResult r = engine_.instant_query(q, t);
    EXPECT_TRUE(r.ok()) << q << ": " << (r.error ? r.error->message : "");
    std::map<std::string, double> out;
    if (!r.ok()) return out;
    const auto* v = std::get_if<Vector>(&*r.value);
    EXPECT_NE(v, nullptr) << q << " is not a vector";
    if (!v) return out;
    for (const auto& s : *v) {
      EXPECT_EQ(s.t, t);
      EXPECT_TRUE(out.emplace(s.labels.to_string(), s.v).second)
          << "duplicate " << s.labels.to_string();
    }
    return out;
  }

  // The single value of a query that returns one sample or a scalar.
  double one(std::string_view q, std::int64_t t) {
    QueryResult r = engine_.instant_query(q, t);
    EXPECT_TRUE(r.ok()) << q << ": " << (r.error ? r.error->message : "");
    if (!r.ok()) return -12345;
    if (const auto* s = std::get_if<Scalar>(&*r.value)) return s->v;
    const auto* v = std::get_if<Vector>(&*r.value);
    EXPECT_TRUE(v && v->size() == 1) << q << " did not return one sample";
    return v && v->size() == 1 ? (*v)[0].v : -12345;
  }

  std::string error(std::string_view q, std::int64_t t) {
    QueryResult r = engine_.instant_query(q, t);
    EXPECT_FALSE(r.ok()) << q << " unexpectedly succeeded";
    return r.error ? r.error->message : "";
  }

  MemoryStorage storage_;
  Engine engine_{storage_};
};

// --- Selection --------------------------------------------------------------

TEST_F(PromqlEngine, InstantSelectorTakesLatestSampleWithinLookback) {
  series("x{job=\"a\"}", "1 2 3");  // at 0, 1m, 2m
  EXPECT_THAT(vec("x", 90 * kSecond), UnorderedElementsAre(Pair("x{job=\"a\"}", 2)));
  EXPECT_EQ(one("x", 2 * kMinute), 3);
  EXPECT_EQ(one("x", 7 * kMinute), 3);             // exactly 5m old: still there (2.x)
  EXPECT_TRUE(vec("x", 7 * kMinute + 1).empty());  // older than 5m: gone
  EXPECT_TRUE(vec("x", -1).empty());               // before the first sample
}

TEST_F(PromqlEngine, LookbackDeltaIsConfigurable) {
  series("x", "1");
  EngineOptions options;
  options.lookback_delta_ms = kMinute;
  Engine engine(storage_, options);
  EXPECT_TRUE(engine.instant_query("x", kMinute).ok());
  EXPECT_TRUE(std::get<Vector>(*engine.instant_query("x", kMinute + 1).value).empty());
}

TEST_F(PromqlEngine, StaleMarkerEndsTheSeries) {
  series("x", "1 2 stale _ 5");  // 0, 1m, stale at 2m, nothing at 3m, 5 at 4m
  EXPECT_EQ(one("x", 90 * kSecond), 2);
  EXPECT_TRUE(vec("x", 2 * kMinute).empty());
  EXPECT_TRUE(vec("x", 3 * kMinute + 30 * kSecond).empty());  // within lookback of 1m, but stale
  EXPECT_EQ(one("x", 4 * kMinute), 5);
  // Range vectors leave the marker out.
  EXPECT_EQ(one("count_over_time(x[5m])", 4 * kMinute), 3);
}

TEST_F(PromqlEngine, OffsetShiftsTheEvaluationTime) {
  series("x", "0+1x10");
  EXPECT_EQ(one("x offset 3m", 10 * kMinute), 7);
  EXPECT_EQ(one("sum_over_time(x[2m] offset 5m)", 10 * kMinute), 3 + 4 + 5);
  EXPECT_EQ(one("x offset -2m", 5 * kMinute), 7);
}

TEST_F(PromqlEngine, RangeSelectorIncludesBothEnds) {
  series("x", "0+1x10");
  EXPECT_EQ(one("count_over_time(x[2m])", 10 * kMinute), 3);  // 8m, 9m, 10m
  EXPECT_EQ(one("count_over_time(x[2m])", 10 * kMinute - 1), 2);
  QueryResult r = engine_.instant_query("x[2m]", 5 * kMinute);
  ASSERT_TRUE(r.ok());
  const auto& m = std::get<Matrix>(*r.value);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].labels.metric_name(), "x");
  ASSERT_EQ(m[0].samples.size(), 3u);
  EXPECT_EQ(m[0].samples[0], (Sample{3 * kMinute, 3}));
  EXPECT_EQ(m[0].samples[2], (Sample{5 * kMinute, 5}));
}

TEST_F(PromqlEngine, MatchersSelectSeries) {
  series("x{job=\"a\", code=\"200\"}", "1");
  series("x{job=\"a\", code=\"500\"}", "2");
  series("x{job=\"b\", code=\"503\"}", "3");
  series("y{job=\"a\"}", "4");
  EXPECT_EQ(vec("x{code=~\"5..\"}", 0).size(), 2u);
  EXPECT_EQ(vec("x{code!~\"5..\"}", 0).size(), 1u);
  EXPECT_EQ(vec("x{job!=\"a\"}", 0).size(), 1u);
  EXPECT_EQ(vec("{job=\"a\"}", 0).size(), 3u);
  EXPECT_EQ(vec("{__name__=~\"x|y\", job=\"a\"}", 0).size(), 3u);
  EXPECT_EQ(vec("x{missing=\"\"}", 0).size(), 3u);  // absent label matches ""
  EXPECT_EQ(vec("x{code=~\"(?i)5\\\\d\\\\d\"}", 0).size(), 2u);
}

// --- rate and friends -------------------------------------------------------

TEST_F(PromqlEngine, RateOfAStraightCounter) {
  series("c", "0 10 20 30 40", 15 * kSecond);  // 0..60s
  // 40 over 60s, no extrapolation needed.
  EXPECT_DOUBLE_EQ(one("rate(c[1m])", kMinute), 40.0 / 60);
  EXPECT_DOUBLE_EQ(one("increase(c[1m])", kMinute), 40);
}

TEST_F(PromqlEngine, RateCorrectsCounterResetsAndExtrapolatesToTheEnd) {
  series("c", "10 20 5 15", 15 * kSecond);  // 0, 15, 30, 45 s; reset at 30 s
  // Increase 5 + 20 (reset) = 25 over 45 s sampled; 15 s to the end of the
  // window is within 1.1 x the 15 s interval: extrapolated to 60 s.
  EXPECT_DOUBLE_EQ(one("increase(c[1m])", kMinute), 25.0 * 60 / 45);
  EXPECT_DOUBLE_EQ(one("rate(c[1m])", kMinute), 25.0 / 45);
  EXPECT_EQ(one("resets(c[1m])", kMinute), 1);
}

TEST_F(PromqlEngine, RateExtrapolatesAtMostToTheCountersZeroPoint) {
  series("c", "_ _ 5 10 15", 15 * kSecond);  // 5, 10, 15 at 30, 45, 60 s
  // 30 s before the first sample is more than 1.1 x 15 s: a gap. The counter
  // would reach zero 15 s before its first sample: extrapolate only that far.
  EXPECT_DOUBLE_EQ(one("increase(c[1m])", kMinute), 10.0 * (30 + 15) / 30);
  // delta() has no zero point: half an interval at the start.
  EXPECT_DOUBLE_EQ(one("delta(c[1m])", kMinute), 10.0 * (30 + 7.5) / 30);
}

TEST_F(PromqlEngine, RateNeedsTwoSamples) {
  series("c", "5");
  EXPECT_TRUE(vec("rate(c[5m])", 0).empty());
  EXPECT_TRUE(vec("irate(c[5m])", 0).empty());
}

TEST_F(PromqlEngine, DeltaOfAGauge) {
  series("g", "10 4 7", 30 * kSecond);  // 0, 30, 60 s
  EXPECT_DOUBLE_EQ(one("delta(g[1m])", kMinute), -3);
  EXPECT_DOUBLE_EQ(one("idelta(g[1m])", kMinute), 3);
}

TEST_F(PromqlEngine, IrateUsesTheLastTwoSamples) {
  series("c", "0 10 40 5", 10 * kSecond);
  EXPECT_DOUBLE_EQ(one("irate(c[1m])", 20 * kSecond), 30.0 / 10);
  EXPECT_DOUBLE_EQ(one("irate(c[1m])", 30 * kSecond), 5.0 / 10);  // reset: the new value
}

TEST_F(PromqlEngine, ParenthesesAroundARangeVector) {
  series("c{job=\"a\"}", "0 10 20");
  EXPECT_DOUBLE_EQ(one("rate((c[2m]))", 2 * kMinute), 20.0 / 120);
  EXPECT_THAT(vec("absent_over_time((nothing{job=\"x\"}[1m]))", 0),
              UnorderedElementsAre(Pair("{job=\"x\"}", 1)));
  EXPECT_THAT(vec("absent((nothing{job=\"x\"}))", 0), UnorderedElementsAre(Pair("{job=\"x\"}", 1)));
  QueryResult r = engine_.instant_query("(c[2m])", 2 * kMinute);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<Matrix>(*r.value).size(), 1u);
}

TEST_F(PromqlEngine, RateDropsTheMetricName) {
  series("c{job=\"a\"}", "0 1 2");
  EXPECT_THAT(vec("rate(c[5m])", 2 * kMinute),
              UnorderedElementsAre(Pair("{job=\"a\"}", ::testing::_)));
}

TEST_F(PromqlEngine, ChangesCountsValueChanges) {
  series("g", "1 1 2 2 1 NaN NaN 3");
  EXPECT_EQ(one("changes(g[10m])", 7 * kMinute), 4);  // 1->2, 2->1, 1->NaN, NaN->3
}

// --- *_over_time ------------------------------------------------------------

TEST_F(PromqlEngine, OverTimeAggregations) {
  series("g{job=\"a\"}", "1 5 2 4");  // 0..3m
  const std::int64_t t = 3 * kMinute;
  EXPECT_EQ(one("avg_over_time(g[3m])", t), 3);
  EXPECT_EQ(one("sum_over_time(g[3m])", t), 12);
  EXPECT_EQ(one("min_over_time(g[3m])", t), 1);
  EXPECT_EQ(one("max_over_time(g[3m])", t), 5);
  EXPECT_EQ(one("count_over_time(g[3m])", t), 4);
  EXPECT_EQ(one("last_over_time(g[3m])", t), 4);
  EXPECT_EQ(one("present_over_time(g[3m])", t), 1);
  EXPECT_DOUBLE_EQ(one("stdvar_over_time(g[3m])", t), 2.5);  // ((4+4+1+1)/4)
  EXPECT_DOUBLE_EQ(one("stddev_over_time(g[3m])", t), std::sqrt(2.5));
  EXPECT_DOUBLE_EQ(one("quantile_over_time(0.5, g[3m])", t), 3);  // between 2 and 4
  EXPECT_DOUBLE_EQ(one("quantile_over_time(0.9, g[3m])", t), 4.7);
  EXPECT_EQ(one("quantile_over_time(2, g[3m])", t), INFINITY);
  // last_over_time keeps the metric name (Prometheus 2.x); the others drop it.
  EXPECT_THAT(vec("last_over_time(g[3m])", t), UnorderedElementsAre(Pair("g{job=\"a\"}", 4)));
  EXPECT_THAT(vec("max_over_time(g[3m])", t), UnorderedElementsAre(Pair("{job=\"a\"}", 5)));
}

TEST_F(PromqlEngine, MaxOverTimeIgnoresALeadingNaN) {
  series("g", "NaN 3 1");
  EXPECT_EQ(one("max_over_time(g[5m])", 2 * kMinute), 3);
  EXPECT_EQ(one("min_over_time(g[5m])", 2 * kMinute), 1);
}

TEST_F(PromqlEngine, AbsentOverTime) {
  series("x{job=\"a\"}", "1 _ _ _ _ _ _ _ _ _ _");
  EXPECT_TRUE(vec("absent_over_time(x[5m])", 5 * kMinute).empty());
  EXPECT_THAT(vec("absent_over_time(x{job=\"a\", env=~\"p.*\"}[5m])", 6 * kMinute),
              UnorderedElementsAre(Pair("{job=\"a\"}", 1)));
}

// --- histogram_quantile -----------------------------------------------------

class HistogramQuantile : public PromqlEngine {
 protected:
  void SetUp() override {
    series("h_bucket{route=\"/a\", le=\"0.1\"}", "10");
    series("h_bucket{route=\"/a\", le=\"0.5\"}", "30");
    series("h_bucket{route=\"/a\", le=\"1\"}", "40");
    series("h_bucket{route=\"/a\", le=\"+Inf\"}", "40");
  }
};

TEST_F(HistogramQuantile, InterpolatesWithinTheBucket) {
  EXPECT_DOUBLE_EQ(one("histogram_quantile(0.5, h_bucket)", 0), 0.1 + 0.4 * (10.0 / 20));
  EXPECT_DOUBLE_EQ(one("histogram_quantile(0.95, h_bucket)", 0), 0.5 + 0.5 * (8.0 / 10));
  EXPECT_DOUBLE_EQ(one("histogram_quantile(0.05, h_bucket)", 0), 0.1 * (2.0 / 10));
  EXPECT_DOUBLE_EQ(one("histogram_quantile(1, h_bucket)", 0), 1);
  EXPECT_EQ(one("histogram_quantile(-1, h_bucket)", 0), -INFINITY);
  EXPECT_EQ(one("histogram_quantile(1.5, h_bucket)", 0), INFINITY);
}

TEST_F(HistogramQuantile, DropsNameAndLeKeepsOtherLabels) {
  series("h_bucket{route=\"/b\", le=\"1\"}", "0");
  series("h_bucket{route=\"/b\", le=\"+Inf\"}", "4");
  auto r = vec("histogram_quantile(0.5, h_bucket)", 0);
  EXPECT_THAT(r, UnorderedElementsAre(Pair("{route=\"/a\"}", ::testing::_),
                                      Pair("{route=\"/b\"}", 1)));  // all in +Inf: the last bound
}

TEST_F(HistogramQuantile, WorksOnAggregatedRates) {
  EXPECT_DOUBLE_EQ(one("histogram_quantile(0.5, sum by (le) (h_bucket))", 0), 0.3);
}

TEST(HistogramQuantileEdges, NeedsAnInfBucketAndTwoBuckets) {
  MemoryStorage storage;
  load(storage, "h_bucket{le=\"1\"}", "5", kMinute);
  load(storage, "h_bucket{le=\"2\"}", "10", kMinute);
  load(storage, "one_bucket{le=\"+Inf\"}", "10", kMinute);
  load(storage, "odd_le{le=\"1e0\"}", "2", kMinute);
  load(storage, "odd_le{le=\"Inf\"}", "4", kMinute);
  load(storage, "odd_le{le=\"abc\"}", "100", kMinute);  // not a number: ignored
  load(storage, "non_monotonic{le=\"1\"}", "5", kMinute);
  load(storage, "non_monotonic{le=\"2\"}", "3", kMinute);  // fixed up to 5
  load(storage, "non_monotonic{le=\"+Inf\"}", "10", kMinute);
  Engine engine(storage);
  auto value = [&](std::string_view q) {
    auto r = engine.instant_query(q, 0);
    EXPECT_TRUE(r.ok());
    const auto& v = std::get<Vector>(*r.value);
    EXPECT_EQ(v.size(), 1u) << q;
    return v.empty() ? -1.0 : v[0].v;
  };
  EXPECT_TRUE(std::isnan(value("histogram_quantile(0.5, h_bucket)")));
  EXPECT_TRUE(std::isnan(value("histogram_quantile(0.5, one_bucket)")));
  EXPECT_DOUBLE_EQ(value("histogram_quantile(0.25, odd_le)"), 0.5);
  // rank 5 reaches the le=1 bucket (5): its upper bound.
  EXPECT_DOUBLE_EQ(value("histogram_quantile(0.5, non_monotonic)"), 1);
  // rank 6: bucket le=2 holds 5 (monotonic fix), so +Inf: the last finite bound.
  EXPECT_DOUBLE_EQ(value("histogram_quantile(0.6, non_monotonic)"), 2);
}

// --- Aggregations -----------------------------------------------------------

class Aggregations : public PromqlEngine {
 protected:
  void SetUp() override {
    series("m{job=\"a\", instance=\"1\"}", "1");
    series("m{job=\"a\", instance=\"2\"}", "3");
    series("m{job=\"b\", instance=\"1\"}", "10");
    series("m{job=\"b\", instance=\"2\"}", "20");
    series("m{job=\"b\", instance=\"3\"}", "30");
  }
};

TEST_F(Aggregations, SumAvgMinMaxCountGroup) {
  EXPECT_THAT(vec("sum by (job) (m)", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 4), Pair("{job=\"b\"}", 60)));
  EXPECT_THAT(vec("sum(m) by (job)", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 4), Pair("{job=\"b\"}", 60)));
  EXPECT_THAT(vec("avg by (job) (m)", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 2), Pair("{job=\"b\"}", 20)));
  EXPECT_THAT(vec("min by (job) (m)", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 1), Pair("{job=\"b\"}", 10)));
  EXPECT_THAT(vec("max by (job) (m)", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 3), Pair("{job=\"b\"}", 30)));
  EXPECT_THAT(vec("count by (job) (m)", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 2), Pair("{job=\"b\"}", 3)));
  EXPECT_THAT(vec("group by (job) (m)", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 1), Pair("{job=\"b\"}", 1)));
  EXPECT_THAT(vec("sum(m)", 0), UnorderedElementsAre(Pair("{}", 64)));
}

TEST_F(Aggregations, WithoutDropsTheListedLabelsAndTheName) {
  EXPECT_THAT(vec("sum without (instance) (m)", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 4), Pair("{job=\"b\"}", 60)));
  EXPECT_THAT(vec("max without (job) (m)", 0),
              UnorderedElementsAre(Pair("{instance=\"1\"}", 10), Pair("{instance=\"2\"}", 20),
                                   Pair("{instance=\"3\"}", 30)));
  EXPECT_EQ(vec("sum without () (m)", 0).size(), 5u);
  EXPECT_EQ(vec("sum without () (m)", 0).count("{instance=\"1\", job=\"a\"}"), 1u);
}

TEST_F(Aggregations, ByMissingLabelGroupsTogether) {
  EXPECT_THAT(vec("sum by (nope) (m)", 0), UnorderedElementsAre(Pair("{}", 64)));
}

TEST_F(Aggregations, StddevAndStdvar) {
  EXPECT_THAT(vec("stdvar by (job) (m)", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 1), Pair("{job=\"b\"}", 200.0 / 3)));
  EXPECT_DOUBLE_EQ(vec("stddev by (job) (m)", 0)["{job=\"b\"}"], std::sqrt(200.0 / 3));
}

TEST_F(Aggregations, TopkAndBottomkKeepTheSeriesLabels) {
  EXPECT_THAT(vec("topk(2, m)", 0), UnorderedElementsAre(Pair("m{instance=\"2\", job=\"b\"}", 20),
                                                         Pair("m{instance=\"3\", job=\"b\"}", 30)));
  EXPECT_THAT(vec("bottomk by (job) (1, m)", 0),
              UnorderedElementsAre(Pair("m{instance=\"1\", job=\"a\"}", 1),
                                   Pair("m{instance=\"1\", job=\"b\"}", 10)));
  EXPECT_EQ(vec("topk(100, m)", 0).size(), 5u);
  EXPECT_TRUE(vec("topk(0, m)", 0).empty());
  // Ordered best first.
  QueryResult r = engine_.instant_query("topk(3, m)", 0);
  const auto& v = std::get<Vector>(*r.value);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].v, 30);
  EXPECT_EQ(v[2].v, 10);
}

TEST_F(Aggregations, QuantileAndCountValues) {
  EXPECT_THAT(vec("quantile by (job) (0.5, m)", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 2), Pair("{job=\"b\"}", 20)));
  EXPECT_THAT(
      vec("count_values(\"v\", m > 5)", 0),
      UnorderedElementsAre(Pair("{v=\"10\"}", 1), Pair("{v=\"20\"}", 1), Pair("{v=\"30\"}", 1)));
  EXPECT_THAT(vec("count_values by (instance) (\"job\", group by (instance, job) (m))", 0),
              UnorderedElementsAre(Pair("{instance=\"1\", job=\"1\"}", 2),
                                   Pair("{instance=\"2\", job=\"1\"}", 2),
                                   Pair("{instance=\"3\", job=\"1\"}", 1)));
  EXPECT_THAT(error("count_values(\"a-b\", m)", 0), HasSubstr("invalid label name"));
}

// --- Binary operators ---------------------------------------------------------

TEST_F(PromqlEngine, ScalarArithmeticAndPrecedence) {
  EXPECT_EQ(one("1 + 2 * 3", 0), 7);
  EXPECT_EQ(one("2 ^ 3 ^ 2", 0), 512);
  EXPECT_EQ(one("-2 ^ 2", 0), -4);
  EXPECT_EQ(one("10 % 3", 0), 1);
  EXPECT_EQ(one("7 / 2", 0), 3.5);
  EXPECT_EQ(one("1 / 0", 0), INFINITY);
  EXPECT_EQ(one("1 > bool 2", 0), 0);
  EXPECT_EQ(one("2 >= bool 2", 0), 1);
  EXPECT_TRUE(std::isnan(one("0 / 0", 0)));
}

TEST_F(PromqlEngine, VectorScalarArithmeticDropsTheName) {
  series("x{job=\"a\"}", "4");
  EXPECT_THAT(vec("x * 2", 0), UnorderedElementsAre(Pair("{job=\"a\"}", 8)));
  EXPECT_THAT(vec("10 - x", 0), UnorderedElementsAre(Pair("{job=\"a\"}", 6)));
  EXPECT_THAT(vec("-x", 0), UnorderedElementsAre(Pair("{job=\"a\"}", -4)));
  EXPECT_THAT(vec("x ^ 0.5", 0), UnorderedElementsAre(Pair("{job=\"a\"}", 2)));
}

TEST_F(PromqlEngine, ComparisonsFilterAndKeepTheName) {
  series("x{i=\"1\"}", "1");
  series("x{i=\"2\"}", "5");
  EXPECT_THAT(vec("x > 2", 0), UnorderedElementsAre(Pair("x{i=\"2\"}", 5)));
  // The scalar on the left: still the vector's value.
  EXPECT_THAT(vec("2 < x", 0), UnorderedElementsAre(Pair("x{i=\"2\"}", 5)));
  EXPECT_THAT(vec("x == bool 1", 0),
              UnorderedElementsAre(Pair("{i=\"1\"}", 1), Pair("{i=\"2\"}", 0)));
  EXPECT_THAT(vec("x != 1", 0), UnorderedElementsAre(Pair("x{i=\"2\"}", 5)));
  EXPECT_THAT(vec("x <= 1", 0), UnorderedElementsAre(Pair("x{i=\"1\"}", 1)));
}

TEST_F(PromqlEngine, OneToOneMatching) {
  series("errors{job=\"a\", code=\"500\"}", "5");
  series("errors{job=\"b\", code=\"500\"}", "1");
  series("total{job=\"a\"}", "50");
  series("total{job=\"b\"}", "10");
  series("total{job=\"c\"}", "10");
  // One-to-one: the ignored labels go too.
  EXPECT_THAT(vec("errors / ignoring(code) total", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 0.1), Pair("{job=\"b\"}", 0.1)));
  // on(...) keeps only the listed labels.
  EXPECT_THAT(vec("errors / on(job) total", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 0.1), Pair("{job=\"b\"}", 0.1)));
  // Without on/ignoring, all labels must match: none do.
  EXPECT_TRUE(vec("errors / total", 0).empty());
  // A comparison keeps the left side's value; on(job) keeps only job, even
  // the name goes.
  EXPECT_THAT(vec("total > on(job) errors", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 50), Pair("{job=\"b\"}", 10)));
  EXPECT_THAT(vec("total > ignoring(code) errors", 0),
              UnorderedElementsAre(Pair("total{job=\"a\"}", 50), Pair("total{job=\"b\"}", 10)));
  EXPECT_THAT(vec("total > bool on(job) errors", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 1), Pair("{job=\"b\"}", 1)));
}

TEST_F(PromqlEngine, ManyToOneWithGroupLeft) {
  series("requests{job=\"a\", instance=\"1\"}", "10");
  series("requests{job=\"a\", instance=\"2\"}", "20");
  series("requests{job=\"b\", instance=\"1\"}", "30");
  series("info{job=\"a\", version=\"1.2\"}", "1");
  series("info{job=\"b\", version=\"2.0\"}", "1");
  EXPECT_THAT(vec("requests * on(job) group_left(version) info", 0),
              UnorderedElementsAre(Pair("{instance=\"1\", job=\"a\", version=\"1.2\"}", 10),
                                   Pair("{instance=\"2\", job=\"a\", version=\"1.2\"}", 20),
                                   Pair("{instance=\"1\", job=\"b\", version=\"2.0\"}", 30)));
  EXPECT_THAT(vec("info * on(job) group_right(version) requests", 0),
              UnorderedElementsAre(Pair("{instance=\"1\", job=\"a\", version=\"1.2\"}", 10),
                                   Pair("{instance=\"2\", job=\"a\", version=\"1.2\"}", 20),
                                   Pair("{instance=\"1\", job=\"b\", version=\"2.0\"}", 30)));
  // A comparison with group_left keeps the many side's name and value.
  EXPECT_THAT(
      vec("requests > on(job) group_left info", 0).count("requests{instance=\"1\", job=\"a\"}"),
      1u);
}

TEST_F(PromqlEngine, MatchingErrors) {
  series("a{job=\"x\", i=\"1\"}", "1");
  series("a{job=\"x\", i=\"2\"}", "2");
  series("b{job=\"x\", i=\"1\"}", "1");
  series("b{job=\"x\", i=\"2\"}", "2");
  EXPECT_EQ(error("a + on(job) b", 0),
            "found duplicate series for the match group {job=\"x\"} on the right hand-side of "
            "the operation: [{__name__=\"b\", i=\"2\", job=\"x\"}, {__name__=\"b\", i=\"1\", "
            "job=\"x\"}];many-to-many matching not allowed: matching labels must be unique on "
            "one side");
  EXPECT_THAT(error("a + on(job) group_right b", 0),
              HasSubstr("on the left hand-side of the operation"));
  EXPECT_EQ(error("a + on(job) sum by (job) (b)", 0),
            "multiple matches for labels: many-to-one matching must be explicit "
            "(group_left/group_right)");
  series("c{job=\"x\"}", "1");
  // Two results with the same labels once the name is dropped.
  EXPECT_EQ(error("{__name__=~\"a|b\", i=\"1\"} * on(job) group_left c", 0),
            "multiple matches for labels: grouping labels must ensure unique matches");
  // One side empty: nothing to match, no error.
  EXPECT_TRUE(vec("a + on(job) nothing", 0).empty());
}

TEST_F(PromqlEngine, SetOperators) {
  series("up{job=\"a\"}", "1");
  series("up{job=\"b\"}", "0");
  series("up{job=\"c\"}", "1");
  series("ready{job=\"a\"}", "1");
  series("ready{job=\"b\"}", "1");
  EXPECT_THAT(vec("up and ready", 0),
              UnorderedElementsAre(Pair("up{job=\"a\"}", 1), Pair("up{job=\"b\"}", 0)));
  EXPECT_THAT(vec("up unless ready", 0), UnorderedElementsAre(Pair("up{job=\"c\"}", 1)));
  EXPECT_THAT(vec("up == 0 or ready", 0),
              UnorderedElementsAre(Pair("up{job=\"b\"}", 0), Pair("ready{job=\"a\"}", 1)));
  EXPECT_THAT(vec("up and on() vector(1)", 0).size(), 3u);
  EXPECT_TRUE(vec("up and on() absent(up)", 0).empty());
  EXPECT_THAT(vec("nothing or ready", 0).size(), 2u);
  EXPECT_THAT(vec("up unless nothing", 0).size(), 3u);
}

TEST_F(PromqlEngine, SameLabelSetAfterDroppingTheNameIsAnError) {
  series("a{job=\"x\"}", "1");
  series("b{job=\"x\"}", "2");
  EXPECT_EQ(error("{__name__=~\"a|b\"} * 2", 0),
            "vector cannot contain metrics with the same labelset");
  EXPECT_EQ(error("abs({job=\"x\"})", 0), "vector cannot contain metrics with the same labelset");
  EXPECT_EQ(vec("{job=\"x\"} > 0", 0).size(), 2u);  // names kept: fine
}

// --- Other functions --------------------------------------------------------

TEST_F(PromqlEngine, TimeTimestampVectorScalar) {
  series("x{job=\"a\"}", "7", 45 * kSecond);
  EXPECT_EQ(one("time()", 90 * kSecond), 90);
  EXPECT_THAT(vec("timestamp(x)", 30 * kSecond), UnorderedElementsAre(Pair("{job=\"a\"}", 0)));
  EXPECT_THAT(vec("timestamp((x))", 30 * kSecond), UnorderedElementsAre(Pair("{job=\"a\"}", 0)));
  EXPECT_THAT(vec("timestamp(x * 1)", 30 * kSecond), UnorderedElementsAre(Pair("{job=\"a\"}", 30)));
  EXPECT_THAT(vec("vector(3)", 0), UnorderedElementsAre(Pair("{}", 3)));
  EXPECT_EQ(one("scalar(x)", 0), 7);
  EXPECT_TRUE(std::isnan(one("scalar(nothing)", 0)));
  EXPECT_EQ(one("time() - timestamp(x)", 100 * kSecond), 100);
}

TEST_F(PromqlEngine, Absent) {
  series("x{job=\"a\"}", "1");
  EXPECT_TRUE(vec("absent(x)", 0).empty());
  EXPECT_THAT(vec("absent(nothing)", 0), UnorderedElementsAre(Pair("{}", 1)));
  EXPECT_THAT(vec("absent(nothing{job=\"a\", env=~\"p\", x!=\"y\"})", 0),
              UnorderedElementsAre(Pair("{job=\"a\"}", 1)));
  // A label given twice is left out (Prometheus's historic behaviour).
  EXPECT_THAT(vec("absent(nothing{job=\"a\", job=\"b\", i=\"1\"})", 0),
              UnorderedElementsAre(Pair("{i=\"1\"}", 1)));
  EXPECT_THAT(vec("absent(sum(nothing))", 0), UnorderedElementsAre(Pair("{}", 1)));
}

TEST_F(PromqlEngine, ClampAbsRoundAndMath) {
  series("x{i=\"1\"}", "-3.5");
  series("x{i=\"2\"}", "0.25");
  series("x{i=\"3\"}", "12");
  EXPECT_THAT(
      vec("clamp(x, -1, 1)", 0),
      UnorderedElementsAre(Pair("{i=\"1\"}", -1), Pair("{i=\"2\"}", 0.25), Pair("{i=\"3\"}", 1)));
  EXPECT_TRUE(vec("clamp(x, 1, -1)", 0).empty());
  EXPECT_THAT(
      vec("clamp_min(x, 0)", 0),
      UnorderedElementsAre(Pair("{i=\"1\"}", 0), Pair("{i=\"2\"}", 0.25), Pair("{i=\"3\"}", 12)));
  EXPECT_THAT(
      vec("clamp_max(x, 0)", 0),
      UnorderedElementsAre(Pair("{i=\"1\"}", -3.5), Pair("{i=\"2\"}", 0), Pair("{i=\"3\"}", 0)));
  EXPECT_THAT(
      vec("abs(x)", 0),
      UnorderedElementsAre(Pair("{i=\"1\"}", 3.5), Pair("{i=\"2\"}", 0.25), Pair("{i=\"3\"}", 12)));
  EXPECT_THAT(vec("round(x)", 0), UnorderedElementsAre(Pair("{i=\"1\"}", -3), Pair("{i=\"2\"}", 0),
                                                       Pair("{i=\"3\"}", 12)));
  EXPECT_THAT(
      vec("round(x, 5)", 0),
      UnorderedElementsAre(Pair("{i=\"1\"}", -5), Pair("{i=\"2\"}", 0), Pair("{i=\"3\"}", 10)));
  EXPECT_EQ(vec("ceil(x)", 0)["{i=\"1\"}"], -3);
  EXPECT_EQ(vec("floor(x)", 0)["{i=\"1\"}"], -4);
  EXPECT_EQ(vec("sgn(x)", 0)["{i=\"1\"}"], -1);
  EXPECT_EQ(vec("sqrt(x)", 0)["{i=\"2\"}"], 0.5);
  EXPECT_EQ(vec("log2(x)", 0)["{i=\"2\"}"], -2);
}

TEST_F(PromqlEngine, LabelReplaceAndJoin) {
  series("up{instance=\"host1:9100\", job=\"node\"}", "1");
  EXPECT_THAT(
      vec(R"q(label_replace(up, "host", "$1", "instance", "(.*):\\d+"))q", 0),
      UnorderedElementsAre(Pair("up{host=\"host1\", instance=\"host1:9100\", job=\"node\"}", 1)));
  EXPECT_THAT(vec(R"q(label_replace(up, "host", "${1}-x", "instance", "(.*):(.*)"))q", 0)
                  .count("up{host=\"host1-x\", instance=\"host1:9100\", job=\"node\"}"),
              1u);
  // Named groups, as Go's regexp.Expand reads them ("$1x" is the group "1x":
  // nothing).
  EXPECT_THAT(
      vec(R"q(label_replace(up, "host", "${name}.$port|$1x", "instance", "(?P<name>.*):(?P<port>\\d+)"))q",
          0)
          .count("up{host=\"host1.9100|\", instance=\"host1:9100\", job=\"node\"}"),
      1u);
  // No match: unchanged. Empty result: the label is removed.
  EXPECT_THAT(vec(R"q(label_replace(up, "host", "$1", "instance", "nomatch"))q", 0)
                  .count("up{instance=\"host1:9100\", job=\"node\"}"),
              1u);
  EXPECT_THAT(
      vec(R"q(label_replace(up, "job", "", "job", ".*"))q", 0).count("up{instance=\"host1:9100\"}"),
      1u);
  EXPECT_THAT(vec(R"q(label_join(up, "both", "/", "job", "instance"))q", 0)
                  .count("up{both=\"node/host1:9100\", instance=\"host1:9100\", job=\"node\"}"),
              1u);
  EXPECT_THAT(error(R"q(label_replace(up, "1bad", "", "job", ".*"))q", 0),
              HasSubstr("invalid destination label name"));
}

TEST_F(PromqlEngine, SortOrdersByValue) {
  series("x{i=\"1\"}", "3");
  series("x{i=\"2\"}", "1");
  series("x{i=\"3\"}", "2");
  QueryResult r = engine_.instant_query("sort_desc(x)", 0);
  const auto& v = std::get<Vector>(*r.value);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].v, 3);
  EXPECT_EQ(v[2].v, 1);
  QueryResult r2 = engine_.instant_query("sort(x)", 0);
  EXPECT_EQ(std::get<Vector>(*r2.value)[0].v, 1);
}

TEST_F(PromqlEngine, StringAndScalarResults) {
  QueryResult r = engine_.instant_query("\"hello\"", 5000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<String>(*r.value).v, "hello");
  QueryResult s = engine_.instant_query("1 + 1", 5000);
  EXPECT_EQ(std::get<Scalar>(*s.value).v, 2);
  EXPECT_EQ(std::get<Scalar>(*s.value).t, 5000);
}

// --- The rule pack's expressions ----------------------------------------------

TEST_F(PromqlEngine, WorkerStalledExpression) {
  series("worker_last_success_timestamp_seconds{job=\"w\"}", "0 0 0 0 0 0 0 0 0 0 0 0", kMinute);
  series("queue_depth{job=\"w\"}", "5x11");
  const char* q = "time() - worker_last_success_timestamp_seconds > 600 and queue_depth > 0";
  EXPECT_TRUE(vec(q, 10 * kMinute).empty());  // exactly 600: not above
  EXPECT_THAT(vec(q, 11 * kMinute), UnorderedElementsAre(Pair("{job=\"w\"}", 660)));
}

TEST_F(PromqlEngine, ServiceNeverReadyExpression) {
  series("service_ready{job=\"s\"}", "0x20");
  series("process_start_time_seconds{job=\"s\"}", "60x20");
  const char* q =
      "max_over_time(service_ready[10m]) == 0 and (time() - process_start_time_seconds) > 120";
  EXPECT_TRUE(vec(q, 3 * kMinute).empty());  // alive 120 s: not yet
  EXPECT_THAT(vec(q, 4 * kMinute), UnorderedElementsAre(Pair("{job=\"s\"}", 0)));
}

TEST_F(PromqlEngine, LatencyExpression) {
  // 10 requests a minute: 9 fast (<= 0.1 s), 1 slow (0.5..1 s).
  series("http_server_request_duration_seconds_bucket{http_route=\"/a\", le=\"0.1\"}", "0+9x10");
  series("http_server_request_duration_seconds_bucket{http_route=\"/a\", le=\"0.5\"}", "0+9x10");
  series("http_server_request_duration_seconds_bucket{http_route=\"/a\", le=\"1\"}", "0+10x10");
  series("http_server_request_duration_seconds_bucket{http_route=\"/a\", le=\"+Inf\"}", "0+10x10");
  const char* q =
      "histogram_quantile(0.95, sum by (le, http_route) "
      "(rate(http_server_request_duration_seconds_bucket[5m]))) > 0.5";
  // rank 0.95 of 10/min lands halfway into the 0.5..1 bucket: 0.75.
  EXPECT_THAT(vec(q, 10 * kMinute), UnorderedElementsAre(Pair("{http_route=\"/a\"}", 0.75)));
}

// --- Range queries ---------------------------------------------------------

TEST_F(PromqlEngine, RangeQueryReturnsAMatrix) {
  series("x{job=\"a\"}", "1 2 3 4 5");
  series("x{job=\"b\"}", "_ _ 10 20");
  QueryResult r = engine_.range_query("x * 2", 0, 4 * kMinute, kMinute);
  ASSERT_TRUE(r.ok()) << r.error->message;
  const auto& m = std::get<Matrix>(*r.value);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].labels.to_string(), "{job=\"a\"}");
  ASSERT_EQ(m[0].samples.size(), 5u);
  EXPECT_EQ(m[0].samples[4], (Sample{4 * kMinute, 10}));
  ASSERT_EQ(m[1].samples.size(), 3u);  // 2m, 3m, and 4m by lookback
  EXPECT_EQ(m[1].samples[0], (Sample{2 * kMinute, 20}));
  EXPECT_EQ(m[1].samples[2], (Sample{4 * kMinute, 40}));
}

TEST_F(PromqlEngine, RangeQueryOfAScalar) {
  QueryResult r = engine_.range_query("time()", 0, 2 * kMinute, kMinute);
  ASSERT_TRUE(r.ok());
  const auto& m = std::get<Matrix>(*r.value);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_TRUE(m[0].labels.empty());
  EXPECT_EQ(m[0].samples.size(), 3u);
  EXPECT_EQ(m[0].samples[2].v, 120);
}

TEST_F(PromqlEngine, RangeQueryRejectsBadParameters) {
  EXPECT_THAT(engine_.range_query("x[5m]", 0, 1, 1).error->message,
              HasSubstr("invalid expression type \"range vector\" for range query"));
  EXPECT_THAT(engine_.range_query("x", 0, 1, 0).error->message,
              HasSubstr("zero or negative query resolution step"));
  EXPECT_THAT(engine_.range_query("x", 10, 1, 1).error->message,
              HasSubstr("end timestamp must not be before start time"));
  EXPECT_THAT(engine_.range_query("x", 0, 11000, 1).error->message,
              HasSubstr("exceeded maximum resolution of 11000 points"));
  EXPECT_EQ(engine_.range_query("x", 0, 10999, 1).error, std::nullopt);
}

// --- Errors and limits ------------------------------------------------------

TEST_F(PromqlEngine, ParseErrorsComeBackAsBadData) {
  QueryResult r = engine_.instant_query("sum(", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->kind, ErrorKind::kBadData);
  EXPECT_EQ(r.error->message, "1:5: parse error: unclosed left parenthesis");
}

TEST_F(PromqlEngine, SampleLimitStopsTheQuery) {
  series("x{i=\"1\"}", "1x100");
  series("x{i=\"2\"}", "1x100");
  EngineOptions options;
  options.max_samples = 150;
  Engine engine(storage_, options);
  QueryResult r = engine.instant_query("sum_over_time(x[100m])", 100 * kMinute);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->kind, ErrorKind::kExecution);
  EXPECT_EQ(r.error->message,
            "query processing would load too many samples into memory in query execution");
  EXPECT_TRUE(engine.instant_query("sum_over_time(x[70m])", 100 * kMinute).ok());  // 2 x 71
  // Points of a range query's result count too.
  QueryResult range = engine.range_query("vector(1)", 0, 200 * kSecond, kSecond);
  ASSERT_FALSE(range.ok());
  EXPECT_EQ(range.error->kind, ErrorKind::kExecution);
}

TEST_F(PromqlEngine, DeadlineStopsTheQuery) {
  series("x", "1x100");
  QueryOptions past;
  past.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  QueryResult r = engine_.instant_query("x", 0, past);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->kind, ErrorKind::kTimeout);
  EXPECT_EQ(r.error->message, "query timed out in query execution");
  QueryResult range = engine_.range_query("x", 0, kMinute, kSecond, past);
  EXPECT_EQ(range.error->kind, ErrorKind::kTimeout);

  EngineOptions options;
  options.timeout = std::chrono::milliseconds(0);
  Engine engine(storage_, options);
  // A range query long enough to outlast a zero timeout.
  QueryResult slow = engine.range_query("sum_over_time(x[100m])", 0, 10000 * kSecond, kSecond);
  EXPECT_EQ(slow.error->kind, ErrorKind::kTimeout);
}

TEST_F(PromqlEngine, ExpressionsFromAnyThread) {
  series("x{i=\"1\"}", "1+1x100");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int k = 0; k < 50; ++k)
        if (engine_.instant_query("sum(rate(x[5m]))", 50 * kMinute).ok()) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
}

}  // namespace
}  // namespace watch::promql
