// End to end: the reference system's exporters pointed at `firebreak watch`
// (OTEL_EXPORTER_OTLP_ENDPOINT, as docs/traces.md says). One order's trace,
// read back through watch's API, spans shop-api's request, the message it
// put on the queue and shop-worker's handling of it, with the parent links a
// waterfall draws; its log correlation id is the trace_id of both services'
// log lines; a failed request is found with error=true.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "e2e/shop_system.h"
#include "e2e/watch_harness.h"
#include "support/http_client.h"

namespace firebreak::e2e {
namespace {

using nlohmann::json;
using std::chrono::seconds;

json get_json(const WatchProcess& watch, const std::string& target) {
  const auto r = test::http_get(watch.port(), target);
  if (r.status != 200) return json();
  return json::parse(r.body, nullptr, false);
}

// The trace id of the API's access-log record of the request `request_id`.
std::string trace_of_request(const Service& api, const std::string& request_id) {
  std::string trace;
  eventually(
      [&] {
        for (const auto& r : api.process->logs("http_request"))
          if (r.value("request_id", "") == request_id) trace = r.value("trace_id", "");
        return !trace.empty();
      },
      seconds(5));
  return trace;
}

const json* span_named(const json& spans, const std::string& name) {
  for (const json& s : spans)
    if (s.value("name", "") == name) return &s;
  return nullptr;
}

TEST(WatchTraces, OneOrdersTraceSpansTheApiTheQueueAndTheWorker) {
  ShopSystem shop;
  WatchProcess watch(
      "listen: 127.0.0.1:0\n"
      "storage: {path: ':memory:'}\n"
      "targets: []\n"
      "traces: {max_spans: 10000, max_bytes: 16MiB}\n",
      shop.dir().path());
  // The kit's exporters, pointed at watch; batches every 100 ms.
  const std::vector<std::string> env = {"OTEL_EXPORTER_OTLP_ENDPOINT=" + watch.url(),
                                        "OTEL_BSP_SCHEDULE_DELAY=100"};
  Service api = shop.start_api({}, env);
  Service worker = shop.start_worker("shop-worker", {}, env);

  const auto created = ShopSystem::post_order(api, R"({"item": "book", "quantity": 2})",
                                              {{"X-Request-Id", "e2e-trace-1"}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string trace = trace_of_request(api, "e2e-trace-1");
  ASSERT_EQ(trace.size(), 32u);

  // Until both services' batches have arrived (in either order).
  json data;
  ASSERT_TRUE(eventually(
      [&] {
        data = get_json(watch, "/api/v1/traces/" + trace)["data"];
        if (!data.is_object()) return false;
        for (const char* name : {"POST /orders", "create orders", "process orders"})
          if (span_named(data["spans"], name) == nullptr) return false;
        return true;
      },
      seconds(15)))
      << "trace " << trace << ": " << data.dump() << "\nwatch: " << watch.process().stderr_text();

  EXPECT_EQ(data["traceId"], trace);
  EXPECT_EQ(data["logCorrelationId"], trace);
  EXPECT_EQ(data["rootName"], "POST /orders");
  EXPECT_EQ(data["rootService"], "shop-api");
  EXPECT_EQ(data["route"], "/orders");
  EXPECT_EQ(data["hasRoot"], true);
  EXPECT_EQ(data["error"], false);
  EXPECT_EQ(data["services"], json::array({"shop-api", "shop-worker"}));

  const json& spans = data["spans"];
  const json* request = span_named(spans, "POST /orders");
  const json* message = span_named(spans, "create orders");
  const json* handling = span_named(spans, "process orders");
  ASSERT_TRUE(request && message && handling) << spans.dump(2);
  // The API's request: the root of the waterfall.
  EXPECT_EQ((*request)["kind"], "server");
  EXPECT_EQ((*request)["service"], "shop-api");
  EXPECT_EQ((*request)["parentIndex"], nullptr);
  EXPECT_EQ((*request)["depth"], 0);
  EXPECT_EQ((*request)["attributes"]["http.route"], "/orders");
  EXPECT_EQ((*request)["attributes"]["http.response.status_code"], 201);
  // The message put on the queue, a child of the request.
  EXPECT_EQ((*message)["kind"], "producer");
  EXPECT_EQ((*message)["service"], "shop-api");
  EXPECT_EQ((*message)["parentSpanId"], (*request)["spanId"]);
  EXPECT_EQ((*message)["attributes"]["messaging.destination.name"], "orders");
  // The worker's handling of it, a child of the message, in another process.
  EXPECT_EQ((*handling)["kind"], "consumer");
  EXPECT_EQ((*handling)["service"], "shop-worker");
  EXPECT_EQ((*handling)["parentSpanId"], (*message)["spanId"]);
  EXPECT_EQ((*handling)["parentMissing"], false);
  EXPECT_GE((*handling)["depth"].get<int>(), 2);
  EXPECT_GE((*handling)["startOffsetMs"].get<double>(), (*message)["startOffsetMs"].get<double>());
  // Parents before children, each parent index pointing at its span.
  for (std::size_t i = 0; i < spans.size(); ++i) {
    const json& p = spans[i]["parentIndex"];
    if (p.is_null()) continue;
    ASSERT_LT(p.get<std::size_t>(), i);
    EXPECT_EQ(spans[p.get<std::size_t>()]["spanId"], spans[i]["parentSpanId"]);
  }

  // The correlation id finds the worker's log line for this order.
  ASSERT_TRUE(
      eventually([&] { return !worker.process->logs("invoice_created").empty(); }, seconds(5)));
  EXPECT_EQ(worker.process->logs("invoice_created")[0].value("trace_id", ""), trace);

  // Listed by service and by route.
  const auto listed = [&](const std::string& query) {
    const json list = get_json(watch, "/api/v1/traces?" + query)["data"]["traces"];
    for (const json& t : list)
      if (t["traceId"] == trace) return true;
    return false;
  };
  EXPECT_TRUE(listed("service=shop-worker"));
  EXPECT_TRUE(listed("route=/orders&order=duration"));
  EXPECT_FALSE(listed("error=true"));

  // A request the API fails is an error trace.
  ASSERT_EQ(api.set_fault(R"({"error_rate": 1})"), 200);
  const auto failed = ShopSystem::post_order(api, R"({"item": "pen", "quantity": 1})",
                                             {{"X-Request-Id", "e2e-trace-2"}});
  ASSERT_EQ(failed.status, 500);
  const std::string failed_trace = trace_of_request(api, "e2e-trace-2");
  ASSERT_TRUE(eventually(
      [&] {
        const json list = get_json(watch, "/api/v1/traces?error=true")["data"]["traces"];
        return list.size() == 1 && list[0]["traceId"] == failed_trace;
      },
      seconds(10)));

  // watch counts what it took.
  const std::string metrics = test::http_get(watch.port(), "/metrics").body;
  EXPECT_GE(metric(metrics, "watch_traces_spans_received_total").value_or(0), 4);
  EXPECT_EQ(
      metric(metrics, "watch_traces_spans_dropped_total", {{"reason", "invalid"}}).value_or(0), 0);
}

}  // namespace
}  // namespace firebreak::e2e
