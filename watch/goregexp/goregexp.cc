#include "watch/goregexp/goregexp.h"

#include <re2/re2.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>
#include <utility>
#include <vector>

#include "watch/gotext/gotext.h"

namespace watch::goregexp {

namespace {

// Go's regexp has no memory limit; RE2's default (8 MiB) refuses the long
// alternations of metric and instance names that keep/drop rules and
// silences often hold.
constexpr std::int64_t kMaxMem = 64 << 20;
// Go's regexp refuses syntax trees taller than this (Go 1.19.2 on).
constexpr int kGoMaxHeight = 1000;

re2::RE2::Options re2_options(Groups groups) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kMaxMem);
  options.set_never_capture(groups == Groups::kMatchOnly);
  return options;
}

bool is_ascii_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Go's regexp/syntax ErrorCode texts for RE2's codes (the two parsers share
// their ancestry, and RE2's error_arg is the `expr` Go shows).
std::string_view go_words(re2::RE2::ErrorCode code) {
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
SyntaxError error_from_re2(const re2::RE2& re, std::string_view pattern) {
  const re2::RE2::ErrorCode code = re.error_code();
  SyntaxError error{
      .code = std::string(go_words(code)), .expr = re.error_arg(), .re2_error = re.error()};
  // For these Go shows the whole expression (RE2 too, but it may have seen
  // only a prefix).
  if (code == re2::RE2::ErrorUnexpectedParen || code == re2::RE2::ErrorMissingParen ||
      code == re2::RE2::ErrorPatternTooLarge) {
    const std::string& arg = re.error_arg();
    if (!arg.empty() && error.re2_error.ends_with(arg)) {
      error.re2_error.resize(error.re2_error.size() - arg.size());
      error.re2_error.append(pattern);
    }
    error.expr = std::string(pattern);
  }
  return error;
}

// ---------------------------------------------------------------------------
// What Go refuses and RE2 takes.

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

// The first thing Go refuses and RE2 may take, with the offset where Go's
// left-to-right parser stops: \C, (?<, a group name that is empty or not an
// ASCII word, a tree taller than Go's limit. Sets `*has_named_groups` when
// it passed a (?P<name>. Scans past escapes, \Q...\E and classes; what only
// RE2 refuses is left to RE2.
struct GoOnlyProblem {
  std::size_t at;
  SyntaxError error;
};

std::optional<GoOnlyProblem> find_go_only_problem(std::string_view re, bool* has_named_groups) {
  const auto problem = [](std::size_t at, std::string_view code, std::string_view expr) {
    return GoOnlyProblem{at, SyntaxError{.code = std::string(code), .expr = std::string(expr)}};
  };
  GoTreeHeight tree;
  const auto too_deep = [&](std::size_t at, int height) -> std::optional<GoOnlyProblem> {
    if (height <= kGoMaxHeight) return std::nullopt;
    return problem(at, "expression nests too deeply", re);
  };
  for (std::size_t i = 0; i < re.size();) {
    const char c = re[i];
    if (c == '\\') {
      if (i + 1 >= re.size()) return std::nullopt;  // RE2 reports it
      const char e = re[i + 1];
      if (e == 'C') return problem(i, "invalid escape sequence", "\\C");
      if (e == 'Q') {
        const std::size_t end = re.find("\\E", i + 2);
        const std::size_t stop = end == std::string_view::npos ? re.size() : end;
        for (std::size_t k = i + 2; k < stop;) {
          tree.leaf(true, true);
          k += gotext::decode_rune(re, k).width;
        }
        i = end == std::string_view::npos ? re.size() : end + 2;
        continue;
      }
      std::size_t next = i + 2;
      if ((e == 'p' || e == 'P' || e == 'x') && next < re.size() && re[next] == '{') {
        const std::size_t close = re.find('}', next);
        next = close == std::string_view::npos ? re.size() : close + 1;
      } else if (e == 'p' || e == 'P') {
        if (next < re.size()) next += gotext::decode_rune(re, next).width;
      } else if (e == 'x') {
        next = std::min(re.size(), next + 2);
      } else if (e >= '0' && e <= '7') {
        while (next < re.size() && next < i + 4 && re[next] >= '0' && re[next] <= '7') ++next;
      } else if (static_cast<unsigned char>(e) >= 0x80) {
        next = i + 1 + gotext::decode_rune(re, i + 1).width;
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
            return problem(k, "invalid escape sequence", "\\C");
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
      // Go before 1.22 knows only the (?P<name> form.
      if (re.substr(i, 3) == "(?<") return problem(i, "invalid or unsupported Perl syntax", "(?<");
      if (re.substr(i, 4) == "(?P<") {
        const std::size_t close = re.find('>', i + 4);
        if (close == std::string_view::npos) return std::nullopt;  // RE2 reports it
        const std::string_view name = re.substr(i + 4, close - i - 4);
        if (name.empty() || !std::all_of(name.begin(), name.end(), is_ascii_word)) {
          return problem(i, "invalid named capture", re.substr(i, close + 1 - i));
        }
        if (has_named_groups != nullptr) *has_named_groups = true;
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
      if (auto too = too_deep(i, tree.close())) return too;
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
      if (auto too = too_deep(i, tree.repeat())) return too;
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
    i += gotext::decode_rune(re, i).width;
  }
  return too_deep(re.size(), tree.finish());
}

// `re` with every (?P<name> made a plain group, for a regex that only
// matches: RE2 versions differ on repeated names, which Go accepts. Only for
// a pattern find_go_only_problem() has passed.
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

// RE2's compilation of a pattern Go's checks have passed (or a prefix of
// one). A matcher has no use for names: when RE2 refuses them (a repeated
// name, in newer RE2), it compiles without them.
std::unique_ptr<re2::RE2> compile_re2(std::string_view pattern, Groups groups,
                                      bool has_named_groups) {
  const re2::RE2::Options options = re2_options(groups);
  auto re = std::make_unique<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok() && groups == Groups::kMatchOnly && has_named_groups &&
      re->error_code() == re2::RE2::ErrorBadNamedCapture) {
    re = std::make_unique<re2::RE2>(without_group_names(pattern), options);
  }
  return re;
}

}  // namespace

std::string anchored(std::string_view pattern) {
  return "^(?:" + std::string(pattern) + ")$";
}

std::string message(const SyntaxError& error) {
  return fmt::format("error parsing regexp: {}: `{}`", error.code, error.expr);
}

std::unique_ptr<re2::RE2> compile(std::string_view pattern, Groups groups, SyntaxError* error) {
  bool has_named_groups = false;
  if (std::optional<GoOnlyProblem> problem = find_go_only_problem(pattern, &has_named_groups)) {
    if (error == nullptr) return nullptr;
    // Go stops there; an error RE2 finds before that point comes first
    // (except unclosed groups and classes, which only the end reveals).
    const auto prefix = compile_re2(pattern.substr(0, problem->at), groups, has_named_groups);
    const re2::RE2::ErrorCode code = prefix->error_code();
    if (!prefix->ok() && code != re2::RE2::ErrorMissingParen &&
        code != re2::RE2::ErrorMissingBracket) {
      *error = error_from_re2(*prefix, pattern);
      return nullptr;
    }
    *error = std::move(problem->error);
    if (const auto whole = compile_re2(pattern, groups, has_named_groups);
        !whole->ok() && go_words(whole->error_code()) == error->code &&
        whole->error_arg() == error->expr) {
      error->re2_error = whole->error();
    }
    return nullptr;
  }
  auto re = compile_re2(pattern, groups, has_named_groups);
  if (!re->ok()) {
    if (error != nullptr) *error = error_from_re2(*re, pattern);
    return nullptr;
  }
  return re;
}

bool match(const re2::RE2& re, std::string_view text, std::span<Span> groups) {
  constexpr std::size_t kInlineGroups = 10;
  std::array<re2::StringPiece, kInlineGroups> inline_pieces;
  std::vector<re2::StringPiece> heap_pieces;
  re2::StringPiece* pieces = inline_pieces.data();
  if (groups.size() > kInlineGroups) {
    heap_pieces.resize(groups.size());
    pieces = heap_pieces.data();
  }
  const int n = static_cast<int>(groups.size());

  // Text Go reads as it is: offsets need no mapping.
  if (gotext::is_valid_utf8(text)) {
    const re2::StringPiece input(text.data(), text.size());
    if (!re.Match(input, 0, input.size(), re2::RE2::UNANCHORED, pieces, n)) return false;
    for (int g = 0; g < n; ++g) {
      if (pieces[g].data() == nullptr) {
        groups[g] = {};
      } else {
        groups[g].begin = pieces[g].data() - text.data();
        groups[g].end = groups[g].begin + static_cast<std::ptrdiff_t>(pieces[g].size());
      }
    }
    return true;
  }
  if (n == 0) {
    const std::string valid = gotext::to_valid_utf8(text);
    return re.Match(valid, 0, valid.size(), re2::RE2::UNANCHORED, nullptr, 0);
  }

  std::string valid;
  std::vector<std::size_t> original_offset;  // indexed by offsets into `valid`
  valid.reserve(text.size() + 8);
  original_offset.reserve(text.size() + 9);
  for (std::size_t i = 0; i < text.size();) {
    const gotext::Rune r = gotext::decode_rune(text, i);
    const std::string_view piece = r.valid ? text.substr(i, r.width) : gotext::kReplacementUtf8;
    for (std::size_t k = 0; k < piece.size(); ++k) original_offset.push_back(i);
    valid.append(piece);
    i += r.width;
  }
  original_offset.push_back(text.size());
  const re2::StringPiece input(valid);
  if (!re.Match(input, 0, input.size(), re2::RE2::UNANCHORED, pieces, n)) return false;
  for (int g = 0; g < n; ++g) {
    if (pieces[g].data() == nullptr) {
      groups[g] = {};
      continue;
    }
    // Group bounds fall on character boundaries of the valid text.
    const auto b = static_cast<std::size_t>(pieces[g].data() - valid.data());
    groups[g].begin = static_cast<std::ptrdiff_t>(original_offset[b]);
    groups[g].end = static_cast<std::ptrdiff_t>(original_offset[b + pieces[g].size()]);
  }
  return true;
}

}  // namespace watch::goregexp
