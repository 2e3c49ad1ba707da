// tracestate parsing, bounds and mutation against the W3C Trace Context rules.
#include <gtest/gtest.h>

#include <string>

#include "firebreak/trace.h"

namespace firebreak {
namespace {

TraceState parse_ok(std::string_view header) {
  auto ts = TraceState::parse(header);
  EXPECT_TRUE(ts) << header;
  return ts.value_or(TraceState());
}

TEST(Tracestate, ParsesTheSpecificationsExamples) {
  auto ts = parse_ok("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  ASSERT_EQ(ts.size(), 2u);
  EXPECT_EQ(ts.members()[0].key, "rojo");
  EXPECT_EQ(ts.members()[0].value, "00f067aa0ba902b7");
  EXPECT_EQ(ts.members()[1].key, "congo");
  EXPECT_EQ(ts.get("congo"), "t61rcWkgMzE");
  EXPECT_EQ(ts.header(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_EQ(parse_ok("congo=t61rcWkgMzE").header(), "congo=t61rcWkgMzE");
}

TEST(Tracestate, EmptyHeaderIsValidAndEmpty) {
  EXPECT_TRUE(parse_ok("").empty());
  EXPECT_TRUE(parse_ok("   ").empty());
  EXPECT_TRUE(parse_ok(",").empty());
  EXPECT_TRUE(parse_ok(" , \t ,").empty());
  EXPECT_EQ(parse_ok("").header(), "");
}

TEST(Tracestate, EmptyMembersAreSkipped) {
  EXPECT_EQ(parse_ok(",foo=1").header(), "foo=1");
  EXPECT_EQ(parse_ok("foo=1,").header(), "foo=1");
  EXPECT_EQ(parse_ok("foo=1,,,bar=2").header(), "foo=1,bar=2");
  EXPECT_EQ(parse_ok("foo=1, ,\t,bar=2").header(), "foo=1,bar=2");
}

TEST(Tracestate, OptionalWhitespaceAroundMembersIsIgnored) {
  for (std::string_view h :
       {"foo=1 \t , \t bar=2, \t baz=3", "foo=1\t \t,\t \tbar=2,\t \tbaz=3", " foo=1,bar=2,baz=3",
        "foo=1,bar=2,baz=3 \t", "\t foo=1 ,bar=2,baz=3"}) {
    auto ts = parse_ok(h);
    EXPECT_EQ(ts.header(), "foo=1,bar=2,baz=3") << h;
  }
}

TEST(Tracestate, LeadingSpacesOfAValueArePartOfIt) {
  auto ts = parse_ok("foo=  bar");
  EXPECT_EQ(ts.get("foo"), "  bar");
  EXPECT_EQ(ts.header(), "foo=  bar");
}

TEST(Tracestate, AllAllowedCharacters) {
  const std::string key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
  std::string value;
  for (int c = 0x20; c <= 0x7e; ++c) {
    if (c != ',' && c != '=') value += static_cast<char>(c);
  }
  auto ts = parse_ok(key + "=" + value);
  EXPECT_EQ(ts.get(key), value);
  ts = parse_ok(key + "@a-z0-9_-*/=" + value);
  EXPECT_EQ(ts.get(key + "@a-z0-9_-*/"), value);
}

TEST(Tracestate, MultiTenantKeys) {
  EXPECT_TRUE(TraceState::valid_key("fw529a3039@dt"));
  EXPECT_TRUE(TraceState::valid_key("tenant@system"));
  EXPECT_TRUE(TraceState::valid_key("0tenant@s"));  // a tenant may start with a digit
  EXPECT_TRUE(TraceState::valid_key("t@v"));
  EXPECT_FALSE(TraceState::valid_key("tenant@0system"));  // a system may not
  EXPECT_FALSE(TraceState::valid_key("foo@"));
  EXPECT_FALSE(TraceState::valid_key("@foo"));
  EXPECT_FALSE(TraceState::valid_key("foo@@bar"));
  EXPECT_FALSE(TraceState::valid_key("foo@bar@baz"));
  EXPECT_FALSE(TraceState::valid_key("_tenant@sys"));
}

TEST(Tracestate, SimpleKeys) {
  EXPECT_TRUE(TraceState::valid_key("a"));
  EXPECT_TRUE(TraceState::valid_key("a1_-*/"));
  EXPECT_FALSE(TraceState::valid_key(""));
  EXPECT_FALSE(TraceState::valid_key("1abc"));  // a simple key starts with a letter
  EXPECT_FALSE(TraceState::valid_key("FOO"));
  EXPECT_FALSE(TraceState::valid_key("fOo"));
  EXPECT_FALSE(TraceState::valid_key("foo.bar"));
  EXPECT_FALSE(TraceState::valid_key("foo bar"));
  EXPECT_FALSE(TraceState::valid_key("foo "));
  EXPECT_FALSE(TraceState::valid_key("_foo"));
  EXPECT_FALSE(TraceState::valid_key("-foo"));
  EXPECT_FALSE(TraceState::valid_key("fo\xc3\xb6"));
}

TEST(Tracestate, KeyLengthLimits) {
  EXPECT_TRUE(TraceState::valid_key(std::string(256, 'z')));
  EXPECT_FALSE(TraceState::valid_key(std::string(257, 'z')));
  EXPECT_TRUE(TraceState::valid_key(std::string(241, 't') + "@" + std::string(14, 'v')));
  EXPECT_FALSE(TraceState::valid_key(std::string(242, 't') + "@v"));
  EXPECT_FALSE(TraceState::valid_key("t@" + std::string(15, 'v')));
}

TEST(Tracestate, ValueRules) {
  EXPECT_TRUE(TraceState::valid_value("1"));
  EXPECT_TRUE(TraceState::valid_value(" leading"));
  EXPECT_TRUE(TraceState::valid_value(std::string(256, 'v')));
  EXPECT_FALSE(TraceState::valid_value(std::string(257, 'v')));
  EXPECT_FALSE(TraceState::valid_value(""));
  EXPECT_FALSE(TraceState::valid_value("trailing "));
  EXPECT_FALSE(TraceState::valid_value("a,b"));
  EXPECT_FALSE(TraceState::valid_value("a=b"));
  EXPECT_FALSE(TraceState::valid_value("tab\there"));
  EXPECT_FALSE(TraceState::valid_value("new\nline"));
  EXPECT_FALSE(TraceState::valid_value("del\x7f"));
  EXPECT_FALSE(TraceState::valid_value("\xc3\xa9"));
}

class TracestateInvalid : public ::testing::TestWithParam<std::string> {};

TEST_P(TracestateInvalid, IsDiscardedAsAWhole) {
  EXPECT_FALSE(TraceState::parse(GetParam())) << GetParam();
}

std::string members(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) {
    if (i > 1) s += ',';
    s += "bar" + std::to_string(i) + "=" + std::to_string(i);
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Spec, TracestateInvalid,
    ::testing::Values("foo", "foo=", "=1", "foo=,bar=3", "foo=bar=baz", "foo =1", "FOO=1",
                      "foo.bar=1", "foo@=1,bar=2", "@foo=1,bar=2", "foo@@bar=1,bar=2",
                      "foo@bar@baz=1,bar=2", "foo=1,foo=1", "foo=1,foo=2", "foo=1,bar=2,foo=3",
                      members(33), std::string(257, 'z') + "=1", std::string(242, 't') + "@v=1",
                      "t@" + std::string(15, 'v') + "=1", "foo=" + std::string(257, 'v'),
                      "foo=a\tb", "foo=1;bar=2", "foo=\xc3\xa9", "1=1", "foo=1,bar"));

TEST(Tracestate, ThirtyTwoMembersAreAccepted) {
  auto ts = parse_ok(members(32));
  EXPECT_EQ(ts.size(), 32u);
  EXPECT_EQ(ts.get("bar1"), "1");
  EXPECT_EQ(ts.get("bar32"), "32");
}

TEST(Tracestate, LongestKeysAreAccepted) {
  auto ts = parse_ok("foo=1," + std::string(256, 'z') + "=1");
  EXPECT_EQ(ts.get("foo"), "1");
  ts = parse_ok("foo=1," + std::string(241, 't') + "@" + std::string(14, 'v') + "=1");
  EXPECT_EQ(ts.get("foo"), "1");
}

TEST(Tracestate, OverlongListDropsEntriesOver128CharactersFirst) {
  // 4 short entries, then one of 200 characters, then 3 more of 100: 720 in all.
  std::string h = "a=1,b=2,c=3,d=4,big=" + std::string(196, 'x');
  for (int i = 0; i < 3; ++i) h += ",k" + std::to_string(i) + "=" + std::string(97, 'y');
  auto ts = parse_ok(h);
  EXPECT_FALSE(ts.get("big"));  // the entry over 128 characters went first
  EXPECT_TRUE(ts.get("a"));
  EXPECT_TRUE(ts.get("k2"));
  EXPECT_LE(ts.header().size(), TraceState::kMaxLength);
}

TEST(Tracestate, OverlongListThenDropsEntriesFromTheEnd) {
  std::string h;
  for (int i = 0; i < 10; ++i) {
    if (i) h += ',';
    h += "k" + std::to_string(i) + "=" + std::string(100, 'v');  // 103 characters each
  }
  auto ts = parse_ok(h);
  EXPECT_LE(ts.header().size(), TraceState::kMaxLength);
  ASSERT_EQ(ts.size(), 4u);  // 4 * 103 + 3 = 415; 5 entries would be 519
  EXPECT_EQ(ts.members()[0].key, "k0");
  EXPECT_EQ(ts.members()[3].key, "k3");
}

TEST(Tracestate, SetMovesTheKeyToTheFront) {
  auto ts = parse_ok("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  auto updated = ts.set("rojo", "00f067aa0ba902b7");
  EXPECT_EQ(updated.header(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  updated = updated.set("congo", "ucfJifl5GOE");
  EXPECT_EQ(updated.header(), "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7");
  // The original is unchanged (immutable).
  EXPECT_EQ(ts.header(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
}

TEST(Tracestate, SetAddsANewKeyAtTheFront) {
  auto ts = parse_ok("a=1,b=2").set("c", "3");
  EXPECT_EQ(ts.header(), "c=3,a=1,b=2");
  EXPECT_EQ(TraceState().set("x", "y").header(), "x=y");
}

TEST(Tracestate, SetOnAFullListDropsTheLastMember) {
  auto ts = parse_ok(members(32)).set("new", "v");
  EXPECT_EQ(ts.size(), 32u);
  EXPECT_EQ(ts.members()[0].key, "new");
  EXPECT_FALSE(ts.get("bar32"));
  EXPECT_TRUE(ts.get("bar31"));
}

TEST(Tracestate, SetKeepsTheNewEntryWhenTruncating) {
  std::string h;
  for (int i = 0; i < 4; ++i) {
    if (i) h += ',';
    h += "k" + std::to_string(i) + "=" + std::string(120, 'v');
  }
  auto ts = parse_ok(h).set("mine", std::string(200, 'm'));
  EXPECT_EQ(ts.members()[0].key, "mine");
  EXPECT_LE(ts.header().size(), TraceState::kMaxLength);
}

TEST(Tracestate, SetRejectsInvalidKeysAndValues) {
  EXPECT_THROW(TraceState().set("Bad", "v"), std::invalid_argument);
  EXPECT_THROW(TraceState().set("ok", "a,b"), std::invalid_argument);
  EXPECT_THROW(TraceState().set("ok", ""), std::invalid_argument);
}

TEST(Tracestate, EraseRemovesOneKey) {
  auto ts = parse_ok("a=1,b=2,c=3");
  EXPECT_EQ(ts.erase("b").header(), "a=1,c=3");
  EXPECT_EQ(ts.erase("zz").header(), "a=1,b=2,c=3");
  EXPECT_TRUE(parse_ok("a=1").erase("a").empty());
}

TEST(Tracestate, CopiesCompareEqual) {
  auto a = parse_ok("a=1,b=2");
  auto b = a;
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, parse_ok("a=1, b=2"));
  EXPECT_NE(a, parse_ok("b=2,a=1"));
  EXPECT_EQ(TraceState(), parse_ok(""));
}

}  // namespace
}  // namespace firebreak
