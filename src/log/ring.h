// Internal: a single-producer single-consumer byte ring for log lines. The
// producer is the logging thread; the consumer is whoever holds the logger's
// drain lock (the writer thread, or a thread flushing).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

#include "util/line_buffer.h"

namespace firebreak::detail {

class LogRing {
 public:
  explicit LogRing(std::size_t capacity)
      : capacity_(capacity), data_(std::make_unique_for_overwrite<char[]>(capacity)) {}

  // Producer: appends one record; false (and nothing written) when it does not fit.
  bool push(std::uint8_t level, const char* bytes, std::uint32_t len) {
    const std::uint64_t need = kHeader + len;
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head + need - cached_tail_ > capacity_) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head + need - cached_tail_ > capacity_) return false;
    }
    char header[kHeader] = {};
    std::memcpy(header, &len, 4);
    header[4] = static_cast<char>(level);
    if (capacity_ - head_at_ > need) [[likely]] {
      // Contiguous (the usual case): no wrap, no division.
      char* dst = data_.get() + head_at_;
      std::memcpy(dst, header, kHeader);
      std::memcpy(dst + kHeader, bytes, len);
      advance(need);
    } else {
      head_at_ = copy_in(head_at_, header, kHeader);
      head_at_ = copy_in(head_at_, bytes, len);
      head_.store(head + need, std::memory_order_release);
    }
    return true;
  }

  // Producer, in two steps, to write a record in place: contiguous room for
  // a record of up to `max` bytes, or null when there is none now (the ring
  // is too full, or the room would wrap: use push()). Write the record at
  // the pointer returned, then publish() it.
  char* reserve(std::size_t max) {
    const std::uint64_t need = kHeader + max;
    if (capacity_ - head_at_ <= need) return nullptr;
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head + need - cached_tail_ > capacity_) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head + need - cached_tail_ > capacity_) return nullptr;
    }
    return data_.get() + head_at_ + kHeader;
  }
  // Publishes the `len` bytes written at what reserve() returned (len <= max).
  void publish(std::uint8_t level, std::uint32_t len) {
    char* at = data_.get() + head_at_;
    std::memcpy(at, &len, 4);
    at[4] = static_cast<char>(level);
    advance(kHeader + len);
  }

  // Consumer: appends every complete record to `out` and calls
  // on_record(level) for each. Returns the number of records.
  template <class OnRecord>
  std::size_t drain(LineBuffer& out, OnRecord on_record) {
    std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    std::size_t n = 0;
    while (tail < head) {
      char header[kHeader];
      tail_at_ = copy_out(tail_at_, header, kHeader);
      std::uint32_t len;
      std::memcpy(&len, header, 4);
      out.reserve_more(len);
      tail_at_ = copy_out(tail_at_, out.tail(), len);
      out.commit(len);
      on_record(static_cast<std::uint8_t>(header[4]));
      tail += kHeader + len;
      ++n;
    }
    tail_.store(tail, std::memory_order_release);
    return n;
  }

  // Producer: more than a quarter of the ring is in use. Reads the
  // consumer's position only when the cached one suggests so.
  // After a look that found it filling, the next is a 64th of the ring
  // later: the consumer's position is on a line it writes, and reading it on
  // every record would pull that line across cores each time.
  bool filling() {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - cached_tail_ <= capacity_ / 4 || head < next_look_) return false;
    cached_tail_ = tail_.load(std::memory_order_acquire);
    if (head - cached_tail_ <= capacity_ / 4) return false;
    next_look_ = head + capacity_ / 64;
    return true;
  }

  bool empty() const {
    return tail_.load(std::memory_order_acquire) == head_.load(std::memory_order_acquire);
  }
  std::size_t capacity() const { return capacity_; }

  // Set by the owning thread when it exits; the consumer frees the ring once drained.
  std::atomic<bool> closed{false};

 private:
  static constexpr std::size_t kHeader = 8;
  static constexpr std::size_t kPrefetchAhead = 512;
  static constexpr std::size_t kPrefetchSpan = 320;

  // Publishes a record of `n` bytes written contiguously at head_at_.
  void advance(std::size_t n) {
    head_at_ += n;
    // The ring's memory is cold (last touched a whole ring ago): ask for the
    // lines the next records will fill now, so their stores do not stall
    // this thread later.
    if (capacity_ - head_at_ > kPrefetchAhead + kPrefetchSpan) {
      for (std::size_t off = 0; off < kPrefetchSpan; off += 64)
        __builtin_prefetch(data_.get() + head_at_ + kPrefetchAhead + off, 1);
    }
    head_.store(head_.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }

  // Copy at offset `at` (< capacity_), wrapping; return the offset after.
  std::size_t copy_in(std::size_t at, const char* src, std::size_t len) {
    const std::size_t first = std::min(len, capacity_ - at);
    std::memcpy(data_.get() + at, src, first);
    std::memcpy(data_.get(), src + first, len - first);
    return first < len ? len - first : at + len == capacity_ ? 0 : at + len;
  }
  std::size_t copy_out(std::size_t at, char* dst, std::size_t len) const {
    const std::size_t first = std::min(len, capacity_ - at);
    std::memcpy(dst, data_.get() + at, first);
    std::memcpy(dst + first, data_.get(), len - first);
    return first < len ? len - first : at + len == capacity_ ? 0 : at + len;
  }

  const std::size_t capacity_;
  std::unique_ptr<char[]> data_;
  alignas(64) std::atomic<std::uint64_t> head_{0};
  std::uint64_t cached_tail_ = 0;  // producer's last view of tail_
  std::uint64_t next_look_ = 0;    // producer's: when filling() next reads tail_
  std::size_t head_at_ = 0;        // producer's: head_ % capacity_, kept without dividing
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  std::size_t tail_at_ = 0;  // consumer's: tail_ % capacity_
};

}  // namespace firebreak::detail
