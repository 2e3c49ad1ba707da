// The head: appends with Prometheus's rules, queries through the label
// index, retention and garbage collection, the series limit.
#include "watch/tsdb/head.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace watch::tsdb {
namespace {

using Op = Matcher::Op;

LabelSet ls(std::initializer_list<std::pair<std::string_view, std::string_view>> l) {
  return LabelSet::from(l);
}

std::vector<std::string> names_of(const std::vector<SeriesSamples>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.labels.to_string());
  return out;
}

std::vector<std::string> names_of(const std::vector<LabelSet>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.to_string());
  return out;
}

MatcherSet all() {
  return MatcherSet();
}

TEST(Head, AppendThenSelectRoundTrips) {
  Head head;
  const auto s = head.get_or_create(ls({{"__name__", "up"}, {"job", "api"}}));
  ASSERT_EQ(s.status, AppendStatus::kOk);
  EXPECT_TRUE(s.created);
  EXPECT_NE(s.ref, 0u);
  for (int i = 0; i < 500; ++i) ASSERT_EQ(head.append(s.ref, i * 15000, i % 7), AppendStatus::kOk);
  const auto got = head.select(all(), INT64_MIN, INT64_MAX);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].ref, s.ref);
  EXPECT_EQ(got[0].labels, ls({{"__name__", "up"}, {"job", "api"}}));
  ASSERT_EQ(got[0].samples.size(), 500u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(got[0].samples[i], (Sample{i * 15000, double(i % 7)}));
}

TEST(Head, SameLabelsSameSeries) {
  Head head;
  const auto a = head.get_or_create(ls({{"__name__", "x"}, {"a", "1"}}));
  const auto b = head.get_or_create(ls({{"a", "1"}, {"__name__", "x"}}));
  EXPECT_EQ(a.ref, b.ref);
  EXPECT_FALSE(b.created);
  EXPECT_EQ(head.find(ls({{"__name__", "x"}, {"a", "1"}})), a.ref);
  EXPECT_EQ(head.find(ls({{"__name__", "x"}})), std::nullopt);
  EXPECT_EQ(head.num_series(), 1u);
}

TEST(Head, EmptyLabelSetIsRefused) {
  Head head;
  EXPECT_EQ(head.get_or_create(LabelSet()).status, AppendStatus::kInvalidLabels);
  EXPECT_EQ(head.append(LabelSet(), 1, 1).status, AppendStatus::kInvalidLabels);
}

TEST(Head, UnknownRefIsRefused) {
  Head head;
  EXPECT_EQ(head.append(12345, 1, 1), AppendStatus::kUnknownSeries);
  EXPECT_EQ(head.append(0, 1, 1), AppendStatus::kUnknownSeries);
}

TEST(Head, OlderThanTheLastSampleIsOutOfOrder) {
  Head head;
  const auto r = head.append(ls({{"__name__", "m"}}), 2000, 1).ref;
  EXPECT_EQ(head.append(r, 1999, 1), AppendStatus::kOutOfOrder);
  EXPECT_EQ(to_string(AppendStatus::kOutOfOrder), "out of order sample");
  EXPECT_EQ(head.append(r, 3000, 2), AppendStatus::kOk);
  EXPECT_EQ(head.append(r, 2500, 2), AppendStatus::kOutOfOrder);
  const auto st = head.stats();
  EXPECT_EQ(st.out_of_order, 2u);
  EXPECT_EQ(st.samples, 2u);
}

TEST(Head, SameTimestampSameValueIsANoOpDifferentValueIsAnError) {
  Head head;
  const auto r = head.append(ls({{"__name__", "m"}}), 1000, 1.5).ref;
  EXPECT_EQ(head.append(r, 1000, 1.5), AppendStatus::kOk);  // Prometheus ignores exact duplicates
  EXPECT_EQ(head.append(r, 1000, 2.5), AppendStatus::kDuplicateTimestamp);
  EXPECT_EQ(to_string(AppendStatus::kDuplicateTimestamp), "duplicate sample for timestamp");
  // "Same value" is bitwise: NaN equals itself, the staleness marker does not equal NaN.
  const auto n = head.append(ls({{"__name__", "n"}}), 1000, std::nan("")).ref;
  EXPECT_EQ(head.append(n, 1000, std::nan("")), AppendStatus::kOk);
  EXPECT_EQ(head.append(n, 1000, stale_nan()), AppendStatus::kDuplicateTimestamp);
  const auto st = head.stats();
  EXPECT_EQ(st.samples, 2u);
  EXPECT_EQ(st.duplicates_ignored, 2u);
  EXPECT_EQ(st.duplicate_timestamp, 2u);
}

TEST(Head, StalenessMarkersAreStoredLikeAnySample) {
  Head head;
  const auto r = head.append(ls({{"__name__", "m"}}), 1000, 5).ref;
  ASSERT_EQ(head.append(r, 16000, stale_nan()), AppendStatus::kOk);
  ASSERT_EQ(head.append(r, 31000, 6), AppendStatus::kOk);
  const auto got = head.select(all(), 0, 100000);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].samples.size(), 3u);
  EXPECT_TRUE(is_stale_nan(got[0].samples[1].v));
  EXPECT_FALSE(std::isnan(got[0].samples[2].v));
}

TEST(Head, SelectTimeRangeIsInclusiveAndAcrossChunks) {
  Head head({.samples_per_chunk = 10});
  const auto r = head.append(ls({{"__name__", "m"}}), 0, 0).ref;
  for (int i = 1; i < 100; ++i) ASSERT_EQ(head.append(r, i * 10, i), AppendStatus::kOk);
  EXPECT_EQ(head.stats().chunks, 10u);
  auto samples = [&](std::int64_t mint, std::int64_t maxt) {
    const auto got = head.select(all(), mint, maxt);
    std::vector<std::int64_t> ts;
    if (!got.empty())
      for (const auto& s : got[0].samples) ts.push_back(s.t);
    return ts;
  };
  EXPECT_EQ(samples(95, 125), (std::vector<std::int64_t>{100, 110, 120}));
  EXPECT_EQ(samples(100, 120), (std::vector<std::int64_t>{100, 110, 120}));
  EXPECT_EQ(samples(990, 5000), (std::vector<std::int64_t>{990}));
  EXPECT_EQ(samples(-100, 0), (std::vector<std::int64_t>{0}));
  EXPECT_TRUE(samples(991, 5000).empty());  // no sample in range: series omitted
  EXPECT_TRUE(samples(101, 109).empty());
  EXPECT_TRUE(samples(200, 100).empty());
  EXPECT_EQ(samples(INT64_MIN, INT64_MAX).size(), 100u);
}

TEST(Head, ChunksAreCutAtTheConfiguredSize) {
  Head head;  // 120 a chunk
  const auto r = head.append(ls({{"__name__", "m"}}), 0, 0).ref;
  for (int i = 1; i < 240; ++i) head.append(r, i, i);
  EXPECT_EQ(head.stats().chunks, 2u);
  head.append(r, 240, 240);
  EXPECT_EQ(head.stats().chunks, 3u);
}

// ---------------------------------------------------------------------------
// Matchers through the index

class HeadIndex : public ::testing::Test {
 protected:
  HeadIndex() {
    for (const auto& l :
         {ls({{"__name__", "http_requests_total"}, {"job", "api"}, {"code", "200"}}),
          ls({{"__name__", "http_requests_total"}, {"job", "api"}, {"code", "500"}}),
          ls({{"__name__", "http_requests_total"}, {"job", "web"}, {"code", "200"}}),
          ls({{"__name__", "http_requests_total"}, {"job", "web"}}),
          ls({{"__name__", "up"}, {"job", "api"}}),
          ls({{"__name__", "up"}, {"job", "worker"}, {"env", "prod"}})}) {
      EXPECT_EQ(head_.append(l, 1000, 1).status, AppendStatus::kOk);
    }
  }

  std::vector<std::string> select(std::initializer_list<Matcher> m) {
    return names_of(head_.select(MatcherSet::must_compile(m), INT64_MIN, INT64_MAX));
  }

  Head head_;
};

TEST_F(HeadIndex, EqualNotEqualRegexAndNotRegex) {
  EXPECT_EQ(select({{"__name__", Op::kEqual, "up"}}),
            (std::vector<std::string>{"up{env=\"prod\", job=\"worker\"}", "up{job=\"api\"}"}));
  EXPECT_EQ(select({{"__name__", Op::kEqual, "http_requests_total"},
                    {"code", Op::kEqual, "200"},
                    {"job", Op::kNotEqual, "web"}}),
            (std::vector<std::string>{"http_requests_total{code=\"200\", job=\"api\"}"}));
  EXPECT_EQ(select({{"job", Op::kRegexMatch, "w.*"}}),
            (std::vector<std::string>{"http_requests_total{code=\"200\", job=\"web\"}",
                                      "http_requests_total{job=\"web\"}",
                                      "up{env=\"prod\", job=\"worker\"}"}));
  EXPECT_EQ(
      select({{"__name__", Op::kEqual, "http_requests_total"}, {"code", Op::kRegexNoMatch, "5.."}}),
      (std::vector<std::string>{"http_requests_total{code=\"200\", job=\"api\"}",
                                "http_requests_total{code=\"200\", job=\"web\"}",
                                "http_requests_total{job=\"web\"}"}));
  EXPECT_TRUE(select({{"__name__", Op::kEqual, "nope"}}).empty());
  EXPECT_TRUE(select({{"nolabel", Op::kEqual, "x"}}).empty());
}

TEST_F(HeadIndex, EmptyValueMatchesSeriesWithoutTheLabel) {
  EXPECT_EQ(select({{"__name__", Op::kEqual, "http_requests_total"}, {"code", Op::kEqual, ""}}),
            (std::vector<std::string>{"http_requests_total{job=\"web\"}"}));
  EXPECT_EQ(select({{"__name__", Op::kEqual, "up"}, {"env", Op::kNotEqual, "prod"}}),
            (std::vector<std::string>{"up{job=\"api\"}"}));
  EXPECT_EQ(select({{"__name__", Op::kEqual, "up"}, {"env", Op::kRegexMatch, "prod|"}}),
            (std::vector<std::string>{"up{env=\"prod\", job=\"worker\"}", "up{job=\"api\"}"}));
  EXPECT_EQ(select({{"__name__", Op::kEqual, "up"}, {"env", Op::kRegexNoMatch, ".+"}}),
            (std::vector<std::string>{"up{job=\"api\"}"}));
  EXPECT_EQ(select({{"env", Op::kNotEqual, ""}}),
            (std::vector<std::string>{"up{env=\"prod\", job=\"worker\"}"}));
  // Matchers that all accept the empty value: every series they do not refuse.
  EXPECT_EQ(select({{"code", Op::kNotEqual, "200"}, {"job", Op::kNotEqual, "api"}}).size(), 2u);
}

TEST_F(HeadIndex, LabelNamesAndValues) {
  EXPECT_EQ(head_.label_names(), (std::vector<std::string>{"__name__", "code", "env", "job"}));
  EXPECT_EQ(head_.label_values("job"), (std::vector<std::string>{"api", "web", "worker"}));
  EXPECT_TRUE(head_.label_values("nope").empty());
  const auto up = MatcherSet::must_compile({{"__name__", Op::kEqual, "up"}});
  EXPECT_EQ(head_.label_names(up), (std::vector<std::string>{"__name__", "env", "job"}));
  EXPECT_EQ(head_.label_values("job", up), (std::vector<std::string>{"api", "worker"}));
  // Time ranges without data give nothing.
  EXPECT_TRUE(head_.label_names(all(), 2000, 3000).empty());
  EXPECT_EQ(head_.label_values("code", all(), 0, 1000), (std::vector<std::string>{"200", "500"}));
}

TEST_F(HeadIndex, SeriesForTheApi) {
  const auto up = MatcherSet::must_compile({{"__name__", Op::kEqual, "up"}});
  EXPECT_EQ(names_of(head_.series(up)),
            (std::vector<std::string>{"up{env=\"prod\", job=\"worker\"}", "up{job=\"api\"}"}));
  EXPECT_TRUE(head_.series(up, 1001, 2000).empty());
  EXPECT_EQ(head_.series(up, 1000, 1000).size(), 2u);
}

TEST_F(HeadIndex, VisitorCanStopEarly) {
  int visits = 0;
  head_.select(all(), INT64_MIN, INT64_MAX, [&](const LabelSet&, std::span<const Sample> s) {
    EXPECT_EQ(s.size(), 1u);
    ++visits;
    return visits < 2;
  });
  EXPECT_EQ(visits, 2);
}

TEST(Head, SeriesWithASampleInsideAChunkGapIsNotInRange) {
  Head head;
  const auto r = head.append(ls({{"__name__", "m"}}), 0, 1).ref;
  head.append(r, 10000, 1);
  // The chunk spans [0, 10000] but has no sample in [1, 9999].
  EXPECT_TRUE(head.series(all(), 1, 9999).empty());
  EXPECT_EQ(head.series(all(), 1, 10000).size(), 1u);
}

// ---------------------------------------------------------------------------
// Retention and garbage collection

TEST(Head, TruncateDropsWholeOldChunksAndKeepsTheRest) {
  Head head({.samples_per_chunk = 10});
  const auto r = head.append(ls({{"__name__", "m"}}), 0, 0).ref;
  for (int i = 1; i < 50; ++i) head.append(r, i * 1000, i);  // chunks [0,9s] [10s,19s] ...
  EXPECT_EQ(head.truncate(25000), 0u);
  const auto got = head.select(all(), INT64_MIN, INT64_MAX);
  ASSERT_EQ(got.size(), 1u);
  // [0,9s] and [10s,19s] are gone; [20s,29s] stays whole (its newest is in the window).
  EXPECT_EQ(got[0].samples.front().t, 20000);
  EXPECT_EQ(got[0].samples.size(), 30u);
  EXPECT_EQ(head.stats().samples, 30u);
  EXPECT_EQ(head.stats().min_t, 20000);
}

TEST(Head, AppendsOlderThanTheCutoffAreOutOfBounds) {
  Head head;
  head.truncate(5000);
  EXPECT_EQ(head.append(ls({{"__name__", "m"}}), 4999, 1).status, AppendStatus::kOutOfBounds);
  EXPECT_EQ(to_string(AppendStatus::kOutOfBounds), "out of bounds");
  EXPECT_EQ(head.append(ls({{"__name__", "m"}}), 5000, 1).status, AppendStatus::kOk);
  EXPECT_EQ(head.stats().out_of_bounds, 1u);
  head.truncate(1000);  // the cutoff never moves back
  EXPECT_EQ(head.append(ls({{"__name__", "n"}}), 2000, 1).status, AppendStatus::kOutOfBounds);
}

TEST(Head, GcRemovesSeriesLeftWithoutSamplesFromEveryIndex) {
  Head head({.retention_ms = 60000});
  const auto old_ref = head.append(ls({{"__name__", "old"}, {"job", "gone"}}), 1000, 1).ref;
  head.append(ls({{"__name__", "new"}, {"job", "here"}}), 100000, 1);
  EXPECT_EQ(head.gc(120000), 1u);  // cutoff 60000
  EXPECT_EQ(head.num_series(), 1u);
  EXPECT_EQ(head.find(ls({{"__name__", "old"}, {"job", "gone"}})), std::nullopt);
  EXPECT_EQ(head.append(old_ref, 200000, 1), AppendStatus::kUnknownSeries);
  EXPECT_EQ(head.label_values("job"), (std::vector<std::string>{"here"}));
  EXPECT_EQ(head.label_names(), (std::vector<std::string>{"__name__", "job"}));
  EXPECT_EQ(names_of(head.series(all())), (std::vector<std::string>{"new{job=\"here\"}"}));
  const auto st = head.stats();
  EXPECT_EQ(st.series_removed, 1u);
  EXPECT_EQ(st.series, 1u);
  // The same labels come back as a new series with a new ref.
  const auto again = head.append(ls({{"__name__", "old"}, {"job", "gone"}}), 200000, 2);
  EXPECT_EQ(again.status, AppendStatus::kOk);
  EXPECT_TRUE(again.created);
  EXPECT_NE(again.ref, old_ref);
}

TEST(Head, SeriesCreatedButNeverWrittenSurviveUntilTheCutoffMovesOn) {
  Head head;
  const auto s = head.get_or_create(ls({{"__name__", "pending"}}));
  EXPECT_EQ(head.truncate(100), 0u);  // its creator may be about to append
  EXPECT_EQ(head.truncate(100), 0u);  // the cutoff has not moved: still kept
  EXPECT_EQ(head.append(s.ref, 200, 1), AppendStatus::kOk);
  const auto t = head.get_or_create(ls({{"__name__", "abandoned"}}));
  EXPECT_EQ(head.truncate(150), 0u);
  EXPECT_EQ(head.truncate(150), 0u);
  EXPECT_EQ(head.truncate(151), 1u);
  EXPECT_EQ(head.append(t.ref, 300, 1), AppendStatus::kUnknownSeries);
  EXPECT_EQ(head.num_series(), 1u);
}

TEST(Head, AppendByLabelsOutOfBoundsCreatesNoSeries) {
  Head head;
  head.truncate(1000);
  EXPECT_EQ(head.append(ls({{"__name__", "late"}}), 999, 1).status, AppendStatus::kOutOfBounds);
  EXPECT_EQ(head.num_series(), 0u);
}

TEST(Head, SeriesLimitRefusesNewSeriesAndCountsThem) {
  Head head({.max_series = 2});
  EXPECT_EQ(head.append(ls({{"__name__", "a"}}), 1000, 1).status, AppendStatus::kOk);
  EXPECT_EQ(head.append(ls({{"__name__", "b"}}), 1000, 1).status, AppendStatus::kOk);
  const auto c = head.append(ls({{"__name__", "c"}}), 1000, 1);
  EXPECT_EQ(c.status, AppendStatus::kSeriesLimit);
  EXPECT_EQ(to_string(c.status),
            "series limit reached: the head holds its maximum number of series");
  EXPECT_EQ(head.get_or_create(ls({{"__name__", "d"}})).status, AppendStatus::kSeriesLimit);
  // Existing series keep working.
  EXPECT_EQ(head.append(ls({{"__name__", "a"}}), 2000, 1).status, AppendStatus::kOk);
  EXPECT_EQ(head.stats().series_limit_rejections, 2u);
  EXPECT_EQ(head.num_series(), 2u);
  // Room comes back when series are collected.
  head.truncate(1500);  // "b" has nothing left
  EXPECT_EQ(head.append(ls({{"__name__", "c"}}), 3000, 1).status, AppendStatus::kOk);
}

TEST(Head, StatsCountBytesPerSample) {
  Head head;
  for (int s = 0; s < 10; ++s) {
    const auto r = head.get_or_create(ls({{"__name__", "m"}, {"i", std::to_string(s)}})).ref;
    for (int i = 0; i < 240; ++i) head.append(r, i * 15000, 42);
  }
  const auto st = head.stats();
  EXPECT_EQ(st.series, 10u);
  EXPECT_EQ(st.samples, 2400u);
  EXPECT_EQ(st.samples_appended, 2400u);
  EXPECT_EQ(st.chunks, 20u);
  EXPECT_EQ(st.min_t, 0);
  EXPECT_EQ(st.max_t, 239 * 15000);
  // A constant at a regular interval: ~2 bits a sample plus chunk headers.
  EXPECT_GT(st.bytes_per_sample(), 0.2);
  EXPECT_LT(st.bytes_per_sample(), 0.6);
  EXPECT_GT(st.memory_bytes, st.chunk_bytes);
}

}  // namespace
}  // namespace watch::tsdb

namespace watch::tsdb {
namespace {

// The stripes' tables (open addressing, deletion by backward shift) under
// random removals: what stays is found by labels and by ref, what went is not.
TEST(Head, RandomRemovalsLeaveEveryOtherSeriesFindable) {
  Head head({.retention_ms = 1000, .stripes = 4});  // few stripes: long probe runs
  std::mt19937 rng(7);
  std::vector<bool> old(20000);
  for (int i = 0; i < 20000; ++i) {
    old[i] = rng() % 2;
    const auto labels = LabelSet::from({{"__name__", "m"}, {"i", std::to_string(i)}});
    ASSERT_EQ(head.append(labels, old[i] ? 0 : 10'000, 1).status, AppendStatus::kOk);
  }
  head.truncate(5'000);  // the old ones have no sample left
  std::size_t kept = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto labels = LabelSet::from({{"__name__", "m"}, {"i", std::to_string(i)}});
    const auto ref = head.find(labels);
    EXPECT_EQ(ref.has_value(), !old[i]) << i;
    if (ref) {
      ++kept;
      EXPECT_TRUE(head.handle(*ref)) << i;
      EXPECT_EQ(head.append(*ref, 20'000, 2), AppendStatus::kOk) << i;
    }
  }
  EXPECT_EQ(head.num_series(), kept);
  EXPECT_EQ(head.series(MatcherSet()).size(), kept);
}

}  // namespace
}  // namespace watch::tsdb
