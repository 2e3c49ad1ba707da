// ScrapeLoop against a real local HTTP server: formats, gzip, limits,
// failures with reasons, readiness probe, target labels, timestamps,
// staleness, head refusals, and a round trip through the kit's own Registry.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "firebreak/admin.h"
#include "firebreak/exposition.h"
#include "firebreak/log.h"
#include "firebreak/metrics.h"
#include "watch/scrape/scrape_server.h"
#include "watch/scrape/scraper.h"

namespace watch::scrape {
namespace {

using ::testing::HasSubstr;
using testing::kOpenMetricsType;
using testing::Reply;
using testing::samples_of;
using testing::ScrapeServer;
using testing::series_named;
using ::testing::StartsWith;

constexpr std::int64_t kT0 = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kStep = 15000;

TargetConfig target_for(const ScrapeServer& server, TargetConfig c = {}) {
  if (c.name.empty()) c.name = "svc";
  c.metrics_url = server.url("/metrics");
  return c;
}

LabelSet with_target(const ScrapeServer& server, std::initializer_list<Label> labels,
                     std::string job = "svc") {
  std::vector<Label> all(labels);
  all.push_back({"job", job});
  all.push_back({"instance", server.instance()});
  return LabelSet::from(std::move(all));
}

std::optional<double> value_at(const tsdb::Head& head, const LabelSet& labels, std::int64_t t) {
  for (const auto& s : head.select(tsdb::MatcherSet(), t, t))
    if (s.labels == labels)
      for (const auto& smp : s.samples)
        if (smp.t == t) return smp.v;
  return std::nullopt;
}

bool stale_at(const tsdb::Head& head, std::string_view name, std::int64_t t) {
  for (const auto& s : samples_of(head, name))
    if (s.t == t) return is_stale_nan(s.v);
  return false;
}

TEST(ScrapeLoop, ScrapesTextFormatWithTargetLabelsAndReportSeries) {
  ScrapeServer server;
  server.set_metrics_body("# TYPE requests counter\nrequests_total{code=\"200\"} 7\nqueue 3\n");
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);

  const ScrapeReport r = loop.scrape_once(kT0);

  EXPECT_TRUE(r.up) << r.error;
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.samples_scraped, 2u);
  EXPECT_EQ(r.samples_appended, 2u);
  EXPECT_EQ(r.series_added, 2u);
  EXPECT_EQ(
      value_at(head, with_target(server, {{"__name__", "requests_total"}, {"code", "200"}}), kT0),
      7);
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "queue"}}), kT0), 3);
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "up"}}), kT0), 1);
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "scrape_samples_scraped"}}), kT0), 2);
  const auto duration =
      value_at(head, with_target(server, {{"__name__", "scrape_duration_seconds"}}), kT0);
  ASSERT_TRUE(duration.has_value());
  EXPECT_GE(*duration, 0);
  EXPECT_LT(*duration, 5);
  // No ready_url: no probe series.
  EXPECT_TRUE(series_named(head, "probe_success").empty());
}

TEST(ScrapeLoop, ScrapesOpenMetricsByContentType) {
  ScrapeServer server;
  server.set_metrics_body(
      "# TYPE jobs counter\njobs_total 4\n# TYPE lat histogram\nlat_bucket{le=\"1\"} 2\n"
      "lat_bucket{le=\"+Inf\"} 3\nlat_count 3\nlat_sum 1.5\n# EOF\n",
      kOpenMetricsType);
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);

  const ScrapeReport r = loop.scrape_once(kT0);

  ASSERT_TRUE(r.up) << r.error;
  EXPECT_EQ(r.samples_scraped, 5u);
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "lat_bucket"}, {"le", "1.0"}}), kT0),
            2);
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "jobs_total"}}), kT0), 4);
}

TEST(ScrapeLoop, OpenMetricsBodyWithoutEofFailsWhenServedAsOpenMetrics) {
  ScrapeServer server;
  server.set_metrics_body("jobs_total 4\n", kOpenMetricsType);
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);
  const ScrapeReport r = loop.scrape_once(kT0);
  EXPECT_FALSE(r.up);
  EXPECT_THAT(r.error, HasSubstr("EOF"));
}

TEST(ScrapeLoop, UnknownContentTypeFallsBackToText) {
  ScrapeServer server;
  server.set_metrics_body("a 1\n", "application/octet-stream");
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);
  EXPECT_TRUE(loop.scrape_once(kT0).up);
  EXPECT_EQ(samples_of(head, "a").size(), 1u);
}

TEST(ScrapeLoop, SendsPrometheusAcceptAndGzipAcceptEncoding) {
  ScrapeServer server;
  server.set_metrics_body("a 1\n");
  tsdb::Head head;
  ScrapeLoop loop(target_for(server, {.timeout_ms = 2500}), head);
  loop.scrape_once(kT0);

  std::map<std::string, std::string> h;
  for (const auto& [k, v] : server.last_headers()) {
    std::string key = k;
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    h[key] = v;
  }
  EXPECT_EQ(h["accept"], kScrapeAccept);
  EXPECT_EQ(h["accept-encoding"], "gzip");
  EXPECT_EQ(h["x-prometheus-scrape-timeout-seconds"], "2.5");
}

TEST(ScrapeLoop, DecodesGzipBody) {
  ScrapeServer server;
  server.set_metrics(
      {.body = firebreak::gzip_compress("a 1\nb 2\n"), .headers = {{"Content-Encoding", "gzip"}}});
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);
  const ScrapeReport r = loop.scrape_once(kT0);
  ASSERT_TRUE(r.up) << r.error;
  EXPECT_EQ(r.samples_scraped, 2u);
  EXPECT_EQ(samples_of(head, "b").at(0).v, 2);
}

TEST(ScrapeLoop, GzipBombFailsOnDecompressedSize) {
  ScrapeServer server;
  // 16 MiB of comment bytes compress to a few KiB; the limit is 1 MiB.
  std::string bomb = "# " + std::string(16u << 20, 'x') + "\na 1\n";
  const std::string compressed = firebreak::gzip_compress(bomb);
  ASSERT_LT(compressed.size(), 100u * 1024);
  server.set_metrics({.body = compressed, .headers = {{"Content-Encoding", "gzip"}}});
  tsdb::Head head;
  ScrapeLoop loop(target_for(server, {.body_size_limit = 1u << 20}), head);

  const ScrapeReport r = loop.scrape_once(kT0);

  EXPECT_FALSE(r.up);
  EXPECT_THAT(r.error, HasSubstr("body size limit of 1048576 bytes exceeded"));
  EXPECT_TRUE(samples_of(head, "a").empty());
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "up"}}), kT0), 0);
}

TEST(ScrapeLoop, BadGzipFailsWithReason) {
  ScrapeServer server;
  server.set_metrics({.body = "a 1\n", .headers = {{"Content-Encoding", "gzip"}}});
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);
  const ScrapeReport r = loop.scrape_once(kT0);
  EXPECT_FALSE(r.up);
  EXPECT_THAT(r.error, StartsWith("invalid gzip body"));
}

TEST(ScrapeLoop, TruncatedGzipFails) {
  ScrapeServer server;
  std::string gz = firebreak::gzip_compress("a 1\nb 2\nc 3\n");
  gz.resize(gz.size() - 6);
  server.set_metrics({.body = gz, .headers = {{"Content-Encoding", "gzip"}}});
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);
  const ScrapeReport r = loop.scrape_once(kT0);
  EXPECT_FALSE(r.up);
  EXPECT_THAT(r.error, StartsWith("invalid gzip body"));
  EXPECT_TRUE(samples_of(head, "a").empty());
}

TEST(ScrapeLoop, UnsupportedContentEncodingFails) {
  ScrapeServer server;
  server.set_metrics({.body = "a 1\n", .headers = {{"Content-Encoding", "br"}}});
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);
  EXPECT_EQ(loop.scrape_once(kT0).error, "unsupported Content-Encoding \"br\"");
}

TEST(ScrapeLoop, BodyOverLimitFails) {
  ScrapeServer server;
  std::string body;
  for (int i = 0; i < 200; ++i) body += "metric_" + std::to_string(i) + " 1\n";
  server.set_metrics_body(body);
  tsdb::Head head;
  ScrapeLoop loop(target_for(server, {.body_size_limit = 1000}), head);
  const ScrapeReport r = loop.scrape_once(kT0);
  EXPECT_FALSE(r.up);
  EXPECT_THAT(r.error, HasSubstr("too large"));
  EXPECT_TRUE(samples_of(head, "metric_0").empty());
}

TEST(ScrapeLoop, TimeoutFailsTheScrape) {
  ScrapeServer server;
  server.set_metrics({.body = "a 1\n", .delay = std::chrono::milliseconds(600)});
  tsdb::Head head;
  ScrapeLoop loop(target_for(server, {.timeout_ms = 200}), head);

  const ScrapeReport r = loop.scrape_once(kT0);

  EXPECT_FALSE(r.up);
  EXPECT_THAT(r.error, HasSubstr("timed out after 200 ms"));
  EXPECT_GE(r.duration_seconds, 0.19);
  EXPECT_LT(r.duration_seconds, 0.55);
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "up"}}), kT0), 0);
}

TEST(ScrapeLoop, Non2xxStatusFails) {
  ScrapeServer server;
  server.set_metrics({.status = 500, .body = "a 1\n"});
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);
  const ScrapeReport r = loop.scrape_once(kT0);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error, "server returned HTTP status 500");
  EXPECT_EQ(r.samples_scraped, 0u);
  EXPECT_TRUE(samples_of(head, "a").empty());
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "scrape_samples_scraped"}}), kT0), 0);
}

TEST(ScrapeLoop, UnreachableTargetFails) {
  std::string url;
  {
    ScrapeServer gone;
    url = gone.url("/metrics");
  }
  tsdb::Head head;
  ScrapeLoop loop({.name = "svc", .metrics_url = url, .timeout_ms = 1000}, head);
  const ScrapeReport r = loop.scrape_once(kT0);
  EXPECT_FALSE(r.up);
  EXPECT_THAT(r.error, HasSubstr("connect to"));
}

TEST(ScrapeLoop, MalformedBodyFailsWithPositionAndAppendsNothing) {
  ScrapeServer server;
  server.set_metrics_body("a 1\nb 2\nc{x=\"1\" 3\n");
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);

  const ScrapeReport r = loop.scrape_once(kT0);

  EXPECT_FALSE(r.up);
  EXPECT_THAT(r.error, StartsWith("line 3, column "));
  EXPECT_EQ(r.samples_appended, 0u);
  EXPECT_TRUE(samples_of(head, "a").empty());  // all or nothing
  EXPECT_TRUE(samples_of(head, "b").empty());
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "up"}}), kT0), 0);
}

TEST(ScrapeLoop, SampleLimitFailsTheScrape) {
  ScrapeServer server;
  server.set_metrics_body("a 1\nb 2\nc 3\n");
  tsdb::Head head;
  ScrapeLoop loop(target_for(server, {.sample_limit = 2}), head);
  const ScrapeReport r = loop.scrape_once(kT0);
  EXPECT_FALSE(r.up);
  EXPECT_THAT(r.error, HasSubstr("sample limit of 2 exceeded"));
  EXPECT_TRUE(samples_of(head, "a").empty());
}

TEST(ScrapeLoop, LabelLimitsComeFromParseOptions) {
  ScrapeServer server;
  server.set_metrics_body("a{x=\"1\",y=\"2\",z=\"3\"} 1\n");
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head, {.parse = {.label_limit = 2}});
  const ScrapeReport r = loop.scrape_once(kT0);
  EXPECT_FALSE(r.up);
  EXPECT_THAT(r.error, HasSubstr("more than the limit of 2 labels"));
}

TEST(ScrapeLoop, ReadinessProbeSuccess) {
  ScrapeServer server;
  server.set_metrics_body("a 1\n");
  tsdb::Head head;
  TargetConfig c = target_for(server);
  c.ready_url = server.url("/ready");
  ScrapeLoop loop(c, head);

  const ScrapeReport r = loop.scrape_once(kT0);

  EXPECT_TRUE(r.probed);
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.probe_error, "");
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "probe_success"}}), kT0), 1);
  EXPECT_TRUE(value_at(head, with_target(server, {{"__name__", "probe_duration_seconds"}}), kT0));
}

TEST(ScrapeLoop, ReadinessProbe503IsNotReadyButTargetStaysUp) {
  ScrapeServer server;
  server.set_metrics_body("a 1\n");
  server.set_ready({.status = 503, .body = "failed\n"});
  tsdb::Head head;
  TargetConfig c = target_for(server);
  c.ready_url = server.url("/ready");
  ScrapeLoop loop(c, head);

  const ScrapeReport r = loop.scrape_once(kT0);

  EXPECT_TRUE(r.up);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.probe_error, "server returned HTTP status 503");
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "probe_success"}}), kT0), 0);
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "up"}}), kT0), 1);
}

TEST(ScrapeLoop, ReadinessProbeUnreachableIsNotReady) {
  std::string ready_url;
  {
    ScrapeServer gone;
    ready_url = gone.url("/ready");
  }
  ScrapeServer server;
  server.set_metrics_body("a 1\n");
  tsdb::Head head;
  TargetConfig c = target_for(server);
  c.ready_url = ready_url;
  ScrapeLoop loop(c, head);

  const ScrapeReport r = loop.scrape_once(kT0);

  EXPECT_TRUE(r.up);
  EXPECT_FALSE(r.ready);
  EXPECT_THAT(r.probe_error, HasSubstr("connect to"));
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "probe_success"}}), kT0), 0);
}

TEST(ScrapeLoop, ClashingScrapedLabelsAreExportedWithoutHonorLabels) {
  ScrapeServer server;
  server.set_metrics_body(
      "m{job=\"batch\",instance=\"pushed:1\",env=\"x\",exported_env=\"y\"} 1\n");
  tsdb::Head head;
  ScrapeLoop loop(target_for(server, {.labels = {{"env", "prod"}}}), head);

  ASSERT_TRUE(loop.scrape_once(kT0).up);

  const auto s = series_named(head, "m");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].labels, LabelSet::from({{"__name__", "m"},
                                         {"job", "svc"},
                                         {"instance", server.instance()},
                                         {"env", "prod"},
                                         {"exported_job", "batch"},
                                         {"exported_instance", "pushed:1"},
                                         {"exported_env", "y"},
                                         {"exported_exported_env", "x"}}));
}

TEST(ScrapeLoop, HonorLabelsKeepsScrapedLabels) {
  ScrapeServer server;
  server.set_metrics_body("m{job=\"batch\",instance=\"pushed:1\"} 1\nn 2\n");
  tsdb::Head head;
  ScrapeLoop loop(target_for(server, {.honor_labels = true, .labels = {{"env", "prod"}}}), head);

  ASSERT_TRUE(loop.scrape_once(kT0).up);

  auto m = series_named(head, "m");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].labels,
            LabelSet::from(
                {{"__name__", "m"}, {"job", "batch"}, {"instance", "pushed:1"}, {"env", "prod"}}));
  // Labels the sample does not have still come from the target.
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "n"}, {"env", "prod"}}), kT0), 2);
  // Report series always carry the target's own labels.
  EXPECT_EQ(value_at(head, with_target(server, {{"__name__", "up"}, {"env", "prod"}}), kT0), 1);
}

TEST(ScrapeLoop, ExplicitTimestampsAreKeptWhenHonored) {
  ScrapeServer server;
  const std::int64_t pushed = kT0 - 60000;
  server.set_metrics_body("m 5 " + std::to_string(pushed) + "\nn 6\n");
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);

  ASSERT_TRUE(loop.scrape_once(kT0).up);

  EXPECT_EQ(samples_of(head, "m"), (std::vector<Sample>{{pushed, 5}}));
  EXPECT_EQ(samples_of(head, "n"), (std::vector<Sample>{{kT0, 6}}));
}

TEST(ScrapeLoop, ExplicitTimestampsAreReplacedWhenNotHonored) {
  ScrapeServer server;
  server.set_metrics_body("m 5 " + std::to_string(kT0 - 60000) + "\n");
  tsdb::Head head;
  ScrapeLoop loop(target_for(server, {.honor_timestamps = false}), head);
  ASSERT_TRUE(loop.scrape_once(kT0).up);
  EXPECT_EQ(samples_of(head, "m"), (std::vector<Sample>{{kT0, 5}}));
}

TEST(ScrapeLoop, DisappearingSeriesGetsStaleMarker) {
  ScrapeServer server;
  server.set_metrics_body("a 1\nb 2\n");
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);
  ASSERT_TRUE(loop.scrape_once(kT0).up);

  server.set_metrics_body("a 1\n");
  const ScrapeReport r = loop.scrape_once(kT0 + kStep);

  EXPECT_TRUE(r.up);
  EXPECT_EQ(r.stale_markers, 1u);
  EXPECT_TRUE(stale_at(head, "b", kT0 + kStep));
  EXPECT_EQ(samples_of(head, "a").back(), (Sample{kT0 + kStep, 1}));
  EXPECT_EQ(samples_of(head, "up").back(), (Sample{kT0 + kStep, 1}));

  // Gone stays gone: no second marker.
  EXPECT_EQ(loop.scrape_once(kT0 + 2 * kStep).stale_markers, 0u);
  // And a series that comes back is appended again.
  server.set_metrics_body("a 1\nb 3\n");
  ASSERT_TRUE(loop.scrape_once(kT0 + 3 * kStep).up);
  EXPECT_EQ(samples_of(head, "b").back(), (Sample{kT0 + 3 * kStep, 3}));
}

TEST(ScrapeLoop, FailedScrapeMarksEverySeriesOfTheLastSuccessfulOneStale) {
  ScrapeServer server;
  server.set_metrics_body("a 1\nb 2\n");
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);
  ASSERT_TRUE(loop.scrape_once(kT0).up);

  server.set_metrics({.status = 500});
  const ScrapeReport failed = loop.scrape_once(kT0 + kStep);

  EXPECT_FALSE(failed.up);
  EXPECT_EQ(failed.stale_markers, 2u);
  EXPECT_TRUE(stale_at(head, "a", kT0 + kStep));
  EXPECT_TRUE(stale_at(head, "b", kT0 + kStep));
  EXPECT_EQ(samples_of(head, "up").back(), (Sample{kT0 + kStep, 0}));  // never stale
  EXPECT_EQ(samples_of(head, "scrape_samples_scraped").back(), (Sample{kT0 + kStep, 0}));

  EXPECT_EQ(loop.scrape_once(kT0 + 2 * kStep).stale_markers, 0u);  // already marked

  server.set_metrics_body("a 1\n");
  ASSERT_TRUE(loop.scrape_once(kT0 + 3 * kStep).up);
  EXPECT_EQ(samples_of(head, "a").back(), (Sample{kT0 + 3 * kStep, 1}));
}

TEST(ScrapeLoop, SeriesWithExplicitTimestampsGetNoStaleMarkers) {
  ScrapeServer server;
  server.set_metrics_body("m 5 " + std::to_string(kT0 - 1000) + "\n");
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);
  ASSERT_TRUE(loop.scrape_once(kT0).up);
  server.set_metrics_body("");
  EXPECT_EQ(loop.scrape_once(kT0 + kStep).stale_markers, 0u);
  EXPECT_EQ(samples_of(head, "m").size(), 1u);
}

TEST(ScrapeLoop, MarkStaleMarksScrapedAndReportSeries) {
  ScrapeServer server;
  server.set_metrics_body("a 1\n");
  tsdb::Head head;
  TargetConfig c = target_for(server);
  c.ready_url = server.url("/ready");
  ScrapeLoop loop(c, head);
  ASSERT_TRUE(loop.scrape_once(kT0).up);

  // a, up, scrape_duration_seconds, scrape_samples_scraped,
  // scrape_samples_post_metric_relabeling, scrape_series_added, probe_success,
  // probe_duration_seconds
  EXPECT_EQ(loop.mark_stale(kT0 + 5000), 8u);

  for (std::string_view name : {"a", "up", "scrape_duration_seconds", "scrape_samples_scraped",
                                "scrape_samples_post_metric_relabeling", "scrape_series_added",
                                "probe_success", "probe_duration_seconds"})
    EXPECT_TRUE(stale_at(head, name, kT0 + 5000)) << name;
  EXPECT_EQ(loop.mark_stale(kT0 + 6000), 0u);  // idempotent
}

TEST(ScrapeLoop, HeadRefusalsAreCountedNotFatal) {
  ScrapeServer server;
  server.set_metrics_body("a 1\n");
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);
  ASSERT_TRUE(loop.scrape_once(kT0 + kStep).up);

  server.set_metrics_body("a 2\na 3\n");  // the same series twice, and before the last sample
  const ScrapeReport back = loop.scrape_once(kT0);
  EXPECT_TRUE(back.up);
  EXPECT_EQ(back.out_of_order, 2u + 5u);  // a twice, and the five report series
  EXPECT_EQ(back.samples_appended, 0u);

  const ScrapeReport dup = loop.scrape_once(kT0 + 2 * kStep);
  EXPECT_TRUE(dup.up);
  EXPECT_EQ(dup.samples_appended, 1u);
  EXPECT_EQ(dup.duplicate_timestamp, 1u);
  EXPECT_EQ(samples_of(head, "a").back(), (Sample{kT0 + 2 * kStep, 2}));
}

TEST(ScrapeLoop, SeriesLimitOfTheHeadIsCounted) {
  ScrapeServer server;
  server.set_metrics_body("a 1\nb 2\nc 3\n");
  tsdb::Head head({.max_series = 2});
  ScrapeLoop loop(target_for(server), head);
  const ScrapeReport r = loop.scrape_once(kT0);
  EXPECT_TRUE(r.up);
  EXPECT_EQ(r.samples_appended, 2u);
  EXPECT_EQ(r.series_limit, 1u + 5u);  // c, and the five report series
}

TEST(ScrapeLoop, MetricRelabelingDropsAndRewritesSeriesOncePerNewSeries) {
  ScrapeServer server;
  server.set_metrics_body(
      "go_gc_duration_seconds 1\n"
      "http_requests_total{path=\"/a\",code=\"200\"} 5\n"
      "http_requests_total{path=\"/b\",code=\"500\"} 1\n");
  tsdb::Head head;
  TargetConfig c = target_for(server);
  std::vector<relabel::Rule> rules;
  for (const relabel::RelabelSpec& spec :
       {relabel::RelabelSpec{.source_labels = {"__name__"}, .regex = "go_.*", .action = "drop"},
        relabel::RelabelSpec{.source_labels = {"code"},
        .regex = "(\\d)..",
        .target_label = "code_class",
        .replacement = "${1}xx"},
        relabel::RelabelSpec{.regex = "code", .action = "labeldrop"}}) {
    std::string why;
    auto rule = relabel::compile(spec, &why);
    ASSERT_TRUE(rule) << why;
    rules.push_back(*rule);
  }
  c.metric_relabel = metric_relabel(rules);
  ScrapeLoop loop(c, head);
  const ScrapeReport r = loop.scrape_once(kT0);
  ASSERT_TRUE(r.up) << r.error;
  EXPECT_EQ(r.samples_scraped, 3u);
  EXPECT_EQ(r.samples_post_relabel, 2u);
  EXPECT_EQ(r.samples_appended, 2u);
  EXPECT_TRUE(samples_of(head, "go_gc_duration_seconds").empty());
  const auto series = series_named(head, "http_requests_total");
  ASSERT_EQ(series.size(), 2u);
  std::set<std::string> classes;
  for (const auto& s : series) {
    EXPECT_FALSE(s.labels.has("code"));
    classes.insert(std::string(s.labels.get("code_class")));
  }
  EXPECT_EQ(classes, (std::set<std::string>{"2xx", "5xx"}));
  // The next scrape keeps dropping the line without looking at it again, and
  // the report series say so.
  const ScrapeReport again = loop.scrape_once(kT0 + kStep);
  EXPECT_EQ(again.samples_post_relabel, 2u);
  EXPECT_EQ(again.samples_appended, 2u);
  EXPECT_EQ(again.series_added, 0u);
  EXPECT_EQ(samples_of(head, "scrape_samples_post_metric_relabeling").back().v, 2);
  EXPECT_EQ(samples_of(head, "scrape_series_added").front().v, 3);
  EXPECT_EQ(samples_of(head, "scrape_series_added").back().v, 0);
  // A dropped line that goes missing gets no staleness marker (it has no series).
  server.set_metrics_body("http_requests_total{path=\"/a\",code=\"200\"} 6\n");
  EXPECT_EQ(loop.scrape_once(kT0 + 2 * kStep).stale_markers, 1u);
}

TEST(ScrapeLoop, TakeOverCarriesStalenessAcrossARestart) {
  ScrapeServer server;
  server.set_metrics_body("a 1\nb 2\n");
  tsdb::Head head;
  ScrapeLoop old(target_for(server), head);
  ASSERT_TRUE(old.scrape_once(kT0).up);

  ScrapeLoop same(target_for(server, {.interval_ms = 30000}), head);
  ASSERT_TRUE(same.take_over(old));
  EXPECT_EQ(old.mark_stale(kT0 + 1), 0u);  // nothing left behind
  server.set_metrics_body("a 1\n");
  EXPECT_EQ(same.scrape_once(kT0 + kStep).stale_markers, 1u);
  EXPECT_TRUE(stale_at(head, "b", kT0 + kStep));

  ScrapeLoop relabelled(target_for(server, {.labels = {{"env", "x"}}}), head);
  EXPECT_FALSE(relabelled.take_over(same));
}

TEST(ScrapeLoop, InvalidConfigThrows) {
  tsdb::Head head;
  EXPECT_THROW(ScrapeLoop({.name = "x", .metrics_url = "ftp://h/metrics"}, head),
               std::invalid_argument);
}

// A failure is logged once per change of reason (a target down for an hour
// is one line, not one a scrape); recovery is logged once.
TEST(ScrapeLoop, LogsFailuresOncePerReasonAndRecovery) {
  namespace fs = std::filesystem;
  const fs::path file =
      fs::temp_directory_path() / ("firebreak-scrape-log-" + std::to_string(::getpid()) + ".log");
  firebreak::configure_logging({.level = firebreak::LogLevel::kInfo,
                                .format = firebreak::LogFormat::kJson,
                                .file = file.string()});
  ScrapeServer server;
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);
  server.set_metrics({.status = 500});
  loop.scrape_once(kT0);
  loop.scrape_once(kT0 + kStep);
  server.set_metrics({.status = 404});
  loop.scrape_once(kT0 + 2 * kStep);
  server.set_metrics_body("a 1\n");
  loop.scrape_once(kT0 + 3 * kStep);
  loop.scrape_once(kT0 + 4 * kStep);
  firebreak::flush_logs();
  firebreak::configure_logging(
      {.level = firebreak::LogLevel::kInfo, .format = firebreak::LogFormat::kJson});

  std::vector<std::string> failed, recovered;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"event\":\"scrape_failed\"") != std::string::npos) failed.push_back(line);
    if (line.find("\"event\":\"scrape_recovered\"") != std::string::npos) recovered.push_back(line);
  }
  fs::remove(file);
  ASSERT_EQ(failed.size(), 2u) << ::testing::PrintToString(failed);
  EXPECT_THAT(failed[0], HasSubstr("\"level\":\"warn\""));
  EXPECT_THAT(failed[0], HasSubstr("\"target\":\"svc\""));
  EXPECT_THAT(failed[0], HasSubstr("\"error\":\"server returned HTTP status 500\""));
  EXPECT_THAT(failed[1], HasSubstr("\"error\":\"server returned HTTP status 404\""));
  EXPECT_EQ(recovered.size(), 1u);
}

// The kit's own /metrics (AdminServer + Registry, OpenMetrics and gzip by
// negotiation) scraped back: the values come out as they went in.
TEST(ScrapeLoop, RoundTripsTheKitsOwnExposition) {
  firebreak::ManualClock clock;
  firebreak::Registry registry({.clock = &clock});
  registry.counter({.name = "orders_created_total", .help = "Orders.", .labels = {"channel"}})
      .labels("web")
      .inc(3);
  registry.gauge({.name = "queue_depth", .help = "Depth \"quoted\"\nline."}).labels().set(-2.5);
  auto& h = registry.histogram(
      {.name = "op_duration_seconds", .help = "Op.", .unit = "seconds", .buckets = {0.1, 1}});
  h.labels().observe(0.05);
  h.labels().observe(0.5);
  h.labels().observe(5);
  firebreak::AdminServer admin({.address = "127.0.0.1:0", .registry = &registry});
  admin.start();
  const std::string port = std::to_string(admin.port());

  tsdb::Head head;
  ScrapeLoop loop({.name = "kit", .metrics_url = "http://127.0.0.1:" + port + "/metrics"}, head);
  const ScrapeReport r = loop.scrape_once(kT0);
  ASSERT_TRUE(r.up) << r.error;

  auto at = [&](std::initializer_list<Label> labels) {
    std::vector<Label> all(labels);
    all.push_back({"job", "kit"});
    all.push_back({"instance", "127.0.0.1:" + port});
    return value_at(head, LabelSet::from(std::move(all)), kT0);
  };
  EXPECT_EQ(at({{"__name__", "orders_created_total"}, {"channel", "web"}}), 3);
  EXPECT_EQ(at({{"__name__", "queue_depth"}}), -2.5);
  EXPECT_EQ(at({{"__name__", "op_duration_seconds_bucket"}, {"le", "0.1"}}), 1);
  EXPECT_EQ(at({{"__name__", "op_duration_seconds_bucket"}, {"le", "1.0"}}), 2);
  EXPECT_EQ(at({{"__name__", "op_duration_seconds_bucket"}, {"le", "+Inf"}}), 3);
  EXPECT_EQ(at({{"__name__", "op_duration_seconds_count"}}), 3);
  EXPECT_DOUBLE_EQ(*at({{"__name__", "op_duration_seconds_sum"}}), 5.55);
  EXPECT_EQ(r.samples_scraped, r.samples_appended);
}

// The same registry in the text format: the same series and values.
TEST(ScrapeLoop, RoundTripsTheKitsTextExposition) {
  firebreak::Registry registry;
  registry.counter({.name = "orders_created_total", .help = "Orders.", .labels = {"channel"}})
      .labels("we\"b\\")
      .inc(3);
  registry.histogram({.name = "op_duration_seconds", .help = "Op.", .buckets = {1}})
      .labels()
      .observe(0.5);
  std::string body;
  firebreak::write_exposition(registry.collect(), firebreak::ExpositionFormat::kPrometheusText,
                              body);
  ScrapeServer server;
  server.set_metrics_body(body);
  tsdb::Head head;
  ScrapeLoop loop(target_for(server), head);
  ASSERT_TRUE(loop.scrape_once(kT0).up);
  EXPECT_EQ(
      value_at(head,
               with_target(server, {{"__name__", "orders_created_total"}, {"channel", "we\"b\\"}}),
               kT0),
      3);
  EXPECT_EQ(
      value_at(head,
               with_target(server, {{"__name__", "op_duration_seconds_bucket"}, {"le", "1.0"}}),
               kT0),
      1);
}

}  // namespace
}  // namespace watch::scrape
