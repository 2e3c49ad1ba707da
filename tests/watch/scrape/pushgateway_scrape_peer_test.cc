// Peer test: watch scrapes a real Prometheus Pushgateway (Debian's
// prometheus-pushgateway), as a Pushgateway-style target: with honor_labels
// the pushed groups keep their job and instance; without, the scraped ones
// become exported_job / exported_instance, as Prometheus does.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>

#include "firebreak/http_client.h"
#include "support/child_process.h"
#include "watch/scrape/scraper.h"
#include "watch/tsdb/head.h"
#include "workload/support.h"

namespace watch::scrape {
namespace {

using namespace std::chrono_literals;

class PushgatewayScrapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::uint16_t port = firebreak::test::closed_port();
    base_ = "http://127.0.0.1:" + std::to_string(port);
    gateway_.emplace(std::vector<std::string>{
        FIREBREAK_PUSHGATEWAY, "--web.listen-address=127.0.0.1:" + std::to_string(port),
        "--persistence.file=", "--log.level=warn"});
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (client_.get(base_ + "/-/ready", {}, 1000ms).ok()) break;
      ASSERT_TRUE(gateway_->running()) << "pushgateway exited";
      std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(client_.get(base_ + "/-/ready").ok()) << "pushgateway not ready on " << base_;
    // What a nightly job pushes with any Prometheus client.
    const auto r = client_.put(base_ + "/metrics/job/nightly/instance/db1",
                               "# TYPE items_processed gauge\nitems_processed 42\n"
                               "# TYPE job_runs_total counter\njob_runs_total{outcome=\"ok\"} 3\n",
                               {{"Content-Type", "text/plain; version=0.0.4"}});
    ASSERT_TRUE(r.ok()) << r.status << " " << r.error << " " << r.body;
  }

  // A scrape loop on the gateway's /metrics, into head_.
  ScrapeLoop gateway_loop(bool honor_labels) {
    return ScrapeLoop({.name = "pushgateway",
                       .metrics_url = base_ + "/metrics",
                       .interval_ms = 1000,
                       .timeout_ms = 1000,
                       .honor_labels = honor_labels},
                      head_);
  }

  // The value of the newest sample of the one series matching `labels`.
  std::optional<double> value(const std::vector<Matcher>& matchers) const {
    std::optional<double> out;
    std::size_t series = 0;
    head_.select(tsdb::MatcherSet::must_compile(matchers), 0, INT64_MAX,
                 [&](const LabelSet&, std::span<const Sample> samples) {
                   ++series;
                   if (!samples.empty()) out = samples.back().v;
                   return true;
                 });
    EXPECT_LE(series, 1u);
    return out;
  }

  std::string base_;
  firebreak::HttpClient client_;
  std::optional<firebreak::test::ChildProcess> gateway_;
  tsdb::Head head_;
};

TEST_F(PushgatewayScrapeTest, WithHonorLabelsPushedGroupsKeepTheirJobAndInstance) {
  ScrapeLoop loop = gateway_loop(/*honor_labels=*/true);
  const ScrapeReport r = loop.scrape_once(1'767'225'600'000);
  ASSERT_TRUE(r.up) << r.error;
  EXPECT_GT(r.samples_scraped, 2u);
  using Op = Matcher::Op;
  EXPECT_EQ(value({{"__name__", Op::kEqual, "items_processed"},
                   {"job", Op::kEqual, "nightly"},
                   {"instance", Op::kEqual, "db1"}}),
            42);
  EXPECT_EQ(value({{"__name__", Op::kEqual, "job_runs_total"},
                   {"job", Op::kEqual, "nightly"},
                   {"outcome", Op::kEqual, "ok"}}),
            3);
  // The gateway's own bookkeeping per group, as the Job* rules of a
  // Prometheus set-up would read it.
  EXPECT_TRUE(value({{"__name__", Op::kEqual, "push_time_seconds"}, {"job", Op::kEqual, "nightly"}})
                  .has_value());
  // The gateway's own families come from the Go client library (summaries,
  // histograms, gauges): parsed whole, whichever format it negotiated.
  EXPECT_TRUE(value({{"__name__", Op::kEqual, "go_goroutines"}, {"job", Op::kEqual, "pushgateway"}})
                  .has_value());
  EXPECT_TRUE(value({{"__name__", Op::kEqual, "go_gc_duration_seconds_count"},
                     {"job", Op::kEqual, "pushgateway"}})
                  .has_value());
  // The scrape's own series carry the target's labels.
  EXPECT_EQ(value({{"__name__", Op::kEqual, "up"}, {"job", Op::kEqual, "pushgateway"}}), 1);
}

TEST_F(PushgatewayScrapeTest, WithoutHonorLabelsScrapedJobBecomesExportedJob) {
  ScrapeLoop loop = gateway_loop(/*honor_labels=*/false);
  const ScrapeReport r = loop.scrape_once(1'767'225'600'000);
  ASSERT_TRUE(r.up) << r.error;
  using Op = Matcher::Op;
  EXPECT_EQ(value({{"__name__", Op::kEqual, "items_processed"},
                   {"job", Op::kEqual, "pushgateway"},
                   {"exported_job", Op::kEqual, "nightly"},
                   {"exported_instance", Op::kEqual, "db1"}}),
            42);
}

TEST_F(PushgatewayScrapeTest, ADeletedGroupGoesStaleAtTheNextScrape) {
  ScrapeLoop loop = gateway_loop(/*honor_labels=*/true);
  ASSERT_TRUE(loop.scrape_once(1'767'225'600'000).up);
  ASSERT_EQ(client_.request("DELETE", base_ + "/metrics/job/nightly/instance/db1").status, 202);
  // 202: the gateway queues the deletion; wait until its /metrics shows it.
  for (int i = 0; i < 250; ++i) {
    if (client_.get(base_ + "/metrics").body.find("items_processed{") == std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  const ScrapeReport r = loop.scrape_once(1'767'225'601'000);
  ASSERT_TRUE(r.up) << r.error;
  EXPECT_GT(r.stale_markers, 0u);
  const auto v = value({{"__name__", Matcher::Op::kEqual, "items_processed"}});
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(is_stale_nan(*v)) << "the last sample is a staleness marker";
}

}  // namespace
}  // namespace watch::scrape
