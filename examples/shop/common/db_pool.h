// DbPool: SQLite connections for a multi-threaded server, one per concurrent
// user, opened on first demand and kept. A connection serves one thread at a
// time (SQLite's rule); the pool hands each out under a short lock.
//
//   shop::DbPool pool({.path = "shop.db"});
//   {
//     auto db = pool.acquire();          // blocks only for the pool's mutex
//     shop::Orders(*db, ...).get(17);
//   }                                    // back to the pool
//
// Each connection carries state that is expensive to rebuild (prepared
// statements), so connections are reused rather than opened per request.
//
// Thread-safety: acquire() is thread-safe; a Lease belongs to its thread.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "common/db.h"

namespace shop {

class DbPool {
 public:
  class Lease {
   public:
    Lease(DbPool& pool, std::unique_ptr<Db> db) : pool_(&pool), db_(std::move(db)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (db_) pool_->release(std::move(db_));
    }
    Db& operator*() { return *db_; }
    Db* operator->() { return db_.get(); }

   private:
    DbPool* pool_;
    std::unique_ptr<Db> db_;
  };

  explicit DbPool(DbOptions options) : options_(std::move(options)) {}

  // A connection: an idle one, or a new one (which may throw DbError).
  Lease acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto db = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(db));
      }
    }
    return Lease(*this, std::make_unique<Db>(options_));
  }

 private:
  void release(std::unique_ptr<Db> db) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(db));
  }

  const DbOptions options_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Db>> idle_;  // guarded by mu_
};

}  // namespace shop
