// minimal-service: the smallest useful Firebreak service. It serves /livez,
// /readyz and /metrics on its admin port, is not ready during a simulated
// start-up, has one readiness check ("database") that fails while a file
// exists, records a counter, a gauge and a histogram from simulated work, and
// on SIGTERM/SIGINT goes not-ready at once, drains, then exits 0.
//
//   minimal-service --admin-addr 127.0.0.1:0 --startup-delay 1 --drain-seconds 1
//                   --dependency-down-file /tmp/db-down
//
// Logs the event `listening` (server "admin", address HOST:PORT) once the
// admin port is bound (FIREBREAK_ADMIN_ADDR, when set, takes precedence over
// --admin-addr, as for every Firebreak service; see service.h). Errors go to
// stderr, exit status 1.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <thread>

#include "firebreak/log.h"
#include "firebreak/service.h"

namespace {

using Seconds = std::chrono::duration<double>;

template <class D>
std::chrono::milliseconds to_ms(D d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

// The simulated work: items of two kinds taken from a queue.
class Worker {
 public:
  explicit Worker(firebreak::Registry& registry)
      : items_(registry.counter({.name = "minimal_work_items_total",
                                 .help = "Work items processed, by kind.",
                                 .labels = {"kind"}})),
        queue_depth_(registry.gauge({.name = "minimal_queue_depth", .help = "Work items waiting."})
                         .labels()),
        duration_(registry.histogram({.name = "minimal_work_duration_seconds",
                                      .help = "Time to process a work item, by kind.",
                                      .labels = {"kind"},
                                      .unit = "seconds"})),
        small_{items_.labels("small"), duration_.labels("small")},
        large_{items_.labels("large"), duration_.labels("large")} {}

  // One turn of the loop: process a few items, note the heartbeat.
  void turn() {
    std::uniform_int_distribution<int> arrivals(0, 4);
    std::lognormal_distribution<double> small_time(-4.5, 0.5);  // ~11 ms
    std::lognormal_distribution<double> large_time(-2.5, 0.6);  // ~80 ms
    depth_ += arrivals(rng_);
    for (int i = 0; i < 3 && depth_ > 0; ++i, --depth_) {
      const bool large = rng_() % 5 == 0;
      Kind& kind = large ? large_ : small_;
      kind.items.inc();
      kind.duration.observe(large ? large_time(rng_) : small_time(rng_));
    }
    queue_depth_.set(depth_);
    heartbeat_.store(std::chrono::steady_clock::now().time_since_epoch().count());
  }

  // Seconds since the loop last turned.
  double heartbeat_age() const {
    const auto last = std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(heartbeat_.load()));
    return Seconds(std::chrono::steady_clock::now() - last).count();
  }

 private:
  struct Kind {
    firebreak::Counter items;
    firebreak::Histogram duration;
  };
  firebreak::CounterFamily& items_;
  firebreak::Gauge queue_depth_;
  firebreak::HistogramFamily& duration_;
  Kind small_;
  Kind large_;
  std::mt19937 rng_{std::random_device{}()};
  int depth_ = 0;
  std::atomic<std::chrono::steady_clock::rep> heartbeat_{
      std::chrono::steady_clock::now().time_since_epoch().count()};
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"minimal-service: a Firebreak service with health, readiness and metrics"};
  std::string admin_addr = "127.0.0.1:9464";
  double startup_delay = 1;
  double drain_seconds = 5;
  double check_interval = 1;
  std::string down_file;
  app.add_option("--admin-addr", admin_addr, "Admin HTTP address, HOST:PORT (port 0: any free)")
      ->capture_default_str();
  app.add_option("--startup-delay", startup_delay, "Seconds of simulated start-up before ready")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--drain-seconds", drain_seconds,
                 "Seconds between going not-ready on SIGTERM and exiting")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--check-interval", check_interval, "Seconds between two database checks")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--dependency-down-file", down_file,
                 "While this file exists, the \"database\" readiness check fails");
  CLI11_PARSE(app, argc, argv);

  try {
    firebreak::ServiceOptions options{.name = "minimal-service",
                                      .version = FIREBREAK_VERSION,
                                      .workload = firebreak::Workload::kApi};
    options.admin.address = admin_addr;
    options.drain_time = to_ms(Seconds(drain_seconds));
    firebreak::Service service(std::move(options));

    Worker worker(service.registry());
    service.health().add_liveness(
        "work-loop",
        [&worker] {
          const double age = worker.heartbeat_age();
          if (age > 10)
            return firebreak::CheckResult::failure("no loop turn for " +
                                                   std::to_string(static_cast<int>(age)) + "s");
          return firebreak::CheckResult::success();
        },
        {.interval = std::chrono::seconds(1)});
    service.health().add_readiness(
        "database",
        [down_file] {
          std::error_code ec;
          if (!down_file.empty() && std::filesystem::exists(down_file, ec))
            return firebreak::CheckResult::failure("dependency down: " + down_file + " exists");
          return firebreak::CheckResult::success();
        },
        {.timeout = std::chrono::milliseconds(500), .interval = to_ms(Seconds(check_interval))});

    service.start();
    FB_LOG_INFO("listening", "", {"server", "admin"}, {"address", service.admin_address()});
    firebreak::flush_logs();

    std::thread work([&] {
      do {
        worker.turn();
      } while (!service.wait_for_stop(std::chrono::milliseconds(100)));
    });
    if (!service.wait_for_stop(to_ms(Seconds(startup_delay)))) service.mark_started();
    const int status = service.wait();
    work.join();
    return status;
  } catch (const std::exception& e) {
    std::cerr << "minimal-service: " << e.what() << std::endl;
    return 1;
  }
}
