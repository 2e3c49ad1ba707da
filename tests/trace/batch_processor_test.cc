// The batch processor: schedule (moved by a ManualClock), batch size, a full
// queue dropping and counting, retries with backoff on retryable failures,
// giving up, flush and shutdown, metrics; and the background thread.
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <thread>

#include "firebreak/exposition.h"
#include "firebreak/metrics.h"
#include "firebreak/trace.h"

namespace firebreak {
namespace {

using std::chrono::milliseconds;
using Status = ExportResult::Status;

// Records each batch; answers with scripted results (then success).
class ScriptedExporter : public SpanExporter {
 public:
  ExportResult export_spans(std::span<const SpanData> spans) override {
    std::lock_guard lock(mu);
    std::vector<std::string> names;
    for (const auto& s : spans) names.emplace_back(s.name());
    batches.push_back(std::move(names));
    if (script.empty()) return {};
    ExportResult r = script.front();
    script.pop_front();
    return r;
  }
  void shutdown() override { shut_down = true; }

  std::size_t calls() {
    std::lock_guard lock(mu);
    return batches.size();
  }

  std::mutex mu;
  std::deque<ExportResult> script;
  std::vector<std::vector<std::string>> batches;
  std::atomic<bool> shut_down{false};
};

class BatchTest : public ::testing::Test {
 protected:
  ManualClock clock;
  Registry registry;
  std::shared_ptr<ScriptedExporter> exporter = std::make_shared<ScriptedExporter>();

  std::shared_ptr<BatchSpanProcessor> make(BatchOptions o) {
    o.clock = &clock;
    o.registry = &registry;
    o.background_thread = false;
    return std::make_shared<BatchSpanProcessor>(exporter, o);
  }
  void end_spans(Tracer& tracer, int n, const std::string& prefix = "s") {
    for (int i = 0; i < n; ++i) tracer.start_span(prefix + std::to_string(i)).end();
  }
  double metric(const std::string& name) {
    for (const auto& f : registry.collect()) {
      if (f.name == name && !f.points.empty()) return f.points[0].value;
    }
    return -1;
  }
};

TEST_F(BatchTest, NothingIsExportedBeforeTheScheduleDelay) {
  auto p = make({.max_export_batch_size = 10, .schedule_delay = milliseconds(5000)});
  Tracer tracer{TracerOptions{.processor = p}};
  end_spans(tracer, 3);
  p->tick();
  EXPECT_EQ(exporter->calls(), 0u);
  EXPECT_EQ(p->queued(), 3u);
  clock.advance(milliseconds(4999));
  p->tick();
  EXPECT_EQ(exporter->calls(), 0u);
  clock.advance(milliseconds(1));
  p->tick();
  ASSERT_EQ(exporter->calls(), 1u);
  EXPECT_EQ(exporter->batches[0], (std::vector<std::string>{"s0", "s1", "s2"}));
  EXPECT_EQ(p->exported(), 3u);
  EXPECT_EQ(p->queued(), 0u);
}

TEST_F(BatchTest, AFullBatchGoesWithoutWaiting) {
  auto p = make({.max_export_batch_size = 4});
  Tracer tracer{TracerOptions{.processor = p}};
  end_spans(tracer, 10);
  p->tick();  // no time has passed: only full batches go
  ASSERT_EQ(exporter->calls(), 2u);
  EXPECT_EQ(exporter->batches[0].size(), 4u);
  EXPECT_EQ(exporter->batches[1].size(), 4u);
  EXPECT_EQ(p->queued(), 2u);
  clock.advance(milliseconds(5000));
  p->tick();
  ASSERT_EQ(exporter->calls(), 3u);
  EXPECT_EQ(exporter->batches[2], (std::vector<std::string>{"s8", "s9"}));
  EXPECT_EQ(p->exported(), 10u);
}

TEST_F(BatchTest, AFullQueueDropsAndCounts) {
  auto p = make({.max_queue_size = 8, .max_export_batch_size = 8});
  Tracer tracer{TracerOptions{.processor = p}};
  end_spans(tracer, 11);
  EXPECT_EQ(p->queued(), 8u);
  EXPECT_EQ(p->dropped(), 3u);
  EXPECT_EQ(metric("trace_spans_dropped"), 3);
  p->tick();
  EXPECT_EQ(p->exported(), 8u);
  EXPECT_EQ(metric("trace_spans_exported"), 8);
  // The first 8 were kept: a full queue drops the newest.
  EXPECT_EQ(exporter->batches[0].front(), "s0");
  EXPECT_EQ(exporter->batches[0].back(), "s7");
  // Room again.
  end_spans(tracer, 2, "late");
  EXPECT_EQ(p->queued(), 2u);
}

TEST_F(BatchTest, QueueSizeIsRoundedUpToAPowerOfTwo) {
  auto p = make({.max_queue_size = 5, .max_export_batch_size = 100});
  Tracer tracer{TracerOptions{.processor = p}};
  end_spans(tracer, 10);
  EXPECT_EQ(p->queued(), 8u);
  EXPECT_EQ(p->dropped(), 2u);
}

TEST_F(BatchTest, RetriesA503AfterBackoffThenSucceeds) {
  exporter->script = {{Status::kRetryable, {}, "HTTP 503"}};
  auto p = make({.max_export_batch_size = 3,
                 .initial_backoff = milliseconds(1000),
                 .max_backoff = milliseconds(30000)});
  Tracer tracer{TracerOptions{.processor = p}};
  end_spans(tracer, 3);
  p->tick();
  EXPECT_EQ(exporter->calls(), 1u);
  EXPECT_EQ(p->exported(), 0u);
  p->tick();  // backoff not over: no new attempt
  EXPECT_EQ(exporter->calls(), 1u);
  clock.advance(milliseconds(1000));  // the longest first backoff (jitter within [500, 1000])
  p->tick();
  ASSERT_EQ(exporter->calls(), 2u);
  EXPECT_EQ(exporter->batches[1], exporter->batches[0]);  // the same batch again
  EXPECT_EQ(p->exported(), 3u);
  EXPECT_EQ(p->dropped(), 0u);
  EXPECT_EQ(metric("trace_spans_exported"), 3);
}

TEST_F(BatchTest, BackoffWaitsAtLeastHalfTheBaseAndDoubles) {
  exporter->script = {{Status::kRetryable}, {Status::kRetryable}, {Status::kRetryable}};
  auto p = make({.max_export_batch_size = 1,
                 .max_attempts = 10,
                 .initial_backoff = milliseconds(1000),
                 .max_backoff = milliseconds(60000)});
  Tracer tracer{TracerOptions{.processor = p}};
  end_spans(tracer, 1);
  p->tick();
  ASSERT_EQ(exporter->calls(), 1u);
  clock.advance(milliseconds(499));  // under half of 1 s: never due yet
  p->tick();
  EXPECT_EQ(exporter->calls(), 1u);
  clock.advance(milliseconds(501));
  p->tick();
  ASSERT_EQ(exporter->calls(), 2u);
  clock.advance(milliseconds(999));  // second backoff: base 2 s, so at least 1 s
  p->tick();
  EXPECT_EQ(exporter->calls(), 2u);
  clock.advance(milliseconds(1001));
  p->tick();
  ASSERT_EQ(exporter->calls(), 3u);
  clock.advance(milliseconds(4000));  // third: base 4 s
  p->tick();
  EXPECT_EQ(exporter->calls(), 4u);
  EXPECT_EQ(p->exported(), 1u);
}

TEST_F(BatchTest, RetryAfterFromTheReceiverIsHonoured) {
  exporter->script = {{Status::kRetryable, milliseconds(7000), "HTTP 429"}};
  auto p = make({.max_export_batch_size = 1, .initial_backoff = milliseconds(100)});
  Tracer tracer{TracerOptions{.processor = p}};
  end_spans(tracer, 1);
  p->tick();
  clock.advance(milliseconds(6999));
  p->tick();
  EXPECT_EQ(exporter->calls(), 1u);
  clock.advance(milliseconds(1));
  p->tick();
  EXPECT_EQ(exporter->calls(), 2u);
  EXPECT_EQ(p->exported(), 1u);
}

TEST_F(BatchTest, GivesUpAfterMaxAttemptsAndCountsTheDrop) {
  for (int i = 0; i < 10; ++i) exporter->script.push_back({Status::kRetryable});
  auto p = make({.max_export_batch_size = 2,
                 .max_attempts = 3,
                 .initial_backoff = milliseconds(10),
                 .max_backoff = milliseconds(10)});
  Tracer tracer{TracerOptions{.processor = p}};
  end_spans(tracer, 2);
  for (int i = 0; i < 10; ++i) {
    p->tick();
    clock.advance(milliseconds(10));
  }
  EXPECT_EQ(exporter->calls(), 3u);
  EXPECT_EQ(p->dropped(), 2u);
  EXPECT_EQ(p->exported(), 0u);
  EXPECT_EQ(metric("trace_spans_dropped"), 2);
}

TEST_F(BatchTest, GivesUpWhenTheExportTimeoutWouldPass) {
  for (int i = 0; i < 10; ++i) exporter->script.push_back({Status::kRetryable});
  auto p = make({.max_export_batch_size = 1,
                 .export_timeout = milliseconds(3000),
                 .max_attempts = 100,
                 .initial_backoff = milliseconds(1000),
                 .max_backoff = milliseconds(1000)});
  Tracer tracer{TracerOptions{.processor = p}};
  end_spans(tracer, 1);
  for (int i = 0; i < 20; ++i) {
    p->tick();
    clock.advance(milliseconds(500));
  }
  EXPECT_LE(exporter->calls(), 7u);
  EXPECT_EQ(p->dropped(), 1u);
}

TEST_F(BatchTest, ANonRetryableFailureDropsTheBatchAtOnce) {
  exporter->script = {{Status::kFailed, {}, "HTTP 400"}};
  auto p = make({.max_export_batch_size = 2});
  Tracer tracer{TracerOptions{.processor = p}};
  end_spans(tracer, 4);
  p->tick();
  EXPECT_EQ(exporter->calls(), 2u);  // the second batch goes on
  EXPECT_EQ(p->dropped(), 2u);
  EXPECT_EQ(p->exported(), 2u);
}

TEST_F(BatchTest, AnExporterThatThrowsFailsTheBatch) {
  class Throwing : public SpanExporter {
   public:
    ExportResult export_spans(std::span<const SpanData>) override {
      throw std::runtime_error("boom");
    }
  };
  BatchSpanProcessor p(std::make_shared<Throwing>(),
                       {.max_export_batch_size = 1, .clock = &clock, .background_thread = false});
  Tracer tracer{TracerOptions{.processor = std::shared_ptr<SpanProcessor>(&p, [](auto*) {})}};
  end_spans(tracer, 1);
  p.tick();
  EXPECT_EQ(p.dropped(), 1u);
}

TEST_F(BatchTest, ShutdownExportsWhatIsQueuedAndStopsAccepting) {
  auto p = make({.max_export_batch_size = 100, .schedule_delay = milliseconds(60000)});
  Tracer tracer{TracerOptions{.processor = p}};
  end_spans(tracer, 5);
  p->shutdown();
  ASSERT_EQ(exporter->calls(), 1u);
  EXPECT_EQ(exporter->batches[0].size(), 5u);
  EXPECT_EQ(p->exported(), 5u);
  EXPECT_TRUE(exporter->shut_down);
  end_spans(tracer, 2, "after");
  EXPECT_EQ(p->dropped(), 2u);
  EXPECT_EQ(exporter->calls(), 1u);
  p->shutdown();  // idempotent
}

TEST_F(BatchTest, ShutdownRetriesAndThenCountsWhatCouldNotGo) {
  for (int i = 0; i < 10; ++i) exporter->script.push_back({Status::kRetryable});
  auto p = make({.max_export_batch_size = 100, .max_attempts = 3});
  Tracer tracer{TracerOptions{.processor = p}};
  end_spans(tracer, 4);
  p->shutdown();
  EXPECT_EQ(exporter->calls(), 3u);
  EXPECT_EQ(p->dropped(), 4u);
}

TEST_F(BatchTest, ForceFlushExportsPartialBatches) {
  auto p = make({.max_export_batch_size = 3});
  Tracer tracer{TracerOptions{.processor = p}};
  end_spans(tracer, 7);
  EXPECT_TRUE(p->force_flush(milliseconds(1000)));
  EXPECT_EQ(exporter->calls(), 3u);
  EXPECT_EQ(p->exported(), 7u);
  EXPECT_TRUE(tracer.force_flush());
}

TEST(BatchThread, ExportsInTheBackgroundAndFlushes) {
  auto exporter = std::make_shared<ScriptedExporter>();
  Registry registry;
  auto p = std::make_shared<BatchSpanProcessor>(exporter,
                                                BatchOptions{.max_export_batch_size = 64,
                                                             .schedule_delay = milliseconds(60000),
                                                             .registry = &registry});
  Tracer tracer{TracerOptions{.processor = p}};
  for (int i = 0; i < 1000; ++i) tracer.start_span("bg").end();
  ASSERT_TRUE(p->force_flush(std::chrono::seconds(10)));
  EXPECT_EQ(p->exported() + p->dropped(), 1000u);
  EXPECT_EQ(p->dropped(), 0u);
  std::size_t total = 0;
  for (const auto& b : exporter->batches) {
    EXPECT_LE(b.size(), 64u);
    total += b.size();
  }
  EXPECT_EQ(total, 1000u);
}

TEST(BatchThread, ManyThreadsEndingSpansLoseNothingButCountedDrops) {
  auto exporter = std::make_shared<ScriptedExporter>();
  auto p = std::make_shared<BatchSpanProcessor>(
      exporter,
      BatchOptions{
          .max_queue_size = 256, .max_export_batch_size = 32, .schedule_delay = milliseconds(1)});
  Tracer tracer{TracerOptions{.processor = p}};
  constexpr int kThreads = 4, kPerThread = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        Span s = tracer.start_span("concurrent");
        s.set_attribute("i", i);
      }
    });
  }
  for (auto& th : threads) th.join();
  p->shutdown();
  std::size_t total = 0;
  for (const auto& b : exporter->batches) total += b.size();
  EXPECT_EQ(total, p->exported());
  EXPECT_EQ(p->exported() + p->dropped(), static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_GT(p->exported(), 0u);
}

TEST(BatchThread, RetriesInTheBackground) {
  auto exporter = std::make_shared<ScriptedExporter>();
  exporter->script = {{Status::kRetryable}, {Status::kRetryable}};
  auto p = std::make_shared<BatchSpanProcessor>(exporter,
                                                BatchOptions{.max_export_batch_size = 10,
                                                             .schedule_delay = milliseconds(1),
                                                             .initial_backoff = milliseconds(2),
                                                             .max_backoff = milliseconds(4)});
  Tracer tracer{TracerOptions{.processor = p}};
  for (int i = 0; i < 5; ++i) tracer.start_span("r").end();
  ASSERT_TRUE(p->force_flush(std::chrono::seconds(10)));
  EXPECT_EQ(p->exported(), 5u);
  EXPECT_EQ(exporter->calls(), 3u);
}

}  // namespace
}  // namespace firebreak
