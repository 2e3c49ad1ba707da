// Label matchers compiled for the head's index: what `=`, `!=`, `=~`, `!~`
// select, with Prometheus's semantics.
//
//   std::string error;
//   auto set = watch::tsdb::MatcherSet::compile(
//       {{"__name__", watch::Matcher::Op::kEqual, "up"},
//        {"job", watch::Matcher::Op::kRegexMatch, "api|web"}}, &error);
//   if (!set) return bad_request(error);
//   head.select(*set, mint, maxt);
//
// - Regexes are fully anchored (`api` does not match `rapid`), with RE2's
//   syntax where std::regex (ECMAScript) agrees, plus a leading `(?i)`.
// - A series without the label matches as if its value were "": so
//   `{env=""}` and `{env!~".+"}` select series with no `env`, and
//   `{env!="prod"}` includes them.
// - Literal patterns, lists of literals (`a|b|c`), `.*`, `.+` and `literal.*`
//   never run the regex engine. Compile patterns from untrusted input with
//   PromQL's bounds first (watch/promql checks length, nesting and
//   repetition); this compiler only refuses patterns std::regex refuses.
//
// Thread-safety: a compiled MatcherSet is immutable; share it freely.
#pragma once

#include <memory>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "watch/model/model.h"

namespace watch::tsdb {

class CompiledMatcher {
 public:
  // nullopt and *error set when the regex does not compile.
  static std::optional<CompiledMatcher> compile(const Matcher& m, std::string* error);

  const std::string& name() const { return name_; }
  Matcher::Op op() const { return op_; }
  // Whether a label value (or "" for a missing label) is selected.
  bool matches(std::string_view value) const {
    const bool hit = pattern_matches(value);
    return negated_ ? !hit : hit;
  }
  // matches(""), precomputed: whether series without the label are selected.
  bool matches_empty() const { return matches_empty_; }
  // For `=` with a non-empty value: the value (the index looks it up directly).
  const std::string* equal_value() const {
    return op_ == Matcher::Op::kEqual && !value_.empty() ? &value_ : nullptr;
  }

 private:
  enum class Kind { kLiteral, kSet, kAny, kNonEmpty, kPrefix, kRegex };
  bool pattern_matches(std::string_view v) const;

  std::string name_;
  Matcher::Op op_ = Matcher::Op::kEqual;
  std::string value_;
  Kind kind_ = Kind::kLiteral;
  bool negated_ = false;
  bool matches_empty_ = false;
  std::vector<std::string> set_;  // kSet: sorted alternatives
  std::shared_ptr<const std::regex> regex_;
};

class MatcherSet {
 public:
  MatcherSet() = default;  // matches every series
  static std::optional<MatcherSet> compile(std::span<const Matcher> matchers, std::string* error);
  // Convenience for trusted, known-good matchers (tests, built-in rules):
  // throws std::invalid_argument when a regex does not compile.
  static MatcherSet must_compile(std::span<const Matcher> matchers);
  static MatcherSet must_compile(std::initializer_list<Matcher> matchers) {
    return must_compile(std::span<const Matcher>(matchers.begin(), matchers.size()));
  }

  std::span<const CompiledMatcher> matchers() const { return matchers_; }
  bool empty() const { return matchers_.empty(); }
  bool matches(const LabelSet& labels) const;

 private:
  std::vector<CompiledMatcher> matchers_;
};

}  // namespace watch::tsdb
