#include "common/orders.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>

namespace shop {
namespace {

Order read_order(const Query& q) {
  return Order{.id = q.int64(0),
               .item = q.text(1),
               .quantity = static_cast<int>(q.int64(2)),
               .customer = q.optional_text(3),
               .status = q.text(4),
               .created_at = q.real(5)};
}

}  // namespace

std::string format_time(double unix_seconds) {
  using namespace std::chrono;
  const auto ms = milliseconds(static_cast<std::int64_t>(std::floor(unix_seconds * 1000)));
  const sys_time<milliseconds> t(ms);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", time_point_cast<seconds>(t),
                     (ms % seconds(1)).count());
}

std::string to_json(const Order& order) {
  nlohmann::json j = {{"id", order.id},
                      {"item", order.item},
                      {"quantity", order.quantity},
                      {"status", order.status},
                      {"created_at", format_time(order.created_at)}};
  if (order.customer) j["customer"] = *order.customer;
  // Invalid UTF-8 cannot come in (the parser rejects it), but a row written by
  // another tool could hold some: replace rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string order_created_payload(std::int64_t order_id) {
  return fmt::format(R"({{"order_id":{}}})", order_id);
}

std::optional<std::int64_t> parse_order_created_payload(std::string_view payload) {
  const auto j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  const auto it = j.find("order_id");
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

Orders::Orders(Db& db, const firebreak::Clock& clock) : db_(db), clock_(clock) {}

Order Orders::create(const NewOrder& order, Queue& queue, const MessageHeaders& headers) {
  Order stored{.item = order.item,
               .quantity = order.quantity,
               .customer = order.customer,
               .status = "pending",
               .created_at = clock_.wall_seconds()};
  Transaction tx(db_);
  db_.query("INSERT INTO orders (item, quantity, customer, created_at) VALUES (?, ?, ?, ?)")
      .bind(1, stored.item)
      .bind(2, stored.quantity)
      .bind(3, stored.customer)
      .bind(4, stored.created_at)
      .run();
  stored.id = db_.last_insert_rowid();
  queue.enqueue({.type = std::string(kOrderCreated),
                 .headers = headers,
                 .payload = order_created_payload(stored.id)});
  tx.commit();
  return stored;
}

std::optional<Order> Orders::get(std::int64_t id) {
  auto q =
      db_.query("SELECT id, item, quantity, customer, status, created_at FROM orders WHERE id = ?");
  q.bind(1, id);
  if (!q.next()) return std::nullopt;
  return read_order(q);
}

std::vector<Order> Orders::list(std::string_view status, int limit) {
  std::vector<Order> out;
  auto q = db_.query(
      "SELECT id, item, quantity, customer, status, created_at FROM orders "
      "WHERE (?1 = '' OR status = ?1) ORDER BY id DESC LIMIT ?2");
  q.bind(1, status).bind(2, limit);
  while (q.next()) out.push_back(read_order(q));
  return out;
}

}  // namespace shop
