#include "watch/routing/matchers.h"

#include <re2/re2.h>

#include <fmt/format.h>

#include <algorithm>
#include <tuple>
#include <utility>

namespace watch::routing {

namespace {

// Go's regexp has no memory limit; RE2's default (8 MiB) would refuse the
// long alternations people write in match_re.
constexpr std::int64_t kRegexMaxMem = 64 << 20;
constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";

// ---------------------------------------------------------------------------
// UTF-8 as Go reads it: a byte that does not start a well-formed sequence is
// one U+FFFD of width 1.

struct Rune {
  char32_t value;
  std::size_t width;  // bytes read
  bool valid;         // false: an ill-formed byte, read as U+FFFD
};

Rune decode_rune(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return {b0, 1, true};
  constexpr Rune kBad{0xFFFD, 1, false};
  std::size_t width = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte (Unicode Table 3-7)
  char32_t value = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    width = 2;
    value = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    width = 3;
    value = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    width = 4;
    value = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return kBad;
  }
  if (i + width > s.size()) return kBad;
  for (std::size_t k = 1; k < width; ++k) {
    const unsigned char b = byte(i + k);
    if (b < lo || b > hi) return kBad;
    lo = 0x80;
    hi = 0xBF;
    value = (value << 6) | (b & 0x3F);
  }
  return {value, width, true};
}

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const Rune r = decode_rune(s, i);
    if (!r.valid) return false;
    i += r.width;
  }
  return true;
}

// Every ill-formed byte replaced by U+FFFD: what Go's `for range` over the
// text, and its regexp, see.
std::string to_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (std::size_t i = 0; i < s.size();) {
    const Rune r = decode_rune(s, i);
    if (r.valid) {
      out.append(s.substr(i, r.width));
    } else {
      out.append(kReplacementUtf8);
    }
    i += r.width;
  }
  return out;
}

// Text for an error message: always valid UTF-8, so that any log or JSON
// writer can take it.
std::string printable(std::string_view s) {
  return is_valid_utf8(s) ? std::string(s) : to_valid_utf8(s);
}

// Go's unicode.IsSpace, what strings.TrimSpace trims.
bool is_unicode_space(char32_t r) {
  switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200A;
  }
}

// Go's strings.TrimSpace.
std::string_view trim_unicode_space(std::string_view s) {
  std::size_t begin = 0;
  while (begin < s.size()) {
    const Rune r = decode_rune(s, begin);
    if (!r.valid || !is_unicode_space(r.value)) break;
    begin += r.width;
  }
  s.remove_prefix(begin);
  // From the end: step back over a whole rune at a time.
  while (!s.empty()) {
    std::size_t start = s.size() - 1;
    while (start > 0 && s.size() - start < 4 &&
           (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
      --start;
    }
    const Rune r = decode_rune(s, start);
    if (start + r.width != s.size()) break;  // a lone trailing byte: not a space
    if (!r.valid || !is_unicode_space(r.value)) break;
    s.remove_suffix(r.width);
  }
  return s;
}

// `\s` in Go's regexp (ASCII only).
bool is_regex_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

bool is_ascii_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// OpenMetrics escaping, as Alertmanager prints matcher values.
std::string open_metrics_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '"':
        out += "\\\"";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Regexes: Go's syntax, compiled by RE2. The two agree but for a few corners,
// handled here: Go refuses \C (any byte), (?<name>) (before Go 1.22) and
// group names that are not ASCII words; it accepts two groups of one name.

std::string regex_error(std::string_view what, std::string_view fragment) {
  return fmt::format("error parsing regexp: {}: `{}`", what, printable(fragment));
}

// Go's error for what Go refuses and RE2 may take; sets `has_named_groups`.
// Scans past escapes, \Q...\E and character classes; the rest is RE2's job.
std::optional<std::string> go_only_syntax_error(std::string_view re, bool& has_named_groups) {
  bool in_class = false;
  for (std::size_t i = 0; i < re.size();) {
    const char c = re[i];
    if (c == '\\') {
      if (i + 1 >= re.size()) return std::nullopt;
      if (re[i + 1] == 'Q' && !in_class) {
        const std::size_t end = re.find("\\E", i + 2);
        if (end == std::string_view::npos) return std::nullopt;  // literal to the end
        i = end + 2;
        continue;
      }
      if (re[i + 1] == 'C') return regex_error("invalid escape sequence", "\\C");
      i += 2;
      continue;
    }
    if (in_class) {
      if (re.substr(i, 2) == "[:") {
        const std::size_t end = re.find(":]", i + 2);
        if (end != std::string_view::npos) {
          i = end + 2;
          continue;
        }
      }
      if (c == ']') in_class = false;
      ++i;
      continue;
    }
    if (c == '[') {
      in_class = true;
      ++i;
      if (i < re.size() && re[i] == '^') ++i;
      if (i < re.size() && re[i] == ']') ++i;  // a leading ']' is literal
      continue;
    }
    if (re.substr(i, 3) == "(?<") return regex_error("invalid or unsupported Perl syntax", "(?<");
    if (re.substr(i, 4) == "(?P<") {
      const std::size_t close = re.find('>', i + 4);
      if (close == std::string_view::npos) return std::nullopt;
      const std::string_view name = re.substr(i + 4, close - i - 4);
      if (name.empty() || !std::all_of(name.begin(), name.end(), is_ascii_word)) {
        return regex_error("invalid named capture", re.substr(i, close + 1 - i));
      }
      has_named_groups = true;
      i = close + 1;
      continue;
    }
    ++i;
  }
  return std::nullopt;
}

// `re` with every (?P<name> made a plain group: names mean nothing to a
// matcher, and RE2 versions differ on repeated names. Only called once
// go_only_syntax_error() has passed `re`.
std::string without_group_names(std::string_view re) {
  std::string out;
  bool in_class = false;
  for (std::size_t i = 0; i < re.size();) {
    const char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      if (re[i + 1] == 'Q' && !in_class) {
        const std::size_t end = re.find("\\E", i + 2);
        const std::size_t stop = end == std::string_view::npos ? re.size() : end + 2;
        out.append(re.substr(i, stop - i));
        i = stop;
        continue;
      }
      out.append(re.substr(i, 2));
      i += 2;
      continue;
    }
    if (in_class) {
      if (re.substr(i, 2) == "[:") {
        const std::size_t end = re.find(":]", i + 2);
        if (end != std::string_view::npos) {
          out.append(re.substr(i, end + 2 - i));
          i = end + 2;
          continue;
        }
      }
      if (c == ']') in_class = false;
      out.push_back(c);
      ++i;
      continue;
    }
    if (c == '[') {
      in_class = true;
      const std::size_t start = i++;
      if (i < re.size() && re[i] == '^') ++i;
      if (i < re.size() && re[i] == ']') ++i;
      out.append(re.substr(start, i - start));
      continue;
    }
    if (re.substr(i, 4) == "(?P<") {
      const std::size_t close = re.find('>', i + 4);
      if (close != std::string_view::npos) {
        out.push_back('(');
        i = close + 1;
        continue;
      }
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

// Go's words for RE2's error codes.
std::string_view go_error_text(re2::RE2::ErrorCode code) {
  switch (code) {
    case re2::RE2::ErrorBadEscape:
      return "invalid escape sequence";
    case re2::RE2::ErrorBadCharClass:
      return "invalid character class";
    case re2::RE2::ErrorBadCharRange:
      return "invalid character class range";
    case re2::RE2::ErrorMissingBracket:
      return "missing closing ]";
    case re2::RE2::ErrorMissingParen:
      return "missing closing )";
    case re2::RE2::ErrorUnexpectedParen:
      return "unexpected )";
    case re2::RE2::ErrorTrailingBackslash:
      return "trailing backslash at end of expression";
    case re2::RE2::ErrorRepeatArgument:
      return "missing argument to repetition operator";
    case re2::RE2::ErrorRepeatSize:
      return "invalid repeat count";
    case re2::RE2::ErrorRepeatOp:
      return "invalid nested repetition operator";
    case re2::RE2::ErrorBadPerlOp:
      return "invalid or unsupported Perl syntax";
    case re2::RE2::ErrorBadUTF8:
      return "invalid UTF-8";
    case re2::RE2::ErrorBadNamedCapture:
      return "invalid named capture";
    case re2::RE2::ErrorPatternTooLarge:
      return "expression too large";
    default:
      break;
  }
  return {};
}

std::shared_ptr<const re2::RE2> compile_anchored(std::string_view value, std::string* error) {
  const auto fail = [&](std::string message) -> std::shared_ptr<const re2::RE2> {
    if (error != nullptr) *error = std::move(message);
    return nullptr;
  };
  // As Alertmanager: the pattern is ^(?:value)$, checked as a whole (so a
  // value like "a)|(b" means what it means there).
  const std::string anchored = "^(?:" + std::string(value) + ")$";
  bool has_named_groups = false;
  if (auto go_error = go_only_syntax_error(anchored, has_named_groups)) return fail(*go_error);

  re2::RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kRegexMaxMem);
  auto regex = std::make_shared<re2::RE2>(anchored, options);
  if (!regex->ok() && has_named_groups && regex->error_code() == re2::RE2::ErrorBadNamedCapture) {
    regex = std::make_shared<re2::RE2>(without_group_names(anchored), options);
  }
  if (!regex->ok()) {
    const std::string_view text = go_error_text(regex->error_code());
    if (text.empty()) return fail("error parsing regexp: " + printable(regex->error()));
    return fail(regex_error(text, regex->error_arg()));
  }
  return regex;
}

// ---------------------------------------------------------------------------
// 0.25's ParseMatcher, the pattern
//   ^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$
// read by hand, then its unescaping.

struct RawMatcher {
  std::string_view name;
  MatchType type;
  std::string_view raw_value;  // the third group: quotes and escapes as written
};

std::optional<RawMatcher> split_matcher(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && is_regex_space(s[i])) ++i;
  if (i >= s.size() || !is_name_start(s[i])) return std::nullopt;
  const std::size_t name_begin = i;
  while (i < s.size() && is_name_char(s[i])) ++i;
  const std::string_view name = s.substr(name_begin, i - name_begin);
  while (i < s.size() && is_regex_space(s[i])) ++i;
  // The alternatives in the pattern's order: "=~" before "=".
  MatchType type;
  const std::string_view op = s.substr(i, 2);
  if (op == "=~") {
    type = MatchType::kRegex;
    i += 2;
  } else if (!op.empty() && op[0] == '=') {
    type = MatchType::kEqual;
    i += 1;
  } else if (op == "!=") {
    type = MatchType::kNotEqual;
    i += 2;
  } else if (op == "!~") {
    type = MatchType::kNotRegex;
    i += 2;
  } else {
    return std::nullopt;
  }
  while (i < s.size() && is_regex_space(s[i])) ++i;
  std::size_t end = s.size();
  while (end > i && is_regex_space(s[end - 1])) --end;
  return RawMatcher{name, type, s.substr(i, end - i)};
}

}  // namespace

// ---------------------------------------------------------------------------

std::string_view to_string(MatchType type) {
  switch (type) {
    case MatchType::kEqual:
      return "=";
    case MatchType::kNotEqual:
      return "!=";
    case MatchType::kRegex:
      return "=~";
    case MatchType::kNotRegex:
      return "!~";
  }
  return "?";
}

Matcher::Matcher(std::string name, MatchType type, std::string value,
                 std::shared_ptr<const re2::RE2> regex)
    : name_(std::move(name)), type_(type), value_(std::move(value)), regex_(std::move(regex)) {}

std::optional<Matcher> Matcher::make(std::string name, MatchType type, std::string value,
                                     std::string* error) {
  std::shared_ptr<const re2::RE2> regex;
  if (type == MatchType::kRegex || type == MatchType::kNotRegex) {
    regex = compile_anchored(value, error);
    if (!regex) return std::nullopt;
  }
  return Matcher(std::move(name), type, std::move(value), std::move(regex));
}

bool Matcher::matches(std::string_view label_value) const {
  switch (type_) {
    case MatchType::kEqual:
      return label_value == value_;
    case MatchType::kNotEqual:
      return label_value != value_;
    case MatchType::kRegex:
    case MatchType::kNotRegex:
      break;
  }
  // Unanchored, as Go's MatchString: the pattern's own ^ and $ anchor it,
  // so "a)|(b" (^(?:a)|(b)$) matches anything starting with a or ending with b.
  bool matched;
  if (is_valid_utf8(label_value)) {
    matched = regex_->Match(re2::StringPiece(label_value.data(), label_value.size()), 0,
                            label_value.size(), re2::RE2::UNANCHORED, nullptr, 0);
  } else {
    const std::string valid = to_valid_utf8(label_value);
    matched = regex_->Match(valid, 0, valid.size(), re2::RE2::UNANCHORED, nullptr, 0);
  }
  return type_ == MatchType::kRegex ? matched : !matched;
}

std::string Matcher::to_string() const {
  return fmt::format("{}{}\"{}\"", name_, routing::to_string(type_), open_metrics_escape(value_));
}

bool operator<(const Matcher& a, const Matcher& b) {
  return std::tie(a.name_, a.value_, a.type_) < std::tie(b.name_, b.value_, b.type_);
}

bool operator==(const Matcher& a, const Matcher& b) {
  return a.name_ == b.name_ && a.type_ == b.type_ && a.value_ == b.value_;
}

std::optional<Matcher> parse_matcher(std::string_view text, std::string* error) {
  const auto fail = [&](std::string message) -> std::optional<Matcher> {
    if (error != nullptr) *error = std::move(message);
    return std::nullopt;
  };
  const std::optional<RawMatcher> raw = split_matcher(text);
  if (!raw) return fail("bad matcher format: " + printable(text));

  std::string_view rest = raw->raw_value;
  bool expect_trailing_quote = false;
  if (rest.starts_with('"')) {
    rest.remove_prefix(1);
    expect_trailing_quote = true;
  }
  if (!is_valid_utf8(rest)) {
    return fail("matcher value not valid UTF-8: " + printable(raw->raw_value));
  }
  const auto unescaped_quote = [&] {
    return fail("matcher value contains unescaped double quote: " + std::string(raw->raw_value));
  };
  // Byte by byte is rune by rune here: the special characters are ASCII,
  // and bytes of multi-byte characters are copied as they are.
  std::string value;
  value.reserve(rest.size());
  bool escaped = false;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const char c = rest[i];
    if (escaped) {
      escaped = false;
      if (c == 'n') {
        value.push_back('\n');
      } else if (c == '"' || c == '\\') {
        value.push_back(c);
      } else {
        value.push_back('\\');  // a spurious escape: the backslash is literal
        value.push_back(c);
      }
      continue;
    }
    if (c == '\\') {
      if (i + 1 < rest.size()) {
        escaped = true;
      } else {
        value.push_back('\\');  // a backslash as the last byte is literal
      }
    } else if (c == '"') {
      if (!expect_trailing_quote || i + 1 < rest.size()) return unescaped_quote();
      expect_trailing_quote = false;
    } else {
      value.push_back(c);
    }
  }
  if (expect_trailing_quote) return unescaped_quote();
  return Matcher::make(std::string(raw->name), raw->type, std::move(value), error);
}

std::optional<std::vector<Matcher>> parse_matchers(std::string_view text, std::string* error) {
  if (text.starts_with('{')) text.remove_prefix(1);
  if (text.ends_with('}')) text.remove_suffix(1);

  // Split at commas outside double quotes; a quote preceded by a backslash
  // does not count. The flags move exactly as in 0.25 (a comma leaves
  // `escaped` as it is).
  std::vector<std::string> tokens;
  std::string token;
  bool inside_quotes = false;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size();) {
    const Rune r = decode_rune(text, i);
    const std::string_view bytes = r.valid ? text.substr(i, r.width) : kReplacementUtf8;
    i += r.width;
    if (r.value == ',' && !inside_quotes) {
      tokens.push_back(std::move(token));
      token.clear();
      continue;
    }
    if (r.value == '"') {
      if (!escaped) {
        inside_quotes = !inside_quotes;
      } else {
        escaped = false;
      }
    } else if (r.value == '\\') {
      escaped = !escaped;
    } else if (r.value != ',') {
      escaped = false;
    }
    token.append(bytes);
  }
  if (const std::string_view last = trim_unicode_space(token); !last.empty()) {
    tokens.emplace_back(last);
  }

  std::vector<Matcher> out;
  out.reserve(tokens.size());
  for (const std::string& t : tokens) {
    std::optional<Matcher> m = parse_matcher(t, error);
    if (!m) return std::nullopt;
    out.push_back(*std::move(m));
  }
  return out;
}

bool matches_all(const std::vector<Matcher>& matchers, const LabelSet& labels) {
  return std::all_of(matchers.begin(), matchers.end(),
                     [&](const Matcher& m) { return m.matches(labels); });
}

std::string to_string(const std::vector<Matcher>& matchers) {
  std::string out = "{";
  for (std::size_t i = 0; i < matchers.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += matchers[i].to_string();
  }
  out.push_back('}');
  return out;
}

bool is_valid_label_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), is_ascii_word);
}

}  // namespace watch::routing
