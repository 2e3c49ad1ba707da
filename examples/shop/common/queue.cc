#include "common/queue.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <utility>

namespace shop {
namespace {

std::string encode_headers(const MessageHeaders& headers) {
  return nlohmann::json(headers).dump();
}

MessageHeaders decode_headers(const std::string& text) {
  MessageHeaders headers;
  // Written by encode_headers(); anything else is ignored rather than making
  // the message unclaimable forever.
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return headers;
  for (const auto& [key, value] : json.items())
    if (value.is_string()) headers.emplace(key, value.get<std::string>());
  return headers;
}

}  // namespace

Queue::Queue(Db& db, QueueOptions options) : db_(db), options_(std::move(options)) {}

std::mt19937_64& Queue::rng() {
  if (!rng_) rng_.emplace(std::random_device{}());
  return *rng_;
}

std::int64_t Queue::enqueue(const NewMessage& message) {
  const double t = now();
  db_.query(
         "INSERT INTO messages (queue, type, headers, payload, enqueued_at, visible_at) "
         "VALUES (?, ?, ?, ?, ?, ?)")
      .bind(1, options_.name)
      .bind(2, message.type)
      .bind(3, encode_headers(message.headers))
      .bind(4, message.payload)
      .bind(5, t)
      .bind(6, t)
      .run();
  return db_.last_insert_rowid();
}

std::optional<Message> Queue::claim(std::string_view owner) {
  const double t = now();
  const std::int64_t token = static_cast<std::int64_t>(rng()() >> 1);
  std::optional<Message> claimed;
  Transaction tx(db_);
  // A lease that ran out on the last attempt: its worker died on it every
  // time. Dead-letter it instead of handing it to the next victim.
  db_.query(
         "UPDATE messages SET state = 'dead', finished_at = ?1, lease_owner = NULL, "
         "  last_error = 'lease expired on attempt ' || attempts || ' (worker died or too slow)' "
         "WHERE queue = ?2 AND state = 'leased' AND visible_at <= ?1 AND attempts >= ?3")
      .bind(1, t)
      .bind(2, options_.name)
      .bind(3, options_.max_attempts)
      .run();
  {
    auto q = db_.query(
        "UPDATE messages SET state = 'leased', attempts = attempts + 1, visible_at = ?1, "
        "  lease_owner = ?2, lease_token = ?3 "
        "WHERE id = (SELECT id FROM messages "
        "            WHERE queue = ?4 AND state IN ('ready', 'leased') AND visible_at <= ?5 "
        "            ORDER BY visible_at, id LIMIT 1) "
        "RETURNING id, type, headers, payload, attempts, enqueued_at");
    q.bind(1, t + std::chrono::duration<double>(options_.lease).count())
        .bind(2, owner)
        .bind(3, token)
        .bind(4, options_.name)
        .bind(5, t);
    if (q.next()) {
      claimed = Message{.id = q.int64(0),
                        .type = q.text(1),
                        .headers = decode_headers(q.text(2)),
                        .payload = q.text(3),
                        .attempt = static_cast<int>(q.int64(4)),
                        .enqueued_at = q.real(5),
                        .lease_token = token};
      q.run();
    }
  }
  tx.commit();
  return claimed;
}

bool Queue::ack(const Message& message) {
  db_.query(
         "UPDATE messages SET state = 'done', finished_at = ?, lease_owner = NULL, "
         "  last_error = NULL "
         "WHERE id = ? AND state = 'leased' AND lease_token = ?")
      .bind(1, now())
      .bind(2, message.id)
      .bind(3, message.lease_token)
      .run();
  return db_.changes() == 1;
}

FailResult Queue::fail(const Message& message, std::string_view error, bool permanent) {
  const double t = now();
  if (permanent || message.attempt >= options_.max_attempts) {
    db_.query(
           "UPDATE messages SET state = 'dead', finished_at = ?, last_error = ?, "
           "  lease_owner = NULL "
           "WHERE id = ? AND state = 'leased' AND lease_token = ?")
        .bind(1, t)
        .bind(2, error)
        .bind(3, message.id)
        .bind(4, message.lease_token)
        .run();
    return db_.changes() == 1 ? FailResult::kDead : FailResult::kLeaseLost;
  }
  // Jitter (50-100% of the backoff) so that messages failed together by one
  // outage do not all come back at the same instant.
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  const double delay_s =
      std::chrono::duration<double>(backoff(message.attempt)).count() * jitter(rng());
  db_.query(
         "UPDATE messages SET state = 'ready', visible_at = ?, last_error = ?, "
         "  lease_owner = NULL "
         "WHERE id = ? AND state = 'leased' AND lease_token = ?")
      .bind(1, t + delay_s)
      .bind(2, error)
      .bind(3, message.id)
      .bind(4, message.lease_token)
      .run();
  return db_.changes() == 1 ? FailResult::kRetry : FailResult::kLeaseLost;
}

std::chrono::milliseconds Queue::backoff(int attempt) const {
  const double base = static_cast<double>(options_.retry_base.count());
  const double capped = std::min(base * std::pow(2.0, std::max(0, attempt - 1)),
                                 static_cast<double>(options_.retry_max.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(capped));
}

QueueBacklog Queue::backlog() {
  QueueBacklog b;
  const double t = now();
  {
    auto q = db_.query(
        "SELECT state = 'leased' AND visible_at > ?1 AS in_hand, count(*), min(enqueued_at) "
        "FROM messages WHERE queue = ?2 AND state IN ('ready', 'leased') GROUP BY in_hand");
    q.bind(1, t).bind(2, options_.name);
    while (q.next()) {
      if (q.int64(0)) {
        b.in_hand = q.int64(1);
      } else {
        b.waiting = q.int64(1);
        if (!q.is_null(2)) b.oldest_enqueued_at = q.real(2);
      }
    }
  }
  auto q = db_.query("SELECT count(*) FROM messages WHERE queue = ? AND state = 'dead'");
  q.bind(1, options_.name);
  if (q.next()) b.dead = q.int64(0);
  return b;
}

std::int64_t Queue::prune_done(std::chrono::seconds retention) {
  constexpr int kBatch = 1000;
  const double cutoff = now() - static_cast<double>(retention.count());
  std::int64_t deleted = 0;
  for (;;) {
    db_.query(
           "DELETE FROM messages WHERE id IN ("
           "  SELECT id FROM messages WHERE state = 'done' AND finished_at < ? AND queue = ? "
           "  LIMIT ?)")
        .bind(1, cutoff)
        .bind(2, options_.name)
        .bind(3, kBatch)
        .run();
    const int n = db_.changes();
    deleted += n;
    if (n < kBatch) return deleted;
  }
}

}  // namespace shop
