// What a PromQL query returns: a scalar, a string, an instant vector or a
// range vector (matrix), or an error. Shapes follow Prometheus's promql/value.go.
//
//   watch::promql::QueryResult r = engine.instant_query("up == 0", now_ms);
//   if (!r.ok()) log(r.error->message);
//   else for (const auto& s : std::get<watch::promql::Vector>(*r.value)) use(s.labels, s.v);
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "watch/model/model.h"
#include "watch/promql/ast.h"

namespace watch::promql {

struct Scalar {
  std::int64_t t = 0;  // evaluation time, ms
  double v = 0;
};

struct String {
  std::int64_t t = 0;
  std::string v;
};

// One element of an instant vector. In a query's result, t is the
// evaluation time (as Prometheus's API reports it).
struct VectorSample {
  LabelSet labels;
  std::int64_t t = 0;
  double v = 0;
};
using Vector = std::vector<VectorSample>;

// One series of a range vector: samples oldest first.
struct Series {
  LabelSet labels;
  std::vector<Sample> samples;
};
using Matrix = std::vector<Series>;

using Value = std::variant<Scalar, String, Vector, Matrix>;

ValueType type_of(const Value& value);

// Kinds of failure, as Prometheus's API names them in "errorType".
enum class ErrorKind {
  kBadData,    // the query does not parse or its parameters are invalid
  kExecution,  // evaluation failed (e.g. many-to-many matching, too many samples)
  kTimeout,    // the deadline passed
  kCanceled,
  kInternal,
};
std::string_view error_type_name(ErrorKind kind);  // "bad_data", "execution", ...

struct Error {
  ErrorKind kind = ErrorKind::kExecution;
  std::string message;
};

struct QueryResult {
  std::optional<Value> value;  // set when ok()
  std::optional<Error> error;  // set when not ok()
  // Samples the query loaded from storage and points it produced (what
  // EngineOptions::max_samples bounds): how much memory it took.
  std::size_t samples = 0;
  bool ok() const { return value.has_value(); }
};

}  // namespace watch::promql
