// The reference system for end-to-end tests: shop-api, shop-worker and
// shop-daily as real processes on one temporary database, on ephemeral
// ports, with short intervals (leases of a second, 50 ms polls).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "e2e/shop_process.h"
#include "support/http_client.h"

namespace firebreak::e2e {

struct Service {
  std::unique_ptr<ShopProcess> process;
  std::uint16_t admin = 0;  // admin port
  std::uint16_t http = 0;   // shop-api's public port

  test::HttpResponse admin_get(const std::string& target) const {
    return test::http_get(admin, target);
  }
  std::string metrics() const { return admin_get("/metrics").body; }
  std::optional<double> metric(
      const std::string& name,
      const std::vector<std::pair<std::string, std::string>>& labels = {}) const {
    return e2e::metric(metrics(), name, labels);
  }
  // POST /fault on the admin port; the response status.
  int set_fault(const std::string& json) const {
    return test::http_request(admin, "POST", "/fault", {{"Content-Type", "application/json"}}, json)
        .status;
  }
};

class ShopSystem {
 public:
  ShopSystem() : db_(dir_.file("shop.db")) {}

  const TempDir& dir() const { return dir_; }
  const std::string& db() const { return db_; }

  // shop-api on ephemeral ports, waited for until it serves HTTP.
  Service start_api(std::vector<std::string> extra = {}, std::vector<std::string> env = {});
  // shop-worker (poll 50 ms, lease 1 s unless `extra` says otherwise), waited
  // for until its admin port is up; `env` as ShopProcess takes it.
  Service start_worker(const std::string& name = "shop-worker", std::vector<std::string> extra = {},
                       std::vector<std::string> env = {});
  // shop-daily, not waited for.
  std::unique_ptr<ShopProcess> start_daily(std::vector<std::string> extra = {});

  // POSTs an order; the response.
  static test::HttpResponse post_order(const Service& api, const std::string& body,
                                       const test::Headers& headers = {});

 private:
  TempDir dir_;
  std::string db_;
};

// How many rows a query counts, read from the database file directly.
std::int64_t count_rows(const std::string& db, const std::string& sql);

}  // namespace firebreak::e2e
