#include "watch/promql/lexer.h"

#include "watch/model/text.h"
#include "watch/promql/format.h"

#include <array>
#include <utility>

#include <fmt/format.h>

namespace watch::promql::detail {

namespace {

bool is_alpha(char c) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

struct Keyword {
  std::string_view word;
  Tok type;
};

constexpr std::array<Keyword, 24> kKeywords = {{
    {"and", Tok::kAnd},
    {"or", Tok::kOr},
    {"unless", Tok::kUnless},
    {"atan2", Tok::kAtan2},
    {"sum", Tok::kAggregator},
    {"avg", Tok::kAggregator},
    {"count", Tok::kAggregator},
    {"min", Tok::kAggregator},
    {"max", Tok::kAggregator},
    {"group", Tok::kAggregator},
    {"stddev", Tok::kAggregator},
    {"stdvar", Tok::kAggregator},
    {"topk", Tok::kAggregator},
    {"bottomk", Tok::kAggregator},
    {"count_values", Tok::kAggregator},
    {"quantile", Tok::kAggregator},
    {"offset", Tok::kOffset},
    {"by", Tok::kBy},
    {"without", Tok::kWithout},
    {"on", Tok::kOn},
    {"ignoring", Tok::kIgnoring},
    {"group_left", Tok::kGroupLeft},
    {"group_right", Tok::kGroupRight},
    {"bool", Tok::kBool},
}};

// Go's %q of one character (a rune): 'x', '\n', '\x00'.
std::string quote_char(std::string_view s, std::size_t i) {
  const std::size_t n = utf8_length(s, i);
  if (n == 0) return "'\\ufffd'";
  const char c = s[i];
  if (n == 1) {
    switch (c) {
      case '\n':
        return "'\\n'";
      case '\t':
        return "'\\t'";
      case '\r':
        return "'\\r'";
      case '\'':
        return "'\\''";
      case '\\':
        return "'\\\\'";
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
          return fmt::format("'\\x{:02x}'", static_cast<unsigned char>(c));
    }
  }
  return fmt::format("'{}'", s.substr(i, n));
}

}  // namespace

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::kEOF:
      return "end of input";
    case Tok::kError:
      return std::string(t.text);
    case Tok::kIdentifier:
      return fmt::format("identifier \"{}\"", t.text);
    case Tok::kMetricIdentifier:
      return fmt::format("metric identifier \"{}\"", t.text);
    case Tok::kNumber:
      return fmt::format("number \"{}\"", t.text);
    case Tok::kString:
      return fmt::format("string {}", t.text.size() > 12 ? std::string(t.text.substr(0, 11)) + "..."
                                                         : std::string(t.text));
    case Tok::kDuration:
      return fmt::format("duration \"{}\"", t.text);
    case Tok::kAdd:
    case Tok::kSub:
    case Tok::kMul:
    case Tok::kDiv:
    case Tok::kMod:
    case Tok::kPow:
    case Tok::kEqlc:
    case Tok::kNeq:
    case Tok::kLss:
    case Tok::kLte:
    case Tok::kGtr:
    case Tok::kGte:
    case Tok::kEqlRegex:
    case Tok::kNeqRegex:
      return fmt::format("<op:{}>", t.text);
    case Tok::kAnd:
    case Tok::kOr:
    case Tok::kUnless:
    case Tok::kAtan2:
      return fmt::format("<op:{}>", t.text);
    case Tok::kAggregator:
      return fmt::format("<aggr:{}>", t.text);
    case Tok::kOffset:
    case Tok::kBy:
    case Tok::kWithout:
    case Tok::kOn:
    case Tok::kIgnoring:
    case Tok::kGroupLeft:
    case Tok::kGroupRight:
    case Tok::kBool:
      return fmt::format("<{}>", t.text);
    default:
      return fmt::format("\"{}\"", t.text);
  }
}

Token Lexer::make(Tok type, std::size_t start) const {
  return Token{type, static_cast<std::uint32_t>(start), input_.substr(start, pos_ - start)};
}

Token Lexer::error(std::size_t pos, std::string message) {
  message_ = std::move(message);
  done_ = true;
  last_ = Token{Tok::kError, static_cast<std::uint32_t>(pos), message_};
  return last_;
}

Token Lexer::next() {
  if (done_) return last_;
  // Whitespace and comments.
  for (;;) {
    while (pos_ < input_.size() && is_space(input_[pos_])) ++pos_;
    if (pos_ < input_.size() && input_[pos_] == '#') {
      while (pos_ < input_.size() && input_[pos_] != '\n') ++pos_;
      continue;
    }
    break;
  }
  const std::size_t start = pos_;
  if (brace_open_) return next_inside_braces(start);
  if (pos_ >= input_.size()) {
    if (paren_depth_ != 0) return error(start, "unclosed left parenthesis");
    if (bracket_open_) return error(start, "unclosed left bracket");
    done_ = true;
    last_ = Token{Tok::kEOF, static_cast<std::uint32_t>(start), {}};
    return last_;
  }
  const char c = input_[pos_++];
  auto peek = [&]() -> char { return pos_ < input_.size() ? input_[pos_] : '\0'; };
  switch (c) {
    case ',':
      return make(Tok::kComma, start);
    case '*':
      return make(Tok::kMul, start);
    case '/':
      return make(Tok::kDiv, start);
    case '%':
      return make(Tok::kMod, start);
    case '+':
      return make(Tok::kAdd, start);
    case '-':
      return make(Tok::kSub, start);
    case '^':
      return make(Tok::kPow, start);
    case '@':
      return make(Tok::kAt, start);
    case '=':
      if (peek() == '=') {
        ++pos_;
        return make(Tok::kEqlc, start);
      }
      if (peek() == '~') return error(start, "unexpected character after '=': '~'");
      return make(Tok::kAssign, start);
    case '!':
      if (peek() == '=') {
        ++pos_;
        return make(Tok::kNeq, start);
      }
      if (pos_ >= input_.size()) return error(start, "unexpected character after '!': EOF");
      return error(start, "unexpected character after '!': " + quote_char(input_, pos_));
    case '<':
      if (peek() == '=') {
        ++pos_;
        return make(Tok::kLte, start);
      }
      return make(Tok::kLss, start);
    case '>':
      if (peek() == '=') {
        ++pos_;
        return make(Tok::kGte, start);
      }
      return make(Tok::kGtr, start);
    case '(':
      ++paren_depth_;
      return make(Tok::kLeftParen, start);
    case ')':
      if (--paren_depth_ < 0) return error(pos_, "unexpected right parenthesis ')'");
      return make(Tok::kRightParen, start);
    case '{':
      brace_open_ = true;
      return make(Tok::kLeftBrace, start);
    case '[':
      if (bracket_open_) return error(start, "unexpected left bracket '['");
      bracket_open_ = true;
      return make(Tok::kLeftBracket, start);
    case ']':
      if (!bracket_open_) return error(start, "unexpected right bracket ']'");
      bracket_open_ = false;
      return make(Tok::kRightBracket, start);
    case '"':
    case '\'':
    case '`':
      return lex_string(start, c);
    default:
      break;
  }
  if (is_digit(c) || (c == '.' && is_digit(peek()))) return lex_number_or_duration(start);
  if (c == ':' && bracket_open_) return make(Tok::kColon, start);
  if (is_alpha(c) || c == ':') return lex_identifier(start);
  return error(start, "unexpected character: " + quote_char(input_, start));
}

// Inside { }: label names, matching operators, strings and commas only.
Token Lexer::next_inside_braces(std::size_t start) {
  if (pos_ >= input_.size()) return error(start, "unexpected end of input inside braces");
  const char c = input_[pos_++];
  auto peek = [&]() -> char { return pos_ < input_.size() ? input_[pos_] : '\0'; };
  switch (c) {
    case ',':
      return make(Tok::kComma, start);
    case '"':
    case '\'':
    case '`':
      return lex_string(start, c);
    case '=':
      if (peek() == '~') {
        ++pos_;
        return make(Tok::kEqlRegex, start);
      }
      return make(Tok::kAssign, start);
    case '!':
      if (peek() == '~' || peek() == '=') {
        ++pos_;
        return make(input_[pos_ - 1] == '~' ? Tok::kNeqRegex : Tok::kNeq, start);
      }
      if (pos_ >= input_.size()) return error(start, "unexpected end of input inside braces");
      return error(start,
                   "unexpected character after '!' inside braces: " + quote_char(input_, pos_));
    case '{':
      return error(start, "unexpected left brace '{'");
    case '}':
      brace_open_ = false;
      return make(Tok::kRightBrace, start);
    default:
      break;
  }
  if (is_alpha(c)) {
    while (pos_ < input_.size() && is_alnum(input_[pos_])) ++pos_;
    return make(Tok::kIdentifier, start);
  }
  return error(start, "unexpected character inside braces: " + quote_char(input_, start));
}

Token Lexer::lex_number_or_duration(std::size_t start) {
  pos_ = start;
  auto accept = [&](std::string_view valid) {
    if (pos_ < input_.size() && valid.find(input_[pos_]) != std::string_view::npos) {
      ++pos_;
      return true;
    }
    return false;
  };
  auto accept_run = [&](std::string_view valid) {
    while (accept(valid)) {
    }
  };
  auto peek_alnum = [&] { return pos_ < input_.size() && is_alnum(input_[pos_]); };

  std::string_view digits = "0123456789";
  if (accept("0") && accept("xX")) digits = "0123456789abcdefABCDEF";
  accept_run(digits);
  if (accept(".")) accept_run(digits);
  if (accept("eE")) {
    accept("+-");
    accept_run("0123456789");
  }
  if (!peek_alnum()) return make(Tok::kNumber, start);

  // A duration: a unit after the digits, then more number-unit pairs.
  if (accept("smhdwy")) {
    accept("s");
    bool ok = true;
    while (accept("0123456789")) {
      accept_run("0123456789");
      if (!accept("smhdw")) {
        ok = false;
        break;
      }
      accept("s");
    }
    if (ok && !peek_alnum()) return make(Tok::kDuration, start);
  }
  if (pos_ < input_.size()) ++pos_;
  return error(start, fmt::format("bad number or duration syntax: \"{}\"",
                                  input_.substr(start, pos_ - start)));
}

Token Lexer::lex_identifier(std::size_t start) {
  while (pos_ < input_.size() && (is_alnum(input_[pos_]) || input_[pos_] == ':')) ++pos_;
  const std::string_view word = input_.substr(start, pos_ - start);
  for (const auto& kw : kKeywords)
    if (equal_fold(word, kw.word)) return make(kw.type, start);
  if (equal_fold(word, "inf") || equal_fold(word, "nan")) return make(Tok::kNumber, start);
  return make(word.find(':') == std::string_view::npos ? Tok::kIdentifier : Tok::kMetricIdentifier,
              start);
}

Token Lexer::lex_string(std::size_t start, char quote) {
  while (pos_ < input_.size()) {
    const char c = input_[pos_];
    if (c == quote) {
      ++pos_;
      return make(Tok::kString, start);
    }
    if (quote != '`' && c == '\n') break;
    const std::size_t n = utf8_length(input_, pos_);
    if (n == 0) return error(pos_, "invalid UTF-8 rune");
    if (quote != '`' && c == '\\') {
      // Validate the escape here; the parser decodes it.
      ++pos_;
      if (pos_ >= input_.size()) break;
      const char e = input_[pos_];
      auto need = [&](std::size_t count, bool (*ok)(char)) -> bool {
        for (std::size_t k = 1; k <= count; ++k)
          if (pos_ + k >= input_.size() || !ok(input_[pos_ + k])) return false;
        return true;
      };
      std::size_t len = 1;
      bool valid = true;
      switch (e) {
        case 'a':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
        case 'v':
        case '\\':
          break;
        case 'x':
          valid = need(2, is_hex);
          len = 3;
          break;
        case 'u':
          valid = need(4, is_hex);
          len = 5;
          break;
        case 'U':
          valid = need(8, is_hex);
          len = 9;
          break;
        default:
          if (e == quote) break;
          if (e >= '0' && e <= '7') {
            valid = need(2, [](char d) { return d >= '0' && d <= '7'; });
            len = 3;
            break;
          }
          valid = false;
      }
      if (!valid) {
        // Go's %#U: U+0071 'q'.
        const std::size_t n2 = utf8_length(input_, pos_);
        std::uint32_t cp = 0xfffd;
        if (n2 == 1) {
          cp = static_cast<unsigned char>(e);
        } else if (n2 > 1) {
          cp = static_cast<unsigned char>(e) & (0xff >> (n2 + 1));
          for (std::size_t k = 1; k < n2; ++k)
            cp = (cp << 6) | (static_cast<unsigned char>(input_[pos_ + k]) & 0x3f);
        }
        std::string shown = fmt::format("U+{:04X}", cp);
        if (cp >= 0x20 && cp != 0x7f && cp != 0xfffd)
          shown += fmt::format(" '{}'", input_.substr(pos_, n2));
        return error(start, "unknown escape sequence " + shown);
      }
      pos_ += len;
      continue;
    }
    pos_ += n;
  }
  if (quote == '`') return error(start, "unterminated raw string");
  return error(start, "unterminated quoted string");
}

}  // namespace watch::promql::detail
