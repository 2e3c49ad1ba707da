#include "watch/tsdb/matcher.h"

#include <algorithm>
#include <stdexcept>

namespace watch::tsdb {

namespace {

bool is_meta(char c) {
  switch (c) {
    case '\\':
    case '^':
    case '$':
    case '.':
    case '|':
    case '?':
    case '*':
    case '+':
    case '(':
    case ')':
    case '[':
    case ']':
    case '{':
    case '}':
      return true;
    default:
      return false;
  }
}

bool is_literal(std::string_view s) {
  return std::none_of(s.begin(), s.end(), is_meta);
}

}  // namespace

std::optional<CompiledMatcher> CompiledMatcher::compile(const Matcher& m, std::string* error) {
  CompiledMatcher c;
  c.name_ = m.name;
  c.op_ = m.op;
  c.value_ = m.value;
  c.negated_ = m.op == Matcher::Op::kNotEqual || m.op == Matcher::Op::kRegexNoMatch;
  if (m.op == Matcher::Op::kEqual || m.op == Matcher::Op::kNotEqual) {
    c.kind_ = Kind::kLiteral;
  } else {
    std::string_view re = m.value;
    bool icase = false;
    if (re.starts_with("(?i)")) {
      icase = true;
      re.remove_prefix(4);
    }
    if (!icase && is_literal(re)) {
      c.kind_ = Kind::kLiteral;
      c.value_ = std::string(re);
    } else if (!icase && re == ".*") {
      c.kind_ = Kind::kAny;
    } else if (!icase && re == ".+") {
      c.kind_ = Kind::kNonEmpty;
    } else if (!icase && re.size() > 2 && re.ends_with(".*") &&
               is_literal(re.substr(0, re.size() - 2))) {
      c.kind_ = Kind::kPrefix;
      c.value_ = std::string(re.substr(0, re.size() - 2));
    } else if (!icase && re.find('|') != std::string_view::npos &&
               std::all_of(re.begin(), re.end(),
                           [](char ch) { return ch == '|' || !is_meta(ch); })) {
      c.kind_ = Kind::kSet;
      std::size_t start = 0;
      while (true) {
        const std::size_t bar = re.find('|', start);
        c.set_.emplace_back(re.substr(start, bar - start));
        if (bar == std::string_view::npos) break;
        start = bar + 1;
      }
      std::sort(c.set_.begin(), c.set_.end());
    } else {
      c.kind_ = Kind::kRegex;
      try {
        auto flags = std::regex::ECMAScript | std::regex::optimize;
        if (icase) flags |= std::regex::icase;
        c.regex_ = std::make_shared<const std::regex>("^(?:" + std::string(re) + ")$", flags);
      } catch (const std::regex_error& e) {
        if (error) *error = "invalid regular expression \"" + m.value + "\": " + e.what();
        return std::nullopt;
      }
    }
  }
  c.matches_empty_ = c.matches("");
  return c;
}

bool CompiledMatcher::pattern_matches(std::string_view v) const {
  switch (kind_) {
    case Kind::kLiteral:
      return v == value_;
    case Kind::kSet:
      return std::binary_search(set_.begin(), set_.end(), v);
    case Kind::kAny:
      return true;
    case Kind::kNonEmpty:
      return !v.empty();
    case Kind::kPrefix:
      return v.starts_with(value_);
    case Kind::kRegex:
      return std::regex_match(v.begin(), v.end(), *regex_);
  }
  return false;
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
