// Orders flow from shop-api through the queue to shop-worker: every order is
// invoiced exactly once, in the trace its request started, even when a worker
// is killed in the middle of a message.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "e2e/shop_system.h"

namespace firebreak::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(OrdersFlow, EveryOrderIsInvoicedOnceInTheTraceOfItsRequest) {
  ShopSystem shop;
  Service api = shop.start_api();
  Service worker = shop.start_worker();

  constexpr int kOrders = 20;
  std::map<std::int64_t, std::string> request_of_order;  // order id -> X-Request-Id
  for (int i = 0; i < kOrders; ++i) {
    const std::string request_id = "e2e-flow-" + std::to_string(i);
    const auto res = ShopSystem::post_order(
        api, R"({"item": "book", "quantity": )" + std::to_string(1 + i % 5) + "}",
        {{"X-Request-Id", request_id}});
    ASSERT_EQ(res.status, 201) << res.body;
    EXPECT_EQ(res.header("X-Request-Id"), request_id);
    request_of_order[nlohmann::json::parse(res.body)["id"].get<std::int64_t>()] = request_id;
  }

  ASSERT_TRUE(eventually([&] { return worker.process->logs("invoice_created").size() >= kOrders; },
                         seconds(15)))
      << worker.process->stdout_text();
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(*) FROM invoices"), kOrders);
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(DISTINCT order_id) FROM invoices"), kOrders);
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(*) FROM orders WHERE status = 'invoiced'"),
            kOrders);
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(*) FROM messages WHERE state = 'done'"), kOrders);

  // The API's access-log record of each request, by request id.
  std::map<std::string, std::string> trace_of_request;
  for (const auto& r : api.process->logs("http_request"))
    if (r.value("http_route", "") == "/orders" && r.value("http_request_method", "") == "POST")
      trace_of_request[r.value("request_id", "")] = r.value("trace_id", "");
  ASSERT_EQ(trace_of_request.size(), static_cast<std::size_t>(kOrders));

  std::set<std::string> traces;
  for (const auto& r : worker.process->logs("invoice_created")) {
    const auto order_id = r["order_id"].get<std::int64_t>();
    ASSERT_TRUE(request_of_order.count(order_id)) << r;
    const std::string& api_trace = trace_of_request[request_of_order[order_id]];
    EXPECT_EQ(api_trace.size(), 32u);
    EXPECT_EQ(r.value("trace_id", ""), api_trace) << "order " << order_id;
    EXPECT_EQ(r.value("messaging_destination_name", ""), "orders");
    traces.insert(api_trace);
  }
  EXPECT_EQ(traces.size(), static_cast<std::size_t>(kOrders)) << "one trace per request";

  const std::string metrics = worker.metrics();
  EXPECT_EQ(metric(metrics, "messaging_process_duration_seconds_count",
                   {{"messaging_destination_name", "orders"}, {"outcome", "ok"}}),
            kOrders);
  EXPECT_EQ(metric(metrics, "queue_depth", {{"messaging_destination_name", "orders"}}), 0);
}

TEST(OrdersFlow, AMessageWhoseWorkerIsKilledIsProcessedOnceAfterItsLease) {
  ShopSystem shop;
  Service api = shop.start_api();
  // slow_ms keeps the first worker inside the message long enough to kill it there.
  Service doomed =
      shop.start_worker("worker-killed", {"--fault", "slow_ms=5000", "--lease-seconds", "2"});
  ASSERT_EQ(ShopSystem::post_order(api, R"({"item": "lamp", "quantity": 2})").status, 201);

  ASSERT_TRUE(eventually(
      [&] {
        return doomed.metric("worker_active_messages",
                             {{"messaging_destination_name", "orders"}}) == 1;
      },
      seconds(5)))
      << "the first worker never took the message";
  const auto claimed_by = std::chrono::steady_clock::now();
  doomed.process->send_signal(SIGKILL);
  ASSERT_TRUE(doomed.process->wait_exit(seconds(5)));
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(*) FROM invoices"), 0);

  Service second = shop.start_worker("worker-second", {"--lease-seconds", "2"});
  // The lease (2 s from the claim) still hides the message from the new worker.
  std::this_thread::sleep_until(claimed_by + milliseconds(1200));
  EXPECT_TRUE(second.process->logs("invoice_created").empty()) << "taken before the lease ran out";
  ASSERT_TRUE(
      eventually([&] { return !second.process->logs("invoice_created").empty(); }, seconds(10)))
      << second.process->stdout_text();
  const auto invoice = second.process->logs("invoice_created").front();
  EXPECT_EQ(invoice["attempt"], 2) << invoice;

  std::this_thread::sleep_for(milliseconds(300));  // room for a wrong second delivery
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(*) FROM invoices"), 1);
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(*) FROM messages WHERE state = 'done'"), 1);
  EXPECT_EQ(count_rows(shop.db(), "SELECT attempts FROM messages"), 2);
}

TEST(OrdersFlow, SigtermFinishesTheMessageInHandThenExitsZero) {
  ShopSystem shop;
  Service api = shop.start_api();
  Service worker = shop.start_worker("shop-worker", {"--fault", "slow_ms=1000"});
  ASSERT_EQ(ShopSystem::post_order(api, R"({"item": "desk", "quantity": 1})").status, 201);
  ASSERT_EQ(ShopSystem::post_order(api, R"({"item": "desk", "quantity": 1})").status, 201);
  ASSERT_TRUE(eventually(
      [&] {
        return worker.metric("worker_active_messages",
                             {{"messaging_destination_name", "orders"}}) == 1;
      },
      seconds(5)));

  worker.process->send_signal(SIGTERM);
  const auto status = worker.process->wait_exit(seconds(5));
  ASSERT_TRUE(status) << "still running 5 s after SIGTERM";
  ASSERT_TRUE(WIFEXITED(*status)) << "killed by signal " << WTERMSIG(*status);
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  // The message in hand was finished; the second was never claimed.
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(*) FROM invoices"), 1);
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(*) FROM messages WHERE state = 'done'"), 1);
  EXPECT_EQ(count_rows(shop.db(), "SELECT count(*) FROM messages WHERE state = 'ready'"), 1);
}

// The log schema's promise: stdout is JSON lines only, and each server a
// binary starts is announced there as a `listening` event with its address
// (scripts and these tests find ephemeral ports that way).
TEST(ShopLogs, StdoutIsJsonLinesOnlyWithAListeningEventPerServer) {
  ShopSystem shop;
  Service api = shop.start_api();
  Service worker = shop.start_worker();
  ShopSystem other;  // a directory of its own: the output files are named after the binary
  Service baseline = other.start_api({"--kit", "off"});  // announces itself with the kit off too
  ASSERT_EQ(ShopSystem::post_order(api, R"({"item": "pen", "quantity": 1})").status, 201);
  ASSERT_TRUE(
      eventually([&] { return !worker.process->logs("invoice_created").empty(); }, seconds(10)));

  const auto servers = [](const Service& s) {
    std::map<std::string, std::string> out;  // server -> address
    for (const auto& e : s.process->logs("listening"))
      out[e.value("server", "")] = e.value("address", "");
    return out;
  };
  for (const Service* s : {&api, &baseline}) {
    const auto announced = servers(*s);
    EXPECT_EQ(announced.size(), 2u) << s->process->stdout_text();
    EXPECT_EQ(announced.at("admin"), "127.0.0.1:" + std::to_string(s->admin));
    EXPECT_EQ(announced.at("http"), "127.0.0.1:" + std::to_string(s->http));
  }
  EXPECT_EQ(
      servers(worker),
      (std::map<std::string, std::string>{{"admin", "127.0.0.1:" + std::to_string(worker.admin)}}));
  for (const Service* s : {&api, &baseline, &worker}) {
    std::istringstream lines(s->process->stdout_text());
    for (std::string line; std::getline(lines, line);)
      EXPECT_TRUE(nlohmann::json::parse(line, nullptr, false).is_object())
          << s->process->name() << ": " << line;
  }
}

}  // namespace
}  // namespace firebreak::e2e
