// watch's trace ingest (POST /v1/traces into watch/traces), beside a
// baseline measured in the same run: nlohmann parsing the same body into a
// JSON tree, which is what reading it at all would cost with the project's
// JSON library. The body is a typical request of the kit's exporter: one
// trace of 10 spans (a server span with the kit's HTTP attributes and an
// event, a producer span, client and internal spans) from one service, about
// 4.5 KB. Each iteration sends a new trace id (patched into the body in
// place, in both benchmarks), so the store fills, then drops its oldest
// traces as it would under steady traffic.
//
// Also: the status page's list (the 100 slowest of 10,000 traces held) and
// one trace read back for a waterfall.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "firebreak/metrics.h"
#include "firebreak/trace.h"
#include "watch/traces/traces.h"

namespace {

constexpr int kSpansPerRequest = 10;

// The kit's OTLP JSON for one request's trace, and where its trace id is.
struct Body {
  std::string json;
  std::vector<std::size_t> trace_id_at;
};

Body typical_request() {
  auto memory = std::make_shared<firebreak::InMemorySpanExporter>();
  firebreak::Tracer tracer({.processor = std::make_shared<firebreak::SimpleSpanProcessor>(memory)});
  {
    firebreak::Span server =
        tracer.start_span("POST /orders", {.kind = firebreak::SpanKind::kServer});
    server.set_attribute("http.request.method", "POST")
        .set_attribute("http.route", "/orders")
        .set_attribute("url.path", "/orders")
        .set_attribute("client.address", "10.1.2.3")
        .set_attribute("user_agent.original", "shop-load/1.0")
        .set_attribute("http.response.status_code", std::int64_t{201});
    server.add_event("order_validated", {{"items", firebreak::AttributeValue(std::int64_t{3})}});
    const firebreak::SpanContext parent = server.context();
    for (int i = 0; i < kSpansPerRequest - 1; ++i) {
      const auto kind = i == 0  ? firebreak::SpanKind::kProducer
                        : i < 4 ? firebreak::SpanKind::kClient
                                : firebreak::SpanKind::kInternal;
      firebreak::Span child = tracer.start_span(i == 0 ? "create orders" : "SELECT orders",
                                                {.kind = kind, .parent = parent});
      child.set_attribute("db.system", "sqlite").set_attribute("db.operation.name", "SELECT");
    }
  }
  Body b;
  const auto spans = memory->spans();
  firebreak::encode_otlp_json(spans,
                              {{"service.name", "shop-api"},
                               {"service.version", "1.2.0"},
                               {"deployment.environment.name", "prod"},
                               {"telemetry.sdk.name", "firebreak"},
                               {"telemetry.sdk.language", "cpp"}},
                              b.json);
  const std::string id = spans[0].trace_id().to_hex();
  for (auto at = b.json.find(id); at != std::string::npos; at = b.json.find(id, at + 1))
    b.trace_id_at.push_back(at);
  return b;
}

// A new trace id for the body: `n` in hex.
void set_trace(Body& b, std::uint64_t n) {
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", 0xfeedull, static_cast<unsigned long long>(n));
  for (std::size_t at : b.trace_id_at) b.json.replace(at, 32, hex, 32);
}

void BM_Baseline_Traces_ParseJson(benchmark::State& state) {
  Body body = typical_request();
  std::uint64_t n = 0;
  for (auto _ : state) {
    set_trace(body, ++n);
    auto tree = nlohmann::json::parse(body.json);
    benchmark::DoNotOptimize(tree);
  }
  state.SetItemsProcessed(state.iterations() * kSpansPerRequest);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.json.size()));
  state.counters["bytes"] = static_cast<double>(body.json.size());
}
BENCHMARK(BM_Baseline_Traces_ParseJson);

// Spans/s into a store with the default limits (100,000 spans, 64 MiB),
// filled past them first (once, for every run): each request then also drops
// the oldest traces.
void BM_Traces_Ingest(benchmark::State& state) {
  static Body body = typical_request();
  static std::uint64_t n = 0;
  static firebreak::Registry registry;
  static watch::traces::Store* store = [] {
    auto* s = new watch::traces::Store({.registry = &registry});
    while (n < 12'000) {
      set_trace(body, ++n);
      s->ingest(body.json);
    }
    return s;
  }();
  for (auto _ : state) {
    set_trace(body, ++n);
    auto r = store->ingest(body.json);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * kSpansPerRequest);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.json.size()));
  const auto stats = store->stats();
  state.counters["spans_held"] = static_cast<double>(stats.spans);
  state.counters["bytes_per_span"] =
      stats.spans ? static_cast<double>(stats.bytes) / static_cast<double>(stats.spans) : 0;
}
BENCHMARK(BM_Traces_Ingest);

// A store holding 10,000 traces of 10 spans (the default 100,000 spans).
watch::traces::Store& full_store() {
  static watch::traces::Store* store = [] {
    auto* s = new watch::traces::Store();
    Body body = typical_request();
    for (std::uint64_t n = 1; n <= 10'000; ++n) {
      set_trace(body, n);
      s->ingest(body.json);
    }
    return s;
  }();
  return *store;
}

void BM_Traces_FindSlowest100(benchmark::State& state) {
  const auto& store = full_store();
  for (auto _ : state) {
    auto list = store.find({.order = watch::traces::Order::kDuration, .limit = 100});
    benchmark::DoNotOptimize(list);
  }
  state.counters["traces_held"] = static_cast<double>(store.stats().traces);
}
BENCHMARK(BM_Traces_FindSlowest100)->Unit(benchmark::kMicrosecond);

void BM_Traces_GetOne(benchmark::State& state) {
  const auto& store = full_store();
  const auto id = store.find({.limit = 1})[0].trace_id;
  for (auto _ : state) {
    auto view = store.get(id);
    benchmark::DoNotOptimize(view);
  }
}
BENCHMARK(BM_Traces_GetOne)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
