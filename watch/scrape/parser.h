// Exposition parser: turns a scraped /metrics body into samples, for the
// Prometheus text format 0.0.4 and OpenMetrics 1.0 text, from any client
// (firebreak's kit, Python prometheus_client, the Go client, Pushgateway).
//
// Two ways in. The simple one builds everything:
//
//   watch::scrape::ParseResult r =
//       watch::scrape::parse_exposition(body, response_content_type, {.body_size_limit = limit});
//   if (!r.ok()) return fail_scrape(r.error->to_string());  // "line 12, column 7: expected '='..."
//   for (const auto& s : r.samples) head.append(s.labels, s.timestamp_ms.value_or(now), s.value);
//
// The streaming one lets a scrape loop skip building label sets for series it
// has already seen (Prometheus's scrape cache), keyed by the series as written:
//
//   watch::scrape::ExpositionParser p(body, format);
//   while (p.next()) {
//     auto ref = cache.find(p.series_key());          // e.g. `up{job="a"}`: no allocation
//     if (!ref) ref = cache.add(p.series_key(), head.get_or_create(p.label_set()));
//     head.append(*ref, p.timestamp_ms().value_or(now), p.value());
//   }
//   if (p.error()) fail_scrape(p.error()->to_string());
//
// Semantics follow Prometheus's textparse (promparse.go, openmetricsparse.go):
// - the format comes from the Content-Type (application/openmetrics-text or
//   text/plain; anything else uses ParseOptions::fallback_format);
// - label values unescape \\ \" \n (any other escape is kept as written); HELP
//   in the text format unescapes \\ and \n; label values and HELP must be UTF-8;
// - values are floats with +Inf, -Inf and NaN (any case, as Go's ParseFloat);
//   a scraped NaN is an ordinary NaN, never the staleness marker;
// - timestamps are integer milliseconds in the text format and float seconds
//   in OpenMetrics (truncated to milliseconds);
// - `le` of histogram buckets and `quantile` of summaries are normalised to
//   OpenMetrics float text ("1" -> "1.0"), as Prometheus 3 does, so the same
//   series has the same labels whichever format it was scraped in;
// - OpenMetrics `_created` lines are ordinary samples (Prometheus ingests them
//   as series unless its created-timestamp-zero-ingestion feature is on;
//   ParseOptions::skip_openmetrics_created_series is that feature's behaviour);
// - exemplars are checked for syntax and skipped;
// - OpenMetrics must end with "# EOF" and allows no blank lines, no other
//   comments and single spaces only; the text format allows blank lines,
//   comments, leading and repeated blanks.
// Deliberately stricter than Prometheus in two corners no client produces:
// a raw newline inside a quoted label value, and labels not separated by ','.
//
// Any input is safe: malformed input gives a ParseError with line and column
// (1-based; the column counts bytes), never a crash; time is linear in the
// body and memory bounded by the limits in ParseOptions.
//
// Thread-safety: the functions are pure; an ExpositionParser is used by one
// thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "watch/model/model.h"

namespace watch::scrape {

enum class Format : std::uint8_t { kPrometheusText, kOpenMetrics };

enum class MetricType : std::uint8_t {
  kUnknown,  // untyped (text) or unknown (OpenMetrics), and samples with no TYPE
  kCounter,
  kGauge,
  kHistogram,
  kGaugeHistogram,
  kSummary,
  kInfo,
  kStateSet,
};

// "counter", "gauge", ... ("unknown" for kUnknown).
std::string_view to_string(MetricType type);

// The format for a response's Content-Type, or nullopt when it names neither
// (empty, protobuf, anything else). Case-insensitive; parameters are ignored.
std::optional<Format> format_from_content_type(std::string_view content_type);

struct ParseOptions {
  // Bodies larger than this are refused before parsing. 0: no limit.
  std::size_t body_size_limit = 64u << 20;
  // More samples than this fail the parse (Prometheus's sample_limit). 0: no limit.
  std::size_t sample_limit = 0;
  // Per sample, the number of labels besides the metric name (label_limit) and
  // the length in bytes of a label name or value, after unescaping. 0: no limit.
  std::size_t label_limit = 64;
  std::size_t label_name_length_limit = 256;
  std::size_t label_value_length_limit = 16 * 1024;
  // Drop OpenMetrics `_created` lines of counters, histograms, gauge histograms
  // and summaries instead of returning them as samples.
  bool skip_openmetrics_created_series = false;
  // Format for a Content-Type that names none (Prometheus 2's behaviour is the
  // text format; Prometheus 3 fails the scrape unless told, which is nullopt).
  std::optional<Format> fallback_format = Format::kPrometheusText;
};

struct ParseError {
  std::size_t line = 0;    // 1-based; 0 when the error is about the whole body
  std::size_t column = 0;  // 1-based byte offset in the line
  std::string message;
  // "line 12, column 7: expected '=' after label name" (or just the message).
  std::string to_string() const;
};

// Metadata of a metric family, from HELP, TYPE and UNIT lines.
struct Family {
  std::string name;
  MetricType type = MetricType::kUnknown;
  std::string help;
  std::string unit;  // OpenMetrics only
};

inline constexpr std::uint32_t kNoFamily = 0xffffffffu;

struct ParsedSample {
  LabelSet labels;  // with __name__
  double value = 0;
  std::optional<std::int64_t> timestamp_ms;
  std::uint32_t family = kNoFamily;  // index into ParseResult::families
};

struct ParseResult {
  Format format = Format::kPrometheusText;
  std::vector<ParsedSample> samples;
  std::vector<Family> families;     // in order of first mention
  std::optional<ParseError> error;  // set: the body is rejected, samples and families are empty
  bool ok() const { return !error.has_value(); }
};

// Parses a whole body. The format comes from `content_type`.
ParseResult parse_exposition(std::string_view body, std::string_view content_type,
                             const ParseOptions& options = {});
// Same, with the format given.
ParseResult parse_exposition(std::string_view body, Format format,
                             const ParseOptions& options = {});

// A label of the current sample: views into the body, or into the parser's
// scratch space when unescaped or normalised.
struct LabelView {
  std::string_view name;
  std::string_view value;
};

// Streaming parser over one body. Allocates nothing per sample once its
// scratch space has grown to the longest line (metadata lines add a family).
class ExpositionParser {
 public:
  // `body` must outlive the parser. A body over options.body_size_limit fails
  // on the first next().
  ExpositionParser(std::string_view body, Format format, const ParseOptions& options = {});

  ExpositionParser(const ExpositionParser&) = delete;
  ExpositionParser& operator=(const ExpositionParser&) = delete;

  // Moves to the next sample, reading metadata and comments on the way.
  // False at the end of the body or on an error (then error() is set); after
  // that it stays false.
  bool next();
  const std::optional<ParseError>& error() const { return error_; }

  // The current sample; valid until the next call to next().
  // The series as written in the body, from the metric name to the closing
  // brace: the same bytes for the same series in every scrape of a target.
  std::string_view series_key() const { return series_key_; }
  std::string_view metric_name() const { return name_; }
  // Labels besides the metric name, in body order, unescaped.
  std::span<const LabelView> labels() const { return labels_; }
  double value() const { return value_; }
  std::optional<std::int64_t> timestamp_ms() const { return timestamp_; }
  // Index into families() of the current sample's family, or kNoFamily.
  std::uint32_t family_index() const { return family_; }
  // The current sample's labels as a LabelSet with __name__ (allocates).
  LabelSet label_set() const;

  const std::vector<Family>& families() const { return families_; }
  std::size_t samples_read() const { return samples_; }
  Format format() const { return format_; }

 private:
  bool fail(const char* at, std::string message);
  const char* at_view(std::string_view v) const;
  bool parse_line(const char* begin, const char* end, bool& is_sample);
  bool parse_comment(const char* begin, const char* end);
  bool parse_sample(const char* begin, const char* end);
  bool parse_labels(const char*& p, const char* end, bool exemplar);
  bool parse_timestamp(const char*& p, const char* end);
  bool parse_exemplar(const char*& p, const char* end);
  std::uint32_t family_index_for_metadata(std::string_view name);
  std::uint32_t family_for_sample(std::string_view name);

  std::string_view body_;
  Format format_;
  ParseOptions options_;
  const char* pos_;       // start of the next line
  std::size_t line_ = 0;  // number of the line being parsed
  const char* line_begin_ = nullptr;
  bool done_ = false;
  bool seen_eof_ = false;  // OpenMetrics "# EOF"
  std::optional<ParseError> error_;

  std::string_view series_key_;
  std::string_view name_;
  std::vector<LabelView> labels_;
  double value_ = 0;
  std::optional<std::int64_t> timestamp_;
  std::uint32_t family_ = kNoFamily;
  std::size_t samples_ = 0;
  std::string scratch_;  // unescaped text of the current line

  std::vector<Family> families_;
  std::unordered_map<std::string, std::uint32_t> family_by_name_;
  std::uint32_t last_meta_family_ = kNoFamily;  // family of the latest metadata line
  std::string last_sample_name_;                // memo of family_for_sample
  std::uint32_t last_sample_family_ = kNoFamily;
  std::string lookup_;  // family_for_sample's candidate names
};

}  // namespace watch::scrape
