// Pieces of watch/silence shared by silence.cc (the set, validation) and
// json.cc (the API's JSON): Go's JSON escaping, time formatting, and the
// matcher checks of Alertmanager's validateSilence. Not a public API. (Go's
// UTF-8 and quoting are watch/gotext's.)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "watch/silence/silence.h"

namespace watch::silence::detail {

// Appends `s` as Go's encoding/json writes a string: \" \\ \n \r \t,
// other control characters as \u00XX, U+2028/U+2029 escaped, invalid UTF-8
// as \ufffd; with `escape_html`, also < > & (json.Marshal does, an Encoder
// with SetEscapeHTML(false) does not).
void append_json_string(std::string& out, std::string_view s, bool escape_html);

// Days since 1970-01-01 of a proleptic Gregorian date, and back.
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day);
struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};
CivilDate civil_from_days(std::int64_t days);

// 2006-01-02T15:04:05.000Z: strfmt.DateTime's format, in UTC.
std::string format_time(std::int64_t ms);

// The matcher checks of Alertmanager's validateSilence, in its order: ""
// when the matchers are acceptable, else the reason ("at least one matcher
// required", "invalid label matcher 1: invalid label name \"1a\"", "at least
// one matcher must not match the empty string"). With `compiled`, also
// compiles each regex anchored for matching: nullptr for = and !=, and for a
// regex Alertmanager accepts but cannot run anchored (an unclosed \Q).
std::string check_matchers(const std::vector<SilenceMatcher>& matchers,
                           std::vector<std::shared_ptr<const re2::RE2>>* compiled);

}  // namespace watch::silence::detail
