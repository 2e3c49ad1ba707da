// shop-api: the shop's HTTP API. Accepts orders, stores each one with its
// "order.created" message in one transaction, and serves them back.
//
//   shop-api --listen 127.0.0.1:8080 --admin-addr 127.0.0.1:9464 --db shop.db
//   curl -si -H 'Content-Type: application/json' -d '{"item":"book","quantity":2}'
//        http://127.0.0.1:8080/orders
//
// Logs the event `listening` with server "admin" and its address (HOST:PORT)
// once the admin port is bound, then with server "http" once it serves (port
// 0 picks a free one).
// Ready (/readyz) once the database is open and migrated; not ready while the
// fault switch never_ready or not_ready is set. On SIGTERM: not ready at once, serves on
// for --drain-seconds, then finishes the requests in progress and exits 0.
// Bad flags: exit status 2; cannot bind or a newer database schema: 1.
//
// Flags beyond the common ones (common/shop_process.h):
//   --listen HOST:PORT       SHOP_API_LISTEN; the public HTTP port
//   --threads N              server threads
//   --kit on|off             off: no request metrics, access log or spans, and
//                            tracing not started (the benchmark's baseline)
//   --access-log on|off      off: no http_request log line (metrics and spans
//                            stay as --kit says)
// Fault switches: never_ready, not_ready, slow_ms=N, error_rate=0..1 (api/orders_api.h).
// Tracing: OTEL_* / FIREBREAK_TRACES_FILE (firebreak/trace.h); logs:
// FIREBREAK_LOG_* (firebreak/log.h).
#include <CLI/CLI.hpp>

#include <iostream>

#include "api/http_server.h"
#include "api/orders_api.h"
#include "common/db_pool.h"
#include "common/faults.h"
#include "common/schema.h"
#include "common/shop_process.h"
#include "firebreak/log.h"
#include "firebreak/service.h"
#include "firebreak/trace.h"
#include "firebreak/workload/http.h"

namespace {

using std::chrono::milliseconds;

// Ready when the database answers with the schema this build expects.
firebreak::CheckResult database_check(shop::DbPool& pool) {
  try {
    auto db = pool.acquire();
    const int version = shop::schema_version(*db);
    if (version < shop::latest_schema_version())
      return firebreak::CheckResult::failure("schema version " + std::to_string(version) +
                                             ", not migrated yet");
    return firebreak::CheckResult::success();
  } catch (const shop::DbError& e) {
    return firebreak::CheckResult::failure(e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shop-api: the shop's HTTP API (orders)"};
  shop::CommonFlags flags{.admin_addr = "127.0.0.1:9464", .drain_seconds = 5};
  std::string listen = "127.0.0.1:8080";
  unsigned threads = 4;
  std::size_t max_body = 16 * 1024;
  std::string kit = "on";
  std::string access_log = "on";
  shop::add_common_flags(app, flags);
  app.add_option("--listen", listen, "Public HTTP address HOST:PORT (port 0: any free port)")
      ->envname("SHOP_API_LISTEN")
      ->capture_default_str();
  app.add_option("--threads", threads, "HTTP server threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--max-body-bytes", max_body, "Largest request body (413 beyond)")
      ->capture_default_str()
      ->check(CLI::Range(1, 16 * 1024 * 1024));
  app.add_option("--kit", kit, "Request instrumentation: on, or off for a baseline")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--access-log", access_log, "The http_request log line: on, or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  CLI11_PARSE(app, argc, argv);
  const bool kit_on = kit == "on";

  try {
    firebreak::ServiceOptions options{
        .name = "shop-api", .version = SHOP_VERSION, .workload = firebreak::Workload::kApi};
    options.admin.address = flags.admin_addr;
    options.drain_time = milliseconds(static_cast<std::int64_t>(flags.drain_seconds * 1000));
    firebreak::Service service(std::move(options));
    shop::FaultSwitches faults(shop::api_fault_specs());
    try {
      shop::apply_fault_flags(faults, flags.faults);  // after the Service: logs carry its name
    } catch (const std::invalid_argument& e) {
      std::cerr << "shop-api: " << e.what() << std::endl;
      return 2;
    }
    // After the Service: destroyed first, so its last spans are counted.
    firebreak::Tracing tracing;
    if (kit_on)
      tracing = firebreak::init_tracing({.service_name = "shop-api",
                                         .service_version = SHOP_VERSION,
                                         .registry = &service.registry()});

    faults.install(service.admin(), service.registry());
    shop::DbPool pool({.path = flags.db_path});
    const shop::Fault& never_ready = faults.get("never_ready");
    const shop::Fault& not_ready = faults.get("not_ready");
    service.health().add_readiness(
        "faults",
        [&never_ready, &not_ready] {
          if (never_ready.on())
            return firebreak::CheckResult::failure("fault switch never_ready is set");
          if (not_ready.on())
            return firebreak::CheckResult::failure("fault switch not_ready is set");
          return firebreak::CheckResult::success();
        },
        {.interval = milliseconds(250)});

    service.start();
    shop::announce("admin", service.admin_address());

    // Migrate before serving: a request must never meet an old schema.
    if (!shop::open_database(flags.db_path, service)) return service.wait();
    // Registered once migrated, so that its first run (due at once) passes.
    service.health().add_readiness("database", [&pool] { return database_check(pool); },
                                   {.timeout = milliseconds(1000), .interval = milliseconds(2000)});

    firebreak::HttpObserver observer(service.registry(), {.access_log = access_log == "on"});
    shop::OrdersApi api(pool, {.name = "orders"}, faults, service.registry());
    shop::HttpServer server({.address = listen, .threads = threads, .max_body_bytes = max_body},
                            api, kit_on ? &observer : nullptr);
    server.start();
    FB_LOG_INFO("listening", "", {"server", "http"}, {"address", server.address()}, {"kit", kit},
                {"tracing", tracing.status().exporter});
    firebreak::flush_logs();
    // The baseline keeps the start-up lines (scripts wait for `listening`).
    if (!kit_on) firebreak::set_log_level(firebreak::LogLevel::kWarn);
    service.mark_started();

    const int status = service.wait();  // SIGTERM: not ready, drain
    server.stop(std::chrono::seconds(5));
    return status;
  } catch (const std::exception& e) {
    std::cerr << "shop-api: " << e.what() << std::endl;
    return 1;
  }
}
