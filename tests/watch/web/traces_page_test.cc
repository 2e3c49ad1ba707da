// The status page's trace pages, rendered from a real trace store fed OTLP
// JSON: the list with its filters, one trace as a waterfall (order, depth,
// bars on one time axis, the log correlation id), errors and missing traces,
// and hostile span data that must stay text.
#include "watch/web/traces_page.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace watch::web {
namespace {

using nlohmann::json;

constexpr std::string_view kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kFailedTrace = "0af7651916cd43dd8448eb211c80319c";
constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;  // ns

json span(std::string_view trace, std::string_view id, std::string_view parent, std::string name,
          int start_ms, int duration_ms, int kind, json attributes = json::array(),
          int status = 0) {
  json j = {{"traceId", trace},
            {"spanId", id},
            {"name", std::move(name)},
            {"kind", kind},
            {"startTimeUnixNano", std::to_string(kT0 + start_ms * 1'000'000ll)},
            {"endTimeUnixNano", std::to_string(kT0 + (start_ms + duration_ms) * 1'000'000ll)},
            {"attributes", std::move(attributes)},
            {"status", {{"code", status}}}};
  if (!parent.empty()) j["parentSpanId"] = parent;
  return j;
}

json attr(std::string key, std::string value) {
  return {{"key", std::move(key)}, {"value", {{"stringValue", std::move(value)}}}};
}

std::string request(const std::string& service, const std::vector<json>& spans) {
  return json{
      {"resourceSpans",
       json::array({{{"resource", {{"attributes", json::array({attr("service.name", service)})}}},
                     {"scopeSpans", json::array({{{"spans", spans}}})}}})}}
      .dump();
}

firebreak::AdminRequest get(std::string path,
                            std::vector<std::pair<std::string, std::string>> query = {}) {
  return {.method = "GET", .path = std::move(path), .query = std::move(query)};
}

std::size_t count(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class TracesPageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One order: the API's request (100 ms), its enqueue, the worker's
    // handling 40 ms later; the worker's span arrives first.
    ASSERT_TRUE(
        store_
            .ingest(request("shop-worker", {span(kTrace, "00000000000000c3", "00000000000000b2",
                                                 "process orders", 60, 30, 5)}))
            .ok());
    ASSERT_TRUE(store_
                    .ingest(request("shop-api",
                                    {span(kTrace, "00000000000000a1", "", "POST /orders", 0, 100, 2,
                                          json::array({attr("http.route", "/orders"),
                                                       {{"key", "http.response.status_code"},
                                                        {"value", {{"intValue", "201"}}}}})),
                                     span(kTrace, "00000000000000b2", "00000000000000a1",
                                          "create orders", 20, 5, 4)}))
                    .ok());
    // A failed request of another route, and a span whose name, attributes
    // and service are hostile.
    ASSERT_TRUE(store_
                    .ingest(request("<img src=x onerror=alert(1)>",
                                    {span(kFailedTrace, "00000000000000d4", "",
                                          "<script>alert(1)</script>", 500, 10, 2,
                                          json::array({attr("http.route", "/evil\"><b>"),
                                                       attr("url.full", "javascript:alert(1)")}),
                                          2)}))
                    .ok());
  }

  TracePageContext context() { return {.store = &store_, .version = "test", .now_ms = 1000}; }

  traces::Store store_;
};

TEST_F(TracesPageTest, ListsRecentTracesWithTheirRootRouteAndServices) {
  const auto r = traces_page(get("/traces"), context());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<a href=\"/traces/" + std::string(kTrace) + "\">shop-api: POST /orders"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("<td>/orders</td><td class=\"num\">100 ms</td><td class=\"num\">3</td>"
                        "<td>shop-api, shop-worker</td>"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("2 traces held (4 spans, "), std::string::npos);
  // Newest first: the failed one (started at +500 ms) comes before the order.
  EXPECT_LT(r.body.find(kFailedTrace), r.body.find(kTrace));
  EXPECT_EQ(count(r.body, "badge failed"), 1u);
  // The filter form offers every service and route held.
  EXPECT_NE(r.body.find("<option value=\"shop-worker\">shop-worker</option>"), std::string::npos);
  EXPECT_NE(r.body.find("<option value=\"/orders\">/orders</option>"), std::string::npos);
}

TEST_F(TracesPageTest, FiltersAsTheApiDoes) {
  auto r = traces_page(get("/traces", {{"service", "shop-worker"}}), context());
  EXPECT_NE(r.body.find(kTrace), std::string::npos);
  EXPECT_EQ(r.body.find(kFailedTrace), std::string::npos);
  EXPECT_NE(r.body.find("<option value=\"shop-worker\" selected>"), std::string::npos);

  r = traces_page(get("/traces", {{"error", "true"}}), context());
  EXPECT_EQ(r.body.find("/traces/" + std::string(kTrace)), std::string::npos);
  EXPECT_NE(r.body.find("/traces/" + std::string(kFailedTrace)), std::string::npos);
  EXPECT_NE(r.body.find("name=\"error\" value=\"true\" checked"), std::string::npos);

  r = traces_page(get("/traces", {{"order", "duration"}}), context());
  EXPECT_LT(r.body.find("/traces/" + std::string(kTrace)),
            r.body.find("/traces/" + std::string(kFailedTrace)));

  r = traces_page(get("/traces", {{"min_duration", "1s"}}), context());
  EXPECT_NE(r.body.find("No trace matches."), std::string::npos);
  EXPECT_NE(r.body.find("value=\"1s\""), std::string::npos);

  r = traces_page(get("/traces", {{"order", "sideways"}}), context());
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("invalid parameter &quot;order&quot;: &quot;sideways&quot;"),
            std::string::npos)
      << r.body;
}

TEST_F(TracesPageTest, OneTraceIsAWaterfallAcrossTheServices) {
  const auto r = trace_page(get("/traces/" + std::string(kTrace)), context());
  ASSERT_EQ(r.status, 200) << r.body;
  // Parent before children, children indented one step more.
  const auto root = r.body.find("<td class=\"depth-0\"><details><summary>POST /orders");
  const auto produce = r.body.find("<td class=\"depth-1\"><details><summary>create orders");
  const auto consume = r.body.find("<td class=\"depth-2\"><details><summary>process orders");
  ASSERT_NE(root, std::string::npos) << r.body;
  ASSERT_NE(produce, std::string::npos) << r.body;
  ASSERT_NE(consume, std::string::npos) << r.body;
  EXPECT_LT(root, produce);
  EXPECT_LT(produce, consume);
  // Bars on one axis of 1000 for the trace's 100 ms.
  EXPECT_NE(r.body.find("<rect x=\"0.0\" y=\"1\" width=\"1000.0\""), std::string::npos);
  EXPECT_NE(r.body.find("<rect x=\"200.0\" y=\"1\" width=\"50.0\""), std::string::npos);
  EXPECT_NE(r.body.find("<rect x=\"600.0\" y=\"1\" width=\"300.0\""), std::string::npos);
  EXPECT_NE(r.body.find("<td>producer</td>"), std::string::npos) << r.body;
  // Where its logs are: the trace id, as the kit's log lines carry it.
  EXPECT_NE(r.body.find("select(.trace_id == &quot;" + std::string(kTrace) + "&quot;)"),
            std::string::npos);
  EXPECT_NE(r.body.find("<dt>http.route</dt><dd><code>/orders</code>"), std::string::npos);
  EXPECT_NE(r.body.find("<dt>http.response.status_code</dt><dd><code>201</code>"),
            std::string::npos);
  EXPECT_EQ(count(r.body, "<svg class=\"bar\""), 3u);
}

TEST_F(TracesPageTest, UnknownMalformedOrDisabled) {
  auto r = trace_page(get("/traces/" + std::string(32, 'f')), context());
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("is not held"), std::string::npos);
  r = trace_page(get("/traces/xyz"), context());
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("Not a trace id"), std::string::npos);
  r = traces_page(get("/traces"), {.version = "test"});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("Traces are off"), std::string::npos);
  traces::Store empty;
  r = traces_page(get("/traces"), {.store = &empty, .version = "test"});
  EXPECT_NE(r.body.find("No traces yet"), std::string::npos);
}

TEST_F(TracesPageTest, HostileSpanDataStaysText) {
  for (const auto& r : {traces_page(get("/traces"), context()),
                        trace_page(get("/traces/" + std::string(kFailedTrace)), context())}) {
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body.find("<script>alert"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("<img"), std::string::npos);
    EXPECT_EQ(r.body.find("\"><b>"), std::string::npos);
    EXPECT_EQ(r.body.find("href=\"javascript:"), std::string::npos);
    EXPECT_NE(r.body.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    const auto& csp = r.headers;
    EXPECT_NE(std::find_if(csp.begin(), csp.end(),
                           [](const auto& h) {
                             return h.first == "Content-Security-Policy" &&
                                    h.second.find("script-src 'self'") != std::string::npos;
                           }),
              csp.end());
  }
}

}  // namespace
}  // namespace watch::web
