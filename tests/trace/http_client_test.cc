// HttpClient against a real local server (the kit's AdminServer on port 0):
// methods, bodies, headers, statuses, keep-alive, and failures as results.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "firebreak/admin.h"
#include "firebreak/http_client.h"

namespace firebreak {
namespace {

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server.add_handler("GET", "/hello", [](const AdminRequest&) {
      return AdminResponse{.headers = {{"X-Answer", "42"}}, .body = "hello\n"};
    });
    server.add_handler("POST", "/echo", [this](const AdminRequest& r) {
      ++posts;
      std::string headers;
      for (const auto& [k, v] : r.headers) headers += k + ": " + v + "\n";
      return AdminResponse{.content_type = "application/json",
                           .headers = {{"X-Method", r.method}},
                           .body = r.body + "\n--\n" + headers};
    });
    server.add_handler("PUT", "/echo", [](const AdminRequest& r) {
      return AdminResponse{.status = 201, .body = r.method + " " + r.body};
    });
    server.add_handler("GET", "/missing", [](const AdminRequest&) {
      return AdminResponse{.status = 404, .body = "nope"};
    });
    server.add_handler("GET", "/slow", [](const AdminRequest&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      return AdminResponse{.body = "late"};
    });
    server.add_handler("GET", "/big", [](const AdminRequest&) {
      return AdminResponse{.body = std::string(5000, 'x')};
    });
    server.add_handler("GET", "/query", [](const AdminRequest& r) {
      return AdminResponse{.body = std::string(r.query_value("a").value_or("?"))};
    });
    server.start();
    base = "http://127.0.0.1:" + std::to_string(server.port());
  }

  AdminServer server{AdminOptions{
      .address = "127.0.0.1:0", .read_timeout = std::chrono::milliseconds(300), .threads = 2}};
  std::string base;
  std::atomic<int> posts{0};
};

TEST_F(HttpClientTest, GetReturnsStatusBodyAndHeaders) {
  HttpClient client;
  const HttpResponse r = client.get(base + "/hello");
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.body, "hello\n");
  EXPECT_EQ(r.header("x-answer"), "42");
  EXPECT_EQ(r.header("X-ANSWER"), "42");
  EXPECT_EQ(r.header("absent"), "");
}

TEST_F(HttpClientTest, PostSendsBodyAndHeadersWithDefaults) {
  HttpClient client;
  const HttpResponse r = client.post(base + "/echo", R"({"a":1})",
                                     {{"Content-Type", "application/json"}, {"X-Custom", "v"}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Method"), "POST");
  EXPECT_EQ(r.body.substr(0, 7), R"({"a":1})");
  EXPECT_NE(r.body.find("Content-Type: application/json"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("X-Custom: v"), std::string::npos);
  EXPECT_NE(r.body.find("Host: 127.0.0.1:" + std::to_string(server.port())), std::string::npos);
  EXPECT_NE(r.body.find("User-Agent: firebreak/"), std::string::npos);
  EXPECT_NE(r.body.find("Content-Length: 7"), std::string::npos);
}

TEST_F(HttpClientTest, PutAndRequestWithAnyMethod) {
  HttpClient client;
  HttpResponse r = client.put(base + "/echo", "data");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "PUT data");
  r = client.request("POST", base + "/echo", "x");
  EXPECT_EQ(r.status, 200);
}

TEST_F(HttpClientTest, AnErrorStatusIsAResponseNotAnError) {
  HttpClient client;
  const HttpResponse r = client.get(base + "/missing");
  EXPECT_TRUE(r.error.empty());
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.body, "nope");
}

TEST_F(HttpClientTest, QueryIsSentAsWritten) {
  HttpClient client;
  EXPECT_EQ(client.get(base + "/query?a=b%20c").body, "b c");
}

TEST_F(HttpClientTest, SequentialRequestsShareAConnection) {
  HttpClient client;
  for (int i = 0; i < 20; ++i) {
    const HttpResponse r = client.post(base + "/echo", std::to_string(i));
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.body.substr(0, r.body.find('\n')), std::to_string(i));
  }
  EXPECT_EQ(posts.load(), 20);
}

TEST_F(HttpClientTest, AConnectionTheServerClosedIsReplacedTransparently) {
  HttpClient client;
  ASSERT_EQ(client.get(base + "/hello").status, 200);
  // The server closes idle connections after its 300 ms read timeout.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const HttpResponse r = client.post(base + "/echo", "again");
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(posts.load(), 1);  // sent once
}

TEST_F(HttpClientTest, ConnectionRefusedIsAResult) {
  HttpClient client;
  const HttpResponse r = client.get("http://127.0.0.1:1/");
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("connect to 127.0.0.1:1"), std::string::npos) << r.error;
}

TEST_F(HttpClientTest, ATimeoutIsAResult) {
  HttpClient client;
  const auto start = std::chrono::steady_clock::now();
  const HttpResponse r = client.get(base + "/slow", {}, std::chrono::milliseconds(150));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("timed out after 150 ms"), std::string::npos) << r.error;
  EXPECT_LT(took, std::chrono::milliseconds(550));
  // The client is usable afterwards.
  EXPECT_EQ(client.get(base + "/hello").status, 200);
}

TEST_F(HttpClientTest, AnOversizedBodyIsAResult) {
  HttpClient client(HttpClientOptions{.max_response_bytes = 100});
  const HttpResponse r = client.get(base + "/big");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("too large"), std::string::npos) << r.error;
  EXPECT_EQ(client.get(base + "/hello").status, 200);
}

TEST(HttpClientUrl, BadUrlsAreResults) {
  HttpClient client;
  for (const char* url :
       {"ftp://example.com/", "example.com/path", "http://", "http:///path", "not a url",
        "http://u:p@host/", "http://host:99999/", "http://host:0/", ""}) {
    const HttpResponse r = client.get(url);
    EXPECT_EQ(r.status, 0) << url;
    EXPECT_NE(r.error.find("invalid URL"), std::string::npos) << url << ": " << r.error;
  }
  std::string why;
  EXPECT_FALSE(valid_http_url("ftp://example.com/", &why));
  EXPECT_NE(why.find("https"), std::string::npos);
  EXPECT_TRUE(valid_http_url("https://example.com/"));
  EXPECT_TRUE(valid_http_url("http://example.com"));
  EXPECT_TRUE(valid_http_url("http://127.0.0.1:4318/v1/traces"));
  EXPECT_TRUE(valid_http_url("http://[::1]:4318/v1/traces"));
  EXPECT_TRUE(valid_http_url("HTTP://Example.com:80/x?y=1#frag"));
}

TEST(HttpClientUrl, AnUnresolvableHostIsAResult) {
  HttpClient client;
  const HttpResponse r = client.get("http://no-such-host.invalid/", {}, std::chrono::seconds(5));
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
}

}  // namespace
}  // namespace firebreak
