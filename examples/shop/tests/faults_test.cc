// Fault switches: flags at start, JSON at run time (all or nothing), clearing.
#include "common/faults.h"

#include <gtest/gtest.h>

#include "firebreak/admin.h"

namespace shop {
namespace {

FaultSwitches make() {
  return FaultSwitches({{.name = "stall", .help = "h"},
                        {.name = "slow_ms", .help = "h", .kind = FaultKind::kNumber, .max = 1000},
                        {.name = "error_rate", .help = "h", .kind = FaultKind::kNumber, .max = 1}});
}

TEST(FaultSwitches, AllAreOffAtFirst) {
  auto f = make();
  EXPECT_FALSE(f.get("stall").on());
  EXPECT_EQ(f.active_json(), "{}");
}

TEST(FaultSwitches, ABoolFlagAloneTurnsItOn) {
  auto f = make();
  f.set_from_flag("stall");
  EXPECT_TRUE(f.get("stall").on());
  f.set_from_flag("stall=false");
  EXPECT_FALSE(f.get("stall").on());
}

TEST(FaultSwitches, ANumberFlagNeedsAValueInRange) {
  auto f = make();
  f.set_from_flag("slow_ms=300");
  EXPECT_EQ(f.get("slow_ms").value(), 300);
  EXPECT_THROW(f.set_from_flag("slow_ms"), std::invalid_argument);
  EXPECT_THROW(f.set_from_flag("slow_ms=5000"), std::invalid_argument);
  EXPECT_THROW(f.set_from_flag("slow_ms=fast"), std::invalid_argument);
  EXPECT_THROW(f.set_from_flag("error_rate=1.5"), std::invalid_argument);
}

TEST(FaultSwitches, AnUnknownFlagListsTheKnownSwitches) {
  auto f = make();
  try {
    f.set_from_flag("explode");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("stall (true|false)"), std::string::npos) << e.what();
  }
}

TEST(FaultSwitches, JsonSetsAndFalseOrZeroClears) {
  auto f = make();
  EXPECT_EQ(f.apply_json(R"({"stall": true, "slow_ms": 300})"), "");
  EXPECT_EQ(f.active_json(), R"({"slow_ms":300,"stall":true})");
  EXPECT_EQ(f.apply_json(R"({"stall": false, "slow_ms": 0})"), "");
  EXPECT_EQ(f.active_json(), "{}");
  EXPECT_EQ(f.apply_json(R"({"error_rate": 0.25})"), "");
  EXPECT_EQ(f.active_json(), R"({"error_rate":0.25})");
}

TEST(FaultSwitches, JsonIsAllOrNothing) {
  auto f = make();
  EXPECT_NE(f.apply_json(R"({"stall": true, "slow_ms": 99999})"), "");
  EXPECT_NE(f.apply_json(R"({"stall": true, "nope": 1})"), "");
  EXPECT_NE(f.apply_json(R"({"stall": true, "slow_ms": true})"), "");
  EXPECT_NE(f.apply_json(R"({"stall": "yes"})"), "");
  EXPECT_NE(f.apply_json(R"(["stall"])"), "");
  EXPECT_NE(f.apply_json("not json"), "");
  EXPECT_FALSE(f.get("stall").on());
}

TEST(FaultSwitches, AdminEndpointsShowAndSetThemAndTheGaugeFollows) {
  auto f = make();
  firebreak::Registry registry;
  firebreak::AdminServer admin({.address = "127.0.0.1:0", .registry = &registry});
  f.install(admin, registry);
  auto post = admin.handle({.method = "POST", .path = "/fault", .body = R"({"slow_ms": 250})"});
  EXPECT_EQ(post.status, 200);
  EXPECT_EQ(post.body, "{\"slow_ms\":250}\n");
  EXPECT_EQ(admin.handle({.method = "GET", .path = "/fault"}).body, "{\"slow_ms\":250}\n");
  auto bad = admin.handle({.method = "POST", .path = "/fault", .body = R"({"slow_ms": -1})"});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.content_type, "application/problem+json");
  const auto metrics = admin.handle({.method = "GET", .path = "/metrics"}).body;
  EXPECT_NE(metrics.find("shop_fault_value{fault=\"slow_ms\"} 250"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("shop_fault_value{fault=\"stall\"} 0"), std::string::npos);
}

}  // namespace
}  // namespace shop
