// A recording rule: evaluates its expression and writes the result under a
// new metric name with the rule's labels (Prometheus's rules/recording.go).
//
//   auto rule = watch::rules::RecordingRule::create(spec);   // spec from rule_file.h
//   auto out = rule->eval(t_ms, query, /*limit=*/0);
//   // out: samples named spec.name, at t_ms
//
// Thread-safety: not thread-safe; a Group evaluates its rules one at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "watch/promql/ast.h"
#include "watch/rules/rule.h"
#include "watch/rules/rule_file.h"

namespace watch::rules {

class RecordingRule {
 public:
  // nullptr and `error` set when the expression does not parse.
  static std::unique_ptr<RecordingRule> create(const RuleSpec& spec, std::string* error = nullptr);

  // Evaluates at t_ms; on failure returns nothing and sets health kErr and
  // last_error (duplicate output series, limit exceeded, query errors).
  std::vector<OutputSample> eval(std::int64_t t_ms, const QueryFn& query, int limit);

  const std::string& name() const { return spec_.name; }
  const RuleSpec& spec() const { return spec_; }
  RuleHealth health() const { return health_; }
  const std::string& last_error() const { return last_error_; }
  std::int64_t last_eval_ms() const { return last_eval_ms_; }

 private:
  RecordingRule(RuleSpec spec, promql::ExprPtr expr)
      : spec_(std::move(spec)), expr_(std::move(expr)) {}

  RuleSpec spec_;
  promql::ExprPtr expr_;
  RuleHealth health_ = RuleHealth::kUnknown;
  std::string last_error_;
  std::int64_t last_eval_ms_ = 0;
};

}  // namespace watch::rules
