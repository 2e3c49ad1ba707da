#include "firebreak/exposition.h"

#include <zlib.h>

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace firebreak {

namespace {

constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kOpenMetricsContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

// ---------------------------------------------------------------------------
// Header parsing. Tolerant: whatever it cannot read it skips.

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// A q-value per RFC 9110: 0, 1, or 0.xxx; anything else counts as 0.
double parse_q(std::string_view v) {
  v = trim(v);
  if (v.empty() || v.size() > 5) return 0;
  if (v[0] == '1') {
    for (char c : v.substr(1)) {
      if (c != '.' && c != '0') return 0;
    }
    return 1;
  }
  if (v[0] != '0') return 0;
  if (v.size() == 1) return 0;
  if (v[1] != '.') return 0;
  double q = 0, scale = 0.1;
  for (char c : v.substr(2)) {
    if (c < '0' || c > '9') return 0;
    q += (c - '0') * scale;
    scale /= 10;
  }
  return q;
}

// Calls fn(value, params) for each comma-separated element of a header, where
// params is the part after the first ';'.
template <class Fn>
void for_each_element(std::string_view header, Fn fn) {
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view element = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const std::size_t semi = element.find(';');
    std::string_view value = trim(element.substr(0, semi));
    std::string_view params =
        semi == std::string_view::npos ? std::string_view() : element.substr(semi + 1);
    if (!value.empty()) fn(value, params);
  }
}

// Calls fn(name, value) for each ';'-separated parameter.
template <class Fn>
void for_each_param(std::string_view params, Fn fn) {
  while (!params.empty()) {
    const std::size_t semi = params.find(';');
    std::string_view param = params.substr(0, semi);
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    const std::size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view value = trim(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    fn(trim(param.substr(0, eq)), value);
  }
}

// ---------------------------------------------------------------------------
// Writing.

void append_escaped(std::string& out, std::string_view s, bool escape_quote) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const char* rep = nullptr;
    if (c == '\\')
      rep = "\\\\";
    else if (c == '\n')
      rep = "\\n";
    else if (c == '"' && escape_quote)
      rep = "\\\"";
    if (!rep) continue;
    out.append(s.data() + start, i - start);
    out.append(rep);
    start = i + 1;
  }
  out.append(s.data() + start, s.size() - start);
}

// A sample value. Integral values below 2^53 print as integers; the rest in
// the shortest form that reads back to the same double.
void append_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("NaN");
  } else if (std::isinf(v)) {
    out.append(v > 0 ? "+Inf" : "-Inf");
  } else if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
    const auto i = static_cast<long long>(v);
    fmt::format_int digits(i);
    if (i == 0 && std::signbit(v)) out.push_back('-');
    out.append(digits.data(), digits.size());
  } else {
    char buf[32];
    const auto end = fmt::format_to(buf, "{}", v);
    out.append(buf, end);
  }
}

// A bucket bound for le="...". OpenMetrics wants integral bounds as "1.0" (as
// client_golang and client_python write them); the text format writes "1".
void append_bound(std::string& out, double bound, ExpositionFormat format) {
  const std::size_t before = out.size();
  append_value(out, bound);
  if (format == ExpositionFormat::kOpenMetrics && std::isfinite(bound) &&
      out.find_first_of(".e", before) == std::string::npos)
    out.append(".0");
}

void append_labels(std::string& out, const Labels& labels, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return;
  out.push_back('{');
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out.push_back(',');
    first = false;
    out.append(name);
    out.append("=\"");
    append_escaped(out, value, true);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out.push_back(',');
    out.append(extra_name);
    out.append("=\"");
    out.append(extra_value);
    out.push_back('"');
  }
  out.push_back('}');
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   const Labels& labels, double value) {
  out.append(name);
  out.append(suffix);
  append_labels(out, labels);
  out.push_back(' ');
  append_value(out, value);
  out.push_back('\n');
}

void write_family(std::string& out, const FamilySnapshot& f, ExpositionFormat format) {
  const bool om = format == ExpositionFormat::kOpenMetrics;
  // The text format names a counter family after its sample (foo_total), as
  // the Prometheus clients do; OpenMetrics names it without the suffix.
  const std::string_view family_suffix = (!om && f.type == MetricType::kCounter) ? "_total" : "";

  out.append("# HELP ");
  out.append(f.name);
  out.append(family_suffix);
  out.push_back(' ');
  append_escaped(out, f.help, om);
  out.append("\n# TYPE ");
  out.append(f.name);
  out.append(family_suffix);
  out.push_back(' ');
  out.append(to_string(f.type));
  out.push_back('\n');
  if (om && !f.unit.empty()) {
    out.append("# UNIT ");
    out.append(f.name);
    out.push_back(' ');
    out.append(f.unit);
    out.push_back('\n');
  }

  for (const MetricPoint& p : f.points) {
    const Labels& labels = *p.labels;
    switch (f.type) {
      case MetricType::kGauge:
        append_sample(out, f.name, "", labels, p.value);
        break;
      case MetricType::kCounter:
        append_sample(out, f.name, "_total", labels, p.value);
        if (om && !std::isnan(p.created)) append_sample(out, f.name, "_created", labels, p.created);
        break;
      case MetricType::kHistogram: {
        std::string le;
        for (std::size_t i = 0; i < p.bucket_counts.size(); ++i) {
          le.clear();
          if (i < f.bounds.size())
            append_bound(le, f.bounds[i], format);
          else
            le = "+Inf";
          out.append(f.name);
          out.append("_bucket");
          append_labels(out, labels, "le", le);
          out.push_back(' ');
          append_value(out, static_cast<double>(p.bucket_counts[i]));
          out.push_back('\n');
        }
        const double count =
            p.bucket_counts.empty() ? 0 : static_cast<double>(p.bucket_counts.back());
        append_sample(out, f.name, "_count", labels, count);
        append_sample(out, f.name, "_sum", labels, p.sum);
        if (om && !std::isnan(p.created)) append_sample(out, f.name, "_created", labels, p.created);
        break;
      }
    }
  }
}

}  // namespace

ExpositionFormat negotiate_format(std::string_view accept) {
  double openmetrics_q = 0, text_q = 0;
  for_each_element(accept, [&](std::string_view range, std::string_view params) {
    double q = 1;
    std::string_view version;
    for_each_param(params, [&](std::string_view name, std::string_view value) {
      if (iequals(name, "q")) q = parse_q(value);
      if (iequals(name, "version")) version = value;
    });
    if (iequals(range, "application/openmetrics-text")) {
      if (version.empty() || version == "1.0.0" || version == "0.0.1")
        openmetrics_q = std::max(openmetrics_q, q);
    } else if (iequals(range, "text/plain")) {
      if (version.empty() || version == "0.0.4") text_q = std::max(text_q, q);
    } else if (iequals(range, "text/*") || range == "*/*") {
      text_q = std::max(text_q, q);
    }
  });
  return openmetrics_q > 0 && openmetrics_q >= text_q ? ExpositionFormat::kOpenMetrics
                                                      : ExpositionFormat::kPrometheusText;
}

std::string_view content_type(ExpositionFormat format) {
  return format == ExpositionFormat::kOpenMetrics ? kOpenMetricsContentType : kTextContentType;
}

void write_exposition(const std::vector<FamilySnapshot>& families, ExpositionFormat format,
                      std::string& out) {
  for (const FamilySnapshot& f : families) write_family(out, f, format);
  if (format == ExpositionFormat::kOpenMetrics) out.append("# EOF\n");
}

bool accepts_gzip(std::string_view accept_encoding) {
  // An explicit "gzip" (or "x-gzip") entry decides; otherwise "*" does.
  double gzip_q = -1, any_q = -1;
  for_each_element(accept_encoding, [&](std::string_view coding, std::string_view params) {
    double q = 1;
    for_each_param(params, [&](std::string_view name, std::string_view value) {
      if (iequals(name, "q")) q = parse_q(value);
    });
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip"))
      gzip_q = std::max(gzip_q, q);
    else if (coding == "*")
      any_q = std::max(any_q, q);
  });
  return gzip_q >= 0 ? gzip_q > 0 : any_q > 0;
}

std::string gzip_compress(std::string_view data) {
  z_stream zs{};
  // windowBits 15 + 16 selects the gzip wrapper. Level 1: scrapes compress
  // well at any level, and the scrape's latency matters more than bytes.
  if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip: deflateInit2 failed");
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip: deflate failed");
  out.resize(zs.total_out);
  return out;
}

}  // namespace firebreak
