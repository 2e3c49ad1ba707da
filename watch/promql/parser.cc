#include "watch/promql/parser.h"

#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "watch/model/text.h"
#include "watch/promql/format.h"
#include "watch/promql/label_matcher.h"
#include "watch/promql/lexer.h"

namespace watch::promql {

std::string ParseError::to_string() const {
  return fmt::format("{}:{}: parse error: {}", line, column, message);
}

namespace {

using detail::Lexer;
using detail::Tok;
using detail::Token;

// Thrown inside the parser only; parse() turns it into a ParseError.
struct Failure {
  std::size_t offset;
  std::string message;
};

// Precedence of binary operators, Prometheus's order (higher binds tighter).
constexpr int kPrecOr = 1;
constexpr int kPrecAndUnless = 2;
constexpr int kPrecComparison = 3;
constexpr int kPrecAdd = 4;
constexpr int kPrecMul = 5;
constexpr int kPrecPow = 6;

std::optional<BinaryOp> binary_op(Tok t) {
  switch (t) {
    case Tok::kAdd:
      return BinaryOp::kAdd;
    case Tok::kSub:
      return BinaryOp::kSub;
    case Tok::kMul:
      return BinaryOp::kMul;
    case Tok::kDiv:
      return BinaryOp::kDiv;
    case Tok::kMod:
      return BinaryOp::kMod;
    case Tok::kPow:
      return BinaryOp::kPow;
    case Tok::kAtan2:
      return BinaryOp::kAtan2;
    case Tok::kEqlc:
      return BinaryOp::kEql;
    case Tok::kNeq:
      return BinaryOp::kNeq;
    case Tok::kGtr:
      return BinaryOp::kGtr;
    case Tok::kLss:
      return BinaryOp::kLss;
    case Tok::kGte:
      return BinaryOp::kGte;
    case Tok::kLte:
      return BinaryOp::kLte;
    case Tok::kAnd:
      return BinaryOp::kAnd;
    case Tok::kOr:
      return BinaryOp::kOr;
    case Tok::kUnless:
      return BinaryOp::kUnless;
    default:
      return std::nullopt;
  }
}

int precedence(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr:
      return kPrecOr;
    case BinaryOp::kAnd:
    case BinaryOp::kUnless:
      return kPrecAndUnless;
    case BinaryOp::kAdd:
    case BinaryOp::kSub:
      return kPrecAdd;
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
    case BinaryOp::kMod:
    case BinaryOp::kAtan2:
      return kPrecMul;
    case BinaryOp::kPow:
      return kPrecPow;
    default:
      return kPrecComparison;
  }
}

std::optional<AggregateOp> aggregate_op(std::string_view word) {
  static constexpr std::pair<std::string_view, AggregateOp> kOps[] = {
      {"sum", AggregateOp::kSum},           {"avg", AggregateOp::kAvg},
      {"min", AggregateOp::kMin},           {"max", AggregateOp::kMax},
      {"count", AggregateOp::kCount},       {"group", AggregateOp::kGroup},
      {"stddev", AggregateOp::kStddev},     {"stdvar", AggregateOp::kStdvar},
      {"topk", AggregateOp::kTopk},         {"bottomk", AggregateOp::kBottomk},
      {"quantile", AggregateOp::kQuantile}, {"count_values", AggregateOp::kCountValues},
  };
  const std::string lower = ascii_lower(word);
  for (const auto& [name, op] : kOps)
    if (name == lower) return op;
  return std::nullopt;
}

bool is_label_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// A token that may stand for a label name: identifiers and the keywords
// (`on`, `by`, `sum`, `bool`...), as Prometheus's maybe_label; also "inf"/"nan".
bool maybe_label(const Token& t) {
  switch (t.type) {
    case Tok::kIdentifier:
    case Tok::kAnd:
    case Tok::kOr:
    case Tok::kUnless:
    case Tok::kAtan2:
    case Tok::kAggregator:
    case Tok::kOffset:
    case Tok::kBy:
    case Tok::kWithout:
    case Tok::kOn:
    case Tok::kIgnoring:
    case Tok::kGroupLeft:
    case Tok::kGroupRight:
    case Tok::kBool:
      return true;
    case Tok::kNumber:
      return is_label_name(t.text);
    default:
      return false;
  }
}

std::optional<double> parse_number(std::string_view s) {
  // As Prometheus: strconv.ParseInt(s, 0, 64) first (hex, octal), then ParseFloat.
  auto digit_value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 99;
  };
  auto parse_int = [&](std::string_view digits, int base) -> std::optional<double> {
    if (digits.empty()) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : digits) {
      const int d = digit_value(c);
      if (d >= base) return std::nullopt;
      if (v > (static_cast<std::uint64_t>(INT64_MAX) - static_cast<std::uint64_t>(d)) /
                  static_cast<std::uint64_t>(base))
        return std::nullopt;
      v = v * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
    }
    return static_cast<double>(v);
  };
  if (s.size() > 1 && s[0] == '0') {
    if (s[1] == 'x' || s[1] == 'X') {
      if (auto v = parse_int(s.substr(2), 16)) return v;
    } else if (auto v = parse_int(s.substr(1), 8)) {
      return v;
    }
  }
  return parse_go_float(s);
}

// Decodes a validated string token (quotes included).
std::string unquote(std::string_view quoted) {
  const char quote = quoted.front();
  std::string_view body = quoted.substr(1, quoted.size() - 2);
  if (quote == '`') return std::string(body);
  std::string out;
  out.reserve(body.size());
  auto hex = [](char c) -> std::uint32_t {
    if (c >= '0' && c <= '9') return static_cast<std::uint32_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<std::uint32_t>(c - 'a' + 10);
    return static_cast<std::uint32_t>(c - 'A' + 10);
  };
  auto put_utf8 = [&](std::uint32_t cp) {
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  };
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\') {
      out.push_back(body[i]);
      continue;
    }
    const char e = body[++i];
    switch (e) {
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case 'x':
        out.push_back(static_cast<char>(hex(body[i + 1]) << 4 | hex(body[i + 2])));
        i += 2;
        break;
      case 'u':
      case 'U': {
        const int n = e == 'u' ? 4 : 8;
        std::uint32_t cp = 0;
        for (int k = 1; k <= n; ++k) cp = (cp << 4) | hex(body[i + static_cast<std::size_t>(k)]);
        put_utf8(cp);
        i += static_cast<std::size_t>(n);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          const int v = (e - '0') * 64 + (body[i + 1] - '0') * 8 + (body[i + 2] - '0');
          out.push_back(static_cast<char>(v & 0xff));
          i += 2;
        } else {
          out.push_back(e);  // \\ and the quote
        }
    }
  }
  return out;
}

struct Node {
  ExprPtr expr;
  int depth = 1;
};

class Parser {
 public:
  Parser(std::string_view input, const ParseOptions& options)
      : input_(input), lexer_(input), options_(options) {
    advance();
  }

  Node parse_top() {
    if (tok_.type == Tok::kEOF) fail(tok_.pos, "no expression found in input");
    Node n = parse_expr(0, 0);
    if (tok_.type != Tok::kEOF) unexpected(tok_);
    return n;
  }

  std::vector<Matcher> parse_selector_only() {
    Node n = parse_unary(0);
    if (tok_.type != Tok::kEOF) unexpected(tok_);
    auto* vs = std::get_if<VectorSelector>(&n.expr->node);
    if (!vs || vs->offset_ms != 0) fail(0, "expected a series selector");
    return std::move(vs->matchers);
  }

 private:
  [[noreturn]] void fail(std::size_t offset, std::string message) {
    throw Failure{offset, std::move(message)};
  }
  [[noreturn]] void unexpected(const Token& t, std::string_view context = {},
                               std::string_view expected = {}) {
    if (t.type == Tok::kError) fail(t.pos, std::string(t.text));
    std::string msg = "unexpected " + detail::describe(t);
    if (!context.empty()) msg += fmt::format(" in {}", context);
    if (!expected.empty()) msg += fmt::format(", expected {}", expected);
    fail(t.pos, std::move(msg));
  }

  void advance() {
    prev_end_ = tok_.pos + static_cast<std::uint32_t>(tok_.text.size());
    if (tok_.type == Tok::kError) prev_end_ = tok_.pos;
    tok_ = lexer_.next();
    if (tok_.type == Tok::kError) fail(tok_.pos, std::string(tok_.text));
  }

  void expect(Tok type, std::string_view context, std::string_view what) {
    if (tok_.type != type) unexpected(tok_, context, what);
    advance();
  }

  void check_depth(int depth) {
    if (depth > options_.max_depth)
      fail(tok_.pos,
           fmt::format("expression nested too deeply (more than {} levels)", options_.max_depth));
  }

  ExprPtr make(std::uint32_t start, auto node) {
    auto e = std::make_unique<Expr>();
    e->node = std::move(node);
    e->pos = PosRange{start, prev_end_};
    return e;
  }

  void expect_type(const Expr& e, ValueType want, std::string_view context) {
    const ValueType got = e.type();
    if (got != want)
      fail(e.pos.start, fmt::format("expected type {} in {}, got {}", value_type_name(want),
                                    context, value_type_name(got)));
  }

  // Binary expressions by precedence climbing; `level` counts recursion.
  Node parse_expr(int min_prec, int level) {
    check_depth(level);
    const std::uint32_t start = tok_.pos;
    Node lhs = parse_unary(level + 1);
    for (;;) {
      const auto op = binary_op(tok_.type);
      if (!op) break;
      const int prec = precedence(*op);
      if (prec < min_prec) break;
      const Token op_tok = tok_;
      advance();

      Binary b;
      b.op = *op;
      if (tok_.type == Tok::kBool) {
        b.return_bool = true;
        advance();
      }
      if (tok_.type == Tok::kOn || tok_.type == Tok::kIgnoring) {
        b.matching.on = tok_.type == Tok::kOn;
        advance();
        b.matching.labels = parse_label_list("grouping opts");
      }
      if (tok_.type == Tok::kGroupLeft || tok_.type == Tok::kGroupRight) {
        b.matching.card =
            tok_.type == Tok::kGroupLeft ? Cardinality::kManyToOne : Cardinality::kOneToMany;
        advance();
        if (tok_.type == Tok::kLeftParen) b.matching.include = parse_label_list("grouping opts");
      }

      Node rhs = parse_expr(*op == BinaryOp::kPow ? prec : prec + 1, level + 1);
      const int depth = std::max(lhs.depth, rhs.depth) + 1;
      check_depth(depth);
      b.lhs = std::move(lhs.expr);
      b.rhs = std::move(rhs.expr);
      check_binary(b, op_tok);
      lhs = Node{make(start, std::move(b)), depth};
    }
    return lhs;
  }

  void check_binary(Binary& b, const Token& op_tok) {
    const ValueType lt = b.lhs->type();
    const ValueType rt = b.rhs->type();
    if (b.return_bool && !is_comparison(b.op))
      fail(op_tok.pos, "bool modifier can only be used on comparison operators");
    if (is_comparison(b.op) && !b.return_bool && lt == ValueType::kScalar &&
        rt == ValueType::kScalar)
      fail(op_tok.pos, "comparisons between scalars must use BOOL modifier");
    if (is_set_operator(b.op) && b.matching.card == Cardinality::kOneToOne)
      b.matching.card = Cardinality::kManyToMany;
    if (b.matching.on)
      for (const auto& l1 : b.matching.labels)
        for (const auto& l2 : b.matching.include)
          if (l1 == l2)
            fail(op_tok.pos,
                 fmt::format("label \"{}\" must not occur in ON and GROUP clause at once", l1));
    if (lt != ValueType::kScalar && lt != ValueType::kVector)
      fail(b.lhs->pos.start, "binary expression must contain only scalar and instant vector types");
    if (rt != ValueType::kScalar && rt != ValueType::kVector)
      fail(b.rhs->pos.start, "binary expression must contain only scalar and instant vector types");
    const bool vectors = lt == ValueType::kVector && rt == ValueType::kVector;
    if (!vectors) {
      if (!b.matching.labels.empty())
        fail(b.lhs->pos.start, "vector matching only allowed between instant vectors");
      b.matching = VectorMatching{};
    } else if (is_set_operator(b.op)) {
      if (b.matching.card == Cardinality::kOneToMany || b.matching.card == Cardinality::kManyToOne)
        fail(b.lhs->pos.start,
             fmt::format("no grouping allowed for \"{}\" operation", binary_op_name(b.op)));
    }
    if ((lt == ValueType::kScalar || rt == ValueType::kScalar) && is_set_operator(b.op))
      fail(b.lhs->pos.start,
           fmt::format("set operator \"{}\" not allowed in binary scalar expression",
                       binary_op_name(b.op)));
  }

  Node parse_unary(int level) {
    check_depth(level);
    if (tok_.type == Tok::kSub || tok_.type == Tok::kAdd) {
      const Token op = tok_;
      advance();
      // Unary operators bind like `*`: -a^b is -(a^b), -a*b is (-a)*b.
      Node operand = parse_expr(kPrecPow, level + 1);
      const ValueType t = operand.expr->type();
      if (t != ValueType::kScalar && t != ValueType::kVector)
        fail(op.pos, fmt::format("unary expression only allowed on expressions of type scalar or "
                                 "instant vector, got \"{}\"",
                                 value_type_name(t)));
      if (op.type == Tok::kAdd) {
        operand.expr->pos.start = op.pos;
        return operand;
      }
      if (auto* n = std::get_if<NumberLiteral>(&operand.expr->node)) {
        n->value = -n->value;
        operand.expr->pos.start = op.pos;
        return operand;
      }
      const int depth = operand.depth + 1;
      check_depth(depth);
      return Node{make(op.pos, Negation{std::move(operand.expr)}), depth};
    }
    Node n = parse_primary(level + 1);
    return parse_postfix(std::move(n));
  }

  Node parse_postfix(Node n) {
    for (;;) {
      if (tok_.type == Tok::kLeftBracket) {
        const Token open = tok_;
        auto* vs = std::get_if<VectorSelector>(&n.expr->node);
        if (!vs) {
          // What Prometheus would read as a subquery (or a range on a non-selector).
          fail(open.pos, "ranges only allowed for vector selectors");
        }
        if (vs->offset_ms != 0) fail(open.pos, "no offset modifiers allowed before range");
        advance();
        if (tok_.type == Tok::kNumber) fail(tok_.pos, "missing unit character in duration");
        if (tok_.type != Tok::kDuration) unexpected(tok_, "range", "duration");
        const std::int64_t range = duration_value(tok_);
        advance();
        if (tok_.type == Tok::kColon) fail(tok_.pos, "subqueries are not supported");
        if (tok_.type != Tok::kRightBracket) unexpected(tok_, "range", "\"]\"");
        advance();
        MatrixSelector ms{std::move(*vs), range};
        n.expr = make(n.expr->pos.start, std::move(ms));
        continue;
      }
      if (tok_.type == Tok::kOffset) {
        advance();
        bool negative = false;
        if (tok_.type == Tok::kSub || tok_.type == Tok::kAdd) {
          negative = tok_.type == Tok::kSub;
          advance();
        }
        if (tok_.type != Tok::kDuration) unexpected(tok_, "offset", "duration");
        std::int64_t offset = duration_value(tok_);
        if (negative) offset = -offset;
        advance();
        VectorSelector* vs = std::get_if<VectorSelector>(&n.expr->node);
        if (auto* ms = std::get_if<MatrixSelector>(&n.expr->node)) vs = &ms->selector;
        if (!vs)
          fail(n.expr->pos.start,
               "offset modifier must be preceded by an instant vector selector or range vector "
               "selector or a subquery");
        if (vs->offset_ms != 0) fail(n.expr->pos.start, "offset may not be set multiple times");
        vs->offset_ms = offset;
        n.expr->pos.end = prev_end_;
        continue;
      }
      if (tok_.type == Tok::kAt) fail(tok_.pos, "the @ modifier is not supported");
      return n;
    }
  }

  std::int64_t duration_value(const Token& t) {
    auto d = parse_duration(t.text);
    if (!d) fail(t.pos, fmt::format("not a valid duration string: \"{}\"", t.text));
    return *d;
  }

  Node parse_primary(int level) {
    check_depth(level);
    const Token t = tok_;
    switch (t.type) {
      case Tok::kNumber: {
        auto v = parse_number(t.text);
        if (!v)
          fail(t.pos,
               fmt::format(
                   "error parsing number: strconv.ParseFloat: parsing \"{}\": invalid syntax",
                   t.text));
        advance();
        return Node{make(t.pos, NumberLiteral{*v})};
      }
      case Tok::kString: {
        advance();
        return Node{make(t.pos, StringLiteral{unquote(t.text)})};
      }
      case Tok::kLeftParen: {
        advance();
        Node inner = parse_expr(0, level + 1);
        if (tok_.type != Tok::kRightParen) unexpected(tok_, "paren expression", "\")\"");
        advance();
        return Node{make(t.pos, Paren{std::move(inner.expr)}), inner.depth + 1};
      }
      case Tok::kLeftBrace:
        return Node{parse_selector(t.pos, {})};
      case Tok::kIdentifier:
      case Tok::kMetricIdentifier: {
        advance();
        if (t.type == Tok::kIdentifier && tok_.type == Tok::kLeftParen)
          return parse_call(t, level + 1);
        return Node{parse_selector(t.pos, std::string(t.text))};
      }
      case Tok::kAggregator:
        return parse_aggregation(level + 1);
      default:
        unexpected(t);
    }
  }

  Node parse_call(const Token& name, int level) {
    const Function* f = find_function(name.text);
    if (!f) fail(name.pos, fmt::format("unknown function with name \"{}\"", name.text));
    auto args = parse_args(level, "function call");
    Call c;
    c.function = f;
    int depth = 1;
    for (auto& a : args) {
      depth = std::max(depth, a.depth + 1);
      c.args.push_back(std::move(a.expr));
    }
    check_depth(depth);
    const std::size_t nargs = f->arg_types.size();
    const std::size_t got = c.args.size();
    if (f->variadic == 0) {
      if (got != nargs)
        fail(name.pos,
             fmt::format("expected {} argument(s) in call to \"{}\", got {}", nargs, f->name, got));
    } else {
      const std::size_t min = nargs - 1;
      if (got < min)
        fail(name.pos, fmt::format("expected at least {} argument(s) in call to \"{}\", got {}",
                                   min, f->name, got));
      if (f->variadic > 0 && got > min + static_cast<std::size_t>(f->variadic))
        fail(name.pos, fmt::format("expected at most {} argument(s) in call to \"{}\", got {}",
                                   min + static_cast<std::size_t>(f->variadic), f->name, got));
    }
    for (std::size_t i = 0; i < got; ++i) {
      const std::size_t k = std::min(i, nargs - 1);
      expect_type(*c.args[i], f->arg_types[k], fmt::format("call to function \"{}\"", f->name));
    }
    return Node{make(name.pos, std::move(c)), depth};
  }

  // ( expr, expr, ... ) with the opening parenthesis current.
  std::vector<Node> parse_args(int level, std::string_view context) {
    expect(Tok::kLeftParen, context, "\"(\"");
    std::vector<Node> args;
    if (tok_.type == Tok::kRightParen) {
      advance();
      return args;
    }
    for (;;) {
      args.push_back(parse_expr(0, level + 1));
      if (tok_.type == Tok::kComma) {
        const std::uint32_t comma = tok_.pos;
        advance();
        if (tok_.type == Tok::kRightParen)
          fail(comma, "trailing commas not allowed in function call args");
        continue;
      }
      if (tok_.type == Tok::kRightParen) {
        advance();
        return args;
      }
      unexpected(tok_, context, "\",\" or \")\"");
    }
  }

  Node parse_aggregation(int level) {
    const Token t = tok_;
    const AggregateOp op = *aggregate_op(t.text);
    advance();
    Aggregation a;
    a.op = op;
    bool grouped = false;
    if (tok_.type == Tok::kBy || tok_.type == Tok::kWithout) {
      a.without = tok_.type == Tok::kWithout;
      advance();
      a.grouping = parse_label_list("grouping opts");
      grouped = true;
    }
    if (tok_.type != Tok::kLeftParen) unexpected(tok_, "aggregation");
    auto args = parse_args(level, "aggregation");
    if (!grouped && (tok_.type == Tok::kBy || tok_.type == Tok::kWithout)) {
      a.without = tok_.type == Tok::kWithout;
      advance();
      a.grouping = parse_label_list("grouping opts");
    }
    const std::size_t want = aggregate_takes_param(op) ? 2 : 1;
    if (args.size() != want)
      fail(t.pos, fmt::format("wrong number of arguments for aggregate expression provided, "
                              "expected {}, got {}",
                              want, args.size()));
    int depth = 1;
    for (auto& n : args) depth = std::max(depth, n.depth + 1);
    check_depth(depth);
    if (want == 2) a.param = std::move(args[0].expr);
    a.expr = std::move(args.back().expr);
    expect_type(*a.expr, ValueType::kVector, "aggregation expression");
    if (op == AggregateOp::kCountValues) {
      expect_type(*a.param, ValueType::kString, "aggregation parameter");
    } else if (a.param) {
      expect_type(*a.param, ValueType::kScalar, "aggregation parameter");
    }
    return Node{make(t.pos, std::move(a)), depth};
  }

  // ( label, label, ... ) with an optional trailing comma.
  std::vector<std::string> parse_label_list(std::string_view context) {
    if (tok_.type != Tok::kLeftParen) unexpected(tok_, context, "\"(\"");
    advance();
    std::vector<std::string> labels;
    for (;;) {
      if (tok_.type == Tok::kRightParen) {
        advance();
        return labels;
      }
      if (!maybe_label(tok_) || !is_label_name(tok_.text)) unexpected(tok_, context, "label");
      labels.emplace_back(tok_.text);
      advance();
      if (tok_.type == Tok::kComma) {
        advance();
        continue;
      }
      if (tok_.type != Tok::kRightParen) unexpected(tok_, context, "\",\" or \")\"");
    }
  }

  // [name] { matchers }, the name already consumed (or empty).
  ExprPtr parse_selector(std::uint32_t start, std::string name) {
    VectorSelector vs;
    vs.name = name;
    if (tok_.type == Tok::kLeftBrace) {
      advance();
      for (;;) {
        if (tok_.type == Tok::kRightBrace) {
          advance();
          break;
        }
        if (!maybe_label(tok_) || !is_label_name(tok_.text))
          unexpected(tok_, "label matching", "identifier or \"}\"");
        Matcher m;
        const std::uint32_t matcher_pos = tok_.pos;
        m.name = std::string(tok_.text);
        advance();
        switch (tok_.type) {
          case Tok::kAssign:
            m.op = Matcher::Op::kEqual;
            break;
          case Tok::kNeq:
            m.op = Matcher::Op::kNotEqual;
            break;
          case Tok::kEqlRegex:
            m.op = Matcher::Op::kRegexMatch;
            break;
          case Tok::kNeqRegex:
            m.op = Matcher::Op::kRegexNoMatch;
            break;
          default:
            unexpected(tok_, "label matching", "label matching operator");
        }
        advance();
        if (tok_.type != Tok::kString) unexpected(tok_, "label matching", "string");
        m.value = unquote(tok_.text);
        advance();
        if (m.op == Matcher::Op::kRegexMatch || m.op == Matcher::Op::kRegexNoMatch) {
          auto r = LabelMatcher::compile(m);
          if (!r.matcher) fail(matcher_pos, r.error);
        }
        if (!name.empty() && m.name == kMetricNameLabel)
          fail(start,
               fmt::format("metric name must not be set twice: \"{}\" or \"{}\"", name, m.value));
        vs.matchers.push_back(std::move(m));
        if (tok_.type == Tok::kComma) {
          advance();
          continue;
        }
        if (tok_.type != Tok::kRightBrace) unexpected(tok_, "label matching", "\",\" or \"}\"");
      }
    }
    if (!name.empty()) vs.matchers.push_back(Matcher{std::string(kMetricNameLabel), {}, name});
    bool non_empty = false;
    for (const auto& m : vs.matchers) {
      auto r = LabelMatcher::compile(m);
      if (r.matcher && !r.matcher->matches("")) {
        non_empty = true;
        break;
      }
    }
    if (!non_empty) fail(start, "vector selector must contain at least one non-empty matcher");
    return make(start, std::move(vs));
  }

  std::string_view input_;
  Lexer lexer_;
  const ParseOptions& options_;
  Token tok_;
  std::uint32_t prev_end_ = 0;
};

ParseError make_error(std::string_view input, std::size_t offset, std::string message) {
  ParseError e;
  e.offset = std::min(offset, input.size());
  e.message = std::move(message);
  std::size_t last_break = 0;
  bool any_break = false;
  for (std::size_t i = 0; i < e.offset; ++i) {
    if (input[i] == '\n') {
      ++e.line;
      last_break = i;
      any_break = true;
    }
  }
  e.column = static_cast<int>(any_break ? e.offset - last_break : e.offset + 1);
  return e;
}

}  // namespace

ParseResult parse(std::string_view query, const ParseOptions& options) {
  ParseResult out;
  if (query.size() > options.max_length) {
    out.error = make_error(
        query, 0,
        fmt::format("query too long: {} bytes, the limit is {}", query.size(), options.max_length));
    return out;
  }
  try {
    Parser p(query, options);
    out.expr = p.parse_top().expr;
  } catch (const Failure& f) {
    out.expr.reset();
    out.error = make_error(query, f.offset, f.message);
  }
  return out;
}

SelectorParseResult parse_selector(std::string_view text, const ParseOptions& options) {
  SelectorParseResult out;
  if (text.size() > options.max_length) {
    out.error = make_error(text, 0, "selector too long");
    return out;
  }
  try {
    Parser p(text, options);
    out.matchers = p.parse_selector_only();
  } catch (const Failure& f) {
    out.matchers.clear();
    out.error = make_error(text, f.offset, f.message);
  }
  return out;
}

}  // namespace watch::promql
