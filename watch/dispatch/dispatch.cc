#include "watch/dispatch/dispatch.h"

#include <algorithm>
#include <utility>

namespace watch::dispatch {

namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;
constexpr unsigned char kSeparator = 0xff;

std::uint64_t fnv_add(std::uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

std::uint64_t fnv_add_byte(std::uint64_t h, unsigned char c) {
  h ^= c;
  return h * kFnvPrime;
}

// Firing alerts first, then resolved ones; each by labels (Alertmanager
// sorts a notification's alerts by labels).
void order(std::vector<Alert>& alerts, std::int64_t now_ms) {
  std::stable_sort(alerts.begin(), alerts.end(), [&](const Alert& a, const Alert& b) {
    const bool ra = a.resolved_at(now_ms), rb = b.resolved_at(now_ms);
    if (ra != rb) return !ra;
    return a.labels < b.labels;
  });
}

template <class Set>
bool subset(const Set& small, const Set& big) {
  return std::includes(big.begin(), big.end(), small.begin(), small.end());
}

}  // namespace

std::uint64_t fingerprint(const LabelSet& labels) {
  // Labels are kept sorted by name: Alertmanager's order.
  std::uint64_t h = kFnvOffset;
  for (const Label& l : labels) {
    h = fnv_add(h, l.name);
    h = fnv_add_byte(h, kSeparator);
    h = fnv_add(h, l.value);
    h = fnv_add_byte(h, kSeparator);
  }
  return h;
}

std::string log_key(std::string_view receiver, std::string_view integration,
                    std::string_view group_key) {
  std::string out(receiver);
  out += '\x1f';
  out += integration;
  out += '\x1f';
  out += group_key;
  return out;
}

bool GroupNotification::firing() const {
  return std::any_of(alerts.begin(), alerts.end(),
                     [&](const Alert& a) { return !a.resolved_at(at_ms); });
}

Dispatcher::Dispatcher(Hooks hooks, Options options)
    : hooks_(std::move(hooks)), options_(options) {}

LabelSet Dispatcher::group_labels(const Route& route, const LabelSet& alert) const {
  if (route.group_by_all) return alert;
  std::vector<Label> out;
  for (const std::string& name : route.group_by)
    if (const auto v = alert.get(name); !v.empty()) out.push_back({name, std::string(v)});
  return LabelSet::from(std::move(out));
}

std::string Dispatcher::group_key(const Route& route, const LabelSet& labels) const {
  return route.key + ":" + labels.braces();
}

void Dispatcher::put(const std::vector<Alert>& alerts, std::int64_t now_ms) {
  // Routing runs outside the lock: it may be a user's regexes over a large tree.
  std::vector<std::pair<const Alert*, std::vector<Route>>> routed;
  routed.reserve(alerts.size());
  for (const Alert& a : alerts) routed.emplace_back(&a, hooks_.route(a.labels));
  std::lock_guard lock(mu_);
  for (auto& [alert, routes] : routed) {
    const std::uint64_t fp = fingerprint(alert->labels);
    for (Route& route : routes) {
      const LabelSet labels = group_labels(route, alert->labels);
      auto [it, created] = groups_.try_emplace(slot(group_key(route, labels), route));
      Group& g = it->second;
      if (created) {
        g.route = std::move(route);
        g.group_labels = labels;
        g.next_flush_ms = now_ms + g.route.group_wait_ms;
      }
      // An alert already firing longer than group_wait needs no waiting for
      // companions (Alertmanager: "the alert is already old enough").
      if (!g.flushed && !alert->resolved_at(now_ms) &&
          alert->starts_at_ms + g.route.group_wait_ms < now_ms)
        g.next_flush_ms = std::min(g.next_flush_ms, now_ms);
      g.alerts[fp] = *alert;
    }
  }
}

std::optional<GroupNotification> Dispatcher::prepare(const Group& g, std::int64_t now_ms,
                                                     const LogEntry* entry,
                                                     LogEntry& next_entry) const {
  GroupNotification n{.receiver = g.route.receiver,
                      .integration = g.route.integration,
                      .group_key = group_key(g.route, g.group_labels),
                      .group_labels = g.group_labels,
                      .at_ms = now_ms};
  for (const auto& [fp, a] : g.alerts) {
    const bool resolved = a.resolved_at(now_ms);
    if (hooks_.muted(a.labels)) {
      // Muted: left out, except a resolve the receiver must hear of because
      // it was told the alert fired (Firebreak's resolve_muted).
      const bool told = entry && entry->firing.contains(fp);
      if (!(resolved && told && options_.resolve_muted)) continue;
    }
    (resolved ? next_entry.resolved : next_entry.firing).insert(fp);
    n.alerts.push_back(a);
  }
  // Everything muted: Alertmanager's pipeline stops there, the log unchanged.
  if (n.alerts.empty()) return std::nullopt;
  // Alertmanager's DedupStage.needsUpdate.
  bool needed;
  if (!entry) {
    needed = !next_entry.firing.empty();  // never told: only firing alerts open a conversation
  } else if (!subset(next_entry.firing, entry->firing)) {
    needed = true;  // something new fires
  } else if (next_entry.firing.empty()) {
    // Everything it was told about resolved (or nothing it knows fired).
    needed = !entry->firing.empty();
  } else if (g.route.send_resolved && !subset(next_entry.resolved, entry->resolved)) {
    needed = true;
  } else {
    needed = entry->at_ms <= now_ms - g.route.repeat_interval_ms;
  }
  if (!needed) return std::nullopt;
  if (!g.route.send_resolved) {
    std::erase_if(n.alerts, [&](const Alert& a) { return a.resolved_at(now_ms); });
    if (n.alerts.empty()) {
      // Nothing to say, but the log must learn the firing set is empty, or
      // the next firing of the same alerts would look like old news.
      n.receiver.clear();
    }
  }
  order(n.alerts, now_ms);
  next_entry.at_ms = now_ms;
  return n;
}

std::vector<Flush> Dispatcher::take_due(std::int64_t now_ms) {
  std::vector<Flush> due;
  std::lock_guard lock(mu_);
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& g = it->second;
    // A group whose last flush is still being sent waits for it (as an
    // Alertmanager group's next flush starts when the last one is done).
    if (g.next_flush_ms > now_ms || g.in_flight) {
      ++it;
      continue;
    }
    // Resolved alerts long past their retention leave the group.
    std::erase_if(g.alerts, [&](const auto& kv) {
      return kv.second.resolved_at(now_ms - options_.resolved_retention_ms);
    });
    if (g.alerts.empty()) {
      it = groups_.erase(it);
      continue;
    }
    g.flushed = true;
    g.next_flush_ms = now_ms + g.route.group_interval_ms;
    if (hooks_.time_muted(g.route, now_ms)) {
      ++it;
      continue;
    }
    Flush f{.slot = it->first,
            .log_key =
                log_key(g.route.receiver, g.route.integration, group_key(g.route, g.group_labels)),
            .deadline_ms = now_ms + g.route.group_interval_ms};
    auto e = log_.find(f.log_key);
    if (auto n = prepare(g, now_ms, e == log_.end() ? nullptr : &e->second, f.entry)) {
      f.notification = std::move(*n);
      for (const auto& [fp, a] : g.alerts)
        if (a.resolved_at(now_ms)) f.resolved.emplace_back(fp, a.ends_at_ms);
      g.in_flight = true;
      due.push_back(std::move(f));
    } else {
      // Nothing to tell: resolved alerts have been dealt with (Alertmanager
      // deletes them after any flush that did not fail), except muted
      // ones a receiver was told fired, kept for when the mute ends.
      std::erase_if(g.alerts, [&](const auto& kv) {
        if (!kv.second.resolved_at(now_ms)) return false;
        const bool told = e != log_.end() && e->second.firing.contains(kv.first);
        return !(told && options_.resolve_muted);
      });
      // An empty group goes (Alertmanager's maintenance removes it): a
      // later alert starts a new one, with its group_wait.
      if (g.alerts.empty()) {
        it = groups_.erase(it);
        continue;
      }
    }
    ++it;
  }
  // The log forgets what nobody was told about for its retention
  // (Alertmanager's nflog retention).
  std::erase_if(log_, [&](const auto& kv) {
    if (kv.second.at_ms >= now_ms - options_.log_retention_ms) return false;
    log_changed_.insert(kv.first);
    return true;
  });
  return due;
}

void Dispatcher::finish(Flush& flush, bool delivered) {
  std::lock_guard lock(mu_);
  auto g = groups_.find(flush.slot);
  if (g != groups_.end()) g->second.in_flight = false;
  if (!delivered) return;  // the log unchanged: the next flush tries again
  if (flush.entry.firing.empty() && flush.entry.resolved.empty())
    log_.erase(flush.log_key);
  else
    log_[flush.log_key] = std::move(flush.entry);
  log_changed_.insert(flush.log_key);
  if (g == groups_.end()) return;
  // Resolved alerts the receiver now knows about leave the group, unless
  // they fired again meanwhile (Alertmanager's DeleteIfNotModified).
  for (const auto& [fp, ends_at] : flush.resolved) {
    auto a = g->second.alerts.find(fp);
    if (a != g->second.alerts.end() && a->second.ends_at_ms == ends_at) g->second.alerts.erase(a);
  }
  if (g->second.alerts.empty()) groups_.erase(g);
}

std::size_t Dispatcher::tick(std::int64_t now_ms) {
  std::size_t sent = 0;
  for (Flush& f : take_due(now_ms)) {
    // A flush with no receiver only updates the log (see Flush).
    const bool nothing_to_send = f.notification.receiver.empty();
    const bool delivered = nothing_to_send || hooks_.send(f.notification);
    if (delivered && !nothing_to_send) ++sent;
    finish(f, delivered);
  }
  return sent;
}

std::optional<std::int64_t> Dispatcher::next_due_ms() const {
  std::lock_guard lock(mu_);
  std::optional<std::int64_t> out;
  for (const auto& [key, g] : groups_)
    if (!out || g.next_flush_ms < *out) out = g.next_flush_ms;
  return out;
}

std::vector<GroupStatus> Dispatcher::groups() const {
  std::lock_guard lock(mu_);
  std::vector<GroupStatus> out;
  for (const auto& [key, g] : groups_) {
    GroupStatus s{.key = group_key(g.route, g.group_labels),
                  .receiver = g.route.receiver,
                  .integration = g.route.integration,
                  .group_labels = g.group_labels,
                  .next_flush_ms = g.next_flush_ms};
    for (const auto& [fp, a] : g.alerts) s.alerts.push_back(a);
    out.push_back(std::move(s));
  }
  return out;
}

std::map<std::string, LogEntry> Dispatcher::log() const {
  std::lock_guard lock(mu_);
  return log_;
}

void Dispatcher::restore_log(std::map<std::string, LogEntry> log) {
  std::lock_guard lock(mu_);
  log_ = std::move(log);
  log_changed_.clear();
}

std::vector<LogChange> Dispatcher::take_log_changes() {
  std::lock_guard lock(mu_);
  std::vector<LogChange> out;
  out.reserve(log_changed_.size());
  for (const std::string& key : log_changed_) {
    auto e = log_.find(key);
    out.push_back({key, e == log_.end() ? std::nullopt : std::optional<LogEntry>(e->second)});
  }
  log_changed_.clear();
  return out;
}

void Dispatcher::mark_log_changed(const std::vector<LogChange>& changes) {
  std::lock_guard lock(mu_);
  for (const LogChange& c : changes) log_changed_.insert(c.key);
}

}  // namespace watch::dispatch
