#include "watch/alerting/delivery.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include "firebreak/log.h"
#include "watch/alerting/webhook.h"

namespace watch::alerting {
namespace {

std::int64_t to_unix_ms(firebreak::Clock::WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The earliest attempt time among the first queued message of each alert
// (later ones of that alert wait for it whatever their own time).
std::optional<firebreak::Clock::MonoTime> earliest(const std::deque<Message>& queue) {
  std::set<std::uint64_t> seen;
  std::optional<firebreak::Clock::MonoTime> next;
  for (const auto& m : queue) {
    if (!seen.insert(m.fingerprint).second) continue;
    if (!next || m.next_attempt < *next) next = m.next_attempt;
  }
  return next;
}

}  // namespace

struct Delivery::Receiver {
  std::string name;
  std::unique_ptr<Notifier> notifier;
  Pipeline pipeline;  // used under run_mu only
  firebreak::Counter sent;
  firebreak::Counter failed;
  firebreak::Gauge queued_gauge;
  firebreak::Histogram latency;

  std::mutex run_mu;     // serialises run_receiver; held while sending
  bool removed = false;  // guarded by run_mu

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Message> queue;  // guarded by mu; only run_receiver removes
  bool stopping = false;      // guarded by mu
  bool woken = false;         // guarded by mu
  std::thread worker;         // started/joined under Delivery::mu_ or by stop()
};

Delivery::Delivery(DeliveryOptions options) : options_(std::move(options)), log_(options_.store) {
  if (options_.registry) {
    auto& reg = *options_.registry;
    sent_family_ = &reg.counter({.name = "alert_notifications_sent_total",
                                 .help = "Alert notifications delivered, by receiver.",
                                 .labels = {"receiver"}});
    failed_family_ = &reg.counter({.name = "alert_notifications_failed_total",
                                   .help = "Failed attempts to deliver an alert notification.",
                                   .labels = {"receiver"}});
    queued_family_ = &reg.gauge({.name = "alert_notifications_queued",
                                 .help = "Alert notifications waiting for delivery.",
                                 .labels = {"receiver"}});
    latency_family_ =
        &reg.histogram({.name = "alert_notification_latency_seconds",
                        .help = "Time from queueing an alert notification to its delivery.",
                        .labels = {"receiver"},
                        .unit = "seconds",
                        .buckets = latency_buckets()});
  }
  if (options_.store)
    for (auto& p : options_.store->load_pending()) orphans_[p.receiver].push_back(std::move(p));
  seeds_ = options_.seed != 0 ? options_.seed : std::random_device{}();
}

Delivery::~Delivery() {
  stop();
}

void Delivery::add_receiver(std::string name, std::unique_ptr<Notifier> notifier) {
  auto r = std::make_shared<Receiver>();
  r->name = name;
  r->notifier = std::move(notifier);
  if (sent_family_) {
    r->sent = sent_family_->labels(name);
    r->failed = failed_family_->labels(name);
    r->queued_gauge = queued_family_->labels(name);
    r->latency = latency_family_->labels(name);
  }
  std::lock_guard lock(mu_);
  if (receivers_.contains(name))
    throw std::invalid_argument("receiver \"" + name + "\" is defined twice");
  r->pipeline.add(std::make_unique<DedupStage>(log_));
  r->pipeline.add(std::make_unique<SendStage>(*r->notifier));
  r->pipeline.add(std::make_unique<RetryStage>(options_.backoff, seeds_++));
  if (auto it = orphans_.find(name); it != orphans_.end()) {
    for (auto& p : it->second) {
      auto n = deserialize(p.payload);
      if (!n) {
        FB_LOG_ERROR("alert_notification_unreadable", "pending notification dropped",
                     {"receiver", name}, {"id", p.id});
        if (options_.store) options_.store->remove_pending(p.id);
        continue;
      }
      Message m{.id = p.id, .notification = std::move(*n), .enqueued_ms = p.enqueued_ms};
      m.fingerprint = fingerprint(m.notification.labels);
      r->queue.push_back(std::move(m));
    }
    orphans_.erase(it);
  }
  r->queued_gauge.set(static_cast<double>(r->queue.size()));
  auto& ref = *r;
  receivers_.emplace(std::move(name), std::move(r));
  if (started_) start_worker(ref);
}

void Delivery::remove_receiver(std::string_view name) {
  std::shared_ptr<Receiver> r;
  {
    std::lock_guard lock(mu_);
    if (auto it = receivers_.find(name); it != receivers_.end()) {
      r = it->second;
      receivers_.erase(it);
    }
    if (auto it = orphans_.find(name); it != orphans_.end()) orphans_.erase(it);
  }
  if (r) {
    stop_worker(*r);
    std::lock_guard run(r->run_mu);
    r->removed = true;
    std::lock_guard lock(r->mu);
    r->queue.clear();
    r->queued_gauge.set(0);
  }
  if (options_.store) {
    std::string error;
    if (!options_.store->remove_receiver(std::string(name), &error))
      FB_LOG_ERROR("alert_store_write_failed", "", {"receiver", name}, {"error", error});
  }
}

void Delivery::push(const std::vector<rules::Notification>& notifications) {
  if (notifications.empty()) return;
  std::vector<std::shared_ptr<Receiver>> rs;
  {
    std::lock_guard lock(mu_);
    for (auto& [_, r] : receivers_) rs.push_back(r);
  }
  const std::int64_t now_ms = to_unix_ms(options_.clock->wall_now());
  for (auto& r : rs) {
    std::vector<Message> batch;
    for (const auto& n : notifications) {
      Message m{.notification = n, .fingerprint = fingerprint(n.labels), .enqueued_ms = now_ms};
      if (options_.store) {
        std::string error;
        m.id = options_.store->add_pending(r->name, serialize(n), now_ms, &error);
        if (m.id == 0)
          FB_LOG_ERROR("alert_store_write_failed", "notification queued in memory only",
                       {"receiver", r->name}, {"error", error});
      }
      batch.push_back(std::move(m));
    }
    {
      std::lock_guard lock(r->mu);
      for (auto& m : batch) r->queue.push_back(std::move(m));
      r->queued_gauge.set(static_cast<double>(r->queue.size()));
      r->woken = true;
    }
    r->cv.notify_one();
  }
}

std::size_t Delivery::run_due() {
  log_.flush();  // deliveries a full disk kept from the store, once it takes writes again
  std::vector<std::shared_ptr<Receiver>> rs;
  {
    std::lock_guard lock(mu_);
    for (auto& [_, r] : receivers_) rs.push_back(r);
  }
  std::size_t delivered = 0;
  for (auto& r : rs) delivered += run_receiver(*r);
  return delivered;
}

std::size_t Delivery::run_receiver(Receiver& r) {
  std::lock_guard run(r.run_mu);
  if (r.removed) return 0;
  const auto now = options_.clock->mono_now();
  std::set<std::uint64_t> blocked;  // alerts with an earlier message still waiting
  std::size_t i = 0;
  std::size_t delivered = 0;
  for (;;) {
    Message m;
    {
      std::lock_guard lock(r.mu);
      while (i < r.queue.size() &&
             (blocked.contains(r.queue[i].fingerprint) || r.queue[i].next_attempt > now)) {
        blocked.insert(r.queue[i].fingerprint);
        ++i;
      }
      if (i >= r.queue.size()) break;
      m = r.queue[i];
    }
    m.last_result = {};
    const Verdict v = r.pipeline.exec({.receiver = r.name, .now = now}, m);
    const bool failed_attempt = !m.last_result.ok();
    if (failed_attempt) r.failed.inc();
    if (v == Verdict::kDelivered) {
      const std::int64_t sent_ms = to_unix_ms(options_.clock->wall_now());
      log_.record(r.name, m, sent_ms);
      r.sent.inc();
      r.latency.observe(static_cast<double>(sent_ms - m.enqueued_ms) / 1000.0);
      ++delivered;
    } else if (v == Verdict::kDropped && options_.store && m.id != 0) {
      options_.store->remove_pending(m.id);
    }
    std::lock_guard lock(r.mu);
    if (v == Verdict::kRetryLater) {
      r.queue[i] = std::move(m);
      blocked.insert(r.queue[i].fingerprint);
      ++i;
    } else {
      r.queue.erase(r.queue.begin() + static_cast<std::ptrdiff_t>(i));
    }
    r.queued_gauge.set(static_cast<double>(r.queue.size()));
  }
  return delivered;
}

std::optional<firebreak::Clock::MonoTime> Delivery::next_due() const {
  std::vector<std::shared_ptr<Receiver>> rs;
  {
    std::lock_guard lock(mu_);
    for (auto& [_, r] : receivers_) rs.push_back(r);
  }
  std::optional<firebreak::Clock::MonoTime> next;
  for (auto& r : rs) {
    std::lock_guard lock(r->mu);
    auto n = earliest(r->queue);
    if (n && (!next || *n < *next)) next = n;
  }
  return next;
}

std::size_t Delivery::queued(std::string_view receiver) const {
  std::shared_ptr<Receiver> r;
  {
    std::lock_guard lock(mu_);
    auto it = receivers_.find(receiver);
    if (it == receivers_.end()) return 0;
    r = it->second;
  }
  std::lock_guard lock(r->mu);
  return r->queue.size();
}

std::vector<std::string> Delivery::receivers() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, _] : receivers_) out.push_back(name);
  return out;
}

void Delivery::start() {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  for (auto& [_, r] : receivers_) start_worker(*r);
}

void Delivery::stop() {
  std::vector<std::shared_ptr<Receiver>> rs;
  {
    std::lock_guard lock(mu_);
    started_ = false;
    for (auto& [_, r] : receivers_) rs.push_back(r);
  }
  for (auto& r : rs) stop_worker(*r);
}

void Delivery::start_worker(Receiver& r) {
  {
    std::lock_guard lock(r.mu);
    r.stopping = false;
  }
  if (!r.worker.joinable()) r.worker = std::thread([this, &r] { worker(r); });
}

void Delivery::stop_worker(Receiver& r) {
  {
    std::lock_guard lock(r.mu);
    r.stopping = true;
  }
  r.cv.notify_all();
  if (r.worker.joinable()) r.worker.join();
}

void Delivery::worker(Receiver& r) {
  for (;;) {
    run_receiver(r);
    std::unique_lock lock(r.mu);
    if (r.stopping) return;
    if (r.woken) {
      r.woken = false;
      continue;
    }
    const auto next = earliest(r.queue);
    auto wake = [&] { return r.stopping || r.woken; };
    if (!next) {
      r.cv.wait(lock, wake);
    } else {
      auto wait = *next - options_.clock->mono_now();
      if (wait > firebreak::Clock::Duration::zero()) r.cv.wait_for(lock, wait, wake);
    }
    if (r.stopping) return;
    r.woken = false;
  }
}

}  // namespace watch::alerting
