#include "firebreak/multiprocess.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "firebreak/process_metrics.h"

namespace firebreak {

namespace {

using detail::Cell;
using detail::kShards;
using detail::kShardStride;

constexpr char kMagic[8] = {'F', 'B', 'M', 'P', 'R', 'O', 'C', '1'};
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kChunkBytes = std::uint64_t{kShards} * kShardStride * sizeof(Cell);
// Lock bytes lie far past the end of the file (record locks may): byte
// kLockBase guards folding and claiming, kLockBase + i is slot i's owner.
constexpr off_t kLockBase = off_t{1} << 40;

enum SlotState : std::uint32_t { kFree = 0, kLive = 1, kFolding = 2 };
enum RecordKind : std::uint16_t { kFamilyRecord = 1, kSeriesRecord = 2 };

struct FileHeader {
  char magic[8];
  std::uint32_t slots;  // process slots, slot 0 not counted
  std::uint32_t chunks;
  std::uint64_t directory_bytes;
  std::atomic<std::uint64_t> exited;           // processes folded into slot 0
  std::atomic<std::uint64_t> exited_cpu_bits;  // their CPU seconds as last seen (double)
};

struct SlotControl {
  std::atomic<std::uint32_t> state;
  std::atomic<std::int32_t> pid;
  std::atomic<std::uint32_t> ready;
  std::atomic<std::uint32_t> chunks_used;
  std::atomic<std::uint64_t> directory_used;
  std::atomic<std::uint64_t> reported_ns;    // CLOCK_MONOTONIC, shared by all processes
  std::atomic<std::uint64_t> fold_progress;  // series records already added into slot 0
  std::atomic<std::uint64_t> last_cpu_bits;  // CPU seconds seen at the last scrape (double)
  std::atomic<std::uint64_t> cells_used;     // slot 0: cells handed out
  std::atomic<std::uint32_t> full;           // a series did not fit
  std::atomic<std::uint32_t> ever_ready;     // has reported ready at least once
};
static_assert(sizeof(FileHeader) <= kPage && sizeof(SlotControl) <= kPage);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

std::uint64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

double as_double(std::uint64_t bits) {
  return std::bit_cast<double>(bits);
}
std::uint64_t as_bits(double v) {
  return std::bit_cast<std::uint64_t>(v);
}

void add_double(std::atomic<std::uint64_t>& cell, double delta) {
  std::uint64_t old = cell.load(std::memory_order_relaxed);
  while (!cell.compare_exchange_weak(old, as_bits(as_double(old) + delta),
                                     std::memory_order_relaxed)) {
  }
}

std::string errno_text() {
  return std::strerror(errno);
}

// Open-file-description locks: owned by the open file, not the process, so a
// second open of the file in the same process does not share or drop them,
// and they go when the last descriptor of that open file closes.
struct flock one_byte(short type, off_t at) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = at;
  fl.l_len = 1;
  return fl;
}

bool lock_byte(int fd, off_t at, bool wait) {
  struct flock fl = one_byte(F_WRLCK, at);
  for (;;) {
    if (::fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0) return true;
    if (errno != EINTR) return false;
  }
}

void unlock_byte(int fd, off_t at) {
  struct flock fl = one_byte(F_UNLCK, at);
  ::fcntl(fd, F_OFD_SETLK, &fl);
}

// Whether another open file holds the byte.
bool byte_held(int fd, off_t at) {
  struct flock fl = one_byte(F_WRLCK, at);
  if (::fcntl(fd, F_OFD_GETLK, &fl) != 0) return true;  // unknown: treat as alive
  return fl.l_type != F_UNLCK;
}

// ---------------------------------------------------------------------------
// Directory records. Each: u32 size (a multiple of 8), u16 kind, u16 zero, then
//   family: u32 id, u8 type, u8 combine, u16 zero, u32 bound count, u32 zero,
//           f64 bounds..., str name, str help, str unit
//   series: u32 family id, u32 label count, u64 cell offset (bytes from the
//           slot's start), f64 created, (str name, str value)...
// where str is u32 length + bytes. Appended, then published by advancing
// the slot's directory_used (release); readers read up to it (acquire).

class RecordWriter {
 public:
  template <class T>
  void put(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put(std::string_view s) {
    put(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  std::string finish(RecordKind kind) {
    std::string r(8, '\0');
    r += out_;
    r.resize((r.size() + 7) & ~std::size_t{7}, '\0');
    const auto size = static_cast<std::uint32_t>(r.size());
    const auto k = static_cast<std::uint16_t>(kind);
    std::memcpy(r.data(), &size, 4);
    std::memcpy(r.data() + 4, &k, 2);
    return r;
  }

 private:
  std::string out_;
};

class RecordReader {
 public:
  RecordReader(const char* p, std::size_t n) : p_(p), n_(n) {}
  template <class T>
  bool get(T& v) {
    if (n_ - at_ < sizeof v) return false;
    std::memcpy(&v, p_ + at_, sizeof v);
    at_ += sizeof v;
    return true;
  }
  bool get(std::string& s) {
    std::uint32_t len = 0;
    if (!get(len) || n_ - at_ < len) return false;
    s.assign(p_ + at_, len);
    at_ += len;
    return true;
  }

 private:
  const char* p_;
  std::size_t n_;
  std::size_t at_ = 0;
};

std::string family_record(std::uint32_t id, MetricType type, ProcessCombine combine,
                          const std::vector<double>& bounds, std::string_view name,
                          std::string_view help, std::string_view unit) {
  RecordWriter w;
  w.put(id);
  w.put(static_cast<std::uint8_t>(type));
  w.put(static_cast<std::uint8_t>(combine));
  w.put(std::uint16_t{0});
  w.put(static_cast<std::uint32_t>(bounds.size()));
  w.put(std::uint32_t{0});
  for (double b : bounds) w.put(b);
  w.put(name);
  w.put(help);
  w.put(unit);
  return w.finish(kFamilyRecord);
}

std::string series_record(std::uint32_t family, std::uint64_t offset, double created,
                          const Labels& labels) {
  RecordWriter w;
  w.put(family);
  w.put(static_cast<std::uint32_t>(labels.size()));
  w.put(offset);
  w.put(created);
  for (const auto& [name, value] : labels) {
    w.put(std::string_view(name));
    w.put(std::string_view(value));
  }
  return w.finish(kSeriesRecord);
}

struct FamilyInfo {
  MetricType type = MetricType::kCounter;
  ProcessCombine combine = ProcessCombine::kLiveSum;
  std::vector<double> bounds;
  std::string name, help, unit;

  std::uint32_t cells() const {
    return type == MetricType::kHistogram ? static_cast<std::uint32_t>(bounds.size() + 2)
           : type == MetricType::kCounter ? 2
                                          : 1;
  }
};

struct SeriesInfo {
  std::uint32_t family = 0;
  std::uint64_t offset = 0;
  double created = 0;
  Labels labels;
};

// A slot's directory, read up to what was published. Stops at the first
// record that does not make sense (a damaged file never sends a reader out
// of the slot or into a loop).
struct Directory {
  std::unordered_map<std::uint32_t, FamilyInfo> families;
  std::vector<SeriesInfo> series;
};

Directory read_directory(const char* dir, std::uint64_t used, std::uint64_t cells_begin,
                         std::uint64_t cells_end) {
  Directory d;
  std::uint64_t at = 0;
  while (used - at >= 8) {
    std::uint32_t size = 0;
    std::uint16_t kind = 0;
    std::memcpy(&size, dir + at, 4);
    std::memcpy(&kind, dir + at + 4, 2);
    if (size < 8 || size % 8 != 0 || size > used - at) break;
    RecordReader r(dir + at + 8, size - 8);
    at += size;
    if (kind == kFamilyRecord) {
      std::uint32_t id = 0, nbounds = 0, zero32 = 0;
      std::uint8_t type = 0, combine = 0;
      std::uint16_t zero16 = 0;
      FamilyInfo f;
      if (!r.get(id) || !r.get(type) || !r.get(combine) || !r.get(zero16) || !r.get(nbounds) ||
          !r.get(zero32) || type > 2 || combine > 5 || nbounds > kShardStride - 2)
        break;
      f.type = static_cast<MetricType>(type);
      f.combine = static_cast<ProcessCombine>(combine);
      f.bounds.resize(nbounds);
      bool ok = true;
      for (double& b : f.bounds) ok = ok && r.get(b);
      if (!ok || !r.get(f.name) || !r.get(f.help) || !r.get(f.unit)) break;
      d.families[id] = std::move(f);
    } else if (kind == kSeriesRecord) {
      SeriesInfo s;
      std::uint32_t nlabels = 0;
      if (!r.get(s.family) || !r.get(nlabels) || !r.get(s.offset) || !r.get(s.created)) break;
      const auto fam = d.families.find(s.family);
      if (fam == d.families.end()) break;
      // The cells must lie in the slot's cell area, within one shard's run
      // of a chunk (as CellArena hands them out).
      const std::uint64_t cells = fam->second.cells();
      if (s.offset < cells_begin || s.offset >= cells_end || s.offset % sizeof(Cell) != 0 ||
          ((s.offset - cells_begin) % kChunkBytes) / sizeof(Cell) + cells > kShardStride)
        break;
      bool ok = nlabels <= 1024;
      s.labels.resize(ok ? nlabels : 0);
      for (auto& [name, value] : s.labels) ok = ok && r.get(name) && r.get(value);
      if (!ok) break;
      d.series.push_back(std::move(s));
    } else {
      break;
    }
  }
  return d;
}

// What one series holds, summed over the shards.
struct SeriesValue {
  double value = 0;                    // counter total or gauge
  std::vector<std::uint64_t> buckets;  // histograms, not cumulative, +Inf last
  double sum = 0;
};

SeriesValue read_value(const FamilyInfo& f, const Cell* cells) {
  SeriesValue v;
  switch (f.type) {
    case MetricType::kCounter:
      v.value = static_cast<double>(detail::shard_sum(cells)) + detail::shard_sum_double(cells + 1);
      break;
    case MetricType::kGauge:
      v.value = as_double(cells[0].load(std::memory_order_relaxed));
      break;
    case MetricType::kHistogram:
      v.buckets.resize(f.bounds.size() + 1);
      for (std::size_t i = 0; i < v.buckets.size(); ++i) {
        v.buckets[i] = detail::shard_sum(cells + i);
        v.value += static_cast<double>(v.buckets[i]);
      }
      v.sum = detail::shard_sum_double(cells + f.bounds.size() + 1);
      break;
  }
  return v;
}

std::string series_key(const std::string& family, const Labels& labels) {
  std::string key = family;
  for (const auto& [n, v] : labels) {
    key += '\xff';
    key += n;
    key += '\xfe';
    key += v;
  }
  return key;
}

// Every region a process has joined, for the fork handlers.
std::mutex& joined_mu() {
  static auto* mu = new std::mutex;
  return *mu;
}
std::vector<MultiprocessRegion::State*>& joined_regions();

}  // namespace

// ---------------------------------------------------------------------------

struct MultiprocessRegion::State : detail::SlotBacking {
  std::string path;
  int fd = -1;
  char* map = nullptr;  // the whole file
  std::size_t map_bytes = 0;
  std::uint32_t slots = 0;
  std::uint32_t chunks = 0;
  std::uint64_t directory_bytes = 0;
  std::uint64_t slot_bytes = 0;

  // Folding and claiming: one thread of this process at a time, then one
  // process (the lock byte).
  std::mutex fold_mu;

  // This process's slot, mapped a second time at an address of its own that
  // its handles point into (0 = not joined).
  std::mutex publish_mu;  // guards own, own_map, family_ids, the directory writes
  std::uint32_t own = 0;
  char* own_map = nullptr;
  bool detached = false;  // a forked child that found no slot: records privately
  std::unordered_map<const detail::FamilyCore*, std::uint32_t> family_ids;

  FileHeader& header() const { return *reinterpret_cast<FileHeader*>(map); }
  char* slot(std::uint32_t i) const { return map + kPage + i * slot_bytes; }
  SlotControl& control(std::uint32_t i) const { return *reinterpret_cast<SlotControl*>(slot(i)); }
  std::uint64_t cells_begin() const { return kPage + directory_bytes; }
  std::uint64_t cells_end() const { return cells_begin() + std::uint64_t{chunks} * kChunkBytes; }

  // --- SlotBacking, for this process's registry -----------------------------

  Cell* chunk() override {
    std::lock_guard lock(publish_mu);
    if (own == 0) return nullptr;
    SlotControl& c = *reinterpret_cast<SlotControl*>(own_map);
    const std::uint32_t used = c.chunks_used.load(std::memory_order_relaxed);
    if (used >= chunks) {
      c.full.store(1, std::memory_order_relaxed);
      return nullptr;
    }
    c.chunks_used.store(used + 1, std::memory_order_release);
    return reinterpret_cast<Cell*>(own_map + cells_begin() + used * kChunkBytes);
  }

  void published(const detail::FamilyCore& family, const detail::Series& series) override {
    std::lock_guard lock(publish_mu);
    if (own == 0) return;
    SlotControl& c = *reinterpret_cast<SlotControl*>(own_map);
    const auto offset = reinterpret_cast<const char*>(series.cells) - own_map;
    if (series.cells == nullptr || offset < static_cast<std::ptrdiff_t>(cells_begin()) ||
        offset >= static_cast<std::ptrdiff_t>(cells_end())) {
      c.full.store(1, std::memory_order_relaxed);  // its cells came from the heap
      return;
    }
    std::string records;
    auto [it, added] = family_ids.try_emplace(&family, family_ids.size() + 1);
    if (added) {
      records = family_record(it->second, family.type(), family.spec().combine, family.bounds(),
                              family.spec().name, family.spec().help, family.spec().unit);
    }
    records += series_record(it->second, static_cast<std::uint64_t>(offset), series.created,
                             *series.labels);
    const std::uint64_t used = c.directory_used.load(std::memory_order_relaxed);
    if (records.size() > directory_bytes - used) {
      if (added) family_ids.erase(it);
      c.full.store(1, std::memory_order_relaxed);
      return;
    }
    std::memcpy(own_map + kPage + used, records.data(), records.size());
    c.directory_used.store(used + records.size(), std::memory_order_release);
  }

  // --- folding and claiming (fold_mu and the fold byte held) ----------------

  Directory directory(std::uint32_t i) const {
    const std::uint64_t used = std::min<std::uint64_t>(
        control(i).directory_used.load(std::memory_order_acquire), directory_bytes);
    return read_directory(slot(i) + kPage, used, cells_begin(), cells_end());
  }

  bool owner_alive(std::uint32_t i) const {
    return i == own || byte_held(fd, kLockBase + static_cast<off_t>(i));
  }

  // Slot 0's cells for a series, created on first use. Its cells are laid
  // out as in any slot; only shard 0 is written.
  Cell* totals_cells(const FamilyInfo& f, const Labels& labels, double created,
                     std::unordered_map<std::string, Cell*>& index,
                     std::unordered_map<std::string, std::uint32_t>& family_ids0) {
    const std::string key = series_key(f.name, labels);
    if (auto it = index.find(key); it != index.end()) return it->second;
    SlotControl& c0 = control(0);
    // Cells: a bump allocator that never lets a series cross a chunk.
    std::uint64_t used = c0.cells_used.load(std::memory_order_relaxed);
    const std::uint64_t in_chunk = used % kShardStride;
    if (in_chunk + f.cells() > kShardStride) used += kShardStride - in_chunk;
    const std::uint64_t chunk = used / kShardStride;
    if (chunk >= chunks) return nullptr;
    const std::uint64_t offset =
        cells_begin() + chunk * kChunkBytes + (used % kShardStride) * sizeof(Cell);

    std::string records;
    auto [fam, added] = family_ids0.try_emplace(f.name, family_ids0.size() + 1);
    if (added)
      records = family_record(fam->second, f.type, f.combine, f.bounds, f.name, f.help, f.unit);
    records += series_record(fam->second, offset, created, labels);
    const std::uint64_t dir_used = c0.directory_used.load(std::memory_order_relaxed);
    if (records.size() > directory_bytes - dir_used) {
      if (added) family_ids0.erase(fam);
      c0.full.store(1, std::memory_order_relaxed);
      return nullptr;
    }
    std::memcpy(slot(0) + kPage + dir_used, records.data(), records.size());
    c0.cells_used.store(used + f.cells(), std::memory_order_relaxed);
    c0.directory_used.store(dir_used + records.size(), std::memory_order_release);
    Cell* cells = reinterpret_cast<Cell*>(slot(0) + offset);
    index.emplace(key, cells);
    return cells;
  }

  // Adds dead slot i into slot 0 and frees it. Resumable: a folder that dies
  // half-way leaves fold_progress, and the next one goes on from there.
  void fold(std::uint32_t i) {
    SlotControl& c = control(i);
    c.state.store(kFolding, std::memory_order_relaxed);
    const Directory dead = directory(i);
    const Directory totals = directory(0);
    std::unordered_map<std::string, Cell*> index;
    std::unordered_map<std::string, std::uint32_t> family_ids0;
    for (const auto& [id, f] : totals.families) family_ids0.emplace(f.name, id);
    for (const SeriesInfo& s : totals.series) {
      index.emplace(series_key(totals.families.at(s.family).name, s.labels),
                    reinterpret_cast<Cell*>(slot(0) + s.offset));
    }
    for (std::uint64_t k = c.fold_progress.load(std::memory_order_relaxed); k < dead.series.size();
         ++k) {
      const SeriesInfo& s = dead.series[k];
      const FamilyInfo& f = dead.families.at(s.family);
      const bool kept = f.type != MetricType::kGauge || f.combine == ProcessCombine::kSum;
      if (kept) {
        const SeriesValue v = read_value(f, reinterpret_cast<const Cell*>(slot(i) + s.offset));
        if (Cell* t = totals_cells(f, s.labels, s.created, index, family_ids0)) {
          switch (f.type) {
            case MetricType::kCounter:
            case MetricType::kGauge:
              add_double(t[f.type == MetricType::kCounter ? 1 : 0], v.value);
              break;
            case MetricType::kHistogram:
              for (std::size_t b = 0; b < v.buckets.size(); ++b)
                t[b].fetch_add(v.buckets[b], std::memory_order_relaxed);
              add_double(t[v.buckets.size()], v.sum);
              break;
          }
        }
      }
      c.fold_progress.store(k + 1, std::memory_order_relaxed);
    }
    add_double(header().exited_cpu_bits, as_double(c.last_cpu_bits.load()));
    header().exited.fetch_add(1, std::memory_order_relaxed);
    free_slot(i);
  }

  void free_slot(std::uint32_t i) {
    // Zero the directory and cells; punching a hole also gives the memory back.
    const off_t begin = static_cast<off_t>(kPage + i * slot_bytes + kPage);
    const off_t len = static_cast<off_t>(slot_bytes - kPage);
    if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, begin, len) != 0)
      std::memset(slot(i) + kPage, 0, static_cast<std::size_t>(len));
    SlotControl& c = control(i);
    c.pid.store(0);
    c.ready.store(0);
    c.chunks_used.store(0);
    c.directory_used.store(0);
    c.reported_ns.store(0);
    c.fold_progress.store(0);
    c.last_cpu_bits.store(0);
    c.full.store(0);
    c.ever_ready.store(0);
    c.state.store(kFree, std::memory_order_release);
  }

  void fold_dead() {
    for (std::uint32_t i = 1; i <= slots; ++i) {
      if (control(i).state.load(std::memory_order_acquire) != kFree && !owner_alive(i)) fold(i);
    }
  }

  // A free slot for this process, locked; 0 when there is none.
  std::uint32_t claim() {
    fold_dead();
    for (std::uint32_t i = 1; i <= slots; ++i) {
      if (control(i).state.load(std::memory_order_acquire) != kFree) continue;
      if (!lock_byte(fd, kLockBase + static_cast<off_t>(i), false)) continue;
      SlotControl& c = control(i);
      c.pid.store(static_cast<std::int32_t>(::getpid()));
      c.reported_ns.store(monotonic_ns());
      c.state.store(kLive, std::memory_order_release);
      return i;
    }
    return 0;
  }

  template <class F>
  auto folding(F&& f) {
    std::lock_guard lock(fold_mu);
    lock_byte(fd, kLockBase, true);
    struct Unlock {
      int fd;
      ~Unlock() { unlock_byte(fd, kLockBase); }
    } unlock{fd};
    return f();
  }

  // Maps slot i over own_map (or at a new address when own_map is null).
  char* map_own(std::uint32_t i) {
    void* p =
        ::mmap(own_map, slot_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | (own_map ? MAP_FIXED : 0),
               fd, static_cast<off_t>(kPage + i * slot_bytes));
    return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
  }

  // In a forked child (one thread, the locks the parent took in prepare
  // held): a slot of its own, with the parent's directory and zero cells.
  void after_fork_in_child() {
    if (own == 0) return;
    // The parent's open file is shared with us, and its locks with it: open
    // the file again, so that our locks are ours and die with us.
    const int fresh = ::open(fmt::format("/proc/self/fd/{}", fd).c_str(), O_RDWR | O_CLOEXEC);
    if (fresh >= 0) {
      ::close(fd);
      fd = fresh;
    }
    const std::uint32_t parent = own;
    const std::uint32_t mine = fresh >= 0 ? folding([&] { return claim(); }) : 0;
    if (mine == 0) {
      // No slot: record into private zeroed memory rather than the parent's slot.
      ::mmap(own_map, slot_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
             -1, 0);
      own = 0;
      detached = true;
      return;
    }
    SlotControl& from = control(parent);
    SlotControl& to = control(mine);
    const std::uint64_t used = from.directory_used.load(std::memory_order_acquire);
    std::memcpy(slot(mine) + kPage, slot(parent) + kPage, used);
    to.chunks_used.store(from.chunks_used.load());
    to.directory_used.store(used, std::memory_order_release);
    map_own(mine);
    own = mine;
  }

  ~State() override {
    if (own_map) ::munmap(own_map, slot_bytes);
    if (map) ::munmap(map, map_bytes);
    if (fd >= 0) ::close(fd);  // drops our slot's lock: the next reader folds it
  }
};

namespace {

std::vector<MultiprocessRegion::State*>& joined_regions() {
  static auto* v = new std::vector<MultiprocessRegion::State*>;
  return *v;
}

// fork(): hold every joined region's locks across it, so that the child
// copies a consistent directory and no fold is half-done in its copy.
void prepare_fork() {
  joined_mu().lock();
  for (auto* s : joined_regions()) {
    s->fold_mu.lock();
    s->publish_mu.lock();
  }
}
void parent_after_fork() {
  for (auto* s : joined_regions()) {
    s->publish_mu.unlock();
    s->fold_mu.unlock();
  }
  joined_mu().unlock();
}
void child_after_fork() {
  for (auto* s : joined_regions()) {
    s->publish_mu.unlock();
    s->fold_mu.unlock();
    s->after_fork_in_child();
  }
  joined_mu().unlock();
}

void map_file(MultiprocessRegion::State& s) {
  s.slot_bytes = kPage + s.directory_bytes + std::uint64_t{s.chunks} * kChunkBytes;
  s.map_bytes = kPage + (std::uint64_t{s.slots} + 1) * s.slot_bytes;
  void* p = ::mmap(nullptr, s.map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, s.fd, 0);
  if (p == MAP_FAILED)
    throw MultiprocessError(fmt::format("cannot map {}: {}", s.path, errno_text()));
  s.map = static_cast<char*>(p);
}

}  // namespace

MultiprocessRegion::MultiprocessRegion(std::unique_ptr<State> state) : state_(std::move(state)) {}

MultiprocessRegion::~MultiprocessRegion() {
  std::lock_guard lock(joined_mu());
  auto& v = joined_regions();
  v.erase(std::remove(v.begin(), v.end(), state_.get()), v.end());
}

std::unique_ptr<MultiprocessRegion> MultiprocessRegion::create(const MultiprocessOptions& o) {
  if (o.path.empty()) throw MultiprocessError("multi-process mode: no file path given");
  if (o.max_processes == 0 || o.max_processes > 4096)
    throw MultiprocessError("multi-process mode: max_processes must be 1..4096");
  if (o.slot_mebibytes == 0 || o.slot_mebibytes > 1024)
    throw MultiprocessError("multi-process mode: slot_mebibytes must be 1..1024");
  if (o.directory_bytes < kPage || o.directory_bytes % kPage != 0 || o.directory_bytes > (1u << 30))
    throw MultiprocessError(
        "multi-process mode: directory_bytes must be a multiple of 4096, up to 1 GiB");
  auto s = std::make_unique<State>();
  s->path = o.path;
  s->slots = o.max_processes;
  s->chunks = o.slot_mebibytes;
  s->directory_bytes = o.directory_bytes;
  // Built under a temporary name and renamed into place: a process opening
  // the path sees the old file or the whole new one, never half of it.
  const std::string tmp = fmt::format("{}.{}.tmp", o.path, ::getpid());
  s->fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (s->fd < 0) throw MultiprocessError(fmt::format("cannot create {}: {}", tmp, errno_text()));
  const std::uint64_t size =
      kPage + (std::uint64_t{s->slots} + 1) *
                  (kPage + s->directory_bytes + std::uint64_t{s->chunks} * kChunkBytes);
  if (::ftruncate(s->fd, static_cast<off_t>(size)) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw MultiprocessError(fmt::format("cannot size {}: {}", tmp, why));
  }
  map_file(*s);
  FileHeader& h = s->header();
  h.slots = s->slots;
  h.chunks = s->chunks;
  h.directory_bytes = s->directory_bytes;
  std::memcpy(h.magic, kMagic, sizeof kMagic);  // last: marks the file complete
  if (::rename(tmp.c_str(), o.path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw MultiprocessError(fmt::format("cannot rename {} to {}: {}", tmp, o.path, why));
  }
  return std::unique_ptr<MultiprocessRegion>(new MultiprocessRegion(std::move(s)));
}

std::unique_ptr<MultiprocessRegion> MultiprocessRegion::open(const std::string& path) {
  auto s = std::make_unique<State>();
  s->path = path;
  s->fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (s->fd < 0)
    throw MultiprocessError(fmt::format(
        "cannot open {}: {} (the serving process creates it; start it first)", path, errno_text()));
  struct stat st {};
  FileHeader h{};
  if (::fstat(s->fd, &st) != 0 || st.st_size < static_cast<off_t>(kPage) ||
      ::pread(s->fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h) ||
      std::memcmp(h.magic, kMagic, sizeof kMagic) != 0)
    throw MultiprocessError(fmt::format("{} is not a Firebreak multi-process file", path));
  s->slots = h.slots;
  s->chunks = h.chunks;
  s->directory_bytes = h.directory_bytes;
  const std::uint64_t slot_bytes =
      kPage + s->directory_bytes + std::uint64_t{s->chunks} * kChunkBytes;
  if (s->slots == 0 || s->slots > 4096 || s->chunks == 0 || s->chunks > 1024 ||
      s->directory_bytes % kPage != 0 ||
      static_cast<std::uint64_t>(st.st_size) != kPage + (std::uint64_t{s->slots} + 1) * slot_bytes)
    throw MultiprocessError(fmt::format("{}: damaged header or size", path));
  map_file(*s);
  return std::unique_ptr<MultiprocessRegion>(new MultiprocessRegion(std::move(s)));
}

const std::string& MultiprocessRegion::path() const {
  return state_->path;
}

detail::SlotBacking& MultiprocessRegion::join() {
  State& s = *state_;
  {
    std::lock_guard lock(s.publish_mu);
    if (s.own != 0) return s;
  }
  const std::uint32_t i = s.folding([&] { return s.claim(); });
  if (i == 0) {
    throw MultiprocessError(
        fmt::format("{}: all {} process slots are held by live processes (raise max_processes)",
                    s.path, s.slots));
  }
  char* own_map = s.map_own(i);
  if (!own_map) {
    const std::string why = errno_text();
    s.folding([&] {
      unlock_byte(s.fd, kLockBase + static_cast<off_t>(i));
      s.free_slot(i);
      return 0;
    });
    throw MultiprocessError(fmt::format("cannot map a slot of {}: {}", s.path, why));
  }
  {
    std::lock_guard lock(s.publish_mu);
    s.own_map = own_map;
    s.own = i;
  }
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(prepare_fork, parent_after_fork, child_after_fork); });
  std::lock_guard lock(joined_mu());
  joined_regions().push_back(&s);
  return s;
}

bool MultiprocessRegion::joined() const {
  std::lock_guard lock(state_->publish_mu);
  return state_->own != 0;
}

bool MultiprocessRegion::slot_full() const {
  std::lock_guard lock(state_->publish_mu);
  return state_->detached ||
         (state_->own != 0 && state_->control(state_->own).full.load(std::memory_order_relaxed));
}

void MultiprocessRegion::report_ready(bool ready) {
  std::lock_guard lock(state_->publish_mu);
  if (state_->own == 0) return;
  SlotControl& c = state_->control(state_->own);
  c.ready.store(ready ? 1 : 0, std::memory_order_relaxed);
  if (ready) c.ever_ready.store(1, std::memory_order_relaxed);
  c.reported_ns.store(monotonic_ns(), std::memory_order_release);
}

std::vector<MultiprocessMember> MultiprocessRegion::members(double stale_after_seconds) {
  State& s = *state_;
  return s.folding([&] {
    s.fold_dead();
    std::vector<MultiprocessMember> out;
    const std::uint64_t now = monotonic_ns();
    for (std::uint32_t i = 1; i <= s.slots; ++i) {
      const SlotControl& c = s.control(i);
      if (c.state.load(std::memory_order_acquire) != kLive || i == s.own) continue;
      const std::uint64_t at = c.reported_ns.load(std::memory_order_acquire);
      const double age = now > at ? static_cast<double>(now - at) / 1e9 : 0;
      out.push_back(
          {.pid = c.pid.load(),
           .ready = c.ready.load(std::memory_order_relaxed) != 0 && age <= stale_after_seconds,
           .last_report_age_seconds = age,
           .starting = c.ever_ready.load(std::memory_order_relaxed) == 0});
    }
    return out;
  });
}

namespace {

struct MergedFamily {
  FamilySnapshot snapshot;
  std::map<Labels, std::size_t> points;  // labels -> index in snapshot.points
  std::vector<bool> has_value;           // gauges under max/min: seen yet
};

}  // namespace

void MultiprocessRegion::collect(std::vector<FamilySnapshot>& out) {
  State& s = *state_;
  std::map<std::string, MergedFamily> merged;
  s.folding([&] {
    s.fold_dead();
    for (std::uint32_t i = 0; i <= s.slots; ++i) {
      const SlotControl& c = s.control(i);
      if (i != 0 && c.state.load(std::memory_order_acquire) != kLive) continue;
      const pid_t pid = c.pid.load();
      const Directory d = s.directory(i);
      for (const SeriesInfo& series : d.series) {
        const FamilyInfo& f = d.families.at(series.family);
        const bool gauge = f.type == MetricType::kGauge;
        if (i == 0 && gauge && f.combine != ProcessCombine::kSum) continue;
        MergedFamily& m = merged[f.name];
        if (m.snapshot.name.empty()) {
          m.snapshot = {
              .name = f.name, .help = f.help, .unit = f.unit, .type = f.type, .bounds = f.bounds};
        } else if (m.snapshot.type != f.type || m.snapshot.bounds != f.bounds) {
          continue;  // processes disagree on the family: the first one seen wins
        }
        Labels labels = series.labels;
        ProcessCombine combine = f.combine;
        if (gauge && combine == ProcessCombine::kServing) {
          if (s.own == 0)
            combine = ProcessCombine::kMax;  // no serving slot here
          else if (i != s.own)
            continue;
        }
        if (gauge && combine == ProcessCombine::kPerPid)
          labels.emplace_back("pid", std::to_string(pid));
        auto [at, added] = m.points.try_emplace(labels, m.snapshot.points.size());
        if (added) {
          MetricPoint& p = m.snapshot.points.emplace_back();
          p.labels = std::make_shared<const Labels>(std::move(labels));
          p.created = series.created;
          if (f.type == MetricType::kHistogram) p.bucket_counts.assign(f.bounds.size() + 1, 0);
          m.has_value.push_back(false);
        }
        MetricPoint& p = m.snapshot.points[at->second];
        const SeriesValue v =
            read_value(f, reinterpret_cast<const Cell*>(s.slot(i) + series.offset));
        if (series.created < p.created || std::isnan(p.created)) p.created = series.created;
        const bool first = !m.has_value[at->second];
        m.has_value[at->second] = true;
        if (gauge && combine == ProcessCombine::kMax) {
          p.value = first ? v.value : std::max(p.value, v.value);
        } else if (gauge && combine == ProcessCombine::kMin) {
          p.value = first ? v.value : std::min(p.value, v.value);
        } else {
          p.value += v.value;
          for (std::size_t b = 0; b < v.buckets.size(); ++b) p.bucket_counts[b] += v.buckets[b];
          p.sum += v.sum;
        }
      }
    }
    return 0;
  });
  for (auto& [name, m] : merged) {
    FamilySnapshot& f = m.snapshot;
    if (f.type == MetricType::kGauge) {
      for (MetricPoint& p : f.points) p.created = std::numeric_limits<double>::quiet_NaN();
    }
    if (f.type == MetricType::kHistogram) {
      for (MetricPoint& p : f.points) {
        for (std::size_t b = 1; b < p.bucket_counts.size(); ++b)
          p.bucket_counts[b] += p.bucket_counts[b - 1];
      }
    }
    std::sort(f.points.begin(), f.points.end(),
              [](const MetricPoint& a, const MetricPoint& b) { return *a.labels < *b.labels; });
    out.push_back(std::move(f));
  }
}

void MultiprocessRegion::collect_processes(std::vector<FamilySnapshot>& out,
                                           const std::vector<pid_t>& also, pid_t start_pid) {
  State& s = *state_;
  struct Live {
    pid_t pid;
    std::uint32_t slot;  // 0: not a slot holder
  };
  std::vector<Live> live;
  double exited_cpu = 0;
  std::uint64_t exited = 0, full = 0;
  s.folding([&] {
    s.fold_dead();
    for (std::uint32_t i = 1; i <= s.slots; ++i) {
      const SlotControl& c = s.control(i);
      if (c.state.load(std::memory_order_acquire) != kLive) continue;
      live.push_back({c.pid.load(), i});
      if (c.full.load(std::memory_order_relaxed)) ++full;
    }
    exited_cpu = as_double(s.header().exited_cpu_bits.load());
    exited = s.header().exited.load();
    return 0;
  });
  for (pid_t pid : also) {
    if (std::none_of(live.begin(), live.end(), [&](const Live& l) { return l.pid == pid; }))
      live.push_back({pid, 0});
  }

  const auto no_labels = std::make_shared<const Labels>();
  auto family = [](const char* name, const char* help, const char* unit, MetricType type) {
    return FamilySnapshot{.name = name, .help = help, .unit = unit, .type = type};
  };
  FamilySnapshot cpu =
      family("process_cpu_seconds", "Total user and system CPU time spent in seconds.", "seconds",
             MetricType::kCounter);
  FamilySnapshot rss = family("process_resident_memory_bytes", "Resident memory size in bytes.",
                              "bytes", MetricType::kGauge);
  FamilySnapshot vsz = family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                              "bytes", MetricType::kGauge);
  FamilySnapshot start =
      family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
             "seconds", MetricType::kGauge);
  FamilySnapshot wcpu =
      family("process_worker_cpu_seconds", "CPU time of each process of the service, in seconds.",
             "seconds", MetricType::kCounter);
  FamilySnapshot wrss = family("process_worker_resident_memory_bytes",
                               "Resident memory of each process of the service, in bytes.", "bytes",
                               MetricType::kGauge);
  FamilySnapshot wstart =
      family("process_worker_start_time_seconds",
             "Start time of each process of the service since unix epoch in seconds.", "seconds",
             MetricType::kGauge);
  double cpu_total = exited_cpu, rss_total = 0, vsz_total = 0;
  std::size_t recording = 0;
  for (const Live& l : live) {
    recording += l.slot != 0;
    const std::optional<ProcessSample> sample = sample_process(l.pid);
    if (!sample) continue;
    if (l.slot != 0) {
      s.control(l.slot).last_cpu_bits.store(as_bits(sample->cpu_seconds),
                                            std::memory_order_relaxed);
    }
    cpu_total += sample->cpu_seconds;
    rss_total += sample->resident_bytes;
    vsz_total += sample->virtual_bytes;
    const auto labels = std::make_shared<const Labels>(Labels{{"pid", std::to_string(l.pid)}});
    wcpu.points.push_back({.labels = labels, .value = sample->cpu_seconds});
    wrss.points.push_back({.labels = labels, .value = sample->resident_bytes});
    if (sample->start_time_seconds) {
      wstart.points.push_back({.labels = labels, .value = *sample->start_time_seconds});
      if (l.pid == start_pid)
        start.points.push_back({.labels = no_labels, .value = *sample->start_time_seconds});
    }
  }
  cpu.points.push_back({.labels = no_labels, .value = cpu_total});
  rss.points.push_back({.labels = no_labels, .value = rss_total});
  vsz.points.push_back({.labels = no_labels, .value = vsz_total});
  FamilySnapshot processes =
      family("multiprocess_processes",
             "Live processes recording into the service's shared metrics.", "", MetricType::kGauge);
  processes.points.push_back({.labels = no_labels, .value = static_cast<double>(recording)});
  FamilySnapshot exited_family =
      family("multiprocess_processes_exited",
             "Processes whose slot was folded into the totals after they exited.", "",
             MetricType::kCounter);
  exited_family.points.push_back({.labels = no_labels, .value = static_cast<double>(exited)});
  FamilySnapshot full_family = family(
      "multiprocess_slots_full",
      "Live processes with a series that did not fit their slot (counted, but not exported).", "",
      MetricType::kGauge);
  full_family.points.push_back({.labels = no_labels, .value = static_cast<double>(full)});
  for (FamilySnapshot* f : {&cpu, &rss, &vsz, &start, &wcpu, &wrss, &wstart, &processes,
                            &exited_family, &full_family}) {
    if (!f->points.empty()) out.push_back(std::move(*f));
  }
}

}  // namespace firebreak
