// Internal: a growable byte buffer for the log hot path. Like std::string's
// append, but short copies are inlined (no memcpy call) and nothing is zeroed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace firebreak::detail {

// Copies `n` bytes without a call for the short strings that make up most of
// a line (two overlapping fixed-size moves), memcpy for the rest.
inline void copy_short(char* dst, const char* src, std::size_t n) {
  if (n >= 8 && n <= 16) {
    std::memcpy(dst, src, 8);
    std::memcpy(dst + n - 8, src + n - 8, 8);
  } else if (n >= 4 && n < 8) {
    std::memcpy(dst, src, 4);
    std::memcpy(dst + n - 4, src + n - 4, 4);
  } else if (n < 4) {
    for (std::size_t i = 0; i < n; ++i) dst[i] = src[i];
  } else {
    std::memcpy(dst, src, n);
  }
}

class LineBuffer {
 public:
  explicit LineBuffer(std::size_t capacity = 1024)
      : data_(std::make_unique_for_overwrite<char[]>(capacity)), size_(0), capacity_(capacity) {}

  void clear() { size_ = 0; }
  const char* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  std::string_view view() const { return {data_.get(), size_}; }

  void push_back(char c) {
    reserve_more(1);
    data_[size_++] = c;
  }

  void append(const char* s, std::size_t n) {
    reserve_more(n);
    copy_short(data_.get() + size_, s, n);
    size_ += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }

  // Room for `n` more bytes, written through `tail()` and committed by `commit(n)`.
  void reserve_more(std::size_t n) {
    if (capacity_ - size_ < n) [[unlikely]]
      grow(n);
  }
  char* tail() { return data_.get() + size_; }
  void commit(std::size_t n) { size_ += n; }
  // Bytes that can be written through `tail()` without growing.
  std::size_t room() const { return capacity_ - size_; }

 private:
  void grow(std::size_t n) {
    std::size_t capacity = capacity_ * 2;
    while (capacity - size_ < n) capacity *= 2;
    auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
    std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = capacity;
  }

  std::unique_ptr<char[]> data_;
  std::size_t size_;
  std::size_t capacity_;
};

}  // namespace firebreak::detail
