#include "watch/promql/label_matcher.h"

#include <algorithm>
#include <regex>

#include <fmt/format.h>

namespace watch::promql {

struct LabelMatcher::Compiled {
  enum class Kind { kAny, kNonEmpty, kLiterals, kRegex } kind = Kind::kRegex;
  std::vector<std::string> literals;  // sorted
  std::regex regex;
};

namespace {

constexpr std::size_t kMaxPatternBytes = 4096;
constexpr int kMaxNesting = 50;
constexpr long kMaxRepeat = 1000;           // as RE2
constexpr double kMaxExpandedSize = 20000;  // states, roughly

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

// Rejects what std::regex cannot do safely or that RE2 would reject, and
// estimates the size of the compiled program. Empty string when acceptable.
std::string check_pattern(std::string_view re) {
  if (re.size() > kMaxPatternBytes)
    return fmt::format("regular expression longer than {} bytes", kMaxPatternBytes);
  struct Frame {
    double total = 0;  // sum of finished alternatives' maximum
    double alt = 0;    // the current alternative
  };
  std::vector<Frame> stack(1);
  double last_atom = 0;
  bool in_class = false;
  for (std::size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (in_class) {
      if (c == '\\') {
        ++i;
      } else if (c == ']') {
        in_class = false;
      }
      continue;
    }
    switch (c) {
      case '\\':
        if (i + 1 < re.size() && re[i + 1] >= '1' && re[i + 1] <= '9')
          return fmt::format("invalid escape sequence: `\\{}`", re[i + 1]);
        ++i;
        last_atom = 1;
        stack.back().alt += 1;
        break;
      case '[':
        in_class = true;
        // A ']' right after '[' or '[^' is a literal member.
        if (i + 1 < re.size() && re[i + 1] == '^') ++i;
        if (i + 1 < re.size() && re[i + 1] == ']') ++i;
        last_atom = 1;
        stack.back().alt += 1;
        break;
      case '(':
        if (static_cast<int>(stack.size()) > kMaxNesting)
          return fmt::format("regular expression nested more than {} levels", kMaxNesting);
        stack.emplace_back();
        last_atom = 0;
        break;
      case ')': {
        if (stack.size() == 1) return fmt::format("unexpected ): `{}`", re);
        Frame f = stack.back();
        stack.pop_back();
        last_atom = std::max(f.total, f.alt) + 1;
        stack.back().alt += last_atom;
        break;
      }
      case '|': {
        Frame& f = stack.back();
        f.total = std::max(f.total, f.alt) + f.alt;
        f.alt = 0;
        last_atom = 0;
        break;
      }
      case '*':
      case '+':
      case '?':
        stack.back().alt += 1;
        break;
      case '{': {
        // {n}, {n,}, {n,m}; anything else is a literal '{' in ECMAScript.
        // std::regex reads the digits after any '{' into a long, without
        // an overflow check: refuse long digit runs before it sees them.
        for (std::size_t k = i + 1, run = 0; k < re.size() && k < i + 32; ++k) {
          if (re[k] >= '0' && re[k] <= '9') {
            if (++run > 6)
              return fmt::format("invalid repeat count: `{}`", re.substr(i, k - i + 1));
          } else if (re[k] == ',') {
            run = 0;
          } else {
            break;
          }
        }
        std::size_t j = i + 1;
        long n = 0, m = -1;
        bool digits = false;
        while (j < re.size() && re[j] >= '0' && re[j] <= '9') {
          n = std::min(n * 10 + (re[j] - '0'), 100000L);
          ++j;
          digits = true;
        }
        if (!digits) {
          last_atom = 1;
          stack.back().alt += 1;
          break;
        }
        if (j < re.size() && re[j] == ',') {
          ++j;
          long v = 0;
          bool d2 = false;
          while (j < re.size() && re[j] >= '0' && re[j] <= '9') {
            v = std::min(v * 10 + (re[j] - '0'), 100000L);
            ++j;
            d2 = true;
          }
          m = d2 ? v : n + 1;
        } else {
          m = n;
        }
        if (j >= re.size() || re[j] != '}') {
          last_atom = 1;
          stack.back().alt += 1;
          break;
        }
        if (n > kMaxRepeat || m > kMaxRepeat)
          return fmt::format("invalid repeat count: `{}`", re.substr(i, j - i + 1));
        const double times = static_cast<double>(std::max({n, m, 1L}));
        stack.back().alt += last_atom * (times - 1) + 1;
        last_atom *= times;
        i = j;
        break;
      }
      default:
        last_atom = 1;
        stack.back().alt += 1;
    }
    double size = 0;
    for (const auto& f : stack) size += std::max(f.total, f.alt) + f.alt;
    if (size > kMaxExpandedSize) return "regular expression too complex";
  }
  if (in_class) return fmt::format("missing closing ]: `{}`", re);
  if (stack.size() != 1) return fmt::format("missing closing ): `{}`", re);
  return {};
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
    if (std::string err = check_pattern(pattern); !err.empty()) return {std::nullopt, err};
    auto flags = std::regex::ECMAScript | std::regex::nosubs;
    if (icase) flags |= std::regex::icase;
#ifdef __GLIBCXX__
    // Breadth-first (Thompson) execution: polynomial time, and no recursion
    // as deep as the input is long.
    flags |= std::regex_constants::__polynomial;
#endif
    try {
      compiled->regex = std::regex(pattern.begin(), pattern.end(), flags);
    } catch (const std::regex_error& e) {
      return {std::nullopt, fmt::format("{}: `{}`", e.what(), m.value)};
    }
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
      hit = std::regex_match(value.begin(), value.end(), compiled_->regex);
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
  if (std::string err = check_pattern(pattern); !err.empty()) return {nullptr, err};
  auto flags = std::regex::ECMAScript;
#ifdef __GLIBCXX__
  flags |= std::regex_constants::__polynomial;
#endif
  try {
    return {std::make_shared<const std::regex>(pattern.begin(), pattern.end(), flags), {}};
  } catch (const std::regex_error& e) {
    return {nullptr, fmt::format("{}: `{}`", e.what(), pattern)};
  }
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
