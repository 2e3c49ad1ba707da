#include "load/traffic.h"

#include <fmt/format.h>

#include <array>

namespace shop {
namespace {

constexpr std::array kItems = {"book", "lamp", "kettle", "desk", "chair", "mug", "pen", "rug"};
constexpr std::size_t kKnownOrders = 1024;
const firebreak::HttpHeaders kJson = {{"Content-Type", "application/json"}};

}  // namespace

Traffic::Traffic(TrafficOptions options)
    : options_(options), rng_(options.seed ? options.seed : std::random_device{}()) {}

void Traffic::remember_order(std::int64_t id) {
  std::lock_guard lock(mu_);
  if (known_.size() < kKnownOrders)
    known_.push_back(id);
  else
    known_[rng_() % kKnownOrders] = id;
}

std::string Traffic::order_body() {
  const char* item = kItems[rng_() % kItems.size()];
  const int quantity = 1 + static_cast<int>(rng_() % 5);
  if (rng_() % 3 == 0)
    return fmt::format(R"({{"item":"{}","quantity":{},"customer":"c-{}"}})", item, quantity,
                       rng_() % 100);
  return fmt::format(R"({{"item":"{}","quantity":{}}})", item, quantity);
}

PlannedRequest Traffic::next() {
  std::lock_guard lock(mu_);
  return std::uniform_real_distribution<double>(0, 1)(rng_) < options_.bad_fraction ? bad()
                                                                                    : good();
}

PlannedRequest Traffic::good() {
  const auto roll = rng_() % 100;
  if (roll < 35 && !known_.empty())
    return {"get", "GET", fmt::format("/orders/{}", known_[rng_() % known_.size()])};
  if (roll < 50) return {"list", "GET", "/orders?status=pending&limit=20"};
  return {"create", "POST", "/orders", order_body(), kJson, 201};
}

PlannedRequest Traffic::bad() {
  switch (rng_() % 7) {
    case 0:
      return {"bad_json", "POST", "/orders", R"({"item": "book", "quantity": )", kJson, 400};
    case 1:
      return {"wrong_type", "POST", "/orders", R"({"item": 42, "quantity": "two"})", kJson, 400};
    case 2:
      return {"missing_field", "POST", "/orders", R"({"quantity": 1})", kJson, 400};
    case 3:
      return {"out_of_range", "POST", "/orders", R"({"item": "book", "quantity": 100000})",
              kJson,          400};
    case 4:
      return {"too_large",
              "POST",
              "/orders",
              R"({"item": ")" + std::string(options_.huge_body_bytes, 'x') + R"(", "quantity": 1})",
              kJson,
              413};
    case 5:
      return {"unknown_order", "GET", "/orders/999999999", {}, {}, 404};
    default: {
      PlannedRequest r{"bad_traceparent", "POST", "/orders", order_body(), kJson, 201};
      r.headers.emplace_back("traceparent", "00-not-a-trace-id-01");
      return r;
    }
  }
}

}  // namespace shop
