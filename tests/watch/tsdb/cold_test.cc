// Cold series: a cold file selects exactly what the head's index selects for
// the same series and matchers, refuses damage; a Db moves idle series out
// of the head and still answers for them, across a restart, merged with the
// same series when it comes back, until the retention drops them.
#include "watch/tsdb/cold.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <fstream>
#include <string>
#include <vector>

#include "watch/tsdb/db.h"
#include "watch/tsdb/file_util.h"
#include "watch/tsdb/temp_dir.h"

namespace watch::tsdb {
namespace {

using test::TempDir;
using Op = Matcher::Op;

LabelSet series(int i) {
  return LabelSet::from({{"__name__", i % 3 ? "requests_total" : "up"},
                         {"job", i % 2 ? "api" : "worker"},
                         {"instance", "host-" + std::to_string(i)},
                         {"env", i % 5 == 0 ? "" : "prod"}});
}

std::vector<std::string> names(std::vector<LabelSet> v) {
  std::sort(v.begin(), v.end());
  std::vector<std::string> out;
  for (const auto& l : v) out.push_back(l.to_string());
  return out;
}

TEST(ColdFile, SelectsWhatTheHeadsIndexSelects) {
  TempDir dir;
  Head head;
  std::vector<ColdSeries> cold;
  for (int i = 0; i < 200; ++i) {
    head.append(series(i), 1000, 1);
    cold.push_back({series(i), {{{1, 8 + 40ull * i}, 1000, 2000, 64, 1}}});
  }
  const std::string path = dir.path + "/000001";
  std::string error;
  ASSERT_TRUE(write_cold_file(path, cold, &error)) << error;
  auto file = ColdFile::open(path, &error);
  ASSERT_TRUE(file) << error;
  EXPECT_EQ(file->series_count(), 200u);
  EXPECT_EQ(file->min_t(), 1000);
  EXPECT_EQ(file->max_t(), 2000);
  const std::vector<std::vector<Matcher>> cases = {
      {},
      {{"__name__", Op::kEqual, "up"}},
      {{"job", Op::kEqual, "api"}, {"__name__", Op::kEqual, "requests_total"}},
      {{"job", Op::kNotEqual, "api"}},
      {{"instance", Op::kRegexMatch, "host-1.*"}},
      {{"instance", Op::kRegexNoMatch, "host-1.*"}, {"job", Op::kEqual, "worker"}},
      {{"env", Op::kEqual, ""}},
      {{"env", Op::kNotEqual, ""}},
      {{"env", Op::kRegexMatch, "prod|"}},
      {{"missing", Op::kEqual, "x"}},
      {{"instance", Op::kEqual, "host-77"}},
  };
  for (const auto& matchers : cases) {
    const MatcherSet set = MatcherSet::must_compile(matchers);
    std::vector<LabelSet> got;
    file->select(set, [&](const LabelSet& labels, std::span<const ColdChunk> chunks) {
      got.push_back(labels);
      EXPECT_EQ(chunks.size(), 1u);
      return true;
    });
    EXPECT_EQ(names(got), names(head.series(set))) << ::testing::PrintToString(names(got));
  }
}

TEST(ColdFile, KeepsChunkLocationsExactly) {
  TempDir dir;
  const ColdSeries s{
      series(1),
      {{{3, 4096}, -5, 7, 130, 2}, {{4, 1ull << 40}, INT64_MAX - 10, INT64_MAX, 9, 65535}}};
  ASSERT_TRUE(write_cold_file(dir.path + "/000001", {s}));
  auto file = ColdFile::open(dir.path + "/000001");
  ASSERT_TRUE(file);
  file->select(MatcherSet(), [&](const LabelSet& labels, std::span<const ColdChunk> chunks) {
    EXPECT_EQ(labels, s.labels);
    EXPECT_EQ(chunks.size(), 2u);
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      EXPECT_EQ(chunks[i].at, s.chunks[i].at);
      EXPECT_EQ(chunks[i].min_t, s.chunks[i].min_t);
      EXPECT_EQ(chunks[i].max_t, s.chunks[i].max_t);
      EXPECT_EQ(chunks[i].bits, s.chunks[i].bits);
      EXPECT_EQ(chunks[i].count, s.chunks[i].count);
    }
    return true;
  });
}

TEST(ColdFile, ADamagedOrCutFileIsRefusedWhole) {
  TempDir dir;
  std::vector<ColdSeries> cold;
  for (int i = 0; i < 20; ++i) cold.push_back({series(i), {{{1, 8}, 0, 1, 64, 1}}});
  const std::string path = dir.path + "/000001";
  ASSERT_TRUE(write_cold_file(path, cold));
  std::vector<std::uint8_t> bytes;
  ASSERT_TRUE(file::read_file(path, bytes, nullptr));
  for (std::size_t at : {std::size_t{3}, std::size_t{40}, bytes.size() / 2, bytes.size() - 20}) {
    std::vector<std::uint8_t> bad = bytes;
    bad[at] ^= 0x10;
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bad.data()), static_cast<std::streamsize>(bad.size()));
    std::string error;
    EXPECT_FALSE(ColdFile::open(path, &error)) << at;
    EXPECT_FALSE(error.empty());
  }
  for (std::size_t cut : {std::size_t{0}, std::size_t{8}, bytes.size() - 1}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(cut));
    EXPECT_FALSE(ColdFile::open(path)) << cut;
  }
}

// ---------------------------------------------------------------------------
// Eviction in a Db

constexpr std::int64_t kMinute = 60'000;

std::vector<Sample> samples_of(const Db& db, const LabelSet& labels) {
  std::vector<Matcher> m;
  for (const Label& l : labels) m.push_back({l.name, Op::kEqual, l.value});
  std::vector<Sample> out;
  int visits = 0;
  db.select(MatcherSet::must_compile(m), INT64_MIN, INT64_MAX,
            [&](const LabelSet& got, std::span<const Sample> s) {
              ++visits;
              if (got == labels) out.assign(s.begin(), s.end());
              return true;
            });
  EXPECT_LE(visits, 1) << "a series visited twice: " << labels.to_string();
  return out;
}

TEST(Db, AnIdleSeriesLeavesTheHeadAndStaysQueryable) {
  TempDir dir;
  const DbOptions options{.dir = dir.path, .evict_idle_after_ms = 10 * kMinute};
  const LabelSet idle = series(1), busy = series(2);
  std::vector<Sample> idle_samples;
  {
    auto db = Db::open(options, 0);
    Appender app(db->head());
    for (int i = 0; i < 300; ++i) {  // 5 minutes of 1 s samples, then nothing
      app.append(idle, i * 1000, i * 0.5);
      idle_samples.push_back({i * 1000, i * 0.5});
    }
    for (int i = 0; i < 30; ++i) app.append(busy, i * kMinute, i);
    app.commit();
    EXPECT_EQ(db->head().num_series(), 2u);
    db->gc(29 * kMinute);
    EXPECT_EQ(db->head().num_series(), 1u) << "the idle series left the head";
    EXPECT_FALSE(db->head().find(idle));
    EXPECT_EQ(db->stats().series_evicted, 1u);
    EXPECT_EQ(db->stats().cold_series, 1u);
    EXPECT_EQ(samples_of(*db, idle), idle_samples) << "still answered, from the cold file";
    EXPECT_EQ(db->series(MatcherSet()).size(), 2u);
    EXPECT_EQ(db->label_values("instance"), (std::vector<std::string>{"host-1", "host-2"}));
    // It comes back: one series, old and new samples in order.
    app.append(idle, 30 * kMinute, 99);
    app.commit();
    auto both = idle_samples;
    both.push_back({30 * kMinute, 99});
    EXPECT_EQ(samples_of(*db, idle), both);
  }
  // After a restart, from the cold file and the head's checkpoint.
  auto db = Db::open(options, 30 * kMinute);
  ASSERT_TRUE(db);
  auto both = idle_samples;
  both.push_back({30 * kMinute, 99});
  EXPECT_EQ(samples_of(*db, idle), both);
}

// Killed after the eviction, before a checkpoint left the series out: the
// WAL brings it back into the head, the cold file has it too, and a query
// sees it once with each sample once.
TEST(Db, EvictedThenKilledBeforeACheckpointIsStillOneSeries) {
  TempDir dir;
  const DbOptions options{.dir = dir.path, .evict_idle_after_ms = 10 * kMinute};
  const LabelSet idle = series(1);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto db = Db::open(options, 0);
    Appender app(db->head());
    for (int i = 0; i < 300; ++i) app.append(idle, i * 1000, i);
    app.commit();
    db->gc(20 * kMinute);
    if (db->head().num_series() != 0) ::_exit(1);
    ::kill(::getpid(), SIGKILL);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  auto db = Db::open(options, 20 * kMinute);
  ASSERT_TRUE(db);
  const auto got = samples_of(*db, idle);
  ASSERT_EQ(got.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(got[i], (Sample{i * 1000, double(i)}));
  db->gc(21 * kMinute);  // evicted again: still once
  EXPECT_EQ(db->head().num_series(), 0u);
  EXPECT_EQ(samples_of(*db, idle).size(), 300u);
}

TEST(Db, TheRetentionDropsColdFiles) {
  TempDir dir;
  const DbOptions options{
      .dir = dir.path, .head = {.retention_ms = 60 * kMinute}, .evict_idle_after_ms = 10 * kMinute};
  auto db = Db::open(options, 0);
  Appender app(db->head());
  for (int i = 0; i < 50; ++i) app.append(series(i), 1000, i);
  app.commit();
  db->gc(20 * kMinute);
  EXPECT_EQ(db->head().num_series(), 0u);
  EXPECT_EQ(db->stats().cold_files, 1u);
  EXPECT_EQ(db->series(MatcherSet()).size(), 50u);
  db->gc(62 * kMinute);  // the samples are past the retention
  EXPECT_EQ(db->stats().cold_files, 0u);
  EXPECT_TRUE(db->series(MatcherSet()).empty());
  EXPECT_TRUE(file::list_dir(dir.path + "/cold").empty());
}

}  // namespace
}  // namespace watch::tsdb
