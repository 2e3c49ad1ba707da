// An alerting rule and its alerts' state machine, as Prometheus's
// rules/alerting.go (2.42): each output series of the expression is an
// alert, identified by its labels (series labels without __name__, plus the
// rule's templated labels, plus alertname).
//
//   inactive --(in result)--> pending --(held `for`)--> firing
//   firing --(gone from result, after keep_firing_for)--> inactive (resolved_at set;
//     kept 15m so the resolution is re-sent, then dropped)
//   pending --(gone from result)--> dropped
//
//   auto rule = watch::rules::AlertingRule::create(spec, {.external_labels = ...});
//   auto samples = rule->eval(t_ms, query, 0);   // ALERTS / ALERTS_FOR_STATE
//   for (auto& n : rule->notifications(t_ms, 60000, interval_ms)) deliver(n);
//
// Time is an argument everywhere: nothing reads a clock.
// Thread-safety: not thread-safe; a Group evaluates its rules one at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "watch/model/model.h"
#include "watch/promql/ast.h"
#include "watch/rules/rule.h"
#include "watch/rules/rule_file.h"

namespace watch::rules {

enum class AlertState { kInactive, kPending, kFiring };
std::string_view to_string(AlertState state);  // "inactive", "pending", "firing"

// How long a resolved alert is kept (and its resolution re-sent), as Prometheus.
inline constexpr std::int64_t kResolvedRetentionMs = 15 * 60 * 1000;

struct Alert {
  LabelSet labels;                 // includes alertname
  std::vector<Label> annotations;  // expanded, sorted by name
  AlertState state = AlertState::kInactive;
  double value = 0;
  std::int64_t active_at_ms = 0;          // when it first became pending
  std::int64_t fired_at_ms = 0;           // 0: never fired
  std::int64_t resolved_at_ms = 0;        // 0: not resolved
  std::int64_t keep_firing_since_ms = 0;  // 0: condition holds (or never kept firing)
  std::int64_t last_sent_ms = 0;          // 0: never sent
  std::int64_t valid_until_ms = 0;
  bool restored = false;  // held since before a restart (not persisted)
};

// A state change or re-send for the notifier (Alertmanager's alert shape).
struct Notification {
  LabelSet labels;
  std::vector<Label> annotations;
  std::int64_t starts_at_ms = 0;  // fired_at
  std::int64_t ends_at_ms = 0;    // resolved_at when resolved, else valid-until
  bool resolved = false;
  std::string generator_url;
};

struct AlertingOptions {
  std::map<std::string, std::string> external_labels;  // for $externalLabels
  std::string external_url;                            // for $externalURL and generator URLs
};

// The persisted form of one alert (for the store; see Group::export_state).
struct AlertRecord {
  LabelSet labels;
  std::vector<Label> annotations;
  AlertState state = AlertState::kInactive;
  double value = 0;
  std::int64_t active_at_ms = 0;
  std::int64_t fired_at_ms = 0;
  std::int64_t resolved_at_ms = 0;
  std::int64_t keep_firing_since_ms = 0;
  std::int64_t last_sent_ms = 0;
};

class AlertingRule {
 public:
  // nullptr and `error` set when the expression does not parse.
  static std::unique_ptr<AlertingRule> create(const RuleSpec& spec, AlertingOptions options = {},
                                              std::string* error = nullptr);

  // Evaluates at t_ms and advances every alert's state. Returns the ALERTS
  // (value 1, with alertstate) and ALERTS_FOR_STATE (value active_at in
  // seconds) samples of the pending and firing alerts, at t_ms. On a query
  // error: health kErr, last_error set, states unchanged, nothing returned.
  // `limit` > 0: more active alerts than that is an error and clears them.
  //
  // `adoptable` (may be null): restored alerts that other rules of this
  // rule's name hold (the rule pack splits one alert into rules by `for`);
  // the ones this evaluation produces, and that this rule does not hold,
  // are taken over with their state (timers, sent times) and removed from
  // it (the group then has the other rule forget them). So an alert that
  // moves to another rule of its name across a restart or a reload keeps
  // its identity and its `for` timer.
  std::vector<OutputSample> eval(std::int64_t t_ms, const QueryFn& query, int limit,
                                 std::map<LabelSet, AlertRecord>* adoptable = nullptr);

  // The alerts that need sending at t_ms (Prometheus's needsSending):
  // firing ones not sent for resend_delay_ms, and resolved ones whose
  // resolution was not sent yet; marks them sent. interval_ms is the
  // group's, used for ends_at (valid for 4 intervals or resend delays).
  std::vector<Notification> notifications(std::int64_t t_ms, std::int64_t resend_delay_ms,
                                          std::int64_t interval_ms);

  // The notification of every firing alert and of every resolved one still
  // held, as of t_ms, without marking anything sent: what a restarted
  // watch hands its delivery again (which knows what each receiver heard).
  std::vector<Notification> current_notifications(std::int64_t t_ms, std::int64_t resend_delay_ms,
                                                  std::int64_t interval_ms) const;

  // Pending and firing alerts (not resolved ones), sorted by labels.
  std::vector<Alert> active_alerts() const;
  // All held alerts including resolved ones still retained.
  std::vector<Alert> all_alerts() const;
  // The highest state of any alert.
  AlertState state() const;

  std::vector<AlertRecord> export_state() const;
  // Replaces the held alerts with `records` (a restart: nothing re-pages,
  // no `for` timer restarts).
  void import_state(const std::vector<AlertRecord>& records);
  // Adds one restored alert to the held ones (replacing one of its labels).
  void adopt(const AlertRecord& record);
  // The time watch was down before this start: [from_ms, to_ms), from its
  // newest stored sample to its first scrapes. Until half of the shortest
  // range window of the expression that reads that time holds samples from
  // after the start, a restored alert the expression does not produce keeps
  // its state (a pending one does not fire either): the window may read the
  // outage (or a run of short lives), not the service. Then absence resolves
  // it as usual: at most half that window after the first scrapes.
  void set_restart_gap(std::int64_t from_ms, std::int64_t to_ms) {
    gap_from_ms_ = from_ms;
    gap_to_ms_ = to_ms;
  }
  // Drops the held alert of these labels, sending nothing (it moved to
  // another rule of the same name).
  void forget(const LabelSet& labels) { active_.erase(labels); }
  // Whether an alert of these labels is pending or firing.
  bool is_active(const LabelSet& labels) const {
    auto it = active_.find(labels);
    return it != active_.end() && it->second.state != AlertState::kInactive;
  }

  const std::string& name() const { return spec_.name; }
  const RuleSpec& spec() const { return spec_; }
  RuleHealth health() const { return health_; }
  const std::string& last_error() const { return last_error_; }
  std::int64_t last_eval_ms() const { return last_eval_ms_; }

 private:
  AlertingRule(RuleSpec spec, promql::ExprPtr expr, AlertingOptions options)
      : spec_(std::move(spec)), expr_(std::move(expr)), options_(std::move(options)) {}

  Notification notification_of(const Alert& a) const;
  // Whether the shortest window reading the outage is at most half fresh at t_ms.
  bool gap_fills_a_window(std::int64_t t_ms) const;

  RuleSpec spec_;
  promql::ExprPtr expr_;
  AlertingOptions options_;
  std::map<LabelSet, Alert> active_;  // keyed by the alert's labels
  RuleHealth health_ = RuleHealth::kUnknown;
  std::string last_error_;
  std::int64_t last_eval_ms_ = 0;
  std::int64_t gap_from_ms_ = 0;
  std::int64_t gap_to_ms_ = 0;
};

}  // namespace watch::rules
