#include "watch/rules/rule.h"

#include <variant>

namespace watch::rules {

QueryFn engine_query_fn(const promql::Engine& engine) {
  return [&engine](const promql::Expr& expr, std::int64_t t_ms) {
    return engine.instant_query(expr, t_ms);
  };
}

std::string_view to_string(RuleHealth health) {
  switch (health) {
    case RuleHealth::kOk:
      return "ok";
    case RuleHealth::kErr:
      return "err";
    case RuleHealth::kUnknown:
      break;
  }
  return "unknown";
}

VectorOrError query_vector(const QueryFn& query, const promql::Expr& expr, std::int64_t t_ms) {
  VectorOrError out;
  promql::QueryResult r = query(expr, t_ms);
  if (!r.ok()) {
    out.error = r.error ? r.error->message : "query failed";
    return out;
  }
  if (auto* v = std::get_if<promql::Vector>(&*r.value)) {
    out.vector = std::move(*v);
  } else if (auto* s = std::get_if<promql::Scalar>(&*r.value)) {
    out.vector.push_back({LabelSet{}, t_ms, s->v});
  } else {
    out.error = "rule result is not a vector or scalar";
  }
  return out;
}

}  // namespace watch::rules
