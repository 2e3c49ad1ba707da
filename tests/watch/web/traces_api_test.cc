// watch's trace endpoints over a real socket: POST /v1/traces answered as an
// OTLP/HTTP collector answers (the kit's own exporter, plain and gzip, is
// the client), what it refuses and why, and the JSON read APIs.
#include "watch/web/traces_api.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "firebreak/http_client.h"
#include "firebreak/trace.h"

namespace watch::web {
namespace {

using nlohmann::json;

constexpr std::string_view kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";

std::string gzip(std::string_view in) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// One request of spans (id, parent id, name, start ms, duration ms, status).
std::string request(const std::vector<json>& spans, const std::string& service = "shop-api") {
  return json{
      {"resourceSpans",
       json::array({{{"resource",
                      {{"attributes", json::array({{{"key", "service.name"},
                                                    {"value", {{"stringValue", service}}}}})}}},
                     {"scopeSpans", json::array({{{"spans", spans}}})}}})}}
      .dump();
}

json span(std::string_view id, std::string_view parent, std::string name, int start_ms,
          int duration_ms, int status = 0, std::string_view trace = kTrace) {
  const std::int64_t t0 = 1'700'000'000'000'000'000;
  json j = {{"traceId", trace},
            {"spanId", id},
            {"name", std::move(name)},
            {"kind", parent.empty() ? 2 : 1},
            {"startTimeUnixNano", std::to_string(t0 + start_ms * 1'000'000ll)},
            {"endTimeUnixNano", std::to_string(t0 + (start_ms + duration_ms) * 1'000'000ll)},
            {"status", {{"code", status}}}};
  if (!parent.empty()) j["parentSpanId"] = parent;
  if (parent.empty())
    j["attributes"] = json::array(
        {{{"key", "http.route"}, {"value", {{"stringValue", "/orders"}}}},
         {{"key", "tags"},
          {"value",
           {{"arrayValue",
             {{"values", json::array({{{"stringValue", "a"}}, {{"intValue", "2"}}})}}}}}}});
  return j;
}

class TracesApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    add_traces_api(server_, store_, {.max_body_bytes = 64 * 1024});
    server_.start();
    base_ = "http://" + server_.address();
  }

  firebreak::HttpResponse post(const std::string& body, firebreak::HttpHeaders headers = {
                                                            {"Content-Type", "application/json"}}) {
    return client_.post(base_ + "/v1/traces", body, headers);
  }
  firebreak::HttpResponse get(const std::string& path) { return client_.get(base_ + path); }
  json get_json(const std::string& path) {
    const auto r = get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  traces::Store store_;
  firebreak::AdminServer server_{{.address = "127.0.0.1:0", .max_body_bytes = 1 << 20}};
  firebreak::HttpClient client_;
  std::string base_;
};

TEST_F(TracesApiTest, TheKitsExporterSendsPlainAndGzipped) {
  for (bool compress : {false, true}) {
    auto exporter = std::make_shared<firebreak::OtlpHttpExporter>(
        firebreak::OtlpHttpOptions{.endpoint = base_ + "/v1/traces",
                                   .resource = {{"service.name", compress ? "gzipped" : "plain"}},
                                   .gzip = compress});
    auto memory = std::make_shared<firebreak::InMemorySpanExporter>();
    firebreak::Tracer tracer(
        {.processor = std::make_shared<firebreak::SimpleSpanProcessor>(memory)});
    { firebreak::Span s = tracer.start_span("GET /x", {.kind = firebreak::SpanKind::kServer}); }
    const auto spans = memory->spans();
    const firebreak::ExportResult r = exporter->export_spans(spans);
    EXPECT_EQ(r.status, firebreak::ExportResult::Status::kSuccess) << r.error;
  }
  EXPECT_EQ(store_.stats().spans, 2u);
  EXPECT_EQ(store_.services(), (std::vector<std::string>{"gzipped", "plain"}));
}

TEST_F(TracesApiTest, AnswersAsACollector) {
  const auto ok = post(request({span("00000000000000a1", "", "POST /orders", 0, 30)}));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "{}");
  EXPECT_EQ(ok.header("Content-Type"), "application/json");

  const auto partial = post(request({span("00000000000000a2", "00000000000000a1", "child", 1, 2),
                                     span("nothex", "", "bad", 0, 1)}));
  EXPECT_EQ(partial.status, 200);
  const json p = json::parse(partial.body);
  EXPECT_EQ(p["partialSuccess"]["rejectedSpans"], "1");
  EXPECT_NE(p["partialSuccess"]["errorMessage"].get<std::string>().find(
                "resourceSpans[0].scopeSpans[0].spans[1]: spanId"),
            std::string::npos)
      << partial.body;

  const auto bad = post(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"name":5}]}]}]})");
  EXPECT_EQ(bad.status, 400);
  const json b = json::parse(bad.body);
  EXPECT_EQ(b["code"], 3);
  EXPECT_EQ(b["message"],
            "resourceSpans[0].scopeSpans[0].spans[0].name: want a string, got the number 5");
  const auto garbage = post("{\"resourceSpans\":[");
  EXPECT_EQ(garbage.status, 400);
  EXPECT_NE(json::parse(garbage.body)["message"].get<std::string>().find("malformed JSON"),
            std::string::npos);
  EXPECT_EQ(store_.stats().spans, 2u);
}

TEST_F(TracesApiTest, RefusesWhatItCannotRead) {
  const std::string body = request({span("00000000000000a1", "", "x", 0, 1)});
  const auto proto = post("\x0a\x00", {{"Content-Type", "application/x-protobuf"}});
  EXPECT_EQ(proto.status, 415);
  EXPECT_NE(proto.body.find("OTEL_EXPORTER_OTLP_PROTOCOL=http/json"), std::string::npos)
      << proto.body;
  EXPECT_EQ(post(body, {{"Content-Type", "text/plain"}}).status, 415);
  EXPECT_EQ(post(body, {}).status, 415);
  EXPECT_EQ(post(body, {{"Content-Type", "Application/JSON; charset=utf-8"}}).status, 200);
  const auto zstd =
      post(body, {{"Content-Type", "application/json"}, {"Content-Encoding", "zstd"}});
  EXPECT_EQ(zstd.status, 415);
  EXPECT_NE(zstd.body.find("zstd"), std::string::npos);
  const auto not_gzip =
      post(body, {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}});
  EXPECT_EQ(not_gzip.status, 400);
  EXPECT_NE(not_gzip.body.find("invalid gzip body"), std::string::npos) << not_gzip.body;
  // Over the limit as sent, and once inflated (a small body that expands).
  EXPECT_EQ(post(std::string(65 * 1024, ' ') + "{}").status, 413);
  const auto bomb = post(gzip(std::string(1 << 20, ' ')),
                         {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}});
  EXPECT_EQ(bomb.status, 413);
  EXPECT_NE(bomb.body.find("decompressed"), std::string::npos);
}

TEST_F(TracesApiTest, ListsTracesWithFiltersAndOrder) {
  const std::string other = "00000000000000000000000000000002";
  ASSERT_EQ(post(request({span("00000000000000a1", "", "POST /orders", 0, 30),
                          span("00000000000000b1", "", "GET /slow", 100, 500, 2, other)}))
                .status,
            200);
  const json all = get_json("/api/v1/traces");
  EXPECT_EQ(all["status"], "success");
  ASSERT_EQ(all["data"]["traces"].size(), 2u);
  const json& newest = all["data"]["traces"][0];
  EXPECT_EQ(newest["traceId"], other);
  EXPECT_EQ(newest["logCorrelationId"], other);
  EXPECT_EQ(newest["rootName"], "GET /slow");
  EXPECT_EQ(newest["rootService"], "shop-api");
  EXPECT_EQ(newest["durationMs"], 500.0);
  EXPECT_EQ(newest["spanCount"], 1);
  EXPECT_EQ(newest["error"], true);
  EXPECT_EQ(newest["start"], "2023-11-14T22:13:20.1Z");
  EXPECT_EQ(newest["startUnixNano"], "1700000000100000000");
  EXPECT_EQ(all["data"]["services"], json::array({"shop-api"}));
  EXPECT_EQ(all["data"]["routes"], json::array({"/orders"}));
  EXPECT_EQ(all["data"]["held"]["spans"], 2);

  EXPECT_EQ(get_json("/api/v1/traces?error=true")["data"]["traces"].size(), 1u);
  EXPECT_EQ(get_json("/api/v1/traces?min_duration=100ms")["data"]["traces"].size(), 1u);
  EXPECT_EQ(get_json("/api/v1/traces?min_duration=0.01")["data"]["traces"].size(), 2u);
  EXPECT_EQ(get_json("/api/v1/traces?route=/orders")["data"]["traces"].size(), 2u);
  EXPECT_EQ(get_json("/api/v1/traces?route=/stock")["data"]["traces"].size(), 0u);
  EXPECT_EQ(get_json("/api/v1/traces?service=shop-worker")["data"]["traces"].size(), 0u);
  EXPECT_EQ(get_json("/api/v1/traces?order=duration&limit=1")["data"]["traces"][0]["traceId"],
            other);
  for (const char* bad : {"error=maybe", "min_duration=soon", "order=name", "limit=0", "limit=x"}) {
    const auto r = get(std::string("/api/v1/traces?") + bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(json::parse(r.body)["errorType"], "bad_data") << bad;
  }
}

TEST_F(TracesApiTest, OneTraceIsReadyForAWaterfall) {
  // The child first: it waits for its parent.
  ASSERT_EQ(
      post(request({span("00000000000000a2", "00000000000000a1", "create orders", 5, 2)})).status,
      200);
  ASSERT_EQ(post(request({span("00000000000000a3", "00000000000000a2", "process orders", 50, 100)},
                         "shop-worker"))
                .status,
            200);
  ASSERT_EQ(post(request({span("00000000000000a1", "", "POST /orders", 0, 30)})).status, 200);
  const json t = get_json("/api/v1/traces/" + std::string(kTrace));
  const json& d = t["data"];
  EXPECT_EQ(d["traceId"], kTrace);
  EXPECT_EQ(d["logCorrelationId"], kTrace);
  EXPECT_EQ(d["rootName"], "POST /orders");
  EXPECT_EQ(d["route"], "/orders");
  EXPECT_EQ(d["services"], json::array({"shop-api", "shop-worker"}));
  EXPECT_EQ(d["durationMs"], 150.0);
  ASSERT_EQ(d["spans"].size(), 3u);
  const json& root = d["spans"][0];
  EXPECT_EQ(root["name"], "POST /orders");
  EXPECT_EQ(root["parentIndex"], nullptr);
  EXPECT_EQ(root["parentSpanId"], "");
  EXPECT_EQ(root["kind"], "server");
  EXPECT_EQ(root["depth"], 0);
  EXPECT_EQ(root["startOffsetMs"], 0.0);
  EXPECT_EQ(root["attributes"]["http.route"], "/orders");
  EXPECT_EQ(root["attributes"]["tags"], json::array({"a", 2}));
  EXPECT_EQ(root["status"]["code"], 0);
  const json& worker = d["spans"][2];
  EXPECT_EQ(worker["name"], "process orders");
  EXPECT_EQ(worker["parentIndex"], 1);
  EXPECT_EQ(worker["parentSpanId"], "00000000000000a2");
  EXPECT_EQ(worker["depth"], 2);
  EXPECT_EQ(worker["service"], "shop-worker");
  EXPECT_EQ(worker["startOffsetMs"], 50.0);
  EXPECT_EQ(worker["durationMs"], 100.0);
  ASSERT_EQ(d["resources"].size(), 2u);
  EXPECT_EQ(d["resources"][worker["resource"].get<std::size_t>()]["service"], "shop-worker");
  EXPECT_EQ(d["resources"][worker["resource"].get<std::size_t>()]["attributes"]["service.name"],
            "shop-worker");

  // Ids in upper case too; unknown, malformed.
  EXPECT_EQ(get("/api/v1/traces/4BF92F3577B34DA6A3CE929D0E0E4736").status, 200);
  const auto missing = get("/api/v1/traces/00000000000000000000000000000009");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(json::parse(missing.body)["errorType"], "not_found");
  EXPECT_EQ(get("/api/v1/traces/xyz").status, 400);
  EXPECT_EQ(get("/api/v1/traces/00000000000000000000000000000000").status, 400);
  EXPECT_EQ(get("/api/v1/traces/").status, 400);
}

}  // namespace
}  // namespace watch::web
