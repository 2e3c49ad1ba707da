#include "watch/promql/label_matcher.h"

#include <re2/re2.h>

#include <algorithm>

#include <fmt/format.h>

#include "watch/goregexp/goregexp.h"

namespace watch::promql {

struct LabelMatcher::Compiled {
  enum class Kind { kAny, kNonEmpty, kLiterals, kRegex } kind = Kind::kRegex;
  std::vector<std::string> literals;  // sorted
  std::unique_ptr<re2::RE2> regex;    // anchored, Go's syntax
};

namespace {

bool is_meta(char c) {
  switch (c) {
    case '.':
    case '+':
    case '*':
    case '?':
    case '(':
    case ')':
    case '|':
    case '[':
    case ']':
    case '{':
    case '}':
    case '^':
    case '$':
    case '\\':
      return true;
    default:
      return false;
  }
}

// Splits `a|b|c` into literals when no alternative has a metacharacter
// (escaped punctuation such as `\.` counts as literal).
std::optional<std::vector<std::string>> literal_alternatives(std::string_view re) {
  std::vector<std::string> out(1);
  for (std::size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '|') {
      out.emplace_back();
    } else if (c == '\\') {
      if (i + 1 >= re.size()) return std::nullopt;
      const char e = re[i + 1];
      if (!is_meta(e) && e != '-' && e != '/' && e != '"' && e != '\'') return std::nullopt;
      out.back().push_back(e);
      ++i;
    } else if (is_meta(c)) {
      return std::nullopt;
    } else {
      out.back().push_back(c);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

LabelMatcherResult LabelMatcher::compile(const Matcher& m) {
  LabelMatcher out;
  out.matcher_ = m;
  if (m.op == Matcher::Op::kEqual || m.op == Matcher::Op::kNotEqual) return {std::move(out), {}};

  auto compiled = std::make_shared<Compiled>();
  std::string_view pattern = m.value;
  bool icase = false;
  if (pattern.substr(0, 4) == "(?i)") {
    icase = true;
    pattern.remove_prefix(4);
  }
  if (!icase && (pattern == ".*" || pattern == "(?s:.*)" || pattern == "(?s).*")) {
    compiled->kind = Compiled::Kind::kAny;
  } else if (!icase && (pattern == ".+" || pattern == "(?s:.+)" || pattern == "(?s).+")) {
    compiled->kind = Compiled::Kind::kNonEmpty;
  } else if (auto lits = icase ? std::nullopt : literal_alternatives(pattern)) {
    compiled->kind = Compiled::Kind::kLiterals;
    compiled->literals = std::move(*lits);
  } else {
    // Go's regexp, as Prometheus: the whole value, (?i) and all, anchored.
    goregexp::SyntaxError error;
    compiled->regex =
        goregexp::compile(goregexp::anchored(m.value), goregexp::Groups::kMatchOnly, &error);
    if (!compiled->regex) return {std::nullopt, goregexp::message(error)};
    compiled->kind = Compiled::Kind::kRegex;
  }
  out.compiled_ = std::move(compiled);
  return {std::move(out), {}};
}

bool LabelMatcher::matches(std::string_view value) const {
  switch (matcher_.op) {
    case Matcher::Op::kEqual:
      return value == matcher_.value;
    case Matcher::Op::kNotEqual:
      return value != matcher_.value;
    default:
      break;
  }
  bool hit = false;
  switch (compiled_->kind) {
    case Compiled::Kind::kAny:
      hit = value.find('\n') == std::string_view::npos;
      break;
    case Compiled::Kind::kNonEmpty:
      hit = !value.empty() && value.find('\n') == std::string_view::npos;
      break;
    case Compiled::Kind::kLiterals:
      hit = std::binary_search(compiled_->literals.begin(), compiled_->literals.end(), value);
      break;
    case Compiled::Kind::kRegex:
      hit = goregexp::match(*compiled_->regex, value);
      break;
  }
  return matcher_.op == Matcher::Op::kRegexMatch ? hit : !hit;
}

bool matches_all(const std::vector<LabelMatcher>& matchers, const LabelSet& labels) {
  for (const auto& m : matchers)
    if (!m.matches(labels.get(m.name()))) return false;
  return true;
}

RegexResult compile_regex(std::string_view pattern) {
  goregexp::SyntaxError error;
  std::shared_ptr<const re2::RE2> re =
      goregexp::compile(goregexp::anchored(pattern), goregexp::Groups::kCapture, &error);
  if (!re) return {nullptr, goregexp::message(error)};
  return {std::move(re), {}};
}

MatcherListResult compile_matchers(const std::vector<Matcher>& matchers) {
  MatcherListResult out;
  out.matchers.reserve(matchers.size());
  for (const auto& m : matchers) {
    auto r = LabelMatcher::compile(m);
    if (!r.matcher) {
      out.matchers.clear();
      out.error = fmt::format("invalid matcher {}=~\"{}\": {}", m.name, m.value, r.error);
      return out;
    }
    out.matchers.push_back(std::move(*r.matcher));
  }
  return out;
}

}  // namespace watch::promql
