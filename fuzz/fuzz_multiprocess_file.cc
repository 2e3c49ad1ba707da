// Fuzz target: the shared file of the multi-process mode
// (firebreak/multiprocess.h), which any process of the service (or anyone
// who can write the file) may leave in any state. The input becomes the
// directory of a slot whose process is dead; the next collect() must read
// it up to the first record that makes no sense, fold what it read into the
// totals, and free the slot, without crashing, hanging or reading outside
// the file.
//
// Properties checked for every input: collect() returns; afterwards the
// damaged slot is free (a second collect() folds nothing more); a merged
// series' labels are never null.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "firebreak/multiprocess.h"

namespace {

constexpr std::uint32_t kSlots = 2;
constexpr std::uint32_t kDirectoryBytes = 4 * 4096;

struct Fixture {
  std::string path;
  std::unique_ptr<firebreak::MultiprocessRegion> region;
  int fd = -1;
  off_t slot_bytes = 0;

  Fixture() {
    char dir[] = "/tmp/fuzz-mp-XXXXXX";
    if (!::mkdtemp(dir)) std::abort();
    path = std::string(dir) + "/m.fbm";
    region = firebreak::MultiprocessRegion::create({.path = path,
                                                    .max_processes = kSlots,
                                                    .slot_mebibytes = 1,
                                                    .directory_bytes = kDirectoryBytes});
    fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    const off_t size = ::lseek(fd, 0, SEEK_END);
    slot_bytes = (size - 4096) / (kSlots + 1);
  }
};

Fixture& fixture() {
  static Fixture* f = new Fixture;  // one file for the whole run
  return *f;
}

// Slot control fields (src/metrics/multiprocess.cc, SlotControl): state at
// 0, pid at 4, directory_used at 16.
void write_at(int fd, off_t at, const void* data, std::size_t n) {
  if (::pwrite(fd, data, n, at) != static_cast<ssize_t>(n)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  const off_t slot = 4096 + 2 * f.slot_bytes;  // slot 2: no process holds its lock
  const std::size_t n = size < kDirectoryBytes ? size : kDirectoryBytes;
  std::vector<char> directory(kDirectoryBytes, 0);
  if (n) std::memcpy(directory.data(), data, n);
  write_at(f.fd, slot + 4096, directory.data(), directory.size());
  const std::uint32_t live = 1;
  const std::int32_t pid = 1;
  // The published length may claim more than was written, or more than the
  // directory holds: the reader must cap it.
  std::uint64_t used = n;
  if (size > 8) std::memcpy(&used, data + size - 8, sizeof used);
  if (used % 3 == 0) used = n;
  write_at(f.fd, slot, &live, sizeof live);
  write_at(f.fd, slot + 4, &pid, sizeof pid);
  write_at(f.fd, slot + 16, &used, sizeof used);

  std::vector<firebreak::FamilySnapshot> merged;
  f.region->collect(merged);
  for (const auto& family : merged)
    for (const auto& point : family.points)
      if (!point.labels) std::abort();
  std::uint32_t state = 7;
  if (::pread(f.fd, &state, sizeof state, slot) != sizeof state || state != 0) {
    std::fprintf(stderr, "property violated: the dead slot was not freed (state %u)\n", state);
    std::abort();
  }
  return 0;
}
