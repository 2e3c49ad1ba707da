// The write-ahead log: numbered segment files of CRC-checked records in one
// directory, as Prometheus's tsdb/wlog. The head logs what it is given
// (series and samples, records.h) and reads it back at start; this module
// knows nothing of what a record means.
//
//   std::string error;
//   auto wal = watch::tsdb::Wal::open("/var/lib/firebreak/tsdb/wal", {}, &error);
//   wal->log(record_bytes);                  // handed to the OS before it returns
//   std::uint32_t first = wal->cut();        // later records go to segment `first`
//   wal->truncate_before(first);             // after a checkpoint covers the rest
//
//   watch::tsdb::WalReader reader(dir, from_segment);
//   while (auto rec = reader.next()) use(rec->type, rec->payload);
//   if (reader.corruption()) log(reader.corruption()->to_string());
//
// Segments are named by their 8-digit decimal index (00000000, 00000001, ...)
// and hold at most WalOptions::segment_size bytes (a larger record gets a
// segment of its own). A record is a 9-byte header (type, payload length
// little-endian u32, CRC-32 of type and payload) and the payload.
//
// Durability (see docs/config.md, storage): log() writes the record to the
// file before it returns, so a crash of the process (kill -9, OOM) loses
// nothing logged; the file is fsync'ed when a segment is completed, by
// sync(), and at close(), so a crash of the machine loses at most what was
// logged since the last of those.
//
// A write that fails (a full disk) is undone (the segment is cut back to its
// last whole record), counted in write_failures() and reported once per
// episode through the result; the records of that call are lost from the log
// (the caller still has them in memory). Later calls try again.
//
// What a crash leaves behind never stops a start: a reader stops at a torn
// or corrupt record (a partial record, a CRC mismatch, zeros) and says
// where; wal_repair() then cuts the log there (the segment is truncated at
// the bad record and every later segment removed), and writing resumes in a
// new segment after the last.
//
// Thread-safety: Wal is thread-safe (one mutex; log() holds it for one
// write(2)). WalReader is not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "watch/tsdb/file_util.h"

namespace watch::tsdb {

inline constexpr std::size_t kWalHeaderBytes = 9;
// Largest payload a reader accepts (a larger length is corruption).
inline constexpr std::uint32_t kWalMaxRecordBytes = 256u << 20;

struct WalOptions {
  std::size_t segment_size = 128u << 20;
};

// Where a reader stopped on a bad record, and why.
struct WalCorruption {
  std::uint32_t segment = 0;
  std::uint64_t offset = 0;  // of the bad record's header
  std::string reason;        // "CRC mismatch", "record cut short by the end of the file", ...
  std::string to_string() const;
};

struct WalRecord {
  std::uint8_t type = 0;
  std::span<const std::uint8_t> payload;  // valid until the next next()
  std::uint32_t segment = 0;
  std::uint64_t offset = 0;
};

// The segment indexes present in `dir`, ascending (files not named as
// segments are ignored).
std::vector<std::uint32_t> wal_segments(const std::string& dir);
std::string wal_segment_path(const std::string& dir, std::uint32_t index);
// Cuts the log at a bad record a reader found: truncates its segment there
// and removes every later segment. Returns the bytes dropped (-1 on an I/O
// error, `error` set).
std::int64_t wal_repair(const std::string& dir, const WalCorruption& at,
                        std::string* error = nullptr);

// Reads the records of the segments >= `from` in `dir`, in order. Stops at
// the first bad record (corruption() says where) or the end.
class WalReader {
 public:
  WalReader(std::string dir, std::uint32_t from = 0);
  // The next record, or nullopt at the end or on a bad record.
  std::optional<WalRecord> next();
  const std::optional<WalCorruption>& corruption() const { return corruption_; }
  std::uint64_t bytes_read() const { return bytes_read_; }

 private:
  bool open_next_segment();

  std::string dir_;
  std::vector<std::uint32_t> segments_;
  std::size_t next_segment_ = 0;
  std::uint32_t segment_ = 0;
  file::MappedFile data_;  // the current segment
  std::size_t pos_ = 0;
  std::optional<WalCorruption> corruption_;
  std::uint64_t bytes_read_ = 0;
};

class Wal {
 public:
  // Opens (creating) `dir` and starts a new segment after the last one, and
  // at `min_segment` at least (a checkpoint's number: segments never go
  // back below what a checkpoint covers). nullptr and `error` set when the
  // directory cannot be created or written.
  static std::unique_ptr<Wal> open(const std::string& dir, WalOptions options = {},
                                   std::string* error = nullptr, std::uint32_t min_segment = 0);
  ~Wal();  // close()
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Appends records, each a type and a payload, with one write(2); starts a
  // new segment first when the current one would grow past segment_size.
  // False (and `error` set) when the write failed; nothing of it is kept.
  struct Entry {
    std::uint8_t type;
    std::span<const std::uint8_t> payload;
  };
  bool log(std::span<const Entry> records, std::string* error = nullptr);
  bool log(std::uint8_t type, std::span<const std::uint8_t> payload, std::string* error = nullptr) {
    const Entry e{type, payload};
    return log(std::span<const Entry>(&e, 1), error);
  }

  // Completes the current segment (fsync) and starts the next; returns the
  // new segment's index. Every record logged before cut() is in a segment
  // below it.
  std::uint32_t cut(std::string* error = nullptr);
  // Removes the segments below `index`. Returns how many.
  std::size_t truncate_before(std::uint32_t index);
  // fsync of the current segment.
  bool sync(std::string* error = nullptr);
  void close();

  const std::string& dir() const { return dir_; }
  std::uint32_t current_segment() const;
  // Bytes in the segments from `index` on (what a replay would read).
  std::uint64_t size_from(std::uint32_t index) const;
  std::uint64_t write_failures() const;
  std::uint64_t bytes_written() const;

 private:
  Wal(std::string dir, WalOptions options) : dir_(std::move(dir)), options_(options) {}
  bool open_segment(std::uint32_t index, std::string* error);  // requires mu_
  bool close_segment(std::string* error);                      // requires mu_

  const std::string dir_;
  const WalOptions options_;
  mutable std::mutex mu_;
  int fd_ = -1;                       // guarded by mu_
  std::uint32_t segment_ = 0;         // guarded by mu_
  std::uint64_t segment_bytes_ = 0;   // guarded by mu_: whole records in the current segment
  std::uint64_t failures_ = 0;        // guarded by mu_
  std::uint64_t written_ = 0;         // guarded by mu_
  std::vector<std::uint8_t> buffer_;  // guarded by mu_: reused for one log() call
};

// CRC-32 (zlib's polynomial) of a byte range, continuing from `crc`.
std::uint32_t wal_crc(std::span<const std::uint8_t> data, std::uint32_t crc = 0);

}  // namespace watch::tsdb
