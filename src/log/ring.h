// Internal: a single-producer single-consumer byte ring for log lines. The
// producer is the logging thread; the consumer is whoever holds the logger's
// drain lock (the writer thread, or a thread flushing).
//
// The ring holds the lines' bytes and nothing else, so the consumer hands
// whatever is queued to the sink as it lies (one or two spans, whatever the
// number of lines) and never reads it itself: a line is written by the
// logging thread and then read only by the kernel. The producer counts the
// lines it queues, per level, for the logger's metrics.
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

namespace firebreak::detail {

class LogRing {
 public:
  static constexpr int kLevels = 6;

  explicit LogRing(std::size_t capacity)
      : capacity_(capacity), data_(std::make_unique_for_overwrite<char[]>(capacity)) {}

  // Producer: appends one line; false (and nothing written) when it does not fit.
  bool push(std::uint8_t level, const char* bytes, std::size_t len) {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head + len - cached_tail_ > capacity_) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head + len - cached_tail_ > capacity_) return false;
    }
    if (capacity_ - head_at_ > len) [[likely]] {
      std::memcpy(data_.get() + head_at_, bytes, len);
    } else {
      const std::size_t first = capacity_ - head_at_;
      std::memcpy(data_.get() + head_at_, bytes, first);
      std::memcpy(data_.get(), bytes + first, len - first);
    }
    publish(level, len);
    return true;
  }

  // Producer, in two steps, to write a line in place: contiguous room for a
  // line of up to `max` bytes, or null when there is none now (the ring is
  // too full, or the room would wrap: use push()). Write the line at the
  // pointer returned, then publish() it.
  char* reserve(std::size_t max) {
    if (capacity_ - head_at_ <= max) return nullptr;
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head + max - cached_tail_ > capacity_) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head + max - cached_tail_ > capacity_) return nullptr;
    }
    return data_.get() + head_at_;
  }
  // Publishes the `len` bytes written at what reserve() returned (len <= max),
  // or by push().
  void publish(std::uint8_t level, std::size_t len) {
    head_at_ += len;
    if (head_at_ >= capacity_) head_at_ -= capacity_;
    // The ring's memory is cold (last touched a whole ring ago): ask for the
    // lines the next records will fill now, so their stores do not stall
    // this thread later.
    if (capacity_ - head_at_ > kPrefetchAhead + kPrefetchSpan) {
      for (std::size_t off = 0; off < kPrefetchSpan; off += 64)
        __builtin_prefetch(data_.get() + head_at_ + kPrefetchAhead + off, 1);
    }
    // Only this thread writes the count: a plain add, no locked instruction.
    std::atomic<std::uint64_t>& count = queued_[level < kLevels ? level : kLevels - 1];
    count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    head_.store(head_.load(std::memory_order_relaxed) + len, std::memory_order_release);
  }

  // Consumer, in two steps: take() points `spans` at every byte queued (one
  // span, or two when they wrap) and returns how many spans it filled (0:
  // nothing queued). Once they are written, release() hands their room back
  // to the producer.
  std::size_t take(iovec (&spans)[2]) {
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    const auto len = static_cast<std::size_t>(head - taken_);
    if (len == 0) return 0;
    const std::size_t first = std::min(len, capacity_ - tail_at_);
    spans[0] = {data_.get() + tail_at_, first};
    tail_at_ += len;
    if (tail_at_ >= capacity_) tail_at_ -= capacity_;
    taken_ = head;
    if (first == len) return 1;
    spans[1] = {data_.get(), len - first};
    return 2;
  }
  void release() { tail_.store(taken_, std::memory_order_release); }

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
  // Lines queued so far at `level` (any thread).
  std::uint64_t queued(int level) const { return queued_[level].load(std::memory_order_relaxed); }

  // Set by the owning thread when it exits; the consumer frees the ring once drained.
  std::atomic<bool> closed{false};

 private:
  static constexpr std::size_t kPrefetchAhead = 512;
  static constexpr std::size_t kPrefetchSpan = 320;

  const std::size_t capacity_;
  std::unique_ptr<char[]> data_;
  alignas(64) std::atomic<std::uint64_t> head_{0};
  std::uint64_t cached_tail_ = 0;  // producer's last view of tail_
  std::uint64_t next_look_ = 0;    // producer's: when filling() next reads tail_
  std::size_t head_at_ = 0;        // producer's: head_ % capacity_, kept without dividing
  std::atomic<std::uint64_t> queued_[kLevels] = {};  // producer's, read by metrics
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  std::uint64_t taken_ = 0;  // consumer's: the end of what take() returned
  std::size_t tail_at_ = 0;  // consumer's: taken_ % capacity_
};

}  // namespace firebreak::detail
