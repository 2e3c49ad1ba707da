// Cold series: series that stopped receiving samples leave the head (its
// index and its memory) and are kept here until the retention drops them,
// as Prometheus's head garbage collection moves them into blocks. A cold
// file lists series (labels and where their chunks lie in the chunk files)
// with a postings index over their label pairs, written once and read
// through a memory mapping: it takes page cache, not heap.
//
//   std::vector<watch::tsdb::ColdSeries> gone = ...;   // from Head::idle_series
//   std::string error;
//   if (!watch::tsdb::write_cold_file(dir + "/000001", gone, &error)) ...;
//   auto file = watch::tsdb::ColdFile::open(dir + "/000001", &error);
//   file->select(matchers, [&](const LabelSet& labels, std::span<const ColdChunk> chunks) {...});
//
// File layout (little-endian): the magic "FBCOLD01"; the series, sorted by
// labels, each its labels (a varint count of bytes, then each name and value
// as a varint length and bytes) and its chunks (varint count, then per chunk
// varint file, varint offset, zigzag min_t, varint max_t - min_t, varint
// bits, varint sample count); the postings, one entry per label pair sorted
// by name then value (name, value, varint count, varint deltas of series
// offsets); a table of the postings entries' offsets (u64 each, for binary
// search); a 64-byte footer (section offsets, pair count, series count,
// min_t, max_t, CRC-32 of everything before the CRC).
//
// Opening checks the magic, the footer and the CRC: a damaged file is
// refused whole (and reported), never read in part. Reading never trusts an
// offset or a count without bounds checks.
//
// Thread-safety: a ColdFile is immutable; select from any number of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "watch/model/model.h"
#include "watch/tsdb/chunk_files.h"
#include "watch/tsdb/file_util.h"
#include "watch/tsdb/matcher.h"

namespace watch::tsdb {

struct ColdChunk {
  ChunkLocation at;
  std::int64_t min_t = 0;
  std::int64_t max_t = 0;
  std::uint32_t bits = 0;
  std::uint16_t count = 0;
};

struct ColdSeries {
  LabelSet labels;
  std::vector<ColdChunk> chunks;  // oldest first
};

// Writes `series` (sorted here) to `path` through a temporary file, fsync'ed
// and renamed into place. False and `error` set on failure (nothing left).
bool write_cold_file(const std::string& path, std::vector<ColdSeries> series,
                     std::string* error = nullptr);

class ColdFile {
 public:
  // Maps and checks the file. nullptr and `error` set when it is unreadable
  // or damaged.
  static std::unique_ptr<ColdFile> open(const std::string& path, std::string* error = nullptr);

  using Visitor = std::function<bool(const LabelSet& labels, std::span<const ColdChunk> chunks)>;
  // Calls `visit` for each series every matcher selects, in label order;
  // stops when it returns false.
  void select(const MatcherSet& matchers, const Visitor& visit) const;

  const std::string& path() const { return path_; }
  std::int64_t min_t() const { return min_t_; }
  std::int64_t max_t() const { return max_t_; }
  std::size_t series_count() const { return series_count_; }
  std::size_t bytes() const { return file_.size(); }

 private:
  ColdFile() = default;
  // Offsets (into the series section) of the series every matcher selects.
  std::vector<std::uint64_t> matching(const MatcherSet& matchers) const;
  // The series entries of one label pair's postings; `want`: of the values
  // the matcher accepts (true) or refuses (false).
  std::vector<std::uint64_t> postings_of(const CompiledMatcher& m, bool want) const;
  std::vector<std::uint64_t> all_series() const;
  bool read_series(std::uint64_t offset, LabelSet& labels, std::vector<ColdChunk>& chunks) const;

  std::string path_;
  file::MappedFile file_;
  std::uint64_t series_start_ = 0, postings_start_ = 0, table_start_ = 0, pair_count_ = 0;
  std::size_t series_count_ = 0;
  std::int64_t min_t_ = 0, max_t_ = 0;
};

}  // namespace watch::tsdb
