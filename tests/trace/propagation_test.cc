// Extraction from and injection into carriers: HTTP header lists (any case,
// repeated fields) and message header maps.
#include <gtest/gtest.h>

#include <map>
#include <unordered_map>

#include "firebreak/trace.h"

namespace firebreak {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kTp = "00-12345678901234567890123456789012-1234567890123456-01";

TEST(Extract, NoHeadersGiveAnInvalidContext) {
  EXPECT_FALSE(extract(Headers{}).valid());
  EXPECT_FALSE(extract(Headers{{"content-type", "text/plain"}}).valid());
}

TEST(Extract, HeaderNamesAreCaseInsensitive) {
  for (const char* name : {"traceparent", "TraceParent", "TrAcEpArEnT", "TRACEPARENT"}) {
    const SpanContext ctx = extract(Headers{{name, kTp}});
    ASSERT_TRUE(ctx.valid()) << name;
    EXPECT_EQ(ctx.trace_id.to_hex(), "12345678901234567890123456789012");
    EXPECT_TRUE(ctx.is_remote);
  }
  const SpanContext ctx = extract(Headers{{"traceparent", kTp}, {"TrAcEsTaTe", "foo=1"}});
  EXPECT_EQ(ctx.trace_state.get("foo"), "1");
}

TEST(Extract, OtherNamesAreNotTraceContext) {
  EXPECT_FALSE(extract(Headers{{"trace-parent", kTp}}).valid());
  EXPECT_FALSE(extract(Headers{{"trace.parent", kTp}}).valid());
  const SpanContext ctx =
      extract(Headers{{"traceparent", kTp}, {"trace-state", "foo=1"}, {"trace.state", "bar=2"}});
  EXPECT_TRUE(ctx.trace_state.empty());
}

TEST(Extract, ARepeatedTraceparentIsIgnored) {
  EXPECT_FALSE(
      extract(Headers{{"traceparent", "00-12345678901234567890123456789011-1234567890123456-01"},
                      {"traceparent", kTp}})
          .valid());
  EXPECT_FALSE(extract(Headers{{"traceparent", kTp}, {"TraceParent", kTp}}).valid());
}

TEST(Extract, TracestateWithoutTraceparentIsDiscarded) {
  const SpanContext ctx = extract(Headers{{"tracestate", "foo=1,bar=2"}});
  EXPECT_FALSE(ctx.valid());
  EXPECT_TRUE(ctx.trace_state.empty());
}

TEST(Extract, TracestateIsNotReadWhenTraceparentIsInvalid) {
  const SpanContext ctx =
      extract(Headers{{"traceparent", "00-00000000000000000000000000000000-1234567890123456-01"},
                      {"tracestate", "foo=1"}});
  EXPECT_FALSE(ctx.valid());
  EXPECT_TRUE(ctx.trace_state.empty());
}

TEST(Extract, AnInvalidTracestateDoesNotAffectTraceparent) {
  const SpanContext ctx = extract(Headers{{"traceparent", kTp}, {"tracestate", "foo=1,foo=2"}});
  ASSERT_TRUE(ctx.valid());
  EXPECT_TRUE(ctx.trace_state.empty());
}

TEST(Extract, RepeatedTracestateFieldsAreCombinedInOrder) {
  const SpanContext ctx = extract(Headers{{"traceparent", kTp},
                                          {"tracestate", "foo=1,bar=2"},
                                          {"tracestate", "rojo=1,congo=2"},
                                          {"tracestate", "baz=3"}});
  EXPECT_EQ(ctx.trace_state.header(), "foo=1,bar=2,rojo=1,congo=2,baz=3");
}

TEST(Extract, EmptyTracestateFieldsAreAccepted) {
  EXPECT_EQ(extract(Headers{{"traceparent", kTp}, {"tracestate", ""}}).trace_state.header(), "");
  EXPECT_EQ(extract(Headers{{"traceparent", kTp}, {"tracestate", "foo=1"}, {"tracestate", ""}})
                .trace_state.header(),
            "foo=1");
  EXPECT_EQ(extract(Headers{{"traceparent", kTp}, {"tracestate", ""}, {"tracestate", "foo=1"}})
                .trace_state.header(),
            "foo=1");
}

TEST(Extract, DuplicateKeysAcrossFieldsInvalidateTracestate) {
  EXPECT_TRUE(
      extract(Headers{{"traceparent", kTp}, {"tracestate", "foo=1"}, {"tracestate", "foo=2"}})
          .trace_state.empty());
}

TEST(Extract, MoreThan32MembersAcrossFieldsInvalidateTracestate) {
  Headers h{{"traceparent", kTp}};
  std::string part;
  for (int i = 1; i <= 33; ++i) {
    part += (part.empty() ? "" : ",") + std::string("bar") + std::to_string(i) + "=" +
            std::to_string(i);
    if (i % 10 == 0 || i == 33) {
      h.emplace_back("tracestate", part);
      part.clear();
    }
  }
  EXPECT_TRUE(extract(h).trace_state.empty());
  h.pop_back();
  h.emplace_back("tracestate", "bar31=31,bar32=32");
  EXPECT_EQ(extract(h).trace_state.size(), 32u);
}

TEST(Extract, AHugeTracestateIsDroppedNotKept) {
  Headers h{{"traceparent", kTp}};
  for (int i = 0; i < 200; ++i) h.emplace_back("tracestate", std::string(1000, ' '));
  const SpanContext ctx = extract(h);
  EXPECT_TRUE(ctx.valid());
  EXPECT_TRUE(ctx.trace_state.empty());
}

TEST(Extract, WorksOnMapsAndUnorderedMaps) {
  const std::map<std::string, std::string> m{{"traceparent", kTp}, {"tracestate", "a=1"}};
  EXPECT_EQ(extract(m).trace_state.header(), "a=1");
  const std::unordered_map<std::string, std::string> u{{"traceparent", kTp}};
  EXPECT_TRUE(extract(u).valid());
}

SpanContext sample_context() {
  SpanContext ctx = *parse_traceparent(kTp);
  ctx.trace_state = *TraceState::parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  return ctx;
}

TEST(Inject, WritesTraceparentAndTracestate) {
  Headers h{{"accept", "*/*"}};
  inject(sample_context(), h);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[1], (std::pair<std::string, std::string>{"traceparent", kTp}));
  EXPECT_EQ(h[2], (std::pair<std::string, std::string>{"tracestate",
                                                       "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}));
}

TEST(Inject, ReplacesExistingFieldsOfAnyCase) {
  Headers h{{"TraceParent", "stale"}, {"x", "y"}, {"TRACESTATE", "stale=1"}, {"tracestate", "s=2"}};
  inject(sample_context(), h);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].first, "x");
  EXPECT_EQ(extract(h), sample_context());
}

TEST(Inject, OmitsAnEmptyTracestate) {
  SpanContext ctx = *parse_traceparent(kTp);
  Headers h{{"tracestate", "stale=1"}};
  inject(ctx, h);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].first, "traceparent");
}

TEST(Inject, AnInvalidContextWritesNothing) {
  Headers h{{"traceparent", "keep"}};
  inject(SpanContext{}, h);
  EXPECT_EQ(h, (Headers{{"traceparent", "keep"}}));
}

TEST(Inject, IntoAMessageHeaderMapAndBack) {
  std::map<std::string, std::string> message{{"Traceparent", "stale"}, {"message-id", "m-1"}};
  inject(sample_context(), message);
  EXPECT_EQ(message.size(), 3u);
  EXPECT_EQ(message.at("traceparent"), kTp);
  EXPECT_EQ(message.count("Traceparent"), 0u);
  EXPECT_EQ(extract(message), sample_context());
}

TEST(Inject, WithAnyCallable) {
  std::vector<std::string> lines;
  inject(sample_context(), [&](std::string_view k, std::string_view v) {
    lines.push_back(std::string(k) + ": " + std::string(v));
  });
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], std::string("traceparent: ") + kTp);
}

TEST(RoundTrip, ClientSpanToServerSpanKeepsTheTraceAndParent) {
  auto exporter = std::make_shared<InMemorySpanExporter>();
  Tracer tracer{TracerOptions{.processor = std::make_shared<SimpleSpanProcessor>(exporter)}};
  Headers wire;
  SpanContext client_ctx;
  {
    ScopedSpan client(tracer, "GET /stock", {.kind = SpanKind::kClient});
    client_ctx = client.context();
    inject(client.context(), wire);
  }
  { ScopedSpan server(tracer, "GET /stock", {.kind = SpanKind::kServer, .parent = extract(wire)}); }
  const auto spans = exporter->spans();
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[1].trace_id(), client_ctx.trace_id);
  EXPECT_EQ(spans[1].parent_span_id(), client_ctx.span_id);
  EXPECT_TRUE(spans[1].parent_is_remote());
}

}  // namespace
}  // namespace firebreak
