// Go's regexp on RE2: what Go 1.19 accepts and refuses, in Go's words (the
// expected texts are what promtool 2.42 and amtool 0.25 print for the same
// regexes), and matching text that is not valid UTF-8 as Go does.
#include "watch/goregexp/goregexp.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <array>
#include <string>
#include <vector>

namespace watch::goregexp {
namespace {

// Go's message for `pattern`, "" when Go compiles it.
std::string go_error(const std::string& pattern, Groups groups = Groups::kMatchOnly) {
  SyntaxError error;
  if (compile(pattern, groups, &error)) return "";
  return message(error);
}

// RE2's own words for the refusal ("" when only Go refuses).
std::string re2_words(const std::string& pattern) {
  SyntaxError error;
  if (compile(pattern, Groups::kCapture, &error)) return "accepted";
  return error.re2_error;
}

bool matches(const std::string& pattern, std::string_view text) {
  const auto re = compile(anchored(pattern), Groups::kMatchOnly);
  EXPECT_TRUE(re) << pattern;
  return re && match(*re, text);
}

TEST(GoRegexpAnchoredTest, WrapsAsPrometheusAndAlertmanager) {
  EXPECT_EQ(anchored("a|b"), "^(?:a|b)$");
  // Not re-parsed: "a)|(b" means ^(?:a) or (b)$.
  EXPECT_EQ(anchored("a)|(b"), "^(?:a)|(b)$");
  EXPECT_TRUE(matches("a)|(b", "axx"));
  EXPECT_TRUE(matches("a)|(b", "xxb"));
  EXPECT_FALSE(matches("a)|(b", "xax"));
}

TEST(GoRegexpCompileTest, ReportsRe2ErrorsInGoWords) {
  EXPECT_EQ(go_error(anchored("(")), "error parsing regexp: missing closing ): `^(?:()$`");
  EXPECT_EQ(go_error(anchored(")")), "error parsing regexp: unexpected ): `^(?:))$`");
  EXPECT_EQ(go_error(anchored("[a")), "error parsing regexp: missing closing ]: `[a)$`");
  EXPECT_EQ(go_error("a**"), "error parsing regexp: invalid nested repetition operator: `**`");
  EXPECT_EQ(go_error("*"), "error parsing regexp: missing argument to repetition operator: `*`");
  EXPECT_EQ(go_error("x{1001}"), "error parsing regexp: invalid repeat count: `{1001}`");
  EXPECT_EQ(go_error("[z-a]"), "error parsing regexp: invalid character class range: `z-a`");
  EXPECT_EQ(go_error("\\8"), "error parsing regexp: invalid escape sequence: `\\8`");
  EXPECT_EQ(go_error("(?x"), "error parsing regexp: invalid or unsupported Perl syntax: `(?x`");
  EXPECT_EQ(go_error("\\"), "error parsing regexp: trailing backslash at end of expression: ``");
}

TEST(GoRegexpCompileTest, RefusesWhatOnlyGoRefuses) {
  // \C (one byte), anywhere but quoted.
  EXPECT_EQ(go_error("a\\C"), "error parsing regexp: invalid escape sequence: `\\C`");
  EXPECT_EQ(go_error("[a\\C]"), "error parsing regexp: invalid escape sequence: `\\C`");
  // Go 1.19 knows only (?P<name>, and names that are ASCII words.
  EXPECT_EQ(go_error("(?<n>x)"), "error parsing regexp: invalid or unsupported Perl syntax: `(?<`");
  EXPECT_EQ(go_error("(?P<\xe5\x90\x8d>x)"),
            "error parsing regexp: invalid named capture: `(?P<\xe5\x90\x8d>`");
  EXPECT_EQ(go_error("(?P<>x)"), "error parsing regexp: invalid named capture: `(?P<>`");
  EXPECT_EQ(go_error("(?P<a-b>x)"), "error parsing regexp: invalid named capture: `(?P<a-b>`");
  // Not mistaken for those: an escaped backslash, \Q...\E, a class.
  EXPECT_EQ(go_error("a\\\\C|\\QC\\E|[\\\\C]|\\Q\\C\\E"), "");
  EXPECT_EQ(go_error("[]\\\\[:alpha:]](?P<x_1>C)"), "");
  EXPECT_EQ(go_error("[(?<n>]"), "");
  // Go accepts two groups of one name.
  EXPECT_EQ(go_error("(?P<n>x)(?P<n>y)"), "");
  EXPECT_EQ(go_error("(?P<n>x)|(?P<n>y)", Groups::kCapture), "");
}

TEST(GoRegexpCompileTest, RefusesTreesTallerThanGo) {
  const auto nested = [](int n) { return std::string(n, '(') + "a" + std::string(n, ')'); };
  EXPECT_EQ(go_error(nested(999)), "");
  EXPECT_EQ(go_error(nested(1000)),
            "error parsing regexp: expression nests too deeply: `" + nested(1000) + "`");
  // Anchored, as promtool and amtool judge it: the wrapper adds a level.
  EXPECT_EQ(go_error(anchored(nested(998))), "");
  EXPECT_EQ(go_error(anchored(nested(999))),
            "error parsing regexp: expression nests too deeply: `" + anchored(nested(999)) + "`");
  // (?:...) groups add no level.
  std::string flat;
  for (int i = 0; i < 1000; ++i) flat += "(?:a";
  flat += std::string(1000, ')');
  EXPECT_EQ(go_error(anchored(flat)), "");
}

TEST(GoRegexpCompileTest, ReportsTheFirstErrorFromTheLeft) {
  // As Go's parser: an error before a Go-only problem comes first...
  EXPECT_EQ(go_error("\\8\\C"), "error parsing regexp: invalid escape sequence: `\\8`");
  EXPECT_EQ(go_error("{2}+\\C"),
            "error parsing regexp: missing argument to repetition operator: `{2}`");
  EXPECT_EQ(go_error(anchored("a))\\C")), "error parsing regexp: unexpected ): `^(?:a))\\C)$`");
  EXPECT_EQ(go_error("\\8(?P<n\xc3\xa4>a)"),
            "error parsing regexp: invalid escape sequence: `\\8`");
  // ...but unclosed groups and classes only show at the end.
  EXPECT_EQ(go_error("(\\C"), "error parsing regexp: invalid escape sequence: `\\C`");
  EXPECT_EQ(go_error("[a\\C"), "error parsing regexp: invalid escape sequence: `\\C`");
}

TEST(GoRegexpCompileTest, KeepsRe2WordsWhereRe2RefusesToo) {
  EXPECT_EQ(re2_words(anchored("(")), "missing ): ^(?:()$");
  EXPECT_EQ(re2_words("a{1001}"), "invalid repetition size: {1001}");
  EXPECT_EQ(re2_words("(?<x>a)"), "invalid perl operator: (?<");
  EXPECT_EQ(re2_words("(?P<>a)"), "invalid named capture group: (?P<>");
  // RE2 takes these: only Go's words exist.
  EXPECT_EQ(re2_words("a\\C"), "");
  EXPECT_EQ(re2_words("(?P<\xc3\xa9>a)"), "");
  EXPECT_EQ(re2_words(std::string(1000, '(') + "a" + std::string(1000, ')')), "");
}

TEST(GoRegexpCompileTest, CapturesOnlyWhenAsked) {
  const auto capturing = compile("(?P<x>a)(b)", Groups::kCapture);
  ASSERT_TRUE(capturing);
  EXPECT_EQ(capturing->NumberOfCapturingGroups(), 2);
  EXPECT_EQ(capturing->CapturingGroupNames().at(1), "x");
  const auto matching = compile("(a)(b)", Groups::kMatchOnly);
  ASSERT_TRUE(matching);
  EXPECT_EQ(matching->NumberOfCapturingGroups(), 0);
}

TEST(GoRegexpMatchTest, ReadsInvalidUtf8AsGo) {
  // Each ill-formed byte is one character, U+FFFD, to the regex.
  EXPECT_TRUE(matches("a.b",
                      "a\xff"
                      "b"));
  EXPECT_TRUE(matches("a\\x{FFFD}b",
                      "a\xff"
                      "b"));
  EXPECT_FALSE(matches("a..b",
                       "a\xff"
                       "b"));
  // A truncated sequence, a surrogate, an overlong form: one per byte.
  EXPECT_TRUE(matches("x...y", "x\xf0\x90\x80y"));
  EXPECT_TRUE(matches("x...y", "x\xed\xa0\x80y"));
  EXPECT_TRUE(matches("x..y", "x\xc0\xafy"));
  EXPECT_TRUE(matches("x\\x{FFFD}{4}y", "x\xf4\x90\x80\x80y"));
  // Valid text matches as it is.
  EXPECT_TRUE(matches("caf.", "caf\xc3\xa9"));
  EXPECT_TRUE(matches("\\x{FFFD}", "\xef\xbf\xbd"));
  EXPECT_FALSE(matches("a", "a\xff"));
}

TEST(GoRegexpMatchTest, MapsGroupsBackToTheOriginalBytes) {
  const auto re = compile(anchored("a(.)(x)?(b+)"), Groups::kCapture);
  ASSERT_TRUE(re);
  std::array<Span, 4> groups;
  const std::string text =
      "a\xff"
      "bb";
  ASSERT_TRUE(match(*re, text, groups));
  EXPECT_EQ(groups[0].begin, 0);
  EXPECT_EQ(groups[0].end, 4);
  EXPECT_EQ(groups[1].begin, 1);  // the bad byte, not its 3-byte U+FFFD
  EXPECT_EQ(groups[1].end, 2);
  EXPECT_EQ(groups[2].begin, -1);  // took no part
  EXPECT_EQ(groups[3].begin, 2);
  EXPECT_EQ(groups[3].end, 4);
  // Valid text, and more groups than fit inline.
  const auto many =
      compile(anchored("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(\xc3\xa9)"), Groups::kCapture);
  ASSERT_TRUE(many);
  std::vector<Span> all(13);
  ASSERT_TRUE(match(*many, "abcdefghijk\xc3\xa9", all));
  EXPECT_EQ(all[11].begin, 10);
  EXPECT_EQ(all[12].begin, 11);
  EXPECT_EQ(all[12].end, 13);
  EXPECT_FALSE(match(*many, "abc", all));
}

}  // namespace
}  // namespace watch::goregexp
