// Completed chunks on disk, memory-mapped: the head writes each chunk it
// seals here and keeps only a pointer into the mapping, so the chunks of a
// day of history are page cache the kernel can reclaim, not heap (as
// Prometheus's head chunks, tsdb/chunks/head_chunks.go). At start the files
// are read back and each chunk is handed to its series again.
//
//   std::string error;
//   auto files = watch::tsdb::ChunkFiles::open(dir + "/chunks_head", {}, &error);
//   files->replay([&](const watch::tsdb::ChunkFiles::Entry& e) { attach(e); }, &problems);
//   const std::uint64_t* words = files->write(ref, min_t, max_t, bits, count, appender.words());
//   ...
//   files->truncate_before(cutoff_ms);   // whole files whose chunks all end before it
//
// Files are named by a 6-digit index (000001, ...), start with an 8-byte
// magic and hold entries: a 32-byte header (series ref, min_t, max_t, bit
// count, sample count), the chunk's 64-bit words (host byte order, which is
// little-endian on every platform watch builds for), a CRC-32 of header and
// words, padding to 8 bytes. Writes go to the newest file with one
// writev(2); a file is completed at max_file_size and fsync'ed by sync().
// A failed write (a full disk) is undone and returns nullptr: the caller
// keeps that chunk in memory and may try again later.
//
// Thread-safety: thread-safe. Words returned by write() or passed to replay
// stay valid until truncate_before() removes their file; the caller must
// have stopped using every chunk that ends before the cutoff it passes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace watch::tsdb {

struct ChunkFilesOptions {
  std::size_t max_file_size = 128u << 20;
};

// Where a chunk's words are on disk: its file's index and their offset in it.
struct ChunkLocation {
  std::uint32_t file = 0;
  std::uint64_t offset = 0;
  friend bool operator==(const ChunkLocation&, const ChunkLocation&) = default;
};

class ChunkFiles {
 public:
  // A chunk read back by replay().
  struct Entry {
    std::uint64_t ref = 0;
    std::int64_t min_t = 0;
    std::int64_t max_t = 0;
    std::uint32_t bits = 0;
    std::uint16_t count = 0;
    const std::uint64_t* words = nullptr;
  };

  // Opens (creating) `dir` and maps the files in it. nullptr and `error`
  // set when the directory cannot be created.
  static std::unique_ptr<ChunkFiles> open(const std::string& dir, ChunkFilesOptions options = {},
                                          std::string* error = nullptr);
  ~ChunkFiles();
  ChunkFiles(const ChunkFiles&) = delete;
  ChunkFiles& operator=(const ChunkFiles&) = delete;

  // Calls `fn` for every readable chunk, file by file in order, each file
  // front to back. A bad entry ends its file: the rest is cut off (it can
  // only be a write a crash interrupted) and described in `problems`.
  // Call once, before the first write().
  void replay(const std::function<void(const Entry&)>& fn, std::vector<std::string>* problems);

  // Appends a chunk; returns its words in the mapping, or nullptr when the
  // write failed (`error` set).
  const std::uint64_t* write(std::uint64_t ref, std::int64_t min_t, std::int64_t max_t,
                             std::uint32_t bits, std::uint16_t count, const std::uint64_t* words,
                             std::string* error = nullptr);

  // Removes the files (not the one being written) whose chunks all end
  // before `mint`. Returns how many. Waits for every ReadGuard.
  std::size_t truncate_before(std::int64_t mint);

  // Where words returned by write() or replay() lie; nullopt for words that
  // are not in a chunk file (a chunk kept in memory).
  std::optional<ChunkLocation> locate(const std::uint64_t* words) const;
  // The words at a location, or nullptr when its file is gone (retention)
  // or the location is not in it. Valid while a ReadGuard is held.
  const std::uint64_t* words_at(ChunkLocation at, std::uint32_t bits) const;
  // Keeps every mapped file mapped while held (truncate_before waits): for
  // readers that reach chunks by location, not through the head.
  using ReadGuard = std::shared_lock<std::shared_mutex>;
  ReadGuard read_guard() const { return ReadGuard(unmap_mu_); }
  // fsync of every file written since the last sync.
  bool sync(std::string* error = nullptr);

  std::size_t files() const;
  std::uint64_t bytes() const;  // on disk
  std::uint64_t write_failures() const;

 private:
  struct File;
  ChunkFiles(std::string dir, ChunkFilesOptions options);
  bool start_file(std::string* error);  // requires mu_

  const std::string dir_;
  const ChunkFilesOptions options_;
  mutable std::shared_mutex unmap_mu_;  // held exclusively to unmap a file
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<File>> files_;  // guarded by mu_; oldest first
  File* current_ = nullptr;                   // guarded by mu_: where writes go; null until one
  std::uint64_t failures_ = 0;                // guarded by mu_
};

}  // namespace watch::tsdb
