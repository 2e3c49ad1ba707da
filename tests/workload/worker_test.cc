#include "firebreak/workload/worker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "workload/support.h"

namespace firebreak {
namespace {

using namespace std::chrono_literals;
using test::count_of;
using test::value_of;

constexpr std::string_view kDuration = "messaging_process_duration_seconds";
constexpr std::string_view kHeartbeat = "worker_heartbeat_timestamp_seconds";
constexpr std::string_view kLastSuccess = "worker_last_success_timestamp_seconds";
constexpr std::string_view kActive = "worker_active_messages";

std::map<std::string, std::string> q(const std::string& queue) {
  return {{"messaging_destination_name", queue}};
}
std::map<std::string, std::string> q(const std::string& queue, const std::string& outcome) {
  return {{"messaging_destination_name", queue}, {"outcome", outcome}};
}

class WorkerObserverTest : public ::testing::Test {
 protected:
  test::TempDir dir_;
  ManualClock clock_;
  test::LogCapture logs_{dir_.path(), &clock_};
  test::MemoryTracer tracing_;
  Registry registry_;
  const double t0_ = clock_.wall_seconds();
  WorkerObserver worker_{registry_, {.clock = &clock_, .tracer = &tracing_.tracer}};
  std::map<std::string, std::string> headers_;
};

TEST_F(WorkerObserverTest, HeartbeatMovesOnlyTheHeartbeat) {
  EXPECT_EQ(value_of(registry_, kHeartbeat), t0_);  // creation time until the first turn
  worker_.watch_queue("orders", [] { return QueueStats{}; });
  clock_.advance(40s);
  worker_.heartbeat();
  clock_.advance(40s);
  worker_.heartbeat();
  EXPECT_EQ(value_of(registry_, kHeartbeat), t0_ + 80);
  // Turning without finishing a message is not progress.
  EXPECT_EQ(value_of(registry_, kLastSuccess, q("orders")), t0_);
  EXPECT_EQ(count_of(registry_, kDuration, q("orders", "ok")), 0u);
}

TEST_F(WorkerObserverTest, OkMessageRecordsDurationAndLastSuccess) {
  clock_.advance(10s);
  {
    MessageScope scope(worker_, "orders", "m-1", headers_);
    clock_.advance(300ms);
    scope.ok();
  }
  auto p = test::find_point(registry_, kDuration, q("orders", "ok"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->bucket_counts.back(), 1u);
  EXPECT_DOUBLE_EQ(p->sum, 0.3);
  EXPECT_EQ(value_of(registry_, kLastSuccess, q("orders")), t0_ + 10.3);
}

TEST_F(WorkerObserverTest, NoOutcomeAndNoExceptionIsOk) {
  { MessageScope scope(worker_, "orders", "m-1", headers_); }
  EXPECT_EQ(count_of(registry_, kDuration, q("orders", "ok")), 1u);
}

TEST_F(WorkerObserverTest, FailedOutcomesAreRecordedAndAreNotProgress) {
  clock_.advance(5s);
  MessageScope(worker_, "orders", "m-1", headers_).error("bad payload");
  MessageScope(worker_, "orders", "m-2", headers_).retry("stock service down");
  MessageScope(worker_, "orders", "m-3", headers_).dead("failed 5 times");
  for (const char* outcome : {"error", "retry", "dead"})
    EXPECT_EQ(count_of(registry_, kDuration, q("orders", outcome)), 1u) << outcome;
  EXPECT_EQ(count_of(registry_, kDuration, q("orders", "ok")), 0u);
  EXPECT_EQ(value_of(registry_, kLastSuccess, q("orders")), t0_);  // never moved
  auto records = logs_.events("message_processed");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0]["outcome"], "error");
  EXPECT_EQ(records[0]["level"], "error");
  EXPECT_EQ(records[0]["reason"], "bad payload");
  EXPECT_EQ(records[1]["outcome"], "retry");
  EXPECT_EQ(records[1]["level"], "warn");
  EXPECT_EQ(records[2]["outcome"], "dead");
  auto spans = tracing_.spans();
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].status_code(), StatusCode::kError);
  EXPECT_EQ(spans[0].status_message(), "bad payload");
  EXPECT_EQ(spans[1].status_code(), StatusCode::kUnset);  // a retry is not an error yet
  EXPECT_EQ(spans[2].status_code(), StatusCode::kError);
}

TEST_F(WorkerObserverTest, ExceptionThroughTheScopeIsAnError) {
  try {
    MessageScope scope(worker_, "orders", "m-1", headers_);
    throw std::runtime_error("db locked");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(count_of(registry_, kDuration, q("orders", "error")), 1u);
  EXPECT_EQ(count_of(registry_, kDuration, q("orders", "ok")), 0u);
  EXPECT_EQ(value_of(registry_, kActive, q("orders")), 0.0);
  EXPECT_EQ(value_of(registry_, kLastSuccess, q("orders")), t0_);
}

TEST_F(WorkerObserverTest, ExplicitOutcomeWinsOverAnException) {
  try {
    MessageScope scope(worker_, "orders", "m-1", headers_);
    scope.retry("lease lost");
    throw std::runtime_error("after the decision");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(count_of(registry_, kDuration, q("orders", "retry")), 1u);
}

TEST_F(WorkerObserverTest, ScopeInsideACatchHandlerIsNotMistakenForAnError) {
  try {
    throw std::runtime_error("earlier");
  } catch (const std::runtime_error&) {
    MessageScope scope(worker_, "orders", "m-1", headers_);
  }
  EXPECT_EQ(count_of(registry_, kDuration, q("orders", "ok")), 1u);
}

TEST_F(WorkerObserverTest, ActiveMessagesFollowScopes) {
  {
    MessageScope a(worker_, "orders", "m-1", headers_);
    MessageScope b(worker_, "emails", "m-2", headers_);
    EXPECT_EQ(value_of(registry_, kActive, q("orders")), 1.0);
    EXPECT_EQ(value_of(registry_, kActive, q("emails")), 1.0);
    EXPECT_EQ(b.finish(), MessageOutcome::kOk);
    EXPECT_EQ(value_of(registry_, kActive, q("emails")), 0.0);
  }
  EXPECT_EQ(value_of(registry_, kActive, q("orders")), 0.0);
  EXPECT_EQ(count_of(registry_, kDuration, q("emails", "ok")),
            1u);  // finish() then the destructor: once
}

TEST_F(WorkerObserverTest, QueueBacklogIsReadAtScrapeTime) {
  std::uint64_t depth = 5;
  std::optional<Clock::WallTime> oldest = clock_.wall_now() - 30s;
  worker_.watch_queue("orders", [&]() -> std::optional<QueueStats> {
    return QueueStats{.depth = depth, .oldest_enqueued_at = oldest};
  });
  EXPECT_EQ(value_of(registry_, "queue_depth", q("orders")), 5.0);
  EXPECT_EQ(value_of(registry_, "queue_oldest_message_age_seconds", q("orders")), 30.0);
  clock_.advance(60s);  // nothing consumed: the oldest message ages
  depth = 9;
  EXPECT_EQ(value_of(registry_, "queue_depth", q("orders")), 9.0);
  EXPECT_EQ(value_of(registry_, "queue_oldest_message_age_seconds", q("orders")), 90.0);
  depth = 0;
  oldest.reset();
  EXPECT_EQ(value_of(registry_, "queue_depth", q("orders")), 0.0);
  EXPECT_EQ(value_of(registry_, "queue_oldest_message_age_seconds", q("orders")), 0.0);
}

TEST_F(WorkerObserverTest, UnreadableQueueHasNoSampleThatScrape) {
  bool reachable = false;
  worker_.watch_queue("orders", [&]() -> std::optional<QueueStats> {
    if (!reachable) return std::nullopt;
    return QueueStats{.depth = 1};
  });
  worker_.watch_queue(
      "emails", []() -> std::optional<QueueStats> { throw std::runtime_error("queue gone"); });
  EXPECT_FALSE(value_of(registry_, "queue_depth", q("orders")));
  EXPECT_FALSE(value_of(registry_, "queue_depth", q("emails")));
  reachable = true;
  EXPECT_EQ(value_of(registry_, "queue_depth", q("orders")), 1.0);
  worker_.unwatch_queue("orders");
  EXPECT_FALSE(value_of(registry_, "queue_depth", q("orders")));
}

TEST_F(WorkerObserverTest, DestroyedObserverLeavesTheRegistryScrapable) {
  {
    WorkerObserver other(registry_, {.clock = &clock_});
    other.watch_queue("tmp", [] { return QueueStats{.depth = 3}; });
    EXPECT_EQ(value_of(registry_, "queue_depth", q("tmp")), 3.0);
  }
  EXPECT_FALSE(value_of(registry_, "queue_depth", q("tmp")));
}

TEST_F(WorkerObserverTest, NoCallbackRunsAfterTheObserverIsDestroyed) {
  std::atomic<bool> stop{false};
  std::atomic<bool> gone{false};
  std::atomic<int> late_calls{0};
  std::atomic<int> calls{0};
  std::thread scraper([&] {
    while (!stop.load()) registry_.collect();
  });
  for (int i = 0; i < 200; ++i) {
    gone = false;
    {
      WorkerObserver observer(registry_, {.clock = &clock_});
      observer.watch_queue("tmp", [&]() -> std::optional<QueueStats> {
        if (gone.load()) ++late_calls;
        ++calls;
        return QueueStats{.depth = 1};
      });
      while (calls.load() == 0 && i == 0) std::this_thread::yield();
    }
    gone = true;
  }
  stop = true;
  scraper.join();
  EXPECT_GT(calls.load(), 0);
  EXPECT_EQ(late_calls.load(), 0);
}

TEST_F(WorkerObserverTest, ConsumerSpanIsAChildOfTheProducer) {
  // The producer side: a span whose context travels in the message headers.
  SpanContext producer;
  {
    Span send = tracing_.tracer.start_span("send orders", {.kind = SpanKind::kProducer});
    producer = send.context();
    inject(producer, headers_);
  }
  ASSERT_TRUE(headers_.count("traceparent"));
  {
    MessageScope scope(worker_, "orders", "m-42", headers_);
    FB_LOG_INFO("invoice_written", "");
  }
  auto spans = tracing_.spans();
  ASSERT_EQ(spans.size(), 2u);
  const SpanData& consumer = spans[1];
  EXPECT_EQ(consumer.name(), "process orders");
  EXPECT_EQ(consumer.kind(), SpanKind::kConsumer);
  EXPECT_EQ(consumer.trace_id(), producer.trace_id);
  EXPECT_EQ(consumer.parent_span_id(), producer.span_id);
  EXPECT_TRUE(consumer.links().empty());
  EXPECT_EQ(consumer.find_attribute("messaging.destination.name")->as_string(), "orders");
  EXPECT_EQ(consumer.find_attribute("messaging.message.id")->as_string(), "m-42");
  EXPECT_EQ(consumer.find_attribute("messaging.operation.type")->as_string(), "process");
  EXPECT_EQ(consumer.find_attribute("outcome")->as_string(), "ok");
  // The worker's log lines carry the producer's trace and the message context.
  auto records = logs_.events("invoice_written");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["trace_id"], producer.trace_id.to_hex());
  EXPECT_EQ(records[0]["message_id"], "m-42");
  EXPECT_EQ(records[0]["messaging_destination_name"], "orders");
  EXPECT_EQ(logs_.events("message_processed").at(0)["trace_id"], producer.trace_id.to_hex());
}

TEST_F(WorkerObserverTest, LinkModeStartsANewTraceLinkedToTheProducer) {
  WorkerObserver linking(
      registry_,
      {.clock = &clock_, .tracer = &tracing_.tracer, .span_parent = ConsumerSpanParent::kLink});
  SpanContext producer;
  {
    Span send = tracing_.tracer.start_span("send orders", {.kind = SpanKind::kProducer});
    producer = send.context();
    inject(producer, headers_);
  }
  { MessageScope scope(linking, "orders", "m-1", headers_); }
  auto spans = tracing_.spans();
  ASSERT_EQ(spans.size(), 2u);
  const SpanData& consumer = spans[1];
  EXPECT_NE(consumer.trace_id(), producer.trace_id);
  EXPECT_FALSE(consumer.parent_span_id().valid());
  ASSERT_EQ(consumer.links().size(), 1u);
  EXPECT_EQ(consumer.links()[0].context.trace_id, producer.trace_id);
  EXPECT_EQ(consumer.links()[0].context.span_id, producer.span_id);
}

TEST_F(WorkerObserverTest, MessageWithoutOrWithBadContextStartsANewTrace) {
  std::vector<std::pair<std::string, std::string>> bad = {{"traceparent", "00-nope"}};
  { MessageScope scope(worker_, "orders", "m-1", bad); }
  { MessageScope scope(worker_, "orders", "m-2", headers_); }
  auto spans = tracing_.spans();
  ASSERT_EQ(spans.size(), 2u);
  for (const auto& s : spans) {
    EXPECT_TRUE(s.trace_id().valid());
    EXPECT_FALSE(s.parent_span_id().valid());
  }
  EXPECT_NE(spans[0].trace_id(), spans[1].trace_id());
}

TEST_F(WorkerObserverTest, ExposesTheDesignNames) {
  worker_.watch_queue("orders", [] { return QueueStats{.depth = 2}; });
  { MessageScope scope(worker_, "orders", "m-1", headers_); }
  const std::string text = test::exposition(registry_);
  for (const char* line :
       {"# TYPE messaging_process_duration_seconds histogram",
        "# TYPE worker_heartbeat_timestamp_seconds gauge",
        "# TYPE worker_last_success_timestamp_seconds gauge", "# TYPE worker_active_messages gauge",
        "# TYPE queue_depth gauge", "# TYPE queue_oldest_message_age_seconds gauge",
        "queue_depth{messaging_destination_name=\"orders\"} 2",
        "messaging_process_duration_seconds_count{messaging_destination_name="
        "\"orders\",outcome=\"ok\"} 1"})
    EXPECT_THAT(text, ::testing::HasSubstr(line));
}

}  // namespace
}  // namespace firebreak
