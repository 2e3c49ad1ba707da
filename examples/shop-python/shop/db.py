"""The shared SQLite database: schema, the transactional outbox and the queue.

WAL (readers never block the writer), busy_timeout (a writer waits for
another process's write), BEGIN IMMEDIATE for every write transaction (a
deferred one that upgrades can fail at once under contention, whatever the
timeout), one connection per thread."""

import json
import os
import sqlite3
import threading
import time
import uuid

SCHEMA_VERSION = 1
QUEUE = "orders"

_MIGRATIONS = {
    1: """
        CREATE TABLE orders (
            id INTEGER PRIMARY KEY,
            item TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'created',
            created_at REAL NOT NULL);
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            queue TEXT NOT NULL,
            payload TEXT NOT NULL,
            headers TEXT NOT NULL,
            created_at REAL NOT NULL,
            visible_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            lease TEXT,
            done_at REAL);
        CREATE INDEX messages_ready ON messages (queue, done_at, visible_at);
        CREATE TABLE invoices (
            order_id INTEGER PRIMARY KEY REFERENCES orders (id),
            amount_cents INTEGER NOT NULL,
            created_at REAL NOT NULL);
        CREATE TABLE daily_reports (
            day TEXT PRIMARY KEY,
            orders INTEGER NOT NULL,
            quantity INTEGER NOT NULL,
            made_at REAL NOT NULL);
        CREATE TABLE faults (
            service TEXT PRIMARY KEY,
            switches TEXT NOT NULL);
    """,
}

_local = threading.local()


def path():
    return os.environ.get("SHOP_DB", "shop.db")


def connect():
    """This thread's connection to the database at SHOP_DB, migrated."""
    conn = getattr(_local, "conn", None)
    if conn is not None and _local.pid == os.getpid():
        return conn
    conn = sqlite3.connect(path(), timeout=5.0, isolation_level=None, check_same_thread=True)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA synchronous=NORMAL")
    _migrate(conn)
    _local.conn, _local.pid = conn, os.getpid()
    return conn


class write:
    """A write transaction (BEGIN IMMEDIATE): commits on success, rolls back on error."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, *_):
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _migrate(conn):
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"{path()} has schema {version}, newer than this code's {SCHEMA_VERSION}")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        with write(conn):
            # Re-read under the write lock: two processes starting together apply it once.
            if conn.execute("PRAGMA user_version").fetchone()[0] >= target:
                continue
            for statement in _MIGRATIONS[target].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={target}")


def create_order(item, quantity, headers):
    """Stores the order and its order.created message in one transaction."""
    conn = connect()
    now = time.time()
    with write(conn):
        order_id = conn.execute(
            "INSERT INTO orders (item, quantity, created_at) VALUES (?, ?, ?)",
            (item, quantity, now)).lastrowid
        conn.execute(
            "INSERT INTO messages (queue, payload, headers, created_at, visible_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (QUEUE, json.dumps({"order_id": order_id}), json.dumps(headers), now, now))
    return order_id


def get_order(order_id):
    row = connect().execute("SELECT id, item, quantity, status, created_at FROM orders"
                            " WHERE id = ?", (order_id,)).fetchone()
    if row is None:
        return None
    return dict(zip(("id", "item", "quantity", "status", "created_at"), row))


def claim(lease_seconds=30.0):
    """Leases the oldest visible message: (id, lease, payload, headers, attempts) or None."""
    conn = connect()
    now = time.time()
    lease = uuid.uuid4().hex
    with write(conn):
        row = conn.execute(
            "UPDATE messages SET lease = ?, visible_at = ?, attempts = attempts + 1"
            " WHERE id = (SELECT id FROM messages WHERE queue = ? AND done_at IS NULL"
            "             AND visible_at <= ? ORDER BY id LIMIT 1)"
            " RETURNING id, payload, headers, attempts",
            (lease, now + lease_seconds, QUEUE, now)).fetchone()
    if row is None:
        return None
    return row[0], lease, json.loads(row[1]), json.loads(row[2]), row[3]


def ack(message_id, lease, order_id, amount_cents):
    """Writes the invoice (once per order) and marks the message done, if the lease is still ours."""
    conn = connect()
    now = time.time()
    with write(conn):
        if conn.execute("SELECT 1 FROM messages WHERE id = ? AND lease = ?",
                        (message_id, lease)).fetchone() is None:
            return False
        conn.execute("INSERT OR IGNORE INTO invoices (order_id, amount_cents, created_at)"
                     " VALUES (?, ?, ?)", (order_id, amount_cents, now))
        conn.execute("UPDATE orders SET status = 'invoiced' WHERE id = ?", (order_id,))
        conn.execute("UPDATE messages SET done_at = ? WHERE id = ?", (now, message_id))
    return True


def retry(message_id, lease, delay_seconds):
    conn = connect()
    with write(conn):
        conn.execute("UPDATE messages SET visible_at = ?, lease = NULL WHERE id = ? AND lease = ?",
                     (time.time() + delay_seconds, message_id, lease))


def queue_state():
    """(messages waiting, the oldest one's enqueue time or None), as
    firebreak.Worker.watch_queue reads it at each scrape."""
    depth, oldest = connect().execute(
        "SELECT count(*), min(created_at) FROM messages WHERE queue = ? AND done_at IS NULL",
        (QUEUE,)).fetchone()
    return depth, oldest


def daily_report(day_start, day_end, day):
    """Aggregates a day's orders into daily_reports; returns (orders, quantity)."""
    conn = connect()
    with write(conn):
        orders, quantity = conn.execute(
            "SELECT count(*), coalesce(sum(quantity), 0) FROM orders"
            " WHERE created_at >= ? AND created_at < ?", (day_start, day_end)).fetchone()
        conn.execute("INSERT OR REPLACE INTO daily_reports (day, orders, quantity, made_at)"
                     " VALUES (?, ?, ?, ?)", (day, orders, quantity, time.time()))
        conn.execute("DELETE FROM messages WHERE done_at IS NOT NULL AND done_at < ?",
                     (time.time() - 3600,))
    return orders, quantity


def counts():
    """(orders, invoices) in the database, for tests."""
    conn = connect()
    return (conn.execute("SELECT count(*) FROM orders").fetchone()[0],
            conn.execute("SELECT count(*) FROM invoices").fetchone()[0])
