// The OTLP JSON encoding, field by field against opentelemetry-proto's
// trace.proto and the specification's "JSON Protobuf Encoding": lowerCamelCase
// keys, ids as lowercase hex (not base64), enums as integers, 64-bit integers
// as decimal strings.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "firebreak/trace.h"

namespace firebreak {
namespace {

using nlohmann::json;

class OtlpJson : public ::testing::Test {
 protected:
  std::shared_ptr<InMemorySpanExporter> exporter = std::make_shared<InMemorySpanExporter>();
  ManualClock clock{Clock::WallTime(std::chrono::seconds(1767225600))};
  Tracer tracer{
      TracerOptions{.processor = std::make_shared<SimpleSpanProcessor>(exporter), .clock = &clock}};
  ResourceAttributes resource{{"service.name", "shop-api"},
                              {"service.version", "1.2.3"},
                              {"deployment.environment.name", "prod"}};

  json encode() {
    std::string out;
    const auto spans = exporter->spans();
    encode_otlp_json(spans, resource, out);
    EXPECT_EQ(out.find('\n'), std::string::npos);
    return json::parse(out);
  }
  json first_span() { return encode()["resourceSpans"][0]["scopeSpans"][0]["spans"][0]; }
};

TEST_F(OtlpJson, EnvelopeIsResourceSpansScopeSpansSpans) {
  { Span s = tracer.start_span("a"); }
  { Span s = tracer.start_span("b"); }
  const json j = encode();
  ASSERT_EQ(j.size(), 1u);
  ASSERT_TRUE(j["resourceSpans"].is_array());
  ASSERT_EQ(j["resourceSpans"].size(), 1u);
  const json& rs = j["resourceSpans"][0];
  ASSERT_EQ(rs["scopeSpans"].size(), 1u);
  const json& ss = rs["scopeSpans"][0];
  EXPECT_EQ(ss["scope"]["name"], "firebreak");
  EXPECT_TRUE(ss["scope"]["version"].is_string());
  ASSERT_EQ(ss["spans"].size(), 2u);
  EXPECT_EQ(ss["spans"][0]["name"], "a");
  EXPECT_EQ(ss["spans"][1]["name"], "b");
}

TEST_F(OtlpJson, ResourceAttributesAreKeyValuesWithStringValues) {
  { Span s = tracer.start_span("a"); }
  const json attrs = encode()["resourceSpans"][0]["resource"]["attributes"];
  ASSERT_EQ(attrs.size(), 3u);
  EXPECT_EQ(attrs[0], json::parse(R"({"key":"service.name","value":{"stringValue":"shop-api"}})"));
  EXPECT_EQ(attrs[1]["key"], "service.version");
  EXPECT_EQ(attrs[1]["value"]["stringValue"], "1.2.3");
  EXPECT_EQ(attrs[2]["key"], "deployment.environment.name");
  EXPECT_EQ(attrs[2]["value"]["stringValue"], "prod");
}

TEST_F(OtlpJson, IdsAreLowercaseHexStrings) {
  SpanContext parent =
      *parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  Span s = tracer.start_span("child", {.parent = parent});
  const std::string span_hex = s.context().span_id.to_hex();
  s.end();
  const json span = first_span();
  EXPECT_EQ(span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(span["spanId"], span_hex);
  EXPECT_EQ(span["parentSpanId"], "00f067aa0ba902b7");
  EXPECT_EQ(span["traceId"].get<std::string>().size(), 32u);
  EXPECT_EQ(span["spanId"].get<std::string>().size(), 16u);
}

TEST_F(OtlpJson, ARootSpanHasNoParentSpanId) {
  { Span s = tracer.start_span("root"); }
  EXPECT_FALSE(first_span().contains("parentSpanId"));
}

TEST_F(OtlpJson, KindIsTheEnumsInteger) {
  const std::pair<SpanKind, int> kinds[] = {{SpanKind::kInternal, 1},
                                            {SpanKind::kServer, 2},
                                            {SpanKind::kClient, 3},
                                            {SpanKind::kProducer, 4},
                                            {SpanKind::kConsumer, 5}};
  for (const auto& k : kinds) {
    Span s = tracer.start_span("k", {.kind = k.first});
  }
  const json spans = encode()["resourceSpans"][0]["scopeSpans"][0]["spans"];
  ASSERT_EQ(spans.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(spans[i]["kind"].is_number_integer());
    EXPECT_EQ(spans[i]["kind"], kinds[i].second);
  }
}

TEST_F(OtlpJson, TimesAreNanosecondDecimalStrings) {
  Span s = tracer.start_span("timed");
  clock.advance(std::chrono::nanoseconds(1234567891));
  s.end();
  const json span = first_span();
  ASSERT_TRUE(span["startTimeUnixNano"].is_string());
  ASSERT_TRUE(span["endTimeUnixNano"].is_string());
  EXPECT_EQ(span["startTimeUnixNano"], "1767225600000000000");
  EXPECT_EQ(span["endTimeUnixNano"], "1767225601234567891");
}

TEST_F(OtlpJson, AttributesUseTheAnyValueForTheirType) {
  {
    Span s = tracer.start_span("attrs");
    s.set_attribute("http.request.method", "GET")
        .set_attribute("http.response.status_code", 200)
        .set_attribute("big", std::int64_t{9007199254740993})
        .set_attribute("negative", -5)
        .set_attribute("ratio", 0.25)
        .set_attribute("cached", false);
  }
  const json attrs = first_span()["attributes"];
  ASSERT_EQ(attrs.size(), 6u);
  EXPECT_EQ(attrs[0],
            json::parse(R"({"key":"http.request.method","value":{"stringValue":"GET"}})"));
  EXPECT_EQ(attrs[1],
            json::parse(R"({"key":"http.response.status_code","value":{"intValue":"200"}})"));
  // int64 as a string: exact beyond 2^53.
  EXPECT_EQ(attrs[2]["value"]["intValue"], "9007199254740993");
  EXPECT_EQ(attrs[3]["value"]["intValue"], "-5");
  EXPECT_TRUE(attrs[4]["value"]["doubleValue"].is_number());
  EXPECT_EQ(attrs[4]["value"]["doubleValue"], 0.25);
  EXPECT_EQ(attrs[5], json::parse(R"({"key":"cached","value":{"boolValue":false}})"));
}

TEST_F(OtlpJson, NonFiniteDoublesUseProto3Strings) {
  {
    Span s = tracer.start_span("nan");
    s.set_attribute("nan", std::numeric_limits<double>::quiet_NaN())
        .set_attribute("inf", std::numeric_limits<double>::infinity())
        .set_attribute("ninf", -std::numeric_limits<double>::infinity())
        .set_attribute("tiny", 5e-324)
        .set_attribute("huge", 1.7976931348623157e308);
  }
  const json attrs = first_span()["attributes"];
  EXPECT_EQ(attrs[0]["value"]["doubleValue"], "NaN");
  EXPECT_EQ(attrs[1]["value"]["doubleValue"], "Infinity");
  EXPECT_EQ(attrs[2]["value"]["doubleValue"], "-Infinity");
  EXPECT_EQ(attrs[3]["value"]["doubleValue"].get<double>(), 5e-324);
  EXPECT_EQ(attrs[4]["value"]["doubleValue"].get<double>(), 1.7976931348623157e308);
}

TEST_F(OtlpJson, StringsAreEscapedAndValidUtf8) {
  {
    Span s = tracer.start_span("quote \" backslash \\ newline \n tab \t");
    s.set_attribute("ctrl", std::string_view("a\x01z", 3)).set_attribute("bad", "\xff\xfe ok");
    s.set_attribute("utf8", "caf\xc3\xa9");
  }
  const json span = first_span();
  EXPECT_EQ(span["name"], "quote \" backslash \\ newline \n tab \t");
  EXPECT_EQ(span["attributes"][0]["value"]["stringValue"], std::string("a\x01z", 3));
  EXPECT_EQ(span["attributes"][1]["value"]["stringValue"], "\xef\xbf\xbd\xef\xbf\xbd ok");
  EXPECT_EQ(span["attributes"][2]["value"]["stringValue"], "caf\xc3\xa9");
}

TEST_F(OtlpJson, FlagsCarryTraceFlagsAndWhetherTheParentIsRemote) {
  SpanContext remote =
      *parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  { Span s = tracer.start_span("remote parent", {.parent = remote}); }
  { Span s = tracer.start_span("root"); }
  const json spans = encode()["resourceSpans"][0]["scopeSpans"][0]["spans"];
  // fixed32: a JSON number. Bit 0 sampled, 0x100 "has is_remote", 0x200 "is remote".
  EXPECT_TRUE(spans[0]["flags"].is_number_integer());
  EXPECT_EQ(spans[0]["flags"], 0x01 | 0x100 | 0x200);
  EXPECT_EQ(spans[1]["flags"], 0x01 | 0x100);
}

TEST_F(OtlpJson, TraceStateIsTheHeaderString) {
  SpanContext remote =
      *parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  remote.trace_state = *TraceState::parse("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE");
  { Span s = tracer.start_span("with state", {.parent = remote}); }
  { Span s = tracer.start_span("without"); }
  const json spans = encode()["resourceSpans"][0]["scopeSpans"][0]["spans"];
  EXPECT_EQ(spans[0]["traceState"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_FALSE(spans[1].contains("traceState"));
}

TEST_F(OtlpJson, StatusIsAnIntegerCodeWithAMessageForErrors) {
  {
    Span s = tracer.start_span("failed");
    s.set_status(StatusCode::kError, "connection refused");
  }
  {
    Span s = tracer.start_span("ok");
    s.set_status(StatusCode::kOk);
  }
  { Span s = tracer.start_span("unset"); }
  const json spans = encode()["resourceSpans"][0]["scopeSpans"][0]["spans"];
  EXPECT_EQ(spans[0]["status"], json::parse(R"({"message":"connection refused","code":2})"));
  EXPECT_EQ(spans[1]["status"], json::parse(R"({"code":1})"));
  EXPECT_EQ(spans[2]["status"], json::parse(R"({"code":0})"));
}

TEST_F(OtlpJson, EventsHaveTimeUnixNanoNameAndAttributes) {
  {
    Span s = tracer.start_span("with events");
    clock.advance(std::chrono::milliseconds(3));
    s.add_event("exception", {{"exception.type", "std::runtime_error"}, {"attempt", 3}});
  }
  const json events = first_span()["events"];
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["timeUnixNano"], "1767225600003000000");
  EXPECT_EQ(events[0]["name"], "exception");
  EXPECT_EQ(
      events[0]["attributes"][0],
      json::parse(R"({"key":"exception.type","value":{"stringValue":"std::runtime_error"}})"));
  EXPECT_EQ(events[0]["attributes"][1]["value"]["intValue"], "3");
}

TEST_F(OtlpJson, LinksHaveIdsTraceStateAttributesAndFlags) {
  SpanContext producer =
      *parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  producer.trace_state = *TraceState::parse("congo=t61rcWkgMzE");
  {
    Span s = tracer.start_span("consume", {.kind = SpanKind::kConsumer});
    s.add_link(producer, {{"messaging.message.id", "m-17"}});
  }
  const json links = first_span()["links"];
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0]["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(links[0]["spanId"], "00f067aa0ba902b7");
  EXPECT_EQ(links[0]["traceState"], "congo=t61rcWkgMzE");
  EXPECT_EQ(links[0]["attributes"][0]["key"], "messaging.message.id");
  EXPECT_EQ(links[0]["flags"], 0x01 | 0x100 | 0x200);
}

TEST_F(OtlpJson, DroppedCountsAppearWhenNonZero) {
  Tracer limited{TracerOptions{.processor = std::make_shared<SimpleSpanProcessor>(exporter),
                               .limits = {.max_attributes = 1, .max_events = 0, .max_links = 0},
                               .clock = &clock}};
  {
    Span s = limited.start_span("limited");
    s.set_attribute("a", 1).set_attribute("b", 2).set_attribute("c", 3);
    s.add_event("e");
    s.add_link(tracer.start_span("other").context());
  }
  const json spans = encode()["resourceSpans"][0]["scopeSpans"][0]["spans"];
  const json& s = spans.back();
  EXPECT_EQ(s["droppedAttributesCount"], 2);
  EXPECT_EQ(s["droppedEventsCount"], 1);
  EXPECT_EQ(s["droppedLinksCount"], 1);
  EXPECT_FALSE(spans[0].contains("droppedAttributesCount"));
}

TEST_F(OtlpJson, KeysAreLowerCamelCaseOnly) {
  SpanContext remote =
      *parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  remote.trace_state = *TraceState::parse("a=1");
  {
    Span s = tracer.start_span("everything", {.parent = remote});
    s.set_attribute("k", 1).add_event("e", {{"x", 1}}).add_link(remote);
    s.set_status(StatusCode::kError, "m");
  }
  std::string out;
  encode_otlp_json(exporter->spans(), resource, out);
  EXPECT_EQ(out.find("_id"), std::string::npos);
  EXPECT_EQ(out.find("_time"), std::string::npos);
  EXPECT_EQ(out.find("resource_spans"), std::string::npos);
  EXPECT_EQ(out.find("SPAN_KIND"), std::string::npos);
  EXPECT_EQ(out.find("STATUS_CODE"), std::string::npos);
  const json span = json::parse(out)["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  for (const auto& [key, value] : span.items()) {
    for (char c : key) EXPECT_TRUE(c != '_' && c != '-') << key;
    EXPECT_TRUE(std::islower(static_cast<unsigned char>(key[0]))) << key;
  }
  for (const char* k :
       {"traceId", "spanId", "traceState", "parentSpanId", "flags", "name", "kind",
        "startTimeUnixNano", "endTimeUnixNano", "attributes", "events", "links", "status"})
    EXPECT_TRUE(span.contains(k)) << k;
}

TEST_F(OtlpJson, AnEmptyBatchIsAValidEmptyRequest) {
  std::string out;
  encode_otlp_json({}, resource, out);
  const json j = json::parse(out);
  EXPECT_TRUE(j["resourceSpans"][0]["scopeSpans"][0]["spans"].empty());
}

}  // namespace
}  // namespace firebreak
