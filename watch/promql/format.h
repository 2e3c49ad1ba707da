// Number formatting and parsing as Prometheus does them (Go's strconv), so
// that values written by watch read the same as those written by Prometheus.
//
//   watch::promql::format_value(0.1);            // "0.1"
//   watch::promql::format_value(1e21);           // "1000000000000000000000"
//   watch::promql::format_value(-INFINITY);      // "-Inf"
//   watch::promql::parse_go_float("+Inf");       // inf
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace watch::promql {

// Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest decimal that reads
// back as the same double, never in exponent form; "NaN", "+Inf", "-Inf".
std::string format_value(double v);
// Appends the same to `out` without a temporary.
void append_value(std::string& out, double v);

// Go's strconv.ParseFloat(s, 64): decimal or hexadecimal floats with an
// optional sign, "Inf"/"Infinity"/"NaN" in any case; no spaces. Out of range
// (e.g. "1e400") is an error, as Go reports it.
std::optional<double> parse_go_float(std::string_view s);

// A millisecond timestamp as Prometheus's API writes it: seconds with up to
// three decimals ("1435781451.781", "1.500", "-0.250", "10").
void append_timestamp(std::string& out, std::int64_t t_ms);

// Length of the valid UTF-8 sequence starting at s[i] (1 for ASCII), 0 when
// invalid: overlong forms, surrogates and code points above U+10FFFF.
std::size_t utf8_length(std::string_view s, std::size_t i);

}  // namespace watch::promql
