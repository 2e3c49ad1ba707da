// The API v2 JSON of silences: reading a postableSilence exactly as
// Alertmanager 0.25 does, and printing gettableSilences.
//
// Alertmanager reads a POST body in stages, and each stage has its own
// answers; we follow them in order:
//  1. go-openapi's JSON consumer: a json.Decoder reads one value (syntax
//     errors, "unexpected EOF"; an empty body is "silence in body is
//     required"); the rest of the body is never looked at;
//  2. the generated PostableSilence.UnmarshalJSON decodes that value twice
//     with encoding/json: into struct { ID string }, then into Silence.
//     Type mismatches ("json: cannot unmarshal number into Go struct field
//     Silence.comment of type string") are remembered while decoding goes
//     on; startsAt and endsAt go through strfmt.DateTime, whose errors stop
//     decoding at once and win;
//  3. the generated Validate: the first missing required field, in the
//     order comment, createdBy, endsAt, matchers, startsAt (422);
//  4. the handler: start before end, end not in the past, then
//     silence.Set's validateSilence ("silence invalid: ..."), which for a
//     body with an id comes after the lookup of the id, in Silences::set().
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "watch/gotext/gotext.h"
#include "watch/silence/internal.h"
#include "watch/silence/silence.h"

namespace watch::silence {
namespace {

using detail::append_json_string;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// ---------------------------------------------------------------------------
// Stage 1: finding the first JSON value with Go's scanner and its messages.

// encoding/json's quoteChar: the byte as a one-character Go literal ('x',
// '\'', '"', '\x01', '\u0080').
std::string quote_char(unsigned char c) {
  if (c == '\'') return R"('\'')";
  if (c == '"') return R"('"')";
  std::string as_rune;  // Go's string(c) reads the byte as a code point
  gotext::append_utf8(as_rune, c);
  const std::string quoted = gotext::go_quote(as_rune);
  return "'" + quoted.substr(1, quoted.size() - 2) + "'";
}

struct FirstValue {
  enum class Kind { kValue, kEmpty, kError };
  Kind kind = Kind::kEmpty;
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string error;
};

FirstValue scan_first_value(std::string_view in) {
  // encoding/json's limit on nesting.
  constexpr std::size_t kMaxDepth = 10'000;
  enum class State {
    kBeginValue,
    kBeginValueOrEmpty,
    kBeginStringOrEmpty,
    kBeginString,
    kEndValue,
    kInString,
    kInStringEscape,
    kInStringEscapeU,
    kNeg,
    kZero,
    kDigits,
    kDot,
    kDotDigits,
    kExp,
    kExpSign,
    kExpDigits,
    kLiteral,
  };
  enum class Container : std::uint8_t { kObjectKey, kObjectValue, kArray };

  FirstValue out;
  std::vector<Container> stack;
  State state = State::kBeginValue;
  std::size_t hex_digits = 0;
  std::string_view literal;  // true, false or null
  std::size_t literal_at = 0;
  bool started = false;

  const auto fail = [&](unsigned char c, std::string_view context) {
    out.kind = FirstValue::Kind::kError;
    out.error = fmt::format("invalid character {} {}", quote_char(c), context);
    return out;
  };
  const auto done = [&](std::size_t end) {
    out.kind = FirstValue::Kind::kValue;
    out.end = end;
    return out;
  };

  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    const auto u = static_cast<unsigned char>(c);
    // A number ends at the first byte that cannot continue it; that byte is
    // then read again as what follows the value.
    bool again = true;
    while (again) {
      again = false;
      switch (state) {
        case State::kBeginValueOrEmpty:
          if (is_space(c)) break;
          if (c == ']') {
            state = State::kEndValue;
            again = true;
            break;
          }
          state = State::kBeginValue;
          again = true;
          break;
        case State::kBeginValue:
          if (is_space(c)) break;
          if (!started) {
            started = true;
            out.begin = i;
          }
          switch (c) {
            case '{':
              stack.push_back(Container::kObjectKey);
              if (stack.size() > kMaxDepth) return fail(u, "exceeded max depth");
              state = State::kBeginStringOrEmpty;
              break;
            case '[':
              stack.push_back(Container::kArray);
              if (stack.size() > kMaxDepth) return fail(u, "exceeded max depth");
              state = State::kBeginValueOrEmpty;
              break;
            case '"':
              state = State::kInString;
              break;
            case '-':
              state = State::kNeg;
              break;
            case '0':
              state = State::kZero;
              break;
            case 't':
            case 'f':
            case 'n':
              literal = c == 't' ? "true" : c == 'f' ? "false" : "null";
              literal_at = 1;
              state = State::kLiteral;
              break;
            default:
              if (c >= '1' && c <= '9') {
                state = State::kDigits;
                break;
              }
              return fail(u, "looking for beginning of value");
          }
          break;
        case State::kBeginStringOrEmpty:
          if (is_space(c)) break;
          if (c == '}') {
            stack.back() = Container::kObjectValue;
            state = State::kEndValue;
            again = true;
            break;
          }
          state = State::kBeginString;
          again = true;
          break;
        case State::kBeginString:
          if (is_space(c)) break;
          if (c != '"') return fail(u, "looking for beginning of object key string");
          state = State::kInString;
          break;
        case State::kEndValue:
          if (stack.empty()) return done(i);
          if (is_space(c)) break;
          switch (stack.back()) {
            case Container::kObjectKey:
              if (c != ':') return fail(u, "after object key");
              stack.back() = Container::kObjectValue;
              state = State::kBeginValue;
              break;
            case Container::kObjectValue:
              if (c == ',') {
                stack.back() = Container::kObjectKey;
                state = State::kBeginString;
              } else if (c == '}') {
                stack.pop_back();
                if (stack.empty()) return done(i + 1);
              } else {
                return fail(u, "after object key:value pair");
              }
              break;
            case Container::kArray:
              if (c == ',') {
                state = State::kBeginValue;
              } else if (c == ']') {
                stack.pop_back();
                if (stack.empty()) return done(i + 1);
              } else {
                return fail(u, "after array element");
              }
              break;
          }
          break;
        case State::kInString:
          if (c == '"') {
            state = State::kEndValue;
            if (stack.empty()) return done(i + 1);
          } else if (c == '\\') {
            state = State::kInStringEscape;
          } else if (u < 0x20) {
            return fail(u, "in string literal");
          }
          break;
        case State::kInStringEscape:
          if (c == 'u') {
            hex_digits = 0;
            state = State::kInStringEscapeU;
          } else if (std::string_view("bfnrt\\/\"").find(c) != std::string_view::npos) {
            state = State::kInString;
          } else {
            return fail(u, "in string escape code");
          }
          break;
        case State::kInStringEscapeU:
          if (!is_hex(c)) return fail(u, "in \\u hexadecimal character escape");
          if (++hex_digits == 4) state = State::kInString;
          break;
        case State::kNeg:
          if (c == '0') {
            state = State::kZero;
          } else if (c >= '1' && c <= '9') {
            state = State::kDigits;
          } else {
            return fail(u, "in numeric literal");
          }
          break;
        case State::kDigits:
          if (is_digit(c)) break;
          state = State::kZero;
          again = true;
          break;
        case State::kZero:
          if (c == '.') {
            state = State::kDot;
          } else if (c == 'e' || c == 'E') {
            state = State::kExp;
          } else {
            state = State::kEndValue;
            again = true;
          }
          break;
        case State::kDot:
          if (!is_digit(c)) return fail(u, "after decimal point in numeric literal");
          state = State::kDotDigits;
          break;
        case State::kDotDigits:
          if (is_digit(c)) break;
          if (c == 'e' || c == 'E') {
            state = State::kExp;
            break;
          }
          state = State::kEndValue;
          again = true;
          break;
        case State::kExp:
          if (c == '+' || c == '-') {
            state = State::kExpSign;
            break;
          }
          state = State::kExpSign;
          again = true;
          break;
        case State::kExpSign:
          if (!is_digit(c)) return fail(u, "in exponent of numeric literal");
          state = State::kExpDigits;
          break;
        case State::kExpDigits:
          if (is_digit(c)) break;
          state = State::kEndValue;
          again = true;
          break;
        case State::kLiteral:
          if (c != literal[literal_at]) {
            return fail(u,
                        fmt::format("in literal {} (expecting {})", literal,
                                    quote_char(static_cast<unsigned char>(literal[literal_at]))));
          }
          if (++literal_at == literal.size()) {
            state = State::kEndValue;
            if (stack.empty()) return done(i + 1);
          }
          break;
      }
    }
  }
  if (!started) return out;  // nothing but whitespace
  const bool number_complete = state == State::kZero || state == State::kDigits ||
                               state == State::kDotDigits || state == State::kExpDigits;
  if (stack.empty() && (number_complete || state == State::kEndValue)) return done(in.size());
  out.kind = FirstValue::Kind::kError;
  out.error = "unexpected EOF";
  return out;
}

// ---------------------------------------------------------------------------
// Stage 2: decoding the value (valid JSON now) as encoding/json does.

// A cursor over JSON already known to be valid.
class Json {
 public:
  explicit Json(std::string_view text) : text_(text) {}

  std::size_t skip_space(std::size_t i) const {
    while (i < text_.size() && is_space(text_[i])) ++i;
    return i;
  }
  char at(std::size_t i) const { return text_[i]; }

  // "object", "array", "string", "number" or "bool", as Go names them in
  // UnmarshalTypeError; "null" for null.
  std::string_view kind(std::size_t i) const {
    switch (text_[i]) {
      case '{':
        return "object";
      case '[':
        return "array";
      case '"':
        return "string";
      case 't':
      case 'f':
        return "bool";
      case 'n':
        return "null";
      default:
        return "number";
    }
  }

  std::size_t end_of_value(std::size_t i) const {
    const char c = text_[i];
    if (c == '"') return end_of_string(i);
    if (c != '{' && c != '[') {
      while (i < text_.size() && !is_space(text_[i]) && text_[i] != ',' && text_[i] != '}' &&
             text_[i] != ']') {
        ++i;
      }
      return i;
    }
    std::size_t depth = 0;
    while (i < text_.size()) {
      const char d = text_[i];
      if (d == '"') {
        i = end_of_string(i);
        continue;
      }
      if (d == '{' || d == '[') ++depth;
      if ((d == '}' || d == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return i;
  }

  // encoding/json's unquote: escapes resolved, a lone surrogate and every
  // byte of invalid UTF-8 become U+FFFD.
  std::string string_at(std::size_t i) const {
    std::string out;
    const std::size_t end = end_of_string(i) - 1;
    for (++i; i < end;) {
      const auto b = static_cast<unsigned char>(text_[i]);
      if (b == '\\') {
        const char e = text_[i + 1];
        if (e != 'u') {
          const std::string_view from = "bfnrt";
          const std::string_view to = "\b\f\n\r\t";
          const std::size_t k = from.find(e);
          out.push_back(k == std::string_view::npos ? e : to[k]);
          i += 2;
          continue;
        }
        char32_t r = hex4(i + 2);
        i += 6;
        if (r >= 0xD800 && r < 0xE000) {
          const bool pair = r < 0xDC00 && i + 6 <= end && text_[i] == '\\' && text_[i + 1] == 'u' &&
                            hex4(i + 2) >= 0xDC00 && hex4(i + 2) < 0xE000;
          if (pair) {
            r = 0x10000 + ((r - 0xD800) << 10) + (hex4(i + 2) - 0xDC00);
            i += 6;
          } else {
            r = 0xFFFD;
          }
        }
        gotext::append_utf8(out, r);
        continue;
      }
      if (b < 0x80) {
        out.push_back(static_cast<char>(b));
        ++i;
        continue;
      }
      const gotext::Rune r = gotext::decode_rune(text_.substr(0, end), i);
      out.append(r.valid ? text_.substr(i, r.width) : gotext::kReplacementUtf8);
      i += r.width;
    }
    return out;
  }

  // Calls f(key, value position) for each member of the object at i, until
  // f returns false.
  template <typename F>
  void for_each_member(std::size_t i, F&& f) const {
    i = skip_space(i + 1);
    while (text_[i] != '}') {
      const std::string key = string_at(i);
      i = skip_space(end_of_string(i));  // at ':'
      const std::size_t value = skip_space(i + 1);
      if (!f(key, value)) return;
      i = skip_space(end_of_value(value));
      if (text_[i] == ',') i = skip_space(i + 1);
    }
  }

  template <typename F>
  void for_each_element(std::size_t i, F&& f) const {
    i = skip_space(i + 1);
    while (text_[i] != ']') {
      if (!f(i)) return;
      i = skip_space(end_of_value(i));
      if (text_[i] == ',') i = skip_space(i + 1);
    }
  }

 private:
  std::size_t end_of_string(std::size_t i) const {
    for (++i; i < text_.size(); ++i) {
      if (text_[i] == '\\') {
        ++i;
      } else if (text_[i] == '"') {
        return i + 1;
      }
    }
    return i;
  }
  char32_t hex4(std::size_t i) const {
    char32_t r = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text_[i + k];
      r = r * 16 + static_cast<char32_t>(is_digit(c) ? c - '0'
                                         : c >= 'a'  ? c - 'a' + 10
                                                     : c - 'A' + 10);
    }
    return r;
  }

  std::string_view text_;
};

// encoding/json's match of an object key to a field name: exact, or else
// ASCII case-insensitive, where an 's' also matches U+017F (ſ) and a 'k'
// U+212A (K), as Go's folding does.
bool key_matches(std::string_view key, std::string_view field) {
  if (key == field) return true;
  const bool special = field.find_first_of("sSkK") != std::string_view::npos;
  std::size_t i = 0;
  for (const char f : field) {
    if (i >= key.size()) return false;
    const auto k = static_cast<unsigned char>(key[i]);
    if (k < 0x80) {
      if ((k | 0x20) != (static_cast<unsigned char>(f) | 0x20)) return false;
      ++i;
      continue;
    }
    if (!special) return false;
    const gotext::Rune r = gotext::decode_rune(key, i);
    const char lower = static_cast<char>(f | 0x20);
    if (!((lower == 's' && r.value == 0x17F) || (lower == 'k' && r.value == 0x212A))) return false;
    i += r.width;
  }
  return i == key.size();
}

// Which of `fields` a key sets: an exact match first, then a folded one.
template <std::size_t N>
std::optional<std::size_t> field_for(std::string_view key,
                                     const std::array<std::string_view, N>& fields) {
  for (std::size_t i = 0; i < N; ++i) {
    if (key == fields[i]) return i;
  }
  for (std::size_t i = 0; i < N; ++i) {
    if (key_matches(key, fields[i])) return i;
  }
  return std::nullopt;
}

std::string type_error(std::string_view kind, std::string_view go_struct, std::string_view field,
                       std::string_view go_type) {
  return fmt::format("json: cannot unmarshal {} into Go struct field {}.{} of type {}", kind,
                     go_struct, field, go_type);
}

// ---------------------------------------------------------------------------
// strfmt.DateTime: Go's time.Parse over go-openapi's list of layouts.

// A point in time as Go's time.Time holds it (Unix seconds and nanoseconds),
// for the handler's comparisons, which are finer than milliseconds.
struct GoTime {
  std::int64_t seconds = 0;
  std::int64_t nanos = 0;
  friend auto operator<=>(const GoTime&, const GoTime&) = default;
  std::int64_t millis() const { return seconds * 1000 + nanos / 1'000'000; }
};

enum class Elem : std::uint8_t {
  kYear,         // 2006
  kMonth,        // 01
  kDay,          // 02
  kHour,         // 15 (one or two digits)
  kMinute,       // 04
  kSecond,       // 05
  kFrac3,        // .000
  kFrac6,        // .000000
  kFracAny,      // .999999999 (optional)
  kZoneColon,    // Z07:00
  kZoneNoColon,  // Z0700
  kEnd,
};

struct Chunk {
  std::string_view prefix;  // literal text before the element
  Elem elem;
  std::string_view text;  // the element as written in the layout
};

struct Layout {
  std::string_view text;
  std::vector<Chunk> chunks;
};

std::vector<Chunk> date_and_time(char separator, bool seconds) {
  static constexpr std::string_view kT = "T";
  static constexpr std::string_view kSpace = " ";
  std::vector<Chunk> chunks = {{"", Elem::kYear, "2006"},
                               {"-", Elem::kMonth, "01"},
                               {"-", Elem::kDay, "02"},
                               {separator == 'T' ? kT : kSpace, Elem::kHour, "15"},
                               {":", Elem::kMinute, "04"}};
  if (seconds) chunks.push_back({":", Elem::kSecond, "05"});
  return chunks;
}

Layout make_layout(std::string_view text, bool seconds, char separator, std::vector<Chunk> tail) {
  Layout layout{text, date_and_time(separator, seconds)};
  layout.chunks.insert(layout.chunks.end(), tail.begin(), tail.end());
  return layout;
}

// strfmt 0.21's DateTimeFormats, in its order.
const std::vector<Layout>& date_time_layouts() {
  static const std::vector<Layout> kLayouts = [] {
    const Chunk end{"", Elem::kEnd, ""};
    const Chunk zone_colon{"", Elem::kZoneColon, "Z07:00"};
    const Chunk zone_no_colon{"", Elem::kZoneNoColon, "Z0700"};
    const Chunk frac3{"", Elem::kFrac3, ".000"};
    const Chunk frac6{"", Elem::kFrac6, ".000000"};
    return std::vector<Layout>{
        make_layout("2006-01-02T15:04:05.000000Z07:00", true, 'T', {frac6, zone_colon, end}),
        make_layout("2006-01-02T15:04:05.000000Z0700", true, 'T', {frac6, zone_no_colon, end}),
        make_layout("2006-01-02T15:04:05.000Z07:00", true, 'T', {frac3, zone_colon, end}),
        make_layout("2006-01-02T15:04:05.000Z0700", true, 'T', {frac3, zone_no_colon, end}),
        make_layout("2006-01-02T15:04:05Z07:00", true, 'T', {zone_colon, end}),
        make_layout("2006-01-02T15:04:05.999999999Z07:00", true, 'T',
                    {{"", Elem::kFracAny, ".999999999"}, zone_colon, end}),
        make_layout("2006-01-02T15:04:05", true, 'T', {end}),
        make_layout("2006-01-02T15:04Z", false, 'T', {{"Z", Elem::kEnd, ""}}),
        make_layout("2006-01-02T15:04", false, 'T', {end}),
        make_layout("2006-01-02 15:04:05", true, ' ', {end}),
    };
  }();
  return kLayouts;
}

// The time package's quote: non-ASCII and control bytes as \xNN.
std::string time_quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x80 || b < 0x20) {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    } else {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

struct TimeParse {
  std::optional<GoTime> time;
  std::string error;  // Go 1.19's time.ParseError text
};

// Go's getnum: one or two digits (exactly two when `fixed`).
bool get_number(std::string_view& value, bool fixed, int* out) {
  if (value.empty() || !is_digit(value[0])) return false;
  if (value.size() < 2 || !is_digit(value[1])) {
    if (fixed) return false;
    *out = value[0] - '0';
    value.remove_prefix(1);
    return true;
  }
  *out = (value[0] - '0') * 10 + (value[1] - '0');
  value.remove_prefix(2);
  return true;
}

// Go's atoi: an optional sign, then digits only (none is 0).
bool go_atoi(std::string_view s, std::int64_t* out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  std::int64_t x = 0;
  for (const char c : s) {
    if (!is_digit(c)) return false;
    x = x * 10 + (c - '0');
  }
  *out = negative ? -x : x;
  return true;
}

// Go's parseNanoseconds of value[0:width] (a '.' or ',' then digits; nine
// count).
bool parse_nanoseconds(std::string_view value, std::size_t width, std::int64_t* nanos,
                       std::string* range_error) {
  if (value[0] != '.' && value[0] != ',') return false;
  if (width > 10) width = 10;
  std::int64_t ns = 0;
  if (!go_atoi(value.substr(1, width - 1), &ns)) return false;
  if (ns < 0) {
    *range_error = "fractional second";
    return true;
  }
  for (std::size_t k = width; k < 10; ++k) ns *= 10;
  *nanos = ns;
  return true;
}

bool is_leap(std::int64_t year) {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

int days_in_month(int month, std::int64_t year) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

// Go 1.19's time.Parse(layout, value), for the elements these layouts use.
TimeParse go_time_parse(const Layout& layout, std::string_view avalue) {
  const auto failed = [&](std::string_view elem, std::string_view rest) {
    return TimeParse{std::nullopt,
                     fmt::format("parsing time {} as {}: cannot parse {} as {}", time_quote(avalue),
                                 time_quote(layout.text), time_quote(rest), time_quote(elem))};
  };
  const auto failed_with = [&](std::string_view message) {
    return TimeParse{std::nullopt, fmt::format("parsing time {}{}", time_quote(avalue), message)};
  };

  std::string_view value = avalue;
  std::int64_t year = 0;
  int month = -1, day = -1, hour = 0, minute = 0, second = 0;
  std::int64_t nanos = 0;
  std::int64_t zone_offset = 0;

  for (std::size_t k = 0; k < layout.chunks.size(); ++k) {
    const Chunk& chunk = layout.chunks[k];
    // Go's skip: a space in the layout matches any run of spaces (even none
    // at the end of the value); anything else must be there as written.
    for (std::size_t p = 0; p < chunk.prefix.size();) {
      if (chunk.prefix[p] == ' ') {
        if (!value.empty() && value[0] != ' ') return failed(chunk.prefix, value);
        while (p < chunk.prefix.size() && chunk.prefix[p] == ' ') ++p;
        while (!value.empty() && value[0] == ' ') value.remove_prefix(1);
        continue;
      }
      if (value.empty() || value[0] != chunk.prefix[p]) return failed(chunk.prefix, value);
      ++p;
      value.remove_prefix(1);
    }
    if (chunk.elem == Elem::kEnd) {
      if (!value.empty()) return failed_with(": extra text: " + time_quote(value));
      break;
    }
    bool ok = true;
    std::string range_error;
    switch (chunk.elem) {
      case Elem::kYear:
        if (value.size() < 4 || !is_digit(value[0])) {
          ok = false;
          break;
        }
        ok = go_atoi(value.substr(0, 4), &year);
        value.remove_prefix(4);
        break;
      case Elem::kMonth:
        ok = get_number(value, true, &month);
        if (ok && (month <= 0 || month > 12)) range_error = "month";
        break;
      case Elem::kDay:
        ok = get_number(value, true, &day);
        break;
      case Elem::kHour:
        ok = get_number(value, false, &hour);
        if (hour >= 24) range_error = "hour";
        break;
      case Elem::kMinute:
        ok = get_number(value, true, &minute);
        if (minute >= 60) range_error = "minute";
        break;
      case Elem::kSecond: {
        ok = get_number(value, true, &second);
        if (!ok) break;
        if (second >= 60) {
          range_error = "second";
          break;
        }
        // A fraction the layout does not spell out is taken here, unless
        // the next element is the fraction.
        if (value.size() >= 2 && (value[0] == '.' || value[0] == ',') && is_digit(value[1])) {
          const Elem next = layout.chunks[k + 1].elem;
          if (next == Elem::kFrac3 || next == Elem::kFrac6 || next == Elem::kFracAny) break;
          std::size_t n = 2;
          while (n < value.size() && is_digit(value[n])) ++n;
          ok = parse_nanoseconds(value, n, &nanos, &range_error);
          value.remove_prefix(n);
        }
        break;
      }
      case Elem::kFrac3:
      case Elem::kFrac6: {
        const std::size_t width = chunk.elem == Elem::kFrac3 ? 4 : 7;
        if (value.size() < width) {
          ok = false;
          break;
        }
        ok = parse_nanoseconds(value, width, &nanos, &range_error);
        value.remove_prefix(width);
        break;
      }
      case Elem::kFracAny: {
        if (value.size() < 2 || (value[0] != '.' && value[0] != ',') || !is_digit(value[1])) {
          break;  // no fraction: fine
        }
        std::size_t n = 1;
        while (n < value.size() && is_digit(value[n])) ++n;
        ok = parse_nanoseconds(value, n, &nanos, &range_error);
        value.remove_prefix(n);
        break;
      }
      case Elem::kZoneColon:
      case Elem::kZoneNoColon: {
        if (!value.empty() && value[0] == 'Z') {
          value.remove_prefix(1);
          break;
        }
        const bool colon = chunk.elem == Elem::kZoneColon;
        const std::size_t width = colon ? 6 : 5;
        if (value.size() < width || (colon && value[3] != ':')) {
          ok = false;
          break;
        }
        const char sign = value[0];
        const std::string_view hh = value.substr(1, 2);
        const std::string_view mm = value.substr(colon ? 4 : 3, 2);
        value.remove_prefix(width);
        // Go 1.19 reads both with atoi (so "+-1:-5" is -00:55) and checks
        // no range ("+92:70" is fine); later Go versions are stricter.
        std::int64_t zone_hours = 0, zone_minutes = 0;
        ok = go_atoi(hh, &zone_hours) && go_atoi(mm, &zone_minutes);
        zone_offset = (zone_hours * 60 + zone_minutes) * 60;
        if (sign == '-') {
          zone_offset = -zone_offset;
        } else if (sign != '+') {
          ok = false;
        }
        break;
      }
      case Elem::kEnd:
        break;
    }
    if (!range_error.empty()) return failed_with(": " + range_error + " out of range");
    // Go 1.19 shows the value as left after the element.
    if (!ok) return failed(chunk.text, value);
  }
  if (day < 1 || day > days_in_month(month, year)) return failed_with(": day out of range");
  const std::int64_t days =
      detail::days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return {GoTime{days * 86'400 + hour * 3600 + minute * 60 + second - zone_offset, nanos}, {}};
}

// strfmt.ParseDateTime: "" is the Unix epoch; else the first layout that
// parses; else the last layout's error.
TimeParse parse_date_time(std::string_view text) {
  if (text.empty()) return {GoTime{}, {}};
  TimeParse last;
  for (const Layout& layout : date_time_layouts()) {
    last = go_time_parse(layout, text);
    if (last.time) return last;
  }
  return last;
}

// ---------------------------------------------------------------------------
// The decoded body.

struct PostedMatcher {
  std::optional<std::string> name;
  std::optional<std::string> value;
  std::optional<bool> is_regex;
  std::optional<bool> is_equal;
};

// Go's []*Matcher, with the backing array encoding/json decodes into: a
// repeated "matchers" key decodes over the matchers already there (and over
// ones past the current length, still in the backing array).
struct PostedMatchers {
  bool nil = true;
  std::size_t length = 0;
  std::vector<std::shared_ptr<PostedMatcher>> backing;  // size() is the capacity
};

struct Posted {
  std::string id;
  std::optional<std::string> comment;
  std::optional<std::string> created_by;
  std::optional<GoTime> starts_at;
  std::optional<GoTime> ends_at;
  PostedMatchers matchers;
};

class Decoder {
 public:
  explicit Decoder(Json json) : json_(json) {}

  // The error encoding/json returns ("" for none).
  std::string decode(std::size_t top, Posted& posted) {
    decode_id(top, posted);
    if (!saved_.empty()) return saved_;
    decode_silence(top, posted);
    return !immediate_.empty() ? immediate_ : saved_;
  }

 private:
  void save(std::string error) {
    if (saved_.empty()) saved_ = std::move(error);
  }

  // Pass one: struct { ID string `json:"id,omitempty"` }.
  void decode_id(std::size_t top, Posted& posted) {
    const std::string_view kind = json_.kind(top);
    if (kind == "null") return;
    if (kind != "object") {
      save(fmt::format("json: cannot unmarshal {} into Go value of type {}", kind,
                       R"(struct { ID string "json:\"id,omitempty\"" })"));
      return;
    }
    static constexpr std::array<std::string_view, 1> kFields = {"id"};
    json_.for_each_member(top, [&](const std::string& key, std::size_t value) {
      if (!field_for(key, kFields)) return true;
      const std::string_view k = json_.kind(value);
      if (k == "string") {
        posted.id = json_.string_at(value);
      } else if (k != "null") {
        save(type_error(k, "", "id", "string"));
      }
      return true;
    });
  }

  // Pass two: models.Silence.
  void decode_silence(std::size_t top, Posted& posted) {
    if (json_.kind(top) == "null") return;
    enum Field { kComment, kCreatedBy, kEndsAt, kMatchers, kStartsAt };
    static constexpr std::array<std::string_view, 5> kFields = {"comment", "createdBy", "endsAt",
                                                                "matchers", "startsAt"};
    json_.for_each_member(top, [&](const std::string& key, std::size_t value) {
      const std::optional<std::size_t> field = field_for(key, kFields);
      if (!field) return true;
      const std::string_view name = kFields[*field];
      switch (static_cast<Field>(*field)) {
        case kComment:
          decode_string(value, "Silence", name, posted.comment);
          return true;
        case kCreatedBy:
          decode_string(value, "Silence", name, posted.created_by);
          return true;
        case kStartsAt:
          return decode_time(value, name, posted.starts_at);
        case kEndsAt:
          return decode_time(value, name, posted.ends_at);
        case kMatchers:
          decode_matchers(value, posted.matchers);
          return true;
      }
      return true;
    });
  }

  void decode_string(std::size_t value, std::string_view go_struct, std::string_view field,
                     std::optional<std::string>& out) {
    const std::string_view kind = json_.kind(value);
    if (kind == "string") {
      out = json_.string_at(value);
    } else if (kind == "null") {
      out.reset();
    } else {
      save(type_error(kind, go_struct, field, "string"));
    }
  }

  void decode_bool(std::size_t value, std::string_view field, std::optional<bool>& out) {
    const std::string_view kind = json_.kind(value);
    if (kind == "bool") {
      out = json_.at(value) == 't';
    } else if (kind == "null") {
      out.reset();
    } else {
      save(type_error(kind, "Matcher", field, "bool"));
    }
  }

  // strfmt.DateTime.UnmarshalJSON; its errors end the decoding.
  bool decode_time(std::size_t value, std::string_view field, std::optional<GoTime>& out) {
    const std::string_view kind = json_.kind(value);
    if (kind == "null") {
      out.reset();
      return true;
    }
    if (kind != "string") {
      immediate_ = type_error(kind, "Silence", field, "string");
      return false;
    }
    TimeParse parsed = parse_date_time(json_.string_at(value));
    if (!parsed.time) {
      immediate_ = std::move(parsed.error);
      return false;
    }
    out = parsed.time;
    return true;
  }

  void decode_matchers(std::size_t value, PostedMatchers& out) {
    const std::string_view kind = json_.kind(value);
    if (kind == "null") {
      out = PostedMatchers{};
      return;
    }
    if (kind != "array") {
      save(type_error(kind, "Silence", "matchers", "models.Matchers"));
      return;
    }
    std::size_t index = 0;
    json_.for_each_element(value, [&](std::size_t element) {
      if (index >= out.backing.size()) {
        // Go grows by half, at least to 4, copying only the first `length`.
        std::size_t capacity = out.backing.size() + out.backing.size() / 2;
        if (capacity < 4) capacity = 4;
        std::vector<std::shared_ptr<PostedMatcher>> grown(capacity);
        std::copy_n(out.backing.begin(), out.length, grown.begin());
        out.backing = std::move(grown);
      }
      if (index >= out.length) out.length = index + 1;
      decode_matcher(element, out.backing[index]);
      ++index;
      return true;
    });
    out.nil = false;
    if (index < out.length) out.length = index;
    if (index == 0) out = PostedMatchers{.nil = false, .length = 0, .backing = {}};
  }

  void decode_matcher(std::size_t value, std::shared_ptr<PostedMatcher>& out) {
    const std::string_view kind = json_.kind(value);
    if (kind == "null") {
      out.reset();
      return;
    }
    if (!out) out = std::make_shared<PostedMatcher>();
    if (kind != "object") {
      save(type_error(kind, "Silence", "matchers", "models.Matcher"));
      return;
    }
    enum Field { kIsEqual, kIsRegex, kName, kValue };
    static constexpr std::array<std::string_view, 4> kFields = {"isEqual", "isRegex", "name",
                                                                "value"};
    json_.for_each_member(value, [&](const std::string& key, std::size_t v) {
      const std::optional<std::size_t> field = field_for(key, kFields);
      if (!field) return true;
      const std::string path = "matchers." + std::string(kFields[*field]);
      switch (static_cast<Field>(*field)) {
        case kIsEqual:
          decode_bool(v, path, out->is_equal);
          break;
        case kIsRegex:
          decode_bool(v, path, out->is_regex);
          break;
        case kName:
          decode_string(v, "Matcher", path, out->name);
          break;
        case kValue:
          decode_string(v, "Matcher", path, out->value);
          break;
      }
      return true;
    });
  }

  Json json_;
  std::string saved_;      // the first type mismatch; decoding went on
  std::string immediate_;  // an error that stopped decoding
};

// ---------------------------------------------------------------------------
// Answers.

std::string openapi_error_body(int code, std::string_view message) {
  std::string body = fmt::format(R"({{"code":{},"message":)", code);
  append_json_string(body, message, /*escape_html=*/true);
  body.push_back('}');
  return body;
}

ParseResult refused(int http_status, std::string error, std::string body) {
  ParseResult r;
  r.error = std::move(error);
  r.http_status = http_status;
  r.error_body = std::move(body);
  return r;
}

ParseResult schema_error(std::string message, int code = 602) {
  std::string body = openapi_error_body(code, message);
  return refused(422, std::move(message), std::move(body));
}

ParseResult decode_error(std::string_view go_error) {
  std::string message = "parsing silence body from \"\" failed, because " + std::string(go_error);
  std::string body = openapi_error_body(400, message);
  return refused(400, std::move(message), std::move(body));
}

ParseResult handler_error(std::string message) {
  std::string body = handler_error_body(message);
  return refused(400, std::move(message), std::move(body));
}

// The generated Validate: the first failure in field order.
std::optional<ParseResult> check_schema(const Posted& posted) {
  if (!posted.comment) return schema_error("comment in body is required");
  if (!posted.created_by) return schema_error("createdBy in body is required");
  if (!posted.ends_at) return schema_error("endsAt in body is required");
  if (posted.matchers.nil) return schema_error("matchers in body is required");
  if (posted.matchers.length == 0) {
    return schema_error("matchers in body should have at least 1 items", 612);
  }
  for (std::size_t i = 0; i < posted.matchers.length; ++i) {
    const PostedMatcher* m = posted.matchers.backing[i].get();
    if (m == nullptr) continue;  // Go skips a null here (and later dereferences it)
    const auto required = [&](std::string_view field) {
      return schema_error(fmt::format("matchers.{}.{} in body is required", i, field));
    };
    if (!m->is_regex) return required("isRegex");
    if (!m->name) return required("name");
    if (!m->value) return required("value");
  }
  if (!posted.starts_at) return schema_error("startsAt in body is required");
  // Where 0.25 panics on a null matcher, we answer as for a missing field.
  for (std::size_t i = 0; i < posted.matchers.length; ++i) {
    if (!posted.matchers.backing[i]) {
      return schema_error(fmt::format("matchers.{} in body is required", i));
    }
  }
  return std::nullopt;
}

bool is_uuid(std::string_view id) {
  // strfmt's (?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$
  static constexpr std::size_t kGroups[] = {8, 4, 4, 4, 12};
  std::size_t i = 0;
  for (std::size_t g = 0; g < 5; ++g) {
    if (g > 0 && i < id.size() && id[i] == '-') ++i;
    for (std::size_t k = 0; k < kGroups[g]; ++k, ++i) {
      if (i >= id.size() || !is_hex(id[i])) return false;
    }
  }
  return i == id.size();
}

void append_silence(std::string& out, const Silence& s, std::int64_t now_ms) {
  // Go's json.Marshal of the two parts of gettableSilence, joined.
  out += R"({"id":)";
  append_json_string(out, s.id, true);
  out += R"(,"status":{"state":")";
  out += to_string(state_of(s, now_ms));
  out += R"("},"updatedAt":")";
  out += detail::format_time(s.updated_at_ms);
  out += R"(","comment":)";
  append_json_string(out, s.comment, true);
  out += R"(,"createdBy":)";
  append_json_string(out, s.created_by, true);
  out += R"(,"endsAt":")";
  out += detail::format_time(s.ends_at_ms);
  out += R"(","matchers":)";
  if (s.matchers.empty()) {
    out += "null";  // Go's nil slice
  } else {
    out.push_back('[');
    for (std::size_t i = 0; i < s.matchers.size(); ++i) {
      const SilenceMatcher& m = s.matchers[i];
      if (i > 0) out.push_back(',');
      out += R"({"isEqual":)";
      out += m.is_equal ? "true" : "false";
      out += R"(,"isRegex":)";
      out += m.is_regex ? "true" : "false";
      out += R"(,"name":)";
      append_json_string(out, m.name, true);
      out += R"(,"value":)";
      append_json_string(out, m.value, true);
      out.push_back('}');
    }
    out.push_back(']');
  }
  out += R"(,"startsAt":")";
  out += detail::format_time(s.starts_at_ms);
  out += "\"}";
}

}  // namespace

ParseResult parse_postable_silence(std::string_view json, std::int64_t now_ms) {
  const FirstValue first = scan_first_value(json);
  if (first.kind == FirstValue::Kind::kEmpty) return schema_error("silence in body is required");
  if (first.kind == FirstValue::Kind::kError) return decode_error(first.error);

  const Json value(json.substr(first.begin, first.end - first.begin));
  Posted posted;
  if (std::string error = Decoder(value).decode(0, posted); !error.empty()) {
    return decode_error(error);
  }
  if (std::optional<ParseResult> schema = check_schema(posted)) return *std::move(schema);

  const GoTime starts = *posted.starts_at;
  const GoTime ends = *posted.ends_at;
  if (starts >= ends) {
    return handler_error("Failed to create silence: start time must be before end time");
  }
  const GoTime now{.seconds = now_ms / 1000 - (now_ms % 1000 < 0 ? 1 : 0),
                   .nanos = (now_ms % 1000 + 1000) % 1000 * 1'000'000};
  if (ends < now) return handler_error("Failed to create silence: end time can't be in the past");

  ParseResult result;
  Silence& s = result.silence;
  s.id = std::move(posted.id);
  for (std::size_t i = 0; i < posted.matchers.length; ++i) {
    const PostedMatcher& m = *posted.matchers.backing[i];
    s.matchers.push_back({.name = *m.name,
                          .value = *m.value,
                          .is_regex = *m.is_regex,
                          .is_equal = m.is_equal.value_or(true)});
  }
  s.starts_at_ms = starts.millis();
  s.ends_at_ms = ends.millis();
  s.created_by = std::move(*posted.created_by);
  s.comment = std::move(*posted.comment);
  // With an id, 0.25 looks the id up first ("silence not found", 404):
  // Silences::set() does, then checks the matchers with these same words.
  if (s.id.empty()) {
    if (std::string problem = detail::check_matchers(s.matchers, nullptr); !problem.empty()) {
      return handler_error("silence invalid: " + problem);
    }
  }
  return result;
}

std::string to_json(const Silence& s, std::int64_t now_ms) {
  std::string out;
  append_silence(out, s, now_ms);
  return out;
}

std::string to_json(const std::vector<Silence>& silences, std::int64_t now_ms) {
  std::vector<Silence> sorted = silences;
  sort_silences(sorted, now_ms);
  std::string out = "[";
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0) out.push_back(',');
    append_silence(out, sorted[i], now_ms);
  }
  out.push_back(']');
  return out;
}

std::string format_api_time(std::int64_t ms) {
  return detail::format_time(ms);
}

std::optional<std::int64_t> parse_api_time(std::string_view text, std::string* error) {
  const TimeParse parsed = parse_date_time(text);
  if (!parsed.time) {
    if (error) *error = parsed.error;
    return std::nullopt;
  }
  return parsed.time->millis();
}

std::string handler_error_body(std::string_view message) {
  std::string body;
  append_json_string(body, message, /*escape_html=*/false);
  body.push_back('\n');
  return body;
}

std::optional<std::string> path_id_error_body(std::string_view id) {
  if (is_uuid(id)) return std::nullopt;
  return openapi_error_body(601, "silenceID in path must be of type uuid: " + gotext::go_quote(id));
}

}  // namespace watch::silence
