#include "watch/rules/group.h"

#include <fmt/format.h>

namespace watch::rules {

Group::Group(const GroupSpec& spec, GroupDeps deps, GroupOptions options,
             std::vector<std::string>* errors)
    : name_(spec.name),
      file_(spec.file),
      interval_ms_(spec.interval_ms > 0 ? spec.interval_ms : options.default_interval_ms),
      limit_(spec.limit),
      deps_(std::move(deps)),
      options_(std::move(options)) {
  for (const auto& r : spec.rules) {
    std::string err;
    if (r.kind == RuleSpec::Kind::kRecording) {
      if (auto rule = RecordingRule::create(r, &err)) {
        rules_.emplace_back(std::move(rule));
        continue;
      }
    } else {
      if (auto rule = AlertingRule::create(r, options_.alerting, &err)) {
        rules_.emplace_back(std::move(rule));
        continue;
      }
    }
    if (errors) errors->push_back(fmt::format("group {}: rule {}: {}", name_, r.name, err));
  }
  previous_series_.resize(rules_.size());
}

GroupEvalStats Group::eval(std::int64_t t_ms) {
  GroupEvalStats stats;
  stats.t_ms = t_ms;
  std::vector<AlertingRule*> to_notify;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    std::vector<OutputSample> out;
    bool ok = true;
    if (auto* rec = std::get_if<std::unique_ptr<RecordingRule>>(&rules_[i])) {
      out = (*rec)->eval(t_ms, deps_.query, limit_);
      ok = (*rec)->health() == RuleHealth::kOk;
    } else {
      auto& alert = std::get<std::unique_ptr<AlertingRule>>(rules_[i]);
      out = eval_alerting(i, *alert, t_ms);
      ok = alert->health() == RuleHealth::kOk;
      if (ok) to_notify.push_back(alert.get());
    }
    if (!ok) {
      ++stats.failed_rules;
      continue;
    }
    std::set<LabelSet> now;
    for (const auto& s : out) now.insert(s.labels);
    for (const auto& prev : previous_series_[i])
      if (!now.contains(prev)) out.push_back({prev, Sample{t_ms, stale_nan()}});
    previous_series_[i] = std::move(now);
    stats.samples += out.size();
    if (deps_.append && !out.empty()) deps_.append(out);
  }
  // A restored alert another rule of its name took over leaves the rule that
  // held it, whatever that rule's evaluation made of it.
  for (auto& [name, pool] : restored_)
    for (auto& [ls, r] : pool)
      if (r.claimed_by && *r.claimed_by != r.holder)
        std::get<std::unique_ptr<AlertingRule>>(rules_[r.holder])->forget(ls);
  restored_.clear();
  // After every rule, so that a hand-over above never sends a resolution.
  if (deps_.notify) {
    for (AlertingRule* alert : to_notify) {
      auto ns = alert->notifications(t_ms, options_.resend_delay_ms, interval_ms_);
      if (!ns.empty()) deps_.notify(ns);
    }
  }
  return stats;
}

std::vector<OutputSample> Group::eval_alerting(std::size_t index, AlertingRule& alert,
                                               std::int64_t t_ms) {
  auto pool = restored_.find(alert.name());
  if (pool == restored_.end()) return alert.eval(t_ms, deps_.query, limit_);
  // Offered: the restored alerts of its name that another rule holds and no
  // rule has claimed yet.
  std::map<LabelSet, AlertRecord> offered;
  for (const auto& [ls, r] : pool->second)
    if (!r.claimed_by && r.holder != index) offered.emplace(ls, r.record);
  auto out = alert.eval(t_ms, deps_.query, limit_, &offered);
  for (auto& [ls, r] : pool->second) {
    if (r.claimed_by) continue;
    const bool adopted = r.holder != index && !offered.contains(ls);
    const bool kept = r.holder == index && alert.is_active(ls);
    if (adopted || kept) r.claimed_by = index;
  }
  return out;
}

std::vector<const AlertingRule*> Group::alerting_rules() const {
  std::vector<const AlertingRule*> out;
  for (const auto& r : rules_)
    if (auto* a = std::get_if<std::unique_ptr<AlertingRule>>(&r)) out.push_back(a->get());
  return out;
}

void Group::set_restart_gap(std::int64_t from_ms, std::int64_t to_ms) {
  for (auto& r : rules_)
    if (auto* a = std::get_if<std::unique_ptr<AlertingRule>>(&r))
      (*a)->set_restart_gap(from_ms, to_ms);
}

std::vector<Notification> Group::current_notifications(std::int64_t t_ms) const {
  std::vector<Notification> out;
  for (const AlertingRule* rule : alerting_rules()) {
    auto ns = rule->current_notifications(t_ms, options_.resend_delay_ms, interval_ms_);
    out.insert(out.end(), std::make_move_iterator(ns.begin()), std::make_move_iterator(ns.end()));
  }
  return out;
}

std::vector<AlertStateRecord> Group::export_state() const {
  std::vector<AlertStateRecord> out;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    auto* a = std::get_if<std::unique_ptr<AlertingRule>>(&rules_[i]);
    if (!a) continue;
    for (auto& rec : (*a)->export_state())
      out.push_back({name_, (*a)->name(), static_cast<int>(i), std::move(rec)});
  }
  return out;
}

void Group::import_state(const std::vector<AlertStateRecord>& records) {
  std::vector<std::vector<AlertRecord>> per_rule(rules_.size());
  std::vector<bool> touched(rules_.size(), false);
  std::map<std::string, int> rules_named;
  for (const auto& r : rules_)
    if (auto* a = std::get_if<std::unique_ptr<AlertingRule>>(&r)) ++rules_named[(*a)->name()];
  restored_.clear();
  for (const auto& r : records) {
    if (r.group != name_) continue;
    // The rule at the recorded index when its name still matches, else the
    // first alerting rule of that name.
    std::size_t target = rules_.size();
    auto name_at = [&](std::size_t i) -> const std::string* {
      auto* a = std::get_if<std::unique_ptr<AlertingRule>>(&rules_[i]);
      return a ? &(*a)->name() : nullptr;
    };
    if (r.rule_index >= 0 && static_cast<std::size_t>(r.rule_index) < rules_.size()) {
      if (const auto* n = name_at(static_cast<std::size_t>(r.rule_index)); n && *n == r.rule)
        target = static_cast<std::size_t>(r.rule_index);
    }
    for (std::size_t i = 0; target == rules_.size() && i < rules_.size(); ++i)
      if (const auto* n = name_at(i); n && *n == r.rule) target = i;
    if (target == rules_.size()) continue;
    per_rule[target].push_back(r.alert);
    touched[target] = true;
    if (rules_named[r.rule] > 1)
      restored_[r.rule][r.alert.labels] = Restored{.record = r.alert, .holder = target};
  }
  for (std::size_t i = 0; i < rules_.size(); ++i)
    if (touched[i]) std::get<std::unique_ptr<AlertingRule>>(rules_[i])->import_state(per_rule[i]);
}

}  // namespace watch::rules
