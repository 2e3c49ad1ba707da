// What every rule shares: the query function it evaluates through, the
// samples it writes, its health. As Prometheus's rules/rule.go and
// rules/manager.go (EngineQueryFunc).
//
//   watch::promql::Engine engine(storage);
//   watch::rules::QueryFn query = watch::rules::engine_query_fn(engine);
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "watch/model/model.h"
#include "watch/promql/ast.h"
#include "watch/promql/engine.h"
#include "watch/promql/value.h"

namespace watch::rules {

// Evaluates an expression at t_ms. A rule accepts a vector or a scalar (a
// scalar becomes a one-element vector without labels); anything else, or an
// error, makes the rule's evaluation fail.
using QueryFn = std::function<promql::QueryResult(const promql::Expr& expr, std::int64_t t_ms)>;

// A QueryFn that runs instant queries on `engine` (which must outlive it).
QueryFn engine_query_fn(const promql::Engine& engine);

// One output sample of a rule, to be appended to the TSDB by the caller
// (a staleness marker, watch::stale_nan(), when a series went away).
struct OutputSample {
  LabelSet labels;
  Sample sample;
};

enum class RuleHealth { kUnknown, kOk, kErr };
std::string_view to_string(RuleHealth health);  // "unknown", "ok", "err"

// The query's result as a vector (Prometheus's EngineQueryFunc), or an error message.
struct VectorOrError {
  promql::Vector vector;
  std::string error;  // empty when ok
};
VectorOrError query_vector(const QueryFn& query, const promql::Expr& expr, std::int64_t t_ms);

}  // namespace watch::rules
