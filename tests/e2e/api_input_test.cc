// Untrusted input to shop-api: bad bodies get the right 4xx with a problem
// body naming the field and store nothing; a bad traceparent never fails a
// request (it starts a new trace).
#include <gtest/gtest.h>

#include "e2e/shop_system.h"

namespace firebreak::e2e {
namespace {

using std::chrono::seconds;

struct BadCase {
  const char* name;
  std::string body;
  int status;
  const char* field;  // expected in invalid_params; "" for none
  const char* content_type = "application/json";
};

TEST(ApiInput, BadInputGetsTheRight4xxAndStoresNothing) {
  ShopSystem shop;
  Service api = shop.start_api();
  const std::vector<BadCase> cases = {
      {"invalid json", R"({"item": "book", "quantity": )", 400, "body"},
      {"not an object", R"(["book", 1])", 400, "body"},
      {"empty body", "", 400, "body"},
      {"item not a string", R"({"item": 42, "quantity": 1})", 400, "item"},
      {"quantity a string", R"({"item": "book", "quantity": "2"})", 400, "quantity"},
      {"quantity a fraction", R"({"item": "book", "quantity": 1.5})", 400, "quantity"},
      {"missing item", R"({"quantity": 1})", 400, "item"},
      {"missing quantity", R"({"item": "book"})", 400, "quantity"},
      {"quantity zero", R"({"item": "book", "quantity": 0})", 400, "quantity"},
      {"quantity too big", R"({"item": "book", "quantity": 1001})", 400, "quantity"},
      {"empty item", R"({"item": "", "quantity": 1})", 400, "item"},
      {"customer not a string", R"({"item": "b", "quantity": 1, "customer": []})", 400, "customer"},
      {"huge body", R"({"item": ")" + std::string(64 * 1024, 'x') + R"(", "quantity": 1})", 413,
       ""},
      {"not json", R"({"item": "book", "quantity": 1})", 415, "", "text/plain"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto res =
        test::http_request(api.http, "POST", "/orders", {{"Content-Type", c.content_type}}, c.body);
    EXPECT_EQ(res.status, c.status) << res.body;
    EXPECT_EQ(res.header("Content-Type"), "application/problem+json");
    const auto problem = nlohmann::json::parse(res.body, nullptr, false);
    ASSERT_TRUE(problem.is_object()) << res.body;
    EXPECT_EQ(problem["status"], c.status);
    if (*c.field) {
      ASSERT_TRUE(problem.contains("invalid_params")) << res.body;
      bool named = false;
      for (const auto& p : problem["invalid_params"]) named |= p["name"] == c.field;
      EXPECT_TRUE(named) << res.body;
    }
  }
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(*) FROM orders"), 0);
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(*) FROM messages"), 0);

  // The 4xx are recorded as such, under the route template; nothing as created.
  const std::string metrics = api.metrics();
  EXPECT_EQ(metric(metrics, "http_server_request_duration_seconds_count",
                   {{"http_route", "/orders"}, {"http_response_status_code", "400"}}),
            12);
  EXPECT_EQ(metric(metrics, "http_server_request_duration_seconds_count",
                   {{"http_route", "/orders"}, {"http_response_status_code", "413"}}),
            1);
  EXPECT_EQ(metric(metrics, "shop_orders_created_total"), 0);
  // The server still serves good requests afterwards.
  EXPECT_EQ(ShopSystem::post_order(api, R"({"item": "book", "quantity": 1})").status, 201);
}

// The trace id of the access-log record of the request with this id.
std::string trace_of(const ShopProcess& api, const std::string& request_id) {
  std::string trace;
  eventually(
      [&] {
        for (const auto& r : api.logs("http_request"))
          if (r.value("request_id", "") == request_id) trace = r.value("trace_id", "");
        return !trace.empty();
      },
      seconds(5));
  return trace;
}

TEST(ApiInput, AMalformedTraceparentStartsANewTraceAndTheRequestSucceeds) {
  ShopSystem shop;
  Service api = shop.start_api();
  for (const char* bad : {"00-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-00f067aa0ba902b7-01",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "garbage",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) {
    SCOPED_TRACE(bad);
    const std::string request_id =
        std::string("bad-tp-") + std::to_string(std::hash<std::string>{}(bad));
    const auto res = ShopSystem::post_order(api, R"({"item": "mug", "quantity": 1})",
                                            {{"traceparent", bad}, {"X-Request-Id", request_id}});
    EXPECT_EQ(res.status, 201) << res.body;
    const std::string trace = trace_of(*api.process, request_id);
    EXPECT_EQ(trace.size(), 32u);
    EXPECT_NE(trace, std::string(32, '0'));
    EXPECT_EQ(std::string(bad).find(trace), std::string::npos);
  }
  // The new trace is the one that travels with the message.
  EXPECT_EQ(
      count_rows(shop.db(),
                 "SELECT count(*) FROM messages WHERE headers LIKE '%\"traceparent\":\"00-%'"),
      4);
}

TEST(ApiInput, AValidTraceparentIsContinued) {
  ShopSystem shop;
  Service api = shop.start_api();
  const auto res = ShopSystem::post_order(
      api, R"({"item": "mug", "quantity": 1})",
      {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
       {"X-Request-Id", "tp-ok"}});
  ASSERT_EQ(res.status, 201);
  EXPECT_EQ(trace_of(*api.process, "tp-ok"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(count_rows(shop.db(),
                       "SELECT count(*) FROM messages WHERE headers LIKE "
                       "'%00-4bf92f3577b34da6a3ce929d0e0e4736-%'"),
            1);
}

TEST(ApiInput, UnknownPathsMethodsAndOrdersGet404Or405) {
  ShopSystem shop;
  Service api = shop.start_api();
  EXPECT_EQ(test::http_get(api.http, "/nope").status, 404);
  EXPECT_EQ(test::http_get(api.http, "/orders").status, 200);          // no query string at all
  EXPECT_EQ(test::http_get(api.http, "/orders?limit=1").status, 200);  // last parameter
  EXPECT_EQ(test::http_get(api.http, "/orders/abc").status, 404);
  EXPECT_EQ(test::http_get(api.http, "/orders/999").status, 404);
  const auto del = test::http_request(api.http, "DELETE", "/orders/1");
  EXPECT_EQ(del.status, 405);
  EXPECT_EQ(del.header("Allow"), "GET");
  EXPECT_EQ(test::http_get(api.http, "/orders?status=lost").status, 400);
  // Random paths share one series.
  EXPECT_EQ(api.metric("http_server_request_duration_seconds_count",
                       {{"http_route", "unmatched"}, {"http_response_status_code", "404"}}),
            1);
}

}  // namespace
}  // namespace firebreak::e2e
