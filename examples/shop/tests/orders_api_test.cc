// The API's handlers without a server: status codes, bodies, and what is
// stored.
#include "api/orders_api.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "temp_db.h"

namespace shop {
namespace {

class OrdersApiTest : public ::testing::Test {
 protected:
  ApiResponse call(std::string_view method, std::string_view target, std::string_view body = {}) {
    return api_.handle(match_route(method, target),
                       {.method = method, .content_type = "application/json", .body = body});
  }
  std::int64_t create(const char* item) {
    const auto res =
        call("POST", "/orders", std::string(R"({"item":")") + item + R"(","quantity":1})");
    EXPECT_EQ(res.status, 201) << res.body;
    return nlohmann::json::parse(res.body)["id"].get<std::int64_t>();
  }

  test::TempDb temp_;
  DbPool pool_{{.path = temp_.path()}};
  FaultSwitches faults_{api_fault_specs()};
  firebreak::Registry registry_;
  OrdersApi api_{pool_, {.name = "orders"}, faults_, registry_};
};

TEST_F(OrdersApiTest, CreateAnswers201WithTheOrderAndItsLocation) {
  const auto res = call("POST", "/orders", R"({"item": "book", "quantity": 2})");
  EXPECT_EQ(res.status, 201);
  const auto j = nlohmann::json::parse(res.body);
  EXPECT_EQ(j["status"], "pending");
  EXPECT_EQ(res.location, "/orders/" + std::to_string(j["id"].get<int>()));
  EXPECT_EQ(temp_.count("SELECT count(*) FROM messages WHERE type = 'order.created'"), 1);
}

TEST_F(OrdersApiTest, GetAnswersTheOrderOr404) {
  const auto id = create("lamp");
  EXPECT_EQ(call("GET", "/orders/" + std::to_string(id)).status, 200);
  const auto missing = call("GET", "/orders/12345");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.content_type, "application/problem+json");
  EXPECT_EQ(call("GET", "/orders/-1").status, 404);
  EXPECT_EQ(call("GET", "/orders/1x").status, 404);
}

TEST_F(OrdersApiTest, ListHonoursStatusAndLimit) {
  for (const char* item : {"a", "b", "c"}) create(item);
  temp_.db().exec("UPDATE orders SET status = 'invoiced' WHERE item IN ('a', 'b')");
  auto ids = [&](std::string_view target) {
    std::vector<std::int64_t> out;
    const auto res = call("GET", target);
    EXPECT_EQ(res.status, 200) << res.body;
    const auto body = nlohmann::json::parse(res.body);
    for (const auto& o : body["orders"]) out.push_back(o["id"]);
    return out;
  };
  EXPECT_EQ(ids("/orders?status=invoiced&limit=1"), std::vector<std::int64_t>{2});
  EXPECT_EQ(ids("/orders?limit=1&status=invoiced"), std::vector<std::int64_t>{2});
  EXPECT_EQ(ids("/orders?status=invoiced"), (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(ids("/orders"), (std::vector<std::int64_t>{3, 2, 1}));
  EXPECT_EQ(ids("/orders?"), (std::vector<std::int64_t>{3, 2, 1}));
  // The last parameter of a target that is not NUL-terminated, as a server's
  // buffer holds it ("...limit=1 HTTP/1.1").
  const std::string buffer = "/orders?limit=1 HTTP/1.1\r\n";
  EXPECT_EQ(ids(std::string_view(buffer).substr(0, buffer.find(' '))),
            std::vector<std::int64_t>{3});
  EXPECT_EQ(ids("/orders?status=%69nvoiced"), (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(call("GET", "/orders?limit=0").status, 400);
  EXPECT_EQ(call("GET", "/orders?limit=101").status, 400);
  EXPECT_EQ(call("GET", "/orders?status=shipped").status, 400);
}

TEST_F(OrdersApiTest, OtherMethodsGet405WithAllow) {
  const auto res = call("PUT", "/orders/1");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.allow, "GET");
}

TEST_F(OrdersApiTest, ErrorRateOneAnswers500WithoutStoring) {
  faults_.set_from_flag("error_rate=1");
  EXPECT_EQ(call("POST", "/orders", R"({"item": "book", "quantity": 2})").status, 500);
  EXPECT_EQ(temp_.count("SELECT count(*) FROM orders"), 0);
}

TEST_F(OrdersApiTest, ADatabaseFailureIs503) {
  temp_.db().exec("DROP TABLE invoices; DROP TABLE orders");
  const auto res = call("GET", "/orders/1");
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.content_type, "application/problem+json");
}

}  // namespace
}  // namespace shop
