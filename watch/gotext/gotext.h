// Text as Go reads and quotes it, for the parsers that must answer byte for
// byte as Prometheus and Alertmanager (Go programs) do.
//
//   using namespace watch::gotext;
//   decode_rune("\xff" "a", 0);  // {U+FFFD, width 1, valid false}
//   is_valid_utf8("a\xff");      // false
//   to_valid_utf8("a\xff");      // "a\uFFFD": what Go's regexp and range loops see
//   go_quote("a\n\xff\u00a0");   // "\"a\\n\\xff\\u00a0\"", as fmt's %q
//
// Go reads UTF-8 strictly (utf8.DecodeRune): a byte that does not start a
// well-formed sequence (Unicode Table 3-7: no overlong form, no surrogate,
// nothing past U+10FFFF, no truncated sequence) is one U+FFFD of width 1, and
// reading goes on at the next byte. Range loops, strings.Map, regexp and
// encoding/json all read text so; an error message that differs from Go's in
// one such byte fails a comparison with the real tools.
//
// Thread-safety: no state; every function may be called from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace watch::gotext {

inline constexpr char32_t kReplacementChar = 0xFFFD;
inline constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";

// One character as utf8.DecodeRune reads it.
struct Rune {
  char32_t value;     // kReplacementChar when !valid
  std::size_t width;  // bytes read, 1 to 4; 1 when !valid
  bool valid;         // false: s[i] starts no well-formed sequence
};

// The character at s[i]; requires i < s.size(). Go's utf8.DecodeRune.
Rune decode_rune(std::string_view s, std::size_t i);

// Go's utf8.ValidString.
bool is_valid_utf8(std::string_view s);

// `s` with every ill-formed byte replaced by U+FFFD (each byte on its own):
// the text Go's regexp matches against, and what any log or JSON writer can
// take. A copy of `s` when it is valid.
std::string to_valid_utf8(std::string_view s);

// Appends `r` in UTF-8, as Go's utf8.AppendRune: a surrogate or a value past
// U+10FFFF is written as U+FFFD.
void append_utf8(std::string& out, char32_t r);

// Go's strconv.Quote (fmt's %q): in double quotes, printable characters
// (unicode.IsPrint) as they are; \a \b \f \n \r \t \v, \" and \\; other
// characters as \xNN, \uNNNN or \UNNNNNNNN; each ill-formed byte as \xNN.
// Printability comes from RE2's Unicode tables, not Go 1.19's (they differ
// only for characters assigned since).
std::string go_quote(std::string_view s);

}  // namespace watch::gotext
