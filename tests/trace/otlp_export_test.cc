// Integration: spans exported over OTLP/HTTP JSON to a real local receiver,
// with the parent/child ids of an inject/extract round trip over real HTTP,
// headers from OTEL_EXPORTER_OTLP_HEADERS, gzip, and retries.
#include <gtest/gtest.h>
#include <zlib.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "firebreak/admin.h"
#include "firebreak/http_client.h"
#include "firebreak/metrics.h"
#include "firebreak/trace.h"

namespace firebreak {
namespace {

using nlohmann::json;

// An OTLP/HTTP receiver: POST /v1/traces, answers with the scripted statuses
// (then 200), keeps every request.
class Receiver {
 public:
  struct Request {
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string header(std::string_view name) const {
      for (const auto& [k, v] : headers) {
        if (k.size() == name.size() &&
            std::equal(k.begin(), k.end(), name.begin(),
                       [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
          return v;
      }
      return "";
    }
  };

  Receiver() {
    server_.add_handler("POST", "/v1/traces", [this](const AdminRequest& r) {
      std::lock_guard lock(mu_);
      requests_.push_back({r.headers, r.body});
      cv_.notify_all();
      int status = 200;
      if (!statuses_.empty()) {
        status = statuses_.front();
        statuses_.erase(statuses_.begin());
      }
      return AdminResponse{.status = status,
                           .content_type = "application/json",
                           .headers = {{"Retry-After", "0"}},
                           .body = status == 200 ? "{}" : R"({"message":"scripted"})"};
    });
    server_.start();
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  void script(std::vector<int> statuses) {
    std::lock_guard lock(mu_);
    statuses_ = std::move(statuses);
  }
  std::vector<Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Every span received so far (from successful requests and failed ones).
  std::vector<json> spans() {
    std::vector<json> out;
    for (const auto& r : requests()) {
      std::string body = r.body;
      if (r.header("Content-Encoding") == "gzip") body = gunzip(body);
      const json j = json::parse(body);
      for (const auto& rs : j["resourceSpans"])
        for (const auto& ss : rs["scopeSpans"])
          for (const auto& s : ss["spans"]) out.push_back(s);
    }
    return out;
  }
  json span(std::string_view name, int kind) {
    for (const auto& s : spans()) {
      if (s["name"] == name && s["kind"] == kind) return s;
    }
    ADD_FAILURE() << "no span " << name << " of kind " << kind;
    return json::object();
  }
  static std::string gunzip(const std::string& in) {
    z_stream zs{};
    inflateInit2(&zs, 15 + 16);
    std::string out(in.size() * 20 + 1024, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    inflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    inflateEnd(&zs);
    return out;
  }

 private:
  AdminServer server_{AdminOptions{.address = "127.0.0.1:0", .max_body_bytes = 4 << 20}};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request> requests_;
  std::vector<int> statuses_;
};

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(OtlpExport, ParentAndChildIdsSurviveAnInjectExtractRoundTripOverHttp) {
  Receiver receiver;
  Registry registry;
  Tracing tracing = init_tracing(
      {.service_name = "round-trip",
       .registry = &registry,
       .env = env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base()},
                      {"OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20abc,x-tenant=t1"}})});
  ASSERT_TRUE(tracing.enabled());

  // The "downstream service": extracts the caller's context from the request.
  AdminServer downstream({.address = "127.0.0.1:0"});
  downstream.add_handler("GET", "/stock", [](const AdminRequest& r) {
    ScopedSpan server("GET /stock", {.kind = SpanKind::kServer, .parent = extract(r.headers)});
    server->set_attribute("http.request.method", "GET");
    {
      ScopedSpan db("SELECT stock");
      db->set_attribute("db.system", "sqlite");
    }
    return AdminResponse{.body = "12"};
  });
  downstream.start();

  SpanContext client_ctx;
  {
    ScopedSpan request("POST /orders", {.kind = SpanKind::kServer});
    ScopedSpan call("GET /stock", {.kind = SpanKind::kClient});
    call->set_attribute("server.port", static_cast<int>(downstream.port()));
    client_ctx = call.context();
    HttpHeaders headers;
    inject(call.context(), headers);
    HttpClient client;
    const HttpResponse r =
        client.get("http://127.0.0.1:" + std::to_string(downstream.port()) + "/stock", headers);
    ASSERT_EQ(r.status, 200) << r.error;
  }
  ASSERT_TRUE(tracing.flush(std::chrono::seconds(10)));

  ASSERT_EQ(receiver.spans().size(), 4u);
  const json root = receiver.span("POST /orders", 2);
  const json client_span = receiver.span("GET /stock", 3);
  const json server_span = receiver.span("GET /stock", 2);
  const json db = receiver.span("SELECT stock", 1);

  const std::string trace = root["traceId"];
  EXPECT_EQ(client_span["traceId"], trace);
  EXPECT_EQ(server_span["traceId"], trace);
  EXPECT_EQ(db["traceId"], trace);
  EXPECT_EQ(client_span["parentSpanId"], root["spanId"]);
  EXPECT_EQ(client_span["spanId"], client_ctx.span_id.to_hex());
  EXPECT_EQ(server_span["parentSpanId"], client_span["spanId"]);  // across the wire
  EXPECT_EQ(server_span["flags"].get<int>() & 0x300, 0x300);      // remote parent
  EXPECT_EQ(db["parentSpanId"], server_span["spanId"]);
  EXPECT_EQ(db["flags"].get<int>() & 0x300, 0x100);  // local parent
  EXPECT_FALSE(root.contains("parentSpanId"));

  const auto req = receiver.requests().at(0);
  EXPECT_EQ(req.header("Content-Type"), "application/json");
  EXPECT_EQ(req.header("authorization"), "Bearer abc");
  EXPECT_EQ(req.header("x-tenant"), "t1");
  const json first = json::parse(req.body);
  EXPECT_EQ(first["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "round-trip");

  for (const auto& f : registry.collect()) {
    if (f.name == "trace_spans_exported") {
      EXPECT_EQ(f.points.at(0).value, 4);
    }
    if (f.name == "trace_spans_dropped") {
      EXPECT_EQ(f.points.at(0).value, 0);
    }
  }
  downstream.stop();
}

TEST(OtlpExport, GzipCompression) {
  Receiver receiver;
  Tracing tracing = init_tracing(
      {.env = env_of({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.base() + "/v1/traces"},
                      {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"}})});
  { ScopedSpan s("compressed"); }
  ASSERT_TRUE(tracing.flush(std::chrono::seconds(10)));
  ASSERT_EQ(receiver.requests().size(), 1u);
  EXPECT_EQ(receiver.requests()[0].header("Content-Encoding"), "gzip");
  ASSERT_EQ(receiver.spans().size(), 1u);
  EXPECT_EQ(receiver.spans()[0]["name"], "compressed");
}

TEST(OtlpExport, ExporterMapsStatusesToResults) {
  Receiver receiver;
  receiver.script({503, 429, 502, 504, 400, 500});
  OtlpHttpExporter exporter({.endpoint = receiver.base() + "/v1/traces"});
  auto exporter_ptr = std::shared_ptr<SpanExporter>(&exporter, [](auto*) {});
  auto memory = std::make_shared<InMemorySpanExporter>();
  Tracer tracer{TracerOptions{.processor = std::make_shared<SimpleSpanProcessor>(memory)}};
  { Span s = tracer.start_span("x"); }
  const auto spans = memory->spans();
  using S = ExportResult::Status;
  for (S expected : {S::kRetryable, S::kRetryable, S::kRetryable, S::kRetryable, S::kFailed,
                     S::kFailed, S::kSuccess}) {
    const ExportResult r = exporter.export_spans(spans);
    EXPECT_EQ(r.status, expected) << r.error;
  }
  // Nothing listening: retryable.
  OtlpHttpExporter nowhere({.endpoint = "http://127.0.0.1:1/v1/traces"});
  EXPECT_EQ(nowhere.export_spans(spans).status, S::kRetryable);
}

TEST(OtlpExport, RetriesA503ThenSucceeds) {
  Receiver receiver;
  receiver.script({503});
  Registry registry;
  auto processor = std::make_shared<BatchSpanProcessor>(
      std::make_shared<OtlpHttpExporter>(
          OtlpHttpOptions{.endpoint = receiver.base() + "/v1/traces"}),
      BatchOptions{.schedule_delay = std::chrono::milliseconds(10),
                   .initial_backoff = std::chrono::milliseconds(20),
                   .registry = &registry});
  Tracer tracer{TracerOptions{.processor = processor}};
  for (int i = 0; i < 3; ++i) tracer.start_span("retried-" + std::to_string(i)).end();
  ASSERT_TRUE(processor->force_flush(std::chrono::seconds(10)));
  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].body, requests[1].body);  // the same batch again
  EXPECT_EQ(processor->exported(), 3u);
  EXPECT_EQ(processor->dropped(), 0u);
  EXPECT_EQ(receiver.spans().size(), 6u);  // each span twice: the 503'd request and the retry
}

TEST(OtlpExport, ABadRequestIsNotRetried) {
  Receiver receiver;
  receiver.script({400});
  auto processor = std::make_shared<BatchSpanProcessor>(
      std::make_shared<OtlpHttpExporter>(
          OtlpHttpOptions{.endpoint = receiver.base() + "/v1/traces"}),
      BatchOptions{.schedule_delay = std::chrono::milliseconds(10),
                   .initial_backoff = std::chrono::milliseconds(1)});
  Tracer tracer{TracerOptions{.processor = processor}};
  tracer.start_span("rejected").end();
  processor->force_flush(std::chrono::seconds(10));
  EXPECT_EQ(receiver.requests().size(), 1u);
  EXPECT_EQ(processor->dropped(), 1u);
}

}  // namespace
}  // namespace firebreak
