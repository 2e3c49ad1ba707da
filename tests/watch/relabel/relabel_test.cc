// Relabeling and target population, case by case, with the semantics of
// Prometheus 2.42 (expected values worked out from its relabel.go and
// target.go, hashmod values as the real Prometheus 2.42 computes them).
#include "watch/relabel/relabel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace watch::relabel {
namespace {

// Compiles or fails the test with the reason.
Rule must_compile(const RelabelSpec& spec) {
  std::string error;
  std::optional<Rule> rule = compile(spec, &error);
  EXPECT_TRUE(rule.has_value()) << error;
  if (!rule) return *compile({.action = "keep"});
  return *std::move(rule);
}

// The reason compile() gives, "" when it succeeds.
std::string compile_error(const RelabelSpec& spec) {
  std::string error;
  return compile(spec, &error) ? std::string() : error;
}

// Relabels `labels` with one rule; nullopt when it drops them.
std::optional<LabelSet> apply(const RelabelSpec& spec, LabelSet labels) {
  if (!process({must_compile(spec)}, labels)) return std::nullopt;
  return labels;
}

LabelSet ls(std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  return LabelSet::from(labels);
}

// --- actions ---------------------------------------------------------------

TEST(RelabelActionTest, ParsesEveryNameCaseInsensitively) {
  const std::vector<std::pair<std::string_view, Action>> names{
      {"replace", Action::kReplace},     {"keep", Action::kKeep},
      {"drop", Action::kDrop},           {"keepequal", Action::kKeepEqual},
      {"dropequal", Action::kDropEqual}, {"hashmod", Action::kHashMod},
      {"labelmap", Action::kLabelMap},   {"labeldrop", Action::kLabelDrop},
      {"labelkeep", Action::kLabelKeep}, {"lowercase", Action::kLowercase},
      {"uppercase", Action::kUppercase}};
  for (const auto& [name, action] : names) {
    EXPECT_EQ(parse_action(name), action) << name;
    EXPECT_EQ(to_string(action), name);
  }
  EXPECT_EQ(parse_action("KEEP"), Action::kKeep);
  EXPECT_EQ(parse_action("LabelMap"), Action::kLabelMap);
  // Go's strings.ToLower maps the Kelvin sign to 'k': Prometheus accepts it.
  EXPECT_EQ(parse_action("\u212Aeep"), Action::kKeep);
  EXPECT_EQ(parse_action(""), std::nullopt);
  EXPECT_EQ(parse_action("keep "), std::nullopt);
  EXPECT_EQ(parse_action("label_map"), std::nullopt);
}

// --- compile: Prometheus's validation ------------------------------------------

TEST(RelabelCompileTest, DefaultsAreValid) {
  EXPECT_EQ(compile_error({.target_label = "x"}), "");
  EXPECT_EQ(compile_error({.action = "keep"}), "");
  EXPECT_EQ(compile_error({.action = "labeldrop"}), "");
  const Rule rule = must_compile({.source_labels = {"a"}, .target_label = "b"});
  EXPECT_EQ(rule.action(), Action::kReplace);
  EXPECT_EQ(rule.spec().source_labels, std::vector<std::string>{"a"});
}

TEST(RelabelCompileTest, RefusesUnknownOrEmptyActions) {
  EXPECT_EQ(compile_error({.action = ""}), "relabel action cannot be empty");
  EXPECT_EQ(compile_error({.action = "kepe"}), "unknown relabel action \"kepe\"");
}

TEST(RelabelCompileTest, RefusesInvalidRegexesNamingTheUsersPattern) {
  EXPECT_EQ(compile_error({.regex = "(", .action = "keep"}), "regex \"(\": missing ): (");
  EXPECT_EQ(compile_error({.regex = "a{1001}", .action = "keep"}),
            "regex \"a{1001}\": invalid repetition size: {1001}");
  EXPECT_EQ(compile_error({.regex = "[z-a]", .action = "keep"}),
            "regex \"[z-a]\": invalid character class range: z-a");
  // Accepted by RE2, refused by Go's regexp (and so by Prometheus).
  EXPECT_EQ(compile_error({.regex = "a\\Cb", .action = "keep"}),
            "regex \"a\\\\Cb\": invalid escape sequence: \\C");
  EXPECT_EQ(compile_error({.regex = "(?P<é>a)", .action = "keep"}),
            "regex \"(?P<é>a)\": invalid named capture: (?P<é>");
  EXPECT_NE(compile_error({.regex = "(?<x>a)", .action = "keep"}), "");
  // Not mistaken for those: an escaped backslash, a quoted \C, a class.
  EXPECT_EQ(compile_error({.regex = "a\\\\C", .action = "keep"}), "");
  EXPECT_EQ(compile_error({.regex = "\\Q\\C\\E", .action = "keep"}), "");
  EXPECT_EQ(compile_error({.regex = "[]\\\\[:alpha:]](?P<x_1>C)", .action = "keep"}), "");
  // The anchoring is Prometheus's textual ^(?:...)$: this compiles there too.
  EXPECT_EQ(compile_error({.regex = "a)|(b", .action = "keep"}), "");
}

TEST(RelabelCompileTest, ChecksTargetLabelsAsPrometheus) {
  EXPECT_EQ(compile_error({.source_labels = {"a"}}),
            "relabel configuration for replace action requires 'target_label' value");
  EXPECT_EQ(compile_error({.target_label = ""}),
            "relabel configuration for replace action requires 'target_label' value");
  for (const char* action : {"lowercase", "uppercase", "keepequal", "dropequal"}) {
    EXPECT_EQ(compile_error({.action = action}), std::string("relabel configuration for ") +
                                                     action +
                                                     " action requires 'target_label' value");
  }
  EXPECT_EQ(compile_error({.target_label = "1x"}),
            "\"1x\" is invalid 'target_label' for replace action");
  EXPECT_EQ(compile_error({.target_label = "a-b"}),
            "\"a-b\" is invalid 'target_label' for replace action");
  EXPECT_EQ(compile_error({.target_label = "${1}x$$"}),
            "\"${1}x$$\" is invalid 'target_label' for replace action");
  EXPECT_EQ(compile_error({.target_label = "é"}),
            "\"é\" is invalid 'target_label' for replace action");
  EXPECT_EQ(compile_error({.target_label = "${1"}),
            "\"${1\" is invalid 'target_label' for replace action");
  for (const char* ok : {"x", "_x9", "$1", "${1}_x", "pre_${name}", "$1$2", "a$b1"}) {
    EXPECT_EQ(compile_error({.target_label = ok}), "") << ok;
  }
  // 2.42 allows templates where they are never expanded (used as written).
  EXPECT_EQ(compile_error({.target_label = "${1}", .action = "lowercase"}), "");
}

TEST(RelabelCompileTest, ChecksHashmod) {
  EXPECT_EQ(compile_error({.target_label = "x", .action = "hashmod"}),
            "relabel configuration for hashmod requires non-zero modulus");
  EXPECT_EQ(compile_error({.modulus = 4, .action = "hashmod"}),
            "relabel configuration for hashmod action requires 'target_label' value");
  EXPECT_EQ(compile_error({.modulus = 4, .target_label = "$1", .action = "hashmod"}),
            "\"$1\" is invalid 'target_label' for hashmod action");
  EXPECT_EQ(compile_error({.modulus = 4, .target_label = "shard", .action = "hashmod"}), "");
}

TEST(RelabelCompileTest, RefusesFieldsAnActionDoesNotTake) {
  EXPECT_EQ(compile_error({.target_label = "x", .replacement = "y", .action = "lowercase"}),
            "'replacement' can not be set for lowercase action");
  EXPECT_EQ(compile_error({.target_label = "x", .replacement = "", .action = "uppercase"}),
            "'replacement' can not be set for uppercase action");
  EXPECT_EQ(compile_error({.target_label = "x", .replacement = "$1", .action = "uppercase"}), "");
  // Any regex written counts as set, even the default's text.
  EXPECT_EQ(compile_error({.regex = "(.*)", .target_label = "x", .action = "keepequal"}),
            "keepequal action requires only 'source_labels' and `target_label`, and no other "
            "fields");
  EXPECT_EQ(compile_error({.separator = ",", .target_label = "x", .action = "dropequal"}),
            "dropequal action requires only 'source_labels' and `target_label`, and no other "
            "fields");
  EXPECT_EQ(compile_error({.modulus = 2, .target_label = "x", .action = "dropequal"}),
            "dropequal action requires only 'source_labels' and `target_label`, and no other "
            "fields");
  EXPECT_EQ(compile_error({.source_labels = {"a"}, .action = "labeldrop"}),
            "labeldrop action requires only 'regex', and no other fields");
  EXPECT_EQ(compile_error({.target_label = "x", .action = "labelkeep"}),
            "labelkeep action requires only 'regex', and no other fields");
  EXPECT_EQ(compile_error({.replacement = "x", .action = "labelkeep"}),
            "labelkeep action requires only 'regex', and no other fields");
  EXPECT_EQ(compile_error({.separator = ";", .replacement = "$1", .action = "labelkeep"}), "");
  EXPECT_EQ(compile_error({.replacement = "a-$1", .action = "labelmap"}),
            "\"a-$1\" is invalid 'replacement' for labelmap action");
  EXPECT_EQ(compile_error({.replacement = "", .action = "labelmap"}),
            "\"\" is invalid 'replacement' for labelmap action");
  EXPECT_EQ(compile_error({.regex = "__meta_(.+)", .replacement = "${1}_x", .action = "labelmap"}),
            "");
}

TEST(RelabelCompileTest, ErrorPointerMayBeNull) {
  EXPECT_FALSE(compile({.action = "nope"}));
}

// --- replace -------------------------------------------------------------------

TEST(RelabelReplaceTest, JoinsSourcesAndExpandsGroups) {
  EXPECT_EQ(apply({.source_labels = {"a", "b"},
                   .regex = "(.*);(.*)",
                   .target_label = "x",
                   .replacement = "$2-${1}"},
                  ls({{"a", "foo"}, {"b", "bar"}})),
            ls({{"a", "foo"}, {"b", "bar"}, {"x", "bar-foo"}}));
  EXPECT_EQ(apply({.source_labels = {"a", "b"}, .separator = "", .target_label = "x"},
                  ls({{"a", "foo"}, {"b", "bar"}})),
            ls({{"a", "foo"}, {"b", "bar"}, {"x", "foobar"}}));
}

TEST(RelabelReplaceTest, MissingSourceLabelsJoinAsEmpty) {
  EXPECT_EQ(apply({.source_labels = {"a", "missing"},
                   .regex = "foo;",
                   .target_label = "x",
                   .replacement = "matched"},
                  ls({{"a", "foo"}})),
            ls({{"a", "foo"}, {"x", "matched"}}));
  // No source labels at all: the value is "" and the default regex matches it.
  EXPECT_EQ(apply({.target_label = "x", .replacement = "const"}, ls({{"a", "1"}})),
            ls({{"a", "1"}, {"x", "const"}}));
}

TEST(RelabelReplaceTest, NoMatchLeavesLabelsUnchanged) {
  const LabelSet in = ls({{"a", "foo"}, {"x", "old"}});
  EXPECT_EQ(apply({.source_labels = {"a"}, .regex = "f", .target_label = "x"}, in), in);
  EXPECT_EQ(apply({.source_labels = {"a"}, .regex = "o+", .target_label = "x"}, in), in);
}

TEST(RelabelReplaceTest, RegexIsAnchoredAtBothEnds) {
  EXPECT_EQ(apply({.source_labels = {"a"}, .regex = "o", .target_label = "x"}, ls({{"a", "foo"}})),
            ls({{"a", "foo"}}));
  EXPECT_EQ(
      apply({.source_labels = {"a"}, .regex = "f(o)o", .target_label = "x"}, ls({{"a", "foo"}})),
      ls({{"a", "foo"}, {"x", "o"}}));
  // Prometheus anchors textually: "a)|(b" is ^(?:a)|(b)$, which matches "abc".
  EXPECT_EQ(
      apply({.source_labels = {"v"}, .regex = "a)|(b", .target_label = "x", .replacement = "hit"},
            ls({{"v", "abc"}})),
      ls({{"v", "abc"}, {"x", "hit"}}));
}

TEST(RelabelReplaceTest, TargetLabelIsATemplate) {
  EXPECT_EQ(apply({.source_labels = {"a"}, .target_label = "${1}_x"}, ls({{"a", "foo"}})),
            ls({{"a", "foo"}, {"foo_x", "foo"}}));
  EXPECT_EQ(apply({.source_labels = {"a"},
                   .regex = "(?P<key>[a-z]+)=(?P<value>.*)",
                   .target_label = "$key",
                   .replacement = "${value}"},
                  ls({{"a", "team=db"}})),
            ls({{"a", "team=db"}, {"team", "db"}}));
}

TEST(RelabelReplaceTest, InvalidExpandedTargetChangesNothing) {
  const LabelSet in = ls({{"a", "1bad"}, {"b", "x-y"}});
  EXPECT_EQ(apply({.source_labels = {"a"}, .target_label = "$1"}, in), in);
  EXPECT_EQ(apply({.source_labels = {"b"}, .target_label = "${1}"}, in), in);
  // An expansion to "" is no name either.
  EXPECT_EQ(apply({.source_labels = {"a"}, .target_label = "$2"}, in), in);
}

TEST(RelabelReplaceTest, EmptyReplacementDeletesTheTargetLabel) {
  EXPECT_EQ(apply({.source_labels = {"a"}, .target_label = "x", .replacement = ""},
                  ls({{"a", "foo"}, {"x", "old"}})),
            ls({{"a", "foo"}}));
  // A group that does not exist, or did not take part, expands to "".
  EXPECT_EQ(apply({.source_labels = {"a"}, .target_label = "x", .replacement = "$2"},
                  ls({{"a", "foo"}, {"x", "old"}})),
            ls({{"a", "foo"}}));
  EXPECT_EQ(
      apply(
          {.source_labels = {"a"}, .regex = "(f)|(g)oo", .target_label = "x", .replacement = "$2"},
          ls({{"a", "f"}, {"x", "old"}})),
      ls({{"a", "f"}}));
  // Missing source, default regex: "" -> "" deletes.
  EXPECT_EQ(apply({.source_labels = {"missing"}, .target_label = "x"}, ls({{"x", "old"}})),
            LabelSet());
}

TEST(RelabelReplaceTest, EmptyResultDeletesTheTargetAsWrittenNotAsExpanded) {
  // 2.42 calls Del(cfg.TargetLabel): with a template target nothing is deleted.
  const LabelSet in = ls({{"a", "b"}, {"b", "stays"}});
  EXPECT_EQ(apply({.source_labels = {"a"}, .target_label = "${1}", .replacement = "$2"}, in), in);
}

TEST(RelabelReplaceTest, ExpandsTemplatesAsGosRegexpExpand) {
  const auto expand = [](std::string regex, std::string replacement, std::string value) {
    const std::optional<LabelSet> out = apply({.source_labels = {"v"},
                                               .regex = std::move(regex),
                                               .target_label = "out",
                                               .replacement = std::move(replacement)},
                                              ls({{"v", value}}));
    return out ? std::string(out->get("out")) : std::string("<dropped>");
  };
  EXPECT_EQ(expand("(a)(b)", "$1-$2", "ab"), "a-b");
  EXPECT_EQ(expand("(a)(b)", "${1}x", "ab"), "ax");
  EXPECT_EQ(expand("(a)(b)", "[$1x]", "ab"), "[]");  // the group named "1x"
  EXPECT_EQ(expand("(a)(b)", "$0", "ab"), "ab");
  EXPECT_EQ(expand("(a)(b)", "$$1", "ab"), "$1");
  EXPECT_EQ(expand("(a)(b)", "a$", "ab"), "a$");     // a lone '$' is text
  EXPECT_EQ(expand("(a)(b)", "${1", "ab"), "${1");   // no closing brace
  EXPECT_EQ(expand("(a)(b)", "$-", "ab"), "$-");     // no name
  EXPECT_EQ(expand("(a)(b)", "[$01]", "ab"), "[]");  // leading zero: a name
  EXPECT_EQ(expand("(a)(b)", "[$3]", "ab"), "[]");   // no such group
  EXPECT_EQ(expand("(a)(b)", "[$1é]", "ab"), "[]");  // names run over Unicode letters
  EXPECT_EQ(expand("(a)(b)", "[${1}é]", "ab"), "[aé]");
  EXPECT_EQ(expand("(?P<x>a)(?P<1x>b)", "$x/$1x/${x}", "ab"), "a/b/a");
  // Of groups with the same name, the first that took part.
  EXPECT_EQ(expand("(?P<x>a)|(?P<x>b)", "<$x>", "b"), "<b>");
  EXPECT_EQ(expand("(?P<x>a)|(?P<x>b)", "<$x>", "a"), "<a>");
  // More groups than the inline buffer.
  EXPECT_EQ(expand("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)", "$12${11}$1", "abcdefghijkl"), "lka");
}

TEST(RelabelReplaceTest, MatchesInvalidUtf8AsGoDoes) {
  // Each invalid byte is one character (U+FFFD) to the regex; groups keep
  // the original bytes.
  const std::string value =
      "a\xff"
      "b";
  const auto out = apply({.source_labels = {"v"}, .regex = "a(.)b", .target_label = "x"},
                         LabelSet::from({{"v", value}}));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->get("x"), "\xff");
  EXPECT_TRUE(apply({.source_labels = {"v"}, .regex = "a\\x{FFFD}b", .action = "keep"},
                    LabelSet::from({{"v", value}})));
  EXPECT_FALSE(apply({.source_labels = {"v"}, .regex = "a..b", .action = "keep"},
                     LabelSet::from({{"v", value}})));
  // A truncated sequence is one character per byte.
  EXPECT_TRUE(apply({.source_labels = {"v"}, .regex = "x...y", .action = "keep"},
                    LabelSet::from({{"v", "x\xF0\x90\x80y"}})));
}

// --- keep, drop, keepequal, dropequal --------------------------------------------

TEST(RelabelKeepDropTest, KeepAndDropByRegex) {
  const LabelSet in = ls({{"job", "api"}, {"env", "prod"}});
  EXPECT_EQ(apply({.source_labels = {"env"}, .regex = "prod|staging", .action = "keep"}, in), in);
  EXPECT_EQ(apply({.source_labels = {"env"}, .regex = "pro", .action = "keep"}, in), std::nullopt);
  EXPECT_EQ(apply({.source_labels = {"env"}, .regex = "prod", .action = "drop"}, in), std::nullopt);
  EXPECT_EQ(apply({.source_labels = {"env"}, .regex = "p", .action = "drop"}, in), in);
  // A missing label is "": the default regex matches it.
  EXPECT_EQ(apply({.source_labels = {"missing"}, .action = "keep"}, in), in);
  EXPECT_EQ(apply({.source_labels = {"missing"}, .regex = ".+", .action = "keep"}, in),
            std::nullopt);
  EXPECT_EQ(apply({.source_labels = {"job", "env"}, .regex = "api;prod", .action = "drop"}, in),
            std::nullopt);
}

TEST(RelabelKeepDropTest, KeepEqualAndDropEqualCompareWithTheTargetLabel) {
  const LabelSet in = ls({{"a", "1"}, {"b", "1"}, {"c", "2"}});
  EXPECT_EQ(apply({.source_labels = {"a"}, .target_label = "b", .action = "keepequal"}, in), in);
  EXPECT_EQ(apply({.source_labels = {"a"}, .target_label = "c", .action = "keepequal"}, in),
            std::nullopt);
  EXPECT_EQ(apply({.source_labels = {"a"}, .target_label = "b", .action = "dropequal"}, in),
            std::nullopt);
  EXPECT_EQ(apply({.source_labels = {"a"}, .target_label = "c", .action = "dropequal"}, in), in);
  // Missing on both sides: "" == "".
  EXPECT_EQ(apply({.source_labels = {"x"}, .target_label = "y", .action = "keepequal"}, in), in);
  EXPECT_EQ(apply({.source_labels = {"a", "b"}, .target_label = "c", .action = "keepequal"},
                  ls({{"a", "1"}, {"b", "2"}, {"c", "1;2"}})),
            ls({{"a", "1"}, {"b", "2"}, {"c", "1;2"}}));
}

TEST(RelabelKeepDropTest, ProcessStopsAtTheFirstDrop) {
  std::vector<Rule> rules{
      must_compile({.target_label = "first", .replacement = "1"}),
      must_compile({.source_labels = {"a"}, .regex = "x", .action = "drop"}),
      must_compile({.target_label = "never", .replacement = "1"}),
  };
  LabelSet labels = ls({{"a", "x"}});
  EXPECT_FALSE(process(rules, labels));
  EXPECT_TRUE(labels.empty());
  labels = ls({{"a", "y"}});
  EXPECT_TRUE(process(rules, labels));
  EXPECT_EQ(labels, ls({{"a", "y"}, {"first", "1"}, {"never", "1"}}));
  LabelSet untouched = ls({{"a", "y"}});
  EXPECT_TRUE(process({}, untouched));
  EXPECT_EQ(untouched, ls({{"a", "y"}}));
}

TEST(RelabelProcessTest, ConstRulesAreSharedBetweenThreads) {
  const std::vector<Rule> rules{
      must_compile(
          {.source_labels = {"a"}, .regex = "(.)(.*)", .target_label = "x", .replacement = "$2$1"}),
      must_compile({.regex = "a", .replacement = "copy", .action = "labelmap"}),
      must_compile(
          {.source_labels = {"a"}, .modulus = 3, .target_label = "h", .action = "hashmod"}),
  };
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const std::string value = "v" + std::to_string(t * 1000 + i);
        LabelSet labels = LabelSet::from({{"a", value}});
        if (!process(rules, labels) || labels.get("x") != value.substr(1) + "v" ||
            labels.get("copy") != value || labels.get("h").empty()) {
          ++wrong;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

// --- hashmod ---------------------------------------------------------------------

TEST(RelabelHashModTest, MatchesPrometheus) {
  // Values computed by Prometheus 2.42 (the peer test checks more).
  const auto shard = [](std::string_view address, std::uint64_t modulus) {
    const auto out = apply({.source_labels = {"__address__"},
                            .modulus = modulus,
                            .target_label = "shard",
                            .action = "hashmod"},
                           LabelSet::from({{"__address__", address}}));
    return out ? std::string(out->get("shard")) : std::string("<dropped>");
  };
  EXPECT_EQ(shard("127.0.0.1:9", 1000), "272");
  EXPECT_EQ(shard("[::1]", 1000), "148");
  EXPECT_EQ(shard("::1", 1000), "319");
  EXPECT_EQ(shard("nohost.invalid", 1000), "334");
  // MD5's last 8 bytes, big endian, modulo.
  EXPECT_EQ(shard("", 10), "8");
  EXPECT_EQ(shard("foo", 7), "2");
  EXPECT_EQ(apply({.source_labels = {"a", "b"},
                   .modulus = std::uint64_t{1} << 40,
                   .target_label = "s",
                   .action = "hashmod"},
                  ls({{"a", "a"}, {"b", "b"}}))
                ->get("s"),
            "1049837354250");
}

// --- lowercase, uppercase --------------------------------------------------------

TEST(RelabelCaseTest, MapsCaseAsGo) {
  const auto mapped = [](std::string_view action, std::string_view value) {
    const auto out =
        apply({.source_labels = {"v"}, .target_label = "out", .action = std::string(action)},
              LabelSet::from({{"v", value}}));
    return out ? std::string(out->get("out")) : std::string("<dropped>");
  };
  EXPECT_EQ(mapped("lowercase", "Hello World 42"), "hello world 42");
  EXPECT_EQ(mapped("uppercase", "Hello World 42"), "HELLO WORLD 42");
  // Simple (one code point) mappings: ß stays, İ becomes i, ǅ has both cases.
  EXPECT_EQ(mapped("lowercase", "ÄǅİßΣ"), "äǆißσ");
  EXPECT_EQ(mapped("uppercase", "äǅißσ"), "ÄǄIßΣ");
  EXPECT_EQ(mapped("lowercase", "\u212A"), "k");  // Kelvin sign
  // U+2C2F has a lowercase only since Unicode 14; Go 1.19 has 13.0.
  EXPECT_EQ(mapped("lowercase", "\u2C2F\u2C00"), "\u2C2F\u2C30");
  EXPECT_EQ(mapped("uppercase", "\U00010428"), "\U00010400");  // Deseret
  // Invalid UTF-8 becomes U+FFFD, byte by byte.
  EXPECT_EQ(mapped("lowercase", "A\xff\xF0\x90"), "a\uFFFD\uFFFD\uFFFD");
}

TEST(RelabelCaseTest, EmptyValueDeletesTheTarget) {
  EXPECT_EQ(apply({.source_labels = {"missing"}, .target_label = "x", .action = "lowercase"},
                  ls({{"x", "old"}})),
            LabelSet());
  // 2.42 takes a template target as a literal name here.
  EXPECT_EQ(apply({.source_labels = {"a"}, .target_label = "${1}", .action = "uppercase"},
                  ls({{"a", "b"}})),
            ls({{"${1}", "B"}, {"a", "b"}}));
}

// --- labelmap, labeldrop, labelkeep ----------------------------------------------

TEST(RelabelLabelMapTest, CopiesMatchingLabelsUnderTheExpandedName) {
  EXPECT_EQ(apply({.regex = "__meta_kubernetes_pod_label_(.+)", .action = "labelmap"},
                  ls({{"__meta_kubernetes_pod_label_app", "web"},
                      {"__meta_kubernetes_pod_label_tier", "front"},
                      {"job", "k8s"}})),
            ls({{"__meta_kubernetes_pod_label_app", "web"},
                {"__meta_kubernetes_pod_label_tier", "front"},
                {"app", "web"},
                {"job", "k8s"},
                {"tier", "front"}}));
  EXPECT_EQ(apply({.regex = "(a)(b)", .replacement = "${2}_${1}_x", .action = "labelmap"},
                  ls({{"ab", "1"}})),
            ls({{"ab", "1"}, {"b_a_x", "1"}}));
}

TEST(RelabelLabelMapTest, OverwritesAndTheLastNameInOrderWins) {
  // Both __x_job and __y_job map to job; __y_job comes later by name.
  EXPECT_EQ(apply({.regex = "__[xy]_(.+)", .action = "labelmap"},
                  ls({{"__x_job", "from-x"}, {"__y_job", "from-y"}, {"job", "orig"}})),
            ls({{"__x_job", "from-x"}, {"__y_job", "from-y"}, {"job", "from-y"}}));
  // Matches read the labels as they were: a copy is not mapped again.
  EXPECT_EQ(
      apply({.regex = "a(.*)", .replacement = "aa$1", .action = "labelmap"}, ls({{"a", "1"}})),
      ls({{"a", "1"}, {"aa", "1"}}));
}

TEST(RelabelLabelMapTest, ResultIsNotCheckedToBeAValidName) {
  // As 2.42: the replacement template is valid, its expansion need not be.
  EXPECT_EQ(apply({.regex = "x(.*)", .replacement = "$1", .action = "labelmap"},
                  LabelSet::from({{"x-y", "1"}})),
            LabelSet::from({{"-y", "1"}, {"x-y", "1"}}));
}

TEST(RelabelLabelDropKeepTest, DropsOrKeepsByName) {
  const LabelSet in =
      ls({{"__meta_a", "1"}, {"__meta_b", "2"}, {"job", "j"}, {"instance", "i"}, {"x", "3"}});
  EXPECT_EQ(apply({.regex = "__meta_.*", .action = "labeldrop"}, in),
            ls({{"job", "j"}, {"instance", "i"}, {"x", "3"}}));
  EXPECT_EQ(apply({.regex = "job|instance|__.*", .action = "labelkeep"}, in),
            ls({{"__meta_a", "1"}, {"__meta_b", "2"}, {"job", "j"}, {"instance", "i"}}));
  // Anchored: "meta" is no part-of-name match for "__meta_a".
  EXPECT_EQ(apply({.regex = "meta", .action = "labeldrop"}, in), in);
  EXPECT_EQ(apply({.regex = "nothing", .action = "labelkeep"}, in), LabelSet());
}

// --- durations ---------------------------------------------------------------------

TEST(RelabelDurationTest, FormatsAsPrometheus) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(15'000), "15s");
  EXPECT_EQ(format_duration(90'000), "1m30s");
  EXPECT_EQ(format_duration(250), "250ms");
  EXPECT_EQ(format_duration(5'400'000), "1h30m");
  EXPECT_EQ(format_duration(86'400'000), "1d");
  EXPECT_EQ(format_duration(604'800'000), "1w");
  EXPECT_EQ(format_duration(8 * 86'400'000LL), "8d");
  EXPECT_EQ(format_duration(14 * 86'400'000LL), "2w");
  EXPECT_EQ(format_duration(365 * 86'400'000LL), "1y");
  EXPECT_EQ(format_duration(90 * 86'400'000LL + 1), "90d1ms");
}

TEST(RelabelDurationTest, ParsesAsPrometheus) {
  EXPECT_EQ(parse_duration("0"), 0);
  EXPECT_EQ(parse_duration("0s"), 0);
  EXPECT_EQ(parse_duration("1m30s"), 90'000);
  EXPECT_EQ(parse_duration("1y1w1d1h1m1s1ms"),
            365 * 86'400'000LL + 7 * 86'400'000LL + 86'400'000 + 3'600'000 + 60'000 + 1'000 + 1);
  EXPECT_EQ(parse_duration("500ms"), 500);
  EXPECT_EQ(parse_duration("90m"), 5'400'000);
  std::string error;
  EXPECT_EQ(parse_duration("", &error), std::nullopt);
  EXPECT_EQ(error, "empty duration string");
  EXPECT_EQ(parse_duration("1s1m", &error), std::nullopt);
  EXPECT_EQ(error, "not a valid duration string: \"1s1m\"");
  for (const char* bad : {"1", "s", "1.5s", "1m1m", "-1s", "1 s", "1S", "ms"}) {
    EXPECT_EQ(parse_duration(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(parse_duration("300y", &error), std::nullopt);
  EXPECT_EQ(error, "duration out of range");
  EXPECT_EQ(parse_duration("99999999999999999999999s", &error), std::nullopt);
  EXPECT_EQ(error, "duration out of range");
  EXPECT_EQ(parse_duration("292y"), 292 * 365 * 86'400'000LL);
}

// --- populate_target ---------------------------------------------------------------

TEST(PopulateTargetTest, AddsJobDefaultsAndInstance) {
  const PopulateResult r =
      populate_target(ls({{"__address__", "db1:9100"}, {"env", "prod"}}), {.job = "node"}, {});
  ASSERT_EQ(r.error, "");
  EXPECT_FALSE(r.dropped);
  EXPECT_EQ(r.labels, ls({{"__address__", "db1:9100"},
                          {"__metrics_path__", "/metrics"},
                          {"__scheme__", "http"},
                          {"__scrape_interval__", "15s"},
                          {"__scrape_timeout__", "10s"},
                          {"env", "prod"},
                          {"instance", "db1:9100"},
                          {"job", "node"}}));
  EXPECT_EQ(r.public_labels(), ls({{"env", "prod"}, {"instance", "db1:9100"}, {"job", "node"}}));
  EXPECT_EQ(r.discovered_labels, ls({{"__address__", "db1:9100"},
                                     {"__metrics_path__", "/metrics"},
                                     {"__scheme__", "http"},
                                     {"__scrape_interval__", "15s"},
                                     {"__scrape_timeout__", "10s"},
                                     {"env", "prod"},
                                     {"job", "node"}}));
  EXPECT_EQ(r.scrape_interval_ms, 15'000);
  EXPECT_EQ(r.scrape_timeout_ms, 10'000);
}

TEST(PopulateTargetTest, DiscoveredLabelsWinOverDefaultsButNotOverParams) {
  const PopulateResult r = populate_target(
      ls({{"__address__", "h:1"},
          {"job", "mine"},
          {"__scheme__", "https"},
          {"__metrics_path__", "/m"},
          {"__param_module", "discovered"},
          {"__param_gone", "x"}}),
      {.job = "node",
       .scrape_interval_ms = 90'000,
       .scrape_timeout_ms = 604'800'000,
       .params = {{"module", "http_2xx"}, {"module", "second"}, {"gone", ""}, {"q", "1"}}},
      {});
  // 1w > 1m30s: an interval of the job is only the default of the labels.
  EXPECT_EQ(r.error, "scrape timeout cannot be greater than scrape interval (\"1w\" > \"1m30s\")");
  const PopulateResult ok = populate_target(
      ls({{"__address__", "h:1"},
          {"job", "mine"},
          {"__scheme__", "https"},
          {"__metrics_path__", "/m"},
          {"__param_module", "discovered"},
          {"__param_gone", "x"}}),
      {.job = "node",
       .scrape_interval_ms = 90'000,
       .scrape_timeout_ms = 90'000,
       .params = {{"module", "http_2xx"}, {"module", "second"}, {"gone", ""}, {"q", "1"}}},
      {});
  ASSERT_EQ(ok.error, "");
  EXPECT_EQ(ok.labels, ls({{"__address__", "h:1"},
                           {"__metrics_path__", "/m"},
                           {"__param_module", "http_2xx"},
                           {"__param_q", "1"},
                           {"__scheme__", "https"},
                           {"__scrape_interval__", "1m30s"},
                           {"__scrape_timeout__", "1m30s"},
                           {"instance", "h:1"},
                           {"job", "mine"}}));
}

TEST(PopulateTargetTest, AddsTheSchemesDefaultPort) {
  const auto address = [](std::string_view discovered, std::string scheme = "http") {
    const PopulateResult r = populate_target(LabelSet::from({{"__address__", discovered}}),
                                             {.job = "j", .scheme = std::move(scheme)}, {});
    EXPECT_EQ(r.error, "") << discovered;
    EXPECT_EQ(r.labels.get("instance"), r.labels.get("__address__"));
    return std::string(r.labels.get("__address__"));
  };
  EXPECT_EQ(address("host"), "host:80");
  EXPECT_EQ(address("host", "https"), "host:443");
  EXPECT_EQ(address("host:9100"), "host:9100");
  EXPECT_EQ(address("host:"), "host:");  // an empty port is a port
  EXPECT_EQ(address("10.0.0.1"), "10.0.0.1:80");
  EXPECT_EQ(address("[::1]"), "[::1]:80");
  EXPECT_EQ(address("[::1]", "https"), "[::1]:443");
  EXPECT_EQ(address("[::1]:9090"), "[::1]:9090");
  EXPECT_EQ(address("::1"), "::1");  // not a host, with or without a port: left alone
  EXPECT_EQ(address("fe80::1%eth0"), "fe80::1%eth0");
  EXPECT_EQ(address("a]b"), "a]b");
}

TEST(PopulateTargetTest, SchemeFromLabelsAndTheJobsNameInTheError) {
  std::vector<Rule> to_https{must_compile({.target_label = "__scheme__", .replacement = "https"})};
  EXPECT_EQ(
      populate_target(ls({{"__address__", "h"}}), {.job = "j"}, to_https).labels.get("__address__"),
      "h:443");
  std::vector<Rule> to_ftp{must_compile({.target_label = "__scheme__", .replacement = "ftp"})};
  // 2.42 quotes the job's scheme, not the label's.
  EXPECT_EQ(populate_target(ls({{"__address__", "h"}}), {.job = "j"}, to_ftp).error,
            "invalid scheme: \"http\"");
  // With a port, no default is needed and any scheme passes.
  EXPECT_EQ(populate_target(ls({{"__address__", "h:1"}}), {.job = "j"}, to_ftp).error, "");
  // No __scheme__ at all counts as http.
  std::vector<Rule> no_scheme{must_compile({.regex = "__scheme__", .action = "labeldrop"})};
  EXPECT_EQ(populate_target(ls({{"__address__", "h"}}), {.job = "j"}, no_scheme)
                .labels.get("__address__"),
            "h:80");
}

TEST(PopulateTargetTest, RefusesAnAddressWithASlash) {
  EXPECT_EQ(populate_target(ls({{"__address__", "a/b"}}), {.job = "j"}, {}).error,
            "\"a/b:80\" is not a valid hostname");
  EXPECT_EQ(populate_target(ls({{"__address__", "http://h:1"}}), {.job = "j"}, {}).error,
            "\"http://h:1\" is not a valid hostname");
}

TEST(PopulateTargetTest, DroppedTargetsKeepTheirDiscoveredLabels) {
  std::vector<Rule> rules{
      must_compile({.source_labels = {"env"}, .regex = "dev", .action = "drop"})};
  const PopulateResult r =
      populate_target(ls({{"__address__", "h:1"}, {"env", "dev"}}), {.job = "j"}, rules);
  EXPECT_TRUE(r.dropped);
  EXPECT_EQ(r.error, "");
  EXPECT_TRUE(r.labels.empty());
  EXPECT_EQ(r.discovered_labels.get("env"), "dev");
  EXPECT_EQ(r.discovered_labels.get("job"), "j");
}

TEST(PopulateTargetTest, NoAddressIsAnError) {
  std::vector<Rule> rules{must_compile({.source_labels = {"__address__"},
                                        .regex = "h:.*",
                                        .target_label = "__address__",
                                        .replacement = ""})};
  const PopulateResult r = populate_target(ls({{"__address__", "h:1"}}), {.job = "j"}, rules);
  EXPECT_EQ(r.error, "no address");
  EXPECT_FALSE(r.dropped);
  EXPECT_TRUE(r.labels.empty());
  EXPECT_TRUE(r.discovered_labels.empty());
  EXPECT_EQ(populate_target(ls({{"x", "1"}}), {.job = "j"}, {}).error, "no address");
}

TEST(PopulateTargetTest, RemovesMetaLabelsAndKeepsARelabeledInstance) {
  std::vector<Rule> rules{
      must_compile({.source_labels = {"__meta_name"}, .target_label = "instance"}),
      must_compile({.source_labels = {"__meta_zone"}, .target_label = "zone"}),
  };
  const PopulateResult r = populate_target(
      ls({{"__address__", "10.1.2.3"}, {"__meta_name", "web-1"}, {"__meta_zone", "b"}}),
      {.job = "j"}, rules);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.public_labels(), ls({{"instance", "web-1"}, {"job", "j"}, {"zone", "b"}}));
  EXPECT_EQ(r.labels.get("__address__"), "10.1.2.3:80");
  EXPECT_EQ(r.discovered_labels.get("__meta_zone"), "b");
}

TEST(PopulateTargetTest, ChecksIntervalAndTimeoutLabels) {
  const auto with = [](std::string interval, std::string timeout) {
    std::vector<Rule> rules{
        must_compile({.target_label = "__scrape_interval__", .replacement = std::move(interval)}),
        must_compile({.target_label = "__scrape_timeout__", .replacement = std::move(timeout)})};
    return populate_target(ls({{"__address__", "h:1"}}), {.job = "j"}, rules);
  };
  const PopulateResult ok = with("1m", "1m");
  ASSERT_EQ(ok.error, "");
  EXPECT_EQ(ok.scrape_interval_ms, 60'000);
  EXPECT_EQ(ok.scrape_timeout_ms, 60'000);
  EXPECT_EQ(ok.labels.get("__scrape_interval__"), "1m");
  EXPECT_EQ(with("0s", "0s").error, "scrape interval cannot be 0");
  EXPECT_EQ(with("1m", "0").error, "scrape timeout cannot be 0");
  EXPECT_EQ(with("soon", "1s").error,
            "error parsing scrape interval: not a valid duration string: \"soon\"");
  EXPECT_EQ(with("1m", "$$").error,
            "error parsing scrape timeout: not a valid duration string: \"$\"");
  EXPECT_EQ(with("10s", "11s").error,
            "scrape timeout cannot be greater than scrape interval (\"11s\" > \"10s\")");
  std::vector<Rule> no_interval{
      must_compile({.regex = "__scrape_interval__", .action = "labeldrop"})};
  EXPECT_EQ(populate_target(ls({{"__address__", "h:1"}}), {.job = "j"}, no_interval).error,
            "error parsing scrape interval: empty duration string");
}

TEST(PopulateTargetTest, RefusesValuesThatAreNotUtf8) {
  EXPECT_EQ(
      populate_target(LabelSet::from({{"__address__", "h:1"}, {"x", "a\xff"}}), {.job = "j"}, {})
          .error,
      "invalid label value for \"x\": \"a\\xff\"");
}

}  // namespace
}  // namespace watch::relabel
