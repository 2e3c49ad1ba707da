// Spans: parent selection, ids, sampling, recording (attributes inline and
// beyond, events, links, status), the current span per thread, explicit
// parents for async code, and the seam the log module reads.
#include <gtest/gtest.h>

#include <thread>

#include "firebreak/trace.h"
#include "log/trace_ids.h"

namespace firebreak {
namespace {

class SpanTest : public ::testing::Test {
 protected:
  std::shared_ptr<InMemorySpanExporter> exporter = std::make_shared<InMemorySpanExporter>();
  ManualClock clock;
  Tracer tracer{TracerOptions{.sampler = Sampler::parent_based(Sampler::always_on()),
                              .processor = std::make_shared<SimpleSpanProcessor>(exporter),
                              .clock = &clock}};

  SpanData only() {
    auto spans = exporter->spans();
    EXPECT_EQ(spans.size(), 1u);
    return spans.empty() ? SpanData() : spans[0];
  }
};

TEST_F(SpanTest, ARootSpanStartsANewTrace) {
  Span span = tracer.start_span("root");
  EXPECT_TRUE(span.context().valid());
  EXPECT_TRUE(span.context().sampled());
  EXPECT_FALSE(span.context().is_remote);
  EXPECT_TRUE(span.is_recording());
  span.end();
  const SpanData d = only();
  EXPECT_EQ(d.trace_id(), span.context().trace_id);
  EXPECT_EQ(d.span_id(), span.context().span_id);
  EXPECT_FALSE(d.parent_span_id().valid());
  EXPECT_EQ(d.name(), "root");
  EXPECT_EQ(d.kind(), SpanKind::kInternal);
}

TEST_F(SpanTest, TimesComeFromTheTracersClock) {
  const auto start = clock.wall_now();
  Span span = tracer.start_span("timed", {.kind = SpanKind::kServer});
  clock.advance(std::chrono::milliseconds(250));
  span.end();
  const SpanData d = only();
  EXPECT_EQ(d.start_time(), start);
  EXPECT_EQ(d.end_time() - d.start_time(), std::chrono::milliseconds(250));
  EXPECT_EQ(d.kind(), SpanKind::kServer);
}

TEST_F(SpanTest, ExplicitTimesAreKept) {
  const auto t0 = Clock::WallTime(std::chrono::seconds(1700000000));
  Span span = tracer.start_span("t", {.start_time = t0});
  span.end(t0 + std::chrono::microseconds(1500));
  const SpanData d = only();
  EXPECT_EQ(d.start_unix_nanos(), 1700000000LL * 1000000000LL);
  EXPECT_EQ(d.end_unix_nanos(), 1700000000LL * 1000000000LL + 1500000);
}

TEST_F(SpanTest, AnEndBeforeTheStartIsClampedToTheStart) {
  const auto t0 = Clock::WallTime(std::chrono::seconds(1700000000));
  Span span = tracer.start_span("t", {.start_time = t0});
  span.end(t0 - std::chrono::seconds(1));
  EXPECT_EQ(only().end_time(), t0);
}

TEST_F(SpanTest, EndIsIdempotentAndDestructionEnds) {
  {
    Span span = tracer.start_span("once");
    span.end();
    span.end();
  }
  EXPECT_EQ(exporter->spans().size(), 1u);
  { Span span = tracer.start_span("by destructor"); }
  EXPECT_EQ(exporter->spans().size(), 2u);
}

TEST_F(SpanTest, AMovedSpanEndsOnce) {
  Span a = tracer.start_span("moved");
  Span b = std::move(a);
  EXPECT_FALSE(a.is_recording());
  a.end();
  EXPECT_TRUE(exporter->spans().empty());
  b.set_attribute("k", 1);
  b.end();
  ASSERT_EQ(exporter->spans().size(), 1u);
  EXPECT_EQ(exporter->spans()[0].name(), "moved");
  EXPECT_EQ(exporter->spans()[0].find_attribute("k"), AttributeValue(1));
}

TEST_F(SpanTest, AttributesOfEachType) {
  Span span = tracer.start_span("attrs");
  span.set_attribute("s", "text")
      .set_attribute("sv", std::string_view("view"))
      .set_attribute("str", std::string("owned"))
      .set_attribute("i", 42)
      .set_attribute("i64", std::int64_t{-9000000000})
      .set_attribute("u", 7u)
      .set_attribute("d", 2.5)
      .set_attribute("b", true);
  span.end();
  const SpanData d = only();
  ASSERT_EQ(d.attribute_count(), 8u);
  EXPECT_EQ(d.attribute(0).key, "s");
  EXPECT_EQ(d.attribute(0).value.type(), AttributeValue::Type::kString);
  EXPECT_EQ(d.attribute(0).value.as_string(), "text");
  EXPECT_EQ(d.find_attribute("sv")->as_string(), "view");
  EXPECT_EQ(d.find_attribute("str")->as_string(), "owned");
  EXPECT_EQ(d.find_attribute("i")->as_int(), 42);
  EXPECT_EQ(d.find_attribute("i64")->as_int(), -9000000000);
  EXPECT_EQ(d.find_attribute("u")->as_int(), 7);
  EXPECT_EQ(d.find_attribute("d")->type(), AttributeValue::Type::kDouble);
  EXPECT_EQ(d.find_attribute("d")->as_double(), 2.5);
  EXPECT_EQ(d.find_attribute("b")->type(), AttributeValue::Type::kBool);
  EXPECT_TRUE(d.find_attribute("b")->as_bool());
}

TEST_F(SpanTest, SettingAKeyAgainReplacesItsValue) {
  Span span = tracer.start_span("replace");
  span.set_attribute("k", "first").set_attribute("n", 1);
  span.set_attribute("k", 2.0).set_attribute("n", "now a string");
  span.end();
  const SpanData d = only();
  ASSERT_EQ(d.attribute_count(), 2u);
  EXPECT_EQ(d.find_attribute("k"), AttributeValue(2.0));
  EXPECT_EQ(d.find_attribute("n"), AttributeValue("now a string"));
}

TEST_F(SpanTest, StringsAreCopiedWhenSet) {
  Span span = tracer.start_span("copies");
  {
    std::string temporary = "temporary value";
    std::string key = "temporary.key";
    span.set_attribute(key, temporary);
    temporary.assign(temporary.size(), 'X');
    key.assign(key.size(), 'Y');
  }
  span.end();
  EXPECT_EQ(only().find_attribute("temporary.key"), AttributeValue("temporary value"));
}

TEST_F(SpanTest, MoreAttributesThanFitInlineAreKept) {
  Span span = tracer.start_span("many");
  for (int i = 0; i < 20; ++i) span.set_attribute("key" + std::to_string(i), i);
  span.set_attribute("key3", "replaced inline");
  span.set_attribute("key15", "replaced beyond");
  span.end();
  const SpanData d = only();
  ASSERT_EQ(d.attribute_count(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(d.attribute(i).key, "key" + std::to_string(i));
  EXPECT_EQ(d.find_attribute("key3"), AttributeValue("replaced inline"));
  EXPECT_EQ(d.find_attribute("key15"), AttributeValue("replaced beyond"));
  EXPECT_EQ(d.find_attribute("key19"), AttributeValue(19));
  EXPECT_EQ(d.dropped_attributes(), 0u);
}

TEST_F(SpanTest, LongStringsSpillOutOfTheInlineStorage) {
  const std::string name(300, 'n');
  const std::string big(1000, 'v');
  Span span = tracer.start_span(name);
  span.set_attribute("small", "fits");
  span.set_attribute("big", big);
  span.set_attribute(std::string(200, 'k'), "long key");
  span.set_status(StatusCode::kError, std::string(500, 'e'));
  span.end();
  const SpanData d = only();
  EXPECT_EQ(d.name(), name);
  EXPECT_EQ(d.find_attribute("small"), AttributeValue("fits"));
  EXPECT_EQ(d.find_attribute("big")->as_string(), big);
  EXPECT_EQ(d.find_attribute(std::string(200, 'k')), AttributeValue("long key"));
  EXPECT_EQ(d.status_message(), std::string(500, 'e'));
  // And survive copies and moves.
  SpanData copy = d;
  SpanData moved = std::move(copy);
  EXPECT_EQ(moved.find_attribute("big")->as_string(), big);
  EXPECT_EQ(moved.name(), name);
}

TEST_F(SpanTest, AttributesBeyondTheLimitAreDroppedAndCounted) {
  Tracer limited{TracerOptions{.processor = std::make_shared<SimpleSpanProcessor>(exporter),
                               .limits = {.max_attributes = 3, .max_events = 1, .max_links = 1},
                               .clock = &clock}};
  Span span = limited.start_span("limited");
  for (int i = 0; i < 5; ++i) span.set_attribute("k" + std::to_string(i), i);
  span.set_attribute("k1", "still replaceable");
  span.add_event("e1").add_event("e2").add_event("e3");
  span.add_link(tracer.start_span("a").context()).add_link(tracer.start_span("b").context());
  span.end();
  const auto spans = exporter->spans();
  const SpanData& d = spans.back();
  EXPECT_EQ(d.attribute_count(), 3u);
  EXPECT_EQ(d.dropped_attributes(), 2u);
  EXPECT_EQ(d.find_attribute("k1"), AttributeValue("still replaceable"));
  EXPECT_EQ(d.events().size(), 1u);
  EXPECT_EQ(d.dropped_events(), 2u);
  EXPECT_EQ(d.links().size(), 1u);
  EXPECT_EQ(d.dropped_links(), 1u);
}

TEST_F(SpanTest, EventsCarryTimeNameAndAttributes) {
  Span span = tracer.start_span("events");
  clock.advance(std::chrono::milliseconds(5));
  span.add_event("retry", {{"attempt", 2}, {"reason", "timeout"}});
  const auto at = Clock::WallTime(std::chrono::seconds(1800000000));
  span.add_event("explicit", at);
  span.end();
  const SpanData d = only();
  ASSERT_EQ(d.events().size(), 2u);
  EXPECT_EQ(d.events()[0].name, "retry");
  EXPECT_EQ(d.events()[0].time, d.start_time() + std::chrono::milliseconds(5));
  ASSERT_EQ(d.events()[0].attributes.size(), 2u);
  EXPECT_EQ(d.events()[0].attributes[0].key, "attempt");
  EXPECT_EQ(d.events()[0].attributes[0].view(), AttributeValue(2));
  EXPECT_EQ(d.events()[0].attributes[1].view(), AttributeValue("timeout"));
  EXPECT_EQ(d.events()[1].time, at);
}

TEST_F(SpanTest, AConsumerSpanLinksToTheProducersContext) {
  Span producer = tracer.start_span("publish", {.kind = SpanKind::kProducer});
  std::map<std::string, std::string> message_headers;
  inject(producer.context(), message_headers);
  producer.end();

  const SpanContext remote = extract(message_headers);
  Span consumer =
      tracer.start_span("process", {.kind = SpanKind::kConsumer, .parent = SpanContext{}});
  consumer.add_link(remote, {{"messaging.operation", "process"}});
  consumer.end();

  const auto spans = exporter->spans();
  ASSERT_EQ(spans.size(), 2u);
  const SpanData& c = spans[1];
  EXPECT_NE(c.trace_id(), producer.context().trace_id);  // a new trace
  ASSERT_EQ(c.links().size(), 1u);
  EXPECT_EQ(c.links()[0].context.trace_id, producer.context().trace_id);
  EXPECT_EQ(c.links()[0].context.span_id, producer.context().span_id);
  EXPECT_TRUE(c.links()[0].context.is_remote);
  EXPECT_EQ(c.links()[0].attributes[0].key, "messaging.operation");
}

TEST_F(SpanTest, InvalidLinksAreIgnored) {
  Span span = tracer.start_span("s");
  span.add_link(SpanContext{});
  span.end();
  EXPECT_TRUE(only().links().empty());
}

TEST_F(SpanTest, StatusFollowsOpenTelemetryRules) {
  {
    Span s = tracer.start_span("error");
    s.set_status(StatusCode::kError, "db timeout");
    s.set_status(StatusCode::kUnset);  // ignored
    s.end();
  }
  {
    Span s = tracer.start_span("ok is final");
    s.set_status(StatusCode::kOk, "ignored message");
    s.set_status(StatusCode::kError, "too late");
    s.end();
  }
  { Span s = tracer.start_span("unset"); }
  const auto spans = exporter->spans();
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].status_code(), StatusCode::kError);
  EXPECT_EQ(spans[0].status_message(), "db timeout");
  EXPECT_EQ(spans[1].status_code(), StatusCode::kOk);
  EXPECT_EQ(spans[1].status_message(), "");
  EXPECT_EQ(spans[2].status_code(), StatusCode::kUnset);
}

TEST_F(SpanTest, SetNameRenames) {
  Span s = tracer.start_span("GET");
  s.set_name("GET /orders/{id}");
  s.end();
  EXPECT_EQ(only().name(), "GET /orders/{id}");
}

TEST_F(SpanTest, ScopedSpanIsTheParentOfSpansStartedInItsScope) {
  SpanContext outer_ctx, inner_ctx;
  {
    ScopedSpan outer(tracer, "outer");
    outer_ctx = outer.context();
    EXPECT_EQ(current_span_context(), outer_ctx);
    {
      ScopedSpan inner(tracer, "inner");
      inner_ctx = inner.context();
      EXPECT_EQ(current_span_context(), inner_ctx);
    }
    EXPECT_EQ(current_span_context(), outer_ctx);
  }
  EXPECT_FALSE(current_span_context().valid());
  const auto spans = exporter->spans();
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].name(), "inner");
  EXPECT_EQ(spans[0].trace_id(), outer_ctx.trace_id);
  EXPECT_EQ(spans[0].parent_span_id(), outer_ctx.span_id);
  EXPECT_FALSE(spans[0].parent_is_remote());
  EXPECT_EQ(spans[1].name(), "outer");
  EXPECT_FALSE(spans[1].parent_span_id().valid());
}

TEST_F(SpanTest, AnExplicitParentWinsOverTheCurrentSpan) {
  Span other = tracer.start_span("elsewhere");
  ScopedSpan current(tracer, "current");
  Span child = tracer.start_span("child", {.parent = other.context()});
  EXPECT_EQ(child.context().trace_id, other.context().trace_id);
  child.end();
  EXPECT_EQ(exporter->spans().back().parent_span_id(), other.context().span_id);
  // An invalid explicit parent starts a new trace even inside a scope.
  Span root = tracer.start_span("root", {.parent = SpanContext{}});
  EXPECT_NE(root.context().trace_id, current.context().trace_id);
}

TEST_F(SpanTest, ContextCrossesThreadsExplicitly) {
  ScopedSpan request(tracer, "request");
  const SpanContext handoff = request.context();
  SpanContext seen_before, seen_inside;
  std::thread worker([&] {
    seen_before = current_span_context();  // nothing is current on a new thread
    SpanScope scope(handoff);
    seen_inside = current_span_context();
    Span work = tracer.start_span("async work");
    work.end();
  });
  worker.join();
  EXPECT_FALSE(seen_before.valid());
  EXPECT_EQ(seen_inside, handoff);
  const auto spans = exporter->spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].trace_id(), handoff.trace_id);
  EXPECT_EQ(spans[0].parent_span_id(), handoff.span_id);
}

TEST_F(SpanTest, ARemoteParentIsRecordedAsRemote) {
  const auto remote = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  Span span = tracer.start_span("server", {.kind = SpanKind::kServer, .parent = remote});
  span.end();
  const SpanData d = only();
  EXPECT_EQ(d.trace_id(), remote->trace_id);
  EXPECT_EQ(d.parent_span_id(), remote->span_id);
  EXPECT_NE(d.span_id(), remote->span_id);
  EXPECT_TRUE(d.parent_is_remote());
  EXPECT_EQ(d.trace_flags(), kTraceFlagSampled);
}

TEST_F(SpanTest, TracestateIsInheritedFromTheParent) {
  SpanContext remote =
      *parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  remote.trace_state = *TraceState::parse("congo=t61rcWkgMzE");
  Span server = tracer.start_span("server", {.parent = remote});
  EXPECT_EQ(server.context().trace_state.header(), "congo=t61rcWkgMzE");
  {
    SpanScope scope(server);
    EXPECT_EQ(current_span_context().trace_state.header(), "congo=t61rcWkgMzE");
    Span child = tracer.start_span("child");
    EXPECT_EQ(child.context().trace_state.header(), "congo=t61rcWkgMzE");
  }
  server.end();
  EXPECT_EQ(exporter->spans().back().trace_state().header(), "congo=t61rcWkgMzE");
}

TEST(SpanSampling, AnUnsampledSpanPropagatesButRecordsNothing) {
  auto exporter = std::make_shared<InMemorySpanExporter>();
  Tracer tracer{TracerOptions{.sampler = Sampler::parent_based(Sampler::always_on()),
                              .processor = std::make_shared<SimpleSpanProcessor>(exporter)}};
  const auto parent = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  Span span = tracer.start_span("unsampled", {.parent = parent});
  EXPECT_FALSE(span.is_recording());
  EXPECT_TRUE(span.context().valid());
  EXPECT_EQ(span.context().trace_id, parent->trace_id);  // the parent's trace id
  EXPECT_NE(span.context().span_id, parent->span_id);    // a new span id
  EXPECT_EQ(span.context().trace_flags, 0);              // flags 00
  span.set_attribute("ignored", 1).add_event("ignored").set_status(StatusCode::kError, "x");
  span.end();
  EXPECT_TRUE(exporter->spans().empty());
}

TEST(SpanSampling, WithoutAProcessorSpansPropagateTheSamplersDecision) {
  Tracer tracer{TracerOptions{}};
  Span root = tracer.start_span("root");
  EXPECT_FALSE(root.is_recording());
  EXPECT_TRUE(root.context().valid());
  EXPECT_TRUE(root.context().sampled());
  Span child = tracer.start_span("child", {.parent = root.context()});
  EXPECT_EQ(child.context().trace_id, root.context().trace_id);
}

TEST(SpanSampling, AlwaysOffStillGivesEachSpanItsOwnId) {
  Tracer tracer{TracerOptions{.sampler = Sampler::always_off()}};
  Span a = tracer.start_span("a");
  Span b = tracer.start_span("b", {.parent = a.context()});
  EXPECT_TRUE(a.context().valid());
  EXPECT_FALSE(a.context().sampled());
  EXPECT_EQ(b.context().trace_id, a.context().trace_id);
  EXPECT_NE(b.context().span_id, a.context().span_id);
}

TEST(SpanSampling, GlobalTracerIsUsableBeforeInit) {
  ScopedSpan span("before init");
  EXPECT_TRUE(span.context().valid());
  EXPECT_EQ(current_span_context().span_id, span.context().span_id);
}

TEST(LogSeam, CurrentTraceIdsAreWrittenInLowercaseHex) {
  detail::TraceIdsHex ids{};
  EXPECT_FALSE(detail::current_trace_ids(ids));
  SpanContext ctx = *parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  {
    SpanScope scope(ctx);
    ASSERT_TRUE(detail::current_trace_ids(ids));
    EXPECT_EQ(std::string(ids.trace_id, 32), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(std::string(ids.span_id, 16), "00f067aa0ba902b7");
    EXPECT_EQ(std::string(ids.flags, 2), "01");
  }
  EXPECT_FALSE(detail::current_trace_ids(ids));
}

}  // namespace
}  // namespace firebreak
