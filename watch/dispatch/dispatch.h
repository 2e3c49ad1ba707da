// Alert dispatch with Alertmanager 0.25's semantics (dispatch/dispatch.go,
// notify/notify.go): every alert goes to the routes that match it; within a
// route, alerts with the same values of the route's group_by labels form an
// aggregation group with its own timers; a group flushes first after
// group_wait, then every group_interval; at a flush each receiver gets the
// group's alerts unless they are muted (silences, inhibitions, time
// intervals) and unless the notification log says it already knows them (a
// firing set it was told, resolved alerts it was told, repeat_interval not
// yet passed).
//
// The module knows no configuration format and no transport: routing, muting
// and sending are functions given to it, so it is tested by moving a clock.
//
//   watch::dispatch::Dispatcher d({.route = [&](const LabelSet& l) { return tree.routes(l); },
//                                  .muted = [&](const LabelSet& l) { return silences.mutes(l); },
//                                  .send = [&](const GroupNotification& n) { return send(n); }});
//   d.put(alerts, now_ms);   // from rule evaluation or POST /api/v2/alerts
//   d.tick(now_ms);          // flushes the groups that are due (a thread calls it)
//
// Beyond Alertmanager (Options::resolve_muted, on by default): a receiver
// that was told an alert fired is told it resolved even when the alert is
// silenced or inhibited by then (Alertmanager drops that notice,
// alertmanager#226).
//
// Thread-safety: all methods are thread-safe (one mutex); the hooks are
// called with it released (send() may block for a whole HTTP exchange).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "watch/model/model.h"

namespace watch::dispatch {

// One alert, as Alertmanager holds it.
struct Alert {
  LabelSet labels;
  std::vector<Label> annotations;
  std::int64_t starts_at_ms = 0;
  std::int64_t ends_at_ms = 0;  // 0: open-ended (firing until told otherwise)
  std::string generator_url;

  bool resolved_at(std::int64_t now_ms) const { return ends_at_ms != 0 && ends_at_ms <= now_ms; }
};

// Alertmanager's fingerprint of a label set (model.LabelSet.Fingerprint).
std::uint64_t fingerprint(const LabelSet& labels);

// A route an alert goes to, with the settings its groups use.
struct Route {
  std::string key;  // unique in the tree (Alertmanager's route key)
  std::string receiver;
  // One of the receiver's integrations ("webhook/0", "slack/1"): each has
  // its own groups and log entries (Alertmanager's per-integration nflog),
  // so a failed slack send does not re-send the webhook's. "" when the
  // receiver is one thing.
  std::string integration;
  std::vector<std::string> group_by;  // label names
  bool group_by_all = false;          // group_by: ['...']
  std::int64_t group_wait_ms = 30'000;
  std::int64_t group_interval_ms = 300'000;
  std::int64_t repeat_interval_ms = 4 * 3'600'000;
  bool send_resolved = true;  // the receiver's
  // Names of time intervals (for Hooks::time_muted).
  std::vector<std::string> mute_time_intervals;
  std::vector<std::string> active_time_intervals;
};

// What one receiver is sent at one flush of one group.
struct GroupNotification {
  std::string receiver;
  std::string integration;  // the route's
  std::string group_key;    // Alertmanager's: route key + group labels
  LabelSet group_labels;
  std::vector<Alert> alerts;  // firing ones first, then resolved ones (sorted by labels)
  std::int64_t at_ms = 0;
  bool firing() const;  // at least one alert still firing
};

// What the notification log remembers of the last notification a receiver
// got for a group (Alertmanager's nflog entry).
struct LogEntry {
  std::set<std::uint64_t> firing;    // fingerprints
  std::set<std::uint64_t> resolved;  // fingerprints
  std::int64_t at_ms = 0;
};

struct Hooks {
  // The routes an alert goes to (one at least: the root's receiver).
  std::function<std::vector<Route>(const LabelSet&)> route;
  // Whether an alert is silenced or inhibited now.
  std::function<bool(const LabelSet&)> muted = [](const LabelSet&) { return false; };
  // Whether a route's notifications are held now (its mute_time_intervals
  // or active_time_intervals).
  std::function<bool(const Route&, std::int64_t now_ms)> time_muted =
      [](const Route&, std::int64_t) { return false; };
  // Delivers; true when the receiver has it (the log is updated only then:
  // a failed send is tried again at the group's next flush).
  std::function<bool(const GroupNotification&)> send;
};

// One changed entry of the notification log; no entry: it was removed.
struct LogChange {
  std::string key;
  std::optional<LogEntry> entry;
};

// The notification log's key for a receiver's integration and a group.
std::string log_key(std::string_view receiver, std::string_view integration,
                    std::string_view group_key);

struct Options {
  bool resolve_muted = true;  // see the header comment
  // Resolved alerts stay this long for groups to report them.
  std::int64_t resolved_retention_ms = 15 * 60'000;
  // A log entry older than this is forgotten (Alertmanager's
  // --data.retention); longer than any repeat_interval in use.
  std::int64_t log_retention_ms = 120 * 3'600'000;
};

// One flush of one group to one receiver's integration, from take_due() to
// finish(). notification.receiver is "" when there is nothing to send but
// the log must still learn that the firing set is empty (send_resolved off:
// otherwise the next firing of the same alerts would look like old news).
struct Flush {
  std::string slot;     // the group's
  std::string log_key;  // log_key() of the receiver, integration and group
  GroupNotification notification;
  LogEntry entry;            // what the log says once it is delivered
  std::int64_t deadline_ms;  // the group's next flush: retry until then
  std::vector<std::pair<std::uint64_t, std::int64_t>> resolved;  // fingerprint, ends_at
};

// One aggregation group, for status views and /api/v2/alerts/groups.
struct GroupStatus {
  std::string key;
  std::string receiver;
  std::string integration;
  LabelSet group_labels;
  std::vector<Alert> alerts;
  std::int64_t next_flush_ms = 0;
};

class Dispatcher {
 public:
  explicit Dispatcher(Hooks hooks, Options options = {});

  // Adds or updates alerts (by labels: a later copy replaces an earlier
  // one, as Alertmanager's store merges them) and puts each in the groups
  // of its routes. A new group flushes after group_wait, or at once when
  // the alert has been firing longer than group_wait already.
  void put(const std::vector<Alert>& alerts, std::int64_t now_ms);

  // Flushes every group that is due at now_ms, sending through hooks.send
  // one after the other; returns how many receivers were sent something.
  // Call it at least as often as the shortest group_wait / group_interval
  // you want honoured. take_due() + finish() is the same, for callers that
  // send on threads of their own.
  std::size_t tick(std::int64_t now_ms);

  // The flushes due at now_ms (hooks.send is not called). Each group with a
  // flush out stays out of later take_due() calls until finish() is called
  // for it, so its next flush starts after this one is done.
  std::vector<Flush> take_due(std::int64_t now_ms);
  // Records a flush's outcome: delivered, the log learns what the receiver
  // was told and resolved alerts it heard of leave the group; not
  // delivered, nothing changes and the group's next flush tries again.
  void finish(Flush& flush, bool delivered);

  // When the next flush is due (to sleep until then); nullopt: no group.
  std::optional<std::int64_t> next_due_ms() const;

  std::vector<GroupStatus> groups() const;

  // The notification log, by receiver + "\x1f" + integration + "\x1f" +
  // group key (log_key()): persisted so a
  // restart neither repeats a page before repeat_interval nor forgets who
  // must be told a resolve.
  std::map<std::string, LogEntry> log() const;
  // Replaces the log; restored entries count as saved (no change to take).
  void restore_log(std::map<std::string, LogEntry> log);
  // The entries changed since the last call (nullopt: removed), for saving
  // only what changed: a flush costs one row, not the whole log.
  std::vector<LogChange> take_log_changes();
  // Marks keys changed again (their save failed, or they come from another
  // dispatcher's log at a reconfiguration).
  void mark_log_changed(const std::vector<LogChange>& changes);

 private:
  struct Group {
    Route route;
    LabelSet group_labels;
    std::map<std::uint64_t, Alert> alerts;  // by fingerprint
    std::int64_t next_flush_ms = 0;
    bool flushed = false;
    bool in_flight = false;  // a flush handed out by take_due, not finished
  };

  std::string group_key(const Route& route, const LabelSet& group_labels) const;
  // groups_ holds one group per receiver and integration of a route's
  // group (two routes may share a key: Alertmanager keys groups by route).
  static std::string slot(const std::string& group_key, const Route& route) {
    return log_key(route.receiver, route.integration, group_key);
  }
  LabelSet group_labels(const Route& route, const LabelSet& alert) const;
  // The notification for one flush, or nullopt when nothing needs sending.
  std::optional<GroupNotification> prepare(const Group& g, std::int64_t now_ms,
                                           const LogEntry* entry, LogEntry& next_entry) const;

  Hooks hooks_;
  Options options_;
  mutable std::mutex mu_;
  std::map<std::string, Group> groups_;  // by slot()
  std::map<std::string, LogEntry> log_;
  std::set<std::string> log_changed_;  // keys of log_ not saved since their change
};

}  // namespace watch::dispatch
