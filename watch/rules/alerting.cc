#include "watch/rules/alerting.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "watch/promql/parser.h"
#include "watch/rules/template.h"

namespace watch::rules {

std::string_view to_string(AlertState state) {
  switch (state) {
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
    case AlertState::kInactive:
      break;
  }
  return "inactive";
}

std::unique_ptr<AlertingRule> AlertingRule::create(const RuleSpec& spec, AlertingOptions options,
                                                   std::string* error) {
  auto parsed = promql::parse(spec.expr);
  if (!parsed.ok()) {
    if (error) *error = parsed.error->to_string();
    return nullptr;
  }
  return std::unique_ptr<AlertingRule>(
      new AlertingRule(spec, std::move(parsed.expr), std::move(options)));
}

namespace {

std::string url_escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

std::vector<OutputSample> AlertingRule::eval(std::int64_t t_ms, const QueryFn& query, int limit,
                                             std::map<LabelSet, AlertRecord>* adoptable) {
  last_eval_ms_ = t_ms;
  VectorOrError r = query_vector(query, *expr_, t_ms);
  if (!r.error.empty()) {
    health_ = RuleHealth::kErr;
    last_error_ = std::move(r.error);
    return {};
  }

  // The alerts of this evaluation, by labels.
  std::map<LabelSet, Alert> current;
  const std::string tmpl_name = "__alert_" + spec_.name;
  for (const auto& s : r.vector) {
    TemplateData data;
    for (const auto& l : s.labels) data.labels[l.name] = l.value;
    data.external_labels = options_.external_labels;
    data.external_url = options_.external_url;
    data.value = s.v;
    LabelSet ls = s.labels.without_metric_name();
    for (const auto& l : spec_.labels)
      ls = ls.with(l.name, expand_or_error(tmpl_name, l.value, data));
    ls = ls.with("alertname", spec_.name);
    Alert a;
    for (const auto& an : spec_.annotations)
      a.annotations.push_back({an.name, expand_or_error(tmpl_name, an.value, data)});
    a.labels = ls;
    a.state = AlertState::kPending;
    a.active_at_ms = t_ms;
    a.value = s.v;
    if (!current.emplace(ls, std::move(a)).second) {
      health_ = RuleHealth::kErr;
      last_error_ = "vector contains metrics with the same labelset after applying alert labels";
      return {};
    }
  }

  if (adoptable) {
    for (const auto& [ls, a] : current) {
      auto held = active_.find(ls);
      if (held != active_.end() && held->second.state != AlertState::kInactive) continue;
      if (auto r = adoptable->find(ls); r != adoptable->end()) {
        adopt(r->second);
        adoptable->erase(r);
      }
    }
  }

  for (auto& [ls, a] : current) {
    auto it = active_.find(ls);
    if (it != active_.end() && it->second.state != AlertState::kInactive) {
      it->second.value = a.value;
      it->second.annotations = std::move(a.annotations);
      continue;
    }
    active_[ls] = std::move(a);
  }

  std::vector<OutputSample> out;
  std::size_t num_active = 0;
  const bool gap_held = gap_fills_a_window(t_ms);
  for (auto it = active_.begin(); it != active_.end();) {
    Alert& a = it->second;
    const bool produced = current.contains(it->first);
    if (!produced && a.restored && gap_held && a.state != AlertState::kInactive) {
      // Kept as it was before the restart: no resolution, no `for` progress.
      ++num_active;
    } else if (!produced) {
      bool keep_firing = false;
      if (a.state == AlertState::kFiring && spec_.keep_firing_for_ms > 0) {
        if (a.keep_firing_since_ms == 0) a.keep_firing_since_ms = t_ms;
        if (t_ms - a.keep_firing_since_ms < spec_.keep_firing_for_ms) keep_firing = true;
      }
      const bool drop = a.state == AlertState::kPending ||
                        (a.resolved_at_ms != 0 && t_ms - a.resolved_at_ms > kResolvedRetentionMs);
      if (!keep_firing && a.state != AlertState::kInactive) {
        a.state = AlertState::kInactive;
        a.resolved_at_ms = t_ms;
      }
      if (drop) {
        it = active_.erase(it);
        continue;
      }
      if (!keep_firing) {
        ++it;
        continue;
      }
      ++num_active;
    } else {
      a.keep_firing_since_ms = 0;
      ++num_active;
    }
    if (produced && a.state == AlertState::kPending && t_ms - a.active_at_ms >= spec_.for_ms) {
      a.state = AlertState::kFiring;
      a.fired_at_ms = t_ms;
    }
    out.push_back({a.labels.with(kMetricNameLabel, "ALERTS").with("alertstate", to_string(a.state)),
                   Sample{t_ms, 1}});
    out.push_back({a.labels.with(kMetricNameLabel, "ALERTS_FOR_STATE"),
                   Sample{t_ms, static_cast<double>(a.active_at_ms / 1000)}});
    ++it;
  }

  if (limit > 0 && num_active > static_cast<std::size_t>(limit)) {
    active_.clear();
    health_ = RuleHealth::kErr;
    last_error_ = fmt::format("exceeded limit of {} with {} alerts", limit, num_active);
    return {};
  }
  health_ = RuleHealth::kOk;
  last_error_.clear();
  return out;
}

std::vector<Notification> AlertingRule::notifications(std::int64_t t_ms,
                                                      std::int64_t resend_delay_ms,
                                                      std::int64_t interval_ms) {
  std::vector<Notification> out;
  for (auto& [ls, a] : active_) {
    if (a.state == AlertState::kPending) continue;
    const bool resolved_since_sent = a.resolved_at_ms != 0 && a.resolved_at_ms > a.last_sent_ms;
    const bool due = a.last_sent_ms == 0 || a.last_sent_ms + resend_delay_ms < t_ms;
    if (!resolved_since_sent && !due) continue;
    a.last_sent_ms = t_ms;
    a.valid_until_ms = t_ms + 4 * std::max(resend_delay_ms, interval_ms);
    out.push_back(notification_of(a));
  }
  return out;
}

std::vector<Notification> AlertingRule::current_notifications(std::int64_t t_ms,
                                                              std::int64_t resend_delay_ms,
                                                              std::int64_t interval_ms) const {
  std::vector<Notification> out;
  for (const auto& [ls, held] : active_) {
    if (held.state == AlertState::kPending || held.fired_at_ms == 0) continue;
    Alert a = held;
    a.valid_until_ms = t_ms + 4 * std::max(resend_delay_ms, interval_ms);
    out.push_back(notification_of(a));
  }
  return out;
}

Notification AlertingRule::notification_of(const Alert& a) const {
  Notification n;
  n.labels = a.labels;
  n.annotations = a.annotations;
  n.starts_at_ms = a.fired_at_ms;
  n.resolved = a.resolved_at_ms != 0;
  n.ends_at_ms = n.resolved ? a.resolved_at_ms : a.valid_until_ms;
  n.generator_url = options_.external_url +
                    "/graph?g0.expr=" + url_escape(promql::to_string(*expr_)) + "&g0.tab=1";
  return n;
}

std::vector<Alert> AlertingRule::active_alerts() const {
  std::vector<Alert> out;
  for (const auto& [ls, a] : active_)
    if (a.state != AlertState::kInactive) out.push_back(a);
  return out;
}

std::vector<Alert> AlertingRule::all_alerts() const {
  std::vector<Alert> out;
  for (const auto& [ls, a] : active_) out.push_back(a);
  return out;
}

AlertState AlertingRule::state() const {
  AlertState s = AlertState::kInactive;
  for (const auto& [ls, a] : active_)
    if (static_cast<int>(a.state) > static_cast<int>(s)) s = a.state;
  return s;
}

std::vector<AlertRecord> AlertingRule::export_state() const {
  std::vector<AlertRecord> out;
  for (const auto& [ls, a] : active_)
    out.push_back({a.labels, a.annotations, a.state, a.value, a.active_at_ms, a.fired_at_ms,
                   a.resolved_at_ms, a.keep_firing_since_ms, a.last_sent_ms});
  return out;
}

bool AlertingRule::gap_fills_a_window(std::int64_t t_ms) const {
  if (gap_to_ms_ <= gap_from_ms_) return false;
  // The shortest window that reads time since the outage began: until half
  // of it is fresh (after to_ms), it may lack the samples a function needs.
  // Counting from the start, not from the outage alone, also covers a run of
  // short lives (restarts in quick succession) that left a window sparse.
  std::int64_t shortest = 0, fresh = 0;
  for (const promql::MatrixSelector* ms : promql::range_selectors(*expr_)) {
    const std::int64_t end = t_ms - ms->selector.offset_ms;
    if (end <= gap_from_ms_ || ms->range_ms <= 0) continue;  // e.g. yesterday's window
    if (shortest == 0 || ms->range_ms < shortest) {
      shortest = ms->range_ms;
      fresh = end - std::max(end - ms->range_ms, gap_to_ms_);
    }
  }
  return shortest > 0 && 2 * fresh <= shortest;
}

void AlertingRule::import_state(const std::vector<AlertRecord>& records) {
  active_.clear();
  for (const auto& r : records) adopt(r);
}

void AlertingRule::adopt(const AlertRecord& r) {
  Alert a;
  a.labels = r.labels;
  a.annotations = r.annotations;
  a.state = r.state;
  a.value = r.value;
  a.active_at_ms = r.active_at_ms;
  a.fired_at_ms = r.fired_at_ms;
  a.resolved_at_ms = r.resolved_at_ms;
  a.keep_firing_since_ms = r.keep_firing_since_ms;
  a.last_sent_ms = r.last_sent_ms;
  a.restored = true;
  active_[a.labels] = std::move(a);
}

}  // namespace watch::rules
