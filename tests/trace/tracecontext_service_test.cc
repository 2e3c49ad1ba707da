// Integration: tracecontext-service as a real process, driven as the W3C
// conformance harness drives it: POST /test with callbacks to a local
// receiver, checking what the callbacks carry.
#include <gtest/gtest.h>
#include <signal.h>

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "firebreak/admin.h"
#include "firebreak/http_client.h"
#include "firebreak/trace.h"
#include "support/child_process.h"

namespace firebreak {
namespace {

using nlohmann::json;

class Harness : public ::testing::Test {
 protected:
  struct Callback {
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };

  void SetUp() override {
    receiver.add_handler("POST", "/callback", [this](const AdminRequest& r) {
      std::lock_guard lock(mu);
      callbacks.push_back({r.headers, r.body});
      cv.notify_all();
      return AdminResponse{.body = "{}"};
    });
    receiver.start();
    service = std::make_unique<test::ChildProcess>(
        std::vector<std::string>{FIREBREAK_TRACECONTEXT_SERVICE, "--listen", "127.0.0.1:0"},
        std::vector<std::string>{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER",
                                 "FIREBREAK_TRACES_FILE", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                                 "FIREBREAK_LOG_FORMAT", "FIREBREAK_LOG_LEVEL",
                                 "FIREBREAK_LOG_FILE"});
    const auto address = service->wait_listening("http", std::chrono::seconds(10));
    ASSERT_TRUE(address) << service->read_stderr(std::chrono::milliseconds(500));
    endpoint = "http://" + *address + "/test";
  }

  void TearDown() override {
    if (service) {
      service->send_signal(SIGTERM);
      const auto status = service->wait_exit(std::chrono::seconds(10));
      ASSERT_TRUE(status);
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
    }
  }

  std::string callback_url() const {
    return "http://127.0.0.1:" + std::to_string(receiver.port()) + "/callback";
  }

  // Sends the harness request and returns the callbacks it caused.
  std::vector<Callback> run(const HttpHeaders& headers, int count = 1) {
    json args = json::array();
    for (int i = 0; i < count; ++i)
      args.push_back({{"url", callback_url()}, {"arguments", json::array({i})}});
    HttpClient client;
    const HttpResponse r = client.post(endpoint, args.dump(), headers, std::chrono::seconds(10));
    EXPECT_EQ(r.status, 200) << r.error << r.body;
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(5),
                [&] { return callbacks.size() >= static_cast<std::size_t>(count); });
    return std::exchange(callbacks, {});
  }

  static std::vector<std::string> values(const Callback& c, std::string_view name) {
    std::vector<std::string> out;
    for (const auto& [k, v] : c.headers) {
      std::string lower = k;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (lower == name) out.push_back(v);
    }
    return out;
  }

  AdminServer receiver{AdminOptions{.address = "127.0.0.1:0"}};
  std::unique_ptr<test::ChildProcess> service;
  std::string endpoint;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Callback> callbacks;
};

TEST_F(Harness, CarriesTheTraceIdWithANewSpanIdAndTheTracestate) {
  const auto cbs = run({{"traceparent", "00-12345678901234567890123456789012-1234567890123456-01"},
                        {"tracestate", "foo=1,bar=2"}});
  ASSERT_EQ(cbs.size(), 1u);
  const auto tp = values(cbs[0], "traceparent");
  ASSERT_EQ(tp.size(), 1u);
  const auto ctx = parse_traceparent(tp[0]);
  ASSERT_TRUE(ctx) << tp[0];
  EXPECT_EQ(tp[0].substr(0, 3), "00-");
  EXPECT_EQ(ctx->trace_id.to_hex(), "12345678901234567890123456789012");
  EXPECT_NE(ctx->span_id.to_hex(), "1234567890123456");
  EXPECT_TRUE(ctx->sampled());
  const auto ts = values(cbs[0], "tracestate");
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0], "foo=1,bar=2");
  EXPECT_EQ(cbs[0].body, "[0]");  // the arguments, as JSON
}

TEST_F(Harness, RepeatedTracestateFieldsAreCombinedInOrder) {
  const auto cbs = run({{"traceparent", "00-12345678901234567890123456789012-1234567890123456-00"},
                        {"tracestate", "foo=1,bar=2"},
                        {"tracestate", ""},
                        {"TraceState", "rojo=1,congo=2"},
                        {"tracestate", "baz=3"}});
  ASSERT_EQ(cbs.size(), 1u);
  const auto ts = values(cbs[0], "tracestate");
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0], "foo=1,bar=2,rojo=1,congo=2,baz=3");
}

TEST_F(Harness, ARepeatedTraceparentStartsANewTrace) {
  const auto cbs =
      run({{"traceparent", "00-12345678901234567890123456789011-1234567890123456-01"},
           {"traceparent", "00-12345678901234567890123456789012-1234567890123456-01"}});
  ASSERT_EQ(cbs.size(), 1u);
  const auto ctx = parse_traceparent(values(cbs[0], "traceparent").at(0));
  ASSERT_TRUE(ctx);
  EXPECT_NE(ctx->trace_id.to_hex(), "12345678901234567890123456789011");
  EXPECT_NE(ctx->trace_id.to_hex(), "12345678901234567890123456789012");
}

TEST_F(Harness, AHigherVersionIsContinuedAsVersion00) {
  const auto cbs = run(
      {{"traceparent", "cc-12345678901234567890123456789012-1234567890123456-01-future-fields"}});
  ASSERT_EQ(cbs.size(), 1u);
  const std::string tp = values(cbs[0], "traceparent").at(0);
  EXPECT_EQ(tp.substr(0, 36), "00-12345678901234567890123456789012-");
  EXPECT_EQ(tp.size(), kTraceparentSize);
}

TEST_F(Harness, EachCallbackGetsItsOwnSpanId) {
  const auto cbs =
      run({{"traceparent", "00-12345678901234567890123456789012-1234567890123456-01"}}, 3);
  ASSERT_EQ(cbs.size(), 3u);
  std::set<std::string> span_ids;
  for (const auto& cb : cbs) {
    const auto ctx = parse_traceparent(values(cb, "traceparent").at(0));
    ASSERT_TRUE(ctx);
    EXPECT_EQ(ctx->trace_id.to_hex(), "12345678901234567890123456789012");
    span_ids.insert(ctx->span_id.to_hex());
  }
  EXPECT_EQ(span_ids.size(), 3u);
}

TEST_F(Harness, AnInvalidTraceparentRestartsTheTraceAndDropsTracestate) {
  const auto cbs = run({{"traceparent", "00-00000000000000000000000000000000-1234567890123456-01"},
                        {"tracestate", "foo=1"}});
  ASSERT_EQ(cbs.size(), 1u);
  const auto ctx = parse_traceparent(values(cbs[0], "traceparent").at(0));
  ASSERT_TRUE(ctx);
  EXPECT_TRUE(ctx->trace_id.valid());
  EXPECT_TRUE(values(cbs[0], "tracestate").empty());
}

TEST_F(Harness, NoTraceparentStartsATrace) {
  const auto cbs = run({});
  ASSERT_EQ(cbs.size(), 1u);
  EXPECT_TRUE(parse_traceparent(values(cbs[0], "traceparent").at(0)));
}

TEST_F(Harness, AnUnsampledCallerStaysUnsampled) {
  const auto cbs =
      run({{"traceparent", "00-12345678901234567890123456789012-1234567890123456-00"}});
  ASSERT_EQ(cbs.size(), 1u);
  const auto ctx = parse_traceparent(values(cbs[0], "traceparent").at(0));
  ASSERT_TRUE(ctx);
  EXPECT_FALSE(ctx->sampled());
  EXPECT_EQ(ctx->trace_id.to_hex(), "12345678901234567890123456789012");
}

TEST_F(Harness, AnInvalidTracestateIsDroppedButTraceparentKept) {
  const auto cbs = run({{"traceparent", "00-12345678901234567890123456789012-1234567890123456-01"},
                        {"tracestate", "foo=1,foo=2"}});
  ASSERT_EQ(cbs.size(), 1u);
  EXPECT_EQ(parse_traceparent(values(cbs[0], "traceparent").at(0))->trace_id.to_hex(),
            "12345678901234567890123456789012");
  EXPECT_TRUE(values(cbs[0], "tracestate").empty());
}

TEST_F(Harness, ABadBodyIs400) {
  HttpClient client;
  EXPECT_EQ(client.post(endpoint, "{not json").status, 400);
  EXPECT_EQ(client.post(endpoint, R"({"url":"x"})").status, 400);
}

}  // namespace
}  // namespace firebreak
