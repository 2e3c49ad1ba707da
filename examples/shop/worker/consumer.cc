#include "worker/consumer.h"

#include <random>
#include <string>
#include <thread>

#include "firebreak/log.h"

namespace shop {
namespace {

bool roll(double probability) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(rng) < probability;
}

// A failure worth retrying (the fault switch stands for a flaky dependency).
class TransientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace

std::vector<FaultSpec> worker_fault_specs() {
  return {
      {.name = "stall", .help = "keep the loop turning but claim nothing"},
      {.name = "fail_rate",
       .help = "fail this fraction of messages (retried)",
       .kind = FaultKind::kNumber,
       .max = 1},
      {.name = "slow_ms",
       .help = "take this much longer per message",
       .kind = FaultKind::kNumber,
       .max = 600000},
  };
}

Consumer::Consumer(Db& db, firebreak::WorkerObserver& observer, const FaultSwitches& faults,
                   const firebreak::Service& service, ConsumerOptions options)
    : queue_(db, options.queue),
      invoicer_(db),
      observer_(observer),
      service_(service),
      options_(std::move(options)),
      stall_(faults.get("stall")),
      fail_rate_(faults.get("fail_rate")),
      slow_ms_(faults.get("slow_ms")) {}

void Consumer::run() {
  FB_LOG_INFO("consumer_started", "", {"messaging_destination_name", options_.queue.name},
              {"lease_s", options_.queue.lease}, {"poll_s", options_.poll});
  while (!service_.stop_requested()) {
    if (!turn()) service_.wait_for_stop(options_.poll);
  }
  FB_LOG_INFO("consumer_stopped", "", {"messaging_destination_name", options_.queue.name});
}

bool Consumer::turn() {
  observer_.heartbeat();
  turns_.fetch_add(1, std::memory_order_relaxed);
  if (stall_.on()) return false;
  std::optional<Message> message;
  try {
    message = queue_.claim(options_.identity);
  } catch (const DbError& e) {
    // Busy past the timeout, or the disk is gone: try again next turn.
    FB_LOG_ERROR("claim_failed", "", {"error", e.what()});
    return false;
  }
  if (!message) return false;
  handle(*message);
  return true;
}

void Consumer::handle(const Message& message) {
  firebreak::MessageScope scope(observer_, options_.queue.name, std::to_string(message.id),
                                message.headers);
  try {
    if (const double ms = slow_ms_.value(); ms > 0)
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(ms));
    if (const double rate = fail_rate_.value(); rate > 0 && roll(rate))
      throw TransientError("injected fault: fail_rate");

    const Invoice invoice = invoicer_.process(message);
    if (invoice.created)
      FB_LOG_INFO("invoice_created", "", {"order_id", invoice.order_id},
                  {"amount_cents", invoice.amount_cents}, {"attempt", message.attempt});
    else
      FB_LOG_INFO("invoice_exists", "redelivered message: the order is already invoiced",
                  {"order_id", invoice.order_id}, {"attempt", message.attempt});
    if (!queue_.ack(message))
      FB_LOG_WARN("lease_lost", "acked after the lease ran out; another worker may redo it",
                  {"attempt", message.attempt});
    scope.ok();
  } catch (const PermanentError& e) {
    try {
      queue_.fail(message, e.what(), /*permanent=*/true);
      scope.dead(e.what());
    } catch (const DbError& db_error) {
      scope.error(db_error.what());
    }
  } catch (const std::exception& e) {
    try {
      switch (queue_.fail(message, e.what())) {
        case FailResult::kRetry:
          scope.retry(e.what());
          break;
        case FailResult::kDead:
          scope.dead(e.what());
          break;
        case FailResult::kLeaseLost:
          scope.error(e.what());
          break;
      }
    } catch (const DbError& db_error) {
      // The failure itself could not be recorded; the lease will run out
      // and the message will come back.
      scope.error(db_error.what());
    }
  }
}

}  // namespace shop
