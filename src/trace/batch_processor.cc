// The batch span processor: a bounded lock-free ring of finished spans (many
// producers, one consumer), drained in batches by a background thread (or by
// tick() in tests), with retries and backoff on retryable export failures.
// A batch is exported straight from the ring (no copy) and its slots are
// released to producers once the batch is done with.
#include <algorithm>
#include <atomic>
#include <bit>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "firebreak/log.h"
#include "firebreak/metrics.h"
#include "firebreak/trace.h"
#include "trace/random.h"

namespace firebreak {

struct BatchSpanProcessor::Impl {
  Impl(std::shared_ptr<SpanExporter> e, BatchOptions o)
      : exporter(std::move(e)),
        opt(std::move(o)),
        clock(*opt.clock),
        capacity(std::bit_ceil(std::max<std::size_t>(opt.max_queue_size, 1))),
        mask(capacity - 1),
        batch_size(std::max<std::size_t>(opt.max_export_batch_size, 1)),
        // Wake the consumer once per (power-of-two) batch of pushes.
        wake_mask(std::min(std::bit_floor(batch_size), capacity) - 1),
        seqs(new std::atomic<std::uint64_t>[capacity]),
        slots(new SpanData[capacity]) {
    for (std::size_t i = 0; i < capacity; ++i) seqs[i].store(i, std::memory_order_relaxed);
    if (opt.registry) {
      exported_counter = opt.registry
                             ->counter({.name = "trace_spans_exported_total",
                                        .help = "Spans exported successfully."})
                             .labels();
      dropped_counter =
          opt.registry
              ->counter({.name = "trace_spans_dropped_total",
                         .help = "Spans not exported: queue full, rejected by the receiver, "
                                 "retries exhausted, or ended after shutdown."})
              .labels();
    }
    last_export = clock.mono_now();
  }

  std::shared_ptr<SpanExporter> exporter;
  const BatchOptions opt;
  const Clock& clock;
  const std::size_t capacity;
  const std::uint64_t mask;
  const std::size_t batch_size;
  const std::uint64_t wake_mask;
  // The ring, as in Vyukov's bounded MPMC queue: seqs[i] == position means
  // slot i is free for the producer claiming that position; position + 1
  // means it holds that position's span for the consumer.
  std::unique_ptr<std::atomic<std::uint64_t>[]> seqs;
  std::unique_ptr<SpanData[]> slots;

  alignas(64) std::atomic<std::uint64_t> head{0};  // next position to claim (producers)
  alignas(64) std::atomic<std::uint64_t> tail{0};  // next position to read (consumer)
  alignas(64) std::atomic<bool> accepting{true};
  std::atomic<bool> sleeping{false};
  std::atomic<std::uint64_t> handled{0};       // positions exported or given up on
  std::atomic<std::uint64_t> flush_target{0};  // export eagerly until handled reaches it
  std::atomic<std::uint64_t> exported_n{0};
  std::atomic<std::uint64_t> dropped_n{0};
  Counter exported_counter;
  Counter dropped_counter;

  // The consumer side: one at a time (the thread, tick(), a manual flush).
  std::mutex work_mu;
  // guarded by work_mu: the batch being exported, slots [pending_pos, +pending_n)
  // of the ring (consumed from the queue, not yet released to producers).
  std::uint64_t pending_pos = 0;
  std::size_t pending_n = 0;
  int attempts = 0;               // guarded by work_mu
  Clock::MonoTime first_attempt;  // guarded by work_mu
  Clock::MonoTime next_attempt;   // guarded by work_mu
  Clock::MonoTime last_export;    // guarded by work_mu

  std::mutex mu;
  std::condition_variable cv;         // wakes the thread
  std::condition_variable done_cv;    // wakes flush waiters
  bool wake = false;                  // guarded by mu
  bool stop = false;                  // guarded by mu
  std::atomic<bool> stopping{false};  // stop, readable without mu
  bool busy = false;                  // guarded by work_mu: the last step sent a full batch
  std::thread thread;
  std::atomic<bool> shut_down{false};

  std::size_t queue_size() const noexcept {
    return static_cast<std::size_t>(head.load(std::memory_order_acquire) -
                                    tail.load(std::memory_order_acquire));
  }

  void drop(std::uint64_t n) noexcept {
    dropped_n.fetch_add(n, std::memory_order_relaxed);
    dropped_counter.inc(static_cast<double>(n));
  }

  // At most one producer per sleep pays for the wake-up (the exchange).
  void wake_consumer() noexcept {
    if (!sleeping.load(std::memory_order_seq_cst) || !sleeping.exchange(false)) return;
    std::lock_guard lock(mu);
    wake = true;
    cv.notify_one();
  }

  void push(SpanData&& span) noexcept {
    if (!accepting.load(std::memory_order_relaxed)) {
      // Counted here only: after shutdown the registry may be gone.
      dropped_n.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    std::uint64_t pos = head.load(std::memory_order_relaxed);
    for (;;) {
      const std::uint64_t seq = seqs[pos & mask].load(std::memory_order_acquire);
      const auto diff = static_cast<std::int64_t>(seq - pos);
      if (diff == 0) {
        if (head.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst,
                                       std::memory_order_relaxed))
          break;
      } else if (diff < 0) {
        drop(1);  // full
        wake_consumer();
        return;
      } else {
        pos = head.load(std::memory_order_relaxed);
      }
    }
    slots[pos & mask] = std::move(span);
    seqs[pos & mask].store(pos + 1, std::memory_order_release);
    if ((pos & wake_mask) == wake_mask) wake_consumer();
  }

  // Takes up to batch_size published spans, contiguous in the ring (a batch
  // stops at the ring's end), as the pending batch. Consumer only.
  void pop_batch() {
    const std::uint64_t pos = tail.load(std::memory_order_relaxed);
    const std::size_t limit = std::min<std::size_t>(batch_size, capacity - (pos & mask));
    std::size_t n = 0;
    while (n < limit && seqs[(pos + n) & mask].load(std::memory_order_acquire) == pos + n + 1) ++n;
    pending_pos = pos;
    pending_n = n;
    tail.store(pos + n, std::memory_order_release);
  }

  // Counts the pending batch and releases its slots to producers.
  void finish_pending(bool exported) {
    const std::uint64_t n = pending_n;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t pos = pending_pos + i;
      slots[pos & mask].clear();  // frees what it held here, not on a producer
      seqs[pos & mask].store(pos + capacity, std::memory_order_release);
    }
    if (exported) {
      exported_n.fetch_add(n, std::memory_order_relaxed);
      exported_counter.inc(static_cast<double>(n));
    } else {
      drop(n);
    }
    pending_n = 0;
    attempts = 0;
    handled.store(tail.load(std::memory_order_relaxed), std::memory_order_release);
  }

  std::chrono::nanoseconds backoff(const ExportResult& r) const {
    if (r.retry_after.count() > 0) return std::min(r.retry_after, opt.max_backoff);
    auto base = opt.initial_backoff;
    for (int i = 1; i < attempts && base < opt.max_backoff; ++i) base *= 2;
    base = std::min(base, opt.max_backoff);
    // Jitter: somewhere in [base/2, base].
    const auto half = std::chrono::duration_cast<std::chrono::nanoseconds>(base) / 2;
    if (half.count() <= 0) return base;
    return half + std::chrono::nanoseconds(detail::random_u64() %
                                           static_cast<std::uint64_t>(half.count() + 1));
  }

  // One export attempt of `pending`.
  void attempt(Clock::MonoTime now) {
    if (attempts == 0) first_attempt = now;
    ++attempts;
    ExportResult r;
    try {
      r = exporter->export_spans(std::span<const SpanData>(&slots[pending_pos & mask], pending_n));
    } catch (const std::exception& e) {
      r = {ExportResult::Status::kFailed, {}, e.what()};
    } catch (...) {
      r = {ExportResult::Status::kFailed, {}, "exporter threw"};
    }
    switch (r.status) {
      case ExportResult::Status::kSuccess:
        finish_pending(true);
        return;
      case ExportResult::Status::kFailed:
        give_up(r, "rejected");
        return;
      case ExportResult::Status::kRetryable:
        break;
    }
    const auto wait = backoff(r);
    if (attempts >= opt.max_attempts || now + wait > first_attempt + opt.export_timeout) {
      give_up(r, "retries exhausted");
      return;
    }
    FB_LOG_DEBUG("trace_export_retry", "", {"error", r.error}, {"attempt", attempts},
                 {"retry_in", std::chrono::duration_cast<std::chrono::milliseconds>(wait)});
    next_attempt = now + wait;
  }

  // The degraded mode: a log line (on the export thread) and the counter.
  void give_up(const ExportResult& r, std::string_view why) {
    FB_LOG_WARN("trace_export_failed", "spans dropped", {"reason", why}, {"error", r.error},
                {"spans", static_cast<std::uint64_t>(pending_n)}, {"attempts", attempts});
    finish_pending(false);
  }

  // Does what is due at `now`; returns when the consumer next has work.
  // `eager`: export whatever is queued (a flush). `impatient`: retry at once
  // instead of waiting out backoffs (a flush without a thread).
  Clock::MonoTime step(Clock::MonoTime now, bool eager, bool impatient) {
    for (;;) {
      if (pending_n != 0) {
        if (now < next_attempt && !impatient) return next_attempt;
        attempt(now);
        if (pending_n != 0 && !impatient) return next_attempt;
        continue;
      }
      const std::size_t n = queue_size();
      const bool due = now >= last_export + opt.schedule_delay;
      if (n == 0) {
        if (due) last_export = now;
        return last_export + opt.schedule_delay;
      }
      if (n < batch_size && !eager && !due) return last_export + opt.schedule_delay;
      pop_batch();
      if (pending_n == 0) return now + std::chrono::milliseconds(1);  // claimed, not yet written
      busy = busy || pending_n == batch_size;
      last_export = now;
      attempt(now);
      if (eager &&
          handled.load(std::memory_order_relaxed) >= flush_target.load(std::memory_order_relaxed) &&
          pending_n == 0)
        eager = false;
    }
  }

  bool flushing() const noexcept {
    return handled.load(std::memory_order_acquire) < flush_target.load(std::memory_order_acquire);
  }

  // After a full batch, spans are arriving fast: rather than wait for a
  // producer to pay a wake-up (a syscall) for the next batch, look again after
  // a short sleep. A sleep, not a spin: on a small machine that CPU belongs to
  // the service's own threads.
  bool poll_for_work() {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return queue_size() >= batch_size || flushing() || stopping.load(std::memory_order_relaxed);
  }

  void run() {
    std::unique_lock lock(mu);
    while (!stop) {
      lock.unlock();
      Clock::MonoTime deadline;
      bool was_busy;
      {
        std::lock_guard work(work_mu);
        busy = false;
        deadline = step(clock.mono_now(), flushing(), false);
        was_busy = busy;
      }
      done_cv.notify_all();
      if (was_busy && poll_for_work()) {
        lock.lock();
        continue;
      }
      lock.lock();
      if (stop) break;
      if (wake) {
        wake = false;
        continue;
      }
      sleeping.store(true, std::memory_order_seq_cst);
      // A push that missed the flag is seen here.
      const bool work_waiting = queue_size() >= batch_size || flushing();
      const auto now = clock.mono_now();
      if (!work_waiting && deadline > now)
        cv.wait_for(lock, deadline - now, [&] { return wake || stop; });
      sleeping.store(false, std::memory_order_relaxed);
      wake = false;
    }
  }

  bool flush(std::chrono::milliseconds timeout) {
    const std::uint64_t target = head.load(std::memory_order_acquire);
    std::uint64_t cur = flush_target.load(std::memory_order_relaxed);
    while (cur < target && !flush_target.compare_exchange_weak(cur, target)) {
    }
    if (!thread.joinable()) {
      std::lock_guard work(work_mu);
      step(clock.mono_now(), true, true);
      return handled.load() >= target;
    }
    std::unique_lock lock(mu);
    wake = true;
    cv.notify_one();
    return done_cv.wait_for(lock, timeout, [&] { return handled.load() >= target; });
  }

  void shutdown() {
    if (shut_down.exchange(true)) return;
    accepting.store(false);
    flush(opt.export_timeout);
    if (thread.joinable()) {
      {
        std::lock_guard lock(mu);
        stop = true;
        stopping.store(true);
        cv.notify_one();
      }
      thread.join();
    }
    {
      // What could not be exported in time is dropped.
      std::lock_guard work(work_mu);
      if (pending_n != 0) finish_pending(false);
      while (queue_size() > 0) {
        pop_batch();
        if (pending_n == 0) break;
        finish_pending(false);
      }
    }
    exporter->shutdown();
  }
};

BatchSpanProcessor::BatchSpanProcessor(std::shared_ptr<SpanExporter> exporter, BatchOptions options)
    : impl_(std::make_unique<Impl>(std::move(exporter), std::move(options))) {
  if (!impl_->exporter) throw std::invalid_argument("BatchSpanProcessor: no exporter");
  if (impl_->opt.background_thread) impl_->thread = std::thread([this] { impl_->run(); });
}

BatchSpanProcessor::~BatchSpanProcessor() {
  shutdown();
}

void BatchSpanProcessor::on_end(SpanData&& span) noexcept {
  impl_->push(std::move(span));
}

bool BatchSpanProcessor::force_flush(std::chrono::milliseconds timeout) {
  return impl_->flush(timeout);
}

void BatchSpanProcessor::shutdown() {
  impl_->shutdown();
}

void BatchSpanProcessor::tick() {
  std::lock_guard work(impl_->work_mu);
  impl_->step(impl_->clock.mono_now(), impl_->flushing(), false);
}

std::uint64_t BatchSpanProcessor::exported() const noexcept {
  return impl_->exported_n.load(std::memory_order_relaxed);
}

std::uint64_t BatchSpanProcessor::dropped() const noexcept {
  return impl_->dropped_n.load(std::memory_order_relaxed);
}

std::size_t BatchSpanProcessor::queued() const noexcept {
  return impl_->queue_size();
}

// ---------------------------------------------------------------------------

SimpleSpanProcessor::SimpleSpanProcessor(std::shared_ptr<SpanExporter> exporter)
    : exporter_(std::move(exporter)) {}

void SimpleSpanProcessor::on_end(SpanData&& span) noexcept {
  std::lock_guard lock(mu_);
  if (shut_down_) {
    ++dropped_;
    return;
  }
  try {
    if (exporter_->export_spans({&span, 1}).status != ExportResult::Status::kSuccess) ++dropped_;
  } catch (...) {
    ++dropped_;
  }
}

bool SimpleSpanProcessor::force_flush(std::chrono::milliseconds) {
  return true;
}

void SimpleSpanProcessor::shutdown() {
  std::lock_guard lock(mu_);
  if (shut_down_) return;
  shut_down_ = true;
  exporter_->shutdown();
}

std::uint64_t SimpleSpanProcessor::dropped() const noexcept {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace firebreak
