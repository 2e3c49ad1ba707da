#include "common/schema.h"

#include <array>
#include <string>

namespace shop {
namespace {

struct Migration {
  int version;
  std::string_view sql;
};

// Times are Unix seconds (REAL): cheap to compare and to turn into metrics.
constexpr std::array kMigrations = {
    Migration{1, R"sql(
      CREATE TABLE orders (
        id          INTEGER PRIMARY KEY,
        item        TEXT    NOT NULL CHECK (length(item) BETWEEN 1 AND 200),
        quantity    INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
        customer    TEXT,
        status      TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'invoiced')),
        created_at  REAL    NOT NULL
      );
      CREATE INDEX orders_by_status ON orders (status, id);
      CREATE INDEX orders_by_created_at ON orders (created_at);

      -- One invoice per order, whatever happens to the message that asks for
      -- it: the UNIQUE constraint is what makes the worker idempotent.
      CREATE TABLE invoices (
        id            INTEGER PRIMARY KEY,
        order_id      INTEGER NOT NULL UNIQUE REFERENCES orders (id),
        amount_cents  INTEGER NOT NULL,
        message_id    INTEGER NOT NULL,
        created_at    REAL    NOT NULL
      );

      -- The queue. A message is 'ready' (claimable once visible_at has
      -- passed), 'leased' to a worker until visible_at (then claimable again:
      -- its worker is presumed dead), 'done' or 'dead' (failed too often).
      CREATE TABLE messages (
        id           INTEGER PRIMARY KEY,
        queue        TEXT    NOT NULL,
        type         TEXT    NOT NULL,
        headers      TEXT    NOT NULL DEFAULT '{}',
        payload      TEXT    NOT NULL,
        state        TEXT    NOT NULL DEFAULT 'ready'
                             CHECK (state IN ('ready', 'leased', 'done', 'dead')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        enqueued_at  REAL    NOT NULL,
        visible_at   REAL    NOT NULL,
        lease_owner  TEXT,
        lease_token  INTEGER,
        last_error   TEXT,
        finished_at  REAL
      );
      CREATE INDEX messages_claimable ON messages (queue, state, visible_at, id);
      CREATE INDEX messages_finished ON messages (state, finished_at);
    )sql"},
    Migration{2, R"sql(
      CREATE TABLE daily_reports (
        day            TEXT    PRIMARY KEY,  -- YYYY-MM-DD, UTC
        orders         INTEGER NOT NULL,
        items          INTEGER NOT NULL,
        invoiced       INTEGER NOT NULL,
        revenue_cents  INTEGER NOT NULL,
        generated_at   REAL    NOT NULL,
        run_id         TEXT    NOT NULL
      );
    )sql"},
};

}  // namespace

int latest_schema_version() {
  return kMigrations.back().version;
}

int schema_version(Db& db) {
  auto q = db.query("PRAGMA user_version");
  return q.next() ? static_cast<int>(q.int64(0)) : 0;
}

int migrate(Db& db) {
  int applied = 0;
  for (const Migration& m : kMigrations) {
    Transaction tx(db);
    const int current = schema_version(db);  // under the write lock
    if (current > latest_schema_version())
      throw SchemaError("database " + db.path() + " has schema version " + std::to_string(current) +
                        ", newer than this build's " + std::to_string(latest_schema_version()) +
                        "; upgrade this binary");
    if (current >= m.version) continue;
    db.exec(m.sql);
    // PRAGMA takes no bound parameters; the value is our own constant.
    db.exec("PRAGMA user_version = " + std::to_string(m.version));
    tx.commit();
    ++applied;
  }
  return applied;
}

}  // namespace shop
