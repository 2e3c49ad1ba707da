#include "watch/alerting/delivery.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <set>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "firebreak/log.h"
#include "watch/alerting/webhook.h"

namespace watch::alerting {
namespace {

// How often the dispatch thread looks for due groups at most (group_wait 0
// flushes within this).
constexpr std::chrono::milliseconds kDispatchPoll{100};
// Resolved alerts leave the alert store after this (the groups keep their
// own copies as long as they need them).
constexpr std::int64_t kResolvedRetentionMs = 15 * 60'000;
constexpr std::int64_t kGcIntervalMs = 60'000;
constexpr std::size_t kSendersPerIntegration = 8;

std::int64_t to_unix_ms(firebreak::Clock::WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string equal_key(const routing::InhibitRule& rule, const LabelSet& labels) {
  std::string key;
  for (const std::string& name : rule.equal) {
    key += labels.get(name);
    key += '\xff';
  }
  return key;
}

// Alertmanager's types.Alert.Merge: `o` is the newer copy.
dispatch::Alert merge(const dispatch::Alert& old, bool old_timeout, const dispatch::Alert& o,
                      std::int64_t now_ms) {
  dispatch::Alert res = o;
  res.starts_at_ms = std::min(old.starts_at_ms, o.starts_at_ms);
  if (o.resolved_at(now_ms)) {
    if (old.resolved_at(now_ms) && old.ends_at_ms > o.ends_at_ms) res.ends_at_ms = old.ends_at_ms;
  } else if (old.ends_at_ms > o.ends_at_ms && !old_timeout) {
    res.ends_at_ms = old.ends_at_ms;
  }
  return res;
}

// Alertmanager's provider merges a new copy into the held one only when
// their times overlap; otherwise the new copy is a new episode.
bool overlaps(const dispatch::Alert& old, const dispatch::Alert& o) {
  const auto within = [&](std::int64_t t) {
    return t > old.starts_at_ms && (old.ends_at_ms == 0 || t < old.ends_at_ms);
  };
  return (o.ends_at_ms != 0 && within(o.ends_at_ms)) || within(o.starts_at_ms) ||
         (old.ends_at_ms == 0 && o.starts_at_ms >= old.starts_at_ms);
}

}  // namespace

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt,
                                        std::mt19937_64& rng) {
  double ms = static_cast<double>(policy.initial.count()) *
              std::pow(policy.multiplier, std::max(0, attempt - 1));
  ms = std::min(ms, static_cast<double>(policy.max.count()));
  if (policy.jitter > 0) {
    std::uniform_real_distribution<double> d(0.0, std::min(policy.jitter, 1.0));
    ms *= 1.0 - d(rng);
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

// Routing and receivers, swapped whole on reload.
struct Delivery::Config {
  routing::RoutingConfig routing;
  std::vector<Receiver> receivers;
  std::map<std::string, const Receiver*> by_name;
  // Per route of the tree, the dispatcher's routes (one per integration).
  std::map<const routing::Route*, std::vector<dispatch::Route>> dispatch_routes;

  const Integration* integration(const std::string& receiver, const std::string& name) const {
    auto r = by_name.find(receiver);
    if (r == by_name.end()) return nullptr;
    for (const Integration& i : r->second->integrations)
      if (i.name == name) return &i;
    return nullptr;
  }
};

// Kept up to date by put() (an alert's labels, so the rules it is a source
// of, never change; only its end does) instead of rebuilt per flush.
struct Delivery::Inhibitors {
  struct Source {
    LabelSet labels;
    std::int64_t ends_at_ms = 0;
  };
  std::vector<routing::InhibitRule> rules;  // the config's, when built
  // Per rule: equal_key -> alerts satisfying its source matchers, by
  // fingerprint (resolved ones are skipped when asked).
  std::vector<std::unordered_map<std::string, std::map<std::uint64_t, Source>>> by_rule;

  explicit Inhibitors(std::vector<routing::InhibitRule> r)
      : rules(std::move(r)), by_rule(rules.size()) {}

  void add(std::uint64_t fp, const dispatch::Alert& a) {
    for (std::size_t i = 0; i < rules.size(); ++i)
      if (routing::matches_all(rules[i].source, a.labels))
        by_rule[i][equal_key(rules[i], a.labels)][fp] = {a.labels, a.ends_at_ms};
  }
  void remove(std::uint64_t fp, const LabelSet& labels) {
    for (std::size_t i = 0; i < rules.size(); ++i) {
      if (!routing::matches_all(rules[i].source, labels)) continue;
      auto bucket = by_rule[i].find(equal_key(rules[i], labels));
      if (bucket == by_rule[i].end()) continue;
      bucket->second.erase(fp);
      if (bucket->second.empty()) by_rule[i].erase(bucket);
    }
  }
  // The fingerprint of the first alert firing at now_ms that inhibits `target`.
  std::optional<std::uint64_t> find(const LabelSet& target, std::int64_t now_ms) const {
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const routing::InhibitRule& rule = rules[i];
      if (by_rule[i].empty() || !routing::matches_all(rule.target, target)) continue;
      auto bucket = by_rule[i].find(equal_key(rule, target));
      if (bucket == by_rule[i].end()) continue;
      for (const auto& [fp, source] : bucket->second) {
        if (source.ends_at_ms != 0 && source.ends_at_ms <= now_ms) continue;  // resolved
        if (routing::inhibits(rule, source.labels, target)) return fp;
      }
    }
    return std::nullopt;
  }
};

// One integration's sending threads: one at first, more (up to
// kSendersPerIntegration) while flushes wait, so a burst of groups is sent in
// parallel as Alertmanager's per-group goroutines send it. A group has one
// flush out at a time (the dispatcher's in_flight), so its order holds.
struct Delivery::Worker {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<dispatch::Flush> queue;  // guarded by mu
  bool stopping = false;              // guarded by mu
  std::size_t idle = 0;               // guarded by mu: threads waiting for a flush
  std::vector<std::thread> threads;   // grown under mu
};

Delivery::Delivery(DeliveryOptions options)
    : options_(std::move(options)),
      silences_({.clock = options_.clock, .retention_ms = options_.retention_ms}),
      config_(std::make_shared<Config>()),
      rng_(options_.seed != 0 ? options_.seed : std::random_device{}()) {
  if (options_.registry) {
    auto& reg = *options_.registry;
    sent_family_ =
        &reg.counter({.name = "alert_notifications_sent_total",
                      .help = "Group notifications delivered, by receiver and integration.",
                      .labels = {"receiver", "integration"}});
    failed_family_ = &reg.counter({.name = "alert_notifications_failed_total",
                                   .help = "Failed attempts to deliver a group notification.",
                                   .labels = {"receiver", "integration"}});
    latency_family_ =
        &reg.histogram({.name = "alert_notification_latency_seconds",
                        .help = "Time from a group's flush to the delivery of its notification.",
                        .labels = {"receiver", "integration"},
                        .unit = "seconds",
                        .buckets = {0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300}});
    received_family_ = &reg.counter({.name = "alerts_received_total",
                                     .help = "Alerts received (from the rules and the API), by "
                                             "the status they had when received.",
                                     .labels = {"status"}});
  }
  dispatcher_ = make_dispatcher();
  if (options_.store) {
    std::vector<std::string> errors;
    dispatcher_->restore_log(options_.store->load_group_log(&errors));
    for (const auto& e : errors) FB_LOG_ERROR("notification_log_row_skipped", "", {"error", e});
    silences_.restore(options_.store->load_silences(&errors));
    for (const auto& e : errors) FB_LOG_ERROR("silence_row_skipped", "", {"error", e});
  }
}

Delivery::~Delivery() {
  stop();
}

std::int64_t Delivery::now_ms() const {
  return to_unix_ms(options_.clock->wall_now());
}

std::shared_ptr<dispatch::Dispatcher> Delivery::make_dispatcher() const {
  return std::make_shared<dispatch::Dispatcher>(
      dispatch::Hooks{
          .route = [this](const LabelSet& l) { return routes_for(*config(), l); },
          .muted = [this](const LabelSet& l) { return muted(l); },
          .time_muted = [this](const dispatch::Route& r,
                               std::int64_t now) { return time_muted(r, now); },
          .send = nullptr,  // take_due() and send() instead
      },
      dispatch::Options{.resolve_muted = options_.resolve_muted,
                        .log_retention_ms = options_.retention_ms});
}

std::shared_ptr<dispatch::Dispatcher> Delivery::dispatcher() const {
  std::lock_guard lock(config_mu_);
  return dispatcher_;
}

std::shared_ptr<const Delivery::Config> Delivery::config() const {
  std::lock_guard lock(config_mu_);
  return config_;
}

void Delivery::configure(routing::RoutingConfig routing, std::vector<Receiver> receivers) {
  auto c = std::make_shared<Config>();
  c->routing = std::move(routing);
  c->receivers = std::move(receivers);
  for (const Receiver& r : c->receivers) c->by_name[r.name] = &r;
  // Every route of the tree, with its integrations.
  std::vector<const routing::Route*> stack = {&c->routing.route};
  while (!stack.empty()) {
    const routing::Route* r = stack.back();
    stack.pop_back();
    for (const auto& child : r->routes) stack.push_back(&child);
    auto& out = c->dispatch_routes[r];
    auto receiver = c->by_name.find(r->options.receiver);
    if (receiver == c->by_name.end()) continue;
    for (const Integration& i : receiver->second->integrations) {
      out.push_back({.key = r->key,
                     .receiver = r->options.receiver,
                     .integration = i.name,
                     .group_by = r->options.group_by,
                     .group_by_all = r->options.group_by_all,
                     .group_wait_ms = r->options.group_wait_ms,
                     .group_interval_ms = r->options.group_interval_ms,
                     .repeat_interval_ms = r->options.repeat_interval_ms,
                     .send_resolved = i.send_resolved,
                     .mute_time_intervals = r->options.mute_time_intervals,
                     .active_time_intervals = r->options.active_time_intervals});
    }
  }
  std::vector<dispatch::Alert> held;
  {
    std::lock_guard lock(alerts_mu_);
    for (const auto& [fp, h] : alerts_) held.push_back(h.alert);
  }
  const std::int64_t now = now_ms();
  auto fresh = make_dispatcher();
  {
    std::lock_guard saving(save_mu_);  // a failed save re-marks its changes in the live log
    std::lock_guard lock(config_mu_);
    // Unsaved changes of the old log stay to be saved from the new one.
    const auto unsaved = dispatcher_->take_log_changes();
    fresh->restore_log(dispatcher_->log());
    fresh->mark_log_changed(unsaved);
    config_ = c;
    dispatcher_ = fresh;
  }
  rebuild_inhibitors(*c);
  fresh->put(held, now);
  // Workers of integrations that are gone stop; new ones start.
  std::vector<std::unique_ptr<Worker>> gone;
  {
    std::lock_guard run(run_mu_);
    if (!running_) return;
    std::set<std::string> wanted;
    for (const Receiver& r : c->receivers)
      for (const Integration& i : r.integrations) wanted.insert(r.name + '\x1f' + i.name);
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (wanted.contains(it->first)) {
        ++it;
        continue;
      }
      gone.push_back(std::move(it->second));
      it = workers_.erase(it);
    }
    for (const std::string& key : wanted)
      if (!workers_.contains(key)) workers_.emplace(key, start_worker());
  }
  stop_workers(std::move(gone));
}

void Delivery::stop_workers(std::vector<std::unique_ptr<Worker>> workers) {
  for (auto& w : workers) {
    {
      std::lock_guard lock(w->mu);
      w->stopping = true;
    }
    w->cv.notify_all();
    for (std::thread& t : w->threads) t.join();
    for (auto& f : w->queue) finish(f, false);  // their groups' next flushes send them
  }
}

std::vector<dispatch::Route> Delivery::routes_for(const Config& c, const LabelSet& labels) const {
  std::vector<dispatch::Route> out;
  for (const routing::Route* r : routing::match_routes(c.routing.route, labels)) {
    auto it = c.dispatch_routes.find(r);
    if (it != c.dispatch_routes.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  }
  return out;
}

void Delivery::put(const std::vector<rules::Notification>& notifications) {
  std::vector<dispatch::Alert> alerts;
  alerts.reserve(notifications.size());
  for (const auto& n : notifications) {
    dispatch::Alert a = to_alert(n);
    // A firing alert lasts until its valid-until time unless the rule sends
    // it again (so one whose rule is gone resolves, as in Alertmanager).
    if (!n.resolved) a.ends_at_ms = n.ends_at_ms;
    alerts.push_back(std::move(a));
  }
  put(std::move(alerts));
}

void Delivery::put(std::vector<dispatch::Alert> alerts) {
  const std::int64_t now = now_ms();
  {
    std::lock_guard lock(alerts_mu_);
    for (dispatch::Alert& a : alerts) {
      const std::uint64_t fp = dispatch::fingerprint(a.labels);
      if (received_family_)
        received_family_->labels(a.resolved_at(now) ? "resolved" : "firing").inc();
      auto [it, created] = alerts_.try_emplace(fp);
      if (!created && overlaps(it->second.alert, a))
        a = merge(it->second.alert, it->second.timeout, a, now);
      it->second.alert = a;
      it->second.updated_at_ms = now;
      if (inhibitors_) inhibitors_->add(fp, a);
    }
  }
  // Outside alerts_mu_: the dispatcher calls muted() under its own lock.
  dispatcher()->put(alerts, now);
  {
    std::lock_guard run(run_mu_);
    woken_ = true;
  }
  run_cv_.notify_all();
}

void Delivery::rebuild_inhibitors(const Config& c) {
  auto fresh = std::make_unique<Inhibitors>(c.routing.inhibit_rules);
  std::lock_guard lock(alerts_mu_);
  if (!fresh->rules.empty())
    for (const auto& [fp, h] : alerts_) fresh->add(fp, h.alert);
  inhibitors_ = std::move(fresh);
}

std::optional<std::uint64_t> Delivery::inhibitor_of(const LabelSet& labels,
                                                    std::int64_t now_ms) const {
  std::lock_guard lock(alerts_mu_);
  if (!inhibitors_) return std::nullopt;
  return inhibitors_->find(labels, now_ms);
}

std::vector<std::string> Delivery::inhibited_by(const LabelSet& labels, std::int64_t now_ms) const {
  // Alertmanager reports the first inhibiting alert.
  if (auto fp = inhibitor_of(labels, now_ms)) return {fingerprint_string(*fp)};
  return {};
}

bool Delivery::muted(const LabelSet& labels) const {
  if (!silences_.mutes(labels).empty()) return true;
  return inhibitor_of(labels, now_ms()).has_value();  // no id text: this runs per alert per flush
}

bool Delivery::time_muted(const dispatch::Route& route, std::int64_t now) const {
  if (route.mute_time_intervals.empty() && route.active_time_intervals.empty()) return false;
  const auto c = config();
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(now));
  const auto in = [&](const std::string& name) {
    auto it = c->routing.time_intervals.find(name);
    return it != c->routing.time_intervals.end() && routing::contains(it->second, t);
  };
  if (std::any_of(route.mute_time_intervals.begin(), route.mute_time_intervals.end(), in))
    return true;
  // Active intervals: held outside all of them.
  return !route.active_time_intervals.empty() &&
         std::none_of(route.active_time_intervals.begin(), route.active_time_intervals.end(), in);
}

bool Delivery::send(const Config& c, dispatch::Flush& flush, Worker* worker) {
  const dispatch::GroupNotification& n = flush.notification;
  if (n.receiver.empty()) return true;  // only the log learns something
  const Integration* integration = c.integration(n.receiver, n.integration);
  if (!integration) return false;  // reconfigured away meanwhile
  firebreak::Counter sent, failed;
  firebreak::Histogram latency;
  if (sent_family_) {
    sent = sent_family_->labels(n.receiver, n.integration);
    failed = failed_family_->labels(n.receiver, n.integration);
    latency = latency_family_->labels(n.receiver, n.integration);
  }
  std::mt19937_64 rng;
  {
    std::lock_guard run(run_mu_);
    rng.seed(rng_());
  }
  for (int attempt = 1;; ++attempt) {
    const SendResult r = integration->notifier->notify(n);
    if (r.ok()) {
      sent.inc();
      latency.observe(static_cast<double>(now_ms() - n.at_ms) / 1000.0);
      return true;
    }
    failed.inc();
    FB_LOG_WARN("alert_notification_failed", "", {"receiver", n.receiver},
                {"integration", n.integration}, {"group_key", n.group_key}, {"attempt", attempt},
                {"retryable", r.retryable}, {"error", r.error});
    if (!worker || !r.retryable) return false;
    const auto wait = backoff_delay(options_.backoff, attempt, rng);
    if (now_ms() + wait.count() >= flush.deadline_ms) return false;  // the next flush goes on
    std::unique_lock lock(worker->mu);
    if (worker->cv.wait_for(lock, wait, [&] { return worker->stopping; })) return false;
  }
}

void Delivery::finish(dispatch::Flush& flush, bool delivered) {
  dispatcher()->finish(flush, delivered);
  if (delivered) save_log();
}

void Delivery::save_log() {
  if (!options_.store) return;
  std::lock_guard lock(save_mu_);
  const auto d = dispatcher();
  const auto changes = d->take_log_changes();
  if (changes.empty()) return;
  std::string error;
  if (options_.store->save_group_log(changes, &error)) {
    if (log_save_failing_) FB_LOG_INFO("notification_log_save_recovered", "saved again");
    log_save_failing_ = false;
    return;
  }
  d->mark_log_changed(changes);
  if (log_save_failing_) return;  // one line per episode (a full disk), not per delivery
  log_save_failing_ = true;
  FB_LOG_ERROR("notification_log_save_failed", "kept in memory; saved again at the next change",
               {"error", error});
}

void Delivery::save_silences() {
  if (!options_.store) return;
  std::string error;
  if (!options_.store->save_silences(silences_.snapshot(), &error))
    FB_LOG_ERROR("silences_save_failed", "kept in memory; saved again at the next change",
                 {"error", error});
}

void Delivery::housekeeping(std::int64_t now) {
  save_log();  // again, if the last save failed (a full disk)
  if (now - last_gc_ms_ < kGcIntervalMs) return;
  last_gc_ms_ = now;
  {
    std::lock_guard lock(alerts_mu_);
    std::erase_if(alerts_, [&](const auto& kv) {
      if (!kv.second.alert.resolved_at(now - kResolvedRetentionMs)) return false;
      if (inhibitors_) inhibitors_->remove(kv.first, kv.second.alert.labels);
      return true;
    });
  }
  if (silences_.gc() > 0) save_silences();
}

std::size_t Delivery::run_due() {
  const std::int64_t now = now_ms();
  housekeeping(now);
  const auto c = config();
  std::size_t delivered = 0;
  for (dispatch::Flush& f : dispatcher()->take_due(now)) {
    const bool ok = send(*c, f, nullptr);
    if (ok && !f.notification.receiver.empty()) ++delivered;
    finish(f, ok);
  }
  return delivered;
}

void Delivery::dispatch_loop() {
  for (;;) {
    {
      std::unique_lock lock(run_mu_);
      if (!running_) return;
    }
    const std::int64_t now = now_ms();
    housekeeping(now);
    const auto d = dispatcher();
    auto due = d->take_due(now);
    {
      std::lock_guard run(run_mu_);
      for (dispatch::Flush& f : due) {
        const std::string key = f.notification.receiver + '\x1f' + f.notification.integration;
        auto w = workers_.find(key);
        if (f.notification.receiver.empty() || w == workers_.end()) {
          // Nothing to send (only the log learns), or an integration gone.
          finish(f, f.notification.receiver.empty());
          continue;
        }
        Worker& worker = *w->second;
        {
          std::lock_guard lock(worker.mu);
          worker.queue.push_back(std::move(f));
          if (worker.queue.size() > worker.idle && worker.threads.size() < kSendersPerIntegration)
            worker.threads.emplace_back([this, &worker] { worker_loop(worker); });
        }
        worker.cv.notify_all();  // not _one: a thread in a retry backoff waits on it too
      }
    }
    std::unique_lock lock(run_mu_);
    std::chrono::milliseconds wait = kDispatchPoll;
    if (auto next = d->next_due_ms())
      wait = std::clamp(std::chrono::milliseconds(*next - now_ms()), std::chrono::milliseconds(1),
                        kDispatchPoll);
    run_cv_.wait_for(lock, wait, [&] { return !running_ || woken_; });
    woken_ = false;
  }
}

std::unique_ptr<Delivery::Worker> Delivery::start_worker() {
  auto w = std::make_unique<Worker>();
  std::lock_guard lock(w->mu);
  w->threads.emplace_back([this, &ref = *w] { worker_loop(ref); });
  return w;
}

void Delivery::worker_loop(Worker& w) {
  for (;;) {
    dispatch::Flush f;
    {
      std::unique_lock lock(w.mu);
      ++w.idle;
      w.cv.wait(lock, [&] { return w.stopping || !w.queue.empty(); });
      --w.idle;
      if (w.stopping) return;
      f = std::move(w.queue.front());
      w.queue.pop_front();
    }
    const bool ok = send(*config(), f, &w);
    finish(f, ok);
  }
}

void Delivery::start() {
  std::lock_guard run(run_mu_);
  if (running_) return;
  running_ = true;
  const auto c = config();
  for (const Receiver& r : c->receivers) {
    for (const Integration& i : r.integrations)
      workers_.emplace(r.name + '\x1f' + i.name, start_worker());
  }
  dispatch_thread_ = std::thread([this] { dispatch_loop(); });
}

void Delivery::stop() {
  std::vector<std::unique_ptr<Worker>> workers;
  {
    std::lock_guard run(run_mu_);
    if (!running_) {
      save_log();
      return;
    }
    running_ = false;
    for (auto& [key, w] : workers_) workers.push_back(std::move(w));
    workers_.clear();
  }
  run_cv_.notify_all();
  if (dispatch_thread_.joinable()) dispatch_thread_.join();
  stop_workers(std::move(workers));
  save_log();
}

std::vector<AlertView> Delivery::alerts() {
  const std::int64_t now = now_ms();
  const auto c = config();
  std::vector<AlertView> out;
  {
    std::lock_guard lock(alerts_mu_);
    for (const auto& [fp, h] : alerts_) {
      if (h.alert.resolved_at(now)) continue;
      out.push_back({.alert = h.alert, .fingerprint = fp, .updated_at_ms = h.updated_at_ms});
    }
  }
  for (AlertView& v : out) {
    for (const routing::Route* r : routing::match_routes(c->routing.route, v.alert.labels))
      if (std::find(v.receivers.begin(), v.receivers.end(), r->options.receiver) ==
          v.receivers.end())
        v.receivers.push_back(r->options.receiver);
    v.silenced_by = silences_.mutes(v.alert.labels);
    v.inhibited_by = inhibited_by(v.alert.labels, now);
  }
  return out;
}

std::vector<dispatch::GroupStatus> Delivery::groups() const {
  return dispatcher()->groups();
}

std::vector<std::string> Delivery::receiver_names() const {
  std::vector<std::string> out;
  for (const Receiver& r : config()->receivers) out.push_back(r.name);
  return out;
}

routing::RoutingConfig Delivery::routing() const {
  return config()->routing;
}

}  // namespace watch::alerting
