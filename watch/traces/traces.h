// watch's recent traces: a bounded in-memory store of the spans services send
// as OTLP/HTTP JSON (the kit's exporter, or any OpenTelemetry SDK or
// Collector), and the queries the status page makes of it: recent traces
// with a summary each (slowest, errors, by service and by route) and one
// trace with all its spans, ready to draw as a waterfall.
//
//   watch::traces::Store store({.limits = {.max_spans = 100'000}, .registry = &registry});
//   // POST /v1/traces (web/traces_api.h)
//   watch::traces::IngestResult r = store.ingest(body);
//   if (!r.ok()) return reply(400, r.error);   // "resourceSpans[0].scopeSpans[0].spans[2].name:
//                                              //  want a string, got a number"
//   // r.rejected spans were refused (r.rejection says why): partialSuccess
//   for (const auto& t : store.find({.errors_only = true, .order = Order::kDuration}))
//     ...;                                      // the slowest failed traces first
//   if (auto t = store.get(trace_id)) draw(t->spans);   // in waterfall order
//
// Reading (OTLP JSON Protobuf encoding, opentelemetry-proto
// docs/specification.md): ExportTraceServiceRequest, resourceSpans ->
// scopeSpans -> spans; lowerCamelCase keys; traceId/spanId as hex (either
// case); enums as integers (their proto names are read too); 64-bit integers
// as decimal strings or numbers; unknown fields are ignored. A body that is
// not JSON, or a field of the wrong JSON type, fails the whole request with
// an error naming the field (400). A span whose ids are missing, not hex, of
// the wrong length or all zero is rejected alone (partialSuccess), as is a
// span over its trace's span cap; a span whose trace already holds its span
// id (an exporter's retry) is dropped as a duplicate. Spans may come in any
// order and in any number of requests: a child before its parent is kept,
// and the trace's tree is built when it is read.
//
// Bounds: at most Limits::max_spans spans and Limits::max_bytes bytes (an
// estimate of the memory held: strings, vectors, per-span overhead) in all;
// the oldest traces (by the arrival of their first span) are dropped first
// to make room. A trace holds at most max_spans_per_trace spans; attribute
// keys and string values, span and event names and status messages are cut
// to max_value_bytes (at a UTF-8 boundary); a span keeps at most
// max_attributes_per_span attributes, max_events_per_span events and
// max_links_per_span links (the rest counted as dropped on the span, as the
// SDKs do); JSON nests at most kMaxDepth levels. Everything dropped is
// counted in watch_traces_spans_dropped_total{reason}.
//
// Log correlation: the kit's log lines carry the current span's trace id as
// `trace_id` (32 lowercase hex digits, docs/logs.md), so a trace's log
// correlation id is its trace id (log_correlation_id()).
//
// Thread-safety: all member functions are thread-safe (one mutex; a request
// is read before the mutex is taken, so readers wait only for the insertion).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/metrics.h"
#include "firebreak/trace.h"

namespace watch::traces {

// How deep the JSON of a request may nest (objects and arrays); deeper is a
// malformed request. The OTLP structure itself needs 9 levels to reach an
// attribute's value; the rest is for array and kvlist values.
inline constexpr std::size_t kMaxDepth = 64;

// Every limit is > 0; a zero given to the store means its default.
struct Limits {
  std::size_t max_spans = 100'000;
  std::size_t max_bytes = 64u << 20;
  std::size_t max_spans_per_trace = 1000;
  std::size_t max_value_bytes = 4096;
  std::size_t max_attributes_per_span = 128;
  std::size_t max_events_per_span = 128;
  std::size_t max_links_per_span = 128;
};

// An attribute's value (OTLP AnyValue). Arrays and key-value lists are kept
// as their compact JSON text ([1,"a"], {"k":true}); a value cut to the
// length limit becomes a string (truncated then says so).
struct Value {
  enum class Type : std::uint8_t { kEmpty, kString, kBool, kInt, kDouble, kBytes, kArray, kKvlist };
  Type type = Type::kEmpty;
  bool truncated = false;
  bool bool_value = false;
  std::int64_t int_value = 0;
  double double_value = 0;
  std::string text;  // kString; kBytes (base64, as sent); kArray and kKvlist (JSON)

  friend bool operator==(const Value&, const Value&) = default;
};

struct Attribute {
  std::string key;
  Value value;
  friend bool operator==(const Attribute&, const Attribute&) = default;
};

// The process a span comes from (OTLP Resource); service.name picked out
// ("unknown_service" when it has none, as the SDKs default it).
struct Resource {
  std::string service;
  std::vector<Attribute> attributes;
};

struct Event {
  std::string name;
  std::int64_t time_unix_nano = 0;
  std::vector<Attribute> attributes;
};

struct Link {
  firebreak::TraceId trace_id;
  firebreak::SpanId span_id;
  std::vector<Attribute> attributes;
};

struct Span {
  firebreak::TraceId trace_id;
  firebreak::SpanId span_id;
  firebreak::SpanId parent_span_id;  // invalid: a root span
  std::string name;
  // OTLP's numbers: the kit's enum, or 0 (SPAN_KIND_UNSPECIFIED).
  firebreak::SpanKind kind = static_cast<firebreak::SpanKind>(0);
  std::int64_t start_unix_nano = 0;
  std::int64_t end_unix_nano = 0;  // may be before the start as sent; durations clamp at 0
  std::shared_ptr<const Resource> resource;  // never null in the store
  std::string scope;                         // instrumentation scope name
  std::vector<Attribute> attributes;
  std::vector<Event> events;
  std::vector<Link> links;
  firebreak::StatusCode status = firebreak::StatusCode::kUnset;
  std::string status_message;
  // As sent plus what the limits dropped here.
  std::uint32_t dropped_attributes = 0, dropped_events = 0, dropped_links = 0;

  const std::string& service() const;
  // The attribute's value, or nullptr.
  const Value* attribute(std::string_view key) const;
  std::int64_t duration_nanos() const {
    return end_unix_nano > start_unix_nano ? end_unix_nano - start_unix_nano : 0;
  }
  // Status ERROR, or an HTTP status code (http.response.status_code, or the
  // older http.status_code) of 500 or more.
  bool failed() const;
};

struct TraceSummary {
  firebreak::TraceId trace_id;
  // The root: the span without a parent (the earliest, should there be
  // several), or, until it arrives, the earliest span whose parent is not in
  // the trace.
  std::string root_name;
  std::string root_service;
  bool has_root = false;  // a span without a parent has arrived
  // http.route of the root, else of the earliest server span that has one,
  // else of the earliest span that has one; "" when none has.
  std::string route;
  std::int64_t start_unix_nano = 0;  // the earliest span start
  std::int64_t end_unix_nano = 0;    // the latest span end
  std::size_t span_count = 0;
  std::vector<std::string> services;  // sorted, unique
  bool error = false;                 // a span failed() (Span::failed)

  std::int64_t duration_nanos() const {
    return end_unix_nano > start_unix_nano ? end_unix_nano - start_unix_nano : 0;
  }
};

// The value to look for in the `trace_id` field of the kit's log lines: the
// trace id itself, 32 lowercase hex digits.
std::string log_correlation_id(const firebreak::TraceId& trace_id);

// One span of a trace as a waterfall draws it.
struct SpanNode {
  Span span;
  std::size_t depth = 0;                    // 0 for the root and for orphans
  std::optional<std::size_t> parent_index;  // into TraceView::spans; nullopt: none held
  bool parent_missing = false;              // has a parent id the trace does not hold
};

struct TraceView {
  TraceSummary summary;
  // Depth first from the roots (the root first, then spans whose parent is
  // not held), children in start order: a parent always comes before its
  // children.
  std::vector<SpanNode> spans;
};

enum class Order : std::uint8_t {
  kStart,     // newest first (latest start)
  kDuration,  // slowest first
};

struct Query {
  std::string service;  // "": any; else traces with a span from this service
  std::string route;    // "": any; else traces whose route (TraceSummary::route) is this
  bool errors_only = false;
  std::int64_t min_duration_nanos = 0;
  Order order = Order::kStart;
  std::size_t limit = 100;  // 0: no limit
};

// What one request came to.
struct IngestResult {
  // Why the request could not be read at all ("" when it could): the field's
  // path and what was wrong with it. Nothing of it was stored.
  std::string error;
  std::size_t received = 0;  // spans read
  std::size_t accepted = 0;  // stored (duplicates and spans dropped to make room included)
  std::size_t rejected = 0;  // refused: invalid, or over their trace's span cap
  // Why spans were rejected, for partialSuccess.errorMessage: the first
  // reasons with their paths ("" when none).
  std::string rejection;

  bool ok() const { return error.empty(); }
};

struct StoreStats {
  std::size_t traces = 0;
  std::size_t spans = 0;
  std::size_t bytes = 0;
};

struct StoreOptions {
  Limits limits = {};
  // watch_traces_* metrics; must outlive the store. nullptr: none.
  firebreak::Registry* registry = nullptr;
};

class Store {
 public:
  explicit Store(StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Reads one OTLP JSON ExportTraceServiceRequest and stores its spans,
  // dropping the oldest traces as needed to stay within the limits. Never
  // throws on any input. Cost: about a JSON parse of the body, plus a pass
  // over each trace it touched.
  IngestResult ingest(std::string_view otlp_json);

  // Traces matching `query`, in its order; ties by trace id.
  std::vector<TraceSummary> find(const Query& query) const;
  // One trace with all its spans; nullopt when not held.
  std::optional<TraceView> get(const firebreak::TraceId& trace_id) const;
  // The services and the routes of the traces held, sorted (filter choices).
  std::vector<std::string> services() const;
  std::vector<std::string> routes() const;
  StoreStats stats() const;

  Limits limits() const;
  // New limits, applied at once (the oldest traces go if the store is now
  // over them; spans held keep what the old value limits let through).
  void set_limits(const Limits& limits);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace watch::traces
