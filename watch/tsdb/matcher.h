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
// The meaning of each matcher is watch::promql::LabelMatcher's (regexes fully
// anchored, RE2 syntax where std::regex agrees plus a leading (?i), bounded
// compilation for untrusted patterns, polynomial matching), so the head
// selects exactly what PromQL's MemoryStorage would. On top, the index needs:
// - matches_empty(): a series without the label matches as if its value were
//   "", so `{env=""}` and `{env!~".+"}` select series with no `env`, and
//   `{env!="prod"}` includes them;
// - equal_value(): `=` with a non-empty value is one postings lookup.
//
// Thread-safety: a compiled MatcherSet is immutable; share it freely.
#pragma once

#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "watch/model/model.h"
#include "watch/promql/label_matcher.h"

namespace watch::tsdb {

class CompiledMatcher {
 public:
  // nullopt and *error set when the regex is refused.
  static std::optional<CompiledMatcher> compile(const Matcher& m, std::string* error);

  const std::string& name() const { return matcher_.name(); }
  Matcher::Op op() const { return matcher_.matcher().op; }
  // Whether a label value (or "" for a missing label) is selected.
  bool matches(std::string_view value) const { return matcher_.matches(value); }
  // matches(""), precomputed: whether series without the label are selected.
  bool matches_empty() const { return matches_empty_; }
  // For `=` with a non-empty value: the value (the index looks it up directly).
  const std::string* equal_value() const {
    const Matcher& m = matcher_.matcher();
    return m.op == Matcher::Op::kEqual && !m.value.empty() ? &m.value : nullptr;
  }

 private:
  explicit CompiledMatcher(promql::LabelMatcher m)
      : matcher_(std::move(m)), matches_empty_(matcher_.matches("")) {}

  promql::LabelMatcher matcher_;
  bool matches_empty_;
};

class MatcherSet {
 public:
  MatcherSet() = default;  // matches every series
  // nullopt and *error ("invalid matcher job=~\"(a\": missing closing ): `(a`")
  // when a regex is refused.
  static std::optional<MatcherSet> compile(std::span<const Matcher> matchers, std::string* error);
  // Convenience for trusted, known-good matchers (tests, built-in rules):
  // throws std::invalid_argument when a regex is refused.
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
