// OrdersApi: the shop API's handlers, free of any HTTP library, so they can be
// read (and tested) without a server. http_server.h feeds them requests.
//
//   shop::OrdersApi api(pool, queue_options, faults, service.registry());
//   shop::ApiResponse res = api.handle(shop::match_route(method, target),
//                                      {.method = method, .content_type = ct, .body = body});
//
// Every error is an application/problem+json body (common/problem.h): 400 for
// bad input, naming each bad field; 404 for an unknown order or path; 405 with
// Allow; 415 for a body that is not JSON; 503 when the database fails (the
// client may retry). Nothing is stored unless the whole request is valid.
//
// Faults (common/faults.h): slow_ms sleeps that long in the handler, as a
// slow synchronous dependency would (it holds a server thread, so throughput
// drops too); error_rate answers that fraction of requests with 500 before
// touching the database.
//
// Thread-safety: handle() is thread-safe (one pooled connection per call).
#pragma once

#include <string>
#include <string_view>

#include "api/routes.h"
#include "common/db_pool.h"
#include "common/faults.h"
#include "common/problem.h"
#include "common/queue.h"
#include "firebreak/metrics.h"

namespace shop {

struct ApiRequest {
  std::string_view method;
  std::string_view content_type = {};
  std::string_view body = {};
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body = {};
  std::string location = {};  // 201: the new order's URL
  std::string allow = {};     // 405: the methods the path takes

  static ApiResponse problem(const Problem& p);
};

// The fault switches shop-api declares.
std::vector<FaultSpec> api_fault_specs();

class OrdersApi {
 public:
  // `faults` must hold api_fault_specs(); all references must outlive this.
  OrdersApi(DbPool& pool, QueueOptions queue_options, const FaultSwitches& faults,
            firebreak::Registry& registry);

  ApiResponse handle(const RouteMatch& route, const ApiRequest& request);

 private:
  ApiResponse create_order(const ApiRequest& request);
  ApiResponse get_order(std::string_view id_segment);
  ApiResponse list_orders(std::string_view query);

  DbPool& pool_;
  QueueOptions queue_options_;
  const Fault& slow_ms_;
  const Fault& error_rate_;
  firebreak::Counter orders_created_;
};

}  // namespace shop
