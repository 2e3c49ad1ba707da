// A fresh, migrated shop database in a temporary file, removed (with its WAL
// files) when the test ends.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include "common/db.h"
#include "common/schema.h"

namespace shop::test {

class TempDb {
 public:
  TempDb()
      : path_(::testing::TempDir() + "shop-test-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter_++) + ".db") {
    remove_files();
    db_ = std::make_unique<Db>(DbOptions{.path = path_});
    migrate(*db_);
  }
  ~TempDb() {
    db_.reset();
    remove_files();
  }
  TempDb(const TempDb&) = delete;
  TempDb& operator=(const TempDb&) = delete;

  Db& db() { return *db_; }
  const std::string& path() const { return path_; }

  std::int64_t count(const char* sql) {
    auto q = db_->query(sql);
    return q.next() ? q.int64(0) : -1;
  }

 private:
  void remove_files() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
  }

  static inline std::atomic<int> counter_{0};
  std::string path_;
  std::unique_ptr<Db> db_;
};

}  // namespace shop::test
