// Templated alert labels and annotations: the subset of Go's text/template
// that Prometheus rule files use, with Prometheus's template functions.
//
//   watch::rules::TemplateData data{.labels = {{"instance", "a:9100"}}, .value = 0.93};
//   auto r = watch::rules::expand_template("__alert_X", "{{ $labels.instance }} at "
//                                          "{{ humanizePercentage $value }}", data);
//   // r.text == "a:9100 at 93%"
//
// Supported: text and actions with trim markers ({{- and -}}) and comments;
// variables $labels, $value, $externalLabels, $externalURL and their dotted
// forms .Labels, .Value, .ExternalLabels, .ExternalURL; field access on maps
// ($labels.job, missing key -> "<no value>"); string, raw-string and number
// literals; pipelines with `|`; parenthesised pipelines; `$x := ...`;
// if / else if / else / end; the functions humanize, humanize1024,
// humanizeDuration, humanizePercentage, humanizeTimestamp, printf, toUpper,
// toLower, title, match, reReplaceAll, stripPort, eq, ne, lt, le, gt, ge, not,
// and, or. Not supported (a clear expansion error): range, with, define,
// template, the query functions (query, first, label, value, sortByLabel).
//
// Never crashes or loops on bad input: errors come back in the result, and
// Prometheus's alerting rules put "<error expanding template: ...>" in place
// of the text (expand_or_error).
//
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace watch::rules {

struct TemplateData {
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> external_labels;
  std::string external_url;
  double value = 0;
};

struct ExpandResult {
  std::string text;                  // set when ok()
  std::optional<std::string> error;  // set when not ok()
  bool ok() const { return !error; }
};

// Expands `text`; `name` appears in error messages (Prometheus uses
// "__alert_<AlertName>").
ExpandResult expand_template(std::string_view name, std::string_view text,
                             const TemplateData& data);

// The text, or "<error expanding template: ...>" as Prometheus writes it.
std::string expand_or_error(std::string_view name, std::string_view text, const TemplateData& data);

// Parses without executing: std::nullopt when fine, else the error (what
// `promtool check rules` reports for a template that does not parse).
std::optional<std::string> check_template(std::string_view name, std::string_view text);

// Prometheus's template functions on numbers (template/template.go).
std::string humanize(double v);                       // 1234567 -> "1.235M", 0.001 -> "1m"
std::string humanize1024(double v);                   // 1048576 -> "1Mi"
std::string humanize_duration(double s);              // 3661 -> "1h 1m 1s", 0.25 -> "250ms"
std::string humanize_percentage(double v);            // 0.1234 -> "12.34%"
std::string humanize_timestamp(double unix_seconds);  // "2026-01-01 00:00:00 +0000 UTC"

// Go's fmt: %v of a float64 ("0.1", "1e+06", "NaN", "+Inf") and %.<prec>g.
std::string go_format_float(double v);
std::string go_format_g(double v, int precision);

}  // namespace watch::rules
