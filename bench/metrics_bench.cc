// Recording and scrape costs of the metrics core, each beside the baseline it
// is judged against: a relaxed fetch_add on one shared atomic variable.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "firebreak/exposition.h"
#include "firebreak/metrics.h"

namespace {

using firebreak::Registry;

// One shared variable: what a naive counter costs, and what it costs when two
// threads fight over its cache line.
alignas(64) std::atomic<std::uint64_t> shared_counter{0};

void BM_Baseline_AtomicFetchAdd(benchmark::State& state) {
  for (auto _ : state) shared_counter.fetch_add(1, std::memory_order_relaxed);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Baseline_AtomicFetchAdd)->Threads(1)->Threads(2)->UseRealTime();

Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

void BM_Counter_Inc(benchmark::State& state) {
  static firebreak::Counter c =
      registry().counter({.name = "bench_inc_total", .help = "h"}).labels();
  for (auto _ : state) c.inc();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Counter_Inc)->Threads(1)->Threads(2)->UseRealTime();

void BM_Histogram_Observe(benchmark::State& state) {
  static firebreak::Histogram h =
      registry().histogram({.name = "bench_observe_seconds", .help = "h"}).labels();
  // Typical request latencies: most land in the low buckets, some further up.
  static constexpr double kValues[8] = {0.003, 0.012, 0.02, 0.04, 0.08, 0.2, 0.6, 3.0};
  std::size_t i = 0;
  for (auto _ : state) h.observe(kValues[i++ & 7]);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Histogram_Observe)->Threads(1)->Threads(2)->UseRealTime();

// What HTTP middleware does when the status is known only at the end: look up
// the child by 3 label values (it exists), then record.
void BM_Counter_LabelLookup3(benchmark::State& state) {
  static auto& family = registry().counter(
      {.name = "bench_requests_total",
       .help = "h",
       .labels = {"http_request_method", "http_route", "http_response_status_code"}});
  static const bool primed = [] {
    for (const char* status : {"200", "201", "404", "500"})
      family.labels("GET", "/orders/{id}", status).inc();
    return true;
  }();
  benchmark::DoNotOptimize(primed);
  const std::string method = "GET", route = "/orders/{id}", status = "200";
  for (auto _ : state) family.labels(method, route, status).inc();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Counter_LabelLookup3)->Threads(1)->Threads(2)->UseRealTime();

void scrape(benchmark::State& state, const Registry& r) {
  std::string body;
  for (auto _ : state) {
    body.clear();
    firebreak::write_exposition(r.collect(), firebreak::ExpositionFormat::kPrometheusText, body);
    benchmark::DoNotOptimize(body.data());
  }
  state.counters["bytes"] = static_cast<double>(body.size());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}

void BM_Scrape_10kCounters(benchmark::State& state) {
  static Registry* r = [] {
    auto* reg = new Registry;
    auto& f = reg->counter({.name = "bench_scrape_requests_total",
                            .help = "Requests by route and status.",
                            .labels = {"http_route", "http_response_status_code"}});
    for (int route = 0; route < 1000; ++route) {
      for (int status = 0; status < 10; ++status) {
        f.labels("/route/" + std::to_string(route), std::to_string(200 + status))
            .inc(route * 7 + status);
      }
    }
    return reg;
  }();
  scrape(state, *r);
}
BENCHMARK(BM_Scrape_10kCounters)->Unit(benchmark::kMillisecond);

void BM_Scrape_1kHistograms(benchmark::State& state) {
  static Registry* r = [] {
    auto* reg = new Registry;
    auto& f = reg->histogram({.name = "bench_scrape_duration_seconds",
                              .help = "Latency by route.",
                              .labels = {"http_route"}});
    for (int route = 0; route < 1000; ++route) {
      auto h = f.labels("/route/" + std::to_string(route));
      for (int i = 0; i < 20; ++i) h.observe(0.001 * (route % 50) * i);
    }
    return reg;
  }();
  scrape(state, *r);
}
BENCHMARK(BM_Scrape_1kHistograms)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
