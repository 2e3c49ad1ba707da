#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "firebreak/metrics.h"

namespace firebreak {
namespace {

TEST(Counter, IncrementsByOneAndByAmount) {
  Registry r;
  Counter c = r.counter({.name = "c", .help = "h"}).labels();
  c.inc();
  c.inc(2);
  c.inc(0.25);
  EXPECT_DOUBLE_EQ(c.value(), 3.25);
}

TEST(Counter, IgnoresNegativeAndNaNIncrements) {
  Registry r;
  Counter c = r.counter({.name = "c", .help = "h"}).labels();
  c.inc(5);
  c.inc(-1);
  c.inc(NAN);
  c.inc(-INFINITY);
  EXPECT_EQ(c.value(), 5);
}

TEST(Counter, DefaultHandleRecordsHarmlessly) {
  Counter c;
  Histogram h;
  Gauge g;
  c.inc();
  h.observe(1);
  g.set(3);
  Registry r;
  EXPECT_TRUE(r.collect().empty());
}

TEST(Gauge, SetIncDec) {
  Registry r;
  Gauge g = r.gauge({.name = "g", .help = "h"}).labels();
  g.set(10);
  g.inc();
  g.dec(3.5);
  EXPECT_DOUBLE_EQ(g.value(), 7.5);
  ManualClock clock;
  g.set_to_current_time(clock);
  EXPECT_DOUBLE_EQ(g.value(), clock.wall_seconds());
}

TEST(Histogram, CountsIntoUpperInclusiveBuckets) {
  Registry r;
  Histogram h = r.histogram({.name = "h", .help = "h", .buckets = {1, 2, 5}}).labels();
  for (double v : {0.5, 1.0, 1.5, 2.0, 4.0, 5.0, 9.0}) h.observe(v);
  h.observe(NAN);  // ignored
  auto f = r.collect().at(0);
  const auto& p = f.points.at(0);
  EXPECT_EQ(p.bucket_counts, (std::vector<std::uint64_t>{2, 4, 6, 7}));
  EXPECT_DOUBLE_EQ(p.sum, 23.0);
  EXPECT_EQ(h.count(), 7u);
  EXPECT_DOUBLE_EQ(h.sum(), 23.0);
}

TEST(Histogram, UsesDesignDefaultBuckets) {
  Registry r;
  r.histogram({.name = "d_seconds", .help = "h"}).labels().observe(0.3);
  auto f = r.collect().at(0);
  EXPECT_EQ(f.bounds, (std::vector<double>{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1,
                                           2.5, 5, 7.5, 10}));
  EXPECT_EQ(f.points[0].bucket_counts[7], 1u);  // 0.3 <= 0.5
  EXPECT_EQ(f.points[0].bucket_counts[6], 0u);
}

TEST(Histogram, ScopedTimerObserves) {
  Registry r;
  Histogram h = r.histogram({.name = "t", .help = "h"}).labels();
  { ScopedTimer timer(h); }
  EXPECT_EQ(h.count(), 1u);
}

// More threads than exclusive shards, so the shared shard (atomic
// read-modify-write) and the leased ones are both exercised; threads come and
// go so leases are returned and reused.
TEST(Concurrency, ExactTotalsFromManyThreads) {
  Registry r;
  Counter c = r.counter({.name = "c", .help = "h"}).labels();
  Counter fractional = r.counter({.name = "f", .help = "h"}).labels();
  Histogram h = r.histogram({.name = "h", .help = "h", .buckets = {1, 2}}).labels();
  auto& dyn = r.counter({.name = "d", .help = "h", .labels = {"k"}});
  constexpr int kThreads = 40;
  constexpr int kPerThread = 50000;
  for (int round = 0; round < 2; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          c.inc();
          fractional.inc(0.5);
          h.observe(i % 3);
          dyn.labels(std::to_string(t % 4)).inc();
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  const double total = 2.0 * kThreads * kPerThread;
  EXPECT_EQ(c.value(), total);
  EXPECT_EQ(fractional.value(), total / 2);
  EXPECT_EQ(h.count(), static_cast<std::uint64_t>(total));
  double dyn_total = 0;
  for (int k = 0; k < 4; ++k) dyn_total += dyn.labels(std::to_string(k)).value();
  EXPECT_EQ(dyn_total, total);
}

TEST(Concurrency, ScrapeWhileRecordingSeesMonotonicCounts) {
  Registry r;
  Counter c = r.counter({.name = "c", .help = "h"}).labels();
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop.load()) c.inc();
  });
  double last = 0;
  for (int i = 0; i < 200; ++i) {
    const double now = r.collect().at(0).points.at(0).value;
    ASSERT_GE(now, last);
    last = now;
  }
  stop = true;
  writer.join();
}

}  // namespace
}  // namespace firebreak
