#include "firebreak/workload/http.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <map>
#include <regex>
#include <stdexcept>
#include <string>

#include "firebreak/workload/http_beast.h"
#include "workload/support.h"

namespace firebreak {
namespace {

using namespace std::chrono_literals;
using test::count_of;
using test::value_of;
namespace http = boost::beast::http;

constexpr std::string_view kDuration = "http_server_request_duration_seconds";
constexpr std::string_view kActive = "http_server_active_requests";
constexpr std::string_view kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

bool is_uuid_v4(std::string_view s) {
  static const std::regex re(
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  return std::regex_match(std::string(s), re);
}

class HttpObserverTest : public ::testing::Test {
 protected:
  test::TempDir dir_;
  ManualClock clock_;
  test::LogCapture logs_{dir_.path(), &clock_};
  test::MemoryTracer tracing_;
  Registry registry_;
  HttpObserver http_{registry_, {.clock = &clock_, .tracer = &tracing_.tracer}};
  std::map<std::string, std::string> headers_;

  // A header lookup over headers_ (names compared case-insensitively). A
  // member, so that the HeaderLookup views something that outlives the call.
  struct Lookup {
    const std::map<std::string, std::string>* headers;
    std::string_view operator()(std::string_view name) const {
      for (const auto& [k, v] : *headers)
        if (k.size() == name.size() &&
            std::equal(k.begin(), k.end(), name.begin(),
                       [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
          return v;
      return {};
    }
  };
  Lookup lookup_{&headers_};
  HeaderLookup lookup() { return lookup_; }
};

TEST_F(HttpObserverTest, RecordsTheRouteTemplateNotTheRawPath) {
  {
    auto scope = http_.begin({.method = "GET",
                              .route = "/orders/{id}",
                              .target = "/orders/o-17?verbose=1",
                              .headers = lookup()});
    clock_.advance(30ms);
    scope.end(200, 42);
  }
  EXPECT_EQ(count_of(registry_, kDuration,
                     {{"http_request_method", "GET"},
                      {"http_route", "/orders/{id}"},
                      {"http_response_status_code", "200"}}),
            1u);
  auto p = test::find_point(registry_, kDuration,
                            {{"http_request_method", "GET"},
                             {"http_route", "/orders/{id}"},
                             {"http_response_status_code", "200"}});
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(p->sum, 0.03);
  const std::string text = test::exposition(registry_);
  EXPECT_THAT(text, ::testing::Not(::testing::HasSubstr("o-17")));
  for (const auto& line : logs_.lines()) {
    EXPECT_THAT(line, ::testing::Not(::testing::HasSubstr("o-17")));
  }
}

// Without a scope (asyncio servers, the Python binding): the same series,
// the method normalized and an empty route unmatched, and nothing logged.
TEST_F(HttpObserverTest, RequestsWithoutAScopeRecordTheSameSeries) {
  http_.request_started("POST");
  http_.request_started("BREW");
  EXPECT_EQ(value_of(registry_, kActive, {{"http_request_method", "POST"}}), 1.0);
  EXPECT_EQ(value_of(registry_, kActive, {{"http_request_method", "_OTHER"}}), 1.0);
  http_.request_finished("POST", "/orders", 201, 0.25);
  http_.request_finished("BREW", "", 1000, 0.5);
  EXPECT_EQ(value_of(registry_, kActive, {{"http_request_method", "POST"}}), 0.0);
  EXPECT_EQ(value_of(registry_, kActive, {{"http_request_method", "_OTHER"}}), 0.0);
  auto p = test::find_point(registry_, kDuration,
                            {{"http_request_method", "POST"},
                             {"http_route", "/orders"},
                             {"http_response_status_code", "201"}});
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(p->sum, 0.25);
  EXPECT_EQ(count_of(registry_, kDuration,
                     {{"http_request_method", "_OTHER"},
                      {"http_route", "unmatched"},
                      {"http_response_status_code", "_OTHER"}}),
            1u);
  EXPECT_TRUE(logs_.lines().empty());
}

TEST_F(HttpObserverTest, UsesDesignBuckets) {
  http_.begin({.method = "GET", .route = "/a"}).end(200);
  for (const auto& f : registry_.collect()) {
    if (f.name == kDuration) {
      EXPECT_EQ(f.bounds, (std::vector<double>{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5,
                                               0.75, 1, 2.5, 5, 7.5, 10}));
    }
  }
}

TEST_F(HttpObserverTest, UnknownRoutesShareOneUnmatchedSeries) {
  for (std::string path : {"/wp-admin", "/.env", "/orders/../../etc/passwd", "/x/1", "/x/2"})
    http_.begin({.method = "GET", .target = path}).end(404);
  EXPECT_EQ(test::series_count(registry_, kDuration), 1u);
  EXPECT_EQ(count_of(registry_, kDuration,
                     {{"http_request_method", "GET"},
                      {"http_route", "unmatched"},
                      {"http_response_status_code", "404"}}),
            5u);
  auto records = logs_.events("http_request");
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0]["http_route"], "unmatched");
}

TEST_F(HttpObserverTest, UnmatchedRouteLabelIsConfigurable) {
  HttpObserverOptions options{.clock = &clock_, .tracer = &tracing_.tracer};
  options.unmatched_route = "_not_found";
  HttpObserver custom(registry_, options);
  custom.begin({.method = "GET", .target = "/nope"}).end(404);
  EXPECT_EQ(count_of(registry_, kDuration,
                     {{"http_request_method", "GET"},
                      {"http_route", "_not_found"},
                      {"http_response_status_code", "404"}}),
            1u);
}

TEST_F(HttpObserverTest, NonStandardMethodsAreRecordedAsOther) {
  http_.begin({.method = "PURGE", .route = "/cache"}).end(200);
  http_.begin({.method = "get", .route = "/cache"}).end(200);  // methods are case-sensitive
  EXPECT_EQ(count_of(registry_, kDuration,
                     {{"http_request_method", "_OTHER"},
                      {"http_route", "/cache"},
                      {"http_response_status_code", "200"}}),
            2u);
  auto records = logs_.events("http_request");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["http_request_method"], "_OTHER");
  EXPECT_EQ(records[0]["http_request_method_original"], "PURGE");
  auto spans = tracing_.spans();
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].name(), "HTTP /cache");
  EXPECT_EQ(spans[0].find_attribute("http.request.method")->as_string(), "_OTHER");
  EXPECT_EQ(spans[0].find_attribute("http.request.method_original")->as_string(), "PURGE");
  EXPECT_EQ(normalize_http_method("PATCH"), "PATCH");
  EXPECT_EQ(normalize_http_method(""), "_OTHER");
}

TEST_F(HttpObserverTest, StatusOutsideTheHttpRangeIsOther) {
  http_.begin({.method = "GET", .route = "/a"}).end(999);
  EXPECT_EQ(count_of(registry_, kDuration,
                     {{"http_request_method", "GET"},
                      {"http_route", "/a"},
                      {"http_response_status_code", "_OTHER"}}),
            1u);
}

TEST_F(HttpObserverTest, ActiveRequestsGoUpAndDown) {
  EXPECT_EQ(value_of(registry_, kActive, {{"http_request_method", "POST"}}), 0.0);
  {
    auto a = http_.begin({.method = "POST", .route = "/orders"});
    auto b = http_.begin({.method = "POST", .route = "/orders"});
    EXPECT_EQ(value_of(registry_, kActive, {{"http_request_method", "POST"}}), 2.0);
    b.end(201);
    EXPECT_EQ(value_of(registry_, kActive, {{"http_request_method", "POST"}}), 1.0);
    b.end(201);  // a second end does nothing
    EXPECT_EQ(value_of(registry_, kActive, {{"http_request_method", "POST"}}), 1.0);
  }  // `a` ends in its destructor
  EXPECT_EQ(value_of(registry_, kActive, {{"http_request_method", "POST"}}), 0.0);
}

TEST_F(HttpObserverTest, ScopeLeftByAnExceptionIsRecordedAs500) {
  try {
    auto scope = http_.begin({.method = "GET", .route = "/boom"});
    throw std::runtime_error("handler failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(count_of(registry_, kDuration,
                     {{"http_request_method", "GET"},
                      {"http_route", "/boom"},
                      {"http_response_status_code", "500"}}),
            1u);
  EXPECT_EQ(value_of(registry_, kActive, {{"http_request_method", "GET"}}), 0.0);
  auto records = logs_.events("http_request");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["level"], "error");
  auto spans = tracing_.spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].status_code(), StatusCode::kError);
  EXPECT_EQ(spans[0].find_attribute("http.response.status_code")->as_int(), 500);
}

TEST_F(HttpObserverTest, SaneRequestIdIsTaken) {
  headers_["X-Request-Id"] = "req-9f2:abc_DEF.1";
  std::string id;
  {
    auto scope = http_.begin({.method = "GET", .route = "/a", .headers = lookup()});
    id = scope.request_id();
    FB_LOG_INFO("inside", "");
    scope.end(200);
  }
  EXPECT_EQ(id, "req-9f2:abc_DEF.1");
  auto inside = logs_.events("inside");
  ASSERT_EQ(inside.size(), 1u);
  EXPECT_EQ(inside[0]["request_id"], id);
  EXPECT_EQ(inside[0]["http_route"], "/a");
  EXPECT_EQ(logs_.events("http_request").at(0)["request_id"], id);
}

TEST_F(HttpObserverTest, MissingOrUnsafeRequestIdIsGenerated) {
  const std::string too_long(kMaxRequestIdLength + 1, 'a');
  for (std::string bad : {std::string(), std::string("a b"), std::string("<script>"),
                          std::string("id\r\nX-Evil: 1"), too_long, std::string("caf\xc3\xa9")}) {
    headers_.clear();
    if (!bad.empty()) headers_["x-request-id"] = bad;
    auto scope = http_.begin({.method = "GET", .route = "/a", .headers = lookup()});
    EXPECT_TRUE(is_uuid_v4(scope.request_id())) << "for " << bad << ": " << scope.request_id();
    scope.end(200);
  }
  // Two generated ids differ.
  auto a = http_.begin({.method = "GET", .route = "/a"});
  auto b = http_.begin({.method = "GET", .route = "/a"});
  EXPECT_NE(a.request_id(), b.request_id());
  EXPECT_TRUE(is_valid_request_id(std::string(kMaxRequestIdLength, 'a')));
}

TEST_F(HttpObserverTest, UntrustedRequestIdIsAlwaysGenerated) {
  HttpObserverOptions options{.clock = &clock_, .tracer = &tracing_.tracer};
  options.trust_request_id = false;
  HttpObserver strict(registry_, options);
  headers_["X-Request-Id"] = "fine-id";
  auto scope = strict.begin({.method = "GET", .route = "/a", .headers = lookup()});
  EXPECT_TRUE(is_uuid_v4(scope.request_id()));
}

TEST_F(HttpObserverTest, TraceparentIsContinued) {
  headers_["traceparent"] = std::string(kTraceparent);
  headers_["tracestate"] = "congo=t61rcWkgMzE";
  {
    auto scope = http_.begin({.method = "GET",
                              .route = "/orders/{id}",
                              .target = "/orders/o-17?x=1",
                              .peer = "10.0.0.7:51234",
                              .headers = lookup()});
    EXPECT_EQ(scope.span_context().trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(current_span_context().span_id, scope.span_context().span_id);
    FB_LOG_INFO("inside", "");
    scope.end(200, 5);
  }
  EXPECT_FALSE(current_span_context().valid());
  auto spans = tracing_.spans();
  ASSERT_EQ(spans.size(), 1u);
  const SpanData& s = spans[0];
  EXPECT_EQ(s.name(), "GET /orders/{id}");
  EXPECT_EQ(s.kind(), SpanKind::kServer);
  EXPECT_EQ(s.trace_id().to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(s.parent_span_id().to_hex(), "00f067aa0ba902b7");
  EXPECT_TRUE(s.parent_is_remote());
  EXPECT_EQ(s.trace_state().get("congo"), "t61rcWkgMzE");
  EXPECT_EQ(s.find_attribute("http.request.method")->as_string(), "GET");
  EXPECT_EQ(s.find_attribute("http.route")->as_string(), "/orders/{id}");
  EXPECT_EQ(s.find_attribute("url.path")->as_string(), "/orders/o-17");
  EXPECT_EQ(s.find_attribute("client.address")->as_string(), "10.0.0.7:51234");
  EXPECT_EQ(s.find_attribute("http.response.status_code")->as_int(), 200);
  EXPECT_EQ(s.status_code(), StatusCode::kUnset);
  auto inside = logs_.events("inside");
  ASSERT_EQ(inside.size(), 1u);
  EXPECT_EQ(inside[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(inside[0]["span_id"], s.span_id().to_hex());
  EXPECT_EQ(logs_.events("http_request").at(0)["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST_F(HttpObserverTest, BadTraceparentStartsANewTraceAndTheRequestSucceeds) {
  for (std::string bad : {"00-zzzz2f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "garbage",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) {
    headers_["traceparent"] = bad;
    auto scope = http_.begin({.method = "GET", .route = "/a", .headers = lookup()});
    EXPECT_TRUE(scope.span_context().valid());
    EXPECT_NE(scope.span_context().trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    scope.end(200);
  }
  auto spans = tracing_.spans();
  ASSERT_EQ(spans.size(), 4u);
  for (const auto& s : spans) EXPECT_FALSE(s.parent_span_id().valid());
  EXPECT_EQ(count_of(registry_, kDuration,
                     {{"http_request_method", "GET"},
                      {"http_route", "/a"},
                      {"http_response_status_code", "200"}}),
            4u);
}

TEST_F(HttpObserverTest, ServerErrorsMarkTheSpanAndClientErrorsDoNot) {
  http_.begin({.method = "GET", .route = "/a"}).end(503);
  http_.begin({.method = "GET", .route = "/a"}).end(404);
  auto spans = tracing_.spans();
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].status_code(), StatusCode::kError);
  EXPECT_EQ(spans[1].status_code(), StatusCode::kUnset);
  auto records = logs_.events("http_request");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["level"], "error");
  EXPECT_EQ(records[1]["level"], "info");
}

TEST_F(HttpObserverTest, AccessLogRecordHasTheRequestFields) {
  set_log_identity({.service = "shop-api", .version = "1.0", .env = "test", .workload = "api"});
  headers_["X-Request-Id"] = "r-1";
  {
    auto scope = http_.begin({.method = "POST",
                              .route = "/orders/{id}/cancel",
                              .target = "/orders/o-99/cancel",
                              .peer = "192.0.2.1:4000",
                              .headers = lookup(),
                              .request_body_size = 17});
    clock_.advance(250ms);
    scope.end(202, 1234);
  }
  auto records = logs_.events("http_request");
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  EXPECT_EQ(r["level"], "info");
  EXPECT_EQ(r["service"], "shop-api");
  EXPECT_EQ(r["request_id"], "r-1");
  EXPECT_EQ(r["http_request_method"], "POST");
  EXPECT_EQ(r["http_route"], "/orders/{id}/cancel");
  EXPECT_EQ(r["http_response_status_code"], 202);
  EXPECT_DOUBLE_EQ(r["duration_s"].get<double>(), 0.25);
  EXPECT_EQ(r["http_request_body_size"], 17);
  EXPECT_EQ(r["http_response_body_size"], 1234);
  EXPECT_EQ(r["client_address"], "192.0.2.1:4000");
  EXPECT_TRUE(r.contains("trace_id"));
  EXPECT_EQ(r.dump().find("o-99"), std::string::npos);
  // Keys in schema order: trace context, then request_id and http_*, then the call's own.
  const std::string line = logs_.lines().back();
  EXPECT_LT(line.find("\"trace_id\""), line.find("\"request_id\""));
  EXPECT_LT(line.find("\"request_id\""), line.find("\"http_route\""));
  EXPECT_LT(line.find("\"http_route\""), line.find("\"duration_s\""));
}

TEST_F(HttpObserverTest, AccessLogCanBeTurnedOff) {
  HttpObserverOptions options{.clock = &clock_, .tracer = &tracing_.tracer};
  options.access_log = false;
  HttpObserver quiet(registry_, options);
  quiet.begin({.method = "GET", .route = "/a"}).end(200);
  EXPECT_TRUE(logs_.events("http_request").empty());
  EXPECT_EQ(count_of(registry_, kDuration,
                     {{"http_request_method", "GET"},
                      {"http_route", "/a"},
                      {"http_response_status_code", "200"}}),
            1u);
}

// --- Boost.Beast adapter

http::request<http::string_body> beast_request(http::verb verb, std::string target) {
  http::request<http::string_body> req(verb, target, 11);
  req.set(http::field::host, "shop");
  return req;
}

TEST_F(HttpObserverTest, BeastAdapterEchoesTheRequestIdAndRecordsTheResponse) {
  auto req = beast_request(http::verb::get, "/orders/o-5");
  req.set("X-Request-Id", "beast-1");
  req.set("traceparent", kTraceparent);
  auto res = observe_request(http_, "/orders/{id}", req, "127.0.0.1:999",
                             [](const http::request<http::string_body>& r) {
                               http::response<http::string_body> out(http::status::ok, r.version());
                               out.body() = "{\"id\":\"o-5\"}";
                               out.prepare_payload();
                               return out;
                             });
  EXPECT_EQ(res["X-Request-Id"], "beast-1");
  EXPECT_EQ(count_of(registry_, kDuration,
                     {{"http_request_method", "GET"},
                      {"http_route", "/orders/{id}"},
                      {"http_response_status_code", "200"}}),
            1u);
  auto records = logs_.events("http_request");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["http_response_body_size"], 12);
  EXPECT_EQ(records[0]["client_address"], "127.0.0.1:999");
  EXPECT_EQ(records[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST_F(HttpObserverTest, BeastAdapterCombinesRepeatedTracestateFields) {
  auto req = beast_request(http::verb::get, "/a");
  req.set("traceparent", kTraceparent);
  req.insert("tracestate", "a=1");
  req.insert("tracestate", "b=2");
  observe_request(http_, "/a", req, "", [](const auto&, HttpRequestScope& scope) {
    EXPECT_EQ(scope.span_context().trace_state.header(), "a=1,b=2");
    return http::response<http::empty_body>(http::status::no_content, 11);
  });
  auto spans = tracing_.spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].trace_state().header(), "a=1,b=2");
}

TEST_F(HttpObserverTest, BeastAdapterGeneratesAnIdWhenTheRequestHasNone) {
  auto req = beast_request(http::verb::post, "/orders");
  auto res = observe_request(http_, "/orders", req, "", [](const auto&) {
    return http::response<http::string_body>(http::status::created, 11);
  });
  EXPECT_TRUE(is_uuid_v4(std::string(res["X-Request-Id"])));
  EXPECT_EQ(logs_.events("http_request").at(0)["request_id"], std::string(res["X-Request-Id"]));
}

TEST_F(HttpObserverTest, BeastAdapterRecordsAThrowingHandlerAs500AndRethrows) {
  auto req = beast_request(http::verb::delete_, "/orders/o-1");
  EXPECT_THROW(observe_request(http_, "/orders/{id}", req, "",
                               [](const auto&) -> http::response<http::string_body> {
                                 throw std::runtime_error("db gone");
                               }),
               std::runtime_error);
  EXPECT_EQ(count_of(registry_, kDuration,
                     {{"http_request_method", "DELETE"},
                      {"http_route", "/orders/{id}"},
                      {"http_response_status_code", "500"}}),
            1u);
  EXPECT_EQ(value_of(registry_, kActive, {{"http_request_method", "DELETE"}}), 0.0);
}

TEST_F(HttpObserverTest, BeastWrapperRoutesEachRequest) {
  auto handle = observed(
      http_,
      [](std::string_view, std::string_view target) -> std::string_view {
        return target.starts_with("/orders/") ? "/orders/{id}" : "";
      },
      [](const http::request<http::string_body>& r) {
        return http::response<http::string_body>(
            r.target().starts_with("/orders/") ? http::status::ok : http::status::not_found, 11);
      });
  handle(beast_request(http::verb::get, "/orders/1"), "");
  handle(beast_request(http::verb::get, "/orders/2"), "");
  handle(beast_request(http::verb::get, "/nope"), "");
  EXPECT_EQ(count_of(registry_, kDuration,
                     {{"http_request_method", "GET"},
                      {"http_route", "/orders/{id}"},
                      {"http_response_status_code", "200"}}),
            2u);
  EXPECT_EQ(count_of(registry_, kDuration,
                     {{"http_request_method", "GET"},
                      {"http_route", "unmatched"},
                      {"http_response_status_code", "404"}}),
            1u);
}

}  // namespace
}  // namespace firebreak
