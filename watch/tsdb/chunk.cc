#include "watch/tsdb/chunk.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace watch::tsdb {

namespace {

std::uint64_t zigzag(std::uint64_t v) {
  const auto s = static_cast<std::int64_t>(v);
  return (v << 1) ^ static_cast<std::uint64_t>(s >> 63);
}
std::uint64_t unzigzag(std::uint64_t v) {
  return (v >> 1) ^ (~(v & 1) + 1);
}

// Whether a signed value fits in n bits, two's complement.
bool fits(std::int64_t v, unsigned n) {
  const std::int64_t lim = std::int64_t{1} << (n - 1);
  return v >= -lim && v < lim;
}

std::uint64_t sign_extend(std::uint64_t v, unsigned n) {
  const unsigned shift = 64 - n;
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(v << shift) >> shift);
}

}  // namespace

// Layout, per sample:
//   first:   t as zigzag varint (7-bit groups, 8 bits each), v as 64 raw bits
//   second:  t - t0 as zigzag varint, v as XOR
//   then:    dod = delta - previous delta:
//              0                   '0'
//              fits 7 bits         '10'   + 7 bits   (scrape jitter of a few ms)
//              fits 14 bits        '110'  + 14 bits
//              fits 20 bits        '1110' + 20 bits
//              otherwise           '1111' + 64 bits
//            (Prometheus's buckets are 14, 17 and 20 bits; a smaller first
//            bucket halves the cost of unaligned scrape timestamps.)
//            v as XOR with the previous value's bits:
//              same value          '0'
//              inside the window   '10' + meaningful bits
//              new window          '11' + 5 bits leading zeros + 6 bits length
//                                  (64 as 0) + meaningful bits
// All arithmetic on timestamps wraps (unsigned), so any int64 round-trips.

void ChunkAppender::add_word(std::uint64_t w) {
  // Grown 8 words at a time, not doubled: a head holds an open chunk per
  // series, and doubling would leave up to half of each unused.
  if (words_.size() == words_.capacity()) words_.reserve(words_.size() + 8);
  words_.push_back(w);
}

void ChunkAppender::write_bits(std::uint64_t v, unsigned n) {
  if (n < 64) v &= (std::uint64_t{1} << n) - 1;
  const unsigned off = static_cast<unsigned>(bits_ & 63);
  if (off == 0) add_word(0);
  if (off + n <= 64) {
    words_.back() |= v << (64 - off - n);
  } else {
    words_.back() |= v >> (off + n - 64);
    add_word(v << (128 - off - n));
  }
  bits_ += n;
}

void ChunkAppender::write_varint(std::uint64_t v) {
  while (v >= 0x80) {
    write_bits((v & 0x7f) | 0x80, 8);
    v >>= 7;
  }
  write_bits(v, 8);
}

void ChunkAppender::write_value(std::uint64_t bits) {
  const std::uint64_t x = bits ^ v_bits_;
  if (x == 0) {
    write_bits(0, 1);
    return;
  }
  unsigned leading = static_cast<unsigned>(std::countl_zero(x));
  const unsigned trailing = static_cast<unsigned>(std::countr_zero(x));
  if (leading > 31) leading = 31;  // 5 bits
  if (leading_ != 0xff && leading >= leading_ && trailing >= trailing_) {
    const unsigned sig = 64 - leading_ - trailing_;
    write_bits(0b10, 2);
    write_bits(x >> trailing_, sig);
    return;
  }
  const unsigned sig = 64 - leading - trailing;
  write_bits(0b11, 2);
  write_bits(leading, 5);
  write_bits(sig & 63, 6);  // 64 is written as 0
  write_bits(x >> trailing, sig);
  leading_ = static_cast<std::uint8_t>(leading);
  trailing_ = static_cast<std::uint8_t>(trailing);
}

void ChunkAppender::append(std::int64_t t, double v) {
  const auto ut = static_cast<std::uint64_t>(t);
  const auto vb = std::bit_cast<std::uint64_t>(v);
  if (count_ == 0) {
    write_varint(zigzag(ut));
    write_bits(vb, 64);
    min_t_ = t;
  } else if (count_ == 1) {
    delta_ = ut - static_cast<std::uint64_t>(t_);
    write_varint(zigzag(delta_));
    write_value(vb);
  } else {
    const std::uint64_t delta = ut - static_cast<std::uint64_t>(t_);
    const auto dod = static_cast<std::int64_t>(delta - delta_);
    if (dod == 0) {
      write_bits(0, 1);
    } else if (fits(dod, 7)) {
      write_bits(0b10, 2);
      write_bits(static_cast<std::uint64_t>(dod), 7);
    } else if (fits(dod, 14)) {
      write_bits(0b110, 3);
      write_bits(static_cast<std::uint64_t>(dod), 14);
    } else if (fits(dod, 20)) {
      write_bits(0b1110, 4);
      write_bits(static_cast<std::uint64_t>(dod), 20);
    } else {
      write_bits(0b1111, 4);
      write_bits(static_cast<std::uint64_t>(dod), 64);
    }
    delta_ = delta;
    write_value(vb);
  }
  t_ = t;
  v_bits_ = vb;
  ++count_;
}

SealedChunk ChunkAppender::seal() const {
  SealedChunk c;
  c.min_t = min_t_;
  c.max_t = t_;
  c.bits = static_cast<std::uint32_t>(bits_);
  c.count = count_;
  const std::size_t n = (bits_ + 63) / 64;
  c.owned = std::make_unique_for_overwrite<std::uint64_t[]>(n);
  if (n) std::memcpy(c.owned.get(), words_.data(), n * 8);
  c.words = c.owned.get();
  return c;
}

void ChunkAppender::reset() {
  words_.clear();
  bits_ = 0;
  min_t_ = t_ = 0;
  delta_ = v_bits_ = 0;
  leading_ = 0xff;
  trailing_ = 0;
  count_ = 0;
}

void ChunkAppender::release() {
  reset();
  std::vector<std::uint64_t>().swap(words_);
}

// ---------------------------------------------------------------------------

std::uint64_t ChunkIterator::read_bits(unsigned n) {
  const std::size_t w = pos_ >> 6;
  const unsigned off = static_cast<unsigned>(pos_ & 63);
  pos_ += n;
  // A damaged chunk (its count or bits wrong) reads zeros past its words,
  // never the memory after them.
  if (w >= words_count_) return 0;
  std::uint64_t v = words_[w] << off;
  if (off + n > 64 && w + 1 < words_count_) v |= words_[w + 1] >> (64 - off);
  return n == 64 ? v : v >> (64 - n);
}

std::uint64_t ChunkIterator::read_varint() {
  std::uint64_t v = 0;
  for (unsigned shift = 0; shift < 70; shift += 7) {
    const std::uint64_t b = read_bits(8);
    v |= (b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  return v;
}

void ChunkIterator::read_value() {
  if (!read_bit()) return;  // same value
  if (read_bit()) {
    leading_ = static_cast<std::uint8_t>(read_bits(5));
    unsigned sig = static_cast<unsigned>(read_bits(6));
    if (sig == 0) sig = 64;
    if (leading_ + sig > 64) sig = 64u - leading_;  // a damaged chunk: stay inside the word
    trailing_ = static_cast<std::uint8_t>(64 - leading_ - sig);
  }
  const unsigned sig = 64u - leading_ - trailing_;
  v_bits_ ^= read_bits(sig) << trailing_;
}

bool ChunkIterator::next() {
  // The bit count guards against a count that does not match the stream.
  if (remaining_ == 0 || pos_ >= bits_) return false;
  --remaining_;
  if (index_ == 0) {
    t_ = unzigzag(read_varint());
    v_bits_ = read_bits(64);
  } else if (index_ == 1) {
    delta_ = unzigzag(read_varint());
    t_ += delta_;
    read_value();
  } else {
    std::uint64_t dod = 0;
    if (read_bit()) {
      if (!read_bit()) {
        dod = sign_extend(read_bits(7), 7);
      } else if (!read_bit()) {
        dod = sign_extend(read_bits(14), 14);
      } else if (!read_bit()) {
        dod = sign_extend(read_bits(20), 20);
      } else {
        dod = read_bits(64);
      }
    }
    delta_ += dod;
    t_ += delta_;
    read_value();
  }
  ++index_;
  return true;
}

double ChunkIterator::v() const {
  return std::bit_cast<double>(v_bits_);
}

}  // namespace watch::tsdb
