#include "api/orders_api.h"

#include <fmt/format.h>
#include <boost/url/parse_query.hpp>

#include <charconv>
#include <chrono>
#include <random>
#include <thread>

#include "api/order_request.h"
#include "common/orders.h"
#include "firebreak/log.h"
#include "firebreak/trace.h"

namespace shop {
namespace {

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 100;

// A positive decimal id without sign, spaces or leading zeros' ambiguity.
std::optional<std::int64_t> parse_id(std::string_view text) {
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0) return std::nullopt;
  return id;
}

bool json_content_type(std::string_view ct) {
  const std::string_view media = ct.substr(0, ct.find(';'));
  auto lower_eq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    return true;
  };
  return media.empty() || lower_eq(media, "application/json") ||
         (media.size() > 5 && lower_eq(media.substr(media.size() - 5), "+json"));
}

bool roll(double probability) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(rng) < probability;
}

}  // namespace

ApiResponse ApiResponse::problem(const Problem& p) {
  return {.status = p.status, .content_type = std::string(kProblemJson), .body = p.json()};
}

std::vector<FaultSpec> api_fault_specs() {
  return {
      {.name = "never_ready", .help = "fail the readiness check \"faults\" (never ready)"},
      {.name = "not_ready",
       .help = "fail the readiness check \"faults\" (a lost dependency: was ready, is not)"},
      {.name = "slow_ms",
       .help = "sleep this long in every handler",
       .kind = FaultKind::kNumber,
       .max = 60000},
      {.name = "error_rate",
       .help = "answer this fraction of requests with 500",
       .kind = FaultKind::kNumber,
       .max = 1},
  };
}

OrdersApi::OrdersApi(DbPool& pool, QueueOptions queue_options, const FaultSwitches& faults,
                     firebreak::Registry& registry)
    : pool_(pool),
      queue_options_(std::move(queue_options)),
      slow_ms_(faults.get("slow_ms")),
      error_rate_(faults.get("error_rate")),
      orders_created_(registry
                          .counter({.name = "shop_orders_created_total",
                                    .help = "Orders accepted and stored (with their message)."})
                          .labels()) {}

ApiResponse OrdersApi::handle(const RouteMatch& route, const ApiRequest& request) {
  if (route.route.empty()) return ApiResponse::problem(Problem::not_found("no such resource"));
  if (!route.allow.empty()) {
    ApiResponse res = ApiResponse::problem(
        {405, "Method Not Allowed", fmt::format("{} takes {}", route.route, route.allow)});
    res.allow = std::string(route.allow);
    return res;
  }
  if (const double ms = slow_ms_.value(); ms > 0)
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(ms));
  if (const double rate = error_rate_.value(); rate > 0 && roll(rate))
    return ApiResponse::problem(Problem::internal("injected fault: error_rate"));

  try {
    switch (route.id) {
      case RouteId::kCreateOrder:
        return create_order(request);
      case RouteId::kGetOrder:
        return get_order(route.id_segment);
      case RouteId::kListOrders:
        return list_orders(route.query);
      case RouteId::kNone:
        break;
    }
    return ApiResponse::problem(Problem::not_found("no such resource"));
  } catch (const DbError& e) {
    // Busy (another process held the write lock past the timeout), disk full,
    // I/O error: the client may retry later; the log says which.
    FB_LOG_ERROR("database_error", "", {"error", e.what()}, {"sqlite_code", e.code()});
    return ApiResponse::problem(Problem::unavailable("the order database is unavailable"));
  }
}

ApiResponse OrdersApi::create_order(const ApiRequest& request) {
  if (!json_content_type(request.content_type))
    return ApiResponse::problem(
        {415, "Unsupported Media Type",
         fmt::format("send application/json, not {}", request.content_type)});
  auto parsed = parse_order_request(request.body);
  if (!parsed.order) return ApiResponse::problem(parsed.problem);

  // The message's own span: the link between this request and the worker's
  // handling of the order, in the same trace (trace.h: across a queue).
  firebreak::ScopedSpan publish("create " + queue_options_.name,
                                {.kind = firebreak::SpanKind::kProducer});
  publish->set_attribute("messaging.operation.type", "create");
  publish->set_attribute("messaging.destination.name", queue_options_.name);
  MessageHeaders headers;
  firebreak::inject(publish.context(), headers);

  auto db = pool_.acquire();
  Queue queue(*db, queue_options_);
  const Order order = Orders(*db).create(*parsed.order, queue, headers);
  orders_created_.inc();
  FB_LOG_INFO("order_created", "", {"order_id", order.id}, {"quantity", order.quantity});
  return {.status = 201, .body = to_json(order), .location = fmt::format("/orders/{}", order.id)};
}

ApiResponse OrdersApi::get_order(std::string_view id_segment) {
  const auto id = parse_id(id_segment);
  if (!id) return ApiResponse::problem(Problem::not_found("order ids are positive integers"));
  auto db = pool_.acquire();
  const auto order = Orders(*db).get(*id);
  if (!order) return ApiResponse::problem(Problem::not_found(fmt::format("no order {}", *id)));
  return {.status = 200, .body = to_json(*order)};
}

ApiResponse OrdersApi::list_orders(std::string_view query) {
  std::string status;
  int limit = kDefaultLimit;
  std::vector<InvalidParam> errors;
  // A NUL-terminated copy: Debian's Boost.URL 1.81 library reads its
  // argument up to a NUL whatever the view's size (and crashes on an empty
  // view's null pointer), and a server's target is a view into its buffer.
  const std::string query_text(query);
  auto params = boost::urls::parse_query(query_text.c_str());
  if (!params) return ApiResponse::problem(Problem::bad_request("malformed query string"));
  for (const auto& p : *params) {
    // Decoded ("%69nvoiced" is "invoiced").
    const std::string key = p.key.decode();
    const std::string value = p.value.decode();
    if (key == "status") {
      if (value != "pending" && value != "invoiced")
        errors.push_back({"status", "must be pending or invoiced"});
      status = value;
    } else if (key == "limit") {
      const auto n = parse_id(value);
      if (!n || *n > kMaxLimit)
        errors.push_back({"limit", fmt::format("must be an integer from 1 to {}", kMaxLimit)});
      else
        limit = static_cast<int>(*n);
    }
  }
  if (!errors.empty())
    return ApiResponse::problem(
        Problem::bad_request(errors.front().name + ": " + errors.front().reason, errors));

  auto db = pool_.acquire();
  std::string body = R"({"orders":[)";
  bool first = true;
  for (const Order& o : Orders(*db).list(status, limit)) {
    if (!first) body += ',';
    first = false;
    body += to_json(o);
  }
  body += "]}";
  return {.status = 200, .body = std::move(body)};
}

}  // namespace shop
