// Per-request overhead of the HTTP middleware (workload/http.h), each figure
// beside its baseline measured in the same run:
//   BM_Baseline_HttpMetricsOnly     what the RED metrics alone cost: the
//                                   active gauge up and down, the duration
//                                   histogram's child looked up (3 labels) and
//                                   observed, two monotonic clock reads
//   BM_Http_MetricsOnly             begin()+end() with tracing off and the
//                                   access log off: request id, log scope,
//                                   non-recording span on top of the baseline
//   BM_Http_MetricsAndLog           + the `http_request` access-log line
//                                   (formatted on the caller, written to /dev/null)
//   BM_Http_Full                    + a sampled server span continuing the
//                                   request's traceparent, through the batch
//                                   processor to an exporter that discards
// Each request carries a traceparent and an X-Request-Id, as behind a proxy.
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string_view>

#include "firebreak/log.h"
#include "firebreak/metrics.h"
#include "firebreak/trace.h"
#include "firebreak/workload/http.h"

namespace {

using namespace firebreak;

class DiscardingExporter final : public SpanExporter {
 public:
  ExportResult export_spans(std::span<const SpanData> spans) override {
    benchmark::DoNotOptimize(spans.data());
    return {};
  }
};

void configure_logs() {
  LogOptions options{.level = LogLevel::kInfo,
                     .format = LogFormat::kJson,
                     .queue_bytes = 4 << 20,
                     .overflow = LogOverflow::kBlock};
  options.file = "/dev/null";
  configure_logging(options);
  set_log_identity({.service = "shop-api", .version = "1.2.0", .env = "bench", .workload = "api"});
}

struct Request {
  std::string_view operator()(std::string_view name) const {
    if (name == "traceparent") return "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    if (name == "X-Request-Id") return "req-7f3a9c";
    return {};
  }
};

const Tracer& off_tracer() {
  static const Tracer* t = new Tracer(TracerOptions{});  // no processor: nothing recorded
  return *t;
}

std::shared_ptr<BatchSpanProcessor>& processor() {
  static auto* p = new std::shared_ptr<BatchSpanProcessor>(
      std::make_shared<BatchSpanProcessor>(std::make_shared<DiscardingExporter>()));
  return *p;
}

const Tracer& sampled_tracer() {
  static const Tracer* t = new Tracer(TracerOptions{
      .sampler = Sampler::parent_based(Sampler::always_on()), .processor = processor()});
  return *t;
}

void BM_Baseline_HttpMetricsOnly(benchmark::State& state) {
  Registry registry;
  auto& duration = registry.histogram(
      {.name = "http_server_request_duration_seconds",
       .help = "h",
       .labels = {"http_request_method", "http_route", "http_response_status_code"},
       .unit = "seconds"});
  Gauge active = registry
                     .gauge({.name = "http_server_active_requests",
                             .help = "h",
                             .labels = {"http_request_method"}})
                     .labels("GET");
  const Clock& clock = Clock::system();
  for (auto _ : state) {
    const auto start = clock.mono_now();
    active.inc();
    const double seconds = std::chrono::duration<double>(clock.mono_now() - start).count();
    duration.labels("GET", "/orders/{id}", "200").observe(seconds);
    active.dec();
  }
  state.SetItemsProcessed(state.iterations());
}

void run_middleware(benchmark::State& state, const Tracer& tracer, bool access_log) {
  configure_logs();
  Registry registry;
  HttpObserverOptions options{.tracer = &tracer};
  options.access_log = access_log;
  HttpObserver http(registry, options);
  Request request;
  const std::uint64_t written_before = log_records_written(LogLevel::kInfo);
  for (auto _ : state) {
    HttpRequestScope scope = http.begin({.method = "GET",
                                         .route = "/orders/{id}",
                                         .target = "/orders/o-17",
                                         .peer = "10.0.0.7:51234",
                                         .headers = request});
    benchmark::DoNotOptimize(scope.request_id().data());
    scope.end(200, 128);
  }
  flush_logs();
  state.counters["log_lines"] =
      static_cast<double>(log_records_written(LogLevel::kInfo) - written_before);
  state.SetItemsProcessed(state.iterations());
}

void BM_Http_MetricsOnly(benchmark::State& state) {
  run_middleware(state, off_tracer(), false);
}

void BM_Http_MetricsAndLog(benchmark::State& state) {
  run_middleware(state, off_tracer(), true);
}

void BM_Http_Full(benchmark::State& state) {
  const std::uint64_t dropped = processor()->dropped();
  const std::uint64_t exported = processor()->exported();
  run_middleware(state, sampled_tracer(), true);
  processor()->force_flush(std::chrono::seconds(10));
  state.counters["spans_dropped"] = static_cast<double>(processor()->dropped() - dropped);
  state.counters["spans_exported"] = static_cast<double>(processor()->exported() - exported);
}

BENCHMARK(BM_Baseline_HttpMetricsOnly);
BENCHMARK(BM_Http_MetricsOnly);
BENCHMARK(BM_Http_MetricsAndLog);
BENCHMARK(BM_Http_Full);

}  // namespace

BENCHMARK_MAIN();
