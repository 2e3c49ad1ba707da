#include "e2e/shop_system.h"

#include <algorithm>

#include "common/db.h"

namespace firebreak::e2e {

Service ShopSystem::start_api(std::vector<std::string> extra, std::vector<std::string> env) {
  std::vector<std::string> args = {"--db", db_};
  // Ephemeral ports and short intervals, unless the test sets them.
  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, std::string>>{{"--admin-addr", "127.0.0.1:0"},
                                                        {"--listen", "127.0.0.1:0"},
                                                        {"--drain-seconds", "0"},
                                                        {"--threads", "4"}}) {
    if (std::find(extra.begin(), extra.end(), flag) == extra.end()) {
      args.push_back(flag);
      args.push_back(value);
    }
  }
  args.insert(args.end(), extra.begin(), extra.end());
  Service s;
  s.process = std::make_unique<ShopProcess>("shop-api", SHOP_API_PATH, args, dir_.path(), env);
  s.admin = s.process->wait_listening("admin");
  s.http = s.process->wait_listening("http");
  return s;
}

Service ShopSystem::start_worker(const std::string& name, std::vector<std::string> extra,
                                 std::vector<std::string> env) {
  std::vector<std::string> args = {"--db", db_};
  // An ephemeral port and short intervals, unless the test sets them.
  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, std::string>>{{"--admin-addr", "127.0.0.1:0"},
                                                        {"--poll-ms", "50"},
                                                        {"--lease-seconds", "1"},
                                                        {"--drain-seconds", "0"},
                                                        {"--retry-base-ms", "100"}}) {
    if (std::find(extra.begin(), extra.end(), flag) == extra.end()) {
      args.push_back(flag);
      args.push_back(value);
    }
  }
  args.insert(args.end(), extra.begin(), extra.end());
  Service s;
  s.process = std::make_unique<ShopProcess>(name, SHOP_WORKER_PATH, args, dir_.path(), env);
  s.admin = s.process->wait_listening("admin");
  return s;
}

std::unique_ptr<ShopProcess> ShopSystem::start_daily(std::vector<std::string> extra) {
  std::vector<std::string> args = {"--db", db_, "--out-dir", dir_.file("reports")};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<ShopProcess>("shop-daily", SHOP_DAILY_PATH, args, dir_.path());
}

test::HttpResponse ShopSystem::post_order(const Service& api, const std::string& body,
                                          const test::Headers& headers) {
  test::Headers h = {{"Content-Type", "application/json"}};
  h.insert(h.end(), headers.begin(), headers.end());
  return test::http_request(api.http, "POST", "/orders", h, body);
}

std::int64_t count_rows(const std::string& db, const std::string& sql) {
  shop::Db conn({.path = db});
  auto q = conn.query(sql.c_str());
  return q.next() ? q.int64(0) : -1;
}

}  // namespace firebreak::e2e
