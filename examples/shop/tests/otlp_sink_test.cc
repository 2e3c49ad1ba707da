// The benchmark's OTLP receiver (bench/otlp_sink.h): its span count is exact,
// whatever way the body is split, and it answers what the exporter sends.
#include "otlp_sink.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "firebreak/http_client.h"
#include "firebreak/trace.h"

namespace {

std::uint64_t naive_count(std::string_view s) {
  std::uint64_t n = 0;
  for (auto pos = s.find(bench::SpanIdCounter::kNeedle); pos != std::string_view::npos;
       pos = s.find(bench::SpanIdCounter::kNeedle, pos + 1))
    ++n;
  return n;
}

TEST(SpanIdCounterTest, CountsSpanIdsButNotParentSpanIds) {
  bench::SpanIdCounter c;
  c.feed(R"({"spans":[{"spanId":"01","parentSpanId":"02"},{"spanId":"03"}]})");
  EXPECT_EQ(c.count(), 2u);
}

TEST(SpanIdCounterTest, CountsMatchesSplitAtEveryPointAndInTinyPieces) {
  const std::string body =
      R"({"spanId":"a"}"spanId":"spanId":x"spanId""spanId":{"parentSpanId":"b","spanId":1})";
  const std::uint64_t want = naive_count(body);
  ASSERT_EQ(want, 5u);
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    bench::SpanIdCounter c;
    c.feed(std::string_view(body).substr(0, cut));
    c.feed(std::string_view(body).substr(cut));
    EXPECT_EQ(c.count(), want) << "cut at " << cut;
  }
  for (std::size_t step = 1; step <= 11; ++step) {
    bench::SpanIdCounter c;
    for (std::size_t i = 0; i < body.size(); i += step)
      c.feed(std::string_view(body).substr(i, step));
    EXPECT_EQ(c.count(), want) << "pieces of " << step;
  }
}

TEST(OtlpSinkTest, CountsEverySpanTheOtlpExporterSends) {
  bench::OtlpSink sink("127.0.0.1:0");
  sink.start();
  firebreak::OtlpHttpExporter exporter(
      {.endpoint = "http://" + sink.address() + "/v1/traces", .resource = {{"service.name", "t"}}});
  auto memory = std::make_shared<firebreak::InMemorySpanExporter>();
  {
    firebreak::Tracer tracer{firebreak::TracerOptions{
        .processor = std::make_shared<firebreak::SimpleSpanProcessor>(memory)}};
    for (int i = 0; i < 3000; ++i) {
      auto span = tracer.start_span("GET /orders/{id}");
      span.set_attribute("http.route", "/orders/{id}");
      span.end();
    }
  }
  const std::vector<firebreak::SpanData> spans = memory->spans();
  ASSERT_EQ(spans.size(), 3000u);
  // Batches large enough to arrive in many TCP segments, and a small one.
  std::size_t sent = 0;
  for (const std::size_t n : {2048, 1, 951}) {
    const auto r = exporter.export_spans(std::span(spans).subspan(sent, n));
    ASSERT_EQ(r.status, firebreak::ExportResult::Status::kSuccess) << r.error;
    sent += n;
  }
  const bench::OtlpSinkStats s = sink.stats();
  EXPECT_EQ(s.requests, 3u);
  EXPECT_EQ(s.spans, 3000u);
  EXPECT_GT(s.bytes, 3000u * 100);

  firebreak::HttpClient client;
  const auto stats = client.get("http://" + sink.address() + "/stats");
  EXPECT_EQ(stats.status, 200);
  EXPECT_NE(stats.body.find("\"spans\":3000"), std::string::npos) << stats.body;
  EXPECT_EQ(client.get("http://" + sink.address() + "/nope").status, 404);
  sink.stop();
}

TEST(OtlpSinkTest, ManyExportsOnOneConnectionAreAllAnsweredPromptly) {
  // Bodies of every size from one segment to many, back to back on the kept
  // connection: a read that waited for bytes not coming would time out here.
  bench::OtlpSink sink("127.0.0.1:0");
  sink.start();
  firebreak::OtlpHttpExporter exporter({.endpoint = "http://" + sink.address() + "/v1/traces",
                                        .timeout = std::chrono::milliseconds(2000)});
  auto memory = std::make_shared<firebreak::InMemorySpanExporter>();
  {
    firebreak::Tracer tracer{firebreak::TracerOptions{
        .processor = std::make_shared<firebreak::SimpleSpanProcessor>(memory)}};
    for (int i = 0; i < 1024; ++i) {
      auto span = tracer.start_span("GET /orders/{id}");
      span.set_attribute("http.route", "/orders/{id}");
      span.end();
    }
  }
  const std::vector<firebreak::SpanData> spans = memory->spans();
  std::uint64_t want = 0;
  for (std::size_t n = 1; n <= spans.size(); n = n * 3 / 2 + 1) {
    for (int repeat = 0; repeat < 3; ++repeat) {
      const auto r = exporter.export_spans(std::span(spans).first(n));
      ASSERT_EQ(r.status, firebreak::ExportResult::Status::kSuccess) << n << ": " << r.error;
      want += n;
    }
  }
  EXPECT_EQ(sink.stats().spans, want);
  sink.stop();
}

}  // namespace
