// The admin server over real sockets, on an ephemeral port.
#include "firebreak/admin.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "firebreak/health.h"
#include "firebreak/metrics.h"
#include "support/http_client.h"

namespace firebreak {
namespace {

using std::chrono::milliseconds;
using test::http_get;
using test::http_request;
using test::HttpConnection;

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.counter({.name = "orders_total", .help = "Orders.", .labels = {"channel"}})
        .labels("web")
        .inc(3);
  }

  // Starts a server with these options on 127.0.0.1:0.
  AdminServer& start(AdminOptions options = {}) {
    options.address = "127.0.0.1:0";
    options.registry = &registry_;
    options.health = &health_;
    server_ = std::make_unique<AdminServer>(std::move(options));
    server_->start();
    return *server_;
  }
  std::uint16_t port() const { return server_->port(); }

  ManualClock clock_;
  Registry registry_;
  Health health_{registry_, {.clock = &clock_}};
  std::unique_ptr<AdminServer> server_;
};

TEST_F(AdminServerTest, BindsAnEphemeralPortAndReportsIt) {
  start();
  EXPECT_NE(port(), 0);
  EXPECT_EQ(server_->address(), "127.0.0.1:" + std::to_string(port()));
}

TEST_F(AdminServerTest, ReadyzIs503BeforeStartAnd200After) {
  start();
  auto res = http_get(port(), "/readyz");
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.body, "failed");
  health_.mark_started();
  res = http_get(port(), "/readyz");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "ok");
  EXPECT_EQ(res.header("Content-Type"), "text/plain; charset=utf-8");
}

TEST_F(AdminServerTest, LivezIs200) {
  start();
  EXPECT_EQ(http_get(port(), "/livez").status, 200);
}

TEST_F(AdminServerTest, HealthzIsAnAliasOfReadyz) {
  start();
  EXPECT_EQ(http_get(port(), "/healthz").status, 503);
  health_.mark_started();
  EXPECT_EQ(http_get(port(), "/healthz").status, 200);
}

TEST_F(AdminServerTest, VerboseQueryListsChecks) {
  health_.add_readiness("db", [] { return CheckResult::failure("refused"); });
  health_.run_due_checks();
  health_.mark_started();
  start();
  const auto res = http_get(port(), "/readyz?verbose");
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.body,
            "[+]startup ok\n[+]shutdown ok\n[-]db failed: refused\nreadyz check failed\n");
}

TEST_F(AdminServerTest, JsonFormatByQuery) {
  start();
  const auto res = http_get(port(), "/livez?format=json");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.header("Content-Type"), "application/json");
  EXPECT_EQ(res.body, "{\"status\":\"ok\",\"checks\":[]}\n");
}

TEST_F(AdminServerTest, UnknownPathIs404) {
  start();
  EXPECT_EQ(http_get(port(), "/nope").status, 404);
  EXPECT_EQ(http_get(port(), "/readyz/").status, 404);
}

TEST_F(AdminServerTest, WrongMethodIs405WithAllow) {
  start();
  const auto res = http_request(port(), "POST", "/readyz", {}, "x");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.header("Allow"), "GET, HEAD");
}

TEST_F(AdminServerTest, HeadGivesGetsHeadersWithoutABody) {
  health_.mark_started();
  start();
  HttpConnection conn("127.0.0.1", port());
  const auto get = conn.request("GET", "/readyz?verbose");
  const auto head = conn.request("HEAD", "/readyz?verbose");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), std::to_string(get.body.size()));
  EXPECT_EQ(head.body, "");
  // Had the server sent a body, it would be read here as the next response.
  const auto after = conn.request("GET", "/livez");
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, "ok");
}

TEST_F(AdminServerTest, HeadWorksOnMetrics) {
  start();
  HttpConnection conn("127.0.0.1", port());
  const auto head = conn.request("HEAD", "/metrics");
  EXPECT_EQ(head.status, 200);
  EXPECT_NE(head.header("Content-Length"), "0");
  EXPECT_EQ(conn.request("GET", "/livez").body, "ok");
}

TEST_F(AdminServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start();
  HttpConnection conn("127.0.0.1", port());
  const auto first = conn.request("GET", "/livez");
  const auto second = conn.request("GET", "/metrics");
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(second.status, 200);
  EXPECT_NE(second.body.find("orders_total{channel=\"web\"} 3"), std::string::npos);
}

TEST_F(AdminServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  HttpConnection conn("127.0.0.1", port());
  conn.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(conn.read_response().status, 200);
  EXPECT_EQ(conn.read_response().status, 404);
}

TEST_F(AdminServerTest, ConnectionCloseIsHonoured) {
  start();
  HttpConnection conn("127.0.0.1", port());
  const auto res = conn.request("GET", "/livez", {{"Connection", "close"}});
  EXPECT_EQ(res.status, 200);
  EXPECT_TRUE(conn.wait_closed(milliseconds(2000)));
}

TEST_F(AdminServerTest, OversizedHeaderIsRejectedWith431AndServerKeepsServing) {
  start({.max_header_bytes = 8 * 1024});
  HttpConnection conn("127.0.0.1", port());
  conn.send("GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10 * 1024, 'a') + "\r\n\r\n");
  const auto res = conn.read_response();
  EXPECT_EQ(res.status, 431);
  EXPECT_TRUE(conn.wait_closed(milliseconds(2000)));
  EXPECT_EQ(http_get(port(), "/livez").status, 200);
}

TEST_F(AdminServerTest, HeaderJustUnderTheLimitIsAccepted) {
  start({.max_header_bytes = 8 * 1024});
  const auto res = http_get(port(), "/livez", {{"X-Big", std::string(7 * 1024, 'a')}});
  EXPECT_EQ(res.status, 200);
}

TEST_F(AdminServerTest, OversizedBodyIsRejectedWith413) {
  AdminServer& admin = start({.max_body_bytes = 1024});
  admin.add_handler("POST", "/echo",
                    [](const AdminRequest& r) { return AdminResponse{.body = r.body}; });
  HttpConnection conn("127.0.0.1", port());
  conn.send_request("POST", "/echo", {}, std::string(2048, 'b'));
  EXPECT_EQ(conn.read_response().status, 413);
}

TEST_F(AdminServerTest, MalformedRequestIsRejectedWith400) {
  start();
  HttpConnection conn("127.0.0.1", port());
  conn.send("THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(conn.read_response().status, 400);
  EXPECT_TRUE(conn.wait_closed(milliseconds(2000)));
}

TEST_F(AdminServerTest, SlowClientIsDisconnectedAfterTheReadTimeout) {
  start({.read_timeout = milliseconds(200)});
  HttpConnection conn("127.0.0.1", port());
  const auto begin = std::chrono::steady_clock::now();
  conn.send("GET /livez HTTP/1.1\r\nHost: x\r\n");  // never finishes the header
  EXPECT_TRUE(conn.wait_closed(milliseconds(3000)));
  EXPECT_GE(std::chrono::steady_clock::now() - begin, milliseconds(150));
  EXPECT_EQ(http_get(port(), "/livez").status, 200);
}

TEST_F(AdminServerTest, TricklingClientIsDisconnectedAfterTheReadTimeout) {
  start({.read_timeout = milliseconds(300)});
  HttpConnection conn("127.0.0.1", port());
  const std::string request = "GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  bool closed = false;
  // One byte every 50 ms: each read makes progress, the request never completes.
  for (int i = 0; i < 40 && !closed; ++i) {
    try {
      conn.send(request.substr(i % request.size(), 1));
    } catch (const std::runtime_error&) {
      closed = true;
      break;
    }
    closed = conn.wait_closed(milliseconds(50));
  }
  EXPECT_TRUE(closed);
}

TEST_F(AdminServerTest, MetricsServesPrometheusTextByDefault) {
  start();
  const auto res = http_get(port(), "/metrics");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(res.body.find("# TYPE orders_total counter"), std::string::npos);
  EXPECT_NE(res.body.find("service_ready 0"), std::string::npos);
  EXPECT_EQ(res.body.find("# EOF"), std::string::npos);
}

TEST_F(AdminServerTest, MetricsServesOpenMetricsWhenAccepted) {
  start();
  const auto res =
      http_get(port(), "/metrics",
               {{"Accept", "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;q=0.5"}});
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.header("Content-Type"),
            "application/openmetrics-text; version=1.0.0; charset=utf-8");
  EXPECT_TRUE(res.body.ends_with("# EOF\n"));
}

TEST_F(AdminServerTest, MetricsIsGzippedWhenAccepted) {
  start();
  const auto res = http_get(port(), "/metrics", {{"Accept-Encoding", "gzip, deflate"}});
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.header("Content-Encoding"), "gzip");
  const std::string body = test::gunzip(res.body);
  EXPECT_NE(body.find("orders_total{channel=\"web\"} 3"), std::string::npos);
}

TEST_F(AdminServerTest, MetricsIsNotGzippedWithoutAcceptEncoding) {
  start();
  const auto res = http_get(port(), "/metrics");
  EXPECT_EQ(res.header("Content-Encoding"), "");
}

TEST_F(AdminServerTest, CustomHandlerSeesMethodPathQueryHeadersAndBody) {
  AdminServer& admin = start();
  AdminRequest seen;
  admin.add_handler("POST", "/fault", [&](const AdminRequest& r) {
    seen = r;
    return AdminResponse{.status = 202,
                         .content_type = "application/json",
                         .headers = {{"X-Fault", "on"}},
                         .body = "{}"};
  });
  const auto res =
      http_request(port(), "POST", "/fault?name=slow%20db&verbose", {{"X-Token", "t1"}}, "on");
  EXPECT_EQ(res.status, 202);
  EXPECT_EQ(res.header("Content-Type"), "application/json");
  EXPECT_EQ(res.header("X-Fault"), "on");
  EXPECT_EQ(res.body, "{}");
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.path, "/fault");
  EXPECT_EQ(seen.query_value("name"), "slow db");
  EXPECT_TRUE(seen.has_query("verbose"));
  EXPECT_FALSE(seen.has_query("other"));
  EXPECT_EQ(seen.header("x-token"), "t1");
  EXPECT_EQ(seen.body, "on");
}

TEST_F(AdminServerTest, CustomHandlerOnAnotherMethodOfABuiltInPath) {
  AdminServer& admin = start();
  admin.add_handler("DELETE", "/metrics",
                    [](const AdminRequest&) { return AdminResponse{.status = 204}; });
  EXPECT_EQ(http_request(port(), "DELETE", "/metrics").status, 204);
  EXPECT_EQ(http_request(port(), "PUT", "/metrics", {}, "x").header("Allow"), "DELETE, GET, HEAD");
}

TEST_F(AdminServerTest, HandlerExceptionBecomes500) {
  AdminServer& admin = start();
  admin.add_handler("GET", "/boom", [](const AdminRequest&) -> AdminResponse {
    throw std::runtime_error("kaput");
  });
  const auto res = http_get(port(), "/boom");
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.body, "internal error: kaput\n");
  EXPECT_EQ(http_get(port(), "/livez").status, 200);
}

TEST_F(AdminServerTest, DuplicateHandlerIsRejected) {
  AdminServer& admin = start();
  EXPECT_THROW(
      admin.add_handler("GET", "/readyz", [](const AdminRequest&) { return AdminResponse{}; }),
      AdminError);
  EXPECT_THROW(admin.add_handler("get", "/x", [](const AdminRequest&) { return AdminResponse{}; }),
               AdminError);
  EXPECT_THROW(admin.add_handler("GET", "x", [](const AdminRequest&) { return AdminResponse{}; }),
               AdminError);
}

TEST_F(AdminServerTest, Expect100ContinueGetsAnInterimResponse) {
  AdminServer& admin = start();
  admin.add_handler("POST", "/echo",
                    [](const AdminRequest& r) { return AdminResponse{.body = r.body}; });
  HttpConnection conn("127.0.0.1", port());
  conn.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(conn.read_response().status, 100);
  conn.send("hello");
  const auto res = conn.read_response();
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "hello");
}

TEST_F(AdminServerTest, SlowHandlerDoesNotBlockOtherConnectionsWithTwoThreads) {
  AdminServer& admin = start({.threads = 2});
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> entered{false};
  admin.add_handler("GET", "/slow", [&](const AdminRequest&) {
    entered = true;
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(5), [&] { return release; });
    return AdminResponse{.body = "slow"};
  });
  std::thread slow([&] { EXPECT_EQ(http_get(port(), "/slow").body, "slow"); });
  while (!entered) std::this_thread::yield();
  EXPECT_EQ(http_get(port(), "/livez").status, 200);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  slow.join();
}

TEST_F(AdminServerTest, ConnectionsBeyondTheLimitAreClosed) {
  start({.max_connections = 1});
  HttpConnection first("127.0.0.1", port());
  EXPECT_EQ(first.request("GET", "/livez").status, 200);
  HttpConnection second("127.0.0.1", port());
  EXPECT_TRUE(second.wait_closed(milliseconds(2000)));
  EXPECT_EQ(first.request("GET", "/livez").status, 200);
}

TEST_F(AdminServerTest, PortInUseGivesAnActionableError) {
  start();
  const std::string address = "127.0.0.1:" + std::to_string(port());
  AdminServer second({.address = address});
  try {
    second.start();
    FAIL() << "second server bound " << address;
  } catch (const AdminError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot listen on " + address + ": Address already in use");
  }
}

TEST(AdminServer, MalformedAddressIsRejected) {
  for (const char* address : {"localhost", "127.0.0.1:", "127.0.0.1:99999", "::1:80", "[::1]80"}) {
    AdminServer server({.address = address});
    EXPECT_THROW(server.start(), AdminError) << address;
  }
}

TEST(AdminServer, StopClosesOpenConnections) {
  AdminServer server({.address = "127.0.0.1:0"});
  server.start();
  HttpConnection conn("127.0.0.1", server.port());
  server.stop();
  EXPECT_TRUE(conn.wait_closed(milliseconds(2000)));
  server.stop();  // idempotent
}

TEST(AdminServer, WithoutRegistryOrHealthOnlyCustomHandlersExist) {
  AdminServer server({.address = "127.0.0.1:0"});
  server.add_handler("GET", "/hello",
                     [](const AdminRequest&) { return AdminResponse{.body = "hi"}; });
  server.start();
  EXPECT_EQ(http_get(server.port(), "/metrics").status, 404);
  EXPECT_EQ(http_get(server.port(), "/readyz").status, 404);
  EXPECT_EQ(http_get(server.port(), "/hello").body, "hi");
}

TEST(AdminServer, PrefixHandlerTakesPathsUnderItAndLongestPrefixWins) {
  AdminServer server({.address = "127.0.0.1:0"});
  auto echo = [](std::string tag) {
    return [tag](const AdminRequest& r) { return AdminResponse{.body = tag + " " + r.path}; };
  };
  server.add_prefix_handler("GET", "/ping/", echo("ping"));
  server.add_prefix_handler("PUT", "/metrics/job/", echo("push"));
  server.add_prefix_handler("GET", "/ping/special/", echo("special"));
  server.add_handler("GET", "/ping/exact", echo("exact"));
  server.start();
  EXPECT_EQ(http_get(server.port(), "/ping/backup/start").body, "ping /ping/backup/start");
  EXPECT_EQ(http_get(server.port(), "/ping/special/x").body, "special /ping/special/x");
  EXPECT_EQ(http_get(server.port(), "/ping/exact").body, "exact /ping/exact");
  EXPECT_EQ(http_get(server.port(), "/ping").status, 404);  // the prefix itself needs the slash
  EXPECT_EQ(http_get(server.port(), "/pingx/a").status, 404);
  const auto wrong_method = http_get(server.port(), "/metrics/job/a");
  EXPECT_EQ(wrong_method.status, 405);
}

TEST(AdminServer, PrefixMustEndWithSlashAndNotRepeat) {
  AdminServer server({.address = "127.0.0.1:0"});
  const auto ok = [](const AdminRequest&) { return AdminResponse{}; };
  EXPECT_THROW(server.add_prefix_handler("GET", "/ping", ok), AdminError);
  server.add_prefix_handler("GET", "/ping/", ok);
  EXPECT_THROW(server.add_prefix_handler("GET", "/ping/", ok), AdminError);
  server.add_handler("GET", "/ping/", ok);  // an exact route on the same path is another route
}

}  // namespace
}  // namespace firebreak
