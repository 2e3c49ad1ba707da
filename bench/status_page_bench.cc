// The status page's overview, server side: what GET / costs with 100
// targets and 1,000 alerts, its eight PromQL queries included (run by the
// real engine over an hour of every target's series), beside the JSON that
// /api/v1/alerts and /api/v1/targets write for the same alerts and targets
// in the same run. Counters: the page's HTML bytes and the bytes of the
// files it loads once (CSS, script, uPlot), the page weight.
//
// Data: 100 targets in 100 services (40 APIs with a latency histogram of
// 3 routes x 2 status codes x 15 buckets, 40 workers with their progress,
// queue and heartbeat series, 20 others), 10 jobs with 100 check-ins each,
// 1,000 alerts with 8 labels and 3 annotations over the services.
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "watch/promql/engine.h"
#include "watch/web/status_assets.h"
#include "watch/web/status_page.h"

namespace {

using watch::Label;
using watch::LabelSet;
using watch::Sample;
using namespace watch::web;

constexpr int kServices = 100;
constexpr int kAlerts = 1000;
constexpr std::int64_t kStep = 15000;
constexpr std::int64_t kHour = 3600000;
constexpr std::int64_t kNow = kHour;

std::string workload_of(int i) {
  return i < 40 ? "api" : i < 80 ? "worker" : "";
}

const watch::promql::MemoryStorage& storage() {
  static const auto* s = [] {
    auto* st = new watch::promql::MemoryStorage;
    const char* buckets[] = {"0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5",
                             "0.75",  "1",    "2.5",   "5",    "7.5",   "10",  "+Inf"};
    std::vector<Sample> samples;
    auto series = [&](std::vector<Label> labels, auto value_at) {
      samples.clear();
      for (std::int64_t t = 0; t <= kHour; t += kStep) samples.push_back({t, value_at(t)});
      st->add(LabelSet::from(std::move(labels)), samples);
    };
    for (int i = 0; i < kServices; ++i) {
      const std::string job = "svc-" + std::to_string(i);
      const std::string inst = "10.0.0." + std::to_string(i) + ":9100";
      auto base = [&](const char* name) {
        return std::vector<Label>{{"__name__", name}, {"job", job}, {"instance", inst}};
      };
      series(base("up"), [](std::int64_t) { return 1.0; });
      if (workload_of(i) == "api") {
        for (const char* route : {"/orders", "/orders/{id}", "/health"}) {
          for (const char* code : {"200", "500"}) {
            double per_step = 0;
            for (int b = 0; b < 15; ++b) {
              per_step += b < 8 ? 3 : 0.5;
              auto labels = base("http_server_request_duration_seconds_bucket");
              labels.insert(
                  labels.end(),
                  {{"http_route", route}, {"http_response_status_code", code}, {"le", buckets[b]}});
              series(std::move(labels), [per_step](std::int64_t t) {
                return per_step * static_cast<double>(t / kStep);
              });
            }
            auto count = base("http_server_request_duration_seconds_count");
            count.insert(count.end(), {{"http_route", route}, {"http_response_status_code", code}});
            series(std::move(count), [per_step](std::int64_t t) {
              return per_step * static_cast<double>(t / kStep);
            });
          }
        }
      } else if (workload_of(i) == "worker") {
        for (const char* outcome : {"ok", "error", "retry"}) {
          auto labels = base("messaging_process_duration_seconds_count");
          labels.push_back({"outcome", outcome});
          series(std::move(labels), [](std::int64_t t) { return static_cast<double>(t / 1000); });
        }
        series(base("queue_depth"), [](std::int64_t t) { return static_cast<double>(t % 7); });
        series(base("queue_oldest_message_age_seconds"), [](std::int64_t) { return 3.0; });
        series(base("worker_heartbeat_timestamp_seconds"),
               [](std::int64_t t) { return static_cast<double>(t / 1000); });
      }
    }
    return st;
  }();
  return *s;
}

class BenchSource final : public StatusSource {
 public:
  BenchSource() : engine_(storage()) {
    for (int i = 0; i < kServices; ++i) {
      targets_.push_back({.job = "svc-" + std::to_string(i),
                          .workload = workload_of(i),
                          .instance = "10.0.0." + std::to_string(i) + ":9100",
                          .url = "http://10.0.0." + std::to_string(i) + ":9100/metrics",
                          .health = i % 17 == 0 ? "down" : "up",
                          .ready = i % 13 != 0,
                          .last_scrape_ms = kNow - 3000,
                          .last_duration_seconds = 0.004,
                          .latency_objective_seconds = 0.5});
    }
    for (int j = 0; j < 10; ++j) {
      StatusJob job{.name = "job-" + std::to_string(j),
                    .schedule = "0 2 * * *",
                    .time_zone = "UTC",
                    .grace_ms = 3'600'000,
                    .state = j == 3 ? "late" : "up",
                    .next_expected_ms = kNow + 60'000};
      for (int h = 0; h < 100; ++h)
        job.history.push_back(
            {.time_ms = kNow - (100 - h) * 60'000,
             .outcome = h % 2 ? "success" : "start",
             .duration_seconds = h % 2 ? std::optional<double>(12.5) : std::nullopt});
      jobs_.push_back(std::move(job));
    }
    for (int a = 0; a < kAlerts; ++a) {
      const int svc = a % kServices;
      alerts_.push_back(
          {.labels = LabelSet::from({{"alertname", a % 3 ? "ApiLatencyHigh" : "WorkerStalled"},
                                     {"job", "svc-" + std::to_string(svc)},
                                     {"instance", "10.0.0." + std::to_string(svc) + ":9100"},
                                     {"severity", a % 4 ? "page" : "ticket"},
                                     {"http_route", "/orders/" + std::to_string(a)},
                                     {"team", "team-" + std::to_string(a % 10)},
                                     {"env", "production"},
                                     {"region", "eu-west-1"}}),
           .annotations = {{"summary", "p95 of /orders above its objective on svc"},
                           {"description", "The 95th percentile has been above 500 ms for 10m."},
                           {"runbook_url", "https://runbooks.example.com/ApiLatencyHigh"}},
           .state = a % 5 ? "firing" : "pending",
           .active_at_ms = kNow - a * 1000,
           .value = 0.75});
    }
  }
  std::int64_t now_ms() const override { return kNow; }
  std::vector<StatusTarget> targets() const override { return targets_; }
  std::vector<StatusAlert> alerts() const override { return alerts_; }
  std::vector<StatusSilence> silences() const override { return {}; }
  std::vector<StatusRule> rules() const override { return {}; }
  std::vector<StatusJob> jobs() const override { return jobs_; }
  StatusQueryResult query(const std::string& expr, std::int64_t time_ms) const override {
    return status_query(engine_, expr, time_ms);
  }
  std::string create_silence(const std::vector<std::pair<std::string, std::string>>&, std::int64_t,
                             const std::string&, const std::string&) override {
    return "error: read-only";
  }
  std::string expire_silence(const std::string&) override { return "read-only"; }

 private:
  watch::promql::Engine engine_;
  std::vector<StatusTarget> targets_;
  std::vector<StatusAlert> alerts_;
  std::vector<StatusJob> jobs_;
};

const BenchSource& source() {
  static const BenchSource* s = new BenchSource;
  return *s;
}

void BM_StatusPage_Overview(benchmark::State& state) {
  const BenchSource& s = source();
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string html = render_overview(s, {});
    bytes = html.size();
    benchmark::DoNotOptimize(html);
  }
  std::size_t assets = 0;
  for (const EmbeddedFile& f : embedded_files()) assets += f.bytes.size();
  state.counters["html_bytes"] = static_cast<double>(bytes);
  state.counters["assets_bytes"] = static_cast<double>(assets);
}
BENCHMARK(BM_StatusPage_Overview)->Unit(benchmark::kMillisecond);

// The same alerts and targets as /api/v1/alerts and /api/v1/targets write
// them (nlohmann::json), without queries: the JSON a script would read.
void BM_Baseline_StatusPage_AlertsAndTargetsJson(benchmark::State& state) {
  const BenchSource& s = source();
  std::size_t bytes = 0;
  for (auto _ : state) {
    nlohmann::json alerts = nlohmann::json::array();
    for (const StatusAlert& a : s.alerts()) {
      nlohmann::json labels = nlohmann::json::object(), annotations = nlohmann::json::object();
      for (const Label& l : a.labels) labels[l.name] = l.value;
      for (const auto& [k, v] : a.annotations) annotations[k] = v;
      alerts.push_back({{"labels", std::move(labels)},
                        {"annotations", std::move(annotations)},
                        {"state", a.state},
                        {"activeAt", a.active_at_ms},
                        {"value", a.value}});
    }
    nlohmann::json targets = nlohmann::json::array();
    for (const StatusTarget& t : s.targets())
      targets.push_back({{"labels", {{"job", t.job}, {"instance", t.instance}}},
                         {"scrapeUrl", t.url},
                         {"health", t.health},
                         {"lastScrape", t.last_scrape_ms},
                         {"lastScrapeDuration", t.last_duration_seconds},
                         {"lastError", t.last_error}});
    std::string body =
        nlohmann::json{{"alerts", std::move(alerts)}, {"targets", std::move(targets)}}.dump();
    bytes = body.size();
    benchmark::DoNotOptimize(body);
  }
  state.counters["json_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Baseline_StatusPage_AlertsAndTargetsJson)->Unit(benchmark::kMillisecond);

}  // namespace
BENCHMARK_MAIN();
