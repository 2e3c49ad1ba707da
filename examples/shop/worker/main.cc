// shop-worker: consumes "order.created" messages and writes one invoice per
// order (worker/consumer.h, worker/invoicer.h).
//
//   shop-worker --admin-addr 127.0.0.1:9465 --db shop.db --lease-seconds 30
//
// Prints "admin listening on HOST:PORT" once the admin port is bound. Ready
// once the database is reachable and the loop has turned. On SIGTERM it stops
// claiming, finishes the message in hand, and exits 0 after --drain-seconds.
// Bad flags: exit status 2; a newer database schema: 1.
//
// Flags beyond the common ones (common/shop_process.h):
//   --poll-ms N            sleep when the queue is empty
//   --lease-seconds S      how long a claimed message stays invisible to others
//   --max-attempts N       tries before a message is dead-lettered
//   --retry-base-ms N      first retry backoff (doubles, capped by --retry-max-ms)
// Fault switches: stall, fail_rate=0..1, slow_ms=N (worker/consumer.h).
#include <CLI/CLI.hpp>

#include <iostream>
#include <mutex>
#include <thread>

#include "common/schema.h"
#include "common/shop_process.h"
#include "firebreak/log.h"
#include "firebreak/service.h"
#include "firebreak/trace.h"
#include "firebreak/workload/worker.h"
#include "worker/consumer.h"

namespace {

using std::chrono::milliseconds;

// The queue gauges are read at scrape time, on the admin server's thread:
// through a connection of their own, never the loop's.
class BacklogReader {
 public:
  BacklogReader(std::string path, shop::QueueOptions options)
      : path_(std::move(path)), options_(std::move(options)) {}

  std::optional<firebreak::QueueStats> read() {
    std::lock_guard lock(mu_);
    try {
      if (!db_) db_ = std::make_unique<shop::Db>(shop::DbOptions{.path = path_});
      const shop::QueueBacklog b = shop::Queue(*db_, options_).backlog();
      firebreak::QueueStats stats{.depth = static_cast<std::uint64_t>(b.waiting)};
      if (b.oldest_enqueued_at)
        stats.oldest_enqueued_at =
            firebreak::Clock::WallTime(std::chrono::duration_cast<firebreak::Clock::Duration>(
                std::chrono::duration<double>(*b.oldest_enqueued_at)));
      return stats;
    } catch (const shop::DbError&) {
      db_.reset();          // reopen next time
      return std::nullopt;  // the series are absent from this scrape
    }
  }

  // Readiness: the queue table answers.
  firebreak::CheckResult check() {
    std::lock_guard lock(mu_);
    try {
      if (!db_) db_ = std::make_unique<shop::Db>(shop::DbOptions{.path = path_});
      if (shop::schema_version(*db_) < shop::latest_schema_version())
        return firebreak::CheckResult::failure("database not migrated yet");
      return firebreak::CheckResult::success();
    } catch (const shop::DbError& e) {
      db_.reset();
      return firebreak::CheckResult::failure(e.what());
    }
  }

 private:
  const std::string path_;
  const shop::QueueOptions options_;
  std::mutex mu_;
  std::unique_ptr<shop::Db> db_;  // guarded by mu_
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shop-worker: turns order.created messages into invoices"};
  shop::CommonFlags flags{.admin_addr = "127.0.0.1:9465", .drain_seconds = 1};
  int poll_ms = 200;
  double lease_seconds = 30;
  int max_attempts = 5;
  int retry_base_ms = 1000;
  int retry_max_ms = 60000;
  shop::add_common_flags(app, flags);
  app.add_option("--poll-ms", poll_ms, "Sleep when the queue is empty, milliseconds")
      ->capture_default_str()
      ->check(CLI::Range(1, 60000));
  app.add_option("--lease-seconds", lease_seconds, "Lease (visibility timeout) of a message")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  app.add_option("--max-attempts", max_attempts, "Tries before a message is dead-lettered")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--retry-base-ms", retry_base_ms, "First retry backoff, milliseconds")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600000));
  app.add_option("--retry-max-ms", retry_max_ms, "Longest retry backoff, milliseconds")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400000));
  CLI11_PARSE(app, argc, argv);

  try {
    firebreak::ServiceOptions options{
        .name = "shop-worker", .version = SHOP_VERSION, .workload = firebreak::Workload::kWorker};
    options.admin.address = flags.admin_addr;
    options.drain_time = milliseconds(static_cast<std::int64_t>(flags.drain_seconds * 1000));
    firebreak::Service service(std::move(options));
    shop::FaultSwitches faults(shop::worker_fault_specs());
    try {
      shop::apply_fault_flags(faults, flags.faults);
    } catch (const std::invalid_argument& e) {
      std::cerr << "shop-worker: " << e.what() << std::endl;
      return 2;
    }
    firebreak::Tracing tracing = firebreak::init_tracing({.service_name = "shop-worker",
                                                          .service_version = SHOP_VERSION,
                                                          .registry = &service.registry()});
    faults.install(service.admin(), service.registry());

    const shop::QueueOptions queue_options{
        .name = "orders",
        .lease = milliseconds(static_cast<std::int64_t>(lease_seconds * 1000)),
        .max_attempts = max_attempts,
        .retry_base = milliseconds(retry_base_ms),
        .retry_max = milliseconds(retry_max_ms)};

    BacklogReader backlog(flags.db_path, queue_options);
    firebreak::WorkerObserver observer(service.registry());
    observer.watch_queue(queue_options.name, [&backlog] { return backlog.read(); });

    service.start();
    shop::announce("admin", service.admin_address());

    auto db = shop::open_database(flags.db_path, service);
    if (!db) return service.wait();
    // Registered once migrated, so that its first run (due at once) passes.
    service.health().add_readiness("queue", [&backlog] { return backlog.check(); },
                                   {.timeout = milliseconds(1000), .interval = milliseconds(2000)});
    shop::Consumer consumer(*db, observer, faults, service,
                            {.queue = queue_options,
                             .poll = milliseconds(poll_ms),
                             .identity = shop::process_identity("shop-worker")});
    std::thread loop([&consumer] { consumer.run(); });
    while (!consumer.running() && !service.wait_for_stop(milliseconds(5))) {
    }
    service.mark_started();

    const int status = service.wait();  // SIGTERM: stop claiming, drain
    loop.join();                        // the message in hand is finished
    return status;
  } catch (const std::exception& e) {
    std::cerr << "shop-worker: " << e.what() << std::endl;
    return 1;
  }
}
