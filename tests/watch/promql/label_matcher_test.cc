#include "watch/promql/label_matcher.h"

#include "watch/goregexp/goregexp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace watch::promql {
namespace {

LabelMatcher compile(std::string name, Matcher::Op op, std::string value) {
  auto r = LabelMatcher::compile(Matcher{std::move(name), op, std::move(value)});
  EXPECT_TRUE(r.matcher) << r.error;
  return *r.matcher;
}

std::string error_of(std::string value) {
  auto r = LabelMatcher::compile(Matcher{"l", Matcher::Op::kRegexMatch, std::move(value)});
  EXPECT_FALSE(r.matcher);
  return r.error;
}

using Op = Matcher::Op;

TEST(PromqlLabelMatcher, EqualityAndInequality) {
  auto eq = compile("job", Op::kEqual, "api");
  EXPECT_TRUE(eq.matches("api"));
  EXPECT_FALSE(eq.matches("api2"));
  auto ne = compile("job", Op::kNotEqual, "api");
  EXPECT_FALSE(ne.matches("api"));
  EXPECT_TRUE(ne.matches(""));
}

TEST(PromqlLabelMatcher, RegexesAreFullyAnchored) {
  auto re = compile("code", Op::kRegexMatch, "5..");
  EXPECT_TRUE(re.matches("500"));
  EXPECT_FALSE(re.matches("5000"));
  EXPECT_FALSE(re.matches("x500"));
  auto alt = compile("code", Op::kRegexMatch, "2.*|3.*");
  EXPECT_TRUE(alt.matches("204"));
  EXPECT_FALSE(alt.matches("404"));
  auto nre = compile("code", Op::kRegexNoMatch, "5..");
  EXPECT_FALSE(nre.matches("503"));
  EXPECT_TRUE(nre.matches("200"));
}

TEST(PromqlLabelMatcher, LiteralAlternativesAndShortcuts) {
  auto lits = compile("m", Op::kRegexMatch, "GET|POST|PUT");
  EXPECT_TRUE(lits.matches("POST"));
  EXPECT_FALSE(lits.matches("GE"));
  EXPECT_FALSE(lits.matches("GET|POST"));
  auto escaped = compile("h", Op::kRegexMatch, "a\\.b");
  EXPECT_TRUE(escaped.matches("a.b"));
  EXPECT_FALSE(escaped.matches("axb"));
  auto any = compile("x", Op::kRegexMatch, ".*");
  EXPECT_TRUE(any.matches(""));
  EXPECT_TRUE(any.matches("anything"));
  auto some = compile("x", Op::kRegexMatch, ".+");
  EXPECT_FALSE(some.matches(""));
  EXPECT_TRUE(some.matches("a"));
}

TEST(PromqlLabelMatcher, GoSyntaxAsPrometheus) {
  EXPECT_TRUE(compile("i", Op::kRegexMatch, "host-\\d+:(?:80|443)").matches("host-12:443"));
  EXPECT_TRUE(compile("i", Op::kRegexMatch, "[a-z]+[[:digit:]]{2}").matches("web01"));
  EXPECT_TRUE(compile("i", Op::kRegexMatch, "(?i)GET").matches("get"));
  // What std::regex (ECMAScript) did not have: named groups, Unicode
  // classes, flags in a group.
  EXPECT_TRUE(compile("i", Op::kRegexMatch, "(?P<host>[a-z]+):\\d+").matches("web:80"));
  EXPECT_TRUE(compile("i", Op::kRegexMatch, "\\pL+").matches("café"));
  EXPECT_TRUE(compile("i", Op::kRegexMatch, "(?s:a.b)").matches("a\nb"));
  EXPECT_FALSE(compile("i", Op::kRegexMatch, "a.b").matches("a\nb"));  // . is not \n
}

TEST(PromqlLabelMatcher, MissingLabelMatchesAsEmpty) {
  std::vector<LabelMatcher> ms = {compile("env", Op::kEqual, ""),
                                  compile("__name__", Op::kEqual, "up")};
  EXPECT_TRUE(matches_all(ms, LabelSet::from({{"__name__", "up"}})));
  EXPECT_FALSE(matches_all(ms, LabelSet::from({{"__name__", "up"}, {"env", "prod"}})));
}

TEST(PromqlLabelMatcher, BadPatternsAreErrorsInGosWords) {
  // Prometheus 2.42 says: error parsing regexp: missing closing ): `^(?:()$`
  EXPECT_EQ(error_of("("), "error parsing regexp: missing closing ): `^(?:()$`");
  // Anchored as Prometheus anchors it, "[a-" reads as the range "a-)".
  EXPECT_EQ(error_of("[a-"), "error parsing regexp: invalid character class range: `a-)`");
  EXPECT_THAT(error_of("[a"), ::testing::HasSubstr("missing closing ]"));
  EXPECT_THAT(error_of("(a)\\1"), ::testing::HasSubstr("invalid escape sequence"));
  EXPECT_THAT(error_of("a{1001}"), ::testing::HasSubstr("invalid repeat count"));
  EXPECT_THAT(error_of("a**"), ::testing::HasSubstr("invalid nested repetition operator"));
}

TEST(PromqlLabelMatcher, HostilePatternsAreRefusedOrBoundedNeverACrash) {
  // Digits that once overflowed std::regex's repeat count (found by the
  // fuzzer): Go reads a brace that is no valid repeat as a literal.
  EXPECT_TRUE(compile("l", Op::kRegexMatch, "a{22222222232222222222,22{1")
                  .matches("a{22222222232222222222,22{1"));
  EXPECT_TRUE(compile("l", Op::kRegexMatch, "a{1,99999999999999999999}")
                  .matches("a{1,99999999999999999999}"));
  // A program too large for the regex engine's memory bound is an error.
  EXPECT_FALSE(error_of("((((a{100}){100}){100}){100})").empty());
  // Long and deeply nested patterns Go accepts work.
  EXPECT_TRUE(
      compile("l", Op::kRegexMatch, std::string(5000, 'a') + "*").matches(std::string(4999, 'a')));
  EXPECT_TRUE(compile("l", Op::kRegexMatch, std::string(60, '(') + "a" + std::string(60, ')'))
                  .matches("a"));
}

TEST(PromqlLabelMatcher, LongValuesDoNotRecurseOrBacktrack) {
  const std::string value(200000, 'a');
  // Classic catastrophic backtracking for a backtracking engine; and a .*
  // that a recursive engine would follow once per character.
  EXPECT_FALSE(compile("l", Op::kRegexMatch, "(a|aa)*b").matches(value));
  EXPECT_TRUE(compile("l", Op::kRegexMatch, "a.*a").matches(value));
}

TEST(PromqlLabelMatcher, CompileRegexWithGroups) {
  auto r = compile_regex("(?P<host>.*):(\\d+)");
  ASSERT_TRUE(r.regex);
  std::vector<goregexp::Span> g(3);
  const std::string v = "host:9100";
  ASSERT_TRUE(goregexp::match(*r.regex, v, g));
  EXPECT_EQ(v.substr(g[1].begin, g[1].end - g[1].begin), "host");
  EXPECT_EQ(v.substr(g[2].begin, g[2].end - g[2].begin), "9100");
  EXPECT_FALSE(goregexp::match(*r.regex, "x" + v + "\n", g)) << "anchored";
  EXPECT_FALSE(compile_regex("(").regex);
  EXPECT_EQ(compile_regex("(").error, "error parsing regexp: missing closing ): `^(?:()$`");
}

}  // namespace
}  // namespace watch::promql
