// Queue: a durable work queue in the shop's SQLite database, shared by any
// number of producer and consumer processes.
//
//   // Producer: in the same transaction as the data the message is about, so
//   // there is never an order without its message, nor a message without its
//   // order (the transactional outbox pattern).
//   shop::Transaction tx(db);
//   ... insert the order ...
//   queue.enqueue({.type = "order.created", .headers = headers, .payload = json});
//   tx.commit();
//
//   // Consumer: claim with a lease, then ack, or fail (retry or dead-letter).
//   if (auto m = queue.claim("worker-1")) {
//     try { handle(*m); queue.ack(*m); }
//     catch (const std::exception& e) { queue.fail(*m, e.what()); }
//   }
//
// Delivery is at least once. A claim leases the message for `lease`: if the
// worker dies (even by SIGKILL), the lease runs out and another worker claims
// it again, so handlers must be idempotent. A failed message is retried after
// an exponential backoff (base * 2^(attempt-1), capped, with jitter) until it
// has been tried max_attempts times, then it is dead-lettered (state 'dead',
// kept with its last error for a human). A message whose lease runs out on its
// last attempt is dead-lettered too: a message that kills its worker must not
// kill every worker in turn.
//
// Claims are atomic across processes: one UPDATE under SQLite's write lock
// picks and leases the oldest visible message, so two workers never hold the
// same message at once (except after a lease ran out, which is the point).
//
// Thread-safety: as its Db (one thread at a time).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "common/db.h"
#include "firebreak/clock.h"

namespace shop {

// Message headers: trace context (traceparent, tracestate) and the like.
using MessageHeaders = std::map<std::string, std::string>;

struct NewMessage {
  std::string type;  // e.g. "order.created"
  MessageHeaders headers = {};
  std::string payload = {};  // JSON text
};

// A claimed message.
struct Message {
  std::int64_t id = 0;
  std::string type;
  MessageHeaders headers;
  std::string payload;
  int attempt = 0;               // 1 on the first delivery
  double enqueued_at = 0;        // Unix seconds
  std::int64_t lease_token = 0;  // identifies this delivery
};

struct QueueOptions {
  std::string name = "orders";  // the messaging destination
  // How long a claimed message stays invisible to other workers. Longer than
  // the slowest message, or it is processed twice.
  std::chrono::milliseconds lease{30000};
  int max_attempts = 5;
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{60000};
  const firebreak::Clock* clock = &firebreak::Clock::system();
};

// What fail() did with the message.
enum class FailResult {
  kRetry,      // back to 'ready', visible again after the backoff
  kDead,       // dead-lettered
  kLeaseLost,  // our lease had run out and someone else holds it: nothing done
};

// What the worker's gauges show.
struct QueueBacklog {
  // Waiting for a worker: ready (visible or backing off), or leased by a
  // worker whose lease ran out (presumed dead). Not the ones in hand.
  std::int64_t waiting = 0;
  std::int64_t in_hand = 0;  // leased, lease still running
  // Enqueue time (Unix seconds) of the oldest waiting message.
  std::optional<double> oldest_enqueued_at;
  std::int64_t dead = 0;  // dead-lettered, kept for a human
};

class Queue {
 public:
  Queue(Db& db, QueueOptions options = {});

  const QueueOptions& options() const { return options_; }

  // Adds a message, visible at once. Runs in the caller's transaction, if any
  // (that is the point); returns its id.
  std::int64_t enqueue(const NewMessage& message);

  // Leases the oldest visible message to `owner` (a name for humans, e.g.
  // "shop-worker@host:pid"), or nullopt when none is visible.
  std::optional<Message> claim(std::string_view owner);

  // Marks the message done. False when the lease had run out and another
  // worker claimed it meanwhile (it will be processed again: idempotency).
  bool ack(const Message& message);

  // Records a failure: retry with backoff, or dead-letter when `permanent`
  // (retrying cannot help: a malformed payload) or out of attempts.
  FailResult fail(const Message& message, std::string_view error, bool permanent = false);

  // Counts for the gauges (one indexed scan of the unfinished messages).
  QueueBacklog backlog();

  // Deletes 'done' messages finished more than `retention` ago, in batches so
  // that no single transaction holds the write lock for long. Returns how
  // many it deleted.
  std::int64_t prune_done(std::chrono::seconds retention);

  // The backoff before attempt `attempt + 1`, without jitter.
  std::chrono::milliseconds backoff(int attempt) const;

 private:
  double now() const { return options_.clock->wall_seconds(); }
  // Lease tokens and jitter; seeded on first use, so that a Queue made per
  // request only to enqueue costs no read of the kernel's entropy.
  std::mt19937_64& rng();

  Db& db_;
  QueueOptions options_;
  std::optional<std::mt19937_64> rng_;
};

}  // namespace shop
