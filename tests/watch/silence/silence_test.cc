// Unit tests of watch/silence: the API's JSON (with Alertmanager 0.25's
// exact answers, as the real binary gives them) and the set of silences,
// moved through time with a ManualClock.
#include "watch/silence/silence.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "firebreak/clock.h"

namespace watch::silence {
namespace {

using namespace std::chrono_literals;

// ManualClock's default start, 2026-01-01T00:00:00Z.
constexpr std::int64_t kStartMs = 1'767'225'600'000;
constexpr std::int64_t kHourMs = 3'600'000;

constexpr std::string_view kJobApi = R"([{"name":"job","value":"api","isRegex":false}])";

// A postableSilence; `extra` goes in before the closing brace.
std::string body(std::string_view matchers = kJobApi,
                 std::string_view starts = "2026-01-01T00:00:00Z",
                 std::string_view ends = "2026-01-01T02:00:00Z", std::string_view extra = "") {
  return fmt::format(
      R"({{"matchers":{},"startsAt":"{}","endsAt":"{}","createdBy":"me","comment":"why"{}}})",
      matchers, starts, ends, extra);
}

ParseResult parse(std::string_view json) {
  return parse_postable_silence(json, kStartMs);
}

// The error of a refused body, with its status.
std::string refusal(std::string_view json) {
  const ParseResult r = parse(json);
  if (r.ok()) return "accepted";
  return fmt::format("{} {}", r.http_status, r.error);
}

Silence silence_of(std::vector<SilenceMatcher> matchers, std::int64_t starts, std::int64_t ends) {
  Silence s;
  s.matchers = std::move(matchers);
  s.starts_at_ms = starts;
  s.ends_at_ms = ends;
  s.created_by = "me";
  s.comment = "c";
  return s;
}

SilenceMatcher eq(std::string name, std::string value) {
  return {.name = std::move(name), .value = std::move(value)};
}
SilenceMatcher re(std::string name, std::string value, bool is_equal = true) {
  return {
      .name = std::move(name), .value = std::move(value), .is_regex = true, .is_equal = is_equal};
}
SilenceMatcher ne(std::string name, std::string value) {
  return {.name = std::move(name), .value = std::move(value), .is_equal = false};
}

// ---------------------------------------------------------------------------
// States.

TEST(SilenceState, PendingActiveExpiredAtTheEdges) {
  const Silence s = silence_of({eq("a", "b")}, 100, 200);
  EXPECT_EQ(state_of(s, 99), SilenceState::kPending);
  EXPECT_EQ(state_of(s, 100), SilenceState::kActive);
  EXPECT_EQ(state_of(s, 199), SilenceState::kActive);
  EXPECT_EQ(state_of(s, 200), SilenceState::kExpired);
  EXPECT_EQ(to_string(SilenceState::kPending), "pending");
  EXPECT_EQ(to_string(SilenceState::kActive), "active");
  EXPECT_EQ(to_string(SilenceState::kExpired), "expired");
}

// ---------------------------------------------------------------------------
// Reading a postableSilence.

TEST(ParsePostableSilence, ReadsAValidBody) {
  const ParseResult r = parse(body(
      R"([{"name":"job","value":"api","isRegex":false},
          {"name":"env","value":"prod|qa","isRegex":true,"isEqual":false}])",
      "2026-01-01T01:00:00.123456Z", "2026-01-01T04:00:00+02:00", R"(,"id":"x")"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.silence.id, "x");
  ASSERT_EQ(r.silence.matchers.size(), 2u);
  EXPECT_EQ(r.silence.matchers[0], eq("job", "api"));  // isEqual defaults to true
  EXPECT_EQ(r.silence.matchers[1], re("env", "prod|qa", false));
  EXPECT_EQ(r.silence.starts_at_ms, kStartMs + kHourMs + 123);
  EXPECT_EQ(r.silence.ends_at_ms, kStartMs + 2 * kHourMs);  // 04:00+02:00
  EXPECT_EQ(r.silence.created_by, "me");
  EXPECT_EQ(r.silence.comment, "why");
}

TEST(ParsePostableSilence, AcceptsEmptyCreatedByAndComment) {
  const ParseResult r = parse(
      R"({"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2026-01-01T00:00:00Z",)"
      R"("endsAt":"2026-01-02T00:00:00Z","createdBy":"","comment":""})");
  EXPECT_TRUE(r.ok()) << r.error;
}

TEST(ParsePostableSilence, TimeFormatsGoOpenApiAccepts) {
  const auto starts = [](std::string_view t) {
    const ParseResult r = parse(body(kJobApi, t, "2027-01-01T00:00:00Z"));
    return r.ok() ? r.silence.starts_at_ms : -1;
  };
  EXPECT_EQ(starts("2026-01-01T00:00:00Z"), kStartMs);
  EXPECT_EQ(starts("2026-01-01T00:00:00.5Z"), kStartMs + 500);
  EXPECT_EQ(starts("2026-01-01T00:00:00,5Z"), kStartMs + 500);
  EXPECT_EQ(starts("2026-01-01T00:00:00.123456789123Z"), kStartMs + 123);
  EXPECT_EQ(starts("2026-01-01T01:00:00+01:00"), kStartMs);
  EXPECT_EQ(starts("2026-01-01T01:00:00.000+0100"), kStartMs);
  EXPECT_EQ(starts("2026-01-01T00:00:00"), kStartMs);  // no zone: UTC
  EXPECT_EQ(starts("2026-01-01T00:00Z"), kStartMs);
  EXPECT_EQ(starts("2026-01-01T00:00"), kStartMs);
  EXPECT_EQ(starts("2026-01-01 00:00:00"), kStartMs);
  EXPECT_EQ(starts("2026-01-01   0:00:00.250"), kStartMs + 250);  // Go's spaces, 1-digit hour
  EXPECT_EQ(starts("2026-01-01T00:00:00.+12Z"), kStartMs + 12);   // Go's atoi takes a sign
  EXPECT_EQ(starts("2026-01-01T00:00:00+24:60"), kStartMs - 25 * kHourMs);
  EXPECT_EQ(starts("2026-01-01T00:00:00+92:70"), kStartMs - 93 * kHourMs - 10 * 60'000);
  EXPECT_EQ(starts("2026-01-01T00:00:00-+1:-5"), kStartMs + 55 * 60'000);  // Go 1.19's atoi
  EXPECT_EQ(starts("2026-01-01T00:00:00+1a:00"), -1);
  EXPECT_EQ(starts(""), 0);                           // the epoch
  EXPECT_EQ(starts("2026-01-01T00:00:00+0100"), -1);  // no colon needs a fraction
  EXPECT_EQ(starts("2026-01-01t00:00:00z"), -1);
}

TEST(ParsePostableSilence, TimeErrorsAreGoTimeParseErrorsOfTheLastLayout) {
  const auto error = [](std::string_view t) { return refusal(body(kJobApi, t)); };
  const std::string prefix = "400 parsing silence body from \"\" failed, because parsing time ";
  EXPECT_EQ(error("x"), prefix + R"("x" as "2006-01-02 15:04:05": cannot parse "x" as "2006")");
  EXPECT_EQ(error("20a6-12-07 00:00:00"),
            prefix + R"("20a6-12-07 00:00:00" as "2006-01-02 15:04:05": cannot parse )"
                     R"("-12-07 00:00:00" as "2006")");
  EXPECT_EQ(error("2026/12/07"),
            prefix + R"("2026/12/07" as "2006-01-02 15:04:05": cannot parse "/12/07" as "-")");
  EXPECT_EQ(error("2026-12-07x00:00:00"),
            prefix + R"("2026-12-07x00:00:00" as "2006-01-02 15:04:05": cannot parse )"
                     R"("x00:00:00" as " ")");
  EXPECT_EQ(error("2026-12-07 00:00"),
            prefix + R"("2026-12-07 00:00" as "2006-01-02 15:04:05": cannot parse "" as ":")");
  EXPECT_EQ(error("2026-12-07 00:00:0"),
            prefix + R"("2026-12-07 00:00:0" as "2006-01-02 15:04:05": cannot parse "0" as "05")");
  EXPECT_EQ(error("2026-13-01 00:00:00"), prefix + R"("2026-13-01 00:00:00": month out of range)");
  EXPECT_EQ(error("2026-02-29 00:00:00"), prefix + R"("2026-02-29 00:00:00": day out of range)");
  EXPECT_EQ(error("2026-12-07 24:00:00"), prefix + R"("2026-12-07 24:00:00": hour out of range)");
  EXPECT_EQ(error("2026-12-07 23:59:60"), prefix + R"("2026-12-07 23:59:60": second out of range)");
  EXPECT_EQ(error("2026-12-07 00:00:00xyz"),
            prefix + R"("2026-12-07 00:00:00xyz": extra text: "xyz")");
  EXPECT_EQ(error("2026-12-07 00:00:00\\u00e9"),
            prefix + R"("2026-12-07 00:00:00\xc3\xa9": extra text: "\xc3\xa9")");
  // Leap years, year 0 included.
  EXPECT_EQ(refusal(body(kJobApi, "2028-02-29 00:00:00", "2030-01-01T00:00:00Z")), "accepted");
  EXPECT_EQ(refusal(body(kJobApi, "0000-02-29 00:00:00", "2030-01-01T00:00:00Z")), "accepted");
}

TEST(ParsePostableSilence, SchemaErrorsAre422WithTheFirstMissingField) {
  EXPECT_EQ(refusal(""), "422 silence in body is required");
  EXPECT_EQ(refusal(" \n\t"), "422 silence in body is required");
  EXPECT_EQ(refusal("{}"), "422 comment in body is required");
  EXPECT_EQ(refusal("null"), "422 comment in body is required");
  EXPECT_EQ(refusal(R"({"comment":"c","startsAt":null})"), "422 createdBy in body is required");
  EXPECT_EQ(refusal(R"({"comment":"c","createdBy":"me"})"), "422 endsAt in body is required");
  EXPECT_EQ(refusal(body("null")), "422 matchers in body is required");
  EXPECT_EQ(refusal(body("[]")), "422 matchers in body should have at least 1 items");
  EXPECT_EQ(refusal(body(R"([{"name":"a","value":"b","isRegex":false},{}])")),
            "422 matchers.1.isRegex in body is required");
  EXPECT_EQ(refusal(body(R"([{"isRegex":true,"value":"b"}])")),
            "422 matchers.0.name in body is required");
  EXPECT_EQ(refusal(body(R"([{"isRegex":true,"name":"b"}])")),
            "422 matchers.0.value in body is required");
  EXPECT_EQ(refusal(R"({"matchers":[{"name":"a","value":"b","isRegex":false}],)"
                    R"("endsAt":"2026-01-02T00:00:00Z","createdBy":"me","comment":"c"})"),
            "422 startsAt in body is required");
  // Alertmanager 0.25 panics on a null matcher; we answer like a missing field.
  EXPECT_EQ(refusal(body(R"([{"name":"a","value":"b","isRegex":false},null])")),
            "422 matchers.1 in body is required");

  const ParseResult r = parse("{}");
  EXPECT_EQ(r.error_body, R"({"code":602,"message":"comment in body is required"})");
  EXPECT_EQ(parse(body("[]")).error_body,
            R"({"code":612,"message":"matchers in body should have at least 1 items"})");
}

TEST(ParsePostableSilence, SyntaxErrorsAreGoScannerErrors) {
  const std::string p = "400 parsing silence body from \"\" failed, because ";
  EXPECT_EQ(refusal("{"), p + "unexpected EOF");
  EXPECT_EQ(refusal("tru"), p + "unexpected EOF");
  EXPECT_EQ(refusal(R"({"a":1.)"), p + "unexpected EOF");
  EXPECT_EQ(refusal(R"({"a":tx})"), p + "invalid character 'x' in literal true (expecting 'r')");
  EXPECT_EQ(refusal(R"({"a":"\x"})"), p + "invalid character 'x' in string escape code");
  EXPECT_EQ(refusal(R"({"a":"\u12x4"})"),
            p + "invalid character 'x' in \\u hexadecimal character escape");
  EXPECT_EQ(refusal(R"({"a":1.x})"),
            p + "invalid character 'x' after decimal point in numeric literal");
  EXPECT_EQ(refusal(R"({"a":1e})"), p + "invalid character '}' in exponent of numeric literal");
  EXPECT_EQ(refusal(R"({"a":-})"), p + "invalid character '}' in numeric literal");
  EXPECT_EQ(refusal(R"({"a" 1})"), p + "invalid character '1' after object key");
  EXPECT_EQ(refusal(R"({"a":1 "b":2})"), p + "invalid character '\"' after object key:value pair");
  EXPECT_EQ(refusal(R"({'a':1})"),
            p + "invalid character '\\'' looking for beginning of object key string");
  EXPECT_EQ(refusal(R"({"a":1,})"),
            p + "invalid character '}' looking for beginning of object key string");
  EXPECT_EQ(refusal("[1 2]"), p + "invalid character '2' after array element");
  EXPECT_EQ(refusal("\xef\xbb\xbf{}"),
            p + "invalid character '\xc3\xaf' looking for beginning of value");
  EXPECT_EQ(refusal("{\"a\":\"\x01\"}"), p + "invalid character '\\x01' in string literal");
  EXPECT_EQ(refusal("\x80"), p + "invalid character '\\u0080' looking for beginning of value");
  EXPECT_EQ(refusal(std::string(10'001, '[')), p + "invalid character '[' exceeded max depth");
  // The body of such an answer is go-openapi's, HTML-escaped.
  EXPECT_EQ(parse("<").error_body,
            R"({"code":400,"message":"parsing silence body from \"\" failed, because invalid )"
            R"(character '\u003c' looking for beginning of value"})");
}

TEST(ParsePostableSilence, TypeErrorsAreGoUnmarshalTypeErrors) {
  const std::string p =
      "400 parsing silence body from \"\" failed, because json: cannot unmarshal ";
  EXPECT_EQ(refusal("[]"),
            p + R"(array into Go value of type struct { ID string "json:\"id,omitempty\"" })");
  EXPECT_EQ(refusal(R"("str")"),
            p + R"(string into Go value of type struct { ID string "json:\"id,omitempty\"" })");
  EXPECT_EQ(refusal("123abc"),
            p + R"(number into Go value of type struct { ID string "json:\"id,omitempty\"" })");
  EXPECT_EQ(refusal(body(kJobApi, "2026-01-01T00:00:00Z", "2026-01-01T02:00:00Z", R"(,"id":5)")),
            p + "number into Go struct field .id of type string");
  EXPECT_EQ(refusal(body(R"([{"name":"a","value":"b","isRegex":"x"}])")),
            p + "string into Go struct field Matcher.matchers.isRegex of type bool");
  EXPECT_EQ(refusal(body(R"([{"name":5,"value":"b","isRegex":false}])")),
            p + "number into Go struct field Matcher.matchers.name of type string");
  EXPECT_EQ(refusal(body(R"(["x"])")),
            p + "string into Go struct field Silence.matchers of type models.Matcher");
  EXPECT_EQ(refusal(body("{}")),
            p + "object into Go struct field Silence.matchers of type models.Matchers");
  EXPECT_EQ(refusal(R"({"comment":true})"),
            p + "bool into Go struct field Silence.comment of type string");
  EXPECT_EQ(refusal(R"({"endsAt":5})"),
            p + "number into Go struct field Silence.endsAt of type string");
  EXPECT_EQ(refusal(R"({"startsAt":[]})"),
            p + "array into Go struct field Silence.startsAt of type string");
  // Decoding goes on after a type mismatch, and a time error wins over it...
  EXPECT_EQ(refusal(R"({"comment":5,"endsAt":"x"})"),
            "400 parsing silence body from \"\" failed, because parsing time \"x\" as "
            "\"2006-01-02 15:04:05\": cannot parse \"x\" as \"2006\"");
  // ... but the first pass (the id) comes first, and the first mismatch stays.
  EXPECT_EQ(refusal(R"({"comment":5,"id":5})"),
            p + "number into Go struct field .id of type string");
  EXPECT_EQ(refusal(R"({"comment":5,"createdBy":true})"),
            p + "number into Go struct field Silence.comment of type string");
}

TEST(ParsePostableSilence, GoDecodingQuirks) {
  // Keys match case-insensitively; ſ (U+017F) folds to s.
  ParseResult r = parse(
      R"({"MATCHERS":[{"NAME":"a","Value":"b","isregex":false}],"\u017ftartsAt":"2026-01-01T00:00:00Z",)"
      R"("endsAt":"2026-01-02T00:00:00Z","createdby":"me","Comment":"c"})");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.silence.matchers[0], eq("a", "b"));
  // Only the first value counts; the rest of the body is never read.
  EXPECT_TRUE(parse(body() + " trailing {garbage").ok());
  // Unknown keys are ignored; a repeated key wins, null resets.
  EXPECT_TRUE(parse(body(kJobApi, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z",
                         R"(,"unknown":[1,{"x":null}],"comment":"second")"))
                  .ok());
  EXPECT_EQ(
      refusal(body(kJobApi, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", R"(,"endsAt":null)")),
      "422 endsAt in body is required");
  // A repeated "matchers" decodes over the matchers already there.
  r = parse(
      body(R"([{"name":"a","value":"x","isRegex":false},{"name":"c","value":"y","isRegex":false}])",
           "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z",
           R"(,"matchers":[{"name":"b"}],"matchers":[{"name":"d"},{"name":"e"}])"));
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.silence.matchers.size(), 2u);
  EXPECT_EQ(r.silence.matchers[0], eq("d", "x"));
  EXPECT_EQ(r.silence.matchers[1], eq("e", "y"));
  // Escapes, surrogate pairs, and bad UTF-8 as U+FFFD.
  r = parse(body(R"([{"name":"a","value":"\ud83d\ude00 \ud800 \u00e9\n","isRegex":false}])"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.silence.matchers[0].value, "\xf0\x9f\x98\x80 \xef\xbf\xbd \xc3\xa9\n");
  r = parse(body("[{\"name\":\"a\",\"value\":\"\xff\",\"isRegex\":false}]"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.silence.matchers[0].value, "\xef\xbf\xbd");
}

TEST(ParsePostableSilence, HandlerChecks) {
  EXPECT_EQ(refusal(body(kJobApi, "2026-01-01T02:00:00Z", "2026-01-01T02:00:00Z")),
            "400 Failed to create silence: start time must be before end time");
  // Finer than milliseconds, as Go compares.
  EXPECT_EQ(refusal(body(kJobApi, "2026-01-01T02:00:00.0001Z", "2026-01-01T02:00:00.0002Z")),
            "accepted");
  EXPECT_EQ(refusal(body(kJobApi, "2025-01-01T00:00:00Z", "2025-12-31T23:59:59.999Z")),
            "400 Failed to create silence: end time can't be in the past");
  EXPECT_EQ(refusal(body(kJobApi, "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z")), "accepted");
  EXPECT_EQ(parse(body(kJobApi, "2026-01-01T02:00:00Z", "2026-01-01T01:00:00Z")).error_body,
            "\"Failed to create silence: start time must be before end time\"\n");
}

TEST(ParsePostableSilence, MatcherChecksOfValidateSilence) {
  const auto matchers = [](std::string_view m) { return refusal(body(m)); };
  EXPECT_EQ(matchers(R"([{"name":"","value":"b","isRegex":false}])"),
            R"(400 silence invalid: invalid label matcher 0: invalid label name "")");
  EXPECT_EQ(
      matchers(
          R"([{"name":"a","value":"b","isRegex":false},{"name":"1a","value":"b","isRegex":false}])"),
      R"(400 silence invalid: invalid label matcher 1: invalid label name "1a")");
  EXPECT_EQ(matchers(R"([{"name":"\u00e4\u2028\u0001\u00ad\u00a0","value":"b","isRegex":false}])"),
            "400 silence invalid: invalid label matcher 0: invalid label name "
            "\"\xc3\xa4\\u2028\\x01\\u00ad\\u00a0\"");
  EXPECT_EQ(matchers(R"([{"name":"a","value":"(","isRegex":true}])"),
            "400 silence invalid: invalid label matcher 0: invalid regular expression \"(\": "
            "error parsing regexp: missing closing ): `(`");
  // Every matcher matching the empty label set is refused; != and !~ never count.
  const std::string empty =
      "400 silence invalid: at least one matcher must not match the empty string";
  EXPECT_EQ(matchers(R"([{"name":"a","value":"","isRegex":false}])"), empty);
  EXPECT_EQ(matchers(R"([{"name":"a","value":".*","isRegex":true}])"), empty);
  EXPECT_EQ(
      matchers(
          R"([{"name":"a","value":"x|","isRegex":true},{"name":"b","value":"","isRegex":false}])"),
      empty);
  EXPECT_EQ(matchers(R"([{"name":"a","value":"","isRegex":false,"isEqual":false}])"), "accepted");
  EXPECT_EQ(matchers(R"([{"name":"a","value":"x","isRegex":true,"isEqual":false}])"), "accepted");
  // The handler's answer is a JSON string, not HTML-escaped.
  EXPECT_EQ(parse(body(R"([{"name":"<a>&","value":"b","isRegex":false}])")).error_body,
            "\"silence invalid: invalid label matcher 0: invalid label name \\\"<a>&\\\"\"\n");
}

TEST(ParsePostableSilence, RegexErrorsInGoWords) {
  const auto regex_error = [](std::string pattern) {
    std::string escaped;
    for (char c : pattern) {
      if (c == '\\' || c == '"') escaped.push_back('\\');
      escaped.push_back(c);
    }
    const ParseResult r =
        parse(body(fmt::format(R"([{{"name":"a","value":"{}","isRegex":true}}])", escaped)));
    if (r.ok()) return std::string("accepted");
    const std::size_t at = r.error.find(": error parsing regexp: ");
    return at == std::string::npos ? r.error : r.error.substr(at + 2);
  };
  EXPECT_EQ(regex_error("a)"), "error parsing regexp: unexpected ): `a)`");
  EXPECT_EQ(regex_error("a)|(b"), "error parsing regexp: unexpected ): `a)|(b`");
  EXPECT_EQ(regex_error("[a"), "error parsing regexp: missing closing ]: `[a`");
  EXPECT_EQ(regex_error("[z-a]"), "error parsing regexp: invalid character class range: `z-a`");
  EXPECT_EQ(regex_error("a**"), "error parsing regexp: invalid nested repetition operator: `**`");
  EXPECT_EQ(regex_error("a{1001}"), "error parsing regexp: invalid repeat count: `{1001}`");
  EXPECT_EQ(regex_error("*"), "error parsing regexp: missing argument to repetition operator: `*`");
  EXPECT_EQ(regex_error("\\"), "error parsing regexp: trailing backslash at end of expression: ``");
  EXPECT_EQ(regex_error("\\8"), "error parsing regexp: invalid escape sequence: `\\8`");
  EXPECT_EQ(regex_error("(?<n>a)"),
            "error parsing regexp: invalid or unsupported Perl syntax: `(?<`");
  EXPECT_EQ(regex_error("[[:foo:]]"),
            "error parsing regexp: invalid character class range: `[:foo:]`");
  // What Go refuses and RE2 would take.
  EXPECT_EQ(regex_error("a\\C"), "error parsing regexp: invalid escape sequence: `\\C`");
  EXPECT_EQ(regex_error("(?P<n\xc3\xa4>a)"),
            "error parsing regexp: invalid named capture: `(?P<n\xc3\xa4>`");
  EXPECT_EQ(regex_error("\\8(?P<n\xc3\xa4>a)"),
            "error parsing regexp: invalid escape sequence: `\\8`");
  const std::string deep = std::string(1000, '(') + "a" + std::string(1000, ')');
  EXPECT_EQ(regex_error(deep), "error parsing regexp: expression nests too deeply: `" + deep + "`");
  EXPECT_EQ(regex_error(std::string(999, '(') + "a" + std::string(999, ')')), "accepted");
  // Go's tree also counts a concatenation as a level.
  const std::string concat =
      std::string(999, '(') + "a" + std::string(67, ')') + "[:word:]" + std::string(932, ')');
  EXPECT_EQ(regex_error(concat),
            "error parsing regexp: expression nests too deeply: `" + concat + "`");
  EXPECT_EQ(regex_error(std::string(998, '(') + "a" + std::string(67, ')') + "[:word:]" +
                        std::string(931, ')')),
            "accepted");
  // Groups left open are never built: Go reports them.
  const std::string open = std::string(999, '(') + "a" + std::string(917, ')');
  EXPECT_EQ(regex_error(open), "error parsing regexp: missing closing ): `" + open + "`");
  // Literal runs, classes of alternatives and (?:...) add no level.
  EXPECT_EQ(regex_error(std::string(998, '(') + "abc(?:x|y)(?:de)" + std::string(998, ')')),
            "accepted");
  EXPECT_EQ(regex_error("(?P<name>a)(?i)b\\pL[[:word:]]\\Q(\\E"), "accepted");
}

// ---------------------------------------------------------------------------
// Printing.

TEST(SilenceJson, GettableSilenceAsAlertmanagerPrintsIt) {
  Silence s =
      silence_of({eq("job", "api"), re("env", "prod|qa", false)}, kStartMs + 5, kStartMs + kHourMs);
  s.id = "6a2b1c2e-1c4f-4b5e-9a7d-0c9f6e2d1a3b";
  s.updated_at_ms = kStartMs + 5;
  s.comment = "a<b&c>\u2028\x01\b\f\t\"\\";
  EXPECT_EQ(to_json(s, kStartMs + 10),
            R"({"id":"6a2b1c2e-1c4f-4b5e-9a7d-0c9f6e2d1a3b","status":{"state":"active"},)"
            R"("updatedAt":"2026-01-01T00:00:00.005Z","comment":"a\u003cb\u0026c\u003e\u2028)"
            R"(\u0001\u0008\u000c\t\"\\","createdBy":"me","endsAt":"2026-01-01T01:00:00.000Z",)"
            R"("matchers":[{"isEqual":true,"isRegex":false,"name":"job","value":"api"},)"
            R"({"isEqual":false,"isRegex":true,"name":"env","value":"prod|qa"}],)"
            R"("startsAt":"2026-01-01T00:00:00.005Z"})");
}

TEST(SilenceJson, TimesAndOddValues) {
  Silence s;
  s.starts_at_ms = -1;                 // before the epoch
  s.ends_at_ms = -62'135'596'800'000;  // 0001-01-01
  s.updated_at_ms = 253'402'300'799'999;
  s.comment = "\xff";
  const std::string json = to_json(s, 0);
  EXPECT_NE(json.find(R"("startsAt":"1969-12-31T23:59:59.999Z")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("endsAt":"0001-01-01T00:00:00.000Z")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("updatedAt":"9999-12-31T23:59:59.999Z")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("matchers":null)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("comment":"\ufffd")"), std::string::npos) << json;
}

TEST(SilenceJson, ListInAlertmanagersOrder) {
  std::vector<Silence> list;
  const auto add = [&](std::string id, std::int64_t starts, std::int64_t ends) {
    Silence s = silence_of({eq("a", "b")}, starts, ends);
    s.id = std::move(id);
    list.push_back(std::move(s));
  };
  const std::int64_t now = 1000;
  add("expired-old", 0, 10);
  add("pending-late", 3000, 4000);
  add("active-long", 0, 5000);
  add("expired-recent", 0, 900);
  add("active-short", 0, 2000);
  add("pending-soon", 1500, 9000);
  sort_silences(list, now);
  std::vector<std::string> ids;
  for (const Silence& s : list) ids.push_back(s.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"active-short", "active-long", "pending-soon",
                                           "pending-late", "expired-recent", "expired-old"}));
  EXPECT_EQ(to_json(std::vector<Silence>{}, now), "[]");
  const std::string json = to_json(list, now);
  EXPECT_LT(json.find("active-short"), json.find("expired-old"));
  EXPECT_EQ(json.front(), '[');
  EXPECT_EQ(json.back(), ']');
}

TEST(SilenceJson, ErrorBodies) {
  EXPECT_EQ(handler_error_body("silence not found"), "\"silence not found\"\n");
  EXPECT_EQ(path_id_error_body("nope"),
            R"({"code":601,"message":"silenceID in path must be of type uuid: \"nope\""})");
  EXPECT_EQ(path_id_error_body("1ef9c102-d1b5-4eb8-b02f-32779ad9b24a"), std::nullopt);
  EXPECT_EQ(path_id_error_body("1EF9C102D1B54EB8B02F32779AD9B24A"), std::nullopt);
  EXPECT_NE(path_id_error_body("1ef9c102-d1b5-4eb8-b02f-32779ad9b24"), std::nullopt);
}

TEST(SilenceFilter, MatchesTheSilencesOwnMatchers) {
  const Silence s = silence_of({eq("job", "api"), re("env", "prod.*")}, 0, 10);
  const std::vector<SilenceMatcher> none;
  EXPECT_TRUE(matches_filter(s, none));
  const std::vector<SilenceMatcher> both{re("env", "prod.*"), eq("job", "api")};
  EXPECT_TRUE(matches_filter(s, both));
  const std::vector<SilenceMatcher> value{eq("env", "prod")};  // not matched against values
  EXPECT_FALSE(matches_filter(s, value));
  const std::vector<SilenceMatcher> type{ne("job", "api")};
  EXPECT_FALSE(matches_filter(s, type));
}

TEST(SilenceMatches, AnchoredRegexesAndMissingLabels) {
  const LabelSet alert = LabelSet::from({{"job", "api"}, {"env", "production"}});
  EXPECT_TRUE(matches(silence_of({eq("job", "api")}, 0, 1), alert));
  EXPECT_FALSE(matches(silence_of({re("env", "prod")}, 0, 1), alert));  // anchored
  EXPECT_TRUE(matches(silence_of({re("env", "prod.*|qa")}, 0, 1), alert));
  EXPECT_TRUE(matches(silence_of({re("env", "qa", false)}, 0, 1), alert));
  EXPECT_TRUE(matches(silence_of({ne("team", "db")}, 0, 1), alert));  // missing is ""
  EXPECT_TRUE(matches(silence_of({eq("job", "api"), eq("team", "")}, 0, 1), alert));
  EXPECT_FALSE(matches(silence_of({eq("job", "api"), ne("team", "")}, 0, 1), alert));
  EXPECT_FALSE(matches(silence_of({re("job", "(")}, 0, 1), alert));
  // Bad UTF-8 is read as Go reads it: one U+FFFD per bad byte.
  const LabelSet odd = LabelSet::from({{"v", "a\xff"}});
  EXPECT_TRUE(matches(silence_of({re("v", "a.")}, 0, 1), odd));
  EXPECT_TRUE(matches(silence_of({re("v", "a\xef\xbf\xbd")}, 0, 1), odd));
}

// ---------------------------------------------------------------------------
// The set of silences.

class SilencesTest : public ::testing::Test {
 protected:
  std::int64_t now() const { return silences_.now_ms(); }
  std::string add(std::vector<SilenceMatcher> matchers, std::int64_t starts, std::int64_t ends) {
    SetResult r = silences_.set(silence_of(std::move(matchers), starts, ends));
    EXPECT_TRUE(r.ok()) << r.error;
    return r.id;
  }
  Silence stored(const std::string& id) {
    std::optional<Silence> s = silences_.get(id);
    EXPECT_TRUE(s.has_value()) << id;
    return s.value_or(Silence{});
  }

  firebreak::ManualClock clock_;
  Silences silences_{{.clock = &clock_}};
};

TEST_F(SilencesTest, NewSilenceGetsAUuidAndStartsNoEarlierThanNow) {
  clock_.advance(1500ms);
  const std::string id = add({eq("job", "api")}, kStartMs - kHourMs, kStartMs + kHourMs);
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');  // version 4
  EXPECT_NE(std::string_view("89ab").find(id[19]), std::string_view::npos);
  for (std::size_t i : {8u, 13u, 18u, 23u}) EXPECT_EQ(id[i], '-');
  const Silence s = stored(id);
  EXPECT_EQ(s.starts_at_ms, kStartMs + 1500);
  EXPECT_EQ(s.updated_at_ms, kStartMs + 1500);
  EXPECT_EQ(s.ends_at_ms, kStartMs + kHourMs);
  const std::string other = add({eq("job", "api")}, kStartMs, kStartMs + kHourMs);
  EXPECT_NE(other, id);
  EXPECT_EQ(silences_.size(), 2u);
}

TEST_F(SilencesTest, UnknownIdIsNotFound) {
  Silence s = silence_of({eq("a", "b")}, kStartMs, kStartMs + kHourMs);
  s.id = "00000000-0000-4000-8000-000000000000";
  const SetResult r = silences_.set(s);
  EXPECT_EQ(r.error, "silence not found");
  EXPECT_EQ(r.http_status, 404);
  EXPECT_EQ(silences_.size(), 0u);
}

TEST_F(SilencesTest, ActiveSilenceUpdatesInPlaceWhenHistoryStaysTrue) {
  const std::string id = add({eq("a", "b")}, kStartMs + 200, kStartMs + kHourMs);
  clock_.advance(10s);
  Silence update = stored(id);
  update.starts_at_ms = kStartMs + 900;  // same second: allowed
  update.ends_at_ms = kStartMs + 2 * kHourMs;
  update.comment = "longer";
  SetResult r = silences_.set(update);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.id, id);
  Silence s = stored(id);
  EXPECT_EQ(s.starts_at_ms, kStartMs + 900);
  EXPECT_EQ(s.ends_at_ms, kStartMs + 2 * kHourMs);
  EXPECT_EQ(s.comment, "longer");
  EXPECT_EQ(s.updated_at_ms, kStartMs + 10'000);
  EXPECT_EQ(silences_.size(), 1u);
}

TEST_F(SilencesTest, ChangingHistoryExpiresTheOldSilenceAndCreatesANewOne) {
  const std::string id = add({eq("a", "b")}, kStartMs, kStartMs + kHourMs);
  clock_.advance(10s);
  Silence update = stored(id);
  update.matchers = {eq("a", "c")};
  SetResult r = silences_.set(update);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_NE(r.id, id);
  const Silence old = stored(id);
  EXPECT_EQ(state_of(old, now()), SilenceState::kExpired);
  EXPECT_EQ(old.ends_at_ms, now());
  EXPECT_EQ(old.updated_at_ms, now());
  const Silence fresh = stored(r.id);
  EXPECT_EQ(fresh.matchers, update.matchers);
  EXPECT_EQ(fresh.starts_at_ms, now());  // moved up to now
  EXPECT_EQ(state_of(fresh, now()), SilenceState::kActive);

  // Moving startsAt to another second is also rewriting history.
  clock_.advance(10s);
  Silence moved = fresh;
  moved.starts_at_ms = fresh.starts_at_ms + 1000;
  r = silences_.set(moved);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_NE(r.id, fresh.id);
  EXPECT_EQ(state_of(stored(fresh.id), now()), SilenceState::kExpired);
  EXPECT_EQ(silences_.size(), 3u);
}

TEST_F(SilencesTest, PendingSilenceUpdatesInPlaceUnlessItWouldStartInThePast) {
  const std::string id = add({eq("a", "b")}, kStartMs + kHourMs, kStartMs + 2 * kHourMs);
  Silence update = stored(id);
  update.starts_at_ms = kStartMs + 30 * 60'000;
  SetResult r = silences_.set(update);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.id, id);
  EXPECT_EQ(stored(id).starts_at_ms, kStartMs + 30 * 60'000);

  clock_.advance(1s);
  update.starts_at_ms = kStartMs;  // in the past now
  r = silences_.set(update);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_NE(r.id, id);
  const Silence old = stored(id);
  EXPECT_EQ(old.starts_at_ms, now());  // a pending silence expires with both set to now
  EXPECT_EQ(old.ends_at_ms, now());
  EXPECT_EQ(stored(r.id).starts_at_ms, now());
}

TEST_F(SilencesTest, ExpiredSilenceIsNeverUpdatedButReplaced) {
  const std::string id = add({eq("a", "b")}, kStartMs, kStartMs + kHourMs);
  clock_.advance(2h);
  const Silence before = stored(id);
  Silence update = before;
  update.ends_at_ms = now() + kHourMs;
  SetResult r = silences_.set(update);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_NE(r.id, id);
  EXPECT_EQ(stored(id), before);  // untouched
  EXPECT_EQ(state_of(stored(r.id), now()), SilenceState::kActive);
}

TEST_F(SilencesTest, InvalidReplacementLeavesTheOldSilenceAlone) {
  const std::string id = add({eq("a", "b")}, kStartMs, kStartMs + kHourMs);
  clock_.advance(1s);
  Silence update = stored(id);
  update.matchers = {re("a", "(")};
  const SetResult r = silences_.set(update);
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.error,
            "silence invalid: invalid label matcher 0: invalid regular expression \"(\": error "
            "parsing regexp: missing closing ): `(`");
  EXPECT_EQ(state_of(stored(id), now()), SilenceState::kActive);
  EXPECT_EQ(silences_.size(), 1u);
}

// With an id, the matcher checks wait for the lookup of the id, as in 0.25.
TEST_F(SilencesTest, PostedIdIsLookedUpBeforeTheMatchersAreChecked) {
  const std::string id = add({eq("a", "b")}, kStartMs, kStartMs + kHourMs);
  const std::string invalid = R"([{"name":"a","value":"","isRegex":false}])";
  ParseResult unknown = parse(body(invalid, "2026-01-01T00:00:00Z", "2026-01-01T02:00:00Z",
                                   R"(,"id":"00000000-0000-4000-8000-000000000000")"));
  ASSERT_TRUE(unknown.ok()) << unknown.error;
  EXPECT_EQ(silences_.set(unknown.silence).http_status, 404);
  ParseResult known = parse(
      body(invalid, "2026-01-01T00:00:00Z", "2026-01-01T02:00:00Z", ",\"id\":\"" + id + "\""));
  ASSERT_TRUE(known.ok()) << known.error;
  const SetResult r = silences_.set(known.silence);
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.error, "silence invalid: at least one matcher must not match the empty string");
  EXPECT_EQ(state_of(stored(id), now()), SilenceState::kActive);  // 0.25 would have expired it
  EXPECT_EQ(refusal(body(invalid)),
            "400 silence invalid: at least one matcher must not match the empty string");
}

TEST_F(SilencesTest, SetValidatesSilencesNotFromTheApi) {
  const auto error = [&](Silence s) { return silences_.set(std::move(s)).error; };
  EXPECT_EQ(error(silence_of({}, kStartMs, kStartMs + 1)),
            "silence invalid: at least one matcher required");
  EXPECT_EQ(error(silence_of({eq("a", "")}, kStartMs, kStartMs + 1)),
            "silence invalid: at least one matcher must not match the empty string");
  EXPECT_EQ(error(silence_of({eq("a", "\xff")}, kStartMs, kStartMs + 1)),
            "silence invalid: invalid label matcher 0: invalid label value \"\\xff\"");
  EXPECT_EQ(error(silence_of({eq("a", "b")}, kStartMs, kStartMs - 1)),
            "silence invalid: end time must not be before start time");
  EXPECT_EQ(error(silence_of({eq("a", "b")}, kStartMs, -62'135'596'800'000)),
            "silence invalid: invalid zero end timestamp");
  EXPECT_EQ(silences_.size(), 0u);
}

TEST_F(SilencesTest, Expire) {
  const std::string active = add({eq("a", "b")}, kStartMs, kStartMs + kHourMs);
  const std::string pending = add({eq("a", "b")}, kStartMs + kHourMs, kStartMs + 2 * kHourMs);
  clock_.advance(5s);
  const std::uint64_t version = silences_.version();
  EXPECT_EQ(silences_.expire(active), std::nullopt);
  EXPECT_EQ(silences_.expire(pending), std::nullopt);
  EXPECT_GT(silences_.version(), version);
  Silence a = stored(active);
  EXPECT_EQ(a.starts_at_ms, kStartMs);
  EXPECT_EQ(a.ends_at_ms, now());
  EXPECT_EQ(a.updated_at_ms, now());
  EXPECT_EQ(state_of(a, now()), SilenceState::kExpired);
  Silence p = stored(pending);
  EXPECT_EQ(p.starts_at_ms, now());
  EXPECT_EQ(p.ends_at_ms, now());
  // Expiring again succeeds and changes nothing, as in 0.25.
  clock_.advance(5s);
  const std::uint64_t after = silences_.version();
  EXPECT_EQ(silences_.expire(active), std::nullopt);
  EXPECT_EQ(stored(active), a);
  EXPECT_EQ(silences_.version(), after);
  EXPECT_EQ(silences_.expire("00000000-0000-4000-8000-000000000000"), "silence not found");
}

TEST_F(SilencesTest, MutesWithActiveSilencesOnly) {
  const LabelSet alert = LabelSet::from({{"alertname", "Down"}, {"job", "api"}, {"env", "prod"}});
  const std::string by_job = add({eq("job", "api")}, kStartMs, kStartMs + kHourMs);
  const std::string by_regex =
      add({re("env", "prod|qa"), ne("team", "db")}, kStartMs, kStartMs + kHourMs);
  add({re("env", "pro")}, kStartMs, kStartMs + kHourMs);                    // anchored: no
  add({eq("job", "api"), eq("team", "db")}, kStartMs, kStartMs + kHourMs);  // missing label
  const std::string not_api = add({re("job", "api", false)}, kStartMs, kStartMs + kHourMs);
  const std::string later = add({eq("job", "api")}, kStartMs + kHourMs, kStartMs + 2 * kHourMs);

  std::vector<std::string> expected{by_job, by_regex};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(silences_.mutes(alert), expected);
  EXPECT_EQ(silences_.mutes(LabelSet::from({{"job", "web"}})), std::vector<std::string>{not_api});

  clock_.advance(1h);  // the first ones ended; the pending one began
  EXPECT_EQ(silences_.mutes(alert), std::vector<std::string>{later});
  ASSERT_EQ(silences_.expire(later), std::nullopt);
  EXPECT_TRUE(silences_.mutes(alert).empty());
}

// Patterns 0.25 accepts but cannot run anchored: taken, muting nothing,
// without disturbing the other silences (in 0.25 they stop all muting).
TEST_F(SilencesTest, SilenceWhoseAnchoredRegexGoCannotCompileMutesNothing) {
  const std::string quote = add({re("a", "x\\Qb")}, kStartMs, kStartMs + kHourMs);
  const std::string deep = add({re("a", std::string(999, '(') + "xb" + std::string(999, ')'))},
                               kStartMs, kStartMs + kHourMs);
  const std::string plain = add({eq("a", "xb")}, kStartMs, kStartMs + kHourMs);
  EXPECT_EQ(silences_.mutes(LabelSet::from({{"a", "xb"}})), std::vector<std::string>{plain});
  EXPECT_FALSE(matches(*silences_.get(quote), LabelSet::from({{"a", "xb"}})));
  EXPECT_FALSE(matches(*silences_.get(deep), LabelSet::from({{"a", "xb"}})));
  EXPECT_TRUE(parse(body(R"([{"name":"a","value":"x\\Qb","isRegex":true}])")).ok());
  // 998 groups are fine either way.
  const std::string shallow = add({re("a", std::string(998, '(') + "xb" + std::string(998, ')'))},
                                  kStartMs, kStartMs + kHourMs);
  EXPECT_EQ(silences_.mutes(LabelSet::from({{"a", "xb"}})).size(), 2u);
  EXPECT_TRUE(matches(*silences_.get(shallow), LabelSet::from({{"a", "xb"}})));
}

TEST_F(SilencesTest, QueryByStateAndFilterInAlertmanagersOrder) {
  const std::string a1 = add({eq("job", "api")}, kStartMs, kStartMs + 2 * kHourMs);
  const std::string a2 = add({eq("job", "web")}, kStartMs, kStartMs + kHourMs);
  const std::string p1 = add({eq("job", "api")}, kStartMs + kHourMs, kStartMs + 3 * kHourMs);
  const std::string e1 = add({eq("job", "db")}, kStartMs, kStartMs + 3 * kHourMs);
  clock_.advance(1s);
  ASSERT_EQ(silences_.expire(e1), std::nullopt);
  const auto ids = [](const std::vector<Silence>& list) {
    std::vector<std::string> out;
    for (const Silence& s : list) out.push_back(s.id);
    return out;
  };
  EXPECT_EQ(ids(silences_.query()), (std::vector<std::string>{a2, a1, p1, e1}));
  EXPECT_EQ(ids(silences_.query(SilenceState::kActive)), (std::vector<std::string>{a2, a1}));
  EXPECT_EQ(ids(silences_.query(SilenceState::kPending)), std::vector<std::string>{p1});
  EXPECT_EQ(ids(silences_.query(SilenceState::kExpired)), std::vector<std::string>{e1});
  const std::vector<SilenceMatcher> api{eq("job", "api")};
  EXPECT_EQ(ids(silences_.query(std::nullopt, api)), (std::vector<std::string>{a1, p1}));
}

TEST_F(SilencesTest, GcDropsSilencesPastTheRetention) {
  const std::string id = add({eq("a", "b")}, kStartMs, kStartMs + kHourMs);
  add({eq("a", "b")}, kStartMs, kStartMs + 200 * kHourMs);
  clock_.advance(1h + 120h - 1ms);
  EXPECT_EQ(silences_.gc(), 0u);
  EXPECT_TRUE(silences_.get(id).has_value());
  clock_.advance(1ms);
  EXPECT_EQ(silences_.gc(), 1u);
  EXPECT_FALSE(silences_.get(id).has_value());
  EXPECT_EQ(silences_.size(), 1u);
}

TEST(SilencesLimits, CountMatchersAndSize) {
  firebreak::ManualClock clock;
  Silences silences({.clock = &clock,
                     .retention_ms = 1000,
                     .max_silences = 2,
                     .max_matchers = 2,
                     .max_silence_bytes = 40});
  const auto set = [&](std::vector<SilenceMatcher> m, std::string comment = "c") {
    Silence s = silence_of(std::move(m), kStartMs, kStartMs + kHourMs);
    s.comment = std::move(comment);
    return silences.set(std::move(s));
  };
  EXPECT_EQ(set({eq("a", "1"), eq("b", "2"), eq("c", "3")}).error,
            "silence has too many matchers: 3 (limit: 2)");
  EXPECT_EQ(set({eq("a", "1")}, std::string(40, 'x')).error,
            "silence exceeded maximum size: 44 bytes (limit: 40 bytes)");
  const SetResult first = set({eq("a", "1")});
  ASSERT_TRUE(first.ok()) << first.error;
  ASSERT_TRUE(set({eq("a", "2")}).ok());
  const SetResult third = set({eq("a", "3")});
  EXPECT_EQ(third.error, "exceeded maximum number of silences: 2 (limit: 2)");
  EXPECT_EQ(third.http_status, 400);
  // Expired silences count until the retention is over, then make room.
  clock.advance(1s);
  ASSERT_EQ(silences.expire(first.id), std::nullopt);
  EXPECT_FALSE(set({eq("a", "3")}).ok());
  clock.advance(1s);
  EXPECT_TRUE(set({eq("a", "3")}).ok());
  EXPECT_EQ(silences.size(), 2u);
}

TEST_F(SilencesTest, SnapshotAndRestore) {
  const std::string id = add({re("job", "api|web")}, kStartMs, kStartMs + kHourMs);
  add({eq("job", "db")}, kStartMs, kStartMs + kHourMs);
  const std::vector<Silence> snapshot = silences_.snapshot();
  ASSERT_EQ(snapshot.size(), 2u);

  Silences other({.clock = &clock_});
  other.restore(snapshot);
  EXPECT_EQ(other.snapshot(), snapshot);
  EXPECT_EQ(other.mutes(LabelSet::from({{"job", "web"}})), std::vector<std::string>{id});

  // A silence whose regex does not compile is kept but mutes nothing; a
  // repeated id keeps the last.
  Silence broken = silence_of({re("job", "(")}, kStartMs, kStartMs + kHourMs);
  broken.id = "broken";
  Silence twice = silence_of({eq("job", "x")}, kStartMs, kStartMs + kHourMs);
  twice.id = "twice";
  Silence again = twice;
  again.comment = "second";
  other.restore({broken, twice, again});
  EXPECT_EQ(other.size(), 2u);
  EXPECT_TRUE(other.mutes(LabelSet::from({{"job", "("}})).empty());
  EXPECT_EQ(other.get("twice")->comment, "second");
  EXPECT_EQ(other.expire("broken"), std::nullopt);
}

TEST_F(SilencesTest, ConcurrentReadersAndWriters) {
  const LabelSet alert = LabelSet::from({{"job", "api"}});
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        (void)silences_.mutes(alert);
        (void)silences_.query();
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    const std::string id =
        add({re("job", "api|x" + std::to_string(i))}, kStartMs, kStartMs + kHourMs);
    if (i % 2 == 0) {
      EXPECT_EQ(silences_.expire(id), std::nullopt);
    }
  }
  stop.store(true);
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(silences_.mutes(alert).size(), 100u);
}

// The path from a POST body to muting, as the server wires it.
TEST_F(SilencesTest, PostedSilenceMutes) {
  ParseResult posted = parse_postable_silence(
      body(
          R"([{"name":"alertname","value":"Disk.*","isRegex":true},{"name":"severity","value":"info","isRegex":false,"isEqual":false}])"),
      now());
  ASSERT_TRUE(posted.ok()) << posted.error;
  const SetResult set = silences_.set(std::move(posted.silence));
  ASSERT_TRUE(set.ok()) << set.error;
  EXPECT_EQ(silences_.mutes(LabelSet::from({{"alertname", "DiskFull"}, {"severity", "page"}})),
            std::vector<std::string>{set.id});
  EXPECT_TRUE(
      silences_.mutes(LabelSet::from({{"alertname", "DiskFull"}, {"severity", "info"}})).empty());
  const std::string json = to_json(silences_.query(), now());
  EXPECT_NE(json.find(R"("status":{"state":"active"})"), std::string::npos) << json;
}

}  // namespace
}  // namespace watch::silence
