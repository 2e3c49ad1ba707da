// Gorilla-compressed chunks of samples (Pelkonen et al., "Gorilla", VLDB
// 2015; the shape of Prometheus's XOR chunk): timestamps as delta-of-delta in
// variable-width buckets, values as the XOR with the previous value, storing
// only its meaningful bits. Regular 15 s scrapes cost one bit per timestamp;
// a value that did not change costs one bit.
//
//   watch::tsdb::ChunkAppender a;
//   a.append(1000, 1.5);
//   a.append(16000, 2.5);
//   watch::tsdb::SealedChunk c = a.seal();   // compact, immutable copy
//   for (watch::tsdb::ChunkIterator it(c); it.next();) use(it.t(), it.v());
//
// Every (t, v) round-trips exactly, bit for bit: NaN payloads (so the
// staleness marker stays the staleness marker), ±Inf, -0, any int64
// timestamp, equal or decreasing timestamps (the head refuses those, the
// encoding does not care). A damaged chunk (from a damaged file) decodes to
// wrong samples, never reads past its words.
//
// Thread-safety: an appender is used by one thread at a time; a SealedChunk
// is immutable and can be read from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "watch/model/model.h"

namespace watch::tsdb {

// An immutable chunk: the bit stream in 64-bit words, most significant bit
// first. The words are either owned (heap) or live elsewhere (a chunk file's
// mapping, chunk_files.h) for as long as the chunk is used.
struct SealedChunk {
  std::int64_t min_t = 0;
  std::int64_t max_t = 0;
  const std::uint64_t* words = nullptr;
  std::unique_ptr<std::uint64_t[]> owned;  // null when the words live elsewhere
  std::uint32_t bits = 0;
  std::uint16_t count = 0;

  std::size_t bytes() const { return (bits + 63) / 64 * 8; }
  bool in_memory() const { return owned != nullptr; }
};

// The open chunk of a series: appends samples, then seals.
class ChunkAppender {
 public:
  // Appends one sample. O(1), amortised; allocates when the buffer grows.
  void append(std::int64_t t, double v);

  std::uint16_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  std::int64_t min_t() const { return min_t_; }
  std::int64_t max_t() const { return t_; }
  std::size_t bits() const { return bits_; }
  const std::uint64_t* words() const { return words_.data(); }
  // Bytes held, including the buffer's unused capacity.
  std::size_t capacity_bytes() const { return words_.capacity() * 8; }

  // A compact copy of the samples so far (exactly the words used).
  SealedChunk seal() const;
  // Forgets the samples, keeping the buffer for the next chunk.
  void reset();
  // Forgets the samples and frees the buffer.
  void release();

 private:
  void add_word(std::uint64_t w);
  void write_bits(std::uint64_t v, unsigned n);
  void write_varint(std::uint64_t v);
  void write_value(std::uint64_t bits);

  // 64 bytes: a head keeps one per series.
  std::vector<std::uint64_t> words_;
  std::int64_t min_t_ = 0;
  std::int64_t t_ = 0;
  std::uint64_t delta_ = 0;   // t_ - previous t, wrapping
  std::uint64_t v_bits_ = 0;  // previous value's bits
  std::uint32_t bits_ = 0;    // a chunk of 65535 samples of 64-bit deltas stays below 2^32
  std::uint16_t count_ = 0;
  std::uint8_t leading_ = 0xff;  // window of the previous XOR (0xff: none yet)
  std::uint8_t trailing_ = 0;
};

// Reads a chunk's samples in order.
class ChunkIterator {
 public:
  ChunkIterator(const std::uint64_t* words, std::size_t bits, std::uint32_t count)
      : words_(words), words_count_((bits + 63) / 64), bits_(bits), remaining_(count) {}
  explicit ChunkIterator(const SealedChunk& c) : ChunkIterator(c.words, c.bits, c.count) {}
  explicit ChunkIterator(const ChunkAppender& a) : ChunkIterator(a.words(), a.bits(), a.count()) {}

  // Moves to the next sample; false after the last.
  bool next();
  std::int64_t t() const { return static_cast<std::int64_t>(t_); }
  double v() const;
  Sample sample() const { return Sample{t(), v()}; }

 private:
  std::uint64_t read_bits(unsigned n);
  bool read_bit() { return read_bits(1) != 0; }
  std::uint64_t read_varint();
  void read_value();

  const std::uint64_t* words_;
  std::size_t words_count_;  // words that may be read: (bits + 63) / 64
  std::size_t bits_;
  std::size_t pos_ = 0;
  std::uint32_t remaining_;
  std::uint32_t index_ = 0;
  std::uint64_t t_ = 0;
  std::uint64_t delta_ = 0;
  std::uint64_t v_bits_ = 0;
  std::uint8_t leading_ = 0;
  std::uint8_t trailing_ = 0;
};

}  // namespace watch::tsdb
