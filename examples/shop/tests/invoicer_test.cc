// The worker's effect: one invoice per order, whatever the deliveries.
#include "worker/invoicer.h"

#include <gtest/gtest.h>

#include "common/orders.h"
#include "temp_db.h"

namespace shop {
namespace {

class InvoicerTest : public ::testing::Test {
 protected:
  static Message created(std::int64_t order_id) {
    return Message{.id = 1, .type = "order.created", .payload = order_created_payload(order_id)};
  }
  std::int64_t order(std::string item, int quantity) {
    Queue queue(temp_.db());
    return Orders(temp_.db()).create({.item = item, .quantity = quantity}, queue, {}).id;
  }

  test::TempDb temp_;
};

TEST_F(InvoicerTest, WritesTheInvoiceAndMarksTheOrderInvoiced) {
  const auto id = order("book", 3);
  Invoicer invoicer(temp_.db());
  const Invoice inv = invoicer.process(created(id));
  EXPECT_TRUE(inv.created);
  EXPECT_EQ(inv.order_id, id);
  EXPECT_EQ(inv.amount_cents, 3 * unit_price_cents("book"));
  EXPECT_EQ(Orders(temp_.db()).get(id)->status, "invoiced");
}

TEST_F(InvoicerTest, ARedeliveredMessageHasNoSecondEffect) {
  const auto id = order("lamp", 1);
  Invoicer invoicer(temp_.db());
  EXPECT_TRUE(invoicer.process(created(id)).created);
  const Invoice again = invoicer.process(created(id));
  EXPECT_FALSE(again.created);
  EXPECT_EQ(temp_.count("SELECT count(*) FROM invoices"), 1);
}

TEST_F(InvoicerTest, AnUnknownOrderIsAPermanentError) {
  Invoicer invoicer(temp_.db());
  EXPECT_THROW(invoicer.process(created(4242)), PermanentError);
  EXPECT_EQ(temp_.count("SELECT count(*) FROM invoices"), 0);
}

TEST_F(InvoicerTest, AForeignMessageIsAPermanentError) {
  Invoicer invoicer(temp_.db());
  EXPECT_THROW(invoicer.process({.type = "order.cancelled", .payload = R"({"order_id":1})"}),
               PermanentError);
  EXPECT_THROW(invoicer.process({.type = "order.created", .payload = R"({"order":1})"}),
               PermanentError);
  EXPECT_THROW(invoicer.process({.type = "order.created", .payload = "garbage"}), PermanentError);
}

TEST(UnitPrice, IsStableAndWithinRange) {
  EXPECT_EQ(unit_price_cents("book"), unit_price_cents("book"));
  for (const char* item : {"", "a", "book", "a very long item name indeed"}) {
    EXPECT_GE(unit_price_cents(item), 100);
    EXPECT_LE(unit_price_cents(item), 9999);
  }
}

}  // namespace
}  // namespace shop
