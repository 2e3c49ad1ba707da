// ScrapeManager with real threads, the real clock and short intervals
// (100 ms): schedules, on_scrape, apply() adding, removing and restarting
// targets with the right staleness markers, prompt stop, own metrics.
// Waits are on a condition variable fed by on_scrape, never fixed sleeps.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "firebreak/clock.h"
#include "firebreak/metrics.h"
#include "watch/scrape/scrape_server.h"
#include "watch/scrape/scraper.h"

namespace watch::scrape {
namespace {

using testing::Reply;
using testing::ScrapeServer;
using testing::series_named;

using namespace std::chrono_literals;

// Collects on_scrape calls; tests wait on it.
class ScrapeLog {
 public:
  void add(const TargetStatus& s) {
    std::lock_guard lock(mu_);
    events_.push_back(s);
    cv_.notify_all();
  }
  // Waits until `count` scrapes of `name` (with `interval_ms` when > 0) were reported.
  bool wait_for(const std::string& name, std::size_t count, std::int64_t interval_ms = 0) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return count_locked(name, interval_ms) >= count; });
  }
  std::vector<TargetStatus> of(const std::string& name) const {
    std::lock_guard lock(mu_);
    std::vector<TargetStatus> out;
    for (const auto& e : events_)
      if (e.config.name == name) out.push_back(e);
    return out;
  }

 private:
  std::size_t count_locked(const std::string& name, std::int64_t interval_ms) const {
    std::size_t n = 0;
    for (const auto& e : events_)
      if (e.config.name == name && (interval_ms == 0 || e.config.interval_ms == interval_ms)) ++n;
    return n;
  }
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<TargetStatus> events_;
};

TargetConfig fast(const ScrapeServer& server, std::string name, TargetConfig c = {}) {
  c.name = std::move(name);
  c.metrics_url = server.url("/metrics");
  c.interval_ms = c.interval_ms == 15'000 ? 100 : c.interval_ms;
  c.timeout_ms = std::min<std::int64_t>(c.interval_ms, 1000);
  return c;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             firebreak::Clock::system().wall_now().time_since_epoch())
      .count();
}

// Samples of the series `name` of target `job`.
std::vector<Sample> of_job(const tsdb::Head& head, std::string_view name, std::string_view job) {
  for (const auto& s : series_named(head, name))
    if (s.labels.get("job") == job) return s.samples;
  return {};
}

std::size_t stale_count(const std::vector<Sample>& samples) {
  std::size_t n = 0;
  for (const auto& s : samples) n += is_stale_nan(s.v) ? 1 : 0;
  return n;
}

TEST(ScrapeManager, ApplyAddsRemovesAndChangesTargets) {
  ScrapeServer server;
  tsdb::Head head;
  ScrapeManager manager(head, firebreak::Clock::system());

  manager.apply({fast(server, "a"), fast(server, "b")});
  auto s = manager.statuses();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].config.name, "a");
  EXPECT_EQ(s[1].config.name, "b");
  EXPECT_EQ(s[0].health, TargetHealth::kUnknown);
  EXPECT_EQ(s[0].offset_ms, scrape_offset_ms(fast(server, "a")));
  EXPECT_EQ(s[0].labels.get("instance"), server.instance());

  manager.apply({fast(server, "b"), fast(server, "c")});
  s = manager.statuses();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].config.name, "b");
  EXPECT_EQ(s[1].config.name, "c");

  manager.apply({fast(server, "b", {.interval_ms = 300}), fast(server, "c")});
  s = manager.statuses();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].config.interval_ms, 300);
}

TEST(ScrapeManager, ApplyIsAllOrNothing) {
  ScrapeServer server;
  tsdb::Head head;
  ScrapeManager manager(head, firebreak::Clock::system());
  manager.apply({fast(server, "a")});

  TargetConfig bad = fast(server, "b");
  bad.timeout_ms = bad.interval_ms + 1;
  EXPECT_THROW(manager.apply({fast(server, "c"), bad}), std::invalid_argument);
  EXPECT_THROW(manager.apply({fast(server, "c"), fast(server, "c")}), std::invalid_argument);

  const auto s = manager.statuses();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].config.name, "a");
}

TEST(ScrapeManager, ScrapesOnScheduleAndCallsOnScrapeAfterSamplesLand) {
  ScrapeServer server;
  server.set_metrics_body("m 1\n");
  tsdb::Head head;
  ScrapeLog log;
  std::atomic<int> seen_in_head{0};
  ScrapeManager manager(head, firebreak::Clock::system(), {.on_scrape = [&](const TargetStatus& s) {
                          for (const auto& smp : of_job(head, "m", s.config.name))
                            if (smp.t == s.last_scrape_ms) ++seen_in_head;
                          log.add(s);
                        }});
  const TargetConfig a = fast(server, "a");
  manager.apply({a});
  const std::int64_t started = wall_ms();
  manager.start();

  ASSERT_TRUE(log.wait_for("a", 3));

  const auto events = log.of("a");
  const std::int64_t first_slot = next_scrape_time_ms(started, a.interval_ms, scrape_offset_ms(a));
  for (std::size_t i = 0; i < events.size(); ++i) {
    // Never before its slot; one scrape a slot.
    EXPECT_GE(events[i].last_scrape_ms, first_slot + static_cast<std::int64_t>(i) * a.interval_ms);
    EXPECT_EQ(events[i].scrapes, i + 1);
    EXPECT_EQ(events[i].health, TargetHealth::kUp);
    EXPECT_EQ(events[i].last_samples, 1u);
  }
  EXPECT_EQ(seen_in_head.load(), static_cast<int>(events.size()));
  EXPECT_EQ(manager.statuses().at(0).health, TargetHealth::kUp);
}

TEST(ScrapeManager, StopIsPromptWhileLoopsWait) {
  ScrapeServer server;
  tsdb::Head head;
  ScrapeManager manager(head, firebreak::Clock::system());
  std::vector<TargetConfig> targets;
  for (int i = 0; i < 8; ++i) {
    TargetConfig c = fast(server, "t" + std::to_string(i), {.interval_ms = 3'600'000});
    targets.push_back(c);
  }
  manager.apply(targets);
  manager.start();
  const auto t0 = std::chrono::steady_clock::now();
  manager.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  manager.stop();  // idempotent
}

TEST(ScrapeManager, StopMarksEverySeriesStale) {
  ScrapeServer server;
  server.set_metrics_body("m 1\n");
  tsdb::Head head;
  ScrapeLog log;
  ScrapeManager manager(head, firebreak::Clock::system(),
                        {.on_scrape = [&](const TargetStatus& s) { log.add(s); }});
  manager.apply({fast(server, "a")});
  manager.start();
  ASSERT_TRUE(log.wait_for("a", 1));
  manager.stop();

  for (std::string_view name : {"m", "up", "scrape_duration_seconds", "scrape_samples_scraped"}) {
    const auto samples = of_job(head, name, "a");
    ASSERT_FALSE(samples.empty()) << name;
    EXPECT_TRUE(is_stale_nan(samples.back().v)) << name;
    EXPECT_EQ(stale_count(samples), 1u) << name;
  }
}

TEST(ScrapeManager, RemovedTargetsSeriesGoStaleOthersKeepRunning) {
  ScrapeServer server;
  server.set_metrics_body("m 1\n");
  tsdb::Head head;
  ScrapeLog log;
  ScrapeManager manager(head, firebreak::Clock::system(),
                        {.on_scrape = [&](const TargetStatus& s) { log.add(s); }});
  manager.apply({fast(server, "a"), fast(server, "b")});
  manager.start();
  ASSERT_TRUE(log.wait_for("a", 1));
  ASSERT_TRUE(log.wait_for("b", 1));

  manager.apply({fast(server, "a")});

  EXPECT_TRUE(is_stale_nan(of_job(head, "m", "b").back().v));
  EXPECT_TRUE(is_stale_nan(of_job(head, "up", "b").back().v));
  const std::size_t a_before = log.of("a").size();
  ASSERT_TRUE(log.wait_for("a", a_before + 1));  // a was not disturbed
  EXPECT_EQ(stale_count(of_job(head, "up", "a")), 0u);
  EXPECT_EQ(stale_count(of_job(head, "m", "a")), 0u);
  ASSERT_EQ(manager.statuses().size(), 1u);
}

TEST(ScrapeManager, ChangedTargetWithSameLabelsRestartsWithoutStaleness) {
  ScrapeServer server;
  server.set_metrics_body("m 1\n");
  tsdb::Head head;
  ScrapeLog log;
  ScrapeManager manager(head, firebreak::Clock::system(),
                        {.on_scrape = [&](const TargetStatus& s) { log.add(s); }});
  manager.apply({fast(server, "a")});
  manager.start();
  ASSERT_TRUE(log.wait_for("a", 1));

  manager.apply({fast(server, "a", {.interval_ms = 150})});
  ASSERT_TRUE(log.wait_for("a", 1, 150));

  EXPECT_EQ(stale_count(of_job(head, "up", "a")), 0u);
  EXPECT_EQ(stale_count(of_job(head, "m", "a")), 0u);
  const auto s = manager.statuses().at(0);
  EXPECT_EQ(s.config.interval_ms, 150);
  EXPECT_GE(s.scrapes, 2u);  // history carried over
}

TEST(ScrapeManager, ChangedTargetLabelsMarkTheOldSeriesStale) {
  ScrapeServer server;
  server.set_metrics_body("m 1\n");
  tsdb::Head head;
  ScrapeLog log;
  ScrapeManager manager(head, firebreak::Clock::system(),
                        {.on_scrape = [&](const TargetStatus& s) { log.add(s); }});
  manager.apply({fast(server, "a", {.labels = {{"env", "one"}}})});
  manager.start();
  ASSERT_TRUE(log.wait_for("a", 1));

  manager.apply({fast(server, "a", {.labels = {{"env", "two"}}})});
  std::size_t n = log.of("a").size();
  ASSERT_TRUE(log.wait_for("a", n + 1));

  for (const auto& s : series_named(head, "up")) {
    if (s.labels.get("env") == "one") {
      EXPECT_TRUE(is_stale_nan(s.samples.back().v));
    } else {
      EXPECT_EQ(stale_count(s.samples), 0u);
    }
  }
  EXPECT_EQ(series_named(head, "up").size(), 2u);
}

const firebreak::FamilySnapshot* family(const std::vector<firebreak::FamilySnapshot>& all,
                                        std::string_view name) {
  for (const auto& f : all)
    if (f.name == name) return &f;
  return nullptr;
}

std::optional<double> point(const firebreak::FamilySnapshot* f, std::string_view target) {
  if (!f) return std::nullopt;
  for (const auto& p : f->points)
    for (const auto& [k, v] : *p.labels)
      if (k == "target" && v == target)
        return f->type == firebreak::MetricType::kHistogram
                   ? static_cast<double>(p.bucket_counts.back())
                   : p.value;
  return std::nullopt;
}

TEST(ScrapeManager, ExposesItsOwnMetrics) {
  ScrapeServer good, bad;
  good.set_metrics_body("m 1\n");
  bad.set_metrics({.status = 500});
  tsdb::Head head;
  firebreak::Registry registry;
  ScrapeLog log;
  ScrapeManager manager(
      head, firebreak::Clock::system(),
      {.registry = &registry, .on_scrape = [&](const TargetStatus& s) { log.add(s); }});
  manager.apply({fast(good, "a"), fast(bad, "b")});
  manager.start();
  ASSERT_TRUE(log.wait_for("a", 1));
  ASSERT_TRUE(log.wait_for("b", 1));

  const auto b = log.of("b").back();
  EXPECT_EQ(b.health, TargetHealth::kDown);
  EXPECT_EQ(b.last_error, "server returned HTTP status 500");
  EXPECT_GE(b.failures, 1u);

  auto all = registry.collect();
  EXPECT_GE(point(family(all, "watch_scrapes"), "a").value_or(0), 1);
  EXPECT_EQ(point(family(all, "watch_scrape_failures"), "a").value_or(-1), 0);
  EXPECT_GE(point(family(all, "watch_scrape_failures"), "b").value_or(0), 1);
  EXPECT_GE(point(family(all, "watch_scrape_duration_seconds"), "a").value_or(0), 1);
  EXPECT_EQ(point(family(all, "watch_target_up"), "a"), 1);
  EXPECT_EQ(point(family(all, "watch_target_up"), "b"), 0);
  ASSERT_NE(family(all, "watch_targets"), nullptr);
  EXPECT_EQ(family(all, "watch_targets")->points.at(0).value, 2);

  manager.apply({fast(good, "a")});
  all = registry.collect();
  EXPECT_EQ(point(family(all, "watch_target_up"), "b"), std::nullopt);
  EXPECT_EQ(family(all, "watch_targets")->points.at(0).value, 1);
}

TEST(ScrapeManager, RestartsAfterStop) {
  ScrapeServer server;
  server.set_metrics_body("m 1\n");
  tsdb::Head head;
  ScrapeLog log;
  ScrapeManager manager(head, firebreak::Clock::system(),
                        {.on_scrape = [&](const TargetStatus& s) { log.add(s); }});
  manager.apply({fast(server, "a")});
  manager.start();
  ASSERT_TRUE(log.wait_for("a", 1));
  manager.stop();
  const std::size_t n = log.of("a").size();
  manager.start();
  ASSERT_TRUE(log.wait_for("a", n + 1));
  const auto last = log.of("a").back();
  EXPECT_TRUE(last.last_report.up) << last.last_report.error;
  EXPECT_EQ(last.last_report.out_of_order, 0u);
  EXPECT_EQ(of_job(head, "m", "a").back().v, 1);
}

}  // namespace
}  // namespace watch::scrape
