// Orders and their outbox message: stored together or not at all.
#include "common/orders.h"

#include <gtest/gtest.h>

#include "common/schema.h"
#include "temp_db.h"

namespace shop {
namespace {

TEST(Orders, CreateStoresTheOrderAndItsMessageWithTheHeaders) {
  test::TempDb temp;
  Queue queue(temp.db());
  const Order o =
      Orders(temp.db()).create({.item = "book", .quantity = 2, .customer = "c-1"}, queue,
                               {{"traceparent",
                                 "00-0af7651916cd43dd8448eb211c80319c-"
                                 "b7ad6b7169203331-01"}});
  EXPECT_GT(o.id, 0);
  EXPECT_EQ(o.status, "pending");
  const auto stored = Orders(temp.db()).get(o.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->item, "book");
  EXPECT_EQ(stored->customer, "c-1");

  const auto m = queue.claim("t");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, "order.created");
  EXPECT_EQ(parse_order_created_payload(m->payload), o.id);
  EXPECT_EQ(m->headers.at("traceparent").substr(0, 35), "00-0af7651916cd43dd8448eb211c80319c");
}

TEST(Orders, ARejectedOrderLeavesNoMessage) {
  test::TempDb temp;
  Queue queue(temp.db());
  // The CHECK constraint refuses what validation should have: the message
  // insert must not survive the failed order insert.
  EXPECT_THROW(Orders(temp.db()).create({.item = "book", .quantity = 0}, queue, {}), DbError);
  EXPECT_EQ(temp.count("SELECT count(*) FROM orders"), 0);
  EXPECT_EQ(temp.count("SELECT count(*) FROM messages"), 0);
}

TEST(Orders, ListFiltersByStatusNewestFirst) {
  test::TempDb temp;
  Queue queue(temp.db());
  Orders orders(temp.db());
  const auto a = orders.create({.item = "a", .quantity = 1}, queue, {}).id;
  const auto b = orders.create({.item = "b", .quantity = 1}, queue, {}).id;
  temp.db().query("UPDATE orders SET status = 'invoiced' WHERE id = ?").bind(1, a).run();
  const auto pending = orders.list("pending", 10);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].id, b);
  const auto all = orders.list("", 10);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, b);
  EXPECT_EQ(orders.list("", 1).size(), 1u);
}

TEST(Orders, JsonHasTheClientFields) {
  const Order o{.id = 7,
                .item = "mug",
                .quantity = 2,
                .customer = std::nullopt,
                .status = "pending",
                .created_at = 1767225600.25};
  EXPECT_EQ(to_json(o),
            R"({"created_at":"2026-01-01T00:00:00.250Z","id":7,"item":"mug","quantity":2,)"
            R"("status":"pending"})");
}

TEST(Schema, MigratingTwiceAppliesNothingTheSecondTime) {
  test::TempDb temp;  // migrated once
  EXPECT_EQ(schema_version(temp.db()), latest_schema_version());
  EXPECT_EQ(migrate(temp.db()), 0);
}

TEST(Schema, ANewerDatabaseIsRefused) {
  test::TempDb temp;
  temp.db().exec("PRAGMA user_version = 999");
  EXPECT_THROW(migrate(temp.db()), SchemaError);
}

}  // namespace
}  // namespace shop
