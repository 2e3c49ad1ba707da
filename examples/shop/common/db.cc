#include "common/db.h"

#include <sqlite3.h>

#include <utility>

namespace shop {
namespace {

[[noreturn]] void fail(sqlite3* db, int rc, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw DbError(message, rc);
}

}  // namespace

bool DbError::constraint() const {
  return (code_ & 0xff) == SQLITE_CONSTRAINT;
}

Query::Query(Query&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)), db_(other.db_) {}

Query::~Query() {
  if (!stmt_) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Query::check(int rc, const char* what) const {
  if (rc != SQLITE_OK) fail(db_, rc, std::string(what) + " (" + sqlite3_sql(stmt_) + ")");
}

Query& Query::bind(int index, std::int64_t value) {
  check(sqlite3_bind_int64(stmt_, index, value), "bind");
  return *this;
}

Query& Query::bind(int index, double value) {
  check(sqlite3_bind_double(stmt_, index, value), "bind");
  return *this;
}

Query& Query::bind(int index, std::string_view value) {
  check(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      "bind");
  return *this;
}

Query& Query::bind(int index, std::nullptr_t) {
  check(sqlite3_bind_null(stmt_, index), "bind");
  return *this;
}

bool Query::next() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, rc, std::string("step (") + sqlite3_sql(stmt_) + ")");
}

void Query::run() {
  while (next()) {
  }
}

bool Query::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Query::int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double Query::real(int column) const {
  return sqlite3_column_double(stmt_, column);
}

std::string Query::text(int column) const {
  const auto* p = sqlite3_column_text(stmt_, column);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::optional<std::string> Query::optional_text(int column) const {
  if (is_null(column)) return std::nullopt;
  return text(column);
}

Db::Db(DbOptions options) : options_(std::move(options)) {
  const int rc =
      sqlite3_open_v2(options_.path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string reason = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw DbError("cannot open database " + options_.path + ": " + reason, rc);
  }
  sqlite3_extended_result_codes(db_, 1);
  try {
    // The busy timeout first: switching to WAL needs a lock another process
    // may hold at this very moment.
    sqlite3_busy_timeout(db_, static_cast<int>(options_.busy_timeout.count()));
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  } catch (...) {
    sqlite3_close_v2(db_);
    throw;
  }
}

Db::~Db() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

void Db::exec(std::string_view sql) {
  const std::string text(sql);
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    const std::string reason = error ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    throw DbError(options_.path + ": " + reason, rc);
  }
}

Query Db::query(const char* sql) {
  auto it = statements_.find(std::string_view(sql));
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) fail(db_, rc, std::string("prepare (") + sql + ")");
    it = statements_.emplace(sql, stmt).first;
  }
  return Query(it->second, db_);
}

std::int64_t Db::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

int Db::changes() const {
  return sqlite3_changes(db_);
}

Transaction::Transaction(Db& db) : db_(db) {
  db_.exec("BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
  if (!open_) return;
  try {
    db_.exec("ROLLBACK");
  } catch (const DbError&) {
    // SQLite already rolled back (e.g. after SQLITE_FULL); nothing left to undo.
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  open_ = false;
}

}  // namespace shop
