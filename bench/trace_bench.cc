// Span costs on the calling thread, each beside a baseline measured in the
// same run: a sampled span goes through the batch processor (lock-free ring,
// background export thread) to an exporter that discards; an unsampled span
// only gets ids. The baseline of a sampled span is the two wall-clock reads
// it cannot avoid (start and end times).
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "firebreak/trace.h"
#include "trace/otlp_json.h"

namespace {

using namespace firebreak;

class DiscardingExporter final : public SpanExporter {
 public:
  ExportResult export_spans(std::span<const SpanData> spans) override {
    benchmark::DoNotOptimize(spans.data());
    return {};
  }
};

std::shared_ptr<BatchSpanProcessor> processor() {
  // OpenTelemetry's default batch options: queue 2048, batches of 512, 5 s.
  static auto* p = new std::shared_ptr<BatchSpanProcessor>(
      std::make_shared<BatchSpanProcessor>(std::make_shared<DiscardingExporter>()));
  return *p;
}

Tracer& tracer(const Sampler& sampler) {
  static std::map<std::string, Tracer*> tracers;
  Tracer*& t = tracers[sampler.description()];
  if (!t) t = new Tracer(TracerOptions{.sampler = sampler, .processor = processor()});
  return *t;
}

void report(benchmark::State& state, std::uint64_t dropped_before, std::uint64_t exported_before) {
  processor()->force_flush(std::chrono::seconds(10));
  state.counters["dropped"] = static_cast<double>(processor()->dropped() - dropped_before);
  state.counters["exported"] = static_cast<double>(processor()->exported() - exported_before);
  state.SetItemsProcessed(state.iterations());
}

// A server span's usual three attributes.
inline void three_attributes(Span& span) {
  span.set_attribute("http.request.method", "GET");
  span.set_attribute("http.route", "/orders/{id}");
  span.set_attribute("http.response.status_code", 200);
}

void BM_Baseline_TwoClockReads(benchmark::State& state) {
  for (auto _ : state) {
    auto start = std::chrono::system_clock::now();
    benchmark::DoNotOptimize(start);
    auto end = std::chrono::system_clock::now();
    benchmark::DoNotOptimize(end);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Baseline_TwoClockReads);

// What the cheapest span needs: one random span id.
void BM_Baseline_SpanIdRandom(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(SpanId::random());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Baseline_SpanIdRandom);

// Every 1024 spans the export thread is let to catch up, outside the timed
// region: the figure is the caller's cost of spans that are all exported
// (dropped=0), not of spans dropped because a benchmark loop outpaces any
// exporter (see BM_Span_Sampled_Saturated for that).
constexpr int kPace = 1024;

void BM_Span_Sampled(benchmark::State& state) {
  Tracer& t = tracer(Sampler::parent_based(Sampler::always_on()));
  const auto dropped = processor()->dropped(), exported = processor()->exported();
  int n = 0;
  for (auto _ : state) {
    Span span = t.start_span("GET /orders/{id}", {.kind = SpanKind::kServer});
    three_attributes(span);
    span.end();
    if (++n == kPace) {
      state.PauseTiming();
      processor()->force_flush(std::chrono::seconds(10));
      state.ResumeTiming();
      n = 0;
    }
  }
  report(state, dropped, exported);
}
BENCHMARK(BM_Span_Sampled);

// Without pacing: the loop ends spans faster than the export thread drains
// them, so most are dropped (and counted); the cost of a drop, on a full queue.
void BM_Span_Sampled_Saturated(benchmark::State& state) {
  Tracer& t = tracer(Sampler::parent_based(Sampler::always_on()));
  const auto dropped = processor()->dropped(), exported = processor()->exported();
  for (auto _ : state) {
    Span span = t.start_span("GET /orders/{id}", {.kind = SpanKind::kServer});
    three_attributes(span);
    span.end();
  }
  report(state, dropped, exported);
}
BENCHMARK(BM_Span_Sampled_Saturated);

// A root span the sampler drops (OTEL_TRACES_SAMPLER=always_off, or a ratio).
void BM_Span_Unsampled(benchmark::State& state) {
  Tracer& t = tracer(Sampler::always_off());
  for (auto _ : state) {
    Span span = t.start_span("GET /orders/{id}", {.kind = SpanKind::kServer});
    three_attributes(span);
    span.end();
    benchmark::DoNotOptimize(span.context());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Span_Unsampled);

// A child of the current span when the caller said "not sampled".
void BM_Span_UnsampledChild(benchmark::State& state) {
  Tracer& t = tracer(Sampler::parent_based(Sampler::always_on()));
  const SpanContext parent =
      *parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  SpanScope scope(parent);
  for (auto _ : state) {
    Span span = t.start_span("SELECT orders");
    three_attributes(span);
    span.end();
    benchmark::DoNotOptimize(span.context());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Span_UnsampledChild);

// ScopedSpan: start, make current, end, restore (what an instrumented
// function pays), sampled.
void BM_ScopedSpan_Sampled(benchmark::State& state) {
  Tracer& t = tracer(Sampler::parent_based(Sampler::always_on()));
  const auto dropped = processor()->dropped(), exported = processor()->exported();
  int n = 0;
  for (auto _ : state) {
    {
      ScopedSpan span(t, "handle");
      three_attributes(span.span());
    }
    if (++n == kPace) {
      state.PauseTiming();
      processor()->force_flush(std::chrono::seconds(10));
      state.ResumeTiming();
      n = 0;
    }
  }
  report(state, dropped, exported);
}
BENCHMARK(BM_ScopedSpan_Sampled);

// Two threads ending sampled spans into the same processor (whose export
// thread competes for the same two cores).
void BM_Span_Sampled_Contended(benchmark::State& state) {
  Tracer& t = tracer(Sampler::parent_based(Sampler::always_on()));
  for (auto _ : state) {
    Span span = t.start_span("GET /orders/{id}", {.kind = SpanKind::kServer});
    three_attributes(span);
    span.end();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Span_Sampled_Contended)->Threads(2)->UseRealTime();

// What a log line pays for trace_id/span_id.
void BM_CurrentSpanContext(benchmark::State& state) {
  const SpanContext ctx =
      *parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  SpanScope scope(ctx);
  for (auto _ : state) benchmark::DoNotOptimize(current_span_context());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CurrentSpanContext);

void BM_Traceparent_Parse(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(
        parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Traceparent_Parse);

void BM_Traceparent_Format(benchmark::State& state) {
  const SpanContext ctx =
      *parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  char buf[kTraceparentSize];
  for (auto _ : state) {
    format_traceparent(ctx, buf);
    benchmark::DoNotOptimize(buf);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Traceparent_Format);

// An HTTP request's headers with a traceparent and a two-member tracestate.
void BM_Extract_HttpHeaders(benchmark::State& state) {
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Host", "shop.example"},
      {"Accept", "application/json"},
      {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
      {"tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
      {"User-Agent", "curl/7.88.1"}};
  for (auto _ : state) benchmark::DoNotOptimize(extract(headers));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Extract_HttpHeaders);

// 512 spans of 3 attributes, as the export thread gets them in a batch.
std::vector<SpanData> batch_of_512() {
  auto memory = std::make_shared<InMemorySpanExporter>();
  Tracer t{TracerOptions{.processor = std::make_shared<SimpleSpanProcessor>(memory)}};
  for (int i = 0; i < 512; ++i) {
    Span span = t.start_span("GET /orders/{id}", {.kind = SpanKind::kServer});
    three_attributes(span);
  }
  return memory->spans();
}

// The floor for the encoder: the bytes of the same request copied into a
// reused string (what writing them costs without deciding what they are).
void BM_Baseline_CopyOtlpJson512(benchmark::State& state) {
  const auto spans = batch_of_512();
  std::string encoded;
  encode_otlp_json(spans, {{"service.name", "bench"}}, encoded);
  std::string out;
  for (auto _ : state) {
    out.assign(encoded);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
  state.SetItemsProcessed(state.iterations() * 512);
}
BENCHMARK(BM_Baseline_CopyOtlpJson512)->Unit(benchmark::kMicrosecond);

// 512 spans of 3 attributes into one OTLP JSON request (the export thread's
// work per batch, into the buffer it reuses).
void BM_Encode_OtlpJson512(benchmark::State& state) {
  const auto spans = batch_of_512();
  const ResourceAttributes resource = {{"service.name", "bench"}};
  detail::LineBuffer out;
  for (auto _ : state) {
    detail::encode_otlp_json(spans, resource, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
  state.SetItemsProcessed(state.iterations() * 512);
}
BENCHMARK(BM_Encode_OtlpJson512)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
