// Internal: the PromQL lexer the parser (parser.cc) pulls tokens from. Tokens
// and their rules follow Prometheus's promql/parser/lex.go.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace watch::promql::detail {

enum class Tok {
  kEOF,
  kError,  // text holds the message
  kIdentifier,
  kMetricIdentifier,  // an identifier with a ':'
  kNumber,
  kString,  // text holds the quoted source form
  kDuration,
  kLeftParen,
  kRightParen,
  kLeftBrace,
  kRightBrace,
  kLeftBracket,
  kRightBracket,
  kComma,
  kColon,
  kAt,
  kAssign,    // =
  kEqlRegex,  // =~
  kNeqRegex,  // !~
  // Operators.
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEqlc,  // ==
  kNeq,   // !=
  kLss,
  kLte,
  kGtr,
  kGte,
  kAnd,
  kOr,
  kUnless,
  kAtan2,
  // Aggregators.
  kAggregator,
  // Keywords.
  kOffset,
  kBy,
  kWithout,
  kOn,
  kIgnoring,
  kGroupLeft,
  kGroupRight,
  kBool,
};

struct Token {
  Tok type = Tok::kEOF;
  std::uint32_t pos = 0;  // byte offset of the token's first character
  std::string_view text;  // the source text (for kError: the message)
};

// The description Prometheus uses in "unexpected ..." messages:
// `<op:+>`, `<by>`, `<aggr:sum>`, `identifier "foo"`, `end of input`...
std::string describe(const Token& token);

class Lexer {
 public:
  explicit Lexer(std::string_view input) : input_(input) {}

  // The next token; after kEOF or kError, the same again.
  Token next();

 private:
  Token make(Tok type, std::size_t start) const;
  Token error(std::size_t pos, std::string message);
  Token lex_number_or_duration(std::size_t start);
  Token lex_identifier(std::size_t start);
  Token lex_string(std::size_t start, char quote);
  Token next_inside_braces(std::size_t start);

  std::string_view input_;
  std::size_t pos_ = 0;
  int paren_depth_ = 0;
  bool bracket_open_ = false;
  bool brace_open_ = false;
  bool done_ = false;
  Token last_;
  std::string message_;  // storage for the text of a kError token
};

}  // namespace watch::promql::detail
