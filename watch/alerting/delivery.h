// Delivery of alert state changes (firing, resolved) from the rules engine to
// receivers. Each notification goes to every receiver's queue and through
// that receiver's pipeline (stage.h): dedup -> send -> retry.
//
//   watch::alerting::Delivery delivery({.clock = &clock, .registry = &registry,
//                                       .store = store.get()});
//   delivery.add_receiver("ops", std::make_unique<WebhookNotifier>(
//                                    WebhookOptions{.url = "http://127.0.0.1:5001/"}));
//   delivery.add_receiver("log", std::make_unique<LogNotifier>());
//   delivery.start();                                       // one worker thread a receiver
//   watch::rules::Group group(spec, {.query = q, .notify = [&](auto& ns) { delivery.push(ns); }});
//
// Promises:
// - No delay of its own: push() wakes the receivers' workers, which send at
//   once. Failed sends are retried with bounded exponential backoff and
//   jitter when the notifier says the failure is retryable (no response, 5xx,
//   429), with no limit on attempts; other failures are dropped and logged.
// - Per alert (fingerprint) and receiver, notifications leave in the order
//   they were pushed: a firing waiting for its retry holds back its resolve.
// - With a store: every queued notification is persisted before push()
//   returns and removed when delivered (or dropped), in the same transaction
//   that writes the notification log, so one queued before a restart is sent
//   after it (once its receiver is added again), and the log keeps a state
//   already delivered from being sent again.
// - Dedup: the same state (firing / resolved) of the same firing episode
//   (starts_at) of the same alert is sent to a receiver at most once.
//
// Time: from the Clock; tests leave the workers unstarted and call run_due()
// after moving a ManualClock.
//
// Metrics (with a registry), label receiver:
//   alert_notifications_sent_total, alert_notifications_failed_total (failed
//   attempts), alert_notifications_queued (gauge),
//   alert_notification_latency_seconds (histogram, push to delivery, wall time).
//
// Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/clock.h"
#include "firebreak/metrics.h"
#include "watch/alerting/notifier.h"
#include "watch/alerting/stage.h"
#include "watch/rules/alerting.h"
#include "watch/store/store.h"

namespace watch::alerting {

struct DeliveryOptions {
  const firebreak::Clock* clock = &firebreak::Clock::system();
  firebreak::Registry* registry = nullptr;  // metrics when set; must outlive the Delivery
  store::Store* store = nullptr;            // persistence when set; ditto
  BackoffPolicy backoff = {};
  std::uint64_t seed = 0;  // for backoff jitter; 0: random
};

class Delivery {
 public:
  // Loads the notification log and the pending queue from the store.
  explicit Delivery(DeliveryOptions options);
  // Stops the workers; queued notifications stay in the store.
  ~Delivery();
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  // Adds a receiver with its own pipeline; notifications left pending for
  // this name in the store are queued again, in their order. Throws
  // std::invalid_argument when the name is taken (configuration error).
  void add_receiver(std::string name, std::unique_ptr<Notifier> notifier);
  // Removes a receiver, its queue and its pending notifications in the
  // store (also for a name only the store knows).
  void remove_receiver(std::string_view name);

  // Queues each notification for every receiver and wakes the workers.
  void push(const std::vector<rules::Notification>& notifications);

  // Sends every message that is due now, for every receiver, in order;
  // returns how many were delivered. Workers call this; so can tests.
  std::size_t run_due();
  // The earliest time a queued message may be attempted (nullopt: none queued).
  std::optional<firebreak::Clock::MonoTime> next_due() const;

  std::size_t queued(std::string_view receiver) const;

  // Forgets deliveries older than `before_ms` (Unix ms) in the notification
  // log: a state sent before then may be sent again. Call it periodically
  // with a retention well above the rules' resolved retention (15m).
  std::size_t prune_log(std::int64_t before_ms) { return log_.prune(before_ms); }
  std::vector<std::string> receivers() const;

  // Starts one worker thread a receiver (receivers added later get theirs
  // at once). stop() joins them; both idempotent.
  void start();
  void stop();

  // The bounds of alert_notification_latency_seconds.
  static std::vector<double> latency_buckets() {
    return {0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600};
  }

 private:
  struct Receiver;
  std::size_t run_receiver(Receiver& r);
  void worker(Receiver& r);
  void start_worker(Receiver& r);  // requires mu_
  void stop_worker(Receiver& r);

  DeliveryOptions options_;
  NotificationLog log_;
  firebreak::CounterFamily* sent_family_ = nullptr;
  firebreak::CounterFamily* failed_family_ = nullptr;
  firebreak::GaugeFamily* queued_family_ = nullptr;
  firebreak::HistogramFamily* latency_family_ = nullptr;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Receiver>, std::less<>> receivers_;  // guarded by mu_
  std::map<std::string, std::vector<store::PendingRecord>, std::less<>>
      orphans_;              // guarded by mu_: persisted, receiver not added yet
  bool started_ = false;     // guarded by mu_
  std::uint64_t seeds_ = 0;  // guarded by mu_
};

}  // namespace watch::alerting
