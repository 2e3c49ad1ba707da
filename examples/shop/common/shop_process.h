// What every shop binary does the same way: its common flags, the fault
// switch flags, announcing its addresses, and opening the database.
//
//   shop::CommonFlags flags{.admin_addr = "127.0.0.1:9465"};
//   CLI::App app{"shop-worker"};
//   shop::add_common_flags(app, flags);
//   CLI11_PARSE(app, argc, argv);
//   ...
//   service.start();
//   shop::announce("admin", service.admin_address());
//   // {...,"event":"listening",...,"server":"admin","address":"127.0.0.1:9465"}
//   auto db = shop::open_database(flags.db_path, service);  // waits for it, or nullptr on stop
//
// Flags and their environment variables (a flag wins over its variable):
//   --admin-addr HOST:PORT   the admin port (/livez /readyz /metrics /fault);
//                            FIREBREAK_ADMIN_ADDR, when set, wins over both
//                            (service.h), as for every Firebreak service
//   --db PATH                SHOP_DB; the SQLite file the three binaries share
//   --fault NAME[=VALUE]     repeatable; see common/faults.h
//   --drain-seconds S        time between not-ready and exit on SIGTERM
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/db.h"
#include "common/faults.h"
#include "firebreak/service.h"

namespace shop {

struct CommonFlags {
  std::string admin_addr;
  std::string db_path = "shop.db";
  std::vector<std::string> faults = {};
  double drain_seconds = 1;
};

void add_common_flags(CLI::App& app, CommonFlags& flags);

// Applies each --fault flag. Throws std::invalid_argument (the message is
// meant for the user).
void apply_fault_flags(FaultSwitches& faults, const std::vector<std::string>& flags);

// Logs the `listening` event (fields `server`, e.g. "admin" or "http", and
// `address`, HOST:PORT) and flushes the log: the line scripts and tests wait
// for, since with port 0 only the process knows its port.
void announce(std::string_view server, std::string_view address);

// "<host>:<pid>": who holds a lease, for humans reading the messages table.
std::string process_identity(std::string_view program);

// Opens the database and brings its schema up to date, retrying every
// `retry` while it fails (logging each failure) until it works or the
// service is asked to stop (then nullptr). A newer schema than this build's
// is not retried: SchemaError propagates.
std::unique_ptr<Db> open_database(const std::string& path, const firebreak::Service& service,
                                  std::chrono::milliseconds retry = std::chrono::seconds(1));

}  // namespace shop
