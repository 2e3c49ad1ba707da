// A rule group: its rules evaluated in order at one timestamp, as
// Prometheus's rules/group.go. Each rule's output goes to the append
// function before the next rule runs, so a later rule sees an earlier
// recording rule's result at the same timestamp; series a rule wrote last
// time and not this time get a staleness marker; alerting rules' state
// changes go to the notify function.
//
//   watch::rules::Group group(spec, {.query = watch::rules::engine_query_fn(engine),
//                                    .notify = [&](auto& ns) { delivery.push(ns); },
//                                    .append = [&](auto& samples) { head.append(samples); }});
//   group.import_state(store.load_alerts(group.name()));    // before the first eval
//   group.eval(t_ms);                                        // at each interval
//   store.save_alerts(group.export_state());
//
// Dependencies: a query function, a notify function and an append function;
// no storage, clock or network of its own. Time is an argument.
// Thread-safety: not thread-safe; evaluate a group from one thread at a time
// (Prometheus runs one goroutine per group).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "watch/rules/alerting.h"
#include "watch/rules/recording.h"
#include "watch/rules/rule.h"
#include "watch/rules/rule_file.h"

namespace watch::rules {

using NotifyFn = std::function<void(const std::vector<Notification>& notifications)>;
using AppendFn = std::function<void(const std::vector<OutputSample>& samples)>;

struct GroupDeps {
  QueryFn query;    // required
  NotifyFn notify;  // optional
  AppendFn append;  // optional
};

struct GroupOptions {
  std::int64_t default_interval_ms = 60'000;  // when the group sets none
  std::int64_t resend_delay_ms = 60'000;      // Prometheus's --rules.alert.resend-delay
  AlertingOptions alerting;
};

// One alert's state with the rule it belongs to, for the store.
struct AlertStateRecord {
  std::string group;
  std::string rule;
  int rule_index = 0;  // position of the rule in its group
  AlertRecord alert;
};

// The result of one group evaluation.
struct GroupEvalStats {
  std::int64_t t_ms = 0;
  std::size_t samples = 0;  // appended, staleness markers included
  std::size_t failed_rules = 0;
};

class Group {
 public:
  // Rules whose expression does not parse are left out and reported in
  // `errors` (load through rule_file.h first to have none).
  Group(const GroupSpec& spec, GroupDeps deps, GroupOptions options = {},
        std::vector<std::string>* errors = nullptr);

  GroupEvalStats eval(std::int64_t t_ms);

  const std::string& name() const { return name_; }
  const std::string& file() const { return file_; }
  std::int64_t interval_ms() const { return interval_ms_; }

  using RulePtr = std::variant<std::unique_ptr<RecordingRule>, std::unique_ptr<AlertingRule>>;
  const std::vector<RulePtr>& rules() const { return rules_; }
  std::vector<const AlertingRule*> alerting_rules() const;

  // Every alerting rule's current_notifications() at t_ms.
  std::vector<Notification> current_notifications(std::int64_t t_ms) const;

  std::vector<AlertStateRecord> export_state() const;
  // Records of other groups or of rules no longer present are ignored. A
  // record goes to the rule that held it (by index, when the name there
  // still matches) or else to the first rule of its name, and is listed
  // there at once. When several rules share the name (the rule pack's split
  // by `for`), the first evaluation hands each alert to the rule that
  // produces it (same labels, same timers, nothing sent), and the ones none
  // produces (resolved while watch was down) are resolved once by their
  // holder.
  void import_state(const std::vector<AlertStateRecord>& records);
  // Every alerting rule's set_restart_gap(): the time watch was down
  // before this start, so restored alerts do not resolve for it.
  void set_restart_gap(std::int64_t from_ms, std::int64_t to_ms);

 private:
  // A restored alert of a name several alerting rules share, until the
  // first evaluation after the import.
  struct Restored {
    AlertRecord record;
    std::size_t holder = 0;                 // the rule it was imported into
    std::optional<std::size_t> claimed_by;  // the rule that produced it
  };

  std::vector<OutputSample> eval_alerting(std::size_t index, AlertingRule& alert,
                                          std::int64_t t_ms);

  std::string name_;
  std::string file_;
  std::int64_t interval_ms_;
  int limit_;
  GroupDeps deps_;
  GroupOptions options_;
  std::vector<RulePtr> rules_;
  std::vector<std::set<LabelSet>> previous_series_;               // per rule, for staleness
  std::map<std::string, std::map<LabelSet, Restored>> restored_;  // by name, then labels
};

}  // namespace watch::rules
