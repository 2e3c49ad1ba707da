// The durable head: a Head whose series and samples survive a restart, as
// Prometheus's head does (tsdb/head_wal.go, wlog/checkpoint.go,
// chunks/head_chunks.go). In a directory:
//
//   wal/            write-ahead log of new series and accepted samples (wal.h)
//   chunks_head/    every completed chunk, memory-mapped (chunk_files.h)
//   checkpoint.N/   the head's series and open chunks as of WAL segment N
//   cold/           series that left the head, until the retention (cold.h)
//
//   std::string error;
//   watch::tsdb::RecoveryReport report;
//   auto db = watch::tsdb::Db::open({.dir = "/var/lib/firebreak/tsdb"}, now_ms, &error, &report);
//   watch::tsdb::Appender app(db->head());     // scrape: append, then commit
//   ...
//   db->sync();                                 // every few seconds (fsync)
//   db->gc(now_ms);                             // retention, from a timer
//   db->checkpoint();                           // from a timer: bounds the WAL
//   db->close();                                // at shutdown: a checkpoint (the snapshot)
//
// Start-up reads the newest checkpoint, maps the chunk files and replays
// the WAL segments the checkpoint does not cover, then drops what is older
// than the retention. Nothing a crash leaves behind stops a start: a torn or
// corrupt WAL tail is cut off at the last whole record, a torn chunk file
// entry likewise, and each is reported in RecoveryReport::problems; only a
// directory that cannot be created or written is an error.
//
// A checkpoint is written while appends go on: the WAL is cut first (so
// everything appended before is in segments below N), chunks still on the
// heap are written to chunk files, the chunk files are fsync'ed, then the
// series and their open chunks are written to checkpoint.N.tmp, fsync'ed
// and renamed; only then are the older segments and checkpoints removed.
// Replaying the checkpoint and then the segments from N gives every sample
// at least once (a sample seen twice is the same sample, ignored).
//
// Durability: see wal.h. An append is in the WAL (the page cache) when its
// Appender commits; fsync'ed at sync(), checkpoint(), close() and when a
// segment fills. A failed write (a full disk) is counted and logged once per
// episode; the samples stay in memory and the head keeps working.
//
// Head garbage collection (gc()): a series that received no sample for
// DbOptions::evict_idle_after_ms leaves the head, its index and its memory
// (its open chunk sealed into a chunk file), for a cold file that keeps it
// queryable until the retention: select() and the series and label
// functions read the head and the cold files as one (a series found in
// both, because it came back, is merged, samples in time order, each once).
//
// With an empty dir the Db is a plain in-memory Head (nothing written, no
// cold files).
//
// Thread-safety: head() is as thread-safe as Head; checkpoint(), gc(),
// sync() and stats() may be called from any thread; close() once, after
// appends stopped.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "watch/tsdb/chunk_files.h"
#include "watch/tsdb/cold.h"
#include "watch/tsdb/head.h"
#include "watch/tsdb/wal.h"

namespace watch::tsdb {

struct DbOptions {
  std::string dir;  // "" keeps everything in memory
  HeadOptions head = {};
  // A series idle this long leaves the head for a cold file (0: never).
  std::int64_t evict_idle_after_ms = 0;
  WalOptions wal = {};
  ChunkFilesOptions chunks = {};
};

// What open() found and did.
struct RecoveryReport {
  bool from_checkpoint = false;
  std::uint32_t checkpoint_segment = 0;
  std::size_t series = 0;              // in the head after recovery
  std::size_t chunks_loaded = 0;       // from chunk files
  std::uint64_t samples_replayed = 0;  // from the checkpoint's open chunks and the WAL
  std::uint64_t wal_bytes = 0;         // replayed
  std::size_t wal_segments = 0;
  double seconds = 0;
  // Torn or corrupt data cut off, records that did not decode: one line each.
  std::vector<std::string> problems;
};

struct DbStats {
  std::uint64_t wal_bytes_written = 0;
  std::uint64_t wal_write_failures = 0;
  std::uint64_t wal_bytes = 0;  // on disk now, in the segments since the last checkpoint
  std::uint32_t wal_segment = 0;
  std::uint64_t chunk_write_failures = 0;
  std::size_t chunk_files = 0;
  std::uint64_t chunk_file_bytes = 0;
  std::uint64_t checkpoints = 0;
  std::uint64_t checkpoint_failures = 0;
  std::uint64_t checkpoint_bytes = 0;  // of the last one
  double checkpoint_seconds = 0;       // of the last one
  std::int64_t last_checkpoint_ms = 0;
  std::size_t cold_files = 0;
  std::size_t cold_series = 0;       // in cold files (a series there twice counts twice)
  std::uint64_t series_evicted = 0;  // moved out of the head since start
};

class Db final : private HeadLog {
 public:
  // Recovers what `options.dir` holds (see above), dropping samples older
  // than now_ms - retention. nullptr and `error` set only when the
  // directory cannot be created or written.
  static std::unique_ptr<Db> open(DbOptions options, std::int64_t now_ms,
                                  std::string* error = nullptr, RecoveryReport* report = nullptr);
  // close() unless already closed.
  ~Db() override;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Head& head() { return head_; }
  const Head& head() const { return head_; }
  bool durable() const { return wal_ != nullptr; }
  const std::string& dir() const { return options_.dir; }

  // Writes a checkpoint and removes what it covers (see above). False and
  // `error` set when it could not be written (nothing is removed then).
  bool checkpoint(std::string* error = nullptr);
  // fsync of the WAL and the chunk files.
  bool sync(std::string* error = nullptr);
  // Retention: head.gc(now_ms), then the cold files and chunk files it no
  // longer needs; then idle series leave the head for a cold file (see
  // above). Returns the series removed by the retention.
  std::size_t gc(std::int64_t now_ms);

  // Reading the head and the cold files as one (the engine's storage: see
  // DbQueryable in queryable.h; the API's series and label lists). Same
  // contracts as Head's.
  void select(const MatcherSet& matchers, std::int64_t mint_ms, std::int64_t maxt_ms,
              const SeriesVisitor& visit) const;
  std::vector<LabelSet> series(const MatcherSet& matchers, std::int64_t mint_ms = INT64_MIN,
                               std::int64_t maxt_ms = INT64_MAX) const;
  std::vector<std::string> label_names(const MatcherSet& matchers = {},
                                       std::int64_t mint_ms = INT64_MIN,
                                       std::int64_t maxt_ms = INT64_MAX) const;
  std::vector<std::string> label_values(std::string_view name, const MatcherSet& matchers = {},
                                        std::int64_t mint_ms = INT64_MIN,
                                        std::int64_t maxt_ms = INT64_MAX) const;
  // A checkpoint (the snapshot a fast start reads), then closes the files.
  // The head stays readable; appends are no longer logged.
  bool close(std::string* error = nullptr);

  DbStats stats() const;

 private:
  explicit Db(DbOptions options);
  bool recover(std::int64_t now_ms, RecoveryReport& report, std::string* error);
  bool write_checkpoint(std::uint32_t segment, std::uint64_t* bytes, std::string* error);
  void load_cold(RecoveryReport& report);
  std::size_t evict(std::int64_t cutoff);
  // Cold series matching, each with its samples in [mint, maxt], sorted by
  // time, each time once.
  std::map<LabelSet, std::vector<Sample>> cold_select(const MatcherSet& matchers, std::int64_t mint,
                                                      std::int64_t maxt) const;
  // What storage writes to; each fails and recovers on its own (a WAL
  // append can succeed while a chunk file cannot grow), so one episode of
  // failures logs one line per kind, and one when that kind recovers.
  enum WriteKind : std::uint8_t { kWalWrite = 1, kChunkWrite = 2, kColdWrite = 4 };
  void note_write_failure(WriteKind kind, const std::string& error);  // requires log_mu_
  void note_write_success(WriteKind kind);                            // requires log_mu_
  static const char* write_kind_name(WriteKind kind);

  // HeadLog
  void log_series(std::uint64_t ref, const LabelSet& labels) override;
  void log_samples(std::span<const RefSample> samples) override;
  const std::uint64_t* store_chunk(std::uint64_t ref, const ChunkAppender& chunk) override;

  DbOptions options_;
  Head head_;
  std::unique_ptr<Wal> wal_;
  std::unique_ptr<ChunkFiles> chunks_;
  std::atomic<bool> replaying_{false};
  std::atomic<bool> dirty_{false};  // logged anything since the last checkpoint

  std::mutex log_mu_;
  std::vector<std::uint8_t> pending_series_;  // guarded by log_mu_: encoded, not yet written
  std::vector<std::uint8_t> samples_buf_;     // guarded by log_mu_
  // WriteKinds in a failure episode; written under log_mu_, read without it
  // on the chunk path so that a success there costs no lock.
  std::atomic<std::uint8_t> failing_{0};

  mutable std::shared_mutex cold_mu_;
  std::vector<std::unique_ptr<ColdFile>> cold_;  // guarded by cold_mu_; oldest first
  std::uint32_t next_cold_ = 1;                  // guarded by cold_mu_
  std::atomic<std::uint64_t> evicted_{0};
  std::mutex evict_mu_;  // one eviction at a time

  mutable std::mutex checkpoint_mu_;      // one checkpoint (or close) at a time
  std::uint32_t checkpoint_segment_ = 0;  // guarded by checkpoint_mu_
  DbStats cp_stats_;                      // guarded by checkpoint_mu_: the checkpoint fields
  bool closed_ = false;                   // guarded by checkpoint_mu_
};

// The name of a checkpoint directory: "checkpoint.00000012".
std::string checkpoint_name(std::uint32_t segment);

}  // namespace watch::tsdb
