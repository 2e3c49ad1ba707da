#include "common/shop_process.h"

#include <unistd.h>

#include <iostream>

#include "common/schema.h"
#include "firebreak/log.h"

namespace shop {

void add_common_flags(CLI::App& app, CommonFlags& flags) {
  app.add_option("--admin-addr", flags.admin_addr,
                 "Admin address HOST:PORT (port 0: any free port, printed at start); "
                 "FIREBREAK_ADMIN_ADDR wins when set")
      ->capture_default_str();
  app.add_option("--db", flags.db_path, "SQLite database shared by the shop's processes")
      ->envname("SHOP_DB")
      ->capture_default_str();
  app.add_option("--fault", flags.faults,
                 "Fault switch NAME or NAME=VALUE, repeatable (also POST /fault on the admin "
                 "port)");
  app.add_option("--drain-seconds", flags.drain_seconds,
                 "Seconds between going not-ready on SIGTERM and exiting")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

void apply_fault_flags(FaultSwitches& faults, const std::vector<std::string>& flags) {
  for (const auto& f : flags) faults.set_from_flag(f);
}

void announce(std::string_view server, std::string_view address) {
  FB_LOG_INFO("listening", "", {"server", server}, {"address", address});
  firebreak::flush_logs();  // at once: whoever started the process is waiting for it
}

std::string process_identity(std::string_view program) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(program) + "@" + host + ":" + std::to_string(::getpid());
}

std::unique_ptr<Db> open_database(const std::string& path, const firebreak::Service& service,
                                  std::chrono::milliseconds retry) {
  for (;;) {
    try {
      auto db = std::make_unique<Db>(DbOptions{.path = path});
      const int applied = migrate(*db);
      FB_LOG_INFO("database_opened", "", {"db_path", path}, {"schema_version", schema_version(*db)},
                  {"migrations_applied", applied});
      return db;
    } catch (const DbError& e) {
      FB_LOG_ERROR("database_unavailable", "cannot open the database; retrying", {"db_path", path},
                   {"error", e.what()});
    }
    if (service.wait_for_stop(retry)) return nullptr;
  }
}

}  // namespace shop
