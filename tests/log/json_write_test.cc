#include <gtest/gtest.h>

#include "util/json_write.h"

namespace firebreak::detail {
namespace {

std::string esc(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(JsonEscape, PlainTextIsCopied) {
  EXPECT_EQ(esc("order created"), "\"order created\"");
}

TEST(JsonEscape, QuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(esc("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(esc("line1\nline2\r\t"), "\"line1\\nline2\\r\\t\"");
  EXPECT_EQ(esc(std::string_view("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\x7f\"");
  EXPECT_EQ(esc(std::string_view("nul\0byte", 8)), "\"nul\\u0000byte\"");
}

TEST(JsonEscape, LongRunsAreCheckedEightBytesAtATime) {
  // Each special character at every position of a 24-byte string.
  for (char special : {'"', '\\', '\n', '\x01', '\x1f'}) {
    for (std::size_t pos = 0; pos < 24; ++pos) {
      std::string s(24, 'a');
      s[pos] = special;
      const std::string got = esc(s);
      EXPECT_EQ(got.size(), 24 + 2 + (special == '\x01' || special == '\x1f' ? 5 : 1)) << pos;
    }
  }
  std::string utf8(20, 'b');
  utf8[9] = '\xff';
  EXPECT_EQ(esc(utf8), "\"" + std::string(9, 'b') + "\xef\xbf\xbd" + std::string(10, 'b') + "\"");
}

TEST(JsonEscape, ValidUtf8IsKept) {
  EXPECT_EQ(esc("caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x9a\x80"),
            "\"caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x9a\x80\"");
}

TEST(JsonEscape, InvalidUtf8IsReplacedByteByByte) {
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(esc("a\xff"
                "b"),
            "\"a" + fffd + "b\"");                                              // never valid
  EXPECT_EQ(esc("\xc3"), "\"" + fffd + "\"");                                   // truncated
  EXPECT_EQ(esc("\xc0\xaf"), "\"" + fffd + fffd + "\"");                        // overlong
  EXPECT_EQ(esc("\xed\xa0\x80"), "\"" + fffd + fffd + fffd + "\"");             // surrogate
  EXPECT_EQ(esc("\xf4\x90\x80\x80"), "\"" + fffd + fffd + fffd + fffd + "\"");  // > U+10FFFF
  EXPECT_EQ(esc("\xe2\x98"), "\"" + fffd + fffd + "\"");                        // cut short
}

TEST(JsonNumbers, SpecialDoublesBecomeStrings) {
  std::string out;
  append_json_double(out, 0.25);
  out += ' ';
  append_json_double(out, 1.0 / 0.0);
  out += ' ';
  append_json_double(out, -1.0 / 0.0);
  out += ' ';
  append_json_double(out, std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(out, "0.25 \"+Inf\" \"-Inf\" \"NaN\"");
}

TEST(Rfc3339, MicrosecondsUtc) {
  std::string out;
  append_rfc3339_micros(out, 1764112727123456);  // 2025-11-25T23:18:47.123456Z
  EXPECT_EQ(out, "2025-11-25T23:18:47.123456Z");
  out.clear();
  append_rfc3339_micros(out, 0);
  EXPECT_EQ(out, "1970-01-01T00:00:00.000000Z");
  out.clear();
  append_rfc3339_micros(out, 951782400000001);  // leap day 2000
  EXPECT_EQ(out, "2000-02-29T00:00:00.000001Z");
  out.clear();
  append_rfc3339_micros(out, -1);
  EXPECT_EQ(out, "1969-12-31T23:59:59.999999Z");
}

}  // namespace
}  // namespace firebreak::detail
