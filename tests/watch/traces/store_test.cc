// The trace store: traces built from spans that come in any order and in any
// number of requests, their summaries, the queries the status page makes,
// the bounds (spans, bytes, spans per trace) and the eviction order, and the
// metrics that count what was dropped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "firebreak/exposition.h"
#include "firebreak/metrics.h"
#include "watch/traces/traces.h"

namespace watch::traces {
namespace {

using nlohmann::json;

constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;  // ns
constexpr std::int64_t kMs = 1'000'000;

std::string trace_hex(int n) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%032x", n);
  return buf;
}

std::string span_hex(int n) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016x", n);
  return buf;
}

firebreak::TraceId trace_id(int n) {
  return *firebreak::TraceId::from_hex(trace_hex(n));
}

// One span to send: ids by number (0: none for the parent).
struct S {
  int trace = 1;
  int span = 1;
  int parent = 0;
  std::string name = "op";
  std::string service = "shop-api";
  int kind = 1;
  std::int64_t start_ms = 0;  // after kT0
  std::int64_t duration_ms = 10;
  json attributes = json::array();
  int status = 0;
};

json attr(const std::string& key, const json& value) {
  return {{"key", key}, {"value", value}};
}

// One request: a resourceSpans per service, in first-seen order.
std::string request(const std::vector<S>& spans) {
  json resource_spans = json::array();
  std::vector<std::string> services;
  for (const S& s : spans)
    if (std::find(services.begin(), services.end(), s.service) == services.end())
      services.push_back(s.service);
  for (const std::string& service : services) {
    json list = json::array();
    for (const S& s : spans) {
      if (s.service != service) continue;
      json j = {{"traceId", trace_hex(s.trace)},
                {"spanId", span_hex(s.span)},
                {"name", s.name},
                {"kind", s.kind},
                {"startTimeUnixNano", std::to_string(kT0 + s.start_ms * kMs)},
                {"endTimeUnixNano", std::to_string(kT0 + (s.start_ms + s.duration_ms) * kMs)},
                {"attributes", s.attributes},
                {"status", {{"code", s.status}}}};
      if (s.parent) j["parentSpanId"] = span_hex(s.parent);
      list.push_back(j);
    }
    resource_spans.push_back(
        {{"resource",
          {{"attributes", json::array({attr("service.name", {{"stringValue", service}}),
                                       attr("service.version", {{"stringValue", "1"}})})}}},
         {"scopeSpans", json::array({{{"scope", {{"name", "test"}}}, {"spans", list}}})}});
  }
  return json{{"resourceSpans", resource_spans}}.dump();
}

std::string exposition(const firebreak::Registry& registry) {
  std::string out;
  firebreak::write_exposition(registry.collect(), firebreak::ExpositionFormat::kPrometheusText,
                              out);
  return out;
}

void ingest(Store& store, const std::vector<S>& spans) {
  const IngestResult r = store.ingest(request(spans));
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.rejected, 0u) << r.rejection;
}

std::vector<int> trace_numbers(const std::vector<TraceSummary>& list) {
  std::vector<int> out;
  for (const auto& s : list) out.push_back(std::stoi(s.trace_id.to_hex(), nullptr, 16));
  return out;
}

// An order through the shop: API request, its producer span, the worker.
std::vector<S> order(int trace, std::int64_t start_ms = 0) {
  return {{.trace = trace,
           .span = 1,
           .name = "POST /orders",
           .kind = 2,
           .start_ms = start_ms,
           .duration_ms = 30,
           .attributes = json::array({attr("http.route", {{"stringValue", "/orders"}}),
                                      attr("http.response.status_code", {{"intValue", "201"}})})},
          {.trace = trace,
           .span = 2,
           .parent = 1,
           .name = "create orders",
           .kind = 4,
           .start_ms = start_ms + 5,
           .duration_ms = 2},
          {.trace = trace,
           .span = 3,
           .parent = 2,
           .name = "process orders",
           .service = "shop-worker",
           .kind = 5,
           .start_ms = start_ms + 50,
           .duration_ms = 100}};
}

TEST(TraceStore, KeepsATraceAcrossRequestsAndSummarizesIt) {
  Store store;
  const auto spans = order(1);
  ingest(store, {spans[0], spans[1]});
  ingest(store, {spans[2]});
  const auto list = store.find({});
  ASSERT_EQ(list.size(), 1u);
  const TraceSummary& s = list[0];
  EXPECT_EQ(s.trace_id, trace_id(1));
  EXPECT_EQ(s.root_name, "POST /orders");
  EXPECT_EQ(s.root_service, "shop-api");
  EXPECT_TRUE(s.has_root);
  EXPECT_EQ(s.route, "/orders");
  EXPECT_EQ(s.start_unix_nano, kT0);
  EXPECT_EQ(s.duration_nanos(), 150 * kMs);
  EXPECT_EQ(s.span_count, 3u);
  EXPECT_EQ(s.services, (std::vector<std::string>{"shop-api", "shop-worker"}));
  EXPECT_FALSE(s.error);
  EXPECT_EQ(log_correlation_id(s.trace_id), trace_hex(1));
  EXPECT_EQ(store.stats().spans, 3u);
  EXPECT_EQ(store.stats().traces, 1u);
}

TEST(TraceStore, GetGivesTheSpansInWaterfallOrder) {
  Store store;
  // The worker's span first, the API's last: the tree is built when read.
  std::vector<S> spans = order(1);
  spans.push_back({.trace = 1, .span = 4, .parent = 1, .name = "db", .start_ms = 1});
  spans.push_back({.trace = 1,
                   .span = 5,
                   .parent = 3,
                   .name = "invoice",
                   .service = "shop-worker",
                   .start_ms = 60});
  ingest(store, {spans[2]});
  auto early = store.find({});
  ASSERT_EQ(early.size(), 1u);
  EXPECT_FALSE(early[0].has_root);
  EXPECT_EQ(early[0].root_name, "process orders");  // the earliest span without its parent
  ingest(store, {spans[4], spans[3]});
  ingest(store, {spans[1], spans[0]});

  const auto view = store.get(trace_id(1));
  ASSERT_TRUE(view.has_value());
  EXPECT_TRUE(view->summary.has_root);
  EXPECT_EQ(view->summary.root_name, "POST /orders");
  std::vector<std::string> names;
  std::vector<std::size_t> depths;
  for (const SpanNode& n : view->spans) {
    names.push_back(n.span.name);
    depths.push_back(n.depth);
  }
  // Children by start: db (1 ms) before create orders (5 ms).
  EXPECT_EQ(names, (std::vector<std::string>{"POST /orders", "db", "create orders",
                                             "process orders", "invoice"}));
  EXPECT_EQ(depths, (std::vector<std::size_t>{0, 1, 1, 2, 3}));
  EXPECT_FALSE(view->spans[0].parent_index.has_value());
  EXPECT_EQ(view->spans[1].parent_index, 0u);
  EXPECT_EQ(view->spans[3].parent_index, 2u);
  EXPECT_EQ(view->spans[3].span.service(), "shop-worker");
  for (const SpanNode& n : view->spans) EXPECT_FALSE(n.parent_missing);
  EXPECT_FALSE(store.get(trace_id(2)).has_value());
}

TEST(TraceStore, SpansWhoseParentIsMissingComeAfterTheRootMarked) {
  Store store;
  ingest(store, {{.trace = 1, .span = 1, .name = "root", .start_ms = 10},
                 {.trace = 1, .span = 2, .parent = 99, .name = "orphan", .start_ms = 0},
                 {.trace = 1, .span = 3, .parent = 2, .name = "orphan child", .start_ms = 1}});
  const auto view = store.get(trace_id(1));
  ASSERT_TRUE(view);
  ASSERT_EQ(view->spans.size(), 3u);
  EXPECT_EQ(view->spans[0].span.name, "root");
  EXPECT_EQ(view->spans[1].span.name, "orphan");
  EXPECT_TRUE(view->spans[1].parent_missing);
  EXPECT_FALSE(view->spans[1].parent_index.has_value());
  EXPECT_EQ(view->spans[2].parent_index, 1u);
  EXPECT_EQ(view->spans[2].depth, 1u);
}

TEST(TraceStore, ACycleOfParentLinksIsStillShownOnce) {
  Store store;
  ingest(store, {{.trace = 1, .span = 1, .parent = 2, .name = "a", .start_ms = 0},
                 {.trace = 1, .span = 2, .parent = 1, .name = "b", .start_ms = 1},
                 {.trace = 1, .span = 3, .parent = 3, .name = "self", .start_ms = 2}});
  const auto view = store.get(trace_id(1));
  ASSERT_TRUE(view);
  ASSERT_EQ(view->spans.size(), 3u);
  std::set<std::string> names;
  for (const SpanNode& n : view->spans) {
    names.insert(n.span.name);
    if (n.parent_index) {
      EXPECT_LT(*n.parent_index, view->spans.size());
    }
  }
  EXPECT_EQ(names.size(), 3u);
  EXPECT_FALSE(view->summary.has_root);
}

TEST(TraceStore, ATraceFailsOnAnErrorStatusOrAServerErrorCode) {
  Store store;
  ingest(store,
         {{.trace = 1, .span = 1, .status = 2},
          {.trace = 2,
           .span = 1,
           .attributes = json::array({attr("http.response.status_code", {{"intValue", 503}})})},
          {.trace = 3,
           .span = 1,
           .attributes = json::array({attr("http.status_code", {{"stringValue", "500"}})})},
          {.trace = 4,
           .span = 1,
           .attributes = json::array({attr("http.response.status_code", {{"intValue", 404}})})},
          {.trace = 5, .span = 1, .status = 1}});
  std::vector<int> failed;
  for (const auto& s : store.find({.errors_only = true}))
    failed.push_back(std::stoi(s.trace_id.to_hex(), nullptr, 16));
  std::sort(failed.begin(), failed.end());
  EXPECT_EQ(failed, (std::vector<int>{1, 2, 3}));
}

TEST(TraceStore, FindFiltersByServiceRouteErrorsAndDuration) {
  Store store;
  ingest(store, order(1, 0));  // shop-api + shop-worker, /orders, 150 ms
  ingest(store,
         {{.trace = 2,
           .span = 1,
           .name = "GET /orders/{id}",
           .kind = 2,
           .start_ms = 1000,
           .duration_ms = 5,
           .attributes = json::array({attr("http.route", {{"stringValue", "/orders/{id}"}})}),
           .status = 2}});
  ingest(store, {{.trace = 3,
                  .span = 1,
                  .name = "job daily",
                  .service = "shop-daily",
                  .start_ms = 2000,
                  .duration_ms = 400}});
  EXPECT_EQ(trace_numbers(store.find({.service = "shop-worker"})), (std::vector<int>{1}));
  EXPECT_EQ(trace_numbers(store.find({.service = "shop-api"})), (std::vector<int>{2, 1}));
  EXPECT_EQ(trace_numbers(store.find({.route = "/orders/{id}"})), (std::vector<int>{2}));
  EXPECT_EQ(trace_numbers(store.find({.errors_only = true})), (std::vector<int>{2}));
  EXPECT_EQ(trace_numbers(store.find({.min_duration_nanos = 150 * kMs})), (std::vector<int>{3, 1}));
  EXPECT_EQ(trace_numbers(store.find({.service = "nobody"})), (std::vector<int>{}));
  EXPECT_EQ(store.services(), (std::vector<std::string>{"shop-api", "shop-daily", "shop-worker"}));
  EXPECT_EQ(store.routes(), (std::vector<std::string>{"/orders", "/orders/{id}"}));
  // A route from a server span when the root has none.
  ingest(store, {{.trace = 4, .span = 1, .name = "client call", .kind = 3, .start_ms = 3000},
                 {.trace = 4,
                  .span = 2,
                  .parent = 1,
                  .kind = 2,
                  .start_ms = 3001,
                  .attributes = json::array({attr("http.route", {{"stringValue", "/stock"}})})}});
  EXPECT_EQ(trace_numbers(store.find({.route = "/stock"})), (std::vector<int>{4}));
}

TEST(TraceStore, FindOrdersNewestOrSlowestFirstAndLimits) {
  Store store;
  ingest(store, {{.trace = 1, .span = 1, .start_ms = 100, .duration_ms = 50},
                 {.trace = 2, .span = 1, .start_ms = 300, .duration_ms = 10},
                 {.trace = 3, .span = 1, .start_ms = 200, .duration_ms = 90},
                 {.trace = 4, .span = 1, .start_ms = 200, .duration_ms = 90}});
  EXPECT_EQ(trace_numbers(store.find({})), (std::vector<int>{2, 3, 4, 1}));
  EXPECT_EQ(trace_numbers(store.find({.order = Order::kDuration})), (std::vector<int>{3, 4, 1, 2}));
  EXPECT_EQ(trace_numbers(store.find({.order = Order::kDuration, .limit = 2})),
            (std::vector<int>{3, 4}));
  EXPECT_EQ(store.find({.limit = 0}).size(), 4u);
}

TEST(TraceStore, TheOldestTracesAreDroppedFirstToStayWithinMaxSpans) {
  firebreak::Registry registry;
  Store store({.limits = {.max_spans = 7}, .registry = &registry});
  ingest(store, order(1, 500));  // arrives first, though it starts last
  ingest(store, order(2, 0));
  EXPECT_EQ(store.stats().spans, 6u);
  ingest(store,
         {{.trace = 3, .span = 1, .start_ms = 100}, {.trace = 3, .span = 2, .start_ms = 101}});
  EXPECT_EQ(store.stats().spans, 5u);
  EXPECT_EQ(trace_numbers(store.find({})), (std::vector<int>{3, 2}));
  // A span for a held trace makes it no younger: trace 2 still goes first.
  ingest(store, {{.trace = 2, .span = 9, .start_ms = 1}});
  ingest(store, {{.trace = 5, .span = 1, .start_ms = 0}, {.trace = 5, .span = 2, .start_ms = 0}});
  EXPECT_EQ(trace_numbers(store.find({})), (std::vector<int>{3, 5}));
  EXPECT_LE(store.stats().spans, 7u);
  const std::string text = exposition(registry);
  EXPECT_NE(text.find("watch_traces_spans_dropped_total{reason=\"evicted\"} 7"), std::string::npos)
      << text;
  EXPECT_NE(text.find("watch_traces_spans_received_total 11"), std::string::npos) << text;
  EXPECT_NE(text.find("watch_traces_held_spans 4"), std::string::npos) << text;
  EXPECT_NE(text.find("watch_traces_held 2"), std::string::npos) << text;
}

TEST(TraceStore, BytesHeldStayWithinMaxBytes) {
  const std::size_t max = 256 * 1024;
  Store store({.limits = {.max_bytes = max}});
  const std::string big(1000, 'x');
  for (int t = 1; t <= 200; ++t) {
    std::vector<S> spans;
    for (int s = 1; s <= 5; ++s)
      spans.push_back({.trace = t,
                       .span = s,
                       .start_ms = t,
                       .attributes = json::array({attr("payload", {{"stringValue", big}})})});
    ingest(store, spans);
    ASSERT_LE(store.stats().bytes, max);
  }
  const StoreStats stats = store.stats();
  EXPECT_GT(stats.bytes, max / 2);  // the estimate counts what is held, not nothing
  EXPECT_LT(stats.traces, 200u);
  // The newest are the ones kept.
  EXPECT_EQ(trace_numbers(store.find({.limit = 1})), (std::vector<int>{200}));
  EXPECT_EQ(store.find({.limit = 0}).size(), stats.traces);
}

TEST(TraceStore, ATraceHoldsAtMostItsSpanCapTheRestRejected) {
  firebreak::Registry registry;
  Store store({.limits = {.max_spans_per_trace = 3}, .registry = &registry});
  std::vector<S> spans;
  for (int s = 1; s <= 5; ++s) spans.push_back({.trace = 1, .span = s});
  const IngestResult r = store.ingest(request(spans));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.received, 5u);
  EXPECT_EQ(r.accepted, 3u);
  EXPECT_EQ(r.rejected, 2u);
  EXPECT_NE(r.rejection.find("traces.max_spans_per_trace"), std::string::npos) << r.rejection;
  EXPECT_NE(r.rejection.find(trace_hex(1)), std::string::npos) << r.rejection;
  EXPECT_EQ(store.stats().spans, 3u);
  const std::string text = exposition(registry);
  EXPECT_NE(text.find("watch_traces_spans_dropped_total{reason=\"trace_limit\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("watch_traces_requests_total{result=\"partial\"} 1"), std::string::npos);
}

TEST(TraceStore, ASpanSentTwiceIsKeptOnce) {
  firebreak::Registry registry;
  Store store({.registry = &registry});
  const std::string body = request(order(1));
  ASSERT_EQ(store.ingest(body).rejected, 0u);
  const IngestResult again = store.ingest(body);  // an exporter's retry
  EXPECT_EQ(again.rejected, 0u);
  EXPECT_EQ(again.accepted, 3u);
  EXPECT_EQ(store.stats().spans, 3u);
  // Within one request too.
  ingest(store,
         {{.trace = 2, .span = 1, .name = "first"}, {.trace = 2, .span = 1, .name = "second"}});
  EXPECT_EQ(store.get(trace_id(2))->spans.size(), 1u);
  EXPECT_EQ(store.get(trace_id(2))->spans[0].span.name, "first");
  EXPECT_NE(exposition(registry).find("watch_traces_spans_dropped_total{reason=\"duplicate\"} 4"),
            std::string::npos);
}

TEST(TraceStore, InvalidSpansAreRejectedAndTheRestKept) {
  firebreak::Registry registry;
  Store store({.registry = &registry});
  json body = json::parse(request(order(1)));
  body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "not hex";
  const IngestResult r = store.ingest(body.dump());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_EQ(r.accepted, 2u);
  EXPECT_NE(r.rejection.find("resourceSpans[0].scopeSpans[0].spans[0]: spanId"), std::string::npos)
      << r.rejection;
  EXPECT_EQ(store.stats().spans, 2u);
  const IngestResult bad = store.ingest("{\"resourceSpans\": 3}");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(store.stats().spans, 2u);
  const std::string text = exposition(registry);
  EXPECT_NE(text.find("watch_traces_spans_dropped_total{reason=\"invalid\"} 1"), std::string::npos);
  EXPECT_NE(text.find("watch_traces_requests_total{result=\"invalid\"} 1"), std::string::npos);
}

TEST(TraceStore, NewLimitsApplyAtOnce) {
  Store store;
  for (int t = 1; t <= 10; ++t) ingest(store, order(t, t));
  EXPECT_EQ(store.stats().spans, 30u);
  store.set_limits({.max_spans = 9});
  EXPECT_EQ(store.stats().spans, 9u);
  EXPECT_EQ(trace_numbers(store.find({})), (std::vector<int>{10, 9, 8}));
  EXPECT_EQ(store.limits().max_spans, 9u);
  EXPECT_EQ(store.limits().max_bytes, Limits{}.max_bytes);  // zero: the default
}

TEST(TraceStore, RequestsFromOneProcessShareTheirResource) {
  Store store;
  ingest(store, {order(1)[0]});
  ingest(store, {order(1)[1]});
  ingest(store, {order(2)[0]});
  {
    const auto view = store.get(trace_id(1));
    ASSERT_TRUE(view);
    EXPECT_EQ(view->spans[0].span.resource, view->spans[1].span.resource);
    EXPECT_EQ(view->spans[0].span.resource->service, "shop-api");
    EXPECT_EQ(view->spans[0].span.resource->attributes.size(), 2u);
    EXPECT_EQ(view->spans[0].span.resource, store.get(trace_id(2))->spans[0].span.resource);
  }
  // Evicting everything frees the resources too.
  store.set_limits({.max_bytes = 1});
  EXPECT_EQ(store.stats().spans, 0u);
  EXPECT_EQ(store.stats().bytes, 0u);
}

}  // namespace
}  // namespace watch::traces
