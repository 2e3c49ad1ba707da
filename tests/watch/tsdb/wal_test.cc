// The write-ahead log and its records: what is logged reads back in order,
// segments rotate, a torn or corrupt tail stops the reader where the damage
// starts and repair cuts it off; record payloads round-trip and malformed
// ones are refused without reading past their end.
#include "watch/tsdb/wal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "watch/tsdb/file_util.h"
#include "watch/tsdb/records.h"
#include "watch/tsdb/temp_dir.h"

namespace watch::tsdb {
namespace {

using test::TempDir;

std::vector<std::uint8_t> payload(int i) {
  std::vector<std::uint8_t> p(static_cast<std::size_t>(1 + i % 37));
  for (std::size_t k = 0; k < p.size(); ++k) p[k] = static_cast<std::uint8_t>(i * 31 + k);
  return p;
}

std::vector<std::vector<std::uint8_t>> read_all(const std::string& dir, std::uint32_t from = 0,
                                                std::optional<WalCorruption>* bad = nullptr) {
  std::vector<std::vector<std::uint8_t>> out;
  WalReader r(dir, from);
  while (auto rec = r.next()) {
    EXPECT_EQ(rec->type, 7);
    out.emplace_back(rec->payload.begin(), rec->payload.end());
  }
  if (bad) *bad = r.corruption();
  return out;
}

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

TEST(Wal, LoggedRecordsReadBackInOrder) {
  TempDir dir;
  {
    auto wal = Wal::open(dir.path);
    ASSERT_TRUE(wal);
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(wal->log(7, payload(i)));
  }
  std::optional<WalCorruption> bad;
  const auto got = read_all(dir.path, 0, &bad);
  EXPECT_FALSE(bad);
  ASSERT_EQ(got.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(got[i], payload(i)) << i;
}

TEST(Wal, SeveralRecordsInOneCallAreWrittenTogether) {
  TempDir dir;
  auto wal = Wal::open(dir.path);
  const auto a = payload(1), b = payload(2);
  const Wal::Entry entries[] = {{7, a}, {7, b}};
  ASSERT_TRUE(wal->log(entries));
  EXPECT_EQ(wal->bytes_written(), 2 * kWalHeaderBytes + a.size() + b.size());
  const auto got = read_all(dir.path);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], a);
  EXPECT_EQ(got[1], b);
}

TEST(Wal, SegmentsRotateAtTheirSizeAndEachOpenStartsANewOne) {
  TempDir dir;
  {
    auto wal = Wal::open(dir.path, {.segment_size = 100});
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(wal->log(7, payload(i)));
    EXPECT_GT(wal->current_segment(), 5u);
  }
  const auto before = wal_segments(dir.path);
  for (std::size_t i = 0; i + 1 < before.size(); ++i)
    EXPECT_LE(file::size(wal_segment_path(dir.path, before[i])), 100 + 9 + 37);
  {
    auto wal = Wal::open(dir.path, {.segment_size = 100});
    EXPECT_EQ(wal->current_segment(), before.back() + 1);
    ASSERT_TRUE(wal->log(7, payload(50)));
  }
  const auto got = read_all(dir.path);
  ASSERT_EQ(got.size(), 51u);
  for (int i = 0; i <= 50; ++i) EXPECT_EQ(got[i], payload(i));
}

TEST(Wal, CutStartsANewSegmentAndTruncateBeforeRemovesTheOlderOnes) {
  TempDir dir;
  auto wal = Wal::open(dir.path);
  ASSERT_TRUE(wal->log(7, payload(0)));
  const std::uint32_t next = wal->cut();
  ASSERT_TRUE(wal->log(7, payload(1)));
  EXPECT_EQ(read_all(dir.path, next).size(), 1u);
  EXPECT_EQ(read_all(dir.path).size(), 2u);
  EXPECT_EQ(wal->truncate_before(next), 1u);
  const auto got = read_all(dir.path);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], payload(1));
}

// Every way a crash can tear the last record: the reader returns exactly the
// whole records before the tear, says where it stopped, and repair makes the
// log clean and writable again.
TEST(Wal, ATornTailAtEveryOffsetStopsAtTheLastWholeRecord) {
  TempDir src;
  std::vector<std::size_t> ends;  // offset after each record
  {
    auto wal = Wal::open(src.path);
    std::size_t at = 0;
    for (int i = 0; i < 12; ++i) {
      ASSERT_TRUE(wal->log(7, payload(i)));
      at += kWalHeaderBytes + payload(i).size();
      ends.push_back(at);
    }
  }
  std::vector<std::uint8_t> whole;
  ASSERT_TRUE(file::read_file(wal_segment_path(src.path, 0), whole, nullptr));
  for (std::size_t cut = 0; cut <= whole.size(); ++cut) {
    TempDir dir;
    write_bytes(wal_segment_path(dir.path, 0),
                std::vector<std::uint8_t>(whole.begin(), whole.begin() + cut));
    std::optional<WalCorruption> bad;
    const auto got = read_all(dir.path, 0, &bad);
    const std::size_t whole_records =
        static_cast<std::size_t>(std::upper_bound(ends.begin(), ends.end(), cut) - ends.begin());
    ASSERT_EQ(got.size(), whole_records) << "cut at " << cut;
    const bool at_boundary = cut == 0 || (whole_records > 0 && ends[whole_records - 1] == cut);
    EXPECT_EQ(bad.has_value(), !at_boundary) << "cut at " << cut;
    if (bad) {
      EXPECT_EQ(bad->offset, whole_records ? ends[whole_records - 1] : 0);
      ASSERT_GE(wal_repair(dir.path, *bad), 0);
      auto wal = Wal::open(dir.path);
      ASSERT_TRUE(wal->log(7, payload(99)));
      wal.reset();
      std::optional<WalCorruption> after;
      const auto again = read_all(dir.path, 0, &after);
      EXPECT_FALSE(after) << after->to_string();
      ASSERT_EQ(again.size(), whole_records + 1);
      EXPECT_EQ(again.back(), payload(99));
    }
  }
}

TEST(Wal, ACorruptRecordStopsTheReaderAndRepairDropsEverythingAfterIt) {
  TempDir dir;
  {
    auto wal = Wal::open(dir.path, {.segment_size = 64});
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(wal->log(7, payload(i)));
  }
  const auto segments = wal_segments(dir.path);
  ASSERT_GT(segments.size(), 4u);
  // Flip one payload byte of the first record of the third segment.
  const std::string victim = wal_segment_path(dir.path, segments[2]);
  std::vector<std::uint8_t> bytes;
  ASSERT_TRUE(file::read_file(victim, bytes, nullptr));
  bytes[kWalHeaderBytes] ^= 0x40;
  write_bytes(victim, bytes);

  std::optional<WalCorruption> bad;
  const auto got = read_all(dir.path, 0, &bad);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->segment, segments[2]);
  EXPECT_EQ(bad->offset, 0u);
  EXPECT_EQ(bad->reason, "CRC mismatch");
  EXPECT_GT(wal_repair(dir.path, *bad), 0);
  EXPECT_EQ(wal_segments(dir.path).back(), segments[2]);
  std::optional<WalCorruption> after;
  EXPECT_EQ(read_all(dir.path, 0, &after).size(), got.size());
  EXPECT_FALSE(after);
}

TEST(Wal, ZeroedTailIsCorruptionNotRecords) {
  TempDir dir;
  {
    auto wal = Wal::open(dir.path);
    ASSERT_TRUE(wal->log(7, payload(1)));
  }
  std::vector<std::uint8_t> bytes;
  ASSERT_TRUE(file::read_file(wal_segment_path(dir.path, 0), bytes, nullptr));
  bytes.resize(bytes.size() + 4096, 0);
  write_bytes(wal_segment_path(dir.path, 0), bytes);
  std::optional<WalCorruption> bad;
  EXPECT_EQ(read_all(dir.path, 0, &bad).size(), 1u);
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->reason.find("zeroed"), std::string::npos);
}

TEST(Records, SeriesAndSamplesRoundTrip) {
  std::vector<std::uint8_t> buf;
  const LabelSet a = LabelSet::from({{"__name__", "up"}, {"job", "api"}});
  const LabelSet b =
      LabelSet::from({{"__name__", "x"}, {"le", "+Inf"}, {"v", std::string(300, 'q')}});
  encode_series(7, a, buf);
  encode_series(1ull << 40, b, buf);
  std::vector<RefSeries> series;
  ASSERT_TRUE(decode_series(buf, series));
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].ref, 7u);
  EXPECT_EQ(series[0].labels, a);
  EXPECT_EQ(series[1].ref, 1ull << 40);
  EXPECT_EQ(series[1].labels, b);

  const std::vector<RefSample> in = {{5, 1'700'000'000'000, 1.5},
                                     {3, 1'700'000'000'000, stale_nan()},
                                     {900, 1'699'999'999'000, -0.0},
                                     {1, INT64_MIN, INFINITY},
                                     {2, INT64_MAX, std::nan("7")}};
  buf.clear();
  encode_samples(in, buf);
  std::vector<RefSample> out;
  ASSERT_TRUE(decode_samples(buf, out));
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].ref, in[i].ref);
    EXPECT_EQ(out[i].t, in[i].t);
    EXPECT_EQ(std::bit_cast<std::uint64_t>(out[i].v), std::bit_cast<std::uint64_t>(in[i].v));
  }
}

TEST(Records, MalformedPayloadsAreRefusedNeverOverread) {
  std::mt19937 rng(5);
  std::vector<std::uint8_t> good;
  encode_series(3, LabelSet::from({{"__name__", "up"}, {"job", "api"}}), good);
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    std::vector<RefSeries> out;
    // A heap copy of exactly `cut` bytes: ASan sees any read past it.
    std::vector<std::uint8_t> part(good.begin(), good.begin() + cut);
    if (cut > 0) {
      EXPECT_FALSE(decode_series(part, out)) << cut;
    }
  }
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::uint8_t> junk(rng() % 64);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    std::vector<RefSeries> s;
    std::vector<RefSample> t;
    decode_series(junk, s);
    decode_samples(junk, t);
  }
}

}  // namespace
}  // namespace watch::tsdb
