// What the head writes into its WAL and checkpoints (wal.h frames and
// checksums them): series (a ref and its labels) and samples (ref, time,
// value), in compact varint encodings as Prometheus's tsdb/record.
//
//   std::vector<std::uint8_t> buf;
//   watch::tsdb::encode_samples(samples, buf);
//   wal.log(watch::tsdb::kRecordSamples, buf);
//   ...
//   std::vector<watch::tsdb::RefSample> out;
//   if (!watch::tsdb::decode_samples(rec.payload, out)) { /* corrupt */ }
//
// Decoders never read past the payload and never trust a count or length
// they read: a malformed payload is a false result, never a crash.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "watch/model/model.h"

namespace watch::tsdb {

// Record types (the WAL's type byte). Values are on disk: never reuse one.
inline constexpr std::uint8_t kRecordSeries = 1;
inline constexpr std::uint8_t kRecordSamples = 2;
// Checkpoint files only.
inline constexpr std::uint8_t kRecordCheckpointHeader = 10;
inline constexpr std::uint8_t kRecordSeriesState = 11;

struct RefSeries {
  std::uint64_t ref = 0;
  LabelSet labels;
};

struct RefSample {
  std::uint64_t ref = 0;
  std::int64_t t = 0;
  double v = 0;
};

// Appends the encodings to `out` (which is not cleared).
void encode_series(std::uint64_t ref, const LabelSet& labels, std::vector<std::uint8_t>& out);
void encode_samples(std::span<const RefSample> samples, std::vector<std::uint8_t>& out);

// Decode a whole payload, appending to `out`; false when it is malformed
// (what was decoded before the fault stays in `out`).
bool decode_series(std::span<const std::uint8_t> payload, std::vector<RefSeries>& out);
bool decode_samples(std::span<const std::uint8_t> payload, std::vector<RefSample>& out);

// Varints for the encoders above and the checkpoint.
void put_varint(std::vector<std::uint8_t>& out, std::uint64_t v);
void put_string(std::vector<std::uint8_t>& out, std::string_view s);

// A bounds-checked reader over a payload: every get returns false (and
// leaves the reader failed) instead of reading past the end.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> data) : data_(data) {}
  bool varint(std::uint64_t& v);
  bool svarint(std::int64_t& v);  // zigzag
  bool u64(std::uint64_t& v);
  bool u32(std::uint32_t& v);
  bool string(std::string& s);
  bool bytes(std::size_t n, std::span<const std::uint8_t>& out);
  bool done() const { return pos_ == data_.size(); }
  std::size_t left() const { return data_.size() - pos_; }

 private:
  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
};

inline std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

}  // namespace watch::tsdb
