// Db: one SQLite connection to the shop's database, set up so that the three
// shop processes can share the file safely: WAL journal (readers never block
// the writer), a busy timeout (a writer waits for another process's write
// instead of failing), foreign keys on, synchronous=NORMAL (durable at each
// WAL checkpoint; a power cut can lose the last transactions, never corrupt).
//
//   shop::Db db({.path = "shop.db"});
//   shop::Transaction tx(db);                       // BEGIN IMMEDIATE
//   auto q = db.query("INSERT INTO orders(item, quantity) VALUES (?, ?)");
//   q.bind(1, "book").bind(2, 3).run();
//   tx.commit();                                    // or rolled back on scope exit
//
// Statements are prepared once per connection and cached by their SQL text,
// so call query() with string literals. Errors throw DbError: SQLite failures
// are I/O failures, and the request or message boundary turns them into a 503
// or a retry.
//
// Thread-safety: a Db and its queries belong to one thread at a time (SQLite's
// own rule for a connection); use one Db per thread (see DbPool).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace shop {

// A failed SQLite call: the message names the statement's purpose and SQLite's
// reason; code() is SQLite's extended result code (e.g. SQLITE_BUSY).
class DbError : public std::runtime_error {
 public:
  DbError(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }
  // Whether the error is a constraint violation (UNIQUE, CHECK, ...).
  bool constraint() const;

 private:
  int code_;
};

// A cached prepared statement in use. Reset (and its bindings cleared) when
// destroyed, so the cache can hand it out again. Parameters count from 1,
// columns from 0, as in SQLite.
class Query {
 public:
  Query(Query&& other) noexcept;
  Query& operator=(Query&&) = delete;
  Query(const Query&) = delete;
  ~Query();

  Query& bind(int index, std::int64_t value);
  Query& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Query& bind(int index, double value);
  Query& bind(int index, std::string_view value);
  Query& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Query& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Query& bind(int index, std::nullptr_t);
  template <class T>
  Query& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind(index, nullptr);
  }

  // Steps once: true when a row is available, false when done.
  bool next();
  // Steps to the end (for statements that return no rows).
  void run();

  bool is_null(int column) const;
  std::int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  std::optional<std::string> optional_text(int column) const;

 private:
  friend class Db;
  Query(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  void check(int rc, const char* what) const;

  sqlite3_stmt* stmt_;
  sqlite3* db_;
};

struct DbOptions {
  std::string path;
  // How long a write waits for another process's write before DbError
  // (SQLITE_BUSY). Long enough to ride out a checkpoint, short enough that a
  // request does not hang on a wedged writer.
  std::chrono::milliseconds busy_timeout{5000};
};

class Db {
 public:
  // Opens (creating) the file and applies the settings above. Throws DbError
  // when the file cannot be opened or is not a database.
  explicit Db(DbOptions options);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements that return nothing (DDL, PRAGMA).
  void exec(std::string_view sql);
  // The cached statement for this SQL (prepared on first use).
  Query query(const char* sql);

  std::int64_t last_insert_rowid() const;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int changes() const;
  const std::string& path() const { return options_.path; }

 private:
  DbOptions options_;
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;
};

// BEGIN IMMEDIATE ... COMMIT. IMMEDIATE takes the write lock at the start,
// waiting out other writers with the busy timeout; a deferred transaction
// that later upgrades can fail with SQLITE_BUSY at once when another process
// wrote in between, which no timeout can fix. Rolled back on destruction
// unless committed.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();

 private:
  Db& db_;
  bool open_ = true;
};

}  // namespace shop
