// The OTLP JSON reader behind Store::ingest(): what it takes from a request
// (the kit's own export, the forms the OTLP JSON mapping allows), what fails
// the whole request (with the field's path) and what only rejects a span, and
// the limits it applies to hostile input.
#include "watch/traces/otlp_reader.h"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "firebreak/trace.h"
#include "watch/model/text.h"

namespace watch::traces::detail {
namespace {

using nlohmann::json;

constexpr std::string_view kTrace = "0af7651916cd43dd8448eb211c80319c";
constexpr std::string_view kSpan = "b7ad6b7169203331";

// A request with one resource (service.name `service`) and these spans.
std::string request(const json& spans, const std::string& service = "shop-api") {
  json resource = {{"attributes", json::array({{{"key", "service.name"},
                                                {"value", {{"stringValue", service}}}}})}};
  return json{{"resourceSpans",
               json::array({{{"resource", resource},
                             {"scopeSpans", json::array({{{"scope", {{"name", "firebreak"}}},
                                                          {"spans", spans}}})}}})}}
      .dump();
}

json span(std::string_view trace = kTrace, std::string_view id = kSpan) {
  return {{"traceId", trace},
          {"spanId", id},
          {"name", "GET /orders/{id}"},
          {"kind", 2},
          {"startTimeUnixNano", "1700000000000000000"},
          {"endTimeUnixNano", "1700000000250000000"}};
}

json attribute(const std::string& key, const json& value) {
  return {{"key", key}, {"value", value}};
}

ReadResult read(const std::string& body, const Limits& limits = {}) {
  return read_otlp_json(body, limits);
}

TEST(OtlpReader, ReadsWhatTheKitExports) {
  auto memory = std::make_shared<firebreak::InMemorySpanExporter>();
  firebreak::Tracer tracer({.processor = std::make_shared<firebreak::SimpleSpanProcessor>(memory)});
  firebreak::SpanContext server_context, linked;
  {
    firebreak::Span server =
        tracer.start_span("POST /orders", {.kind = firebreak::SpanKind::kServer});
    server.set_attribute("http.route", "/orders")
        .set_attribute("http.response.status_code", std::int64_t{201})
        .set_attribute("ratio", 0.5)
        .set_attribute("cached", true);
    server.add_event("order_stored", {{"order_id", firebreak::AttributeValue("o-17")}});
    server_context = server.context();
    firebreak::Span producer = tracer.start_span(
        "create orders", {.kind = firebreak::SpanKind::kProducer, .parent = server_context});
    linked = producer.context();
    firebreak::Span consumer = tracer.start_span(
        "process orders", {.kind = firebreak::SpanKind::kConsumer, .parent = linked});
    consumer.add_link(linked);
    consumer.set_status(firebreak::StatusCode::kError, "payment declined");
  }
  std::string body;
  firebreak::encode_otlp_json(memory->spans(), {{"service.name", "shop-api"}, {"host", "a"}}, body);

  const ReadResult r = read(body);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.received, 3u);
  EXPECT_EQ(r.rejected, 0u);
  ASSERT_EQ(r.spans.size(), 3u);
  const auto& spans = r.spans;
  const auto find = [&](std::string_view name) {
    for (const Span& s : spans)
      if (s.name == name) return &s;
    return static_cast<const Span*>(nullptr);
  };
  const Span* server = find("POST /orders");
  const Span* consumer = find("process orders");
  ASSERT_TRUE(server && consumer);
  EXPECT_EQ(server->trace_id, server_context.trace_id);
  EXPECT_EQ(server->span_id, server_context.span_id);
  EXPECT_FALSE(server->parent_span_id.valid());
  EXPECT_EQ(server->kind, firebreak::SpanKind::kServer);
  EXPECT_GT(server->start_unix_nano, 1'600'000'000'000'000'000);
  EXPECT_GE(server->end_unix_nano, server->start_unix_nano);
  EXPECT_EQ(server->service(), "shop-api");
  EXPECT_EQ(server->scope, "firebreak");
  ASSERT_NE(server->attribute("http.route"), nullptr);
  EXPECT_EQ(server->attribute("http.route")->text, "/orders");
  EXPECT_EQ(server->attribute("http.response.status_code")->int_value, 201);
  EXPECT_EQ(server->attribute("ratio")->double_value, 0.5);
  EXPECT_TRUE(server->attribute("cached")->bool_value);
  ASSERT_EQ(server->events.size(), 1u);
  EXPECT_EQ(server->events[0].name, "order_stored");
  EXPECT_EQ(server->events[0].attributes[0].value.text, "o-17");
  EXPECT_EQ(consumer->kind, firebreak::SpanKind::kConsumer);
  EXPECT_EQ(consumer->parent_span_id, linked.span_id);
  EXPECT_EQ(consumer->status, firebreak::StatusCode::kError);
  EXPECT_EQ(consumer->status_message, "payment declined");
  ASSERT_EQ(consumer->links.size(), 1u);
  EXPECT_EQ(consumer->links[0].span_id, linked.span_id);
  EXPECT_EQ(server->resource, consumer->resource);  // one resource object for the request
  ASSERT_EQ(server->resource->attributes.size(), 2u);
}

TEST(OtlpReader, TakesIdsInEitherCaseTimesAsNumbersAndEnumsByName) {
  json s = span("0AF7651916CD43DD8448EB211C80319C", "B7AD6B7169203331");
  s["startTimeUnixNano"] = 1700000000000000000ull;
  s["endTimeUnixNano"] = 1.7e18;
  s["kind"] = "SPAN_KIND_CLIENT";
  s["status"] = {{"code", "STATUS_CODE_ERROR"}};
  s["parentSpanId"] = "";
  const ReadResult r = read(request(json::array({s})));
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.spans.size(), 1u);
  EXPECT_EQ(r.spans[0].trace_id.to_hex(), kTrace);
  EXPECT_EQ(r.spans[0].span_id.to_hex(), kSpan);
  EXPECT_EQ(r.spans[0].start_unix_nano, 1'700'000'000'000'000'000);
  EXPECT_EQ(r.spans[0].end_unix_nano, 1'700'000'000'000'000'000);
  EXPECT_EQ(r.spans[0].kind, firebreak::SpanKind::kClient);
  EXPECT_EQ(r.spans[0].status, firebreak::StatusCode::kError);
  EXPECT_FALSE(r.spans[0].parent_span_id.valid());
}

TEST(OtlpReader, ReadsEveryAttributeValueType) {
  json s = span();
  s["attributes"] = json::array(
      {attribute("s", {{"stringValue", "x"}}), attribute("i", {{"intValue", "-42"}}),
       attribute("n", {{"intValue", 7}}), attribute("d", {{"doubleValue", 1.25}}),
       attribute("nan", {{"doubleValue", "NaN"}}), attribute("b", {{"boolValue", false}}),
       attribute("bytes", {{"bytesValue", "AAEC"}}), attribute("empty", json::object()),
       attribute(
           "arr",
           {{"arrayValue",
             {{"values", json::array({{{"stringValue", "a"}},
                                      {{"intValue", "1"}},
                                      {{"arrayValue",
                                        {{"values", json::array({{{"boolValue", true}}})}}}}})}}}}),
       attribute("map", {{"kvlistValue",
                          {{"values", json::array({attribute("k", {{"stringValue", "v"}}),
                                                   attribute("z", json::object())})}}}})});
  const ReadResult r = read(request(json::array({s})));
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.spans.size(), 1u);
  const Span& got = r.spans[0];
  EXPECT_EQ(got.attribute("s")->text, "x");
  EXPECT_EQ(got.attribute("i")->int_value, -42);
  EXPECT_EQ(got.attribute("n")->int_value, 7);
  EXPECT_EQ(got.attribute("d")->double_value, 1.25);
  EXPECT_TRUE(std::isnan(got.attribute("nan")->double_value));
  EXPECT_EQ(got.attribute("b")->type, Value::Type::kBool);
  EXPECT_EQ(got.attribute("bytes")->type, Value::Type::kBytes);
  EXPECT_EQ(got.attribute("bytes")->text, "AAEC");
  EXPECT_EQ(got.attribute("empty")->type, Value::Type::kEmpty);
  EXPECT_EQ(got.attribute("arr")->type, Value::Type::kArray);
  EXPECT_EQ(got.attribute("arr")->text, R"(["a",1,[true]])");
  EXPECT_EQ(got.attribute("map")->type, Value::Type::kKvlist);
  EXPECT_EQ(got.attribute("map")->text, R"({"k":"v","z":null})");
}

TEST(OtlpReader, IgnoresUnknownFieldsAndTakesNullAsTheDefault) {
  json s = span();
  s["futureField"] = {{"deep", json::array({1, {{"x", json::array()}}})}};
  s["traceState"] = "vendor=1";
  s["flags"] = 257;
  s["name"] = nullptr;
  s["events"] = nullptr;
  json body = json::parse(request(json::array({s})));
  body["resourceSpans"][0]["schemaUrl"] = "https://opentelemetry.io/schemas/1.26.0";
  body["somethingElse"] = json::array({json::array({json::array()})});
  const ReadResult r = read(body.dump());
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.spans.size(), 1u);
  EXPECT_EQ(r.spans[0].name, "");
}

TEST(OtlpReader, AnEmptyRequestIsFine) {
  for (const char* body : {"{}", R"({"resourceSpans":[]})", R"({"resourceSpans":null})",
                           R"({"resourceSpans":[{"scopeSpans":[{"spans":[]}]}]})"}) {
    const ReadResult r = read(body);
    EXPECT_TRUE(r.error.empty()) << body << ": " << r.error;
    EXPECT_EQ(r.received, 0u) << body;
  }
}

TEST(OtlpReader, ASpanWithoutServiceNameIsTheUnknownService) {
  json body = json::parse(request(json::array({span()})));
  body["resourceSpans"][0].erase("resource");
  const ReadResult r = read(body.dump());
  ASSERT_EQ(r.spans.size(), 1u);
  EXPECT_EQ(r.spans[0].service(), "unknown_service");
}

TEST(OtlpReader, MalformedJsonFailsWithThePositionAndTheField) {
  std::string body = request(json::array({span()}));
  body.resize(body.find("GET /orders") + 3);  // cut in the middle of the span's name
  const ReadResult r = read(body);
  EXPECT_NE(r.error.find("malformed JSON at byte"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("resourceSpans[0].scopeSpans[0].spans[0].name"), std::string::npos)
      << r.error;
  EXPECT_TRUE(r.spans.empty());

  EXPECT_NE(read("").error.find("malformed JSON"), std::string::npos);
  EXPECT_NE(read("{\"resourceSpans\":[}").error.find("malformed JSON"), std::string::npos);
  EXPECT_NE(read("{} {}").error.find("malformed JSON"), std::string::npos);
  // Invalid UTF-8 in a string is not JSON.
  EXPECT_NE(read("{\"x\":\"\xff\"}").error.find("malformed JSON"), std::string::npos);
}

TEST(OtlpReader, AFieldOfTheWrongTypeFailsTheRequestNamingIt) {
  const auto error_for = [](const std::string& field, const json& value) {
    json s = span();
    s[field] = value;
    return read(request(json::array({s}))).error;
  };
  EXPECT_EQ(error_for("name", 5),
            "resourceSpans[0].scopeSpans[0].spans[0].name: want a string, got the number 5");
  EXPECT_EQ(error_for("startTimeUnixNano", "soon"),
            "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: want a non-negative "
            "64-bit integer (a number or a decimal string), got the string \"soon\"");
  EXPECT_EQ(error_for("startTimeUnixNano", -1),
            "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: want a non-negative "
            "64-bit integer (a number or a decimal string), got the number -1");
  EXPECT_EQ(error_for("kind", "SERVER"),
            "resourceSpans[0].scopeSpans[0].spans[0].kind: want an enum value (an integer), got "
            "the string \"SERVER\"");
  EXPECT_EQ(error_for("attributes", json::object()),
            "resourceSpans[0].scopeSpans[0].spans[0].attributes: want an array, got an object");
  EXPECT_EQ(error_for("attributes", json::array({"x"})),
            "resourceSpans[0].scopeSpans[0].spans[0].attributes[0]: want an object, got the "
            "string \"x\"");
  EXPECT_EQ(error_for("status", json::array()),
            "resourceSpans[0].scopeSpans[0].spans[0].status: want an object, got an array");
  EXPECT_EQ(error_for("traceId", 12),
            "resourceSpans[0].scopeSpans[0].spans[0].traceId: want a string, got the number 12");
  EXPECT_EQ(error_for("attributes", json::array({attribute("k", {{"intValue", "1.5"}})})),
            "resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.intValue: want a 64-bit "
            "integer (a number or a decimal string), got the string \"1.5\"");
  EXPECT_EQ(read(R"({"resourceSpans":{}})").error, "resourceSpans: want an array, got an object");
  EXPECT_EQ(read(R"({"resourceSpans":[[]]})").error,
            "resourceSpans[0]: want an object, got an array");
  EXPECT_NE(read("[]").error.find("must be a JSON object"), std::string::npos);
  EXPECT_NE(read("42").error.find("must be a JSON object"), std::string::npos);
}

TEST(OtlpReader, BadIdsRejectTheirSpanAloneWithTheReason) {
  const std::string zeros_trace(32, '0');
  const json spans = json::array({
      span(kTrace, "0000000000000001"),                 // fine
      span("0af7651916cd43dd8448eb211c80319", kSpan),   // 31 digits
      span("zzf7651916cd43dd8448eb211c80319c", kSpan),  // not hex
      span(zeros_trace, kSpan),                         // all zero
      span(kTrace, "0000000000000000"),                 // all zero
      {{"spanId", kSpan}, {"name", "no trace id"}},     // missing
      span(kTrace, "0000000000000002"),                 // fine
  });
  json with_bad_parent = span(kTrace, "0000000000000003");
  with_bad_parent["parentSpanId"] = "xyz";
  json all = spans;
  all.push_back(with_bad_parent);
  const ReadResult r = read(request(all));
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.received, 8u);
  EXPECT_EQ(r.rejected, 6u);
  ASSERT_EQ(r.spans.size(), 2u);
  EXPECT_EQ(r.spans[1].span_id.to_hex(), "0000000000000002");
  ASSERT_EQ(r.reasons.size(), kMaxReasons);
  EXPECT_EQ(r.reasons[0],
            "resourceSpans[0].scopeSpans[0].spans[1]: traceId: want 32 hex digits, not all zero; "
            "got the string \"0af7651916cd43dd8448eb211c80319\"");
  EXPECT_EQ(join_reasons(r.reasons, r.rejected).find("; and 3 more"),
            join_reasons(r.reasons, r.rejected).size() - std::string("; and 3 more").size());
}

TEST(OtlpReader, HugeStringsAreCutAtACharacterBoundary) {
  std::string huge;
  for (int i = 0; i < 10'000; ++i) huge += "\xc3\xa9";  // é, two bytes
  json s = span();
  s["name"] = huge;
  s["attributes"] = json::array({attribute(huge, {{"stringValue", huge}})});
  s["status"] = {{"code", 2}, {"message", huge}};
  const Limits limits{.max_value_bytes = 1001};
  const ReadResult r = read(request(json::array({s})), limits);
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.spans.size(), 1u);
  const Span& got = r.spans[0];
  EXPECT_EQ(got.name.size(), 1000u);
  EXPECT_EQ(first_invalid_utf8(got.name), std::string::npos);
  EXPECT_EQ(got.attributes[0].key.size(), 1000u);
  EXPECT_EQ(got.attributes[0].value.text.size(), 1000u);
  EXPECT_TRUE(got.attributes[0].value.truncated);
  EXPECT_EQ(got.status_message.size(), 1000u);
  EXPECT_EQ(r.values_truncated, 4u);
}

TEST(OtlpReader, ALongArrayValueBecomesItsTruncatedText) {
  json values = json::array();
  for (int i = 0; i < 1000; ++i) values.push_back({{"stringValue", "element"}});
  json s = span();
  s["attributes"] = json::array({attribute("list", {{"arrayValue", {{"values", values}}}})});
  const ReadResult r = read(request(json::array({s})), {.max_value_bytes = 100});
  ASSERT_EQ(r.spans.size(), 1u);
  const Value& v = *r.spans[0].attribute("list");
  EXPECT_EQ(v.type, Value::Type::kString);
  EXPECT_TRUE(v.truncated);
  EXPECT_EQ(v.text.size(), 100u);
  EXPECT_TRUE(v.text.starts_with(R"(["element","element",)"));
}

TEST(OtlpReader, NestingDeeperThanTheLimitFailsTheRequest) {
  // Arrays of arrays in an attribute value: two levels each.
  json value = {{"stringValue", "bottom"}};
  for (int i = 0; i < 40; ++i) value = {{"arrayValue", {{"values", json::array({value})}}}};
  json s = span();
  s["attributes"] = json::array({attribute("deep", value)});
  const ReadResult r = read(request(json::array({s})));
  EXPECT_NE(r.error.find("JSON nested deeper than 64 levels"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("spans[0].attributes[0].value.arrayValue.values[0]"), std::string::npos)
      << r.error;
  // In a field nobody reads, too; and a million brackets do not take a
  // million frames.
  EXPECT_EQ(read("{\"x\":" + std::string(1'000'000, '[')).error,
            "x: JSON nested deeper than 64 levels");
  // 15 levels of arrays are fine.
  json shallow = {{"boolValue", true}};
  for (int i = 0; i < 15; ++i) shallow = {{"arrayValue", {{"values", json::array({shallow})}}}};
  s["attributes"] = json::array({attribute("ok", shallow)});
  EXPECT_TRUE(read(request(json::array({s}))).error.empty());
}

TEST(OtlpReader, ASpanKeepsAtMostItsLimitsOfAttributesEventsAndLinks) {
  json s = span();
  s["attributes"] = json::array();
  s["events"] = json::array();
  s["links"] = json::array();
  for (int i = 0; i < 10; ++i) {
    s["attributes"].push_back(attribute("a" + std::to_string(i), {{"intValue", i}}));
    s["events"].push_back({{"name", "e"}, {"timeUnixNano", "1700000000100000000"}});
    s["links"].push_back({{"traceId", kTrace}, {"spanId", "00000000000000a1"}});
  }
  s["links"].push_back({{"traceId", "bad"}, {"spanId", "00000000000000a1"}});
  s["droppedAttributesCount"] = 2;
  const Limits limits{
      .max_attributes_per_span = 4, .max_events_per_span = 3, .max_links_per_span = 5};
  const ReadResult r = read(request(json::array({s})), limits);
  ASSERT_EQ(r.spans.size(), 1u);
  EXPECT_EQ(r.spans[0].attributes.size(), 4u);
  EXPECT_EQ(r.spans[0].dropped_attributes, 8u);  // 2 as sent + 6 here
  EXPECT_EQ(r.spans[0].events.size(), 3u);
  EXPECT_EQ(r.spans[0].dropped_events, 7u);
  EXPECT_EQ(r.spans[0].links.size(), 5u);
  EXPECT_EQ(r.spans[0].dropped_links, 6u);  // 5 over the limit, 1 with a bad id
  EXPECT_EQ(r.attributes_dropped, 6u);
  EXPECT_EQ(r.events_dropped, 7u);
  EXPECT_EQ(r.links_dropped, 6u);
}

TEST(OtlpReader, SpansOfSeveralResourcesKeepTheirOwnService) {
  json body = json::parse(request(json::array({span(kTrace, "0000000000000001")}), "shop-api"));
  const json worker =
      json::parse(request(json::array({span(kTrace, "0000000000000002")}), "shop-worker"));
  body["resourceSpans"].push_back(worker["resourceSpans"][0]);
  const ReadResult r = read(body.dump());
  ASSERT_EQ(r.spans.size(), 2u);
  EXPECT_EQ(r.spans[0].service(), "shop-api");
  EXPECT_EQ(r.spans[1].service(), "shop-worker");
}

TEST(OtlpReader, TheResourceMayComeAfterItsSpans) {
  const std::string body =
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":")" + std::string(kTrace) +
      R"(","spanId":")" + std::string(kSpan) +
      R"("}],"scope":{"name":"late"}}],"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"after"}}]}}]})";
  const ReadResult r = read(body);
  ASSERT_EQ(r.spans.size(), 1u) << r.error;
  EXPECT_EQ(r.spans[0].service(), "after");
  EXPECT_EQ(r.spans[0].scope, "late");
}

}  // namespace
}  // namespace watch::traces::detail
