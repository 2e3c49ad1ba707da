// Orders: the shop's one business object, stored in the shared database.
//
//   shop::Orders orders(db);
//   shop::Order o = orders.create({.item = "book", .quantity = 2}, queue, headers);
//   // o is stored, and an "order.created" message carrying `headers` (the
//   // trace context) is in the queue: both or neither.
//
// Thread-safety: as its Db (one thread at a time).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/db.h"
#include "common/queue.h"
#include "firebreak/clock.h"

namespace shop {

inline constexpr std::string_view kOrderCreated = "order.created";

// An order as a client asks for it (already validated: see api/order_request.h).
struct NewOrder {
  std::string item;
  int quantity = 0;
  std::optional<std::string> customer = std::nullopt;
};

struct Order {
  std::int64_t id = 0;
  std::string item;
  int quantity = 0;
  std::optional<std::string> customer;
  std::string status;     // "pending" until invoiced, then "invoiced"
  double created_at = 0;  // Unix seconds
};

// The JSON a client sees: {"id","item","quantity","customer","status","created_at"}
// (created_at as RFC 3339 UTC; customer omitted when absent).
std::string to_json(const Order& order);

class Orders {
 public:
  explicit Orders(Db& db, const firebreak::Clock& clock = firebreak::Clock::system());

  // Stores the order and enqueues order.created with `headers` on `queue`
  // (which must use the same Db), in one transaction. Throws DbError.
  Order create(const NewOrder& order, Queue& queue, const MessageHeaders& headers);
  std::optional<Order> get(std::int64_t id);
  // Newest first, at most `limit`; every status when `status` is empty.
  std::vector<Order> list(std::string_view status, int limit);

 private:
  Db& db_;
  const firebreak::Clock& clock_;
};

// The payload of order.created: {"order_id": N}. The worker reads the order
// itself from the database: the table is the truth, the message only says
// which row changed.
std::string order_created_payload(std::int64_t order_id);
// The order id in such a payload, or nullopt when it is not one.
std::optional<std::int64_t> parse_order_created_payload(std::string_view payload);

// RFC 3339 UTC with milliseconds, for Unix seconds.
std::string format_time(double unix_seconds);

}  // namespace shop
