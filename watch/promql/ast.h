// The syntax tree of a PromQL expression, as the parser (parser.h) builds it
// and the engine (engine.h) evaluates it. Names follow Prometheus's
// promql/parser/ast.go.
//
//   watch::promql::ParseResult r = watch::promql::parse("sum by (job) (rate(x[5m]))");
//   const auto& agg = std::get<watch::promql::Aggregation>(r.expr->node);
//   watch::promql::to_string(*r.expr);   // "sum by (job) (rate(x[5m]))"
//
// Thread-safety: a tree is an immutable value once parsed; share it freely
// between threads for reading.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "watch/model/model.h"

namespace watch::promql {

// The type an expression evaluates to.
enum class ValueType { kNone, kScalar, kString, kVector, kMatrix };

// Prometheus's documented names: "scalar", "string", "instant vector", "range vector".
std::string_view value_type_name(ValueType type);

// Byte offsets [start, end) of a node in the query text.
struct PosRange {
  std::uint32_t start = 0;
  std::uint32_t end = 0;
};

enum class BinaryOp {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kAtan2,
  kEql,  // ==
  kNeq,  // !=
  kGtr,  // >
  kLss,  // <
  kGte,  // >=
  kLte,  // <=
  kAnd,
  kOr,
  kUnless,
};
std::string_view binary_op_name(BinaryOp op);  // "+", "==", "and", ...
bool is_comparison(BinaryOp op);
bool is_set_operator(BinaryOp op);

enum class AggregateOp {
  kSum,
  kAvg,
  kMin,
  kMax,
  kCount,
  kGroup,
  kStddev,
  kStdvar,
  kTopk,
  kBottomk,
  kQuantile,
  kCountValues,
};
std::string_view aggregate_op_name(AggregateOp op);  // "sum", "count_values", ...
// topk, bottomk, quantile and count_values take a parameter before the vector.
bool aggregate_takes_param(AggregateOp op);

// The functions the engine implements (see functions in engine.cc).
enum class FunctionId {
  kAbs,
  kAbsent,
  kAbsentOverTime,
  kAvgOverTime,
  kCeil,
  kChanges,
  kClamp,
  kClampMax,
  kClampMin,
  kCountOverTime,
  kDelta,
  kExp,
  kFloor,
  kHistogramQuantile,
  kIdelta,
  kIncrease,
  kIrate,
  kLabelJoin,
  kLabelReplace,
  kLastOverTime,
  kLn,
  kLog10,
  kLog2,
  kMaxOverTime,
  kMinOverTime,
  kPresentOverTime,
  kQuantileOverTime,
  kRate,
  kResets,
  kRound,
  kScalar,
  kSgn,
  kSort,
  kSortDesc,
  kSqrt,
  kStddevOverTime,
  kStdvarOverTime,
  kSumOverTime,
  kTime,
  kTimestamp,
  kVector,
};

struct Function {
  std::string_view name;
  FunctionId id;
  std::vector<ValueType> arg_types;
  // 0: exactly arg_types; n > 0: the last argument type may repeat up to n
  // more times (optional arguments); -1: it may repeat without bound.
  int variadic = 0;
  ValueType return_type = ValueType::kVector;
};

// The function called `name`, or nullptr when there is none.
const Function* find_function(std::string_view name);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct NumberLiteral {
  double value = 0;
};

struct StringLiteral {
  std::string value;
};

// metric{label="value", ...} [offset d]. `matchers` holds every matcher,
// including the one on __name__ that a leading metric name stands for.
struct VectorSelector {
  std::string name;  // the leading metric name, "" when none was written
  std::vector<Matcher> matchers;
  std::int64_t offset_ms = 0;
};

// selector[range] [offset d]; the offset is the selector's.
struct MatrixSelector {
  VectorSelector selector;
  std::int64_t range_ms = 0;
};

struct Call {
  const Function* function = nullptr;
  std::vector<ExprPtr> args;
};

struct Aggregation {
  AggregateOp op = AggregateOp::kSum;
  ExprPtr param;  // topk/bottomk/quantile/count_values only
  ExprPtr expr;
  std::vector<std::string> grouping;
  bool without = false;
};

enum class Cardinality { kOneToOne, kManyToOne, kOneToMany, kManyToMany };

// How the two sides of a binary operation between vectors are matched.
struct VectorMatching {
  Cardinality card = Cardinality::kOneToOne;
  std::vector<std::string> labels;   // on(...) or ignoring(...) labels
  bool on = false;                   // on(...) (true) or ignoring(...) (false)
  std::vector<std::string> include;  // group_left(...)/group_right(...) labels
};

struct Binary {
  BinaryOp op = BinaryOp::kAdd;
  ExprPtr lhs;
  ExprPtr rhs;
  bool return_bool = false;
  // Meaningful only when both sides are instant vectors.
  VectorMatching matching;
};

// -expr (a unary + is dropped by the parser).
struct Negation {
  ExprPtr expr;
};

struct Paren {
  ExprPtr expr;
};

struct Expr {
  std::variant<NumberLiteral, StringLiteral, VectorSelector, MatrixSelector, Call, Aggregation,
               Binary, Negation, Paren>
      node;
  PosRange pos;

  ValueType type() const;
};

// The expression in PromQL text, as Prometheus prints it ("a + b * c",
// "sum by (job) (x)"). With `fully_parenthesized`, every binary and unary
// operation is wrapped in parentheses, showing how the parser grouped it.
std::string to_string(const Expr& expr, bool fully_parenthesized = false);

// Every range selector (`x[5m]`, with its offset) in the expression, in
// the order written. A rule reads these windows of history at each
// evaluation; a restart checks them against the time it was down.
std::vector<const MatrixSelector*> range_selectors(const Expr& expr);

// A duration in Prometheus's syntax: "1h30m" -> 5400000 ms ("ms", s, m, h,
// d, w, y; each unit at most once, in decreasing order). std::nullopt when
// malformed or out of range.
std::optional<std::int64_t> parse_duration(std::string_view text);
// The inverse: 5400000 -> "1h30m", 0 -> "0s".
std::string format_duration(std::int64_t ms);

}  // namespace watch::promql
