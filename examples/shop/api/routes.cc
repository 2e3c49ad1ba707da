#include "api/routes.h"

namespace shop {

RouteMatch match_route(std::string_view method, std::string_view target) {
  RouteMatch m;
  std::string_view path = target;
  if (const auto q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    m.query = target.substr(q + 1);
  }
  const bool get = method == "GET";
  if (path == "/orders" || path == "/orders/") {
    m.route = "/orders";
    if (method == "POST")
      m.id = RouteId::kCreateOrder;
    else if (get)
      m.id = RouteId::kListOrders;
    else
      m.allow = "GET, POST";
    return m;
  }
  constexpr std::string_view kPrefix = "/orders/";
  if (path.starts_with(kPrefix) && path.find('/', kPrefix.size()) == std::string_view::npos) {
    m.route = "/orders/{id}";
    m.id_segment = path.substr(kPrefix.size());
    if (get)
      m.id = RouteId::kGetOrder;
    else
      m.allow = "GET";
    return m;
  }
  return m;  // unknown path: route ""
}

}  // namespace shop
