// watch's Alertmanager: alerts from the rules and from POST /api/v2/alerts go
// through the routing tree into aggregation groups (watch/dispatch), are
// muted by silences (watch/silence), inhibit rules and time intervals
// (watch/routing), and reach each receiver's integrations (notifier.h) with
// Alertmanager 0.25's timers and notification log.
//
//   watch::alerting::Delivery delivery({.clock = &clock, .registry = &registry,
//                                       .store = store.get()});
//   delivery.configure(routing_config, receivers);  // again on reload
//   delivery.start();                 // a dispatch thread, a worker per integration
//   delivery.put(rule_notifications);  // from rule evaluation
//   delivery.put(posted_alerts);       // from POST /api/v2/alerts
//
// Promises:
// - Alertmanager's semantics (dispatch.h): group_wait, group_interval,
//   repeat_interval, send_resolved per integration, continue, inhibition
//   and silences, mute and active time intervals; alerts merged by
//   fingerprint as Alertmanager's alert store merges them.
// - A flush that fails is retried with backoff until the group's next flush
//   is due (Alertmanager's notify timeout); then the next flush sends what is
//   true by then. The notification log changes only on success.
// - Restart-safe with a store: the notification log is saved after every
//   successful send and silences after every change, both restored by the
//   constructor; so a restart neither repeats a page before repeat_interval
//   nor loses a resolve (the rules put their restored alerts back at start).
// - Beyond Alertmanager: with resolve_muted (on by default) a receiver told
//   an alert fired is told it resolved even if the alert is silenced or
//   inhibited by then (alertmanager#226).
//
// Time: from the Clock; tests leave the threads unstarted and call
// run_due() after moving a ManualClock (sends are then made on that thread,
// one attempt each).
//
// Metrics (with a registry), labels receiver and integration:
//   alert_notifications_sent_total, alert_notifications_failed_total (failed
//   attempts), alert_notification_latency_seconds (from the flush to its
//   delivery); alerts_received_total{status}, alerts_invalid_total.
//
// Thread-safety: thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "firebreak/clock.h"
#include "firebreak/metrics.h"
#include "watch/alerting/notifier.h"
#include "watch/dispatch/dispatch.h"
#include "watch/routing/routing.h"
#include "watch/rules/alerting.h"
#include "watch/silence/silence.h"
#include "watch/store/store.h"

namespace watch::alerting {

// Exponential backoff between attempts of one flush: attempt n (1-based)
// waits min(initial * multiplier^(n-1), max) reduced by up to `jitter` (a
// fraction).
struct BackoffPolicy {
  std::chrono::milliseconds initial{1000};
  double multiplier = 2.0;
  std::chrono::milliseconds max{60000};
  double jitter = 0.2;
};
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt,
                                        std::mt19937_64& rng);

// One of a receiver's integrations.
struct Integration {
  std::string name;  // "webhook/0": kind and index among the receiver's of that kind
  bool send_resolved = true;
  std::shared_ptr<Notifier> notifier;
};

struct Receiver {
  std::string name;
  std::vector<Integration> integrations;  // none: a receiver that drops (Alertmanager's "null")
};

// An alert as the API shows it (GET /api/v2/alerts).
struct AlertView {
  dispatch::Alert alert;
  std::uint64_t fingerprint = 0;
  std::int64_t updated_at_ms = 0;
  std::vector<std::string> receivers;     // of the routes it goes to, unique, in route order
  std::vector<std::string> silenced_by;   // silence ids
  std::vector<std::string> inhibited_by;  // fingerprints (16 hex digits) of inhibiting alerts
  bool suppressed() const { return !silenced_by.empty() || !inhibited_by.empty(); }
};

struct DeliveryOptions {
  const firebreak::Clock* clock = &firebreak::Clock::system();
  firebreak::Registry* registry = nullptr;  // metrics when set; must outlive the Delivery
  store::Store* store = nullptr;            // persistence when set; ditto
  BackoffPolicy backoff = {};
  std::uint64_t seed = 0;  // for backoff jitter; 0: random
  bool resolve_muted = true;
  // Expired silences and notification log entries are kept this long
  // (Alertmanager's --data.retention).
  std::int64_t retention_ms = 120 * 3'600'000LL;
  // Alerts posted without endsAt resolve after this unless posted again
  // (Alertmanager's resolve_timeout).
  std::int64_t resolve_timeout_ms = 5 * 60'000;
};

class Delivery {
 public:
  // Restores the notification log and silences from the store.
  explicit Delivery(DeliveryOptions options);
  // stop().
  ~Delivery();
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  // Routing and receivers; call before start() and on every reload. As
  // Alertmanager's reload: the groups start again from the alerts held
  // (each with its group_wait), and the notification log keeps anything
  // from being sent twice. Every receiver the tree names must be given.
  void configure(routing::RoutingConfig routing, std::vector<Receiver> receivers);

  // Alerts from the rule engine: firing ones last until their valid-until
  // time unless sent again (as Prometheus sends them to Alertmanager).
  void put(const std::vector<rules::Notification>& notifications);
  // Alerts as posted (starts/ends set as POST /api/v2/alerts sets them: see
  // web/alertmanager_api.h). Merged with held alerts of the same labels as
  // Alertmanager merges them.
  void put(std::vector<dispatch::Alert> alerts);

  // Flushes the groups due now and sends their notifications on this
  // thread, one attempt each; returns how many were delivered. What the
  // dispatch thread does, for tests and tools that move a ManualClock.
  std::size_t run_due();

  // A dispatch thread and one worker thread per integration; stop() joins
  // them (sends in flight finish first). Both idempotent.
  void start();
  void stop();

  silence::Silences& silences() { return silences_; }
  // Saves the silences to the store (call after changing them).
  void save_silences();

  // Held alerts not resolved, with their routing and muting state, by
  // fingerprint.
  std::vector<AlertView> alerts();
  std::vector<dispatch::GroupStatus> groups() const;
  std::vector<std::string> receiver_names() const;  // in configuration order
  routing::RoutingConfig routing() const;

  // What a flush asks of each alert (exposed for benchmarks and tools): the
  // routes (one per integration) it goes to, and whether it is silenced or
  // inhibited now (inhibition as of the last flush or alerts() call).
  std::vector<dispatch::Route> routes(const LabelSet& labels) const {
    return routes_for(*config(), labels);
  }
  bool muted(const LabelSet& labels) const;

 private:
  struct Worker;
  struct Config;

  std::shared_ptr<const Config> config() const;
  std::vector<dispatch::Route> routes_for(const Config& c, const LabelSet& labels) const;
  std::vector<std::string> inhibited_by(const LabelSet& labels, std::int64_t now_ms) const;
  // The fingerprint of the first alert that inhibits `labels` at now_ms.
  std::optional<std::uint64_t> inhibitor_of(const LabelSet& labels, std::int64_t now_ms) const;
  bool time_muted(const dispatch::Route& route, std::int64_t now_ms) const;
  std::shared_ptr<dispatch::Dispatcher> make_dispatcher() const;
  std::shared_ptr<dispatch::Dispatcher> dispatcher() const;
  // The inhibit index for c's rules, from the held alerts.
  void rebuild_inhibitors(const Config& c);
  // Sends one flush. With a worker, retries with backoff until the flush's
  // deadline or the worker's stop; without, makes one attempt.
  bool send(const Config& c, dispatch::Flush& flush, Worker* worker);
  void stop_workers(std::vector<std::unique_ptr<Worker>> workers);
  void finish(dispatch::Flush& flush, bool delivered);
  void save_log();
  void housekeeping(std::int64_t now_ms);
  void dispatch_loop();
  std::unique_ptr<Worker> start_worker();
  void worker_loop(Worker& w);
  std::int64_t now_ms() const;

  DeliveryOptions options_;
  silence::Silences silences_;
  mutable std::mutex config_mu_;
  std::shared_ptr<const Config> config_;              // guarded by config_mu_
  std::shared_ptr<dispatch::Dispatcher> dispatcher_;  // guarded by config_mu_

  // The alert store (Alertmanager's provider), by fingerprint.
  struct Held {
    dispatch::Alert alert;
    std::int64_t updated_at_ms = 0;
    bool timeout = false;  // posted without endsAt
  };
  mutable std::mutex alerts_mu_;
  std::map<std::uint64_t, Held> alerts_;  // guarded by alerts_mu_
  // Per inhibit rule, the held alerts that satisfy its source matchers, by
  // the values of its `equal` labels; updated as alerts come and go.
  struct Inhibitors;
  std::unique_ptr<Inhibitors> inhibitors_;  // guarded by alerts_mu_

  std::mutex save_mu_;             // serialises save_log()
  bool log_save_failing_ = false;  // guarded by save_mu_: in a failed-save episode
  std::int64_t last_gc_ms_ = 0;

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool running_ = false;  // guarded by run_mu_
  bool woken_ = false;    // guarded by run_mu_
  std::thread dispatch_thread_;
  std::map<std::string, std::unique_ptr<Worker>> workers_;  // guarded by run_mu_
  std::mt19937_64 rng_;                                     // guarded by run_mu_

  firebreak::CounterFamily* sent_family_ = nullptr;
  firebreak::CounterFamily* failed_family_ = nullptr;
  firebreak::HistogramFamily* latency_family_ = nullptr;
  firebreak::CounterFamily* received_family_ = nullptr;
};

}  // namespace watch::alerting
