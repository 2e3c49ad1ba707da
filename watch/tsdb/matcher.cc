#include "watch/tsdb/matcher.h"

#include <stdexcept>

#include <fmt/format.h>

namespace watch::tsdb {

std::optional<CompiledMatcher> CompiledMatcher::compile(const Matcher& m, std::string* error) {
  auto r = promql::LabelMatcher::compile(m);
  if (!r.matcher) {
    if (error)
      *error = fmt::format("invalid matcher {}{}\"{}\": {}", m.name, watch::to_string(m.op),
                           m.value, r.error);
    return std::nullopt;
  }
  return CompiledMatcher(std::move(*r.matcher));
}

std::optional<MatcherSet> MatcherSet::compile(std::span<const Matcher> matchers,
                                              std::string* error) {
  MatcherSet set;
  set.matchers_.reserve(matchers.size());
  for (const Matcher& m : matchers) {
    auto c = CompiledMatcher::compile(m, error);
    if (!c) return std::nullopt;
    set.matchers_.push_back(std::move(*c));
  }
  return set;
}

MatcherSet MatcherSet::must_compile(std::span<const Matcher> matchers) {
  std::string error;
  auto set = compile(matchers, &error);
  if (!set) throw std::invalid_argument(error);
  return std::move(*set);
}

bool MatcherSet::matches(const LabelSet& labels) const {
  for (const auto& m : matchers_)
    if (!m.matches(labels.get(m.name()))) return false;
  return true;
}

}  // namespace watch::tsdb
