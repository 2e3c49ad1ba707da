// The head under concurrent writers, readers and garbage collection: no
// lost or torn samples, consistent reads, one series per label set. Threads
// start together on a latch; nothing sleeps. Run it under ThreadSanitizer
// too (FIREBREAK_SANITIZE builds, or -fsanitize=thread).
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "watch/tsdb/head.h"

namespace watch::tsdb {
namespace {

// Every sample's value is a function of its series and time, so a reader can
// tell a torn or misplaced sample from a good one.
double value_for(int series, std::int64_t t) {
  return series * 1e6 + static_cast<double>(t / 1000);
}

LabelSet labels_for(int writer, int series) {
  return LabelSet::from({{"__name__", "load"},
                         {"writer", std::to_string(writer)},
                         {"series", std::to_string(series)}});
}

TEST(HeadConcurrency, WritersReadersAndGcTogether) {
  constexpr int kWriters = 3;
  constexpr int kSeriesPerWriter = 50;
  constexpr int kSamples = 600;  // 5 chunks a series
  constexpr int kReaders = 2;
  Head head({.samples_per_chunk = 120, .stripes = 8});

  std::latch start(kWriters + kReaders + 1);
  std::atomic<int> writers_done{0};
  std::atomic<std::int64_t> reader_checks{0};
  std::atomic<std::int64_t> gc_rounds{0};
  std::atomic<bool> failed{false};

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::vector<SeriesRef> refs;
      for (int s = 0; s < kSeriesPerWriter; ++s) {
        const int id = w * kSeriesPerWriter + s;
        const auto r = head.append(labels_for(w, s), 1000, value_for(id, 1000));
        if (r.status != AppendStatus::kOk) failed = true;
        refs.push_back(r.ref);
      }
      start.arrive_and_wait();
      for (int i = 1; i < kSamples; ++i) {
        if (i == kSamples / 2) {
          // Halfway, make sure the readers and the collector are running
          // against this writer (no sleeping: wait for their progress).
          while (reader_checks.load() < kReaders || gc_rounds.load() < 2) std::this_thread::yield();
        }
        const std::int64_t t = std::int64_t{1000} * (i + 1);
        for (int s = 0; s < kSeriesPerWriter; ++s) {
          const int id = w * kSeriesPerWriter + s;
          if (head.append(refs[s], t, value_for(id, t)) != AppendStatus::kOk) failed = true;
        }
      }
      writers_done.fetch_add(1);
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      const auto set =
          MatcherSet::must_compile({{"__name__", Matcher::Op::kEqual, "load"},
                                    {"writer", Matcher::Op::kRegexMatch, r == 0 ? ".*" : "1|2"}});
      start.arrive_and_wait();
      do {
        head.select(set, INT64_MIN, INT64_MAX, [&](const LabelSet& ls, std::span<const Sample> ss) {
          const int id = std::stoi(std::string(ls.get("writer"))) * kSeriesPerWriter +
                         std::stoi(std::string(ls.get("series")));
          for (std::size_t i = 0; i < ss.size(); ++i) {
            if (ss[i].v != value_for(id, ss[i].t)) failed = true;
            if (i > 0 && ss[i].t <= ss[i - 1].t) failed = true;
          }
          return true;
        });
        if (head.label_values("writer").size() != kWriters) failed = true;
        reader_checks.fetch_add(1);
      } while (writers_done.load() < kWriters);
    });
  }
  // GC walks and locks everything while a churn of short-lived series comes
  // and goes: each gets one sample at the cutoff and is collected once the
  // cutoff moves past it. The cutoff stays before the writers' data.
  std::atomic<std::size_t> collected{0};
  threads.emplace_back([&] {
    start.arrive_and_wait();
    std::int64_t n = 0;
    do {
      const std::int64_t cutoff = std::min<std::int64_t>(n, 900);
      const auto r =
          head.append(LabelSet::from({{"__name__", "churn"}, {"n", std::to_string(n)}}), cutoff, 1);
      if (r.status != AppendStatus::kOk) failed = true;
      ++n;
      collected += head.truncate(cutoff);
      (void)head.stats();
      gc_rounds.fetch_add(1);
    } while (writers_done.load() < kWriters);
  });
  for (auto& t : threads) t.join();

  EXPECT_FALSE(failed.load());
  EXPECT_GT(reader_checks.load(), 0);
  const auto got = head.select(
      MatcherSet::must_compile({{"__name__", Matcher::Op::kEqual, "load"}}), INT64_MIN, INT64_MAX);
  ASSERT_EQ(got.size(), std::size_t{kWriters * kSeriesPerWriter});
  for (const auto& s : got)
    ASSERT_EQ(s.samples.size(), std::size_t{kSamples}) << s.labels.to_string();
  const auto st = head.stats();
  EXPECT_EQ(st.samples -
                head.select(MatcherSet::must_compile({{"__name__", Matcher::Op::kEqual, "churn"}}),
                            INT64_MIN, INT64_MAX)
                    .size(),
            std::size_t{kWriters * kSeriesPerWriter * kSamples});
  EXPECT_EQ(st.series_removed, collected.load());
}

TEST(HeadConcurrency, RacingCreatorsGetOneSeries) {
  constexpr int kThreads = 4;
  constexpr int kLabels = 200;
  Head head;
  std::latch start(kThreads);
  std::vector<std::vector<SeriesRef>> refs(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      for (int l = 0; l < kLabels; ++l)
        refs[i].push_back(
            head.get_or_create(LabelSet::from({{"__name__", "x"}, {"l", std::to_string(l)}})).ref);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 1; i < kThreads; ++i) EXPECT_EQ(refs[i], refs[0]);
  EXPECT_EQ(head.num_series(), std::size_t{kLabels});
  EXPECT_EQ(head.stats().series_created, std::uint64_t{kLabels});
}

TEST(HeadConcurrency, SeriesLimitHoldsUnderRacingCreators) {
  constexpr int kThreads = 4;
  Head head({.max_series = 100});
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      for (int l = 0; l < 100; ++l)
        head.get_or_create(LabelSet::from({{"t", std::to_string(i)}, {"l", std::to_string(l)}}));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(head.num_series(), 100u);
  EXPECT_EQ(head.stats().series, 100u);
  EXPECT_EQ(head.stats().series_limit_rejections, 300u);
}

}  // namespace
}  // namespace watch::tsdb
