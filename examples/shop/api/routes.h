// The shop API's routes: which handler a request goes to, and the route
// template that metrics, spans and the access log record instead of the raw
// path (which carries ids: one series per order would be a cardinality leak).
//
//   POST /orders          create an order
//   GET  /orders          list orders (?status=pending|invoiced&limit=1..100)
//   GET  /orders/{id}     one order
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

namespace shop {

enum class RouteId { kNone, kCreateOrder, kListOrders, kGetOrder };

struct RouteMatch {
  RouteId id = RouteId::kNone;
  // The template ("/orders/{id}"); "" when the path is unknown.
  std::string_view route = {};
  // The path matched but not the method: answer 405 with this Allow value.
  std::string_view allow = {};
  // The {id} segment of /orders/{id}, as sent (validated by the handler).
  std::string_view id_segment = {};
  // The query string, without '?'.
  std::string_view query = {};
};

// Matches a request target ("/orders/17?x=1").
RouteMatch match_route(std::string_view method, std::string_view target);

}  // namespace shop
