// The PromQL parser: the subset docs/query.md lists, with Prometheus's
// grammar, precedence and error messages (promql/parser/generated_parser.y).
//
//   watch::promql::ParseResult r = watch::promql::parse(
//       "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))) > 0.5");
//   if (!r.ok()) std::puts(r.error->to_string().c_str());  // "1:12: parse error: ..."
//   else evaluate(*r.expr);
//
// Supported: number, string and duration literals; vector selectors with
// =, !=, =~, !~ matchers; range selectors; offset; function calls; the
// aggregations sum avg min max count group stddev stdvar topk bottomk quantile
// count_values with by/without before or after the argument; binary operators
// with Prometheus's precedence (^ right-associative, then * / % atan2, + -,
// comparisons with optional bool, and unless, or), on/ignoring and
// group_left/group_right; unary minus; parentheses; # comments. Not
// supported: subqueries and the @ modifier (both are clear parse errors).
//
// Untrusted input: the input size and the nesting depth are bounded
// (ParseOptions), so no input makes the parser crash, recurse without bound
// or run long; regular expressions are checked when parsed.
//
// Thread-safety: parse() is a pure function, safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "watch/model/model.h"
#include "watch/promql/ast.h"

namespace watch::promql {

struct ParseError {
  std::size_t offset = 0;  // byte offset into the query
  int line = 1;            // 1-based
  int column = 1;          // 1-based, in bytes from the start of the line
  std::string message;     // e.g. "unexpected <op:*>"

  // Prometheus's form: "1:12: parse error: unexpected <op:*>".
  std::string to_string() const;
};

struct ParseOptions {
  std::size_t max_length = 64 * 1024;  // bytes
  int max_depth = 200;                 // nesting of the syntax tree
};

struct ParseResult {
  ExprPtr expr;                     // set when ok()
  std::optional<ParseError> error;  // set when not ok()
  bool ok() const { return expr != nullptr; }
};

ParseResult parse(std::string_view query, const ParseOptions& options = {});

// A series selector alone, as /api/v1/series takes in match[]:
// `up{job="x"}` or `{__name__=~"a|b"}`. The matchers, including the one on
// __name__ that a leading metric name stands for.
struct SelectorParseResult {
  std::vector<Matcher> matchers;
  std::optional<ParseError> error;
  bool ok() const { return !error; }
};
SelectorParseResult parse_selector(std::string_view text, const ParseOptions& options = {});

}  // namespace watch::promql
