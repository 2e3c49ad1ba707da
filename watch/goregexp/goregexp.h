// Go's regexp, as Prometheus 2.42 and Alertmanager 0.25 (Go 1.19) use it, run
// by RE2: the regexes Go accepts, Go's error messages, and matching that
// reads invalid UTF-8 as Go does.
//
//   using namespace watch::goregexp;
//   SyntaxError error;
//   std::unique_ptr<re2::RE2> re = compile(anchored("a)|(b"), Groups::kMatchOnly, &error);
//   if (!re) return fail(message(error));  // "error parsing regexp: ..."
//   match(*re, "a\xff");                   // true: the pattern's own ^ and $ anchor it
//
// The two syntaxes share their ancestry and agree but for corners, which
// compile() settles Go's way: Go refuses \C (one byte), (?<name> (Go 1.22
// took it up), group names that are empty or not ASCII words, and syntax
// trees taller than 1000 (Go 1.19.2 on). An error is the first one Go's
// left-to-right parser meets, in Go's words.
//
// Known differences, all in corners: Unicode classes come from RE2's tables,
// not Go 1.19's; RE2 must fit a compiled regex in 64 MiB (Go has no limit;
// RE2's default, 8 MiB, would refuse the long alternations that keep/drop
// rules and silences hold); the height of Go's syntax tree is estimated
// (Go's factoring of common prefixes is not modelled), so a regex within a
// few levels of the limit may be judged otherwise than Go judges it.
//
// Thread-safety: no state; a compiled re2::RE2 may be shared between threads
// for matching.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace watch::goregexp {

// "^(?:" + pattern + ")$": how Prometheus and Alertmanager anchor a regex.
// Group numbers stay the user's, and "a)|(b" means what it means there.
std::string anchored(std::string_view pattern);

// Why Go refuses a regex: regexp/syntax.Error.
struct SyntaxError {
  std::string code;  // Go's words: "missing closing )"
  std::string expr;  // the part Go shows: "^(?:()$"
  // RE2's own message when RE2 refuses the pattern for the same reason
  // ("missing ): ^(?:()$"); "" when only Go refuses it. For callers whose
  // messages have always been RE2's.
  std::string re2_error;
};

// Go's text: "error parsing regexp: missing closing ): `^(?:()$`", the expr
// as written (invalid UTF-8 included).
std::string message(const SyntaxError& error);

enum class Groups : std::uint8_t {
  // Groups capture, under their names (for an expansion such as $name).
  // Newer RE2 refuses a repeated name, which Go accepts.
  kCapture,
  // Only whether it matches: groups need not capture (RE2 skips the
  // unnamed ones), and a repeated group name is accepted as Go does.
  kMatchOnly,
};

// Go's regexp.Compile(pattern), no anchoring added: the compiled regex, or
// nullptr and `*error` (when not null) set to Go's reason. Cost: one RE2
// compilation; up to two more for a pattern Go refuses.
std::unique_ptr<re2::RE2> compile(std::string_view pattern, Groups groups,
                                  SyntaxError* error = nullptr);

// A submatch, as byte offsets into the matched text; begin < 0 when the
// group took no part in the match.
struct Span {
  std::ptrdiff_t begin = -1;
  std::ptrdiff_t end = -1;
};

// Go's re.MatchString(text), or FindStringSubmatchIndex when `groups` is not
// empty: unanchored (a pattern from anchored() anchors itself), every
// ill-formed byte of `text` being one U+FFFD to the regex. `groups` gets
// groups 0..groups.size()-1 as offsets into `text` itself (a U+FFFD read
// from a bad byte spans that byte). For text under 2 GiB. Cost: one RE2
// match, plus a copy of the text when it is not valid UTF-8.
bool match(const re2::RE2& re, std::string_view text, std::span<Span> groups = {});

}  // namespace watch::goregexp
