#include "watch/promql/ast.h"

#include <array>
#include <limits>
#include <type_traits>

#include "watch/promql/format.h"

namespace watch::promql {

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::kNone:
      return "none";
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kString:
      return "string";
    case ValueType::kVector:
      return "instant vector";
    case ValueType::kMatrix:
      return "range vector";
  }
  return "none";
}

std::string_view binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSub:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    case BinaryOp::kMod:
      return "%";
    case BinaryOp::kPow:
      return "^";
    case BinaryOp::kAtan2:
      return "atan2";
    case BinaryOp::kEql:
      return "==";
    case BinaryOp::kNeq:
      return "!=";
    case BinaryOp::kGtr:
      return ">";
    case BinaryOp::kLss:
      return "<";
    case BinaryOp::kGte:
      return ">=";
    case BinaryOp::kLte:
      return "<=";
    case BinaryOp::kAnd:
      return "and";
    case BinaryOp::kOr:
      return "or";
    case BinaryOp::kUnless:
      return "unless";
  }
  return "?";
}

bool is_comparison(BinaryOp op) {
  switch (op) {
    case BinaryOp::kEql:
    case BinaryOp::kNeq:
    case BinaryOp::kGtr:
    case BinaryOp::kLss:
    case BinaryOp::kGte:
    case BinaryOp::kLte:
      return true;
    default:
      return false;
  }
}

bool is_set_operator(BinaryOp op) {
  return op == BinaryOp::kAnd || op == BinaryOp::kOr || op == BinaryOp::kUnless;
}

std::string_view aggregate_op_name(AggregateOp op) {
  switch (op) {
    case AggregateOp::kSum:
      return "sum";
    case AggregateOp::kAvg:
      return "avg";
    case AggregateOp::kMin:
      return "min";
    case AggregateOp::kMax:
      return "max";
    case AggregateOp::kCount:
      return "count";
    case AggregateOp::kGroup:
      return "group";
    case AggregateOp::kStddev:
      return "stddev";
    case AggregateOp::kStdvar:
      return "stdvar";
    case AggregateOp::kTopk:
      return "topk";
    case AggregateOp::kBottomk:
      return "bottomk";
    case AggregateOp::kQuantile:
      return "quantile";
    case AggregateOp::kCountValues:
      return "count_values";
  }
  return "?";
}

bool aggregate_takes_param(AggregateOp op) {
  return op == AggregateOp::kTopk || op == AggregateOp::kBottomk || op == AggregateOp::kQuantile ||
         op == AggregateOp::kCountValues;
}

namespace {

using VT = ValueType;

const std::vector<Function>& functions() {
  static const std::vector<Function> table = {
      {"abs", FunctionId::kAbs, {VT::kVector}},
      {"absent", FunctionId::kAbsent, {VT::kVector}},
      {"absent_over_time", FunctionId::kAbsentOverTime, {VT::kMatrix}},
      {"avg_over_time", FunctionId::kAvgOverTime, {VT::kMatrix}},
      {"ceil", FunctionId::kCeil, {VT::kVector}},
      {"changes", FunctionId::kChanges, {VT::kMatrix}},
      {"clamp", FunctionId::kClamp, {VT::kVector, VT::kScalar, VT::kScalar}},
      {"clamp_max", FunctionId::kClampMax, {VT::kVector, VT::kScalar}},
      {"clamp_min", FunctionId::kClampMin, {VT::kVector, VT::kScalar}},
      {"count_over_time", FunctionId::kCountOverTime, {VT::kMatrix}},
      {"delta", FunctionId::kDelta, {VT::kMatrix}},
      {"exp", FunctionId::kExp, {VT::kVector}},
      {"floor", FunctionId::kFloor, {VT::kVector}},
      {"histogram_quantile", FunctionId::kHistogramQuantile, {VT::kScalar, VT::kVector}},
      {"idelta", FunctionId::kIdelta, {VT::kMatrix}},
      {"increase", FunctionId::kIncrease, {VT::kMatrix}},
      {"irate", FunctionId::kIrate, {VT::kMatrix}},
      {"label_join",
       FunctionId::kLabelJoin,
       {VT::kVector, VT::kString, VT::kString, VT::kString},
       -1},
      {"label_replace",
       FunctionId::kLabelReplace,
       {VT::kVector, VT::kString, VT::kString, VT::kString, VT::kString}},
      {"last_over_time", FunctionId::kLastOverTime, {VT::kMatrix}},
      {"ln", FunctionId::kLn, {VT::kVector}},
      {"log10", FunctionId::kLog10, {VT::kVector}},
      {"log2", FunctionId::kLog2, {VT::kVector}},
      {"max_over_time", FunctionId::kMaxOverTime, {VT::kMatrix}},
      {"min_over_time", FunctionId::kMinOverTime, {VT::kMatrix}},
      {"present_over_time", FunctionId::kPresentOverTime, {VT::kMatrix}},
      {"quantile_over_time", FunctionId::kQuantileOverTime, {VT::kScalar, VT::kMatrix}},
      {"rate", FunctionId::kRate, {VT::kMatrix}},
      {"resets", FunctionId::kResets, {VT::kMatrix}},
      {"round", FunctionId::kRound, {VT::kVector, VT::kScalar}, 1},
      {"scalar", FunctionId::kScalar, {VT::kVector}, 0, VT::kScalar},
      {"sgn", FunctionId::kSgn, {VT::kVector}},
      {"sort", FunctionId::kSort, {VT::kVector}},
      {"sort_desc", FunctionId::kSortDesc, {VT::kVector}},
      {"sqrt", FunctionId::kSqrt, {VT::kVector}},
      {"stddev_over_time", FunctionId::kStddevOverTime, {VT::kMatrix}},
      {"stdvar_over_time", FunctionId::kStdvarOverTime, {VT::kMatrix}},
      {"sum_over_time", FunctionId::kSumOverTime, {VT::kMatrix}},
      {"time", FunctionId::kTime, {}, 0, VT::kScalar},
      {"timestamp", FunctionId::kTimestamp, {VT::kVector}},
      {"vector", FunctionId::kVector, {VT::kScalar}},
  };
  return table;
}

}  // namespace

const Function* find_function(std::string_view name) {
  for (const auto& f : functions())
    if (f.name == name) return &f;
  return nullptr;
}

ValueType Expr::type() const {
  struct Visitor {
    ValueType operator()(const NumberLiteral&) const { return ValueType::kScalar; }
    ValueType operator()(const StringLiteral&) const { return ValueType::kString; }
    ValueType operator()(const VectorSelector&) const { return ValueType::kVector; }
    ValueType operator()(const MatrixSelector&) const { return ValueType::kMatrix; }
    ValueType operator()(const Call& c) const {
      return c.function ? c.function->return_type : ValueType::kNone;
    }
    ValueType operator()(const Aggregation&) const { return ValueType::kVector; }
    ValueType operator()(const Binary& b) const {
      return b.lhs->type() == ValueType::kScalar && b.rhs->type() == ValueType::kScalar
                 ? ValueType::kScalar
                 : ValueType::kVector;
    }
    ValueType operator()(const Negation& n) const { return n.expr->type(); }
    ValueType operator()(const Paren& p) const { return p.expr->type(); }
  };
  return std::visit(Visitor{}, node);
}

namespace {

void append_hex_escape(std::string& out, char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.append("\\x");
  out.push_back(kHex[(c >> 4) & 0xf]);
  out.push_back(kHex[c & 0xf]);
}

// A double-quoted PromQL string that reads back as `s` (bytes that are not
// valid UTF-8 as \x escapes).
void quote_into(std::string& out, std::string_view s) {
  out.push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        append_hex_escape(out, c);
      } else {
        out.append(s.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\r':
        out.append("\\r");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          append_hex_escape(out, c);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void labels_into(std::string& out, const std::vector<std::string>& labels) {
  out.push_back('(');
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out.append(", ");
    out.append(labels[i]);
  }
  out.push_back(')');
}

void selector_into(std::string& out, const VectorSelector& vs) {
  out.append(vs.name);
  std::string inner;
  for (const auto& m : vs.matchers) {
    if (!vs.name.empty() && m.name == kMetricNameLabel && m.op == Matcher::Op::kEqual &&
        m.value == vs.name)
      continue;
    if (!inner.empty()) inner.append(", ");
    inner.append(m.name);
    inner.append(watch::to_string(m.op));
    quote_into(inner, m.value);
  }
  if (!inner.empty() || vs.name.empty()) {
    out.push_back('{');
    out.append(inner);
    out.push_back('}');
  }
}

void offset_into(std::string& out, std::int64_t offset_ms) {
  if (offset_ms == 0) return;
  out.append(" offset ");
  if (offset_ms < 0) {
    out.push_back('-');
    offset_ms = -offset_ms;
  }
  out.append(format_duration(offset_ms));
}

void print(std::string& out, const Expr& e, bool parens);

struct Printer {
  std::string& out;
  bool parens;

  void operator()(const NumberLiteral& n) const {
    if (n.value != n.value) {
      out.append("NaN");
    } else if (n.value == std::numeric_limits<double>::infinity()) {
      out.append("Inf");
    } else if (n.value == -std::numeric_limits<double>::infinity()) {
      out.append("-Inf");
    } else {
      out.append(format_value(n.value));
    }
  }
  void operator()(const StringLiteral& s) const { quote_into(out, s.value); }
  void operator()(const VectorSelector& vs) const {
    selector_into(out, vs);
    offset_into(out, vs.offset_ms);
  }
  void operator()(const MatrixSelector& ms) const {
    selector_into(out, ms.selector);
    out.push_back('[');
    out.append(format_duration(ms.range_ms));
    out.push_back(']');
    offset_into(out, ms.selector.offset_ms);
  }
  void operator()(const Call& c) const {
    out.append(c.function ? c.function->name : "?");
    out.push_back('(');
    for (std::size_t i = 0; i < c.args.size(); ++i) {
      if (i) out.append(", ");
      print(out, *c.args[i], parens);
    }
    out.push_back(')');
  }
  void operator()(const Aggregation& a) const {
    out.append(aggregate_op_name(a.op));
    if (a.without || !a.grouping.empty()) {
      out.append(a.without ? " without " : " by ");
      labels_into(out, a.grouping);
      out.push_back(' ');
    }
    out.push_back('(');
    if (a.param) {
      print(out, *a.param, parens);
      out.append(", ");
    }
    print(out, *a.expr, parens);
    out.push_back(')');
  }
  void operator()(const Binary& b) const {
    if (parens) out.push_back('(');
    print(out, *b.lhs, parens);
    out.push_back(' ');
    out.append(binary_op_name(b.op));
    if (b.return_bool) out.append(" bool");
    const bool vectors = b.lhs->type() == ValueType::kVector && b.rhs->type() == ValueType::kVector;
    if (vectors) {
      const auto& m = b.matching;
      if (m.on || !m.labels.empty()) {
        out.append(m.on ? " on" : " ignoring");
        labels_into(out, m.labels);
      }
      if (m.card == Cardinality::kManyToOne || m.card == Cardinality::kOneToMany) {
        out.append(m.card == Cardinality::kManyToOne ? " group_left" : " group_right");
        if (!m.include.empty()) labels_into(out, m.include);
      }
    }
    out.push_back(' ');
    print(out, *b.rhs, parens);
    if (parens) out.push_back(')');
  }
  void operator()(const Negation& n) const {
    if (parens) out.push_back('(');
    out.push_back('-');
    print(out, *n.expr, parens);
    if (parens) out.push_back(')');
  }
  void operator()(const Paren& p) const {
    if (parens && (std::holds_alternative<Binary>(p.expr->node) ||
                   std::holds_alternative<Negation>(p.expr->node))) {
      print(out, *p.expr, parens);  // already parenthesized
      return;
    }
    out.push_back('(');
    print(out, *p.expr, parens);
    out.push_back(')');
  }
};

void print(std::string& out, const Expr& e, bool parens) {
  std::visit(Printer{out, parens}, e.node);
}

}  // namespace

std::string to_string(const Expr& expr, bool fully_parenthesized) {
  std::string out;
  print(out, expr, fully_parenthesized);
  return out;
}

namespace {

void collect_ranges(const Expr& e, std::vector<const MatrixSelector*>& out) {
  std::visit(
      [&](const auto& n) {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, MatrixSelector>) {
          out.push_back(&n);
        } else if constexpr (std::is_same_v<T, Call>) {
          for (const auto& a : n.args) collect_ranges(*a, out);
        } else if constexpr (std::is_same_v<T, Aggregation>) {
          if (n.param) collect_ranges(*n.param, out);
          collect_ranges(*n.expr, out);
        } else if constexpr (std::is_same_v<T, Binary>) {
          collect_ranges(*n.lhs, out);
          collect_ranges(*n.rhs, out);
        } else if constexpr (std::is_same_v<T, Negation> || std::is_same_v<T, Paren>) {
          collect_ranges(*n.expr, out);
        }
      },
      e.node);
}

}  // namespace

std::vector<const MatrixSelector*> range_selectors(const Expr& expr) {
  std::vector<const MatrixSelector*> out;
  collect_ranges(expr, out);
  return out;
}

std::optional<std::int64_t> parse_duration(std::string_view text) {
  if (text == "0") return 0;
  if (text.empty()) return std::nullopt;
  struct Unit {
    std::string_view name;
    std::int64_t ms;
  };
  static constexpr std::array<Unit, 7> kUnits = {{{"y", 365LL * 24 * 3600 * 1000},
                                                  {"w", 7LL * 24 * 3600 * 1000},
                                                  {"d", 24LL * 3600 * 1000},
                                                  {"h", 3600LL * 1000},
                                                  {"m", 60LL * 1000},
                                                  {"s", 1000},
                                                  {"ms", 1}}};
  std::size_t next_unit = 0;  // units must come in this order, each once
  std::int64_t total = 0;
  std::size_t i = 0;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  while (i < text.size()) {
    std::int64_t n = 0;
    std::size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (n > (kMax - 9) / 10) return std::nullopt;
      n = n * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    std::size_t unit = kUnits.size();
    for (std::size_t u = next_unit; u < kUnits.size(); ++u) {
      const auto name = kUnits[u].name;
      if (text.substr(i, name.size()) != name) continue;
      // "m" must not swallow the "m" of "ms".
      if (name == "m" && text.substr(i, 2) == "ms") continue;
      unit = u;
      break;
    }
    if (unit == kUnits.size()) return std::nullopt;
    i += kUnits[unit].name.size();
    next_unit = unit + 1;
    if (n > (kMax - total) / kUnits[unit].ms) return std::nullopt;
    total += n * kUnits[unit].ms;
  }
  return total;
}

std::string format_duration(std::int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out.push_back('-');
    ms = -ms;
  }
  struct Unit {
    const char* name;
    std::int64_t ms;
  };
  static constexpr Unit kUnits[] = {{"y", 365LL * 24 * 3600 * 1000},
                                    {"w", 7LL * 24 * 3600 * 1000},
                                    {"d", 24LL * 3600 * 1000},
                                    {"h", 3600LL * 1000},
                                    {"m", 60LL * 1000},
                                    {"s", 1000},
                                    {"ms", 1}};
  for (const auto& u : kUnits) {
    // Years and weeks only when exact, as Prometheus does: "90d", not "12w6d".
    const bool exact_only = u.name[0] == 'y' || u.name[0] == 'w';
    if (exact_only && ms % u.ms != 0) continue;
    if (ms >= u.ms) {
      out.append(std::to_string(ms / u.ms));
      out.append(u.name);
      ms %= u.ms;
    }
  }
  return out;
}

}  // namespace watch::promql
