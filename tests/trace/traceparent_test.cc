// traceparent parsing and formatting against the W3C Trace Context rules
// (version 00 exact format; higher versions by the 00 prefix rules; invalid
// values rejected as a whole).
#include <gtest/gtest.h>

#include <string>

#include "firebreak/trace.h"

namespace firebreak {
namespace {

constexpr std::string_view kSpecSampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr std::string_view kSpecUnsampled =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

TEST(Traceparent, ParsesTheSpecificationsSampledExample) {
  auto ctx = parse_traceparent(kSpecSampled);
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ctx->span_id.to_hex(), "00f067aa0ba902b7");
  EXPECT_EQ(ctx->trace_flags, 0x01);
  EXPECT_TRUE(ctx->sampled());
  EXPECT_TRUE(ctx->is_remote);
  EXPECT_TRUE(ctx->trace_state.empty());
}

TEST(Traceparent, ParsesTheSpecificationsUnsampledExample) {
  auto ctx = parse_traceparent(kSpecUnsampled);
  ASSERT_TRUE(ctx);
  EXPECT_FALSE(ctx->sampled());
  EXPECT_EQ(ctx->trace_flags, 0x00);
}

TEST(Traceparent, FormatRoundTripsExactly) {
  for (std::string_view v : {kSpecSampled, kSpecUnsampled}) {
    auto ctx = parse_traceparent(v);
    ASSERT_TRUE(ctx);
    EXPECT_EQ(format_traceparent(*ctx), v);
  }
}

TEST(Traceparent, FormatWritesFiftyFiveLowercaseCharacters) {
  SpanContext ctx;
  ctx.trace_id = *TraceId::from_hex("0af7651916cd43dd8448eb211c80319c");
  ctx.span_id = *SpanId::from_hex("b7ad6b7169203331");
  ctx.trace_flags = 1;
  char buf[kTraceparentSize + 1] = {};
  buf[kTraceparentSize] = 'X';  // nothing written past the end
  format_traceparent(ctx, buf);
  EXPECT_EQ(std::string_view(buf, kTraceparentSize),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_EQ(buf[kTraceparentSize], 'X');
}

TEST(Traceparent, KeepsVersion00FlagsOtherThanSampled) {
  // Flags are a bit field: 09 is sampled plus an unknown bit.
  auto ctx = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09");
  ASSERT_TRUE(ctx);
  EXPECT_TRUE(ctx->sampled());
  EXPECT_EQ(ctx->trace_flags, 0x09);
  ctx = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-08");
  ASSERT_TRUE(ctx);
  EXPECT_FALSE(ctx->sampled());
}

TEST(Traceparent, IgnoresSurroundingSpacesAndTabs) {
  for (std::string v : {" ", "\t", "\t \t"}) {
    EXPECT_TRUE(parse_traceparent(v + std::string(kSpecSampled))) << "leading " << v.size();
    EXPECT_TRUE(parse_traceparent(std::string(kSpecSampled) + v)) << "trailing " << v.size();
    EXPECT_TRUE(parse_traceparent(v + std::string(kSpecSampled) + v));
  }
}

struct Invalid {
  const char* why;
  std::string value;
};

class TraceparentInvalid : public ::testing::TestWithParam<Invalid> {};

TEST_P(TraceparentInvalid, IsRejectedAsAWhole) {
  EXPECT_FALSE(parse_traceparent(GetParam().value)) << GetParam().why << ": " << GetParam().value;
}

const std::string kT = "12345678901234567890123456789012";
const std::string kP = "1234567890123456";

INSTANTIATE_TEST_SUITE_P(
    Spec, TraceparentInvalid,
    ::testing::Values(
        Invalid{"empty", ""}, Invalid{"only spaces", "   "},
        Invalid{"version 00 with trailing dot", "00-" + kT + "-" + kP + "-01."},
        Invalid{"version 00 with trailing fields", "00-" + kT + "-" + kP + "-01-what-the-future"},
        Invalid{"version 00 with trailing dash", "00-" + kT + "-" + kP + "-01-"},
        Invalid{"version ff", "ff-" + kT + "-" + kP + "-01"},
        Invalid{"version illegal char first", ".0-" + kT + "-" + kP + "-01"},
        Invalid{"version illegal char second", "0.-" + kT + "-" + kP + "-01"},
        Invalid{"version uppercase", "0A-" + kT + "-" + kP + "-01"},
        Invalid{"version too long", "000-" + kT + "-" + kP + "-01"},
        Invalid{"version much too long", "0000-" + kT + "-" + kP + "-01"},
        Invalid{"version too short", "0-" + kT + "-" + kP + "-01"},
        Invalid{"trace id all zero", "00-00000000000000000000000000000000-" + kP + "-01"},
        Invalid{"trace id illegal first", "00-.2345678901234567890123456789012-" + kP + "-01"},
        Invalid{"trace id illegal last", "00-1234567890123456789012345678901.-" + kP + "-01"},
        Invalid{"trace id uppercase", "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + kP + "-01"},
        Invalid{"trace id one uppercase", "00-4bf92f3577b34da6a3ce929d0e0e473A-" + kP + "-01"},
        Invalid{"trace id too long", "00-123456789012345678901234567890123-" + kP + "-01"},
        Invalid{"trace id too short", "00-1234567890123456789012345678901-" + kP + "-01"},
        Invalid{"trace id with space", "00-1234567890123456 890123456789012-" + kP + "-01"},
        Invalid{"parent id all zero", "00-" + kT + "-0000000000000000-01"},
        Invalid{"parent id illegal first", "00-" + kT + "-.234567890123456-01"},
        Invalid{"parent id illegal last", "00-" + kT + "-123456789012345.-01"},
        Invalid{"parent id uppercase", "00-" + kT + "-00F067AA0BA902B7-01"},
        Invalid{"parent id too long", "00-" + kT + "-12345678901234567-01"},
        Invalid{"parent id too short", "00-" + kT + "-123456789012345-01"},
        Invalid{"flags illegal first", "00-" + kT + "-" + kP + "-.0"},
        Invalid{"flags illegal second", "00-" + kT + "-" + kP + "-0."},
        Invalid{"flags uppercase", "00-" + kT + "-" + kP + "-0A"},
        Invalid{"flags too long", "00-" + kT + "-" + kP + "-001"},
        Invalid{"flags too short", "00-" + kT + "-" + kP + "-1"},
        Invalid{"flags missing", "00-" + kT + "-" + kP + "-"},
        Invalid{"no flags field", "00-" + kT + "-" + kP},
        Invalid{"underscore delimiters", "00_" + kT + "_" + kP + "_01"},
        Invalid{"first delimiter wrong", "00+" + kT + "-" + kP + "-01"},
        Invalid{"second delimiter wrong", "00-" + kT + "+" + kP + "-01"},
        Invalid{"third delimiter wrong", "00-" + kT + "-" + kP + "+01"},
        Invalid{"inner whitespace", "00- " + kT + "-" + kP + "-01"},
        Invalid{"newline at end", "00-" + kT + "-" + kP + "-01\n"},
        Invalid{"NUL at end", std::string("00-" + kT + "-" + kP + "-01") + std::string(1, '\0')},
        Invalid{"higher version shorter than 55", "cc-" + kT + "-" + kP + "-1"},
        Invalid{"higher version dot after flags", "cc-" + kT + "-" + kP + "-01.what-the-future"},
        Invalid{"higher version no dash after flags", "cc-" + kT + "-" + kP + "-01what"},
        Invalid{"higher version zero trace id",
                "cc-00000000000000000000000000000000-" + kP + "-01"},
        Invalid{"higher version bad parent id", "cc-" + kT + "-123456789012345x-01"},
        Invalid{"higher version bad flags", "cc-" + kT + "-" + kP + "-0g"},
        Invalid{"version fe with bad trace id", "fe-" + kT.substr(1) + "x-" + kP + "-01"}));

TEST(Traceparent, HigherVersionIsParsedByThe00Prefix) {
  auto ctx = parse_traceparent("cc-" + kT + "-" + kP + "-01");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->trace_id.to_hex(), kT);
  EXPECT_EQ(ctx->span_id.to_hex(), kP);
  EXPECT_TRUE(ctx->sampled());
}

TEST(Traceparent, HigherVersionMayCarryMoreFieldsAfterADash) {
  auto ctx = parse_traceparent("cc-" + kT + "-" + kP + "-01-what-the-future-will-be-like");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->trace_id.to_hex(), kT);
  EXPECT_EQ(ctx->span_id.to_hex(), kP);
  EXPECT_TRUE(ctx->sampled());
  // Version fe is the highest valid one.
  EXPECT_TRUE(parse_traceparent("fe-" + kT + "-" + kP + "-00-x"));
  EXPECT_TRUE(parse_traceparent("01-" + kT + "-" + kP + "-00-"));
}

TEST(Traceparent, HigherVersionKeepsOnlyTheSampledFlag) {
  auto ctx = parse_traceparent("cc-" + kT + "-" + kP + "-ff");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->trace_flags, kTraceFlagSampled);
  ctx = parse_traceparent("cc-" + kT + "-" + kP + "-fe");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->trace_flags, 0);
}

TEST(Traceparent, HigherVersionIsWrittenBackAsVersion00) {
  auto ctx = parse_traceparent("cc-" + kT + "-" + kP + "-01-extra");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(format_traceparent(*ctx), "00-" + kT + "-" + kP + "-01");
}

TEST(Traceparent, EveryHexDigitIsAcceptedInEveryField) {
  const std::string digits = "0123456789abcdef";
  for (char c : digits) {
    std::string t(32, c), p(16, c);
    if (c == '0') t[0] = '1', p[0] = '1';
    const std::string v = std::string("00-") + t + "-" + p + "-" + std::string(2, c);
    auto ctx = parse_traceparent(v);
    ASSERT_TRUE(ctx) << v;
    EXPECT_EQ(format_traceparent(*ctx), v);
  }
}

TEST(Traceparent, OneNonZeroBitMakesAnIdValid) {
  EXPECT_TRUE(parse_traceparent("00-00000000000000000000000000000001-0000000000000001-00"));
  EXPECT_TRUE(parse_traceparent("00-10000000000000000000000000000000-1000000000000000-00"));
}

}  // namespace
}  // namespace firebreak
