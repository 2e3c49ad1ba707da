#include "watch/routing/matchers.h"

#include <re2/re2.h>

#include <fmt/format.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "watch/goregexp/goregexp.h"
#include "watch/gotext/gotext.h"

namespace watch::routing {

namespace {

using gotext::decode_rune;
using gotext::Rune;

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

// As Alertmanager's NewMatcher: the pattern is ^(?:value)$, compiled as a
// whole (so a value like "a)|(b" means what it means there). Messages are
// Go's, made valid UTF-8 for any log or JSON writer.
std::shared_ptr<const re2::RE2> compile_anchored(std::string_view value, std::string* error) {
  goregexp::SyntaxError syntax_error;
  std::shared_ptr<const re2::RE2> regex =
      goregexp::compile(goregexp::anchored(value), goregexp::Groups::kMatchOnly, &syntax_error);
  if (!regex && error != nullptr) *error = gotext::to_valid_utf8(goregexp::message(syntax_error));
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
  const bool matched = goregexp::match(*regex_, label_value);
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
  if (!raw) return fail("bad matcher format: " + gotext::to_valid_utf8(text));

  std::string_view rest = raw->raw_value;
  bool expect_trailing_quote = false;
  if (rest.starts_with('"')) {
    rest.remove_prefix(1);
    expect_trailing_quote = true;
  }
  if (!gotext::is_valid_utf8(rest)) {
    return fail("matcher value not valid UTF-8: " + gotext::to_valid_utf8(raw->raw_value));
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
    const std::string_view bytes = r.valid ? text.substr(i, r.width) : gotext::kReplacementUtf8;
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
