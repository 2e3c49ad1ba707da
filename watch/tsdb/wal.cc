#include "watch/tsdb/wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include <fmt/format.h>

#include "watch/tsdb/file_util.h"

namespace watch::tsdb {

std::uint32_t wal_crc(std::span<const std::uint8_t> data, std::uint32_t crc) {
  // zlib's crc32 takes a uInt length: feed it in slices.
  std::size_t done = 0;
  while (done < data.size()) {
    const std::size_t n = std::min<std::size_t>(data.size() - done, 1u << 30);
    crc = static_cast<std::uint32_t>(::crc32(crc, data.data() + done, static_cast<uInt>(n)));
    done += n;
  }
  return crc;
}

std::string WalCorruption::to_string() const {
  return fmt::format("segment {:08d} at offset {}: {}", segment, offset, reason);
}

std::string wal_segment_path(const std::string& dir, std::uint32_t index) {
  return fmt::format("{}/{:08d}", dir, index);
}

std::vector<std::uint32_t> wal_segments(const std::string& dir) {
  std::vector<std::uint32_t> out;
  for (const std::string& name : file::list_dir(dir)) {
    if (name.size() != 8 || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::uint32_t index = 0;
    std::from_chars(name.data(), name.data() + name.size(), index);
    out.push_back(index);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::int64_t wal_repair(const std::string& dir, const WalCorruption& at, std::string* error) {
  std::int64_t dropped = 0;
  const std::string path = wal_segment_path(dir, at.segment);
  const std::int64_t size = file::size(path);
  if (size > static_cast<std::int64_t>(at.offset)) {
    if (::truncate(path.c_str(), static_cast<off_t>(at.offset)) != 0) {
      if (error) *error = file::errno_message("cannot truncate", path);
      return -1;
    }
    dropped += size - static_cast<std::int64_t>(at.offset);
  }
  for (std::uint32_t index : wal_segments(dir)) {
    if (index <= at.segment) continue;
    const std::string later = wal_segment_path(dir, index);
    dropped += std::max<std::int64_t>(file::size(later), 0);
    if (!file::remove(later, error)) return -1;
  }
  if (!file::sync_dir(dir, error)) return -1;
  return dropped;
}

// ---------------------------------------------------------------------------
// Reader

WalReader::WalReader(std::string dir, std::uint32_t from) : dir_(std::move(dir)) {
  for (std::uint32_t s : wal_segments(dir_))
    if (s >= from) segments_.push_back(s);
}

bool WalReader::open_next_segment() {
  while (next_segment_ < segments_.size()) {
    segment_ = segments_[next_segment_++];
    pos_ = 0;
    std::string error;
    if (!data_.map(wal_segment_path(dir_, segment_), &error)) {
      corruption_ = WalCorruption{segment_, 0, error};
      return false;
    }
    if (data_.size() > 0) return true;
  }
  return false;
}

std::optional<WalRecord> WalReader::next() {
  if (corruption_) return std::nullopt;
  while (pos_ >= data_.size()) {
    if (!open_next_segment()) return std::nullopt;
  }
  const std::size_t left = data_.size() - pos_;
  const std::uint8_t* p = data_.data() + pos_;
  auto bad = [&](std::string reason) {
    corruption_ = WalCorruption{segment_, pos_, std::move(reason)};
    return std::nullopt;
  };
  if (left < kWalHeaderBytes) return bad("record header cut short by the end of the segment");
  const std::uint8_t type = p[0];
  if (type == 0) return bad("zeroed record (a write the crash did not complete)");
  const std::uint32_t len = file::get_u32(p + 1);
  if (len > kWalMaxRecordBytes) return bad(fmt::format("record length {} is too large", len));
  if (left - kWalHeaderBytes < len) return bad("record cut short by the end of the segment");
  const std::uint32_t stored = file::get_u32(p + 5);
  std::uint32_t crc = wal_crc({p, 1});
  crc = wal_crc({p + kWalHeaderBytes, len}, crc);
  if (crc != stored) return bad("CRC mismatch");
  WalRecord rec{type, {p + kWalHeaderBytes, len}, segment_, pos_};
  pos_ += kWalHeaderBytes + len;
  bytes_read_ += kWalHeaderBytes + len;
  return rec;
}

// ---------------------------------------------------------------------------
// Writer

std::unique_ptr<Wal> Wal::open(const std::string& dir, WalOptions options, std::string* error,
                               std::uint32_t min_segment) {
  if (!file::make_dirs(dir, error)) return nullptr;
  std::unique_ptr<Wal> wal(new Wal(dir, options));
  const auto existing = wal_segments(dir);
  const std::uint32_t next = std::max(existing.empty() ? 0 : existing.back() + 1, min_segment);
  std::lock_guard lock(wal->mu_);
  if (!wal->open_segment(next, error)) return nullptr;
  return wal;
}

Wal::~Wal() {
  close();
}

bool Wal::open_segment(std::uint32_t index, std::string* error) {
  const std::string path = wal_segment_path(dir_, index);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (error) *error = file::errno_message("cannot create WAL segment", path);
    return false;
  }
  fd_ = fd;
  segment_ = index;
  segment_bytes_ = 0;
  // The new name must survive a machine crash before records in it matter.
  file::sync_dir(dir_, nullptr);
  return true;
}

bool Wal::close_segment(std::string* error) {
  if (fd_ < 0) return true;
  bool ok = ::fsync(fd_) == 0;
  if (!ok && error) *error = file::errno_message("cannot fsync", wal_segment_path(dir_, segment_));
  ::close(fd_);
  fd_ = -1;
  return ok;
}

bool Wal::log(std::span<const Entry> records, std::string* error) {
  std::size_t total = 0;
  for (const Entry& e : records) total += kWalHeaderBytes + e.payload.size();
  std::lock_guard lock(mu_);
  if (fd_ < 0) {
    // A closed log, or a segment that could not be opened last time: try again.
    if (!open_segment(segment_ + 1, error)) {
      ++failures_;
      return false;
    }
  }
  if (segment_bytes_ > 0 && segment_bytes_ + total > options_.segment_size) {
    std::string ignored;
    close_segment(&ignored);  // a failed fsync of a completed segment is not this call's failure
    if (!open_segment(segment_ + 1, error)) {
      ++failures_;
      return false;
    }
  }
  buffer_.clear();
  buffer_.reserve(total);
  for (const Entry& e : records) {
    const std::size_t at = buffer_.size();
    buffer_.push_back(e.type);
    file::put_u32(buffer_, static_cast<std::uint32_t>(e.payload.size()));
    file::put_u32(buffer_, 0);  // the CRC, below
    buffer_.insert(buffer_.end(), e.payload.begin(), e.payload.end());
    std::uint32_t crc = wal_crc({&buffer_[at], 1});
    crc = wal_crc({buffer_.data() + at + kWalHeaderBytes, e.payload.size()}, crc);
    for (int i = 0; i < 4; ++i) buffer_[at + 5 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
  }
  const std::string path = wal_segment_path(dir_, segment_);
  if (!file::write_all(fd_, buffer_, error, path)) {
    ++failures_;
    // Cut the partial write off so the segment stays readable to its end.
    if (::ftruncate(fd_, static_cast<off_t>(segment_bytes_)) != 0 ||
        ::lseek(fd_, static_cast<off_t>(segment_bytes_), SEEK_SET) < 0) {
      // Cannot repair in place: leave this segment as it is (a reader stops
      // at its torn end) and continue in a new one.
      ::close(fd_);
      fd_ = -1;
    }
    if (buffer_.capacity() > (1u << 20)) std::vector<std::uint8_t>().swap(buffer_);
    return false;
  }
  segment_bytes_ += buffer_.size();
  written_ += buffer_.size();
  if (buffer_.capacity() > (256u << 10)) std::vector<std::uint8_t>().swap(buffer_);
  return true;
}

std::uint32_t Wal::cut(std::string* error) {
  std::lock_guard lock(mu_);
  close_segment(error);
  if (!open_segment(segment_ + 1, error)) {
    ++failures_;
    segment_ += 1;  // records logged later still go after the cut
  }
  return segment_;
}

std::size_t Wal::truncate_before(std::uint32_t index) {
  std::size_t removed = 0;
  for (std::uint32_t s : wal_segments(dir_)) {
    if (s >= index) break;
    if (file::remove(wal_segment_path(dir_, s), nullptr)) ++removed;
  }
  if (removed) file::sync_dir(dir_, nullptr);
  return removed;
}

bool Wal::sync(std::string* error) {
  std::lock_guard lock(mu_);
  if (fd_ < 0) return true;
  if (::fsync(fd_) == 0) return true;
  if (error) *error = file::errno_message("cannot fsync", wal_segment_path(dir_, segment_));
  return false;
}

void Wal::close() {
  std::lock_guard lock(mu_);
  close_segment(nullptr);
}

std::uint32_t Wal::current_segment() const {
  std::lock_guard lock(mu_);
  return segment_;
}

std::uint64_t Wal::size_from(std::uint32_t index) const {
  std::uint64_t total = 0;
  for (std::uint32_t s : wal_segments(dir_))
    if (s >= index)
      total += static_cast<std::uint64_t>(
          std::max<std::int64_t>(file::size(wal_segment_path(dir_, s)), 0));
  return total;
}

std::uint64_t Wal::write_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

std::uint64_t Wal::bytes_written() const {
  std::lock_guard lock(mu_);
  return written_;
}

}  // namespace watch::tsdb
