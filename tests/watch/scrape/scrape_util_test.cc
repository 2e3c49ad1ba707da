// The scrape module's pure parts: target validation, instance and target
// labels, jitter offsets and the scrape schedule.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "watch/scrape/scraper.h"

namespace watch::scrape {
namespace {

using ::testing::HasSubstr;

TEST(Validate, AcceptsAGoodTarget) {
  EXPECT_EQ(validate({.name = "api", .metrics_url = "http://127.0.0.1:9464/metrics"}),
            std::nullopt);
}

TEST(Validate, NamesWhatIsWrong) {
  const TargetConfig good{.name = "api", .metrics_url = "http://h:1/metrics"};
  auto bad = [&](auto edit) {
    TargetConfig c = good;
    edit(c);
    return validate(c).value_or("");
  };
  EXPECT_THAT(bad([](auto& c) { c.name.clear(); }), HasSubstr("no name"));
  EXPECT_THAT(bad([](auto& c) { c.metrics_url = "h:1/metrics"; }),
              HasSubstr("invalid metrics_url"));
  EXPECT_THAT(bad([](auto& c) { c.ready_url = "nope"; }), HasSubstr("invalid ready_url"));
  EXPECT_THAT(bad([](auto& c) { c.interval_ms = 0; }), HasSubstr("interval_ms must be positive"));
  EXPECT_THAT(bad([](auto& c) { c.timeout_ms = -1; }), HasSubstr("timeout_ms must be positive"));
  EXPECT_EQ(bad([](auto& c) {
              c.interval_ms = 1000;
              c.timeout_ms = 2000;
            }),
            "target \"api\": timeout_ms 2000 is longer than interval_ms 1000");
  EXPECT_THAT(bad([](auto& c) { c.labels = {{"__x", "1"}}; }), HasSubstr("invalid label name"));
}

TEST(InstanceOf, IsHostAndPortOfTheUrl) {
  EXPECT_EQ(instance_of("http://127.0.0.1:9464/metrics"), "127.0.0.1:9464");
  EXPECT_EQ(instance_of("http://api.internal/metrics"), "api.internal:80");
  EXPECT_EQ(instance_of("https://api.internal/metrics"), "api.internal:443");
  EXPECT_EQ(instance_of("http://[::1]:9000/m"), "[::1]:9000");
  EXPECT_EQ(instance_of("http://[::1]/m"), "[::1]:80");
  EXPECT_EQ(instance_of("http://user:pw@h:1/m?x=1"), "h:1");
  EXPECT_EQ(instance_of("http://h:2?x"), "h:2");
  EXPECT_EQ(instance_of("no-scheme"), "");
}

TEST(TargetLabels, JobInstanceThenConfiguredLabelsWhichMayOverride) {
  EXPECT_EQ(target_labels({.name = "api", .metrics_url = "http://h:1/m", .labels = {{"env", "p"}}}),
            LabelSet::from({{"job", "api"}, {"instance", "h:1"}, {"env", "p"}}));
  EXPECT_EQ(target_labels({.name = "api",
                           .metrics_url = "http://h:1/m",
                           .labels = {{"instance", "api-1"}, {"job", "shop"}}}),
            LabelSet::from({{"job", "shop"}, {"instance", "api-1"}}));
}

TEST(Jitter, OffsetIsDeterministicAndWithinTheInterval) {
  const TargetConfig c{.name = "api", .metrics_url = "http://h:1/m", .interval_ms = 15000};
  const auto offset = scrape_offset_ms(c);
  EXPECT_EQ(scrape_offset_ms(c), offset);
  EXPECT_GE(offset, 0);
  EXPECT_LT(offset, 15000);
  // Only identity matters: timeouts and limits do not move a target.
  TargetConfig tuned = c;
  tuned.timeout_ms = 3000;
  tuned.sample_limit = 10;
  EXPECT_EQ(scrape_offset_ms(tuned), offset);
}

TEST(Jitter, OffsetsSpreadTargetsAndDependOnTheSeed) {
  std::set<std::int64_t> offsets;
  int seed_moves = 0;
  for (int i = 0; i < 200; ++i) {
    const TargetConfig c{
        .name = "svc-" + std::to_string(i), .metrics_url = "http://h:1/m", .interval_ms = 10000};
    const auto o = scrape_offset_ms(c);
    ASSERT_GE(o, 0);
    ASSERT_LT(o, 10000);
    offsets.insert(o);
    if (scrape_offset_ms(c, 42) != o) ++seed_moves;
  }
  EXPECT_GT(offsets.size(), 180u);
  EXPECT_GT(seed_moves, 190);
  // Buckets of a tenth of the interval each get some of the 200 targets.
  std::set<std::int64_t> tenths;
  for (auto o : offsets) tenths.insert(o / 1000);
  EXPECT_EQ(tenths.size(), 10u);
}

TEST(Jitter, NextScrapeTimeIsAlignedToTheOffset) {
  EXPECT_EQ(next_scrape_time_ms(100'000, 15'000, 4'000), 109'000);
  EXPECT_EQ(next_scrape_time_ms(109'000, 15'000, 4'000), 109'000);
  EXPECT_EQ(next_scrape_time_ms(109'001, 15'000, 4'000), 124'000);
  EXPECT_EQ(next_scrape_time_ms(0, 15'000, 0), 0);
  EXPECT_EQ(next_scrape_time_ms(-1, 1'000, 500), 500);
  for (std::int64_t now = 1767225600000; now < 1767225600000 + 20'000; now += 777) {
    const auto t = next_scrape_time_ms(now, 7'000, 1'234);
    EXPECT_GE(t, now);
    EXPECT_LT(t, now + 7'000);
    EXPECT_EQ(t % 7'000, 1'234);
  }
}

TEST(ScrapeTimestamp, WithinTheToleranceTheSlotElseTheStart) {
  constexpr std::int64_t kSlot = 1'767'225'600'000;
  EXPECT_EQ(scrape_timestamp_ms(kSlot, kSlot, 15'000), kSlot);
  EXPECT_EQ(scrape_timestamp_ms(kSlot + 1, kSlot, 15'000), kSlot);
  EXPECT_EQ(scrape_timestamp_ms(kSlot + 2, kSlot, 15'000), kSlot);  // Prometheus's 2 ms
  EXPECT_EQ(scrape_timestamp_ms(kSlot + 3, kSlot, 15'000), kSlot + 3);
  EXPECT_EQ(scrape_timestamp_ms(kSlot + 900, kSlot, 15'000), kSlot + 900);
  // Intervals of 200 ms and less are never aligned, as in Prometheus.
  EXPECT_EQ(scrape_timestamp_ms(kSlot + 1, kSlot, 200), kSlot + 1);
  EXPECT_EQ(scrape_timestamp_ms(kSlot + 1, kSlot, 201), kSlot);
}

TEST(TargetHealth, Names) {
  EXPECT_EQ(to_string(TargetHealth::kUnknown), "unknown");
  EXPECT_EQ(to_string(TargetHealth::kUp), "up");
  EXPECT_EQ(to_string(TargetHealth::kDown), "down");
}

}  // namespace
}  // namespace watch::scrape
