#include "watch/promql/parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace watch::promql {
namespace {

// The expression as the parser grouped it, every operation parenthesized.
std::string grouped(std::string_view q) {
  ParseResult r = parse(q);
  if (!r.ok()) return "ERROR " + r.error->to_string();
  return to_string(*r.expr, true);
}

// The error in Prometheus's form, or "" when the query parses.
std::string error_of(std::string_view q, const ParseOptions& options = {}) {
  ParseResult r = parse(q, options);
  return r.ok() ? "" : r.error->to_string();
}

const Expr& root(const ParseResult& r) {
  return *r.expr;
}

TEST(PromqlParser, MultiplicationBindsTighterThanAddition) {
  EXPECT_EQ(grouped("1 + 2 * 3"), "(1 + (2 * 3))");
  EXPECT_EQ(grouped("1 * 2 + 3"), "((1 * 2) + 3)");
  EXPECT_EQ(grouped("a / b % c * d"), "(((a / b) % c) * d)");
}

TEST(PromqlParser, PowerIsRightAssociativeAndTightest) {
  EXPECT_EQ(grouped("2 ^ 3 ^ 2"), "(2 ^ (3 ^ 2))");
  EXPECT_EQ(grouped("a * b ^ c"), "(a * (b ^ c))");
}

TEST(PromqlParser, OtherOperatorsAreLeftAssociative) {
  EXPECT_EQ(grouped("a - b - c"), "((a - b) - c)");
  EXPECT_EQ(grouped("a / b / c"), "((a / b) / c)");
  EXPECT_EQ(grouped("a > b > c"), "((a > b) > c)");
  EXPECT_EQ(grouped("a or b or c"), "((a or b) or c)");
}

TEST(PromqlParser, SetOperatorsBindLooserThanComparisons) {
  EXPECT_EQ(grouped("a > 1 and b < 2"), "((a > 1) and (b < 2))");
  EXPECT_EQ(grouped("a or b and c"), "(a or (b and c))");
  EXPECT_EQ(grouped("a and b unless c"), "((a and b) unless c)");
  EXPECT_EQ(grouped("a unless b or c"), "((a unless b) or c)");
  EXPECT_EQ(grouped("a > b + c"), "(a > (b + c))");
}

TEST(PromqlParser, UnaryMinusBindsLikeMultiplication) {
  EXPECT_EQ(grouped("-a ^ b"), "(-(a ^ b))");
  EXPECT_EQ(grouped("-a * b"), "((-a) * b)");
  EXPECT_EQ(grouped("-a + b"), "((-a) + b)");
  EXPECT_EQ(grouped("a + -b"), "(a + (-b))");
  EXPECT_EQ(grouped("- - a"), "(-(-a))");
  EXPECT_EQ(grouped("2 ^ -1"), "(2 ^ -1)");
}

TEST(PromqlParser, UnaryMinusOnNumberFoldsIntoTheLiteral) {
  ParseResult r = parse("-5");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<NumberLiteral>(root(r).node).value, -5);
  ParseResult plus = parse("+5");
  ASSERT_TRUE(plus.ok());
  EXPECT_EQ(std::get<NumberLiteral>(root(plus).node).value, 5);
}

TEST(PromqlParser, ParenthesesOverridePrecedence) {
  EXPECT_EQ(grouped("(1 + 2) * 3"), "((1 + 2) * 3)");
  ParseResult r = parse("(1 + 2) * 3");
  const auto& b = std::get<Binary>(root(r).node);
  EXPECT_TRUE(std::holds_alternative<Paren>(b.lhs->node));
}

TEST(PromqlParser, RuleExpressionsGroupAsPrometheus) {
  EXPECT_EQ(grouped("time() - worker_last_success_timestamp_seconds > 600 and queue_depth > 0"),
            "(((time() - worker_last_success_timestamp_seconds) > 600) and (queue_depth > 0))");
  EXPECT_EQ(grouped("max_over_time(service_ready[10m]) == 0 and (time() - "
                    "process_start_time_seconds) > 120"),
            "((max_over_time(service_ready[10m]) == 0) and ((time() - "
            "process_start_time_seconds) > 120))");
  EXPECT_EQ(grouped("histogram_quantile(0.95, sum by (le, http_route) "
                    "(rate(http_server_request_duration_seconds_bucket[5m]))) > 0.5"),
            "(histogram_quantile(0.95, sum by (le, http_route) "
            "(rate(http_server_request_duration_seconds_bucket[5m]))) > 0.5)");
}

TEST(PromqlParser, NumberLiterals) {
  auto value = [](std::string_view q) {
    ParseResult r = parse(q);
    EXPECT_TRUE(r.ok()) << q << ": " << (r.error ? r.error->to_string() : "");
    return r.ok() ? std::get<NumberLiteral>(r.expr->node).value : -12345.0;
  };
  EXPECT_EQ(value("1"), 1);
  EXPECT_EQ(value("1.5"), 1.5);
  EXPECT_EQ(value(".5"), 0.5);
  EXPECT_EQ(value("5."), 5);
  EXPECT_EQ(value("1e3"), 1000);
  EXPECT_EQ(value("2.5E-1"), 0.25);
  EXPECT_EQ(value("0x1f"), 31);
  EXPECT_EQ(value("0755"), 493);  // octal, as Go's ParseInt(s, 0, 64)
  EXPECT_EQ(value("089"), 89);    // not octal: read as a float
  EXPECT_EQ(value("Inf"), INFINITY);
  EXPECT_EQ(value("-inf"), -INFINITY);
  EXPECT_TRUE(std::isnan(value("NaN")));
  EXPECT_TRUE(std::isnan(value("nan")));
}

TEST(PromqlParser, StringLiteralsWithEscapes) {
  auto value = [](std::string_view q) {
    ParseResult r = parse(q);
    EXPECT_TRUE(r.ok()) << q << ": " << (r.error ? r.error->to_string() : "");
    return r.ok() ? std::get<StringLiteral>(r.expr->node).value : std::string("?");
  };
  EXPECT_EQ(value(R"q("a\nb")q"), "a\nb");
  EXPECT_EQ(value(R"q('single \' quote')q"), "single ' quote");
  EXPECT_EQ(value(R"q("double \" quote")q"), "double \" quote");
  EXPECT_EQ(value("`raw \\n string`"), "raw \\n string");
  EXPECT_EQ(value(R"q("\x41\101\u00e9\U0001F600")q"), "AA\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(value(R"q("tab\there")q"), "tab\there");
}

TEST(PromqlParser, DurationsInRangesAndOffsets) {
  ParseResult r = parse("foo[1h30m] offset 1d");
  ASSERT_TRUE(r.ok());
  const auto& ms = std::get<MatrixSelector>(root(r).node);
  EXPECT_EQ(ms.range_ms, 5400000);
  EXPECT_EQ(ms.selector.offset_ms, 86400000);

  ParseResult neg = parse("foo offset -5m");
  ASSERT_TRUE(neg.ok());
  EXPECT_EQ(std::get<VectorSelector>(root(neg).node).offset_ms, -300000);

  EXPECT_EQ(std::get<MatrixSelector>(parse("x[100ms]").expr->node).range_ms, 100);
  EXPECT_EQ(std::get<MatrixSelector>(parse("x[1w]").expr->node).range_ms, 604800000);
  EXPECT_EQ(std::get<MatrixSelector>(parse("x[1y]").expr->node).range_ms, 31536000000);
  EXPECT_EQ(std::get<MatrixSelector>(parse("x[2m30s]").expr->node).range_ms, 150000);
}

TEST(PromqlParser, ParseDurationFollowsPrometheusSyntax) {
  EXPECT_EQ(parse_duration("5m"), 300000);
  EXPECT_EQ(parse_duration("1h30m"), 5400000);
  EXPECT_EQ(parse_duration("1d12h"), 129600000);
  EXPECT_EQ(parse_duration("1s500ms"), 1500);
  EXPECT_EQ(parse_duration("0"), 0);
  EXPECT_EQ(parse_duration(""), std::nullopt);
  EXPECT_EQ(parse_duration("30m1h"), std::nullopt);  // units out of order
  EXPECT_EQ(parse_duration("5m5m"), std::nullopt);   // unit repeated
  EXPECT_EQ(parse_duration("1.5m"), std::nullopt);
  EXPECT_EQ(parse_duration("5"), std::nullopt);
  EXPECT_EQ(parse_duration("99999999999999999999y"), std::nullopt);
  EXPECT_EQ(format_duration(5400000), "1h30m");
  EXPECT_EQ(format_duration(90 * 86400000LL), "90d");  // not "12w6d"
  EXPECT_EQ(format_duration(1500), "1s500ms");
  EXPECT_EQ(format_duration(0), "0s");
}

TEST(PromqlParser, SelectorsWithEveryMatcherKind) {
  ParseResult r = parse(
      R"q(http_requests_total{job="api", code!="200", method=~"GET|POST", path!~"/debug.*",})q");
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  const auto& vs = std::get<VectorSelector>(root(r).node);
  EXPECT_EQ(vs.name, "http_requests_total");
  ASSERT_EQ(vs.matchers.size(), 5u);
  EXPECT_EQ(vs.matchers[0].op, Matcher::Op::kEqual);
  EXPECT_EQ(vs.matchers[1].op, Matcher::Op::kNotEqual);
  EXPECT_EQ(vs.matchers[2].op, Matcher::Op::kRegexMatch);
  EXPECT_EQ(vs.matchers[2].value, "GET|POST");
  EXPECT_EQ(vs.matchers[3].op, Matcher::Op::kRegexNoMatch);
  EXPECT_EQ(vs.matchers[4].name, "__name__");
  EXPECT_EQ(vs.matchers[4].value, "http_requests_total");
}

TEST(PromqlParser, SelectorWithoutMetricNameAndKeywordLabelNames) {
  ParseResult r = parse(R"q({__name__=~"job:.*", on="a", by="b", sum="c", inf="d"})q");
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  const auto& vs = std::get<VectorSelector>(root(r).node);
  EXPECT_EQ(vs.name, "");
  EXPECT_EQ(vs.matchers.size(), 5u);
  EXPECT_EQ(vs.matchers[1].name, "on");
}

TEST(PromqlParser, RecordingRuleNamesWithColons) {
  ParseResult r = parse("job:http_requests:rate5m{job=\"api\"}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<VectorSelector>(root(r).node).name, "job:http_requests:rate5m");
}

TEST(PromqlParser, KeywordsAreCaseInsensitive) {
  EXPECT_EQ(grouped("SUM BY (job) (x) AND ON(job) y"), "(sum by (job) (x) and on(job) y)");
}

TEST(PromqlParser, AggregationGroupingBeforeOrAfter) {
  EXPECT_EQ(grouped("sum by (job) (x)"), "sum by (job) (x)");
  EXPECT_EQ(grouped("sum(x) by (job)"), "sum by (job) (x)");
  EXPECT_EQ(grouped("avg without (instance, pod) (x)"), "avg without (instance, pod) (x)");
  EXPECT_EQ(grouped("max(x) without (instance,)"), "max without (instance) (x)");
  EXPECT_EQ(grouped("count by () (x)"), "count(x)");
  EXPECT_EQ(grouped("topk(3, x)"), "topk(3, x)");
  EXPECT_EQ(grouped("bottomk by (job) (2, x)"), "bottomk by (job) (2, x)");
  EXPECT_EQ(grouped("quantile(0.9, x)"), "quantile(0.9, x)");
  EXPECT_EQ(grouped("count_values(\"value\", x)"), "count_values(\"value\", x)");
  EXPECT_EQ(grouped("group(x)"), "group(x)");
  EXPECT_EQ(grouped("stddev(x) + stdvar(x)"), "(stddev(x) + stdvar(x))");
  ParseResult r = parse("sum without (a) (x)");
  EXPECT_TRUE(std::get<Aggregation>(root(r).node).without);
}

TEST(PromqlParser, VectorMatchingModifiers) {
  ParseResult r = parse("a * on(job, instance) group_left(version) b");
  ASSERT_TRUE(r.ok());
  const auto& b = std::get<Binary>(root(r).node);
  EXPECT_TRUE(b.matching.on);
  EXPECT_THAT(b.matching.labels, ::testing::ElementsAre("job", "instance"));
  EXPECT_EQ(b.matching.card, Cardinality::kManyToOne);
  EXPECT_THAT(b.matching.include, ::testing::ElementsAre("version"));

  ParseResult r2 = parse("a / ignoring(code) group_right b");
  const auto& b2 = std::get<Binary>(root(r2).node);
  EXPECT_FALSE(b2.matching.on);
  EXPECT_EQ(b2.matching.card, Cardinality::kOneToMany);
  EXPECT_TRUE(b2.matching.include.empty());

  ParseResult r3 = parse("a == bool on() b");
  const auto& b3 = std::get<Binary>(root(r3).node);
  EXPECT_TRUE(b3.return_bool);
  EXPECT_TRUE(b3.matching.on);
  EXPECT_EQ(b3.matching.card, Cardinality::kOneToOne);

  ParseResult r4 = parse("a and b");
  EXPECT_EQ(std::get<Binary>(root(r4).node).matching.card, Cardinality::kManyToMany);
}

TEST(PromqlParser, BoolOnScalarComparison) {
  ParseResult r = parse("1 > bool 2");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(root(r).type(), ValueType::kScalar);
}

TEST(PromqlParser, FunctionCallsAndTheirTypes) {
  EXPECT_EQ(parse("time()").expr->type(), ValueType::kScalar);
  EXPECT_EQ(parse("scalar(x)").expr->type(), ValueType::kScalar);
  EXPECT_EQ(parse("vector(1)").expr->type(), ValueType::kVector);
  EXPECT_EQ(parse("rate(x[5m])").expr->type(), ValueType::kVector);
  EXPECT_EQ(parse("x[5m]").expr->type(), ValueType::kMatrix);
  EXPECT_EQ(parse("\"s\"").expr->type(), ValueType::kString);
  EXPECT_TRUE(parse("round(x)").ok());
  EXPECT_TRUE(parse("round(x, 5)").ok());
  EXPECT_TRUE(parse(R"q(label_join(x, "dst", ",", "a", "b", "c"))q").ok());
  EXPECT_TRUE(parse(R"q(label_replace(x, "dst", "$1", "src", "(.*)"))q").ok());
  EXPECT_TRUE(parse("clamp(x, 0, 1) + clamp_min(x, 0) + clamp_max(x, 1) + abs(x)").ok());
  EXPECT_TRUE(parse("absent(x) + absent_over_time(x[5m])").ok());
  EXPECT_TRUE(parse("timestamp(x)").ok());
}

TEST(PromqlParser, CommentsAndWhitespace) {
  EXPECT_EQ(grouped("sum(\n  x # the metric\n) # done"), "sum(x)");
}

TEST(PromqlParser, PrintedFormParsesBackToTheSameTree) {
  for (std::string_view q : {
           "histogram_quantile(0.95, sum by (le, http_route) (rate(x_bucket[5m]))) > 0.5",
           "a * on(job) group_left(version) b",
           "-x offset 5m",
           "sum without (a) (rate(x{a=~\"b|c\", d!=\"\\\"e\\\"\"}[1h] offset -1m))",
           "1 - -Inf",
       }) {
    ParseResult r = parse(q);
    ASSERT_TRUE(r.ok()) << q;
    const std::string printed = to_string(*r.expr);
    ParseResult again = parse(printed);
    ASSERT_TRUE(again.ok()) << printed << ": " << again.error->to_string();
    EXPECT_EQ(to_string(*again.expr, true), to_string(*r.expr, true)) << q;
  }
}

// Error messages and positions, as promtool 2.42 reports them for the same
// expressions (checked with `promtool check rules`).
TEST(PromqlParser, ErrorsMatchPrometheusMessagesAndPositions) {
  EXPECT_EQ(error_of("sum(x) +"), "1:9: parse error: unexpected end of input");
  EXPECT_EQ(error_of("foo{a=\"b\""), "1:10: parse error: unexpected end of input inside braces");
  EXPECT_EQ(error_of("rate(foo)"),
            "1:6: parse error: expected type range vector in call to function \"rate\", got "
            "instant vector");
  EXPECT_EQ(error_of("rate(foo[5m], 1)"),
            "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 2");
  EXPECT_EQ(error_of("1 > 2"),
            "1:3: parse error: comparisons between scalars must use BOOL modifier");
  EXPECT_EQ(error_of("foo and 1"),
            "1:1: parse error: set operator \"and\" not allowed in binary scalar expression");
  EXPECT_EQ(error_of("(foo)[5m]"), "1:6: parse error: ranges only allowed for vector selectors");
  EXPECT_EQ(error_of("{}"),
            "1:1: parse error: vector selector must contain at least one non-empty matcher");
  EXPECT_EQ(error_of("foo{__name__=\"bar\"}"),
            "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\"");
  EXPECT_EQ(error_of("unknownfn(x)"), "1:1: parse error: unknown function with name \"unknownfn\"");
  EXPECT_EQ(error_of("sum by (a) x"),
            "1:12: parse error: unexpected identifier \"x\" in aggregation");
  EXPECT_EQ(error_of("topk(x)"),
            "1:1: parse error: wrong number of arguments for aggregate expression provided, "
            "expected 2, got 1");
  EXPECT_EQ(error_of("foo bar"), "1:5: parse error: unexpected identifier \"bar\"");
  EXPECT_EQ(error_of("1 + on(a) 2"),
            "1:1: parse error: vector matching only allowed between instant vectors");
  EXPECT_EQ(error_of("foo offset 5m[1m]"),
            "1:14: parse error: no offset modifiers allowed before range");
  EXPECT_EQ(error_of("sum(foo) offset 5m"),
            "1:1: parse error: offset modifier must be preceded by an instant vector selector or "
            "range vector selector or a subquery");
  EXPECT_EQ(
      error_of("\"a\" + 1"),
      "1:1: parse error: binary expression must contain only scalar and instant vector types");
  EXPECT_EQ(error_of("-foo[5m]"),
            "1:1: parse error: unary expression only allowed on expressions of type scalar or "
            "instant vector, got \"range vector\"");
  EXPECT_EQ(error_of("foo{a=\"\\q\"}"), "1:7: parse error: unknown escape sequence U+0071 'q'");
  EXPECT_EQ(error_of("rate(foo[5m],)"),
            "1:13: parse error: trailing commas not allowed in function call args");
  EXPECT_EQ(error_of("foo[5]"), "1:5: parse error: missing unit character in duration");
  EXPECT_EQ(error_of("foo[5m"), "1:7: parse error: unclosed left bracket");
  EXPECT_EQ(error_of(")"), "1:2: parse error: unexpected right parenthesis ')'");
  EXPECT_EQ(error_of("a == bool on(x) group_left(x) b"),
            "1:3: parse error: label \"x\" must not occur in ON and GROUP clause at once");
  EXPECT_EQ(error_of("count_values(1, x)"),
            "1:14: parse error: expected type string in aggregation parameter, got scalar");
  EXPECT_EQ(error_of("foo{1a=\"b\"}"), "1:5: parse error: unexpected character inside braces: '1'");
  EXPECT_EQ(error_of("0x"),
            "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"0x\": invalid "
            "syntax");
  EXPECT_EQ(error_of("1.5m"), "1:1: parse error: unexpected duration \"1.5m\"");
  EXPECT_EQ(error_of("foo[1.5m]"), "1:5: parse error: not a valid duration string: \"1.5m\"");
  EXPECT_EQ(error_of("foo{a}"),
            "1:6: parse error: unexpected \"}\" in label matching, expected label matching "
            "operator");
  EXPECT_EQ(error_of("rate(foo[5m]"), "1:13: parse error: unclosed left parenthesis");
  EXPECT_EQ(error_of("* 2"), "1:1: parse error: unexpected <op:*>");
  EXPECT_EQ(error_of("sum(x) by"),
            "1:10: parse error: unexpected end of input in grouping opts, expected \"(\"");
  EXPECT_EQ(error_of("foo{a=\"b\" c=\"d\"}"),
            "1:11: parse error: unexpected identifier \"c\" in label matching, expected \",\" or "
            "\"}\"");
  EXPECT_EQ(error_of("foo[5m] offset"),
            "1:15: parse error: unexpected end of input in offset, expected duration");
  EXPECT_EQ(error_of("foo offset 5m offset 1m"),
            "1:1: parse error: offset may not be set multiple times");
  EXPECT_EQ(error_of("a + on b"),
            "1:8: parse error: unexpected identifier \"b\" in grouping opts, expected \"(\"");
  EXPECT_EQ(error_of("\"unterminated"), "1:1: parse error: unterminated quoted string");
  EXPECT_EQ(error_of("foo{a=~\"a{2000}\"}"),
            "1:5: parse error: error parsing regexp: invalid repeat count: `{2000}`");
  EXPECT_EQ(error_of("sum without (1) (x)"),
            "1:14: parse error: unexpected number \"1\" in grouping opts, expected label");
  EXPECT_EQ(error_of("foo{a=\"b\"}}"), "1:11: parse error: unexpected character: '}'");
  EXPECT_EQ(error_of("a !b"), "1:3: parse error: unexpected character after '!': 'b'");
  EXPECT_EQ(error_of("foo[5m][1m]"), "1:8: parse error: ranges only allowed for vector selectors");
  EXPECT_EQ(error_of("histogram_quantile(0.9)"),
            "1:1: parse error: expected 2 argument(s) in call to \"histogram_quantile\", got 1");
  EXPECT_EQ(error_of("label_join(x)"),
            "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 1");
  EXPECT_EQ(error_of("round(x, 1, 2)"),
            "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3");
  EXPECT_EQ(error_of(""), "1:1: parse error: no expression found in input");
}

TEST(PromqlParser, ErrorPositionCountsLinesAndColumns) {
  ParseResult r = parse("sum(\n  rate(x[5m])\n) +\n  * 2");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->offset, 25u);
  EXPECT_EQ(r.error->line, 4);
  EXPECT_EQ(r.error->column, 3);
  EXPECT_EQ(r.error->message, "unexpected <op:*>");
  EXPECT_EQ(r.error->to_string(), "4:3: parse error: unexpected <op:*>");
}

TEST(PromqlParser, UnsupportedSyntaxIsAClearError) {
  EXPECT_EQ(error_of("foo[5m:1m]"), "1:7: parse error: subqueries are not supported");
  EXPECT_EQ(error_of("foo @ 100"), "1:5: parse error: the @ modifier is not supported");
}

TEST(PromqlParser, MoreSemanticErrors) {
  EXPECT_THAT(error_of("a + bool b"),
              ::testing::HasSubstr("bool modifier can only be used on comparison operators"));
  EXPECT_THAT(error_of("a and on(x) group_left b"),
              ::testing::HasSubstr("no grouping allowed for \"and\" operation"));
  EXPECT_THAT(error_of("sum(x[5m])"),
              ::testing::HasSubstr("expected type instant vector in aggregation expression, got "
                                   "range vector"));
  EXPECT_THAT(error_of("topk(\"a\", x)"),
              ::testing::HasSubstr("expected type scalar in aggregation parameter, got string"));
  EXPECT_THAT(error_of("{a=\"\"}"),
              ::testing::HasSubstr("vector selector must contain at least one non-empty matcher"));
  EXPECT_THAT(error_of("{a=~\".*\"}"),
              ::testing::HasSubstr("vector selector must contain at least one non-empty matcher"));
  EXPECT_EQ(error_of("{a=~\".+\"}"), "");
  EXPECT_THAT(error_of("foo{a=~\"(\"}"),
              ::testing::HasSubstr("1:5: parse error: error parsing regexp"));
  EXPECT_THAT(error_of("foo{a=~\"(a)\\\\1\"}"), ::testing::HasSubstr("invalid escape sequence"));
  EXPECT_THAT(error_of("abs(x[5m])"),
              ::testing::HasSubstr("expected type instant vector in call to function \"abs\""));
  EXPECT_THAT(error_of("a =~ b"), ::testing::HasSubstr("unexpected character after '=': '~'"));
}

TEST(PromqlParser, InputSizeIsBounded) {
  ParseOptions options;
  options.max_length = 100;
  EXPECT_THAT(error_of(std::string(101, 'a'), options), ::testing::HasSubstr("query too long"));
  EXPECT_EQ(error_of(std::string(100, 'a'), options), "");
}

TEST(PromqlParser, NestingDepthIsBounded) {
  std::string deep_parens = std::string(10000, '(') + "1" + std::string(10000, ')');
  EXPECT_THAT(error_of(deep_parens), ::testing::HasSubstr("nested too deeply"));

  std::string long_chain = "a";
  for (int i = 0; i < 5000; ++i) long_chain += " + a";
  EXPECT_THAT(error_of(long_chain), ::testing::HasSubstr("nested too deeply"));

  std::string pow_chain = "2";
  for (int i = 0; i < 5000; ++i) pow_chain += "^2";
  EXPECT_THAT(error_of(pow_chain), ::testing::HasSubstr("nested too deeply"));

  std::string minus_chain = std::string(5000, '-') + "a";
  EXPECT_THAT(error_of(minus_chain), ::testing::HasSubstr("nested too deeply"));

  std::string calls;
  for (int i = 0; i < 3000; ++i) calls += "abs(";
  calls += "a" + std::string(3000, ')');
  EXPECT_THAT(error_of(calls), ::testing::HasSubstr("nested too deeply"));

  // Within the limit, fine.
  std::string ok_chain = "a";
  for (int i = 0; i < 150; ++i) ok_chain += " + a";
  EXPECT_EQ(error_of(ok_chain), "");
}

TEST(PromqlParser, SelectorAloneForTheSeriesApi) {
  SelectorParseResult r = parse_selector("up{job=\"api\"}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.matchers.size(), 2u);
  EXPECT_FALSE(parse_selector("up + 1").ok());
  EXPECT_FALSE(parse_selector("rate(x[5m])").ok());
  EXPECT_FALSE(parse_selector("{}").ok());
}

TEST(PromqlParser, RangeSelectorsListsEveryWindowWithItsOffset) {
  auto r = parse(
      "sum by (job) (rate(a[5m])) / on (job) group_left -(increase(b[1h] offset 1d)) > "
      "quantile(0.9, c) and d");
  ASSERT_TRUE(r.ok());
  const auto ranges = range_selectors(*r.expr);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0]->selector.name, "a");
  EXPECT_EQ(ranges[0]->range_ms, 300'000);
  EXPECT_EQ(ranges[1]->selector.name, "b");
  EXPECT_EQ(ranges[1]->range_ms, 3'600'000);
  EXPECT_EQ(ranges[1]->selector.offset_ms, 86'400'000);
  EXPECT_TRUE(range_selectors(*parse("up == 0").expr).empty());
}

}  // namespace
}  // namespace watch::promql
