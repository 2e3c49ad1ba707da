#include "watch/rules/recording.h"

#include <set>

#include <fmt/format.h>

#include "watch/promql/parser.h"

namespace watch::rules {

std::unique_ptr<RecordingRule> RecordingRule::create(const RuleSpec& spec, std::string* error) {
  auto parsed = promql::parse(spec.expr);
  if (!parsed.ok()) {
    if (error) *error = parsed.error->to_string();
    return nullptr;
  }
  return std::unique_ptr<RecordingRule>(new RecordingRule(spec, std::move(parsed.expr)));
}

std::vector<OutputSample> RecordingRule::eval(std::int64_t t_ms, const QueryFn& query, int limit) {
  last_eval_ms_ = t_ms;
  auto fail = [&](std::string message) {
    health_ = RuleHealth::kErr;
    last_error_ = std::move(message);
    return std::vector<OutputSample>{};
  };
  VectorOrError r = query_vector(query, *expr_, t_ms);
  if (!r.error.empty()) return fail(std::move(r.error));
  std::vector<OutputSample> out;
  out.reserve(r.vector.size());
  std::set<LabelSet> seen;
  for (auto& s : r.vector) {
    LabelSet ls = s.labels.with(kMetricNameLabel, spec_.name);
    for (const auto& l : spec_.labels) ls = ls.with(l.name, l.value);
    if (!seen.insert(ls).second)
      return fail("vector contains metrics with the same labelset after applying rule labels");
    out.push_back({std::move(ls), Sample{t_ms, s.v}});
  }
  if (limit > 0 && out.size() > static_cast<std::size_t>(limit))
    return fail(fmt::format("exceeded limit of {} with {} series", limit, out.size()));
  health_ = RuleHealth::kOk;
  last_error_.clear();
  return out;
}

}  // namespace watch::rules
