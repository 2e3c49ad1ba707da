// Request parameters as Prometheus's HTTP API reads them: the query string
// and, for POST, an application/x-www-form-urlencoded body; times as Unix
// seconds ("1435781451.781") or RFC 3339 ("2015-07-01T20:10:51.781Z");
// durations as seconds ("15", "0.5") or Prometheus durations ("1m30s").
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace watch::web {

using Params = std::vector<std::pair<std::string, std::string>>;

// Decodes "a=1&b=x+y%21" (plus as space, percent escapes); a malformed escape
// is kept as written, as Go's lenient callers see it.
Params parse_form(std::string_view body);

// The first value of `key`, or nullopt.
std::optional<std::string_view> param(const Params& params, std::string_view key);
// Every value of `key` (for match[]).
std::vector<std::string> params(const Params& params, std::string_view key);

// Unix milliseconds from a Prometheus API time; nullopt when malformed.
std::optional<std::int64_t> parse_time_ms(std::string_view text);
// Milliseconds from seconds or a Prometheus duration; nullopt when malformed
// or negative.
std::optional<std::int64_t> parse_duration_ms(std::string_view text);

}  // namespace watch::web
