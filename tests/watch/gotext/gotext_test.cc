// Go's reading of UTF-8 (utf8.DecodeRune, utf8.ValidString) and Go's quoting
// (strconv.Quote), byte by byte. The quoting cases of valid text are what
// promtool 2.42 (Go 1.19) prints for them in "unknown relabel action %q".
#include "watch/gotext/gotext.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace watch::gotext {
namespace {

struct Decoded {
  char32_t value;
  std::size_t width;
  bool valid;
  friend bool operator==(const Decoded&, const Decoded&) = default;
};

Decoded decode(std::string_view s, std::size_t i = 0) {
  const Rune r = decode_rune(s, i);
  return {r.value, r.width, r.valid};
}

constexpr Decoded kBad{0xFFFD, 1, false};

TEST(GoTextDecodeTest, ReadsWellFormedSequences) {
  EXPECT_EQ(decode("a"), (Decoded{'a', 1, true}));
  EXPECT_EQ(decode(std::string_view("\0", 1)), (Decoded{0, 1, true}));
  EXPECT_EQ(decode("\x7f"), (Decoded{0x7F, 1, true}));
  EXPECT_EQ(decode("\xc2\x80"), (Decoded{0x80, 2, true}));
  EXPECT_EQ(decode("\xc3\xa9"), (Decoded{0xE9, 2, true}));
  EXPECT_EQ(decode("\xdf\xbf"), (Decoded{0x7FF, 2, true}));
  EXPECT_EQ(decode("\xe0\xa0\x80"), (Decoded{0x800, 3, true}));
  EXPECT_EQ(decode("\xed\x9f\xbf"), (Decoded{0xD7FF, 3, true}));
  EXPECT_EQ(decode("\xee\x80\x80"), (Decoded{0xE000, 3, true}));
  EXPECT_EQ(decode("\xef\xbf\xbd"), (Decoded{0xFFFD, 3, true}));  // a real U+FFFD is valid
  EXPECT_EQ(decode("\xf0\x90\x80\x80"), (Decoded{0x10000, 4, true}));
  EXPECT_EQ(decode("\xf4\x8f\xbf\xbf"), (Decoded{0x10FFFF, 4, true}));
  // At an offset, and up to the end of the text.
  EXPECT_EQ(decode("ab\xe2\x82\xac", 2), (Decoded{0x20AC, 3, true}));
}

TEST(GoTextDecodeTest, AnIllFormedByteIsOneReplacementCharacter) {
  // Stray continuation bytes and bytes that never start a sequence.
  EXPECT_EQ(decode("\x80"), kBad);
  EXPECT_EQ(decode("\xbf"), kBad);
  EXPECT_EQ(decode("\xfe"), kBad);
  EXPECT_EQ(decode("\xff"), kBad);
  // Overlong forms: C0 and C1 never lead; E0 and F0 need a high second byte.
  EXPECT_EQ(decode("\xc0\x80"), kBad);
  EXPECT_EQ(decode("\xc1\xbf"), kBad);
  EXPECT_EQ(decode("\xe0\x9f\xbf"), kBad);
  EXPECT_EQ(decode("\xf0\x8f\xbf\xbf"), kBad);
  // Surrogates (U+D800..U+DFFF) are not characters.
  EXPECT_EQ(decode("\xed\xa0\x80"), kBad);
  EXPECT_EQ(decode("\xed\xbf\xbf"), kBad);
  // Past U+10FFFF.
  EXPECT_EQ(decode("\xf4\x90\x80\x80"), kBad);
  EXPECT_EQ(decode("\xf5\x80\x80\x80"), kBad);
  // Truncated: by the end of the text or by a byte that does not continue.
  EXPECT_EQ(decode("\xc3"), kBad);
  EXPECT_EQ(decode("\xe2\x82"), kBad);
  EXPECT_EQ(decode("\xf0\x9f\x98"), kBad);
  EXPECT_EQ(decode("\xe2\x82z"), kBad);
  EXPECT_EQ(decode("\xe2z\xac"), kBad);
  // Only the first byte is consumed: reading goes on at the next one.
  EXPECT_EQ(decode("\xe2\x82\xac", 1), kBad);
  EXPECT_EQ(decode("\xf0\x9f\x98"
                   "a",
                   3),
            (Decoded{'a', 1, true}));
}

TEST(GoTextValidTest, IsValidUtf8AsUtf8ValidString) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd"));
  EXPECT_FALSE(is_valid_utf8("a\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("ok\xe2\x82"));
}

TEST(GoTextValidTest, ToValidUtf8ReplacesEachBadByte) {
  EXPECT_EQ(to_valid_utf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(to_valid_utf8("a\xff"
                          "b"),
            "a\xef\xbf\xbd"
            "b");
  // A truncated sequence is one U+FFFD per byte, as Go's range loop sees it.
  EXPECT_EQ(to_valid_utf8("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(to_valid_utf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(to_valid_utf8("\xc0\x80x"), "\xef\xbf\xbd\xef\xbf\xbdx");
}

TEST(GoTextAppendTest, EncodesAsUtf8AppendRune) {
  std::string out;
  for (char32_t r : {U'a', U'\u00e9', U'\u20ac', U'\U0001F600', U'\U0010FFFF'}) {
    append_utf8(out, r);
  }
  EXPECT_EQ(out, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
  // What is not a character becomes U+FFFD.
  out.clear();
  append_utf8(out, 0xD800);
  append_utf8(out, 0x110000);
  EXPECT_EQ(out, "\xef\xbf\xbd\xef\xbf\xbd");
  // Round trip with decode_rune.
  for (char32_t r : {0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    std::string s;
    append_utf8(s, r);
    EXPECT_EQ(decode(s), (Decoded{r, s.size(), true})) << std::hex << static_cast<std::uint32_t>(r);
  }
}

TEST(GoTextQuoteTest, QuotesAsStrconvQuote) {
  EXPECT_EQ(go_quote(""), "\"\"");
  EXPECT_EQ(go_quote("plain"), "\"plain\"");
  // Control characters: the C escapes Go knows, \x for the others.
  EXPECT_EQ(go_quote("\a\b\f\n\r\t\v"), R"("\a\b\f\n\r\t\v")");
  EXPECT_EQ(go_quote(std::string_view("\0\x01\x1f\x7f", 4)), R"("\x00\x01\x1f\x7f")");
  EXPECT_EQ(go_quote("\"\\'"), R"("\"\\'")");
  // As promtool 2.42 quotes the same text (unicode.IsPrint decides).
  EXPECT_EQ(go_quote("\a\b\f\n\r\t\v\x01\x7f\"\\\u00a0\u200b\ufeff\U000e0001\ue000\u0378"
                     "\u00e9\U0001F600\ufffd\u00ad\u0085"),
            R"("\a\b\f\n\r\t\v\x01\x7f\"\\\u00a0\u200b\ufeff\U000e0001\ue000\u0378)"
            "\u00e9\U0001F600\ufffd"
            R"(\u00ad\u0085")");
}

TEST(GoTextQuoteTest, QuotesEachIllFormedByteAsHex) {
  EXPECT_EQ(go_quote("a\xff"), R"("a\xff")");
  EXPECT_EQ(go_quote("\xc0\xaf"), R"("\xc0\xaf")");                  // overlong '/'
  EXPECT_EQ(go_quote("\xed\xa0\x80"), R"("\xed\xa0\x80")");          // surrogate
  EXPECT_EQ(go_quote("\xf4\x90\x80\x80"), R"("\xf4\x90\x80\x80")");  // past U+10FFFF
  EXPECT_EQ(go_quote("\xe2\x82"
                     "a"),
            R"("\xe2\x82a")");  // truncated
  // A valid U+FFFD is printable and kept; the bytes around it are not.
  EXPECT_EQ(go_quote("\x80\xef\xbf\xbd\x80"), "\"\\x80\xef\xbf\xbd\\x80\"");
}

}  // namespace
}  // namespace watch::gotext
