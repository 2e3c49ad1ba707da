#include "worker/invoicer.h"

#include <fmt/format.h>

#include "common/orders.h"

namespace shop {

std::int64_t unit_price_cents(std::string_view item) {
  // FNV-1a: deterministic across runs and builds (std::hash is not).
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : item) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return 100 + static_cast<std::int64_t>(h % 9900);
}

Invoice Invoicer::process(const Message& message) {
  if (message.type != kOrderCreated)
    throw PermanentError(fmt::format("unexpected message type \"{}\"", message.type));
  const auto order_id = parse_order_created_payload(message.payload);
  if (!order_id) throw PermanentError("payload has no integer order_id");

  Invoice invoice{.order_id = *order_id};
  Transaction tx(db_);
  {
    auto q = db_.query("SELECT item, quantity FROM orders WHERE id = ?");
    q.bind(1, *order_id);
    if (!q.next()) throw PermanentError(fmt::format("order {} does not exist", *order_id));
    invoice.amount_cents = unit_price_cents(q.text(0)) * q.int64(1);
  }
  db_.query(
         "INSERT INTO invoices (order_id, amount_cents, message_id, created_at) "
         "VALUES (?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING")
      .bind(1, *order_id)
      .bind(2, invoice.amount_cents)
      .bind(3, message.id)
      .bind(4, clock_.wall_seconds())
      .run();
  invoice.created = db_.changes() == 1;
  if (invoice.created)
    db_.query("UPDATE orders SET status = 'invoiced' WHERE id = ?").bind(1, *order_id).run();
  tx.commit();
  return invoice;
}

}  // namespace shop
