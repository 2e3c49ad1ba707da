// Invoicer: what shop-worker does with an "order.created" message: it writes
// the order's invoice and marks the order invoiced, in one transaction.
//
//   shop::Invoicer invoicer(db);
//   shop::Invoice invoice = invoicer.process(message);   // throws, see below
//
// Idempotent: the invoices table allows one invoice per order, so a message
// delivered twice (its worker died after writing, or its lease ran out) finds
// the invoice there and changes nothing (`created` false). That is what makes
// the queue's at-least-once delivery safe.
//
// Throws PermanentError when retrying cannot help (a payload that is not an
// order.created, an order that does not exist) and DbError when the database
// fails (worth a retry).
//
// Thread-safety: as its Db.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "common/db.h"
#include "common/queue.h"
#include "firebreak/clock.h"

namespace shop {

// A failure that retrying cannot fix: the message goes to the dead letters.
class PermanentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Invoice {
  std::int64_t order_id = 0;
  std::int64_t amount_cents = 0;
  bool created = false;  // false: it existed already (a redelivery)
};

// The price of one unit of `item`, in cents. A stand-in for a catalogue
// service: stable for a given item, between 1.00 and 99.99.
std::int64_t unit_price_cents(std::string_view item);

class Invoicer {
 public:
  explicit Invoicer(Db& db, const firebreak::Clock& clock = firebreak::Clock::system())
      : db_(db), clock_(clock) {}

  Invoice process(const Message& message);

 private:
  Db& db_;
  const firebreak::Clock& clock_;
};

}  // namespace shop
