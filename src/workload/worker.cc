// Worker observer: heartbeat, message scopes, queue backlog at scrape time.
#include "firebreak/workload/worker.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <utility>

namespace firebreak {

std::string_view to_string(MessageOutcome outcome) noexcept {
  switch (outcome) {
    case MessageOutcome::kOk:
      return "ok";
    case MessageOutcome::kError:
      return "error";
    case MessageOutcome::kRetry:
      return "retry";
    case MessageOutcome::kDead:
      return "dead";
  }
  return "error";
}

struct WorkerObserver::Queues {
  const Clock* clock;
  // Held for a whole collection, and by the destructor to close: once closed,
  // no callback runs again.
  std::mutex collect_mu;
  bool closed = false;  // guarded by collect_mu
  std::mutex mu;        // guards map
  std::map<std::string, QueueStatsFn, std::less<>> map;

  void collect(std::vector<FamilySnapshot>& out);
};

WorkerObserver::WorkerObserver(Registry& registry, WorkerObserverOptions options)
    : registry_(registry), options_(std::move(options)) {
  if (options_.clock == nullptr) options_.clock = &Clock::system();
  created_ = options_.clock->wall_seconds();
  duration_ = &registry.histogram(
      {.name = "messaging_process_duration_seconds",
       .help = "Time to process one message, by queue and outcome (ok, error, retry, dead).",
       .labels = {"messaging_destination_name", "outcome"},
       .unit = "seconds",
       .buckets = default_buckets()});
  active_ = &registry.gauge({.name = "worker_active_messages",
                             .help = "Messages in hand (being processed), by queue.",
                             .labels = {"messaging_destination_name"}});
  last_success_ = &registry.gauge(
      {.name = "worker_last_success_timestamp_seconds",
       .help = "Unix time of the last message processed successfully, by queue (the "
               "worker's start until the first).",
       .labels = {"messaging_destination_name"},
       .unit = "seconds",
       .combine = ProcessCombine::kMax});
  heartbeat_ = registry
                   .gauge({.name = "worker_heartbeat_timestamp_seconds",
                           .help = "Unix time of the consumer loop's last turn (work or not).",
                           .unit = "seconds",
                           .combine = ProcessCombine::kMax})
                   .labels();
  if (heartbeat_.value() == 0) heartbeat_.set(created_);
  queues_ = std::make_shared<Queues>();
  queues_->clock = options_.clock;
  collector_id_ = registry.add_collector(
      [queues = queues_](std::vector<FamilySnapshot>& out) { queues->collect(out); });
}

WorkerObserver::~WorkerObserver() {
  registry_.remove_collector(collector_id_);
  std::lock_guard<std::mutex> lock(queues_->collect_mu);  // waits for a scrape in progress
  queues_->closed = true;
  std::lock_guard<std::mutex> map_lock(queues_->mu);
  queues_->map.clear();
}

std::pair<Gauge, Gauge> WorkerObserver::queue_gauges(std::string_view queue) {
  Gauge active = active_->labels(queue);
  Gauge last = last_success_->labels(queue);
  // A new series starts at the observer's creation time (see worker.h). Two
  // threads may both see 0 and both store the same value: harmless.
  if (last.value() == 0) last.set(created_);
  return {active, last};
}

void WorkerObserver::watch_queue(std::string_view queue, QueueStatsFn read) {
  queue_gauges(queue);
  std::lock_guard<std::mutex> lock(queues_->mu);
  queues_->map.insert_or_assign(std::string(queue), std::move(read));
}

void WorkerObserver::unwatch_queue(std::string_view queue) {
  std::lock_guard<std::mutex> lock(queues_->mu);
  if (auto it = queues_->map.find(queue); it != queues_->map.end()) queues_->map.erase(it);
}

void WorkerObserver::Queues::collect(std::vector<FamilySnapshot>& out) {
  std::lock_guard<std::mutex> collecting(collect_mu);
  if (closed) return;
  std::vector<std::pair<std::string, QueueStatsFn>> queues;
  {
    // Callbacks run outside `mu`, so they may watch or unwatch queues.
    std::lock_guard<std::mutex> lock(mu);
    queues.assign(map.begin(), map.end());
  }
  if (queues.empty()) return;
  FamilySnapshot depth{.name = "queue_depth",
                       .help = "Messages waiting in the queue (not in hand), read at scrape time.",
                       .type = MetricType::kGauge};
  FamilySnapshot age{.name = "queue_oldest_message_age_seconds",
                     .help =
                         "Age of the oldest waiting message (0 when none waits), read at "
                         "scrape time.",
                     .unit = "seconds",
                     .type = MetricType::kGauge};
  const double now = clock->wall_seconds();
  for (auto& [name, read] : queues) {  // sorted by name (std::map order)
    std::optional<QueueStats> stats;
    try {
      if (read) stats = read();
    } catch (...) {
      stats.reset();
    }
    if (!stats) continue;
    auto labels = std::make_shared<const Labels>(Labels{{"messaging_destination_name", name}});
    depth.points.push_back({.labels = labels, .value = static_cast<double>(stats->depth)});
    double age_seconds = 0;
    if (stats->oldest_enqueued_at) {
      const double enqueued =
          std::chrono::duration<double>(stats->oldest_enqueued_at->time_since_epoch()).count();
      age_seconds = std::max(0.0, now - enqueued);
    }
    age.points.push_back({.labels = labels, .value = age_seconds});
  }
  out.push_back(std::move(depth));
  out.push_back(std::move(age));
}

namespace {

const Tracer& tracer_of(const WorkerObserverOptions& options) noexcept {
  return options.tracer ? *options.tracer : global_tracer();
}

Span start_consumer_span(const WorkerObserverOptions& options, std::string_view queue,
                         std::string_view message_id, const SpanContext& producer) {
  char name[160];
  constexpr std::string_view kPrefix = "process ";
  std::size_t n = kPrefix.size();
  std::copy(kPrefix.begin(), kPrefix.end(), name);
  const std::size_t q = std::min(queue.size(), sizeof name - n);
  std::copy_n(queue.data(), q, name + n);
  n += q;
  const bool link = options.span_parent == ConsumerSpanParent::kLink;
  Span span = tracer_of(options).start_span(
      std::string_view(name, n),
      {.kind = SpanKind::kConsumer, .parent = link ? SpanContext{} : producer});
  if (span.is_recording()) {
    if (link && producer.valid()) span.add_link(producer);
    span.set_attribute("messaging.operation.type", "process");
    span.set_attribute("messaging.destination.name", queue);
    if (!message_id.empty()) span.set_attribute("messaging.message.id", message_id);
  }
  return span;
}

}  // namespace

MessageScope::MessageScope(WorkerObserver& observer, std::string_view queue,
                           std::string_view message_id, const SpanContext& producer)
    : observer_(observer),
      queue_(queue),
      start_(observer.options_.clock->mono_now()),
      uncaught_(std::uncaught_exceptions()),
      span_(start_consumer_span(observer.options_, queue, message_id, producer)),
      span_scope_(span_),
      log_scope_({{"messaging_destination_name", queue}, {"message_id", message_id}}) {
  auto [active, last] = observer_.queue_gauges(queue_);
  active_ = active;
  last_success_ = last;
  active_.inc();
}

MessageScope::~MessageScope() {
  finish();
}

void MessageScope::set_outcome(MessageOutcome outcome, std::string_view reason) {
  outcome_ = outcome;
  reason_.assign(reason.substr(0, 1024));
}

MessageOutcome MessageScope::finish() noexcept {
  if (finished_) return outcome_.value_or(MessageOutcome::kOk);
  finished_ = true;
  if (!outcome_) {
    if (std::uncaught_exceptions() > uncaught_) {
      outcome_ = MessageOutcome::kError;
      reason_ = "exception";
    } else {
      outcome_ = MessageOutcome::kOk;
    }
  }
  const MessageOutcome outcome = *outcome_;
  const auto& options = observer_.options_;
  const double seconds = std::chrono::duration<double>(options.clock->mono_now() - start_).count();
  try {
    observer_.duration_->labels(queue_, to_string(outcome)).observe(seconds);
  } catch (...) {
    // Only allocation can fail here; never fail the message for a metric.
  }
  active_.dec();
  if (outcome == MessageOutcome::kOk) last_success_.set(options.clock->wall_seconds());
  if (span_.is_recording()) {
    span_.set_attribute("outcome", to_string(outcome));
    if (outcome == MessageOutcome::kError || outcome == MessageOutcome::kDead)
      span_.set_status(StatusCode::kError, reason_);
  }
  span_.end();
  if (options.log_messages) {
    const LogLevel level = outcome == MessageOutcome::kOk      ? LogLevel::kInfo
                           : outcome == MessageOutcome::kRetry ? LogLevel::kWarn
                                                               : LogLevel::kError;
    if (reason_.empty())
      FB_LOG(level, "message_processed", "", {"outcome", to_string(outcome)},
             {"duration_s", seconds});
    else
      FB_LOG(level, "message_processed", "", {"outcome", to_string(outcome)},
             {"duration_s", seconds}, {"reason", reason_});
  }
  return outcome;
}

}  // namespace firebreak
