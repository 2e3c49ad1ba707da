// POST /orders validation: what is accepted, and that each bad field is named.
#include "api/order_request.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace shop {
namespace {

// The names of the invalid params in a 400, in order.
std::vector<std::string> bad_fields(std::string_view body) {
  const OrderRequest r = parse_order_request(body);
  EXPECT_FALSE(r.order) << body;
  EXPECT_EQ(r.problem.status, 400) << body;
  std::vector<std::string> names;
  for (const auto& p : r.problem.invalid_params) names.push_back(p.name);
  return names;
}

using Names = std::vector<std::string>;

TEST(OrderRequest, AcceptsItemAndQuantity) {
  const auto r = parse_order_request(R"({"item": "book", "quantity": 3})");
  ASSERT_TRUE(r.order);
  EXPECT_EQ(r.order->item, "book");
  EXPECT_EQ(r.order->quantity, 3);
  EXPECT_FALSE(r.order->customer);
}

TEST(OrderRequest, AcceptsAnOptionalCustomerAndIgnoresUnknownMembers) {
  const auto r =
      parse_order_request(R"({"item": "lamp", "quantity": 1000, "customer": "c-9", "note": 1})");
  ASSERT_TRUE(r.order);
  EXPECT_EQ(r.order->customer, "c-9");
  EXPECT_EQ(r.order->quantity, 1000);
}

TEST(OrderRequest, InvalidJsonIsABadBodyWithAPosition) {
  const auto r = parse_order_request(R"({"item": "book", "quantity": )");
  ASSERT_FALSE(r.order);
  EXPECT_EQ(r.problem.status, 400);
  EXPECT_NE(r.problem.detail.find("not valid JSON"), std::string::npos);
  EXPECT_NE(r.problem.detail.find("column"), std::string::npos) << r.problem.detail;
  EXPECT_EQ(bad_fields(R"({"item": "book", "quantity": )"), Names{"body"});
}

TEST(OrderRequest, ABodyThatIsNotAnObjectIsRefused) {
  EXPECT_EQ(bad_fields(R"([1, 2])"), Names{"body"});
  EXPECT_EQ(bad_fields(R"("book")"), Names{"body"});
  EXPECT_EQ(bad_fields(""), Names{"body"});
}

TEST(OrderRequest, MissingFieldsAreEachNamed) {
  EXPECT_EQ(bad_fields(R"({})"), (Names{"item", "quantity"}));
  EXPECT_EQ(bad_fields(R"({"quantity": 1})"), Names{"item"});
  EXPECT_EQ(bad_fields(R"({"item": "book", "quantity": null})"), Names{"quantity"});
}

TEST(OrderRequest, WrongTypesAreNamed) {
  EXPECT_EQ(bad_fields(R"({"item": 42, "quantity": "two"})"), (Names{"item", "quantity"}));
  EXPECT_EQ(bad_fields(R"({"item": "book", "quantity": 2.0})"), Names{"quantity"});
  EXPECT_EQ(bad_fields(R"({"item": "book", "quantity": true})"), Names{"quantity"});
  EXPECT_EQ(bad_fields(R"({"item": "book", "quantity": 1, "customer": 5})"), Names{"customer"});
}

TEST(OrderRequest, QuantityOutsideOneToAThousandIsRefused) {
  for (const char* q : {"0", "-1", "1001", "18446744073709551615", "99999999999999999999"})
    EXPECT_EQ(bad_fields(std::string(R"({"item": "book", "quantity": )") + q + "}"),
              Names{"quantity"})
        << q;
}

TEST(OrderRequest, AnEmptyOrOverlongItemIsRefused) {
  EXPECT_EQ(bad_fields(R"({"item": "", "quantity": 1})"), Names{"item"});
  EXPECT_EQ(bad_fields(R"({"item": "   ", "quantity": 1})"), Names{"item"});
  EXPECT_EQ(bad_fields(R"({"item": ")" + std::string(201, 'x') + R"(", "quantity": 1})"),
            Names{"item"});
  // 200 characters of two bytes each are fine: the limit counts characters.
  std::string wide;
  for (int i = 0; i < 200; ++i) wide += "\xC3\xA9";
  EXPECT_TRUE(parse_order_request(R"({"item": ")" + wide + R"(", "quantity": 1})").order);
}

TEST(OrderRequest, InvalidUtf8IsInvalidJson) {
  EXPECT_EQ(bad_fields("{\"item\": \"\xff\", \"quantity\": 1}"), Names{"body"});
}

TEST(OrderRequest, TheProblemBodyIsProblemJsonNamingTheField) {
  const auto r = parse_order_request(R"({"item": "book"})");
  const auto j = nlohmann::json::parse(r.problem.json());
  EXPECT_EQ(j["status"], 400);
  EXPECT_EQ(j["title"], "Bad Request");
  EXPECT_EQ(j["invalid_params"][0]["name"], "quantity");
  EXPECT_EQ(j["detail"], "quantity: is required");
}

}  // namespace
}  // namespace shop
