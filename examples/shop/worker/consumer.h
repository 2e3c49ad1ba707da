// Consumer: shop-worker's loop. Claims "order.created" messages with a
// lease, has the Invoicer handle each one, then acks it, or retries it with
// backoff, or dead-letters it; the kit's WorkerObserver records every turn
// and every message.
//
//   shop::Consumer consumer(db, observer, faults, service, {.queue = {.name = "orders"}});
//   std::thread loop([&] { consumer.run(); });   // until service.stop_requested()
//
// Outcomes (the `outcome` label of messaging_process_duration_seconds):
//   ok     invoiced, or already invoiced (a redelivery: no second effect)
//   retry  failed, will be tried again after the backoff
//   dead   failed for good: a permanent error, or out of attempts
//   error  could not even record the failure (database down): the lease
//          runs out and the message comes back
//
// Stopping: run() checks for stop between messages only, so the message in
// hand is always finished (SIGTERM never leaves half an invoice; SIGKILL may,
// and the lease and the idempotent Invoicer cover that).
//
// Faults (common/faults.h):
//   stall      the loop keeps turning (heartbeat, /metrics, /livez all fine)
//              but claims nothing: no progress while messages wait. This is
//              the stall a heartbeat alone cannot see, which WorkerStalled's
//              "messages waiting and no progress" clause is for (docs/alerts.md);
//              a loop that stops turning altogether is the heartbeat clause's.
//   fail_rate  that fraction of messages fail (transient: retried)
//   slow_ms    each message takes that much longer (a slow dependency)
//
// Thread-safety: run() on one thread; the Consumer is that thread's.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "common/db.h"
#include "common/faults.h"
#include "common/queue.h"
#include "firebreak/service.h"
#include "firebreak/workload/worker.h"
#include "worker/invoicer.h"

namespace shop {

struct ConsumerOptions {
  QueueOptions queue = {};
  // How long to sleep when the queue is empty (or the loop is stalled).
  std::chrono::milliseconds poll{200};
  // Lease owner name, for humans reading the messages table.
  std::string identity = "shop-worker";
};

// The fault switches shop-worker declares.
std::vector<FaultSpec> worker_fault_specs();

class Consumer {
 public:
  // `faults` must hold worker_fault_specs(). All references must outlive this.
  Consumer(Db& db, firebreak::WorkerObserver& observer, const FaultSwitches& faults,
           const firebreak::Service& service, ConsumerOptions options);

  // Loops until the service is asked to stop. Never throws.
  void run();
  // Whether the loop has turned at least once (readiness).
  bool running() const { return turns_.load(std::memory_order_relaxed) > 0; }

 private:
  // One turn: heartbeat, then claim and handle at most one message. False
  // when there was nothing to do (the caller then sleeps).
  bool turn();
  void handle(const Message& message);

  Queue queue_;
  Invoicer invoicer_;
  firebreak::WorkerObserver& observer_;
  const firebreak::Service& service_;
  ConsumerOptions options_;
  const Fault& stall_;
  const Fault& fail_rate_;
  const Fault& slow_ms_;
  std::atomic<std::uint64_t> turns_{0};
};

}  // namespace shop
