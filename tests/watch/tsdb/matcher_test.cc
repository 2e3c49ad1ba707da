// Matcher semantics: anchoring, negation, the empty value, and the fast
// paths agreeing with the regex engine.
#include "watch/tsdb/matcher.h"

#include <gtest/gtest.h>

#include <random>
#include <regex>
#include <string>

namespace watch::tsdb {
namespace {

using Op = Matcher::Op;

CompiledMatcher compile(Op op, std::string value) {
  std::string error;
  auto m = CompiledMatcher::compile(Matcher{"l", op, std::move(value)}, &error);
  EXPECT_TRUE(m.has_value()) << error;
  return *m;
}

TEST(Matcher, EqualAndNotEqual) {
  const auto eq = compile(Op::kEqual, "api");
  EXPECT_TRUE(eq.matches("api"));
  EXPECT_FALSE(eq.matches("apis"));
  EXPECT_FALSE(eq.matches(""));
  const auto ne = compile(Op::kNotEqual, "api");
  EXPECT_FALSE(ne.matches("api"));
  EXPECT_TRUE(ne.matches("web"));
  EXPECT_TRUE(ne.matches_empty());  // a series without the label is "not api"
}

TEST(Matcher, EmptyValueSelectsSeriesWithoutTheLabel) {
  EXPECT_TRUE(compile(Op::kEqual, "").matches_empty());
  EXPECT_FALSE(compile(Op::kNotEqual, "").matches_empty());
  EXPECT_TRUE(compile(Op::kRegexMatch, ".*").matches_empty());
  EXPECT_FALSE(compile(Op::kRegexMatch, ".+").matches_empty());
  EXPECT_TRUE(compile(Op::kRegexNoMatch, ".+").matches_empty());
  EXPECT_TRUE(compile(Op::kRegexMatch, "a|").matches_empty());
  EXPECT_TRUE(compile(Op::kRegexMatch, "(a)?").matches_empty());
}

TEST(Matcher, RegexesAreFullyAnchored) {
  const auto m = compile(Op::kRegexMatch, "api");
  EXPECT_TRUE(m.matches("api"));
  EXPECT_FALSE(m.matches("rapid"));
  EXPECT_FALSE(m.matches("api2"));
  const auto alt = compile(Op::kRegexMatch, "a|b.*");
  EXPECT_TRUE(alt.matches("a"));
  EXPECT_TRUE(alt.matches("bcd"));
  EXPECT_FALSE(alt.matches("ab"));  // ^(?:a|b.*)$, not ^a|b.*$
  const auto cls = compile(Op::kRegexMatch, "5[0-9]{2}");
  EXPECT_TRUE(cls.matches("503"));
  EXPECT_FALSE(cls.matches("5030"));
}

TEST(Matcher, NegatedRegex) {
  const auto m = compile(Op::kRegexNoMatch, "5..");
  EXPECT_FALSE(m.matches("500"));
  EXPECT_TRUE(m.matches("200"));
  EXPECT_TRUE(m.matches_empty());
}

TEST(Matcher, CaseInsensitiveFlag) {
  const auto m = compile(Op::kRegexMatch, "(?i)get|post");
  EXPECT_TRUE(m.matches("GET"));
  EXPECT_TRUE(m.matches("Post"));
  EXPECT_FALSE(m.matches("PUT"));
}

TEST(Matcher, InvalidRegexIsAnErrorNotAnException) {
  std::string error;
  EXPECT_FALSE(CompiledMatcher::compile(Matcher{"l", Op::kRegexMatch, "(a"}, &error).has_value());
  EXPECT_EQ(error.rfind("invalid matcher l=~\"(a\": ", 0), 0u) << error;
  EXPECT_FALSE(
      MatcherSet::compile(
          std::vector<Matcher>{{"a", Op::kEqual, "x"}, {"b", Op::kRegexMatch, "[z"}}, &error)
          .has_value());
  EXPECT_THROW(MatcherSet::must_compile({{"b", Op::kRegexMatch, "[z"}}), std::invalid_argument);
  // PromQL's bounds apply: a pattern too large to compile safely is refused.
  EXPECT_FALSE(CompiledMatcher::compile(Matcher{"l", Op::kRegexMatch, "(a{1000}){1000}"}, &error));
}

TEST(MatcherSet, MatchesLabelSetsWithMissingLabelsAsEmpty) {
  const auto set =
      MatcherSet::must_compile({{"__name__", Op::kEqual, "up"}, {"env", Op::kNotEqual, "prod"}});
  EXPECT_TRUE(set.matches(LabelSet::from({{"__name__", "up"}})));
  EXPECT_TRUE(set.matches(LabelSet::from({{"__name__", "up"}, {"env", "dev"}})));
  EXPECT_FALSE(set.matches(LabelSet::from({{"__name__", "up"}, {"env", "prod"}})));
  EXPECT_FALSE(set.matches(LabelSet::from({{"__name__", "down"}})));
  EXPECT_TRUE(MatcherSet().matches(LabelSet::from({{"a", "b"}})));
}

TEST(Matcher, FastPathsAgreeWithTheRegexEngine) {
  // Literal, alternation of literals, .*, .+ and prefix.* skip std::regex;
  // they must select exactly what the regex would.
  const std::vector<std::string> patterns = {"api",  "",    "a|b|cc", "a||b",  ".*",   ".+",
                                             "ab.*", "x.*", "|",      "a\\|b", "[ab]+"};
  std::mt19937 rng(7);
  std::vector<std::string> values = {"", "a", "b", "cc", "api", "ab", "abc", "x", "xy", "|"};
  for (int i = 0; i < 200; ++i) {
    std::string v;
    const int n = static_cast<int>(rng() % 5);
    for (int j = 0; j < n; ++j) v.push_back("abcx|"[rng() % 5]);
    values.push_back(v);
  }
  for (const auto& p : patterns) {
    const std::regex reference("^(?:" + p + ")$");
    for (Op op : {Op::kRegexMatch, Op::kRegexNoMatch}) {
      const auto m = compile(op, p);
      for (const auto& v : values) {
        const bool want = std::regex_match(v, reference) == (op == Op::kRegexMatch);
        EXPECT_EQ(m.matches(v), want) << "pattern " << p << " value \"" << v << "\"";
      }
    }
  }
}

}  // namespace
}  // namespace watch::tsdb
