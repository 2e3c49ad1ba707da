#include "watch/silence/silence.h"

#include <re2/re2.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <mutex>
#include <optional>
#include <utility>

#include "watch/silence/internal.h"

namespace watch::silence {
namespace {

// Go's zero time.Time, 0001-01-01T00:00:00Z, which validateSilence refuses.
constexpr std::int64_t kGoZeroTimeMs = -62'135'596'800'000LL;
// Go's regexp has no memory limit; RE2's default (8 MiB) refuses the long
// alternations of instance names that silences often hold.
constexpr std::int64_t kRegexMaxMem = 64 << 20;
// Go's regexp refuses syntax trees taller than this (Go 1.19.2 on).
constexpr int kGoMaxRegexHeight = 1000;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  if (b > 0 && a > std::numeric_limits<std::int64_t>::max() - b) {
    return std::numeric_limits<std::int64_t>::max();
  }
  if (b < 0 && a < std::numeric_limits<std::int64_t>::min() - b) {
    return std::numeric_limits<std::int64_t>::min();
  }
  return a + b;
}

bool is_ascii_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// model.LabelName.IsValid of Alertmanager 0.25.
bool is_valid_label_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), is_ascii_word);
}

// ---------------------------------------------------------------------------
// Regexes with Go's acceptance and Go's error texts.

re2::RE2::Options regex_options() {
  re2::RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kRegexMaxMem);
  return options;
}

std::string go_regex_error(std::string_view code, std::string_view expr) {
  return fmt::format("error parsing regexp: {}: `{}`", code, expr);
}

// Go's regexp/syntax ErrorCode texts for RE2's codes (the two parsers share
// their ancestry, and RE2's error_arg is the `expr` Go shows).
std::string_view go_error_code(re2::RE2::ErrorCode code) {
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
      return "regexp/syntax: internal error";
  }
}

// Go's error for `pattern`, which `re` (the pattern, or a prefix of it)
// refused.
std::string re2_error_as_go(const re2::RE2& re, std::string_view pattern) {
  const re2::RE2::ErrorCode code = re.error_code();
  // For these Go shows the whole expression (RE2 too, but it may have seen
  // only a prefix).
  if (code == re2::RE2::ErrorUnexpectedParen || code == re2::RE2::ErrorMissingParen ||
      code == re2::RE2::ErrorPatternTooLarge) {
    return go_regex_error(go_error_code(code), pattern);
  }
  return go_regex_error(go_error_code(code), re.error_arg());
}

// What Go refuses and RE2 takes: \C, capture names that are not ASCII words,
// and syntax trees taller than Go's limit. The offset where Go's
// left-to-right parser would stop, and its error.
struct GoOnlyProblem {
  std::size_t at;
  std::string error;
};

// An estimate of the height of the tree Go's regexp parser builds, which
// Go 1.19.2 on refuses past 1000 ("expression nests too deeply"). It follows
// the parser's shapes: a capture, a repetition, a concatenation of two items
// or more, and an alternation each add a level; adjacent literal characters
// are one node; a (?:...) concatenation inside a concatenation is flattened;
// alternatives of single characters become one class. (Go's factoring of
// common prefixes is not modelled: heights can be off in such corners.)
class GoTreeHeight {
 public:
  // Characters, classes, anchors: leaves.
  void leaf(bool literal_char, bool char_like) {
    Branch& b = frames_.back().branch;
    if (literal_char && b.has_last && b.last.literal) {
      ++b.literal_run;  // merges into the literal before
      return;
    }
    push(b, Item{.height = 1, .literal = literal_char, .char_like = char_like});
    b.literal_run = literal_char ? 1 : 0;
  }
  // *, +, ?, {n,m} after the last item; returns its new height.
  int repeat() {
    Branch& b = frames_.back().branch;
    if (!b.has_last) return 0;  // RE2 reports the error
    if (b.last.literal && b.literal_run >= 2) {
      // Only the last character repeats: the rest stays a literal node.
      push(b, Item{.height = 1, .literal = true, .char_like = false});
    }
    b.last = Item{.height = b.last.height + 1};
    b.literal_run = 0;
    return b.last.height;
  }
  void open(bool capturing) { frames_.push_back(Frame{.capturing = capturing}); }
  void alternative() { close_branch(frames_.back()); }
  // ')' of the group opened last; returns the group's height (0 when no
  // group is open: RE2 reports the error).
  int close() {
    if (frames_.size() < 2) return 0;
    Frame frame = std::move(frames_.back());
    frames_.pop_back();
    const Content content = close_frame(frame);
    Branch& b = frames_.back().branch;
    if (frame.capturing) {
      push(b, Item{.height = content.height + 1});
    } else {
      push(b, Item{.height = content.height,
                   .char_like = content.char_like,
                   .flat_concat = content.concat});
    }
    b.literal_run = 0;
    return b.last.height;
  }
  // At the end Go builds the node of what follows the last open group (the
  // whole expression when none is open; otherwise it then reports the
  // missing ')' without building the rest). Returns its height.
  int finish() { return close_frame(frames_.back()).height; }

 private:
  struct Item {
    int height = 1;
    bool literal = false;      // a literal run, which a next character joins
    bool char_like = false;    // one character or a class
    bool flat_concat = false;  // a (?:...) concatenation, flattened into ours
  };
  struct Branch {
    int items = 0;       // before `last`
    int max_height = 0;  // of those, as children of a concatenation
    Item last;
    bool has_last = false;
    int literal_run = 0;
  };
  struct Frame {
    bool capturing = false;
    Branch branch;
    int branches = 0;
    int max_branch_height = 0;
    bool single_characters = true;
    bool last_branch_concat = false;
  };
  struct Content {
    int height;
    bool concat;
    bool char_like;
  };

  static int as_child(const Item& item) { return item.flat_concat ? item.height - 1 : item.height; }
  static void push(Branch& b, Item item) {
    if (b.has_last) {
      ++b.items;
      b.max_height = std::max(b.max_height, as_child(b.last));
    }
    b.last = item;
    b.has_last = true;
  }
  static void close_branch(Frame& f) {
    Branch& b = f.branch;
    const int items = b.items + (b.has_last ? 1 : 0);
    int height = 1;  // an empty branch matches the empty string
    if (items == 1) height = b.last.height;
    if (items >= 2) height = 1 + std::max(b.max_height, as_child(b.last));
    const bool single_character = items == 1 && b.last.char_like && b.literal_run <= 1;
    f.single_characters = f.single_characters && single_character;
    f.max_branch_height = std::max(f.max_branch_height, height);
    ++f.branches;
    f.last_branch_concat = items >= 2;
    b = Branch{};
  }
  static Content close_frame(Frame& f) {
    close_branch(f);
    if (f.branches == 1) {
      return {f.max_branch_height, f.last_branch_concat, f.single_characters};
    }
    if (f.single_characters) return {1, false, true};
    return {1 + f.max_branch_height, false, false};
  }

  std::vector<Frame> frames_ = std::vector<Frame>(1);
};

bool is_valid_repeat(std::string_view re, std::size_t at, std::size_t* end) {
  // {n}, {n,} or {n,m}; anything else after '{' is literal text in Go.
  std::size_t i = at + 1;
  const auto digits = [&] {
    const std::size_t from = i;
    while (i < re.size() && re[i] >= '0' && re[i] <= '9') ++i;
    return i > from;
  };
  if (!digits()) return false;
  if (i < re.size() && re[i] == ',') {
    ++i;
    digits();
  }
  if (i >= re.size() || re[i] != '}') return false;
  *end = i + 1;
  return true;
}

std::optional<GoOnlyProblem> find_go_only_problem(std::string_view re,
                                                  int max_height = kGoMaxRegexHeight) {
  GoTreeHeight tree;
  const auto too_deep = [&](std::size_t at, int height) -> std::optional<GoOnlyProblem> {
    if (height <= max_height) return std::nullopt;
    return GoOnlyProblem{at, go_regex_error("expression nests too deeply", re)};
  };
  for (std::size_t i = 0; i < re.size();) {
    const char c = re[i];
    if (c == '\\') {
      if (i + 1 >= re.size()) return std::nullopt;  // RE2 reports it
      const char e = re[i + 1];
      if (e == 'C') return GoOnlyProblem{i, go_regex_error("invalid escape sequence", "\\C")};
      if (e == 'Q') {
        const std::size_t end = re.find("\\E", i + 2);
        const std::size_t stop = end == std::string_view::npos ? re.size() : end;
        for (std::size_t k = i + 2; k < stop;) {
          tree.leaf(true, true);
          k += detail::decode_rune(re, k).width;
        }
        i = end == std::string_view::npos ? re.size() : end + 2;
        continue;
      }
      std::size_t next = i + 2;
      if ((e == 'p' || e == 'P' || e == 'x') && next < re.size() && re[next] == '{') {
        const std::size_t close = re.find('}', next);
        next = close == std::string_view::npos ? re.size() : close + 1;
      } else if (e == 'p' || e == 'P') {
        if (next < re.size()) next += detail::decode_rune(re, next).width;
      } else if (e == 'x') {
        next = std::min(re.size(), next + 2);
      } else if (e >= '0' && e <= '7') {
        while (next < re.size() && next < i + 4 && re[next] >= '0' && re[next] <= '7') ++next;
      } else if (static_cast<unsigned char>(e) >= 0x80) {
        next = i + 1 + detail::decode_rune(re, i + 1).width;
      }
      const bool klass = std::string_view("pPdDsSwW").find(e) != std::string_view::npos;
      const bool anchor = std::string_view("bBAz").find(e) != std::string_view::npos;
      tree.leaf(!klass && !anchor, !anchor);
      i = next;
      continue;
    }
    if (c == '[') {
      std::size_t k = i + 1;
      if (k < re.size() && re[k] == '^') ++k;
      if (k < re.size() && re[k] == ']') ++k;  // a leading ']' is literal
      while (k < re.size() && re[k] != ']') {
        if (re[k] == '\\') {
          if (k + 1 < re.size() && re[k + 1] == 'C') {
            return GoOnlyProblem{k, go_regex_error("invalid escape sequence", "\\C")};
          }
          k += 2;
        } else if (re.substr(k, 2) == "[:" && re.find(":]", k + 2) != std::string_view::npos) {
          k = re.find(":]", k + 2) + 2;
        } else {
          ++k;
        }
      }
      tree.leaf(false, true);
      i = std::min(re.size(), k + 1);
      continue;
    }
    if (c == '(') {
      if (re.substr(i, 4) == "(?P<") {
        const std::size_t close = re.find('>', i + 4);
        if (close == std::string_view::npos) return std::nullopt;
        const std::string_view name = re.substr(i + 4, close - i - 4);
        if (!name.empty() && !std::all_of(name.begin(), name.end(), is_ascii_word)) {
          return GoOnlyProblem{
              i, go_regex_error("invalid named capture", re.substr(i, close + 1 - i))};
        }
        tree.open(true);
        i = close + 1;
        continue;
      }
      if (re.substr(i, 2) == "(?") {
        // Flags alone, (?i), set flags and open nothing; (?i:...) groups.
        std::size_t k = i + 2;
        while (k < re.size() && re[k] != ')' && re[k] != ':') ++k;
        if (k < re.size() && re[k] == ':') tree.open(false);
        i = k + 1;
        continue;
      }
      tree.open(true);
      ++i;
      continue;
    }
    if (c == ')') {
      if (auto problem = too_deep(i, tree.close())) return problem;
      ++i;
      continue;
    }
    if (c == '|') {
      tree.alternative();
      ++i;
      continue;
    }
    std::size_t end = 0;
    if (c == '*' || c == '+' || c == '?' || (c == '{' && is_valid_repeat(re, i, &end))) {
      if (auto problem = too_deep(i, tree.repeat())) return problem;
      i = c == '{' ? end : i + 1;
      if (i < re.size() && re[i] == '?') ++i;  // non-greedy
      continue;
    }
    if (c == '^' || c == '$') {
      tree.leaf(false, false);
    } else if (c == '.') {
      tree.leaf(false, true);
    } else {
      tree.leaf(true, true);
    }
    i += detail::decode_rune(re, i).width;
  }
  return too_deep(re.size(), tree.finish());
}

// Compiles `pattern` if Go's regexp.Compile accepts it, else sets `*error`
// to Go's message and returns nullptr.
std::unique_ptr<re2::RE2> compile_as_go(std::string_view pattern, std::string* error) {
  if (const std::optional<GoOnlyProblem> problem = find_go_only_problem(pattern)) {
    // Go stops there; an error RE2 finds before that point comes first
    // (except unclosed groups and classes, which only the end reveals).
    const re2::RE2 prefix(re2::StringPiece(pattern.data(), problem->at), regex_options());
    const re2::RE2::ErrorCode code = prefix.error_code();
    if (!prefix.ok() && code != re2::RE2::ErrorMissingParen &&
        code != re2::RE2::ErrorMissingBracket) {
      *error = re2_error_as_go(prefix, pattern);
    } else {
      *error = problem->error;
    }
    return nullptr;
  }
  auto re =
      std::make_unique<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), regex_options());
  if (!re->ok()) {
    *error = re2_error_as_go(*re, pattern);
    return nullptr;
  }
  return re;
}

// The matcher Alertmanager runs, ^(?:pattern)$, for a pattern that compiled
// alone; nullptr when Go cannot compile it. That happens although the
// pattern alone is fine: an unclosed \Q quotes the ")$" too, and the wrapper
// can make the tree one level too tall.
std::unique_ptr<re2::RE2> compile_anchored(std::string_view pattern) {
  const std::string anchored = "^(?:" + std::string(pattern) + ")$";
  if (find_go_only_problem(anchored)) return nullptr;
  re2::RE2::Options options = regex_options();
  options.set_never_capture(true);
  auto re = std::make_unique<re2::RE2>(anchored, options);
  if (!re->ok()) return nullptr;
  return re;
}

// Matches as Go does: text that is not valid UTF-8 is read with every bad
// byte as U+FFFD.
bool regex_matches(const re2::RE2& re, std::string_view text) {
  if (detail::is_valid_utf8(text)) {
    return re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(),
                    re2::RE2::UNANCHORED, nullptr, 0);
  }
  std::string sanitized;
  sanitized.reserve(text.size() + 8);
  for (std::size_t i = 0; i < text.size();) {
    const detail::Rune r = detail::decode_rune(text, i);
    detail::append_utf8(sanitized, r.value);
    i += r.width;
  }
  return re.Match(sanitized, 0, sanitized.size(), re2::RE2::UNANCHORED, nullptr, 0);
}

bool matcher_holds(const SilenceMatcher& m, const re2::RE2* regex, const LabelSet& labels) {
  const std::string_view value = labels.get(m.name);
  const bool equal = m.is_regex ? regex_matches(*regex, value) : value == m.value;
  return equal == m.is_equal;
}

std::size_t silence_bytes(const Silence& s) {
  std::size_t n = s.id.size() + s.created_by.size() + s.comment.size();
  for (const SilenceMatcher& m : s.matchers) n += m.name.size() + m.value.size();
  return n;
}

// validateSilence (0.25), for a silence whose updatedAt is set by the caller.
std::string check_silence(const Silence& s,
                          std::vector<std::shared_ptr<const re2::RE2>>* compiled) {
  std::string problem = detail::check_matchers(s.matchers, compiled);
  if (!problem.empty()) return problem;
  if (s.starts_at_ms == kGoZeroTimeMs) return "invalid zero start timestamp";
  if (s.ends_at_ms == kGoZeroTimeMs) return "invalid zero end timestamp";
  if (s.ends_at_ms < s.starts_at_ms) return "end time must not be before start time";
  return {};
}

// canUpdate (0.25): whether `a` may become `b` in place without rewriting
// what it silenced so far.
bool can_update(const Silence& a, const Silence& b, std::int64_t now) {
  if (a.matchers != b.matchers) return false;
  switch (state_of(a, now)) {
    case SilenceState::kActive:
      // Go compares Unix seconds: moving startsAt within its second is fine.
      return floor_div(a.starts_at_ms, 1000) == floor_div(b.starts_at_ms, 1000) &&
             b.ends_at_ms >= now;
    case SilenceState::kPending:
      return b.starts_at_ms >= now;
    case SilenceState::kExpired:
      return false;
  }
  return false;
}

int state_rank(SilenceState state) {
  switch (state) {
    case SilenceState::kActive:
      return 0;
    case SilenceState::kPending:
      return 1;
    case SilenceState::kExpired:
      return 2;
  }
  return 3;
}

}  // namespace

// ---------------------------------------------------------------------------
// Shared helpers (internal.h).

namespace detail {

Rune decode_rune(std::string_view s, std::size_t at) {
  constexpr Rune kBad{0xFFFD, 1};
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(at);
  if (b0 < 0x80) return {b0, 1};
  const std::size_t left = s.size() - at;
  const auto cont = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < left && byte(at + i) >= lo && byte(at + i) <= hi;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (!cont(1)) return kBad;
    return {static_cast<char32_t>(((b0 & 0x1F) << 6) | (byte(at + 1) & 0x3F)), 2};
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    const unsigned char lo = b0 == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
    const unsigned char hi = b0 == 0xED ? 0x9F : 0xBF;  // no surrogates
    if (!cont(1, lo, hi) || !cont(2)) return kBad;
    return {static_cast<char32_t>(((b0 & 0x0F) << 12) | ((byte(at + 1) & 0x3F) << 6) |
                                  (byte(at + 2) & 0x3F)),
            3};
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    const unsigned char lo = b0 == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = b0 == 0xF4 ? 0x8F : 0xBF;  // nothing past U+10FFFF
    if (!cont(1, lo, hi) || !cont(2) || !cont(3)) return kBad;
    return {static_cast<char32_t>(((b0 & 0x07) << 18) | ((byte(at + 1) & 0x3F) << 12) |
                                  ((byte(at + 2) & 0x3F) << 6) | (byte(at + 3) & 0x3F)),
            4};
  }
  return kBad;
}

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const Rune r = decode_rune(s, i);
    if (r.value == 0xFFFD && r.width == 1) return false;
    i += r.width;
  }
  return true;
}

void append_utf8(std::string& out, char32_t r) {
  if (r < 0x80) {
    out.push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (r >> 6)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (r >> 12)));
    out.push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (r >> 18)));
    out.push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

namespace {

// unicode.IsPrint: letters, marks, numbers, punctuation, symbols, and the
// ASCII space (RE2's Unicode tables stand in for Go's).
bool is_go_printable(char32_t r) {
  if (r < 0x80) return r >= 0x20 && r < 0x7F;
  static const re2::RE2 kGraphic("[\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}]", regex_options());
  std::string utf8;
  append_utf8(utf8, r);
  return re2::RE2::FullMatch(utf8, kGraphic);
}

}  // namespace

std::string go_quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const Rune r = decode_rune(s, i);
    if (r.value == 0xFFFD && r.width == 1) {
      const auto b = static_cast<unsigned char>(s[i]);
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    } else if (r.value == '"' || r.value == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(r.value));
    } else if (is_go_printable(r.value)) {
      out.append(s.substr(i, r.width));
    } else {
      switch (r.value) {
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\v':
          out += "\\v";
          break;
        default:
          if (r.value < 0x20 || r.value == 0x7F) {
            out += "\\x";
            out.push_back(kHex[r.value >> 4]);
            out.push_back(kHex[r.value & 0xF]);
          } else if (r.value < 0x10000) {
            out += fmt::format("\\u{:04x}", static_cast<std::uint32_t>(r.value));
          } else {
            out += fmt::format("\\U{:08x}", static_cast<std::uint32_t>(r.value));
          }
      }
    }
    i += r.width;
  }
  out.push_back('"');
  return out;
}

void append_json_string(std::string& out, std::string_view s, bool escape_html) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b == '"' || b == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(b));
      } else if (b == '\n') {
        out += "\\n";
      } else if (b == '\r') {
        out += "\\r";
      } else if (b == '\t') {
        out += "\\t";
      } else if (b < 0x20 || (escape_html && (b == '<' || b == '>' || b == '&'))) {
        out += "\\u00";
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 0xF]);
      } else {
        out.push_back(static_cast<char>(b));
      }
      ++i;
      continue;
    }
    const Rune r = decode_rune(s, i);
    if (r.value == 0xFFFD && r.width == 1) {
      out += "\\ufffd";
    } else if (r.value == 0x2028 || r.value == 0x2029) {
      out += r.value == 0x2028 ? "\\u2028" : "\\u2029";
    } else {
      out.append(s.substr(i, r.width));
    }
    i += r.width;
  }
  out.push_back('"');
}

std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  // Counts from 0000-03-01 so that the leap day ends each 4/100/400-year cycle.
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = floor_div(year, 400);
  const std::int64_t year_of_era = year - era * 400;
  const std::int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const std::int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146'097 + day_of_era - 719'468;
}

CivilDate civil_from_days(std::int64_t days) {
  days += 719'468;
  const std::int64_t era = floor_div(days, 146'097);
  const std::int64_t day_of_era = days - era * 146'097;
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36'524 - day_of_era / 146'096) / 365;
  const std::int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t month_from_march = (5 * day_of_year + 2) / 153;
  const auto day = static_cast<unsigned>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  const auto month =
      static_cast<unsigned>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  const std::int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

std::string format_time(std::int64_t ms) {
  const std::int64_t seconds = floor_div(ms, 1000);
  const std::int64_t millis = ms - seconds * 1000;
  const std::int64_t days = floor_div(seconds, 86'400);
  const std::int64_t second_of_day = seconds - days * 86'400;
  const CivilDate date = civil_from_days(days);
  // Go writes at least four digits of the year, after the sign.
  const std::string year =
      date.year < 0 ? fmt::format("-{:04}", -date.year) : fmt::format("{:04}", date.year);
  return fmt::format("{}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", year, date.month, date.day,
                     second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60, millis);
}

std::string check_matchers(const std::vector<SilenceMatcher>& matchers,
                           std::vector<std::shared_ptr<const re2::RE2>>* compiled) {
  if (matchers.empty()) return "at least one matcher required";
  bool all_match_empty = true;
  for (std::size_t i = 0; i < matchers.size(); ++i) {
    const SilenceMatcher& m = matchers[i];
    if (!is_valid_label_name(m.name)) {
      return fmt::format("invalid label matcher {}: invalid label name {}", i, go_quote(m.name));
    }
    bool matches_empty = false;
    std::shared_ptr<const re2::RE2> anchored;
    if (!m.is_regex) {
      if (!is_valid_utf8(m.value)) {
        return fmt::format("invalid label matcher {}: invalid label value {}", i,
                           go_quote(m.value));
      }
      matches_empty = m.is_equal && m.value.empty();
    } else {
      std::string error;
      const std::unique_ptr<re2::RE2> raw = compile_as_go(m.value, &error);
      if (!raw) {
        return fmt::format("invalid label matcher {}: invalid regular expression {}: {}", i,
                           go_quote(m.value), error);
      }
      // Alertmanager asks the unanchored pattern, which for "" is the same.
      matches_empty = m.is_equal && re2::RE2::PartialMatch("", *raw);
      if (compiled != nullptr) anchored = compile_anchored(m.value);
    }
    all_match_empty = all_match_empty && matches_empty;
    if (compiled != nullptr) compiled->push_back(std::move(anchored));
  }
  if (all_match_empty) return "at least one matcher must not match the empty string";
  return {};
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Free functions.

std::string_view to_string(SilenceState state) {
  switch (state) {
    case SilenceState::kPending:
      return "pending";
    case SilenceState::kActive:
      return "active";
    case SilenceState::kExpired:
      return "expired";
  }
  return "unknown";
}

SilenceState state_of(const Silence& s, std::int64_t now_ms) {
  if (now_ms < s.starts_at_ms) return SilenceState::kPending;
  if (now_ms < s.ends_at_ms) return SilenceState::kActive;
  return SilenceState::kExpired;
}

bool matches(const Silence& s, const LabelSet& labels) {
  for (const SilenceMatcher& m : s.matchers) {
    std::unique_ptr<re2::RE2> regex;
    if (m.is_regex) {
      std::string error;
      if (!compile_as_go(m.value, &error)) return false;
      regex = compile_anchored(m.value);
      if (!regex) return false;
    }
    if (!matcher_holds(m, regex.get(), labels)) return false;
  }
  return true;
}

void sort_silences(std::vector<Silence>& silences, std::int64_t now_ms) {
  std::sort(silences.begin(), silences.end(), [now_ms](const Silence& a, const Silence& b) {
    const SilenceState sa = state_of(a, now_ms);
    const SilenceState sb = state_of(b, now_ms);
    if (sa != sb) return state_rank(sa) < state_rank(sb);
    switch (sa) {
      case SilenceState::kActive:
        if (a.ends_at_ms != b.ends_at_ms) return a.ends_at_ms < b.ends_at_ms;
        break;
      case SilenceState::kPending:
        if (a.starts_at_ms != b.starts_at_ms) return a.starts_at_ms < b.starts_at_ms;
        break;
      case SilenceState::kExpired:
        if (a.ends_at_ms != b.ends_at_ms) return a.ends_at_ms > b.ends_at_ms;
        break;
    }
    if (a.updated_at_ms != b.updated_at_ms) return a.updated_at_ms < b.updated_at_ms;
    return a.id < b.id;
  });
}

bool matches_filter(const Silence& s, std::span<const SilenceMatcher> filter) {
  return std::all_of(filter.begin(), filter.end(), [&](const SilenceMatcher& f) {
    return std::find(s.matchers.begin(), s.matchers.end(), f) != s.matchers.end();
  });
}

// ---------------------------------------------------------------------------
// Silences.

struct Silences::Entry {
  Silence silence;
  // Parallel to silence.matchers: the anchored regex of =~ and !~, null for
  // = and !=.
  std::vector<std::shared_ptr<const re2::RE2>> regexes;
  // False when a regex matcher cannot run (see compile_anchored): the
  // silence mutes nothing. (In 0.25 such a silence makes every query of
  // silences fail, so that no alert is muted at all.)
  bool usable = true;

  void compile() {
    regexes.clear();
    usable = true;
    for (const SilenceMatcher& m : silence.matchers) {
      std::shared_ptr<const re2::RE2> regex;
      if (m.is_regex) {
        std::string error;
        if (compile_as_go(m.value, &error)) regex = compile_anchored(m.value);
        if (!regex) usable = false;
      }
      regexes.push_back(std::move(regex));
    }
  }

  bool matches(const LabelSet& labels) const {
    for (std::size_t i = 0; i < silence.matchers.size(); ++i) {
      if (!matcher_holds(silence.matchers[i], regexes[i].get(), labels)) return false;
    }
    return true;
  }
};

Silences::Silences(Options options) : options_(options) {
  if (options_.clock == nullptr) options_.clock = &firebreak::Clock::system();
  std::random_device device;
  std::seed_seq seed{device(), device(), device(), device(),
                     device(), device(), device(), device()};
  random_.seed(seed);
}

Silences::~Silences() = default;

std::int64_t Silences::now_ms() const {
  return std::chrono::floor<std::chrono::milliseconds>(
             options_.clock->wall_now().time_since_epoch())
      .count();
}

std::string Silences::new_id() {
  static constexpr char kHex[] = "0123456789abcdef";
  for (;;) {
    std::array<unsigned char, 16> bytes{};
    for (std::size_t half = 0; half < 2; ++half) {
      std::uint64_t word = random_();
      for (std::size_t i = 0; i < 8; ++i, word >>= 8) {
        bytes[half * 8 + i] = static_cast<unsigned char>(word);
      }
    }
    bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0F) | 0x40);  // version 4
    bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
    std::string id;
    id.reserve(36);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
      id.push_back(kHex[bytes[i] >> 4]);
      id.push_back(kHex[bytes[i] & 0x0F]);
    }
    if (!silences_.contains(id)) return id;
  }
}

void Silences::expire_locked(Entry& entry, std::int64_t now) {
  Silence& s = entry.silence;
  switch (state_of(s, now)) {
    case SilenceState::kExpired:
      return;
    case SilenceState::kActive:
      s.ends_at_ms = now;
      break;
    case SilenceState::kPending:
      s.starts_at_ms = now;
      s.ends_at_ms = now;
      break;
  }
  s.updated_at_ms = now;
  ++version_;
}

std::size_t Silences::gc_locked(std::int64_t now) {
  const std::size_t before = silences_.size();
  std::erase_if(silences_, [&](const auto& item) {
    return saturating_add(item.second->silence.ends_at_ms, options_.retention_ms) <= now;
  });
  const std::size_t dropped = before - silences_.size();
  if (dropped > 0) ++version_;
  return dropped;
}

SetResult Silences::set(Silence s) {
  const auto refuse = [](std::string error, int status) {
    return SetResult{.id = {}, .error = std::move(error), .http_status = status};
  };
  std::unique_lock lock(mu_);
  const std::int64_t now = now_ms();

  Entry* previous = nullptr;
  if (!s.id.empty()) {
    const auto it = silences_.find(s.id);
    if (it == silences_.end()) return refuse("silence not found", 404);
    previous = it->second.get();
  }
  const bool in_place = previous != nullptr && can_update(previous->silence, s, now);
  if (!in_place && s.starts_at_ms < now) s.starts_at_ms = now;

  if (s.matchers.size() > options_.max_matchers) {
    return refuse(fmt::format("silence has too many matchers: {} (limit: {})", s.matchers.size(),
                              options_.max_matchers),
                  400);
  }
  if (const std::size_t bytes = silence_bytes(s); bytes > options_.max_silence_bytes) {
    return refuse(fmt::format("silence exceeded maximum size: {} bytes (limit: {} bytes)", bytes,
                              options_.max_silence_bytes),
                  400);
  }
  auto entry = std::make_unique<Entry>();
  if (std::string problem = check_silence(s, &entry->regexes); !problem.empty()) {
    return refuse("silence invalid: " + problem, 400);
  }
  for (std::size_t i = 0; i < s.matchers.size(); ++i) {
    if (s.matchers[i].is_regex && !entry->regexes[i]) entry->usable = false;
  }
  s.updated_at_ms = now;

  if (in_place) {
    entry->silence = std::move(s);
    *previous = std::move(*entry);
    ++version_;
    return {.id = previous->silence.id};
  }
  if (silences_.size() + 1 > options_.max_silences) gc_locked(now);
  if (silences_.size() + 1 > options_.max_silences) {
    return refuse(fmt::format("exceeded maximum number of silences: {} (limit: {})",
                              silences_.size(), options_.max_silences),
                  400);
  }
  if (previous != nullptr) expire_locked(*previous, now);
  s.id = new_id();
  std::string id = s.id;
  entry->silence = std::move(s);
  silences_.emplace(id, std::move(entry));
  ++version_;
  return {.id = std::move(id)};
}

std::optional<std::string> Silences::expire(std::string_view id) {
  std::unique_lock lock(mu_);
  const auto it = silences_.find(id);
  if (it == silences_.end()) return "silence not found";
  expire_locked(*it->second, now_ms());
  return std::nullopt;
}

std::optional<Silence> Silences::get(std::string_view id) const {
  std::shared_lock lock(mu_);
  const auto it = silences_.find(id);
  if (it == silences_.end()) return std::nullopt;
  return it->second->silence;
}

std::vector<Silence> Silences::query(std::optional<SilenceState> state,
                                     std::span<const SilenceMatcher> filter) const {
  std::vector<Silence> out;
  std::int64_t now = 0;
  {
    std::shared_lock lock(mu_);
    now = now_ms();
    for (const auto& [id, entry] : silences_) {
      const Silence& s = entry->silence;
      if (state && state_of(s, now) != *state) continue;
      if (!matches_filter(s, filter)) continue;
      out.push_back(s);
    }
  }
  sort_silences(out, now);
  return out;
}

std::vector<std::string> Silences::mutes(const LabelSet& alert_labels) const {
  std::vector<std::string> ids;
  std::shared_lock lock(mu_);
  const std::int64_t now = now_ms();
  // The map is ordered by id, so the result comes out sorted.
  for (const auto& [id, entry] : silences_) {
    if (!entry->usable || state_of(entry->silence, now) != SilenceState::kActive) continue;
    if (entry->matches(alert_labels)) ids.push_back(id);
  }
  return ids;
}

std::size_t Silences::gc() {
  std::unique_lock lock(mu_);
  return gc_locked(now_ms());
}

std::vector<Silence> Silences::snapshot() const {
  std::shared_lock lock(mu_);
  std::vector<Silence> out;
  out.reserve(silences_.size());
  for (const auto& [id, entry] : silences_) out.push_back(entry->silence);
  return out;
}

void Silences::restore(std::vector<Silence> silences) {
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> loaded;
  for (Silence& s : silences) {
    auto entry = std::make_unique<Entry>();
    std::string id = s.id;
    entry->silence = std::move(s);
    entry->compile();
    loaded.insert_or_assign(std::move(id), std::move(entry));
  }
  std::unique_lock lock(mu_);
  silences_ = std::move(loaded);
  ++version_;
}

std::size_t Silences::size() const {
  std::shared_lock lock(mu_);
  return silences_.size();
}

std::uint64_t Silences::version() const {
  std::shared_lock lock(mu_);
  return version_;
}

}  // namespace watch::silence
