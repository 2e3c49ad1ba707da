// Routing: templates, not raw paths; 405 with Allow for a known path.
#include "api/routes.h"

#include <gtest/gtest.h>

namespace shop {
namespace {

TEST(Routes, MatchesTheThreeRoutes) {
  EXPECT_EQ(match_route("POST", "/orders").id, RouteId::kCreateOrder);
  EXPECT_EQ(match_route("GET", "/orders?status=pending").id, RouteId::kListOrders);
  EXPECT_EQ(match_route("GET", "/orders?status=pending").query, "status=pending");
  const auto get = match_route("GET", "/orders/17");
  EXPECT_EQ(get.id, RouteId::kGetOrder);
  EXPECT_EQ(get.route, "/orders/{id}");
  EXPECT_EQ(get.id_segment, "17");
}

TEST(Routes, AnyIdSegmentKeepsTheTemplate) {
  EXPECT_EQ(match_route("GET", "/orders/not-a-number").route, "/orders/{id}");
}

TEST(Routes, AKnownPathWithAnotherMethodGivesAllow) {
  const auto m = match_route("DELETE", "/orders/3");
  EXPECT_EQ(m.id, RouteId::kNone);
  EXPECT_EQ(m.route, "/orders/{id}");
  EXPECT_EQ(m.allow, "GET");
  EXPECT_EQ(match_route("PUT", "/orders").allow, "GET, POST");
}

TEST(Routes, UnknownPathsHaveNoRoute) {
  EXPECT_EQ(match_route("GET", "/").route, "");
  EXPECT_EQ(match_route("GET", "/orders/1/items").route, "");
  EXPECT_EQ(match_route("GET", "/admin").route, "");
}

}  // namespace
}  // namespace shop
