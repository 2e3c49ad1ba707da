// Internal: fast JSON writing into a std::string, for the hot paths (log
// lines) and anywhere a small JSON document is written by hand.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace firebreak::detail {

// Appends `s` as a JSON string (with quotes). Control characters and
// newlines are escaped; invalid UTF-8 is replaced by U+FFFD, so the output is
// always valid UTF-8 and one line.
void append_json_string(std::string& out, std::string_view s);

// Appends the string's contents escaped as above, without quotes.
void append_json_escaped(std::string& out, std::string_view s);

// Appends a number; NaN and infinities, which JSON cannot hold, as the
// strings "NaN", "+Inf", "-Inf".
void append_json_double(std::string& out, double v);
void append_json_int(std::string& out, std::int64_t v);
void append_json_uint(std::string& out, std::uint64_t v);

// Appends an RFC 3339 UTC timestamp with microseconds, without quotes:
// 2026-11-25T23:18:47.123456Z. Caches the date part per thread.
void append_rfc3339_micros(std::string& out, std::int64_t unix_micros);

}  // namespace firebreak::detail
