// The delivery pipeline's stages, in Alertmanager's notify/notify.go shape:
// a message passes through stages in order; each either lets it continue or
// ends its trip (delivered, dropped, or to be retried later). This step runs
//   DedupStage -> SendStage -> RetryStage
// per receiver; grouping, silencing and inhibition slot in front of dedup.
//
//   Pipeline p;
//   p.add(std::make_unique<DedupStage>(log));
//   p.add(std::make_unique<SendStage>(notifier));
//   p.add(std::make_unique<RetryStage>(BackoffPolicy{}));
//   Verdict v = p.exec(ctx, message);
//
// Time comes in the StageContext; nothing here reads a clock or sleeps.
// Thread-safety: a Pipeline and its stages are used by one thread at a time
// (the receiver's worker); NotificationLog is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "firebreak/clock.h"
#include "watch/alerting/notifier.h"
#include "watch/rules/alerting.h"

namespace watch::store {
class Store;
}

namespace watch::alerting {

// One notification on its way to one receiver.
struct Message {
  std::int64_t id = 0;  // pending-queue id in the store (0: not persisted)
  rules::Notification notification;
  std::uint64_t fingerprint = 0;
  std::int64_t enqueued_ms = 0;               // wall time, Unix ms
  int attempts = 0;                           // failed sends so far
  firebreak::Clock::MonoTime next_attempt{};  // not before this
  SendResult last_result;                     // set by SendStage
};

enum class Verdict {
  kContinue,    // go on to the next stage
  kDelivered,   // sent; record it
  kDropped,     // will never be sent (duplicate, permanent failure)
  kRetryLater,  // keep queued until message.next_attempt
};
std::string_view to_string(Verdict v);

struct StageContext {
  std::string_view receiver;
  firebreak::Clock::MonoTime now;
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual Verdict exec(const StageContext& ctx, Message& message) = 0;
};

// Runs stages in order until one ends the trip; all continuing is kDelivered.
class Pipeline {
 public:
  void add(std::unique_ptr<Stage> stage) { stages_.push_back(std::move(stage)); }
  Verdict exec(const StageContext& ctx, Message& message);

 private:
  std::vector<std::unique_ptr<Stage>> stages_;
};

// What each receiver was sent: (receiver, fingerprint, resolved, starts_at).
// In memory, written through to the store when one is given.
class NotificationLog {
 public:
  explicit NotificationLog(store::Store* store = nullptr);  // loads the store's log
  bool contains(std::string_view receiver, const Message& m) const;
  // Records a delivery and removes m.id from the store's pending queue, at once.
  void record(std::string_view receiver, const Message& m, std::int64_t sent_ms);
  // Forgets deliveries sent before `before_ms` (here and in the store), as
  // Alertmanager's notification log retention; returns how many were dropped.
  // Also retries writing records a failed store write (a full disk) left
  // in memory only.
  std::size_t prune(std::int64_t before_ms);
  // Writes the records a failed store write left in memory only; returns
  // how many are still unwritten. record() and prune() call it too.
  std::size_t flush();

 private:
  std::size_t flush_locked();  // requires mu_
  using Key = std::tuple<std::string, std::uint64_t, bool, std::int64_t>;
  store::Store* store_;
  mutable std::mutex mu_;
  std::map<Key, std::int64_t> sent_;  // guarded by mu_: key -> sent at (Unix ms)
  // Deliveries the store refused, retried in order.
  struct Unsaved {
    std::int64_t pending_id;
    std::string receiver;
    std::uint64_t fingerprint;
    bool resolved;
    std::int64_t starts_at_ms;
    std::int64_t sent_at_ms;
  };
  std::vector<Unsaved> unsaved_;  // guarded by mu_
  bool reported_ = false;         // guarded by mu_
};

// Drops a message whose state for that alert (and firing episode) the
// receiver already had: the rules engine's periodic re-sends, and anything
// sent before a restart.
class DedupStage final : public Stage {
 public:
  explicit DedupStage(const NotificationLog& log) : log_(log) {}
  Verdict exec(const StageContext& ctx, Message& message) override;

 private:
  const NotificationLog& log_;
};

// Calls the notifier once. Success: kDelivered; failure: kContinue with
// message.last_result set, for RetryStage to judge.
class SendStage final : public Stage {
 public:
  explicit SendStage(Notifier& notifier) : notifier_(notifier) {}
  Verdict exec(const StageContext& ctx, Message& message) override;

 private:
  Notifier& notifier_;
};

// Exponential backoff: attempt n (1-based) waits
// min(initial * multiplier^(n-1), max) reduced by up to `jitter` (a fraction).
struct BackoffPolicy {
  std::chrono::milliseconds initial{1000};
  double multiplier = 2.0;
  std::chrono::milliseconds max{60000};
  double jitter = 0.2;
};

// After a failed send: retryable failures are rescheduled with backoff
// (without limit on the number of attempts, so a resolve is never lost);
// others are dropped and logged (warn alert_notification_dropped).
class RetryStage final : public Stage {
 public:
  explicit RetryStage(BackoffPolicy policy, std::uint64_t seed = std::random_device{}())
      : policy_(policy), rng_(seed) {}
  Verdict exec(const StageContext& ctx, Message& message) override;
  // The wait before attempt `attempt` (>= 1), jitter applied.
  firebreak::Clock::Duration delay(int attempt);

 private:
  BackoffPolicy policy_;
  std::mt19937_64 rng_;
};

}  // namespace watch::alerting
