#include "log/line_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "util/json_write.h"

namespace firebreak::detail {
namespace {

template <class Write>
std::string written(Write write, std::size_t capacity = 1024) {
  LineBuffer buf(capacity);
  LineWriter w(buf);
  write(w);
  w.finish();
  return std::string(buf.view());
}

std::string reference_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

std::string reference_double(double v) {
  std::string out;
  append_json_double(out, v);
  return out;
}

std::string fast_double(double v) {
  return written([&](LineWriter& w) { w.number(v); });
}

TEST(LineWriter, StringsAreEscapedExactlyAsJsonWrite) {
  const std::string specials[] = {"\"",   "\\",   "\n",   "\t",       std::string(1, '\0'),
                                  "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x98\x95",
                                  "\xff", "\xc3"};
  for (std::size_t len = 0; len <= 40; ++len) {
    const std::string plain(len, 'a');
    EXPECT_EQ(written([&](LineWriter& w) { w.json_string(plain); }), reference_string(plain));
    for (const std::string& special : specials) {
      for (std::size_t pos = 0; pos < len; ++pos) {
        std::string s = plain;
        s.replace(pos, 1, special);
        EXPECT_EQ(written([&](LineWriter& w) { w.json_string(s); }), reference_string(s))
            << len << " " << pos;
      }
    }
  }
}

TEST(LineWriter, RandomBytesAreEscapedExactlyAsJsonWrite) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 64, ' ');
    const bool mostly_plain = i % 2 == 0;
    for (char& c : s) {
      const auto r = static_cast<unsigned char>(rng());
      c = static_cast<char>(mostly_plain && r % 16 != 0 ? 'a' + r % 26 : r);
    }
    ASSERT_EQ(written([&](LineWriter& w) { w.json_string(s); }), reference_string(s)) << i;
  }
}

TEST(LineWriter, GrowsWhenTheBufferIsSmall) {
  const std::string long_plain(5000, 'p');
  const std::string long_escaped(3000, '\n');
  const std::string got = written(
      [&](LineWriter& w) {
        w.json_string(long_plain);
        w.json_string(long_escaped);
        w.need(0);
        w.literal("}\n");
      },
      16);
  EXPECT_EQ(got, reference_string(long_plain) + reference_string(long_escaped) + "}\n");
}

TEST(LineWriter, WritesInARegionUntilTheLineOutgrowsIt) {
  const std::string expected =
      reference_string("short") + reference_string("tab\there") + reference_string("x");
  char region[256];
  {
    LineBuffer buf(16);
    LineWriter w(buf, region, sizeof region);
    w.json_string("short");
    w.json_string("tab\there");  // escaping goes through the buffer: moves there
    w.json_string("x");
    EXPECT_FALSE(w.finish());
    EXPECT_EQ(buf.view(), expected);
  }
  {
    LineBuffer buf(16);
    LineWriter w(buf, region, sizeof region);
    w.json_string("short");
    w.json_string("plain");
    ASSERT_TRUE(w.finish());
    EXPECT_EQ(std::string_view(region, w.in_region_size()),
              reference_string("short") + reference_string("plain"));
    EXPECT_EQ(buf.size(), 0u);
  }
  {
    const std::string long_plain(1000, 'p');
    LineBuffer buf(16);
    LineWriter w(buf, region, sizeof region);
    w.json_string("short");
    w.json_string(long_plain);  // outgrows the region
    w.need(0);
    w.literal("}\n");
    EXPECT_FALSE(w.finish());
    EXPECT_EQ(buf.view(), reference_string("short") + reference_string(long_plain) + "}\n");
  }
}

TEST(LineWriter, IntegersAsDecimal) {
  for (std::int64_t v :
       {std::int64_t{0}, std::int64_t{7}, std::int64_t{-7}, std::int64_t{10}, std::int64_t{99},
        std::int64_t{100}, std::int64_t{-1000}, std::numeric_limits<std::int64_t>::max(),
        std::numeric_limits<std::int64_t>::min()}) {
    EXPECT_EQ(written([&](LineWriter& w) {
                w.need(24);
                w.signed_integer(v);
              }),
              std::to_string(v));
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t v = rng() >> (rng() % 64);
    ASSERT_EQ(written([&](LineWriter& w) {
                w.need(24);
                w.unsigned_integer(v);
              }),
              std::to_string(v));
  }
}

TEST(LineWriter, DoublesAreWrittenExactlyAsJsonWrite) {
  const double specials[] = {0.0,
                             -0.0,
                             1.0,
                             -1.0,
                             0.5,
                             0.0123,
                             12.5,
                             1.5,
                             100.0,
                             1200.0,
                             0.1,
                             0.2,
                             0.3,
                             1.0 / 3.0,
                             2.0 / 3.0,
                             1e-4,
                             1e-5,
                             9.99999e-5,
                             1e15,
                             1e16,
                             999999999999999.0,
                             999999999999999.9,
                             123456789012345.6,
                             0.000123456789012345,
                             std::numeric_limits<double>::min(),
                             std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::denorm_min(),
                             std::numeric_limits<double>::epsilon(),
                             std::nan(""),
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity()};
  for (double v : specials) EXPECT_EQ(fast_double(v), reference_double(v)) << v;
  // Powers of ten and their neighbours, where the magnitude guess is tight.
  for (int e = -8; e <= 17; ++e) {
    const double p = std::pow(10.0, e);
    for (double v : {p, std::nextafter(p, 0.0), std::nextafter(p, 1e300)}) {
      EXPECT_EQ(fast_double(v), reference_double(v)) << v;
      EXPECT_EQ(fast_double(-v), reference_double(-v)) << v;
    }
  }
}

TEST(LineWriter, PowersOfTwoAndTheirNeighboursAsJsonWrite) {
  // Below a power of two the rounding interval is lopsided.
  for (int e = -16; e <= 52; ++e) {
    const double p = std::ldexp(1.0, e);
    for (double v : {p, std::nextafter(p, 0.0), std::nextafter(p, 1e300), 3 * p, 5 * p}) {
      EXPECT_EQ(fast_double(v), reference_double(v)) << v;
      EXPECT_EQ(fast_double(-v), reference_double(-v)) << v;
    }
  }
}

TEST(LineWriter, RandomDoublesAreWrittenExactlyAsJsonWrite) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 300000; ++i) {
    // Short decimals (what logs mostly hold), of every length and scale.
    const std::uint64_t digits = 1 + rng() % 17;
    std::uint64_t m = rng() % static_cast<std::uint64_t>(std::pow(10.0, digits));
    const int scale = static_cast<int>(rng() % 26) - 6;
    const double v = static_cast<double>(m) / std::pow(10.0, scale);
    ASSERT_EQ(fast_double(v), reference_double(v)) << m << "e-" << scale;
    // Any bit pattern.
    double any;
    const std::uint64_t bits = rng();
    std::memcpy(&any, &bits, 8);
    ASSERT_EQ(fast_double(any), reference_double(any)) << bits;
    // Results of arithmetic, full of 16- and 17-digit values.
    const double ratio = static_cast<double>(rng() % 100000) / static_cast<double>(1 + rng() % 997);
    ASSERT_EQ(fast_double(ratio), reference_double(ratio)) << ratio;
  }
}

// Durations of whole nanoseconds, the common small doubles: fixed notation
// from 1e-4 up, scientific below (as fmt writes them).
TEST(LineWriter, NanosecondDurationsAreWrittenExactlyAsJsonWrite) {
  for (std::uint64_t ns = 1; ns < 2000000; ns += 1 + ns / 1000) {
    for (const double v : {static_cast<double>(ns) / 1e9, -static_cast<double>(ns) / 1e9,
                           static_cast<double>(ns) * 1e-9, static_cast<double>(ns) / 1e6}) {
      ASSERT_EQ(fast_double(v), reference_double(v)) << ns;
    }
  }
  for (const double v : {1e-9, 1e-5, 9e-5, 9.9999e-5, 1.00001e-5, 2.3456e-5, 0.99999999e-4, 1e-4,
                         0.9e-9, 1.5e-10, 123456789e-13}) {
    ASSERT_EQ(fast_double(v), reference_double(v)) << v;
  }
}

TEST(LineWriter, TimestampOpeningMatchesRfc3339) {
  TimestampOpening cache;
  for (std::int64_t micros : {std::int64_t{1764112727123456}, std::int64_t{1764112727999999},
                              std::int64_t{1764112728000000}, std::int64_t{1764112727000001},
                              std::int64_t{0}, std::int64_t{-1}, std::int64_t{951782400000001}}) {
    char ts[27];
    format_rfc3339_micros(ts, micros);
    EXPECT_EQ(written([&](LineWriter& w) {
                w.need(64);
                w.timestamp_opening(cache, micros);
              }),
              "{\"timestamp\":\"" + std::string(ts, 26))
        << micros;
  }
}

}  // namespace
}  // namespace firebreak::detail
