// PromQL: parsing and evaluating the rule pack's expressions over 100
// targets' worth of series, each beside the cost of just selecting the same
// samples from the same storage in the same run (the least any engine must
// do), so the ratio is the engine's own overhead.
//
// Data: 100 targets (job svc-0..99), each with up, service_ready,
// process_start_time_seconds, worker_last_success_timestamp_seconds,
// queue_depth, and an HTTP latency histogram (3 routes x 2 status codes x
// 15 buckets = 90 series); one hour of samples every 15 s: 9,500 series,
// 2.3 million samples, in a MemoryStorage.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "watch/promql/engine.h"
#include "watch/promql/parser.h"

namespace {

using namespace watch::promql;
using watch::LabelSet;
using watch::Matcher;
using watch::Sample;

constexpr int kTargets = 100;
constexpr std::int64_t kStep = 15000;
constexpr std::int64_t kHour = 3600000;
constexpr std::int64_t kNow = kHour;

constexpr const char* kLatency =
    "histogram_quantile(0.95, sum by (le, http_route) "
    "(rate(http_server_request_duration_seconds_bucket[5m]))) > 0.5";
constexpr const char* kWorkerStalled =
    "time() - worker_last_success_timestamp_seconds > 600 and queue_depth > 0";
constexpr const char* kNeverReady =
    "max_over_time(service_ready[10m]) == 0 and (time() - process_start_time_seconds) > 120";

const MemoryStorage& storage() {
  static const MemoryStorage* s = [] {
    auto* st = new MemoryStorage;
    const char* buckets[] = {"0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5",
                             "0.75",  "1",    "2.5",   "5",    "7.5",   "10",  "+Inf"};
    const char* routes[] = {"/orders", "/orders/{id}", "/health"};
    const char* codes[] = {"200", "500"};
    std::vector<Sample> samples;
    auto series = [&](std::vector<watch::Label> labels, auto value_at) {
      samples.clear();
      for (std::int64_t t = 0; t <= kHour; t += kStep) samples.push_back({t, value_at(t)});
      st->add(LabelSet::from(std::move(labels)), samples);
    };
    for (int i = 0; i < kTargets; ++i) {
      const std::string job = "svc-" + std::to_string(i);
      const std::string inst =
          "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ":9100";
      auto base = [&](const char* name) {
        return std::vector<watch::Label>{{"__name__", name}, {"job", job}, {"instance", inst}};
      };
      series(base("up"), [](std::int64_t) { return 1.0; });
      series(base("service_ready"),
             [i](std::int64_t t) { return i % 10 == 0 && t > 600000 ? 0.0 : 1.0; });
      series(base("process_start_time_seconds"), [](std::int64_t) { return 0.0; });
      series(base("worker_last_success_timestamp_seconds"),
             [i](std::int64_t t) { return static_cast<double>(i % 7 == 0 ? 600 : t / 1000); });
      series(base("queue_depth"),
             [i](std::int64_t t) { return static_cast<double>((t / kStep + i) % 5); });
      for (const char* route : routes) {
        for (const char* code : codes) {
          double per_step = 0;
          for (int b = 0; b < 15; ++b) {
            per_step += b < 8 ? 3 + (i % 3) : 0.5;
            auto labels = base("http_server_request_duration_seconds_bucket");
            labels.push_back({"http_request_method", "GET"});
            labels.push_back({"http_route", route});
            labels.push_back({"http_response_status_code", code});
            labels.push_back({"le", buckets[b]});
            const double rate = per_step;
            series(std::move(labels),
                   [rate](std::int64_t t) { return rate * static_cast<double>(t / kStep); });
          }
        }
      }
    }
    return st;
  }();
  return *s;
}

Engine& engine() {
  static Engine* e = new Engine(storage());
  return *e;
}

// The least any engine must do for a selector: visit every matching series
// and touch each sample in the window.
void select_all(const std::vector<Matcher>& matchers, std::int64_t mint, std::int64_t maxt,
                benchmark::State& state) {
  double sum = 0;
  std::size_t n = 0;
  storage().select(matchers, mint, maxt, [&](const LabelSet& labels, std::span<const Sample> s) {
    for (const auto& x : s) sum += x.v;
    n += s.size() + labels.size();
    return true;
  });
  benchmark::DoNotOptimize(sum);
  benchmark::DoNotOptimize(n);
  (void)state;
}

Matcher name_is(const char* name) {
  return Matcher{"__name__", Matcher::Op::kEqual, name};
}

void eval_parsed(benchmark::State& state, const char* query) {
  const ParseResult parsed = parse(query);
  std::size_t results = 0;
  for (auto _ : state) {
    QueryResult r = engine().instant_query(*parsed.expr, kNow);
    if (!r.ok()) state.SkipWithError(r.error->message.c_str());
    results = std::get<Vector>(*r.value).size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["results"] = static_cast<double>(results);
}

// --- Parsing -----------------------------------------------------------------

void BM_Parse_Latency(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(parse(kLatency));
  state.SetBytesProcessed(state.iterations() *
                          static_cast<std::int64_t>(std::string_view(kLatency).size()));
}
BENCHMARK(BM_Parse_Latency);

void BM_Parse_RulePack3(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse(kLatency));
    benchmark::DoNotOptimize(parse(kWorkerStalled));
    benchmark::DoNotOptimize(parse(kNeverReady));
  }
}
BENCHMARK(BM_Parse_RulePack3);

// --- ApiLatencyHigh: 9,000 bucket series, 5m rate ----------------------------

void BM_Baseline_SelectLatency(benchmark::State& state) {
  const std::vector<Matcher> m = {name_is("http_server_request_duration_seconds_bucket")};
  for (auto _ : state) select_all(m, kNow - 300000, kNow, state);
}
BENCHMARK(BM_Baseline_SelectLatency)->Unit(benchmark::kMillisecond);

void BM_Eval_Latency(benchmark::State& state) {
  eval_parsed(state, kLatency);
}
BENCHMARK(BM_Eval_Latency)->Unit(benchmark::kMillisecond);

// --- WorkerStalled -------------------------------------------------------------

void BM_Baseline_SelectWorkerStalled(benchmark::State& state) {
  const std::vector<Matcher> a = {name_is("worker_last_success_timestamp_seconds")};
  const std::vector<Matcher> b = {name_is("queue_depth")};
  for (auto _ : state) {
    select_all(a, kNow - 300000, kNow, state);
    select_all(b, kNow - 300000, kNow, state);
  }
}
BENCHMARK(BM_Baseline_SelectWorkerStalled)->Unit(benchmark::kMicrosecond);

void BM_Eval_WorkerStalled(benchmark::State& state) {
  eval_parsed(state, kWorkerStalled);
}
BENCHMARK(BM_Eval_WorkerStalled)->Unit(benchmark::kMicrosecond);

// --- ServiceNeverReady ---------------------------------------------------------

void BM_Baseline_SelectNeverReady(benchmark::State& state) {
  const std::vector<Matcher> a = {name_is("service_ready")};
  const std::vector<Matcher> b = {name_is("process_start_time_seconds")};
  for (auto _ : state) {
    select_all(a, kNow - 600000, kNow, state);
    select_all(b, kNow - 300000, kNow, state);
  }
}
BENCHMARK(BM_Baseline_SelectNeverReady)->Unit(benchmark::kMicrosecond);

void BM_Eval_NeverReady(benchmark::State& state) {
  eval_parsed(state, kNeverReady);
}
BENCHMARK(BM_Eval_NeverReady)->Unit(benchmark::kMicrosecond);

// --- The three together, parsing included (as a one-off API query) ------------

void BM_Baseline_SelectRulePack3(benchmark::State& state) {
  const std::vector<Matcher> lat = {name_is("http_server_request_duration_seconds_bucket")};
  const std::vector<Matcher> w = {name_is("worker_last_success_timestamp_seconds")};
  const std::vector<Matcher> q = {name_is("queue_depth")};
  const std::vector<Matcher> r = {name_is("service_ready")};
  const std::vector<Matcher> p = {name_is("process_start_time_seconds")};
  for (auto _ : state) {
    select_all(lat, kNow - 300000, kNow, state);
    select_all(w, kNow - 300000, kNow, state);
    select_all(q, kNow - 300000, kNow, state);
    select_all(r, kNow - 600000, kNow, state);
    select_all(p, kNow - 300000, kNow, state);
  }
}
BENCHMARK(BM_Baseline_SelectRulePack3)->Unit(benchmark::kMillisecond);

void BM_Query_RulePack3(benchmark::State& state) {
  for (auto _ : state) {
    for (const char* q : {kLatency, kWorkerStalled, kNeverReady}) {
      QueryResult r = engine().instant_query(q, kNow);
      if (!r.ok()) state.SkipWithError(r.error->message.c_str());
      benchmark::DoNotOptimize(r);
    }
  }
}
BENCHMARK(BM_Query_RulePack3)->Unit(benchmark::kMillisecond);

// --- A status-page chart: one hour at 15 s resolution (241 steps) -------------

void BM_Baseline_SelectLatencyHour(benchmark::State& state) {
  const std::vector<Matcher> m = {name_is("http_server_request_duration_seconds_bucket"),
                                  Matcher{"job", Matcher::Op::kEqual, "svc-7"}};
  for (auto _ : state) select_all(m, 0, kHour, state);
}
BENCHMARK(BM_Baseline_SelectLatencyHour)->Unit(benchmark::kMicrosecond);

void BM_RangeQuery_LatencyHour(benchmark::State& state) {
  const ParseResult parsed = parse(
      "histogram_quantile(0.95, sum by (le, http_route) "
      "(rate(http_server_request_duration_seconds_bucket{job=\"svc-7\"}[5m])))");
  for (auto _ : state) {
    QueryResult r = engine().range_query(*parsed.expr, 0, kHour, kStep);
    if (!r.ok()) state.SkipWithError(r.error->message.c_str());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_RangeQuery_LatencyHour)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
