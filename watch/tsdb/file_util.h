// Small POSIX file helpers shared by the WAL, the chunk files and the
// checkpoint: errors as strings a user can act on, never exceptions.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace watch::tsdb::file {

// "<what> <path>: <strerror(errno)>".
std::string errno_message(const std::string& what, const std::string& path);

// mkdir -p. False and `error` set on failure.
bool make_dirs(const std::string& path, std::string* error);
// fsync of a directory (makes creations, renames and removals in it durable).
bool sync_dir(const std::string& path, std::string* error);
// Writes all of `data` at the file's offset, retrying short writes and EINTR.
bool write_all(int fd, std::span<const std::uint8_t> data, std::string* error,
               const std::string& path);
// Reads a whole file. False and `error` set on failure.
bool read_file(const std::string& path, std::vector<std::uint8_t>& out, std::string* error);
// Names in a directory (not . and ..); empty when it does not exist.
std::vector<std::string> list_dir(const std::string& path);
bool exists(const std::string& path);
// Removes a file or an empty directory; a missing one is not an error.
bool remove(const std::string& path, std::string* error);
// Removes a directory tree.
bool remove_all(const std::string& path, std::string* error);
// Bytes of a regular file, or -1.
std::int64_t size(const std::string& path);

// A read-only mapping of a whole file, for reading it once from start to
// end (replays): no copy, and no heap the size of the file. Movable.
class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile() { unmap(); }
  MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr; }
  MappedFile& operator=(MappedFile&& o) noexcept;
  // False and `error` set when the file cannot be opened or mapped.
  bool map(const std::string& path, std::string* error);
  void unmap();
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

// Little-endian fixed-width encoding into a byte vector, and reading back.
inline void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline void put_u64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace watch::tsdb::file
