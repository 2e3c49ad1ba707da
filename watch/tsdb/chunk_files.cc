#include "watch/tsdb/chunk_files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>

#include <fmt/format.h>

#include "watch/tsdb/file_util.h"
#include "watch/tsdb/wal.h"

namespace watch::tsdb {

static_assert(std::endian::native == std::endian::little,
              "chunk files hold words in host order, read back as little-endian");

namespace {

constexpr char kMagic[8] = {'F', 'B', 'C', 'H', 'U', 'N', 'K', '1'};
constexpr std::size_t kMagicBytes = sizeof kMagic;
constexpr std::size_t kHeaderBytes = 32;
constexpr std::size_t kTrailerBytes = 8;  // CRC and padding

struct EntryHeader {
  std::uint64_t ref;
  std::int64_t min_t;
  std::int64_t max_t;
  std::uint32_t bits;
  std::uint16_t count;
  std::uint16_t reserved;
};
static_assert(sizeof(EntryHeader) == kHeaderBytes);

std::size_t words_for(std::uint32_t bits) {
  return (static_cast<std::size_t>(bits) + 63) / 64;
}

bool parse_index(const std::string& name, std::uint32_t& index) {
  if (name.size() != 6 || !std::all_of(name.begin(), name.end(), ::isdigit)) return false;
  std::from_chars(name.data(), name.data() + name.size(), index);
  return true;
}

}  // namespace

struct ChunkFiles::File {
  std::uint32_t index = 0;
  std::string path;
  int fd = -1;  // open while written to or not yet synced
  const std::uint8_t* base = nullptr;
  std::size_t mapped = 0;  // length of the mapping
  std::uint64_t size = 0;  // bytes of whole entries (and the magic)
  std::int64_t max_t = INT64_MIN;
  bool dirty = false;  // written since its last fsync

  ~File() {
    if (base) ::munmap(const_cast<std::uint8_t*>(base), mapped);
    if (fd >= 0) ::close(fd);
  }
};

ChunkFiles::ChunkFiles(std::string dir, ChunkFilesOptions options)
    : dir_(std::move(dir)), options_(options) {}

ChunkFiles::~ChunkFiles() {
  sync(nullptr);
}

std::unique_ptr<ChunkFiles> ChunkFiles::open(const std::string& dir, ChunkFilesOptions options,
                                             std::string* error) {
  if (!file::make_dirs(dir, error)) return nullptr;
  options.max_file_size = std::max<std::size_t>(options.max_file_size, 4096);
  std::unique_ptr<ChunkFiles> files(new ChunkFiles(dir, options));
  std::vector<std::uint32_t> indexes;
  for (const std::string& name : file::list_dir(dir)) {
    std::uint32_t index = 0;
    if (parse_index(name, index)) indexes.push_back(index);
  }
  std::sort(indexes.begin(), indexes.end());
  std::lock_guard lock(files->mu_);
  for (std::uint32_t index : indexes) {
    auto f = std::make_unique<File>();
    f->index = index;
    f->path = fmt::format("{}/{:06d}", dir, index);
    const std::int64_t size = file::size(f->path);
    if (size > 0) {
      const int fd = ::open(f->path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        void* p = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_SHARED, fd, 0);
        ::close(fd);
        if (p != MAP_FAILED) {
          f->base = static_cast<const std::uint8_t*>(p);
          f->mapped = static_cast<std::size_t>(size);
        }
      }
    }
    f->size = size > 0 ? static_cast<std::uint64_t>(size) : 0;
    files->files_.push_back(std::move(f));
  }
  return files;
}

void ChunkFiles::replay(const std::function<void(const Entry&)>& fn,
                        std::vector<std::string>* problems) {
  std::lock_guard lock(mu_);
  for (auto& f : files_) {
    auto problem = [&](std::uint64_t at, const std::string& why) {
      if (problems)
        problems->push_back(
            fmt::format("chunk file {} at offset {}: {}; the {} bytes after it "
                        "are dropped",
                        f->path, at, why, f->size - at));
      if (::truncate(f->path.c_str(), static_cast<off_t>(at)) == 0) f->size = at;
    };
    if (!f->base || f->size < kMagicBytes || std::memcmp(f->base, kMagic, kMagicBytes) != 0) {
      if (f->size > 0 && problems)
        problems->push_back(
            fmt::format("chunk file {}: not a chunk file (bad magic); ignored", f->path));
      continue;
    }
    std::uint64_t pos = kMagicBytes;
    while (pos < f->size) {
      if (f->size - pos < kHeaderBytes + kTrailerBytes) {
        problem(pos, "entry cut short by the end of the file");
        break;
      }
      EntryHeader h;
      std::memcpy(&h, f->base + pos, kHeaderBytes);
      const std::size_t n = words_for(h.bits);
      // A sample takes at least one bit and at most a few hundred.
      if (h.count == 0 || h.bits == 0 || h.bits > static_cast<std::uint64_t>(h.count) * 256 ||
          h.max_t < h.min_t) {
        problem(pos, "malformed entry header");
        break;
      }
      const std::uint64_t entry = kHeaderBytes + n * 8 + kTrailerBytes;
      if (f->size - pos < entry) {
        problem(pos, "entry cut short by the end of the file");
        break;
      }
      const std::uint32_t crc = wal_crc({f->base + pos, kHeaderBytes + n * 8});
      if (crc != file::get_u32(f->base + pos + kHeaderBytes + n * 8)) {
        problem(pos, "CRC mismatch");
        break;
      }
      fn(Entry{h.ref, h.min_t, h.max_t, h.bits, h.count,
               reinterpret_cast<const std::uint64_t*>(f->base + pos + kHeaderBytes)});
      f->max_t = std::max(f->max_t, h.max_t);
      pos += entry;
    }
  }
}

bool ChunkFiles::start_file(std::string* error) {
  if (current_ && current_->fd >= 0) {
    // Completed: fsync'ed by the next sync(), which then closes it.
    current_->dirty = true;
  }
  const std::uint32_t index = files_.empty() ? 1 : files_.back()->index + 1;
  auto f = std::make_unique<File>();
  f->index = index;
  f->path = fmt::format("{}/{:06d}", dir_, index);
  f->fd = ::open(f->path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f->fd < 0) {
    if (error) *error = file::errno_message("cannot create chunk file", f->path);
    return false;
  }
  if (!file::write_all(f->fd, {reinterpret_cast<const std::uint8_t*>(kMagic), kMagicBytes}, error,
                       f->path)) {
    ::unlink(f->path.c_str());
    return false;
  }
  // The whole file's extent is mapped at once; pages past the end of what
  // was written are never touched.
  void* p = ::mmap(nullptr, options_.max_file_size, PROT_READ, MAP_SHARED, f->fd, 0);
  if (p == MAP_FAILED) {
    if (error) *error = file::errno_message("cannot map chunk file", f->path);
    ::unlink(f->path.c_str());
    return false;
  }
  f->base = static_cast<const std::uint8_t*>(p);
  f->mapped = options_.max_file_size;
  f->size = kMagicBytes;
  f->dirty = true;
  file::sync_dir(dir_, nullptr);
  current_ = f.get();
  files_.push_back(std::move(f));
  return true;
}

const std::uint64_t* ChunkFiles::write(std::uint64_t ref, std::int64_t min_t, std::int64_t max_t,
                                       std::uint32_t bits, std::uint16_t count,
                                       const std::uint64_t* words, std::string* error) {
  const std::size_t n = words_for(bits);
  const std::uint64_t entry = kHeaderBytes + n * 8 + kTrailerBytes;
  std::lock_guard lock(mu_);
  if (!current_ || current_->fd < 0 || current_->size + entry > options_.max_file_size) {
    if (!start_file(error)) {
      ++failures_;
      return nullptr;
    }
  }
  File& f = *current_;
  if (f.size + entry > f.mapped) {  // a chunk larger than a whole file: never, but do not map past
    if (error) *error = "chunk larger than a chunk file";
    ++failures_;
    return nullptr;
  }
  const EntryHeader h{ref, min_t, max_t, bits, count, 0};
  std::uint8_t trailer[kTrailerBytes] = {};
  std::uint32_t crc = wal_crc({reinterpret_cast<const std::uint8_t*>(&h), kHeaderBytes});
  crc = wal_crc({reinterpret_cast<const std::uint8_t*>(words), n * 8}, crc);
  for (int i = 0; i < 4; ++i) trailer[i] = static_cast<std::uint8_t>(crc >> (8 * i));
  iovec iov[3] = {{const_cast<EntryHeader*>(&h), kHeaderBytes},
                  {const_cast<std::uint64_t*>(words), n * 8},
                  {trailer, kTrailerBytes}};
  std::uint64_t done = 0;
  while (done < entry) {
    // Rebuild the vector past what was written (short writes are rare).
    iovec part[3];
    int parts = 0;
    std::uint64_t skip = done;
    for (const iovec& v : iov) {
      if (skip >= v.iov_len) {
        skip -= v.iov_len;
        continue;
      }
      part[parts++] = {static_cast<std::uint8_t*>(v.iov_base) + skip, v.iov_len - skip};
      skip = 0;
    }
    const ssize_t w = ::pwritev(f.fd, part, parts, static_cast<off_t>(f.size + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = ENOSPC;
      if (error) *error = file::errno_message("cannot write chunk file", f.path);
      ++failures_;
      if (::ftruncate(f.fd, static_cast<off_t>(f.size)) != 0) {
        // Cannot undo: leave the file to its torn end and continue in a new one.
        f.dirty = true;
        current_ = nullptr;
      }
      return nullptr;
    }
    done += static_cast<std::uint64_t>(w);
  }
  const auto* out = reinterpret_cast<const std::uint64_t*>(f.base + f.size + kHeaderBytes);
  f.size += entry;
  f.max_t = std::max(f.max_t, max_t);
  f.dirty = true;
  return out;
}

std::size_t ChunkFiles::truncate_before(std::int64_t mint) {
  std::unique_lock unmap(unmap_mu_);
  std::lock_guard lock(mu_);
  std::size_t removed = 0;
  for (auto it = files_.begin(); it != files_.end();) {
    File& f = **it;
    if (&f == current_ || f.max_t >= mint) {
      ++it;
      continue;
    }
    ::unlink(f.path.c_str());
    it = files_.erase(it);
    ++removed;
  }
  if (removed) file::sync_dir(dir_, nullptr);
  return removed;
}

std::optional<ChunkLocation> ChunkFiles::locate(const std::uint64_t* words) const {
  const auto* p = reinterpret_cast<const std::uint8_t*>(words);
  std::lock_guard lock(mu_);
  for (const auto& f : files_) {
    if (f->base && p >= f->base + kMagicBytes + kHeaderBytes && p < f->base + f->size)
      return ChunkLocation{f->index, static_cast<std::uint64_t>(p - f->base)};
  }
  return std::nullopt;
}

const std::uint64_t* ChunkFiles::words_at(ChunkLocation at, std::uint32_t bits) const {
  std::lock_guard lock(mu_);
  auto it = std::lower_bound(
      files_.begin(), files_.end(), at.file,
      [](const std::unique_ptr<File>& f, std::uint32_t i) { return f->index < i; });
  if (it == files_.end() || (*it)->index != at.file || !(*it)->base) return nullptr;
  const File& f = **it;
  if (at.offset % 8 != 0 || at.offset < kMagicBytes + kHeaderBytes ||
      at.offset + words_for(bits) * 8 > f.size)
    return nullptr;
  return reinterpret_cast<const std::uint64_t*>(f.base + at.offset);
}

bool ChunkFiles::sync(std::string* error) {
  std::lock_guard lock(mu_);
  bool ok = true;
  for (auto& f : files_) {
    if (!f->dirty || f->fd < 0) continue;
    if (::fsync(f->fd) != 0) {
      if (ok && error) *error = file::errno_message("cannot fsync chunk file", f->path);
      ok = false;
      continue;
    }
    f->dirty = false;
    if (f.get() != current_) {
      ::close(f->fd);
      f->fd = -1;
    }
  }
  return ok;
}

std::size_t ChunkFiles::files() const {
  std::lock_guard lock(mu_);
  return files_.size();
}

std::uint64_t ChunkFiles::bytes() const {
  std::lock_guard lock(mu_);
  std::uint64_t total = 0;
  for (const auto& f : files_) total += f->size;
  return total;
}

std::uint64_t ChunkFiles::write_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

}  // namespace watch::tsdb
