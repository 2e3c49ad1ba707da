// Chunk files: chunks written read back identical after a reopen, a torn
// last entry is cut off wherever the tear is, files rotate at their size and
// retention removes whole files.
#include "watch/tsdb/chunk_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "watch/tsdb/chunk.h"
#include "watch/tsdb/file_util.h"
#include "watch/tsdb/temp_dir.h"

namespace watch::tsdb {
namespace {

using test::TempDir;

ChunkAppender chunk(int series, int n, std::int64_t t0 = 0) {
  ChunkAppender a;
  for (int i = 0; i < n; ++i) a.append(t0 + i * 15000, series * 1000.0 + i * 0.25);
  return a;
}

std::vector<Sample> samples_of(const std::uint64_t* words, std::uint32_t bits,
                               std::uint16_t count) {
  std::vector<Sample> out;
  for (ChunkIterator it(words, bits, count); it.next();) out.push_back(it.sample());
  return out;
}

std::vector<Sample> samples_of(const ChunkAppender& a) {
  return samples_of(a.words(), static_cast<std::uint32_t>(a.bits()), a.count());
}

const std::uint64_t* write(ChunkFiles& f, std::uint64_t ref, const ChunkAppender& a) {
  return f.write(ref, a.min_t(), a.max_t(), static_cast<std::uint32_t>(a.bits()), a.count(),
                 a.words());
}

TEST(ChunkFiles, WrittenChunksReadBackThroughTheMappingAndAfterReopen) {
  TempDir dir;
  {
    auto files = ChunkFiles::open(dir.path);
    ASSERT_TRUE(files);
    files->replay([](const ChunkFiles::Entry&) { FAIL() << "empty dir has no chunks"; }, nullptr);
    for (int s = 1; s <= 20; ++s) {
      const ChunkAppender a = chunk(s, 120);
      const std::uint64_t* words = write(*files, s, a);
      ASSERT_NE(words, nullptr);
      EXPECT_EQ(samples_of(words, static_cast<std::uint32_t>(a.bits()), a.count()), samples_of(a));
    }
    EXPECT_EQ(files->files(), 1u);
  }
  auto files = ChunkFiles::open(dir.path);
  std::vector<std::string> problems;
  int seen = 0;
  files->replay(
      [&](const ChunkFiles::Entry& e) {
        ++seen;
        EXPECT_EQ(e.ref, static_cast<std::uint64_t>(seen));
        const ChunkAppender a = chunk(seen, 120);
        EXPECT_EQ(e.min_t, a.min_t());
        EXPECT_EQ(e.max_t, a.max_t());
        EXPECT_EQ(samples_of(e.words, e.bits, e.count), samples_of(a));
      },
      &problems);
  EXPECT_EQ(seen, 20);
  EXPECT_TRUE(problems.empty());
  // Writing continues in a new file.
  ASSERT_NE(write(*files, 99, chunk(99, 5)), nullptr);
  EXPECT_EQ(files->files(), 2u);
}

TEST(ChunkFiles, ATornLastEntryIsCutOffWhereverTheTearIs) {
  TempDir src;
  std::vector<std::int64_t> sizes;  // file size after each entry
  {
    auto files = ChunkFiles::open(src.path);
    for (int s = 1; s <= 4; ++s) {
      ASSERT_NE(write(*files, s, chunk(s, 30)), nullptr);
      sizes.push_back(file::size(src.path + "/000001"));
    }
  }
  std::vector<std::uint8_t> whole;
  ASSERT_TRUE(file::read_file(src.path + "/000001", whole, nullptr));
  for (std::size_t cut = sizes[2]; cut < whole.size(); ++cut) {
    TempDir dir;
    std::ofstream(dir.path + "/000001", std::ios::binary)
        .write(reinterpret_cast<const char*>(whole.data()), static_cast<std::streamsize>(cut));
    auto files = ChunkFiles::open(dir.path);
    std::vector<std::string> problems;
    int seen = 0;
    files->replay([&](const ChunkFiles::Entry&) { ++seen; }, &problems);
    EXPECT_EQ(seen, 3) << cut;
    EXPECT_EQ(problems.size(), cut == static_cast<std::size_t>(sizes[2]) ? 0u : 1u) << cut;
    EXPECT_EQ(file::size(dir.path + "/000001"), sizes[2]);
  }
}

TEST(ChunkFiles, ACorruptEntryEndsItsFile) {
  TempDir dir;
  {
    auto files = ChunkFiles::open(dir.path);
    for (int s = 1; s <= 3; ++s) ASSERT_NE(write(*files, s, chunk(s, 30)), nullptr);
  }
  std::vector<std::uint8_t> bytes;
  ASSERT_TRUE(file::read_file(dir.path + "/000001", bytes, nullptr));
  bytes[bytes.size() - 20] ^= 1;  // a word of the last chunk
  std::ofstream(dir.path + "/000001", std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  auto files = ChunkFiles::open(dir.path);
  std::vector<std::string> problems;
  int seen = 0;
  files->replay([&](const ChunkFiles::Entry&) { ++seen; }, &problems);
  EXPECT_EQ(seen, 2);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("CRC mismatch"), std::string::npos) << problems[0];
}

TEST(ChunkFiles, FilesRotateAndRetentionRemovesWholeOldFiles) {
  TempDir dir;
  auto files = ChunkFiles::open(dir.path, {.max_file_size = 4096});
  for (int s = 0; s < 300; ++s) ASSERT_NE(write(*files, 1, chunk(1, 30, s * 1'000'000)), nullptr);
  const std::size_t n = files->files();
  EXPECT_GT(n, 5u);
  for (const std::string& name : file::list_dir(dir.path))
    EXPECT_LE(file::size(dir.path + "/" + name), 4096);
  // Chunks end at s * 1e6 + 29 * 15000: cut half of them.
  const std::size_t removed = files->truncate_before(150 * 1'000'000);
  EXPECT_GT(removed, 0u);
  EXPECT_LT(removed, n);
  std::vector<std::int64_t> min_ts;
  auto reopened = ChunkFiles::open(dir.path, {.max_file_size = 4096});
  reopened->replay([&](const ChunkFiles::Entry& e) { min_ts.push_back(e.min_t); }, nullptr);
  ASSERT_FALSE(min_ts.empty());
  EXPECT_LE(min_ts.front(), 150 * 1'000'000);  // the file holding the cutoff stays whole
  EXPECT_EQ(min_ts.back(), 299 * 1'000'000);
  // Nothing removes the file being written.
  const std::size_t before = files->files();
  EXPECT_EQ(files->truncate_before(INT64_MAX), before - 1);
  EXPECT_EQ(files->files(), 1u);
}

}  // namespace
}  // namespace watch::tsdb
