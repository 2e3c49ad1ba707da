// Internal: the sharded cells behind Counter and Histogram handles.
//
// A series owns a run of `Cell`s in every shard. Shards are laid out at a
// fixed stride (kShardStride cells) inside a chunk, so the cell a thread
// writes is `base + its_shard_offset`: one thread-local load and one add.
//
// Shard 0 is shared and updated with atomic read-modify-write. Shards
// 1..kShards-1 are leased to one thread each (returned when the thread exits),
// so their owner updates them with a plain relaxed load and store: no lock
// prefix, no cache-line ping-pong between threads. A reader (the scrape) sums
// the shards with relaxed loads; each shard only ever grows, so a scrape sees a
// value that was true at some instant for each shard.
//
// Chunks are allocated zeroed and lazily backed by the kernel, so a shard no
// thread ever used costs address space, not memory.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace firebreak::detail {

using Cell = std::atomic<std::uint64_t>;
static_assert(Cell::is_always_lock_free);

inline constexpr std::uint32_t kShards = 16;
inline constexpr std::uint32_t kShardStride = 8192;  // cells per shard in a chunk (64 KiB)
inline constexpr std::uint32_t kUnassignedShard = 0xffffffffu;

// Offset (in cells) of this thread's shard; 0 = the shared shard.
extern thread_local std::uint32_t tls_shard_offset;

// Leases a shard to the calling thread (or the shared one when all are taken)
// and returns its offset. Cold path, once per thread.
std::uint32_t assign_thread_shard();

inline std::uint32_t thread_shard_offset() noexcept {
  std::uint32_t offset = tls_shard_offset;
  if (offset == kUnassignedShard) [[unlikely]]
    offset = assign_thread_shard();
  return offset;
}

inline void shard_add(Cell* base, std::uint64_t delta) noexcept {
  const std::uint32_t offset = thread_shard_offset();
  Cell& cell = base[offset];
  if (offset != 0) {
    cell.store(cell.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  } else {
    cell.fetch_add(delta, std::memory_order_relaxed);
  }
}

inline void shard_add_double(Cell* base, double delta) noexcept {
  const std::uint32_t offset = thread_shard_offset();
  Cell& cell = base[offset];
  std::uint64_t old_bits = cell.load(std::memory_order_relaxed);
  if (offset != 0) {
    cell.store(std::bit_cast<std::uint64_t>(std::bit_cast<double>(old_bits) + delta),
               std::memory_order_relaxed);
    return;
  }
  while (!cell.compare_exchange_weak(
      old_bits, std::bit_cast<std::uint64_t>(std::bit_cast<double>(old_bits) + delta),
      std::memory_order_relaxed)) {
  }
}

// Sums a cell over all shards.
inline std::uint64_t shard_sum(const Cell* base) noexcept {
  std::uint64_t total = 0;
  for (std::uint32_t s = 0; s < kShards; ++s)
    total += base[s * kShardStride].load(std::memory_order_relaxed);
  return total;
}

inline double shard_sum_double(const Cell* base) noexcept {
  double total = 0;
  for (std::uint32_t s = 0; s < kShards; ++s)
    total += std::bit_cast<double>(base[s * kShardStride].load(std::memory_order_relaxed));
  return total;
}

class FamilyCore;
struct Series;

// Memory shared with the other processes of a service (multiprocess.h): it
// gives an arena its chunks and learns of every series, so that another
// process can find the series and read its cells.
class SlotBacking {
 public:
  virtual ~SlotBacking() = default;
  // kShards * kShardStride zeroed cells, or nullptr when the slot is full.
  virtual Cell* chunk() = 0;
  // A series was created and its cells allocated. Called with the family's
  // mutex held; must not call back into the family.
  virtual void published(const FamilyCore& family, const Series& series) = 0;
};

// Hands out runs of cells, zero-initialised, in chunks of kShards shards.
// Cells live as long as the arena (a Registry owns one). Thread-safe.
class CellArena {
 public:
  // Chunks from `backing` while it has them, then from the heap (recorded
  // there, but seen by no other process; the backing marks itself full).
  explicit CellArena(SlotBacking* backing = nullptr) : backing_(backing) {}
  CellArena(const CellArena&) = delete;
  CellArena& operator=(const CellArena&) = delete;
  ~CellArena();

  // Reserves `count` consecutive cells (1 <= count <= kShardStride) in every shard.
  Cell* allocate(std::uint32_t count);

  // An arena for handles that belong to no registry (default-constructed handles).
  static CellArena& detached();

 private:
  SlotBacking* const backing_;
  std::mutex mu_;
  struct Chunk;
  Chunk* chunks_ = nullptr;            // guarded by mu_
  std::uint32_t used_ = kShardStride;  // cells used in the newest chunk; guarded by mu_
};

}  // namespace firebreak::detail
