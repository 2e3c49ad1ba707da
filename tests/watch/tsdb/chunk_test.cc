// Gorilla chunk encoding: exact round trips of every edge case, and the
// compression the format promises for regular scrapes.
#include "watch/tsdb/chunk.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace watch::tsdb {
namespace {

struct Raw {
  std::int64_t t;
  std::uint64_t bits;
  friend bool operator==(const Raw&, const Raw&) = default;
};

Raw raw(std::int64_t t, double v) {
  return Raw{t, std::bit_cast<std::uint64_t>(v)};
}

std::vector<Raw> decode(ChunkIterator it) {
  std::vector<Raw> out;
  while (it.next()) out.push_back(raw(it.t(), it.v()));
  return out;
}

// Appends, then checks the open chunk and its sealed copy both read back
// exactly the same bits.
void expect_round_trip(const std::vector<Raw>& in) {
  ChunkAppender a;
  for (const Raw& r : in) a.append(r.t, std::bit_cast<double>(r.bits));
  ASSERT_EQ(a.count(), in.size());
  EXPECT_EQ(decode(ChunkIterator(a)), in);
  const SealedChunk c = a.seal();
  EXPECT_EQ(c.count, in.size());
  if (!in.empty()) {
    EXPECT_EQ(c.min_t, in.front().t);
    EXPECT_EQ(c.max_t, in.back().t);
  }
  EXPECT_EQ(decode(ChunkIterator(c)), in);
}

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

TEST(Chunk, EmptyChunkHasNoSamples) {
  ChunkAppender a;
  EXPECT_TRUE(a.empty());
  EXPECT_TRUE(decode(ChunkIterator(a)).empty());
  EXPECT_TRUE(decode(ChunkIterator(a.seal())).empty());
}

TEST(Chunk, OneSample) {
  expect_round_trip({raw(1767225600000, 42.5)});
}

TEST(Chunk, SpecialValuesRoundTripBitForBit) {
  expect_round_trip({
      raw(1000, std::numeric_limits<double>::quiet_NaN()),
      raw(2000, stale_nan()),
      raw(3000, kInf),
      raw(4000, -kInf),
      raw(5000, -0.0),
      raw(6000, 0.0),
      raw(7000, std::bit_cast<double>(std::uint64_t{0x7ff8000000000001})),  // Prometheus's NaN
      raw(8000, std::numeric_limits<double>::denorm_min()),
      raw(9000, std::numeric_limits<double>::max()),
      raw(10000, std::numeric_limits<double>::lowest()),
      raw(11000, stale_nan()),
      raw(12000, stale_nan()),
      raw(13000, 1.0),
  });
  // The staleness marker stays distinguishable from an ordinary NaN.
  ChunkAppender a;
  a.append(1, std::numeric_limits<double>::quiet_NaN());
  a.append(2, stale_nan());
  ChunkIterator it(a);
  ASSERT_TRUE(it.next());
  EXPECT_FALSE(is_stale_nan(it.v()));
  ASSERT_TRUE(it.next());
  EXPECT_TRUE(is_stale_nan(it.v()));
}

TEST(Chunk, NegativeValuesAndSignFlips) {
  expect_round_trip({raw(0, -1), raw(1, 1), raw(2, -1e300), raw(3, 1e-300), raw(4, -5.5),
                     raw(5, -5.5), raw(6, 5.5)});
}

TEST(Chunk, TimestampExtremesAndBigJumps) {
  expect_round_trip({raw(kMin, 1), raw(kMin + 1, 2), raw(0, 3), raw(kMax - 1, 4), raw(kMax, 5)});
  expect_round_trip({raw(-5000, 1), raw(-2500, 1), raw(0, 1), raw(2500, 1)});  // negative times
  // Jumps that need each delta-of-delta bucket, up and down.
  expect_round_trip({raw(0, 1), raw(15000, 1), raw(30000, 1), raw(30001, 1), raw(38193, 1),
                     raw(38194, 1), raw(103730, 1), raw(103731, 1), raw(627019, 1), raw(627020, 1),
                     raw(86400000000, 1), raw(86400000001, 1), raw(86400000002, 1)});
}

TEST(Chunk, EqualAndDecreasingTimestampsRoundTrip) {
  // The head refuses these; the encoding must not care.
  expect_round_trip({raw(1000, 1), raw(1000, 2), raw(1000, 2), raw(999, 3), raw(0, 4), raw(5000, 5),
                     raw(4000, 6)});
}

TEST(Chunk, EveryDeltaOfDeltaBucketBoundary) {
  // dod at the edges of the 7, 14 and 20-bit buckets, and beyond.
  std::vector<Raw> in;
  std::int64_t t = 1'000'000'000;
  std::int64_t delta = 15000;
  in.push_back(raw(t, 0));
  t += delta;
  in.push_back(raw(t, 0));
  const std::int64_t dods[] = {0,       1,      -1,      63,        -64,         64,
                               -65,     8191,   -8192,   8192,      -8193,       524287,
                               -524288, 524288, -524289, 1LL << 40, -(1LL << 40)};
  for (std::int64_t dod : dods) {
    delta += dod;
    t += delta;
    in.push_back(raw(t, static_cast<double>(dod)));
  }
  expect_round_trip(in);
}

TEST(Chunk, RandomSequencesRoundTrip) {
  std::mt19937_64 rng(20260101);
  for (int round = 0; round < 200; ++round) {
    std::vector<Raw> in;
    std::int64_t t = static_cast<std::int64_t>(rng() >> 20);
    double v = 0;
    const int n = 1 + static_cast<int>(rng() % 200);
    for (int i = 0; i < n; ++i) {
      switch (rng() % 6) {  // timestamps: regular, jittered, jumps, anything
        case 0:
        case 1:
          t += 15000;
          break;
        case 2:
          t += 15000 + static_cast<std::int64_t>(rng() % 200) - 100;
          break;
        case 3:
          t += static_cast<std::int64_t>(rng() % (std::uint64_t{1} << 30));
          break;
        case 4:
          break;  // equal
        default:
          t = static_cast<std::int64_t>(rng());
      }
      switch (rng() % 5) {  // values: same, counter step, gauge, random bits
        case 0:
          break;
        case 1:
          v += static_cast<double>(rng() % 100);
          break;
        case 2:
          v = static_cast<double>(rng() % 1000) / 8.0 - 60;
          break;
        default:
          v = std::bit_cast<double>(rng());
      }
      in.push_back(raw(t, v));
    }
    expect_round_trip(in);
    if (HasFailure()) return;
  }
}

TEST(Chunk, JitteredScrapesCostAboutTenBitsPerTimestamp) {
  ChunkAppender a;
  std::int64_t t = 1767225600000;
  for (int i = 0; i < 120; ++i) {
    a.append(t, 1.0);
    t += 15000 + (i % 7) - 3;  // +-3 ms: dod within +-12
  }
  EXPECT_LE(a.bits(), 48u + 64 + 24 + 1 + 118 * (9 + 1));
}

TEST(Chunk, RegularScrapesOfAConstantCostAboutTwoBitsPerSample) {
  ChunkAppender a;
  for (int i = 0; i < 120; ++i) a.append(1767225600000 + i * 15000, 1.0);
  // Header (varint time, 64-bit value, varint delta) then 2 bits a sample.
  EXPECT_LE(a.bits(), 48u + 64 + 24 + 1 + 118 * 2);
  EXPECT_LE(a.seal().bytes(), 56u);
}

TEST(Chunk, ResetKeepsTheBufferAndStartsOver) {
  ChunkAppender a;
  for (int i = 0; i < 50; ++i) a.append(i, i);
  const std::size_t capacity = a.capacity_bytes();
  a.reset();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.capacity_bytes(), capacity);
  a.append(7, 8);
  EXPECT_EQ(decode(ChunkIterator(a)), (std::vector<Raw>{raw(7, 8)}));
  a.release();
  EXPECT_EQ(a.capacity_bytes(), 0u);
}

}  // namespace
}  // namespace watch::tsdb
