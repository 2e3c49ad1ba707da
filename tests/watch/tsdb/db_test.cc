// The durable head: a process killed with SIGKILL loses nothing it
// committed, a clean close restarts from the checkpoint alone, a checkpoint
// taken while appending loses nothing, a WAL torn at any byte of its last
// segment still starts, retention applies at start, completed chunks live in
// chunk files rather than on the heap, and a full disk is survived.
#include "watch/tsdb/db.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "watch/tsdb/file_util.h"
#include "watch/tsdb/temp_dir.h"

namespace watch::tsdb {
namespace {

using test::TempDir;

// Every sample of the head, as text (values by their bits: NaNs compare).
std::vector<std::string> dump(const Head& head) {
  std::vector<std::string> out;
  for (const SeriesSamples& s : head.select(MatcherSet(), INT64_MIN, INT64_MAX))
    for (const Sample& x : s.samples)
      out.push_back(s.labels.to_string() + " " + std::to_string(x.t) + " " +
                    std::to_string(std::bit_cast<std::uint64_t>(x.v)));
  return out;
}

LabelSet series_labels(int i) {
  return LabelSet::from({{"__name__", "m"}, {"i", std::to_string(i)}});
}

// `scrapes` scrapes of `series` series, one commit each, at t = (first + k) s.
void scrape(Head& head, int series, int first, int scrapes) {
  for (int k = first; k < first + scrapes; ++k) {
    Appender app(head);
    for (int i = 0; i < series; ++i) {
      const double v = k % 50 == 49 && i == 0 ? stale_nan() : k * 0.5 + i;
      ASSERT_EQ(app.append(series_labels(i), std::int64_t{k} * 1000, v).status, AppendStatus::kOk);
    }
    app.commit();
  }
}

// Ends the calling process by SIGKILL, as a crash ends watch: nothing
// closed, nothing flushed.
[[noreturn]] void crash() {
  ::kill(::getpid(), SIGKILL);
  ::_exit(3);
}

// Runs `fn` in a child process, which must end by crash() (with its Db still
// open).
void run_then_kill(const std::function<void()>& fn) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    fn();
    ::_exit(4);  // fn returned: its Db was closed, which is not a crash
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child failed: " << status;
}

void copy_tree(const std::string& from, const std::string& to) {
  for (const std::string& name : file::list_dir(from)) {
    const std::string src = from + "/" + name, dst = to + "/" + name;
    if (file::size(src) < 0) {
      ASSERT_TRUE(file::make_dirs(dst, nullptr));
      copy_tree(src, dst);
      continue;
    }
    std::vector<std::uint8_t> bytes;
    ASSERT_TRUE(file::read_file(src, bytes, nullptr));
    std::ofstream(dst, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  }
}

// What a head given the same appends holds, without any restart.
std::vector<std::string> expected(int series, int scrapes, HeadOptions options = {}) {
  Head head(options);
  scrape(head, series, 0, scrapes);
  return dump(head);
}

constexpr std::int64_t kNow = 10'000'000;  // after every sample; retention 26h keeps them

TEST(Db, AKilledProcessLosesNothingItCommitted) {
  TempDir dir;
  run_then_kill([&] {
    auto db = Db::open({.dir = dir.path}, kNow);
    if (!db) ::_exit(1);
    scrape(db->head(), 40, 0, 500);
    crash();
  });
  RecoveryReport report;
  std::string error;
  auto db = Db::open({.dir = dir.path}, kNow, &error, &report);
  ASSERT_TRUE(db) << error;
  for (const auto& p : report.problems) ADD_FAILURE() << p;
  EXPECT_FALSE(report.from_checkpoint);
  EXPECT_EQ(report.series, 40u);
  EXPECT_GT(report.chunks_loaded, 0u);
  EXPECT_EQ(dump(db->head()), expected(40, 500));
  // Appends go on after the restart, into the same series.
  scrape(db->head(), 40, 500, 10);
  EXPECT_EQ(db->head().num_series(), 40u);
}

TEST(Db, ACleanCloseRestartsFromItsCheckpointAlone) {
  TempDir dir;
  {
    auto db = Db::open({.dir = dir.path}, kNow);
    scrape(db->head(), 40, 0, 500);
    ASSERT_TRUE(db->close());
  }
  RecoveryReport report;
  auto db = Db::open({.dir = dir.path}, kNow, nullptr, &report);
  ASSERT_TRUE(db);
  EXPECT_TRUE(report.from_checkpoint);
  EXPECT_EQ(report.wal_bytes, 0u);  // nothing after the checkpoint
  // Only the open chunks were replayed; the rest came from chunk files.
  EXPECT_LE(report.samples_replayed, 40u * 120);
  EXPECT_EQ(dump(db->head()), expected(40, 500));
}

TEST(Db, ACheckpointTakenWhileAppendingLosesNothing) {
  TempDir dir;
  run_then_kill([&] {
    auto db = Db::open({.dir = dir.path, .wal = {.segment_size = 4096}}, kNow);
    scrape(db->head(), 30, 0, 300);
    if (!db->checkpoint()) ::_exit(1);
    scrape(db->head(), 30, 300, 200);
    crash();
  });
  // A checkpoint, and no segment it covers.
  std::uint32_t covered = 0;
  for (const std::string& name : file::list_dir(dir.path))
    if (name.starts_with("checkpoint.")) covered = std::stoul(name.substr(11));
  ASSERT_GT(covered, 0u);
  EXPECT_EQ(wal_segments(dir.path + "/wal").front(), covered);
  RecoveryReport report;
  auto db = Db::open({.dir = dir.path, .wal = {.segment_size = 4096}}, kNow, nullptr, &report);
  ASSERT_TRUE(db);
  EXPECT_TRUE(report.from_checkpoint);
  EXPECT_TRUE(report.problems.empty()) << report.problems.front();
  EXPECT_EQ(dump(db->head()), expected(30, 500));
}

TEST(Db, SeveralCrashesInARowLoseNothing) {
  TempDir dir;
  for (int round = 0; round < 5; ++round) {
    run_then_kill([&] {
      auto db = Db::open({.dir = dir.path}, kNow);
      if (!db) ::_exit(1);
      scrape(db->head(), 20, round * 100, 100);
      if (round == 2 && !db->checkpoint()) ::_exit(1);
      crash();
    });
  }
  auto db = Db::open({.dir = dir.path}, kNow);
  EXPECT_EQ(dump(db->head()), expected(20, 500));
}

// The acceptance test: whatever byte the last segment is cut at,
// watch starts, with every record before the cut.
TEST(Db, AWalCutAtEveryByteOfItsLastSegmentStillStarts) {
  TempDir src;
  const DbOptions options{.dir = src.path, .wal = {.segment_size = 2048}};
  run_then_kill([&] {
    auto db = Db::open(options, kNow);
    scrape(db->head(), 3, 0, 300);
    crash();
  });
  const std::string wal = src.path + "/wal";
  const auto segments = wal_segments(wal);
  ASSERT_GT(segments.size(), 2u);
  std::vector<std::uint8_t> last;
  ASSERT_TRUE(file::read_file(wal_segment_path(wal, segments.back()), last, nullptr));
  ASSERT_GT(last.size(), 100u);
  std::size_t previous = 0;
  for (std::size_t cut = 0; cut <= last.size(); ++cut) {
    TempDir dir;
    copy_tree(src.path, dir.path);
    std::ofstream(wal_segment_path(dir.path + "/wal", segments.back()),
                  std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(last.data()), static_cast<std::streamsize>(cut));
    RecoveryReport report;
    std::string error;
    auto db = Db::open({.dir = dir.path, .wal = {.segment_size = 2048}}, kNow, &error, &report);
    ASSERT_TRUE(db) << "cut at " << cut << ": " << error;
    const std::size_t samples = dump(db->head()).size();
    EXPECT_GE(samples, previous) << "cut at " << cut;
    previous = samples;
    if (cut == last.size()) {
      EXPECT_TRUE(report.problems.empty());
      EXPECT_EQ(dump(db->head()), expected(3, 300));
    }
    // It writes on, and the next start is clean.
    scrape(db->head(), 3, 1000, 2);
    db.reset();
    RecoveryReport again;
    ASSERT_TRUE(Db::open({.dir = dir.path}, kNow, nullptr, &again));
    EXPECT_TRUE(again.problems.empty()) << "cut at " << cut << ": " << again.problems.front();
  }
  EXPECT_EQ(previous, expected(3, 300).size());
}

// A checkpoint whose WAL segments are gone (removed by hand, or a lost
// directory): the next checkpoint still gets a newer number, so a restart
// reads it and not the old one.
TEST(Db, CheckpointsKeepNumberingAfterTheWalIsGone) {
  TempDir dir;
  {
    auto db = Db::open({.dir = dir.path}, kNow);
    scrape(db->head(), 5, 0, 100);
    ASSERT_TRUE(db->close());
  }
  ASSERT_TRUE(file::remove_all(dir.path + "/wal", nullptr));
  {
    auto db = Db::open({.dir = dir.path}, kNow);
    scrape(db->head(), 5, 100, 100);
    std::string error;
    ASSERT_TRUE(db->checkpoint(&error)) << error;
  }
  auto db = Db::open({.dir = dir.path}, kNow);
  EXPECT_EQ(dump(db->head()), expected(5, 200));
}

TEST(Db, ASeriesCollectedAndCreatedAgainIsOneSeriesAfterARestart) {
  TempDir dir;
  const DbOptions options{.dir = dir.path, .head = {.retention_ms = 100'000}};
  run_then_kill([&] {
    auto db = Db::open(options, 0);
    Appender app(db->head());
    app.append(series_labels(1), 1000, 1);
    app.commit();
    db->gc(500'000);  // everything is older than the retention: the series goes
    if (db->head().num_series() != 0) ::_exit(1);
    app.append(series_labels(1), 600'000, 2);
    app.commit();
    crash();
  });
  auto db = Db::open(options, 600'000);
  ASSERT_TRUE(db);
  EXPECT_EQ(db->head().num_series(), 1u);
  const auto got = db->head().select(MatcherSet(), INT64_MIN, INT64_MAX);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].samples, (std::vector<Sample>{{600'000, 2}}));
}

TEST(Db, RetentionAppliesAtStartToSamplesAndChunkFiles) {
  TempDir dir;
  const DbOptions options{
      .dir = dir.path, .head = {.retention_ms = 200'000}, .chunks = {.max_file_size = 4096}};
  {
    auto db = Db::open(options, 0);
    scrape(db->head(), 5, 0, 1000);  // t = 0 .. 999 s
    db->close();
  }
  const std::size_t files_before = file::list_dir(dir.path + "/chunks_head").size();
  auto db = Db::open(options, 1'000'000);
  ASSERT_TRUE(db);
  const auto got = db->head().select(MatcherSet(), INT64_MIN, INT64_MAX);
  ASSERT_EQ(got.size(), 5u);
  // Whole chunks are kept: the oldest sample left is within one chunk of the cutoff.
  EXPECT_GE(got[0].samples.front().t, 800'000 - 120'000);
  EXPECT_EQ(got[0].samples.back().t, 999'000);
  EXPECT_LT(file::list_dir(dir.path + "/chunks_head").size(), files_before);
}

TEST(Db, CompletedChunksLiveInChunkFilesNotOnTheHeap) {
  TempDir dir;
  auto db = Db::open({.dir = dir.path}, kNow);
  scrape(db->head(), 10, 0, 6000);
  const HeadStats st = db->head().stats();
  EXPECT_EQ(st.memory_chunks, 0u);
  EXPECT_GT(st.mapped_chunk_bytes, 0u);
  Head plain;
  scrape(plain, 10, 0, 6000);
  EXPECT_LT(st.memory_bytes, plain.stats().memory_bytes / 2);
  const DbStats ds = db->stats();
  EXPECT_GT(ds.wal_bytes_written, 0u);
  EXPECT_EQ(ds.wal_write_failures, 0u);
  EXPECT_EQ(ds.chunk_files, 1u);
}

TEST(Db, WithoutADirectoryItIsAPlainHead) {
  auto db = Db::open({}, kNow);
  ASSERT_TRUE(db);
  EXPECT_FALSE(db->durable());
  scrape(db->head(), 3, 0, 200);
  EXPECT_TRUE(db->checkpoint());
  EXPECT_TRUE(db->close());
  EXPECT_EQ(dump(db->head()), expected(3, 200));
}

TEST(Db, ADirectoryThatCannotBeCreatedIsAnError) {
  std::string error;
  EXPECT_FALSE(Db::open({.dir = "/proc/firebreak-cannot-be-here"}, kNow, &error));
  EXPECT_NE(error.find("/proc/firebreak-cannot-be-here"), std::string::npos) << error;
}

// A small tmpfs filled up: writes fail, are counted, and nothing crashes or
// goes missing from memory; once space is back a checkpoint makes it all
// durable again.
TEST(Db, AFullDiskIsCountedAndSurvived) {
  TempDir mount_point;
  if (::mount("tmpfs", mount_point.path.c_str(), "tmpfs", 0, "size=512k") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << std::strerror(errno);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mount_point.path};
  const std::string dir = mount_point.path + "/tsdb";
  const std::string filler = mount_point.path + "/filler";
  {
    std::ofstream f(filler, std::ios::binary);
    const std::vector<char> block(4096, 'x');
    for (int i = 0; i < 112; ++i) f.write(block.data(), block.size());  // 448 KiB of 512
  }
  auto db = Db::open({.dir = dir}, kNow);
  ASSERT_TRUE(db);
  int scrapes = 0;
  while (db->stats().wal_write_failures == 0 && scrapes < 5000)
    scrape(db->head(), 50, scrapes++, 1);
  ASSERT_GT(db->stats().wal_write_failures, 0u) << "the disk never filled";
  scrape(db->head(), 50, scrapes, 100);  // goes on failing, in memory
  scrapes += 100;
  EXPECT_EQ(dump(db->head()), expected(50, scrapes));
  std::string error;
  EXPECT_FALSE(db->checkpoint(&error));
  EXPECT_NE(error.find("could not be written"), std::string::npos) << error;
  EXPECT_EQ(db->stats().checkpoint_failures, 1u);

  ASSERT_TRUE(file::remove(filler, nullptr));
  const std::uint64_t failures = db->stats().wal_write_failures;
  scrape(db->head(), 50, scrapes, 20);
  scrapes += 20;
  EXPECT_EQ(db->stats().wal_write_failures, failures);
  ASSERT_TRUE(db->checkpoint(&error)) << error;
  db.reset();
  auto again = Db::open({.dir = dir}, kNow);
  ASSERT_TRUE(again);
  EXPECT_EQ(dump(again->head()), expected(50, scrapes));
}

}  // namespace
}  // namespace watch::tsdb
