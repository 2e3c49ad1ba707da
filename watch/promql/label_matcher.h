// Compiled label matchers: what a selector's `=`, `!=`, `=~`, `!~` mean,
// with Prometheus's semantics (regexes fully anchored; a missing label
// matches as the empty string).
//
//   auto m = watch::promql::LabelMatcher::compile({"job", watch::Matcher::Op::kRegexMatch,
//   "api|web"}); m.matcher->matches("api");   // true watch::promql::matches_all(matchers,
//   series_labels);
//
// Regexes are Go's, as Prometheus's (watch/goregexp: RE2 with Go's syntax
// and error messages), run in time linear in the value's length whatever
// the pattern. Literal patterns and lists of literals (`a|b|c`), `.*` and
// `.+` skip the regex engine.
//
// Thread-safety: compiled matchers are immutable; share them between threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "watch/model/model.h"

namespace re2 {
class RE2;
}

namespace watch::promql {

struct LabelMatcherResult;

class LabelMatcher {
 public:
  struct Compiled;
  static LabelMatcherResult compile(const Matcher& m);

  const Matcher& matcher() const { return matcher_; }
  const std::string& name() const { return matcher_.name; }
  bool matches(std::string_view value) const;

 private:
  Matcher matcher_;
  std::shared_ptr<const Compiled> compiled_;
};

struct LabelMatcherResult {
  std::optional<LabelMatcher> matcher;
  std::string error;  // set when !matcher: "error parsing regexp: missing closing ): `^(?:(a)$`"
};

// Whether every matcher accepts the series' labels (a missing label is "").
bool matches_all(const std::vector<LabelMatcher>& matchers, const LabelSet& labels);

// Compiles every matcher; the first error as "invalid matcher ...: reason".
struct MatcherListResult {
  std::vector<LabelMatcher> matchers;
  std::string error;
  bool ok() const { return error.empty(); }
};
MatcherListResult compile_matchers(const std::vector<Matcher>& matchers);

// A fully anchored regular expression with capture groups (label_replace),
// under the same bounds as matchers.
struct RegexResult {
  std::shared_ptr<const re2::RE2> regex;  // set on success
  std::string error;
};
RegexResult compile_regex(std::string_view pattern);

}  // namespace watch::promql
