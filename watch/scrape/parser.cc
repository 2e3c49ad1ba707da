#include "watch/scrape/parser.h"
#include "watch/model/text.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>

#include <fmt/format.h>

namespace watch::scrape {

namespace {

// Prometheus's value.NormalNaN: the NaN a scraped "NaN" becomes (never the
// staleness marker).
constexpr std::uint64_t kNormalNaNBits = 0x7ff8000000000001ull;

// Character classes.
enum : std::uint8_t {
  kMetricStart = 1,  // [a-zA-Z_:]
  kMetricChar = 2,   // [a-zA-Z0-9_:]
  kLabelStart = 4,   // [a-zA-Z_]
  kLabelChar = 8,    // [a-zA-Z0-9_]
  kBlank = 16,       // space, tab
};

constexpr std::array<std::uint8_t, 256> make_classes() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    std::uint8_t v = 0;
    if (alpha || c == ':') v |= kMetricStart | kMetricChar;
    if (digit) v |= kMetricChar | kLabelChar;
    if (alpha) v |= kLabelStart | kLabelChar;
    if (c == ' ' || c == '\t') v |= kBlank;
    t[static_cast<std::size_t>(c)] = v;
  }
  return t;
}
constexpr std::array<std::uint8_t, 256> kClasses = make_classes();

inline bool is(char c, std::uint8_t cls) {
  return (kClasses[static_cast<unsigned char>(c)] & cls) != 0;
}

// A character as it reads in an error message.
std::string describe_char(const char* p, const char* end) {
  if (p >= end) return "end of line";
  const auto c = static_cast<unsigned char>(*p);
  if (c == '\r') return "carriage return (CRLF line endings are not allowed)";
  if (c == ' ') return "' '";
  if (c == '\t') return "tab";
  if (c < 0x20 || c == 0x7f || c >= 0x80) return fmt::format("byte 0x{:02x}", c);
  return fmt::format("'{}'", static_cast<char>(c));
}

// A token quoted for an error message, shortened and with unprintable bytes escaped.
std::string quote(std::string_view s) {
  std::string out = "\"";
  const std::size_t n = std::min<std::size_t>(s.size(), 40);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f || c >= 0x80) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (n < s.size()) out += "...";
  out.push_back('"');
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

// Go's utf8.Valid: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
  return first_invalid_utf8(s) == std::string_view::npos;
}

bool has_high_byte(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  return false;
}

// A float as Go's strconv.ParseFloat reads it, minus hex floats and
// underscores (which Prometheus refuses): optional sign, decimal digits with
// optional fraction and exponent, or inf/infinity/nan in any case.
std::optional<double> parse_float(std::string_view s) {
  const char* p = s.data();
  const char* end = p + s.size();
  if (p == end) return std::nullopt;
  bool negative = false;
  if (*p == '+' || *p == '-') {
    negative = *p == '-';
    ++p;
  }
  if (p == end) return std::nullopt;
  const char c = *p;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    const std::string_view word(p, static_cast<std::size_t>(end - p));
    if (iequals(word, "inf") || iequals(word, "infinity"))
      return negative ? -std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::infinity();
    if (iequals(word, "nan")) return std::bit_cast<double>(kNormalNaNBits);
    return std::nullopt;
  }
  if (!((c >= '0' && c <= '9') || c == '.')) return std::nullopt;
  double v = 0;
  const auto r = std::from_chars(p, end, v, std::chars_format::general);
  if (r.ptr != end) return std::nullopt;
  if (r.ec == std::errc::result_out_of_range) {
    // Overflow is an error (Go: ±Inf with ErrRange); underflow reads as 0.
    std::string copy(p, end);
    v = std::strtod(copy.c_str(), nullptr);
    if (std::isinf(v)) return std::nullopt;
  } else if (r.ec != std::errc()) {
    return std::nullopt;
  }
  return negative ? -v : v;
}

// OpenMetrics canonical float text, as Prometheus's formatOpenMetricsFloat:
// Go's shortest 'g' form, with ".0" added when it has neither '.' nor 'e'.
void format_openmetrics_float(double v, std::string& out) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  // Go's strconv 'g' with the shortest precision: scientific when the
  // exponent is below -4 or at least 6 ("1e+06", "1e-05"), else fixed.
  const char* e = std::find(buf, r.ptr, 'e');
  int exp = 0;
  std::from_chars(e + 1 + (e[1] == '+' ? 1 : 0), r.ptr, exp);
  if (exp < -4 || exp >= 6) {
    out.append(buf, r.ptr);
    return;
  }
  r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  out.append(buf, r.ptr);
  if (std::find(buf, r.ptr, '.') == r.ptr) out += ".0";
}

MetricType parse_type(std::string_view s, Format format, bool& ok) {
  ok = true;
  if (s == "counter") return MetricType::kCounter;
  if (s == "gauge") return MetricType::kGauge;
  if (s == "histogram") return MetricType::kHistogram;
  if (s == "summary") return MetricType::kSummary;
  if (format == Format::kPrometheusText) {
    if (s == "untyped") return MetricType::kUnknown;
  } else {
    if (s == "unknown") return MetricType::kUnknown;
    if (s == "gaugehistogram") return MetricType::kGaugeHistogram;
    if (s == "info") return MetricType::kInfo;
    if (s == "stateset") return MetricType::kStateSet;
  }
  ok = false;
  return MetricType::kUnknown;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Whether a sample named `name` belongs to family `family` of type `type`.
bool belongs_to(std::string_view name, std::string_view family, MetricType type) {
  if (name == family) return true;
  if (type == MetricType::kCounter && ends_with(family, "_total"))
    family.remove_suffix(6);  // text format: "# TYPE foo_total counter"
  if (name.size() <= family.size() || name.substr(0, family.size()) != family) return false;
  const std::string_view suffix = name.substr(family.size());
  switch (type) {
    case MetricType::kCounter:
      return suffix == "_total" || suffix == "_created";
    case MetricType::kHistogram:
      return suffix == "_bucket" || suffix == "_count" || suffix == "_sum" || suffix == "_created";
    case MetricType::kGaugeHistogram:
      return suffix == "_bucket" || suffix == "_gcount" || suffix == "_gsum";
    case MetricType::kSummary:
      return suffix == "_count" || suffix == "_sum" || suffix == "_created";
    case MetricType::kInfo:
      return suffix == "_info";
    default:
      return false;
  }
}

constexpr std::string_view kSuffixes[] = {"_total", "_created", "_bucket", "_count",
                                          "_sum",   "_gcount",  "_gsum",   "_info"};

}  // namespace

std::string_view to_string(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kGaugeHistogram:
      return "gaugehistogram";
    case MetricType::kSummary:
      return "summary";
    case MetricType::kInfo:
      return "info";
    case MetricType::kStateSet:
      return "stateset";
    case MetricType::kUnknown:
      break;
  }
  return "unknown";
}

std::optional<Format> format_from_content_type(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  if (iequals(media, "application/openmetrics-text")) return Format::kOpenMetrics;
  if (iequals(media, "text/plain")) return Format::kPrometheusText;
  return std::nullopt;
}

std::string ParseError::to_string() const {
  if (line == 0) return message;
  return fmt::format("line {}, column {}: {}", line, column, message);
}

// ---------------------------------------------------------------------------

ExpositionParser::ExpositionParser(std::string_view body, Format format,
                                   const ParseOptions& options)
    : body_(body), format_(format), options_(options), pos_(body.data()) {}

bool ExpositionParser::fail(const char* at, std::string message) {
  ParseError e;
  e.line = line_;
  e.column = static_cast<std::size_t>(at - line_begin_) + 1;
  e.message = std::move(message);
  error_ = std::move(e);
  done_ = true;
  return false;
}

const char* ExpositionParser::at_view(std::string_view v) const {
  // A view into the body points at its text; one into scratch (unescaped) at
  // the start of the line.
  const char* b = body_.data();
  return v.data() >= b && v.data() <= b + body_.size() ? v.data() : line_begin_;
}

bool ExpositionParser::next() {
  if (done_) return false;
  if (line_ == 0 && options_.body_size_limit != 0 && body_.size() > options_.body_size_limit) {
    error_ = ParseError{0, 0,
                        fmt::format("body of {} bytes exceeds the limit of {} bytes", body_.size(),
                                    options_.body_size_limit)};
    done_ = true;
    return false;
  }
  const char* const body_end = body_.data() + body_.size();
  while (pos_ < body_end) {
    const char* begin = pos_;
    const auto* nl = static_cast<const char*>(
        std::memchr(begin, '\n', static_cast<std::size_t>(body_end - begin)));
    const char* end = nl ? nl : body_end;
    pos_ = nl ? nl + 1 : body_end;
    ++line_;
    line_begin_ = begin;
    if (seen_eof_) return fail(begin, "unexpected data after \"# EOF\"");
    if (format_ == Format::kOpenMetrics && !nl) {
      // Only "# EOF" may end the body without a newline.
      if (std::string_view(begin, static_cast<std::size_t>(end - begin)) != "# EOF")
        return fail(end, "missing \"# EOF\" at the end of the body");
    }
    bool is_sample = false;
    if (!parse_line(begin, end, is_sample)) return false;
    if (is_sample) {
      ++samples_;
      if (options_.sample_limit != 0 && samples_ > options_.sample_limit)
        return fail(begin, fmt::format("sample limit of {} exceeded", options_.sample_limit));
      return true;
    }
  }
  done_ = true;
  if (format_ == Format::kOpenMetrics && !seen_eof_) {
    ++line_;
    line_begin_ = body_end;
    return fail(body_end, "missing \"# EOF\" at the end of the body");
  }
  return false;
}

bool ExpositionParser::parse_line(const char* begin, const char* end, bool& is_sample) {
  const char* p = begin;
  if (format_ == Format::kPrometheusText) {
    while (p < end && is(*p, kBlank)) ++p;
    if (p == end) return true;  // blank line
    if (*p == '#') return parse_comment(p, end);
  } else {
    if (p == end) return fail(p, "blank line (not allowed in OpenMetrics)");
    if (*p == '#') return parse_comment(p, end);
  }
  // Reserve enough scratch for the whole line unescaped (never longer than
  // escaped) plus a normalised le/quantile, so views into it stay valid.
  const std::size_t need = static_cast<std::size_t>(end - begin) + 64;
  if (scratch_.capacity() < need) scratch_.reserve(need);
  scratch_.clear();
  if (!parse_sample(p, end)) return false;
  if (format_ == Format::kOpenMetrics && options_.skip_openmetrics_created_series &&
      ends_with(name_, "_created") && family_ != kNoFamily) {
    const MetricType t = families_[family_].type;
    if (t == MetricType::kCounter || t == MetricType::kHistogram ||
        t == MetricType::kGaugeHistogram || t == MetricType::kSummary)
      return true;  // read, not returned
  }
  is_sample = true;
  return true;
}

std::uint32_t ExpositionParser::family_index_for_metadata(std::string_view name) {
  std::string key(name);
  auto it = family_by_name_.find(key);
  std::uint32_t index;
  if (it != family_by_name_.end()) {
    index = it->second;
  } else {
    index = static_cast<std::uint32_t>(families_.size());
    families_.push_back(Family{key, MetricType::kUnknown, {}, {}});
    family_by_name_.emplace(std::move(key), index);
  }
  last_meta_family_ = index;
  last_sample_name_.clear();
  last_sample_family_ = kNoFamily;
  return index;
}

std::uint32_t ExpositionParser::family_for_sample(std::string_view name) {
  if (!last_sample_name_.empty() && name == last_sample_name_) return last_sample_family_;
  std::uint32_t found = kNoFamily;
  if (last_meta_family_ != kNoFamily &&
      belongs_to(name, families_[last_meta_family_].name, families_[last_meta_family_].type)) {
    found = last_meta_family_;
  } else if (!families_.empty()) {
    // Candidates are built in lookup_ (kept across samples: no allocation).
    auto try_family = [&](std::string_view candidate, std::string_view suffix) {
      lookup_.assign(candidate);
      lookup_.append(suffix);
      auto it = family_by_name_.find(lookup_);
      if (it != family_by_name_.end() &&
          belongs_to(name, families_[it->second].name, families_[it->second].type)) {
        found = it->second;
        return true;
      }
      return false;
    };
    if (!try_family(name, {})) {
      for (std::string_view suffix : kSuffixes) {
        if (!ends_with(name, suffix)) continue;
        const std::string_view stem = name.substr(0, name.size() - suffix.size());
        if (try_family(stem, {})) break;
        // A text-format counter family is named with its _total.
        if (suffix == "_created" && try_family(stem, "_total")) break;
      }
      // "foo" of a text-format counter family "foo_total".
      if (found == kNoFamily) try_family(name, "_total");
    }
  }
  last_sample_name_.assign(name);
  last_sample_family_ = found;
  return found;
}

bool ExpositionParser::parse_comment(const char* begin, const char* end) {
  // begin points at '#'.
  const bool om = format_ == Format::kOpenMetrics;
  const char* p = begin + 1;
  if (om) {
    const std::string_view rest(p, static_cast<std::size_t>(end - p));
    if (rest == " EOF") {
      seen_eof_ = true;
      return true;
    }
    if (p == end || *p != ' ')
      return fail(p, "expected \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\"");
    ++p;
  } else {
    if (p == end || !is(*p, kBlank)) return true;  // a comment: "#..." with no blank
    while (p < end && is(*p, kBlank)) ++p;
  }
  // Keyword.
  enum class Kind { kHelp, kType, kUnit } kind;
  const std::string_view word(p, std::min<std::size_t>(4, static_cast<std::size_t>(end - p)));
  if (word == "HELP") {
    kind = Kind::kHelp;
  } else if (word == "TYPE") {
    kind = Kind::kType;
  } else if (word == "UNIT" && om) {
    kind = Kind::kUnit;
  } else {
    if (om) return fail(p, "expected \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\"");
    return true;  // any other comment
  }
  const char* after_word = p + 4;
  if (after_word == end || !is(*after_word, kBlank)) {
    if (om) return fail(after_word, fmt::format("expected ' ' after {}", word));
    return true;  // "# HELPER ..." is a comment
  }
  if (om && *after_word != ' ') return fail(after_word, fmt::format("expected ' ' after {}", word));
  p = after_word + 1;
  if (!om)
    while (p < end && is(*p, kBlank)) ++p;
  // Metric name, plain or quoted.
  std::string_view name;
  std::string quoted_name;
  if (p < end && *p == '"') {
    const char* q = p + 1;
    while (q < end && *q != '"') {
      if (*q == '\\' && q + 1 < end) ++q;
      ++q;
    }
    if (q >= end) return fail(p, "unterminated quoted metric name");
    for (const char* r = p + 1; r < q; ++r) {
      if (*r == '\\' && r + 1 < q) {
        ++r;
        quoted_name.push_back(*r == 'n' ? '\n' : *r);
      } else {
        quoted_name.push_back(*r);
      }
    }
    if (quoted_name.empty()) return fail(p, "empty metric name");
    if (!valid_utf8(quoted_name)) return fail(p, "invalid UTF-8 in metric name");
    name = quoted_name;
    p = q + 1;
  } else {
    if (p == end || !is(*p, kMetricStart))
      return fail(
          p, fmt::format("expected a metric name after {}, got {}", word, describe_char(p, end)));
    const char* s = p;
    while (p < end && is(*p, kMetricChar)) ++p;
    name = std::string_view(s, static_cast<std::size_t>(p - s));
  }
  // Text after one separator.
  std::string_view text;
  if (p < end) {
    if (om ? *p != ' ' : !is(*p, kBlank))
      return fail(p,
                  fmt::format("expected ' ' after the metric name, got {}", describe_char(p, end)));
    text = std::string_view(p + 1, static_cast<std::size_t>(end - p - 1));
  }
  switch (kind) {
    case Kind::kHelp: {
      if (has_high_byte(text) && !valid_utf8(text)) return fail(p + 1, "invalid UTF-8 in HELP");
      std::string help;
      help.reserve(text.size());
      for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\\' && i + 1 < text.size()) {
          const char n = text[i + 1];
          if (n == '\\' || n == 'n' || (om && n == '"')) {
            help.push_back(n == 'n' ? '\n' : n);
            ++i;
            continue;
          }
        }
        help.push_back(c);
      }
      const std::uint32_t f = family_index_for_metadata(name);
      families_[f].help = std::move(help);
      return true;
    }
    case Kind::kType: {
      std::string_view t = text;
      if (!om)
        while (!t.empty() && is(t.back(), kBlank)) t.remove_suffix(1);
      bool ok = false;
      const MetricType type = parse_type(t, format_, ok);
      if (!ok) return fail(p + (p < end ? 1 : 0), fmt::format("invalid metric type {}", quote(t)));
      const std::uint32_t f = family_index_for_metadata(name);
      families_[f].type = type;
      return true;
    }
    case Kind::kUnit: {
      if (!text.empty()) {
        if (!ends_with(name, text) || name.size() < text.size() + 1 ||
            name[name.size() - text.size() - 1] != '_')
          return fail(p + 1, fmt::format("unit {} is not a suffix of the metric name {}",
                                         quote(text), quote(name)));
      }
      const std::uint32_t f = family_index_for_metadata(name);
      families_[f].unit = std::string(text);
      return true;
    }
  }
  return true;
}

// Reads `{...}` starting at p (on '{'), appending labels to labels_ (or, for
// an exemplar, checking them and dropping them). Sets name_ when the block
// holds a quoted metric name.
bool ExpositionParser::parse_labels(const char*& p, const char* end, bool exemplar) {
  const bool om = format_ == Format::kOpenMetrics;
  const std::size_t first = labels_.size();
  auto skip_blanks = [&] {
    if (!om)
      while (p < end && is(*p, kBlank)) ++p;
  };
  // Reads a quoted string at p (on '"'): the unescaped text, in the body when
  // it has no escapes, else in scratch_.
  auto read_quoted = [&](std::string_view& out, const char* what) -> bool {
    const char* open = p;
    const char* s = p + 1;
    const char* q = s;
    bool escaped = false;
    while (true) {
      // Fast scan to the next quote or backslash.
      while (q < end && *q != '"' && *q != '\\') ++q;
      if (q >= end) return fail(open, fmt::format("unterminated {}", what));
      if (*q == '"') break;
      escaped = true;
      q += 2;  // skip the escaped character
      if (q > end) return fail(open, fmt::format("unterminated {}", what));
    }
    if (!escaped) {
      out = std::string_view(s, static_cast<std::size_t>(q - s));
    } else {
      const std::size_t start = scratch_.size();
      for (const char* r = s; r < q; ++r) {
        if (*r == '\\') {
          const char n = r[1];
          if (n == '\\' || n == '"') {
            scratch_.push_back(n);
            ++r;
            continue;
          }
          if (n == 'n') {
            scratch_.push_back('\n');
            ++r;
            continue;
          }
        }
        scratch_.push_back(*r);
      }
      out = std::string_view(scratch_.data() + start, scratch_.size() - start);
    }
    if (has_high_byte(out) && !valid_utf8(out))
      return fail(open, fmt::format("invalid UTF-8 in {}", what));
    p = q + 1;
    return true;
  };

  ++p;  // '{'
  while (true) {
    skip_blanks();
    if (p < end && *p == '}') {
      ++p;
      break;
    }
    const char* name_at = p;
    std::string_view label_name;
    if (p < end && *p == '"') {
      std::string_view quoted;
      if (!read_quoted(quoted, "quoted name")) return false;
      skip_blanks();
      if (p < end && (*p == ',' || *p == '}')) {
        // A quoted metric name: {"my.metric", a="b"}.
        if (exemplar) return fail(name_at, "expected a label name in the exemplar");
        if (!name_.empty()) return fail(name_at, "metric name given twice");
        if (quoted.empty()) return fail(name_at, "empty metric name");
        name_ = quoted;
        if (*p == ',') ++p;
        continue;
      }
      label_name = quoted;
      if (label_name.empty()) return fail(name_at, "empty label name");
    } else {
      if (p >= end || !is(*p, kLabelStart))
        return fail(p, fmt::format("expected a label name or '}}', got {}", describe_char(p, end)));
      const char* s = p;
      while (p < end && is(*p, kLabelChar)) ++p;
      label_name = std::string_view(s, static_cast<std::size_t>(p - s));
    }
    skip_blanks();
    if (p >= end || *p != '=')
      return fail(p, fmt::format("expected '=' after label name, got {}", describe_char(p, end)));
    ++p;
    skip_blanks();
    if (p >= end || *p != '"')
      return fail(
          p, fmt::format("expected '\"' to open the label value, got {}", describe_char(p, end)));
    const char* value_at = p;
    std::string_view label_value;
    if (!read_quoted(label_value, "label value")) return false;
    if (!exemplar) {
      if (label_name == kMetricNameLabel)
        return fail(name_at, "label name \"__name__\" is reserved for the metric name");
      if (options_.label_name_length_limit != 0 &&
          label_name.size() > options_.label_name_length_limit)
        return fail(name_at, fmt::format("label name longer than the limit of {} bytes",
                                         options_.label_name_length_limit));
      if (options_.label_value_length_limit != 0 &&
          label_value.size() > options_.label_value_length_limit)
        return fail(value_at, fmt::format("label value longer than the limit of {} bytes",
                                          options_.label_value_length_limit));
      if (options_.label_limit != 0 && labels_.size() - first >= options_.label_limit)
        return fail(name_at, fmt::format("more than the limit of {} labels", options_.label_limit));
      labels_.push_back(LabelView{label_name, label_value});
    }
    skip_blanks();
    if (p < end && *p == ',') {
      ++p;
      continue;
    }
    if (p < end && *p == '}') {
      ++p;
      break;
    }
    return fail(
        p, fmt::format("expected ',' or '}}' after label value, got {}", describe_char(p, end)));
  }
  if (exemplar) return true;
  // Duplicate names: quadratic for the usual handful, sorted beyond.
  const std::size_t n = labels_.size() - first;
  if (n > 1) {
    if (n <= 16) {
      for (std::size_t i = first; i < labels_.size(); ++i)
        for (std::size_t j = i + 1; j < labels_.size(); ++j)
          if (labels_[i].name == labels_[j].name)
            return fail(at_view(labels_[j].name),
                        fmt::format("duplicate label name {}", quote(labels_[j].name)));
    } else {
      std::vector<std::string_view> names;
      names.reserve(n);
      for (std::size_t i = first; i < labels_.size(); ++i) names.push_back(labels_[i].name);
      std::sort(names.begin(), names.end());
      const auto dup = std::adjacent_find(names.begin(), names.end());
      if (dup != names.end())
        return fail(at_view(*dup), fmt::format("duplicate label name {}", quote(*dup)));
    }
  }
  return true;
}

bool ExpositionParser::parse_exemplar(const char*& p, const char* end) {
  // p is after " # ", on '{'.
  const std::size_t labels_before = labels_.size();
  if (!parse_labels(p, end, /*exemplar=*/true)) return false;
  labels_.resize(labels_before);
  if (p >= end || *p != ' ')
    return fail(p, fmt::format("expected ' ' and a value after the exemplar's labels, got {}",
                               describe_char(p, end)));
  ++p;
  const char* s = p;
  while (p < end && *p != ' ') ++p;
  if (!parse_float(std::string_view(s, static_cast<std::size_t>(p - s))))
    return fail(s, fmt::format("invalid exemplar value {}",
                               quote(std::string_view(s, static_cast<std::size_t>(p - s)))));
  if (p == end) return true;
  ++p;
  s = p;
  while (p < end && *p != ' ') ++p;
  const auto ts = parse_float(std::string_view(s, static_cast<std::size_t>(p - s)));
  if (!ts || std::isnan(*ts) || std::isinf(*ts))
    return fail(s, fmt::format("invalid exemplar timestamp {}",
                               quote(std::string_view(s, static_cast<std::size_t>(p - s)))));
  if (p != end) return fail(p, "unexpected text after the exemplar");
  return true;
}

bool ExpositionParser::parse_timestamp(const char*& p, const char* end) {
  const char* s = p;
  if (format_ == Format::kPrometheusText) {
    while (p < end && !is(*p, kBlank)) ++p;
    const std::string_view tok(s, static_cast<std::size_t>(p - s));
    std::int64_t t = 0;
    bool ok = !tok.empty();
    for (char c : tok) {
      if (c < '0' || c > '9') {
        ok = false;
        break;
      }
    }
    if (ok) {
      const auto r = std::from_chars(tok.data(), tok.data() + tok.size(), t);
      ok = r.ec == std::errc() && r.ptr == tok.data() + tok.size();
    }
    if (!ok) {
      if (tok.find('\r') != std::string_view::npos)
        return fail(s + tok.find('\r'), "carriage return (CRLF line endings are not allowed)");
      return fail(s,
                  fmt::format("invalid timestamp {} (expected integer milliseconds)", quote(tok)));
    }
    timestamp_ = t;
    return true;
  }
  while (p < end && *p != ' ') ++p;
  const std::string_view tok(s, static_cast<std::size_t>(p - s));
  const auto seconds = parse_float(tok);
  if (!seconds || std::isnan(*seconds) || std::isinf(*seconds))
    return fail(s, fmt::format("invalid timestamp {} (expected seconds)", quote(tok)));
  const double ms = *seconds * 1000.0;
  if (!(ms > -9.2e18 && ms < 9.2e18))
    return fail(s, fmt::format("timestamp {} out of range", quote(tok)));
  timestamp_ = static_cast<std::int64_t>(ms);  // truncates, as Prometheus's int64(ts * 1000)
  return true;
}

bool ExpositionParser::parse_sample(const char* begin, const char* end) {
  const bool om = format_ == Format::kOpenMetrics;
  const char* p = begin;
  labels_.clear();
  name_ = {};
  timestamp_.reset();
  const char* key_begin = p;
  if (is(*p, kMetricStart)) {
    while (p < end && is(*p, kMetricChar)) ++p;
    name_ = std::string_view(begin, static_cast<std::size_t>(p - begin));
    if (!om) {
      // The text format allows blanks between the name and its labels.
      const char* q = p;
      while (q < end && is(*q, kBlank)) ++q;
      if (q < end && *q == '{') p = q;
    }
  } else if (*p != '{') {
    return fail(p, fmt::format("expected a metric name, got {}", describe_char(p, end)));
  }
  if (p < end && *p == '{') {
    if (!parse_labels(p, end, /*exemplar=*/false)) return false;
  }
  if (name_.empty()) return fail(key_begin, "metric name missing");
  series_key_ = std::string_view(key_begin, static_cast<std::size_t>(p - key_begin));

  // Value.
  if (om) {
    if (p >= end || *p != ' ')
      return fail(p, fmt::format("expected ' ' and a value after the metric, got {}",
                                 describe_char(p, end)));
    ++p;
  } else {
    // Blanks separate the value, except right after '}' (as Prometheus reads it).
    if (p >= end || (!is(*p, kBlank) && p[-1] != '}'))
      return fail(p,
                  fmt::format("expected a value after the metric, got {}", describe_char(p, end)));
    while (p < end && is(*p, kBlank)) ++p;
  }
  const char* value_at = p;
  if (om) {
    while (p < end && *p != ' ') ++p;
  } else {
    while (p < end && !is(*p, kBlank) && *p != '{') ++p;
  }
  const std::string_view value_text(value_at, static_cast<std::size_t>(p - value_at));
  if (value_text.empty())
    return fail(value_at, fmt::format("expected a value, got {}", describe_char(p, end)));
  const auto v = parse_float(value_text);
  if (!v) {
    const auto cr = value_text.find('\r');
    if (cr != std::string_view::npos)
      return fail(value_at + cr, "carriage return (CRLF line endings are not allowed)");
    return fail(value_at, fmt::format("invalid value {}", quote(value_text)));
  }
  value_ = *v;

  // Timestamp and, in OpenMetrics, exemplar.
  if (om) {
    if (p < end) {
      ++p;  // ' '
      if (p < end && *p == '#') {
        if (end - p < 3 || p[1] != ' ' || p[2] != '{')
          return fail(p, "expected \"# {\" to open an exemplar");
        p += 2;
        if (!parse_exemplar(p, end)) return false;
      } else {
        if (p == end) return fail(p, "expected a timestamp after ' ', got end of line");
        if (!parse_timestamp(p, end)) return false;
        if (p < end) {
          if (end - p < 4 || p[1] != '#' || p[2] != ' ' || p[3] != '{')
            return fail(p, "expected end of line or an exemplar after the timestamp");
          p += 3;
          if (!parse_exemplar(p, end)) return false;
        }
      }
    }
  } else {
    while (p < end && is(*p, kBlank)) ++p;
    if (p < end) {
      if (!parse_timestamp(p, end)) return false;
      while (p < end && is(*p, kBlank)) ++p;
      if (p < end)
        return fail(p, fmt::format("expected end of line after the timestamp, got {}",
                                   describe_char(p, end)));
    }
  }

  family_ = family_for_sample(name_);
  // Normalise le / quantile as Prometheus 3 does.
  if (family_ != kNoFamily) {
    const MetricType t = families_[family_].type;
    const std::string_view special = t == MetricType::kHistogram ? std::string_view("le")
                                     : t == MetricType::kSummary ? std::string_view("quantile")
                                                                 : std::string_view();
    if (!special.empty()) {
      for (auto& l : labels_) {
        if (l.name != special) continue;
        const auto f = parse_float(l.value);
        if (!f) break;
        const std::size_t start = scratch_.size();
        format_openmetrics_float(*f, scratch_);
        const std::string_view canonical(scratch_.data() + start, scratch_.size() - start);
        if (canonical != l.value) l.value = canonical;
        break;
      }
    }
  }
  return true;
}

LabelSet ExpositionParser::label_set() const {
  std::vector<Label> v;
  v.reserve(labels_.size() + 1);
  v.push_back(Label{std::string(kMetricNameLabel), std::string(name_)});
  for (const auto& l : labels_) v.push_back(Label{std::string(l.name), std::string(l.value)});
  return LabelSet::from(std::move(v));
}

// ---------------------------------------------------------------------------

ParseResult parse_exposition(std::string_view body, Format format, const ParseOptions& options) {
  ParseResult result;
  result.format = format;
  ExpositionParser parser(body, format, options);
  // One sample per line at most: reserve once (bounded by the body limit).
  if (options.body_size_limit == 0 || body.size() <= options.body_size_limit)
    result.samples.reserve(static_cast<std::size_t>(std::count(body.begin(), body.end(), '\n')) +
                           1);
  while (parser.next()) {
    result.samples.push_back(ParsedSample{parser.label_set(), parser.value(), parser.timestamp_ms(),
                                          parser.family_index()});
  }
  if (parser.error()) {
    result.error = parser.error();
    result.samples.clear();
    result.samples.shrink_to_fit();
    return result;
  }
  result.families = parser.families();
  return result;
}

ParseResult parse_exposition(std::string_view body, std::string_view content_type,
                             const ParseOptions& options) {
  std::optional<Format> format = format_from_content_type(content_type);
  if (!format) format = options.fallback_format;
  if (!format) {
    ParseResult result;
    result.error = ParseError{0, 0,
                              fmt::format("unsupported Content-Type {} (expected text/plain or "
                                          "application/openmetrics-text)",
                                          quote(content_type))};
    return result;
  }
  return parse_exposition(body, *format, options);
}

}  // namespace watch::scrape
