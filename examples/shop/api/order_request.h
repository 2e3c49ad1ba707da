// Validation of POST /orders bodies: the API's one untrusted input.
//
//   auto parsed = shop::parse_order_request(body);
//   if (!parsed.order) return error_response(parsed.problem);   // 400
//   orders.create(*parsed.order, headers);
//
// Accepted: a JSON object with "item" (a non-empty string of at most 200
// characters), "quantity" (an integer from 1 to 1000) and optionally
// "customer" (a string of at most 200 characters, or null). Other members are
// ignored, so clients can send more than this version reads. Every invalid
// field is reported, not only the first.
#pragma once

#include <optional>
#include <string_view>

#include "common/orders.h"
#include "common/problem.h"

namespace shop {

inline constexpr std::size_t kMaxItemLength = 200;
inline constexpr int kMaxQuantity = 1000;

struct OrderRequest {
  std::optional<NewOrder> order;  // set when valid
  Problem problem = {};           // a 400 when not
};

OrderRequest parse_order_request(std::string_view body);

}  // namespace shop
