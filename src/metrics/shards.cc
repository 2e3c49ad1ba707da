#include "firebreak/detail/shards.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace firebreak::detail {

thread_local std::uint32_t tls_shard_offset = kUnassignedShard;

namespace {

// Which exclusive shards (1..kShards-1) are leased to a live thread.
struct ShardPool {
  std::mutex mu;
  bool leased[kShards] = {};
};

ShardPool& pool() {
  static ShardPool* p = new ShardPool;  // never destroyed: threads may exit after main
  return *p;
}

// Returns the thread's shard to the pool when the thread exits. Only the cold
// path touches it, so the hot path reads a trivially initialised thread_local.
struct ShardLease {
  std::uint32_t shard = 0;
  ~ShardLease() {
    tls_shard_offset = 0;  // anything recorded after this goes to the shared shard
    if (shard == 0) return;
    std::lock_guard lock(pool().mu);
    pool().leased[shard] = false;
  }
};

thread_local ShardLease tls_lease;

}  // namespace

std::uint32_t assign_thread_shard() {
  std::uint32_t shard = 0;
  {
    std::lock_guard lock(pool().mu);
    for (std::uint32_t s = 1; s < kShards; ++s) {
      if (!pool().leased[s]) {
        pool().leased[s] = true;
        shard = s;
        break;
      }
    }
  }
  tls_lease.shard = shard;
  tls_shard_offset = shard * kShardStride;
  return tls_shard_offset;
}

struct CellArena::Chunk {
  Chunk* next;
  Cell* cells;  // kShards * kShardStride cells
  bool owned;   // from the heap (else the backing's)
};

CellArena::~CellArena() {
  while (chunks_) {
    Chunk* next = chunks_->next;
    if (chunks_->owned) std::free(chunks_->cells);
    delete chunks_;
    chunks_ = next;
  }
}

Cell* CellArena::allocate(std::uint32_t count) {
  if (count == 0 || count > kShardStride) throw std::bad_alloc();
  std::lock_guard lock(mu_);
  if (used_ + count > kShardStride) {
    Cell* mem = backing_ ? backing_->chunk() : nullptr;
    const bool owned = mem == nullptr;
    if (owned) {
      // calloc of a large block maps zero pages lazily: shards no thread uses
      // cost no memory. Cell is a lock-free atomic of an integer, for which an
      // all-zero bit pattern is a valid zero value.
      mem = static_cast<Cell*>(std::calloc(std::size_t{kShards} * kShardStride, sizeof(Cell)));
      if (!mem) throw std::bad_alloc();
    }
    chunks_ = new Chunk{chunks_, mem, owned};
    used_ = 0;
  }
  Cell* cells = chunks_->cells + used_;
  used_ += count;
  return cells;
}

CellArena& CellArena::detached() {
  static CellArena* arena = new CellArena;  // never destroyed, like the handles using it
  return *arena;
}

}  // namespace firebreak::detail
