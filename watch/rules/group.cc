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
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    std::vector<OutputSample> out;
    bool ok = true;
    if (auto* rec = std::get_if<std::unique_ptr<RecordingRule>>(&rules_[i])) {
      out = (*rec)->eval(t_ms, deps_.query, limit_);
      ok = (*rec)->health() == RuleHealth::kOk;
    } else {
      auto& alert = std::get<std::unique_ptr<AlertingRule>>(rules_[i]);
      auto pool = adoptable_.find(alert->name());
      out = alert->eval(t_ms, deps_.query, limit_,
                        pool == adoptable_.end() ? nullptr : &pool->second);
      ok = alert->health() == RuleHealth::kOk;
      if (ok && deps_.notify) {
        auto ns = alert->notifications(t_ms, options_.resend_delay_ms, interval_ms_);
        if (!ns.empty()) deps_.notify(ns);
      }
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
  // Restored alerts no rule produced any more: the first rule of their name
  // holds them, and resolves them (once) at its next evaluation.
  for (auto& [name, pool] : adoptable_) {
    AlertingRule* first = first_alerting_rule(name);
    if (!first) continue;
    for (auto& [ls, record] : pool) first->adopt(record);
  }
  adoptable_.clear();
  return stats;
}

AlertingRule* Group::first_alerting_rule(const std::string& name) const {
  for (const auto& r : rules_)
    if (auto* a = std::get_if<std::unique_ptr<AlertingRule>>(&r); a && (*a)->name() == name)
      return a->get();
  return nullptr;
}

std::vector<const AlertingRule*> Group::alerting_rules() const {
  std::vector<const AlertingRule*> out;
  for (const auto& r : rules_)
    if (auto* a = std::get_if<std::unique_ptr<AlertingRule>>(&r)) out.push_back(a->get());
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
  // Not placed yet (no evaluation since the import): kept as they came.
  for (const auto& [name, pool] : adoptable_)
    for (const auto& [ls, record] : pool) out.push_back({name_, name, -1, record});
  return out;
}

void Group::import_state(const std::vector<AlertStateRecord>& records) {
  std::vector<std::vector<AlertRecord>> per_rule(rules_.size());
  std::vector<bool> touched(rules_.size(), false);
  std::map<std::string, int> rules_named;
  for (const auto& r : rules_)
    if (auto* a = std::get_if<std::unique_ptr<AlertingRule>>(&r)) ++rules_named[(*a)->name()];
  adoptable_.clear();
  for (const auto& r : records) {
    if (r.group != name_) continue;
    if (rules_named[r.rule] > 1) {
      adoptable_[r.rule][r.alert.labels] = r.alert;
      continue;
    }
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
  }
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    auto* a = std::get_if<std::unique_ptr<AlertingRule>>(&rules_[i]);
    if (!a) continue;
    if (touched[i])
      (*a)->import_state(per_rule[i]);
    else if (adoptable_.contains((*a)->name()))
      (*a)->import_state({});  // its alerts come from the pool
  }
}

}  // namespace watch::rules
