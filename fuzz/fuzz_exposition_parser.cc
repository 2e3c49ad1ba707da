// Fuzz target: the exposition parser (watch/scrape/parser.h), which reads
// bodies scraped off the network from any target.
//
// Besides "no crash, no hang, no sanitizer report, no unbounded memory", it
// checks properties that hold for every input, in both formats:
// - an accepted body gives samples with a metric name and labels within the
//   limits, and families referenced by index exist;
// - a rejected body gives an error with a line and column inside the body;
// - the streaming parser reads exactly what parse_exposition() returns;
// - parsing is deterministic (the same bytes copied elsewhere read the same).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "watch/scrape/parser.h"

namespace {

using watch::scrape::ExpositionParser;
using watch::scrape::Format;
using watch::scrape::ParseOptions;
using watch::scrape::ParseResult;

[[noreturn]] void violated(const char* property, std::string_view input) {
  std::fprintf(stderr, "property violated: %s\ninput (%zu bytes): %.*s\n", property, input.size(),
               static_cast<int>(input.size() > 2000 ? 2000 : input.size()), input.data());
  std::abort();
}

std::size_t count_lines(std::string_view s) {
  std::size_t n = 1;
  for (char c : s) n += c == '\n';
  return n;
}

void check(std::string_view body, Format format, const ParseOptions& options) {
  const ParseResult r = watch::scrape::parse_exposition(body, format, options);
  if (r.ok()) {
    for (const auto& s : r.samples) {
      if (s.labels.metric_name().empty()) violated("sample without a metric name", body);
      if (options.label_limit && s.labels.size() > options.label_limit + 1)
        violated("more labels than the limit", body);
      for (const auto& l : s.labels) {
        if (l.name != watch::kMetricNameLabel && options.label_value_length_limit &&
            l.value.size() > options.label_value_length_limit)
          violated("label value over the limit", body);
      }
      if (s.family != watch::scrape::kNoFamily && s.family >= r.families.size())
        violated("sample refers to a family that does not exist", body);
    }
    if (options.sample_limit && r.samples.size() > options.sample_limit)
      violated("more samples than the limit", body);
  } else {
    if (!r.samples.empty()) violated("rejected body returned samples", body);
    const auto& e = *r.error;
    if (e.message.empty()) violated("error without a message", body);
    if (e.line == 0) {
      if (options.body_size_limit == 0 || body.size() <= options.body_size_limit)
        violated("error without a position", body);
    } else {
      if (e.line > count_lines(body) + 1) violated("error line past the end", body);
      if (e.column == 0) violated("error column 0", body);
    }
  }

  // Streaming reads the same.
  ExpositionParser p(body, format, options);
  std::size_t n = 0;
  while (p.next()) {
    if (r.ok() && (n >= r.samples.size() || p.label_set() != r.samples[n].labels ||
                   p.timestamp_ms() != r.samples[n].timestamp_ms))
      violated("streaming parser disagrees", body);
    if (p.series_key().empty()) violated("empty series key", body);
    ++n;
  }
  if (p.error().has_value() == r.ok()) violated("streaming parser's verdict differs", body);
  if (r.ok() && n != r.samples.size()) violated("streaming parser read a different count", body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const ParseOptions defaults;
  check(body, Format::kPrometheusText, defaults);
  check(body, Format::kOpenMetrics, defaults);

  // Tight limits, derived from the input so the fuzzer explores them.
  ParseOptions tight;
  tight.body_size_limit = size > 0 ? 1 + data[0] * 16 : 0;
  tight.sample_limit = size > 1 ? data[1] % 8 : 0;
  tight.label_limit = size > 2 ? data[2] % 4 : 0;
  tight.label_name_length_limit = 8;
  tight.label_value_length_limit = 8;
  tight.skip_openmetrics_created_series = size > 3 && (data[3] & 1);
  check(body, Format::kPrometheusText, tight);
  check(body, Format::kOpenMetrics, tight);

  // Deterministic: a copy reads the same.
  const std::string copy(body);
  const ParseResult a = watch::scrape::parse_exposition(body, Format::kPrometheusText);
  const ParseResult b = watch::scrape::parse_exposition(copy, Format::kPrometheusText);
  if (a.ok() != b.ok() || a.samples.size() != b.samples.size() ||
      (!a.ok() && a.error->to_string() != b.error->to_string()))
    violated("parsing the same bytes twice differs", body);
  return 0;
}
