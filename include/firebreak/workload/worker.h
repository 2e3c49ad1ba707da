// Worker (queue consumer) observer: the loop's heartbeat, one RAII scope per
// message, and the queue's backlog read at scrape time.
//
//   firebreak::WorkerObserver worker(service.registry());
//   worker.watch_queue("orders", [&]() -> std::optional<firebreak::QueueStats> {
//     auto s = queue.stats();                     // at scrape time, on the scraping thread
//     if (!s) return std::nullopt;                // unreachable: no sample this scrape
//     return firebreak::QueueStats{.depth = s->waiting, .oldest_enqueued_at = s->oldest};
//   });
//
//   while (!service.stop_requested()) {
//     worker.heartbeat();                         // every turn, work or not
//     auto msg = queue.claim();
//     if (!msg) { idle_wait(); continue; }
//     firebreak::MessageScope scope(worker, "orders", msg->id, msg->headers);
//     if (!process(*msg)) { scope.retry("stock service down"); queue.nack(*msg); continue; }
//     queue.ack(*msg);                            // scope ends ok (or error if process threw)
//   }
//
// Per message, MessageScope records:
//   - a consumer span "process <queue>" whose parent is the producer's context
//     found in the message headers (`traceparent`/`tracestate`, as inject()
//     writes them): ConsumerSpanParent::kChild, the default, keeps the message
//     in the producer's trace, so the API's request and the worker's handling
//     of its message share one trace id and their log lines correlate. With
//     kLink the span starts a new trace and carries a link to the producer
//     (OpenTelemetry's choice for batch consumers). No or a malformed
//     traceparent: a new trace, no link. Attributes: messaging.operation.type
//     ("process"), messaging.destination.name, messaging.message.id, outcome;
//     status ERROR for error and dead.
//   - a log context with message_id and messaging_destination_name (current on
//     the thread with the span for the scope's life), and at the end one
//     `message_processed` record (info for ok, warn for retry, error for error
//     and dead) with outcome, duration_s and the reason when one was given.
//   - the outcome: ok, error, retry or dead, set explicitly; when none was set
//     the scope ends ok, or error when an exception is unwinding through it.
//   - metrics (docs/metrics.md, "Worker"; label messaging_destination_name is the
//     queue name):
//       messaging_process_duration_seconds{messaging_destination_name,outcome}
//                                  histogram, default_buckets()
//       worker_active_messages{messaging_destination_name}   +1 while in hand
//       worker_last_success_timestamp_seconds{messaging_destination_name}
//                                  Unix time of the last ok message; until
//                                  the first one, the observer's creation time
//                                  (so "no progress since" is defined from the
//                                  start, and a worker stuck from its first
//                                  message is seen as stalled)
// And per observer:
//       worker_heartbeat_timestamp_seconds   Unix time of the last heartbeat()
//                                  (the observer's creation time until the first)
//       queue_depth{messaging_destination_name}
//       queue_oldest_message_age_seconds{messaging_destination_name}
//                                  from watch_queue's callbacks at scrape time;
//                                  age 0 when the queue is empty
//
// A heartbeat is not progress: a loop that turns but finishes nothing moves
// worker_heartbeat_timestamp_seconds only, which is what WorkerStalled tells
// apart (docs/alerts.md, WorkerStalled).
//
// Cost: heartbeat() is one clock read and one relaxed store. A MessageScope
// is a span start/end, a log scope and the end record, and three lock-free
// series lookups on the queue name (~20 ns each); no lock.
//
// Thread-safety: WorkerObserver is thread-safe (several consumer threads may
// share one). A MessageScope belongs to the thread that created it.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "firebreak/clock.h"
#include "firebreak/log.h"
#include "firebreak/metrics.h"
#include "firebreak/trace.h"

namespace firebreak {

enum class MessageOutcome : std::uint8_t { kOk, kError, kRetry, kDead };

// "ok", "error", "retry", "dead": the values of the `outcome` label.
std::string_view to_string(MessageOutcome outcome) noexcept;

// How a message's consumer span relates to the producer's context.
enum class ConsumerSpanParent : std::uint8_t {
  kChild,  // continue the producer's trace (default)
  kLink,   // start a new trace with a link to the producer
};

// A queue's backlog, as the callback of watch_queue() reads it.
struct QueueStats {
  std::uint64_t depth = 0;  // messages waiting (not in hand)
  // Enqueue time of the oldest waiting message; nullopt when none waits.
  std::optional<Clock::WallTime> oldest_enqueued_at = std::nullopt;
};

// Reads a queue's backlog; nullopt when it cannot be read now (the queue's
// series are then absent from that scrape). Runs on the scraping thread; must
// be thread-safe and quick. An exception counts as nullopt. Never called once
// ~WorkerObserver has returned (the destructor waits for a scrape in progress).
using QueueStatsFn = std::function<std::optional<QueueStats>()>;

struct WorkerObserverOptions {
  // Timestamps (wall time) and durations (monotonic time).
  const Clock* clock = &Clock::system();
  // Starts the consumer spans; null: the global tracer, looked up per message.
  const Tracer* tracer = nullptr;
  ConsumerSpanParent span_parent = ConsumerSpanParent::kChild;
  // Write one `message_processed` record per message.
  bool log_messages = true;
};

class MessageScope;

// Registers the worker families and, through a collector, the queue gauges.
// Must outlive its message scopes; unregisters its collector when destroyed
// (so destroy it before the registry).
class WorkerObserver {
 public:
  // Throws MetricError when the registry has one of the names with another shape.
  explicit WorkerObserver(Registry& registry, WorkerObserverOptions options = {});
  ~WorkerObserver();
  WorkerObserver(const WorkerObserver&) = delete;
  WorkerObserver& operator=(const WorkerObserver&) = delete;

  // Marks one turn of the consumer loop (call it every turn, with or without
  // a message): worker_heartbeat_timestamp_seconds = now. No lock.
  void heartbeat() noexcept { heartbeat_.set(options_.clock->wall_seconds()); }

  // Reads `queue`'s depth and oldest-message age at each scrape through
  // `read`. A second call for the same queue replaces its callback. Also
  // starts the queue's worker_last_success_timestamp_seconds series (see above).
  void watch_queue(std::string_view queue, QueueStatsFn read);
  // Stops reading `queue`.
  void unwatch_queue(std::string_view queue);

  const WorkerObserverOptions& options() const noexcept { return options_; }

 private:
  friend class MessageScope;
  // The watched queues, shared with the registry's collector: a scrape that
  // began before the observer's destruction may still hold it.
  struct Queues;
  // Resolves the per-queue gauges, starting last_success at the creation time.
  std::pair<Gauge, Gauge> queue_gauges(std::string_view queue);  // active, last_success

  Registry& registry_;
  WorkerObserverOptions options_;
  double created_;  // Unix seconds
  HistogramFamily* duration_;
  GaugeFamily* active_;
  GaugeFamily* last_success_;
  Gauge heartbeat_;
  std::shared_ptr<Queues> queues_;
  std::uint64_t collector_id_ = 0;
};

// One message in hand: its span and log context are current on this thread
// while it lives. Not copyable or movable.
class MessageScope {
 public:
  // `headers`: the message's header map, any range of (name, value) pairs
  // (std::map<std::string, std::string>, a vector of pairs, ...); only
  // traceparent and tracestate are read.
  template <class Headers>
  requires requires(const Headers& h) {
    std::string_view(std::begin(h)->first);
    std::string_view(std::begin(h)->second);
  }
  MessageScope(WorkerObserver& observer, std::string_view queue, std::string_view message_id,
               const Headers& headers)
      : MessageScope(observer, queue, message_id, extract(headers)) {}
  // With the producer's context already extracted (invalid: none).
  MessageScope(WorkerObserver& observer, std::string_view queue, std::string_view message_id,
               const SpanContext& producer);
  // Ends the message (see finish()) when it was not finished.
  ~MessageScope();
  MessageScope(const MessageScope&) = delete;
  MessageScope& operator=(const MessageScope&) = delete;

  // Sets the outcome (the last call before the end wins) and an optional
  // reason for the log record and the span status.
  void set_outcome(MessageOutcome outcome, std::string_view reason = {});
  void ok() { set_outcome(MessageOutcome::kOk); }
  void error(std::string_view reason = {}) { set_outcome(MessageOutcome::kError, reason); }
  void retry(std::string_view reason = {}) { set_outcome(MessageOutcome::kRetry, reason); }
  void dead(std::string_view reason = {}) { set_outcome(MessageOutcome::kDead, reason); }

  // Records the message now (duration, outcome, gauges, span end, log
  // record) instead of at destruction. Later calls do nothing. Returns the
  // outcome recorded.
  MessageOutcome finish() noexcept;
  bool finished() const noexcept { return finished_; }

  Span& span() noexcept { return span_; }
  const SpanContext& span_context() const noexcept { return span_.context(); }

 private:
  WorkerObserver& observer_;
  std::string queue_;
  std::string reason_;
  Clock::MonoTime start_;
  Gauge active_;
  Gauge last_success_;
  int uncaught_ = 0;  // std::uncaught_exceptions() at construction
  std::optional<MessageOutcome> outcome_;
  bool finished_ = false;
  Span span_;
  SpanScope span_scope_;
  LogScope log_scope_;
};

}  // namespace firebreak
