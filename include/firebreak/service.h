// Service: wires a service's identity, metrics registry, health and admin
// server together, and runs the shutdown sequence (not ready at once on
// SIGTERM/SIGINT, drain, then return so main can exit 0).
//
//   int main() {
//     firebreak::Service service({.name = "checkout", .version = "1.4.2",
//                                 .workload = firebreak::Workload::kApi});
//     auto& orders = service.registry().counter({.name = "orders_total", .help = "Orders."});
//     service.health().add_readiness("db", [&] { return db.ping(); });
//     service.start();                   // admin server on 127.0.0.1:9464, signals, checks
//     ...                                // start serving; orders.labels().inc() per order
//     service.mark_started();            // ready once "db" passes
//     return service.wait();             // returns 0 after SIGTERM + drain time
//   }
//
// Identity and admin address: each value is taken from, lowest precedence
// first, (1) ServiceOptions, (2) OTEL_RESOURCE_ATTRIBUTES (service.name,
// service.version, deployment.environment.name, else deployment.environment),
// (3) OTEL_SERVICE_NAME (name only), (4) FIREBREAK_SERVICE_NAME,
// FIREBREAK_SERVICE_VERSION, FIREBREAK_ENVIRONMENT, FIREBREAK_WORKLOAD
// (api|worker|job), FIREBREAK_ADMIN_ADDR. So the environment overrides what
// the code passes, including values the code set explicitly: the operator who
// deploys the binary has the last word. Empty variables count as unset.
// Unset everywhere: name "unknown_service:<executable>" (as OpenTelemetry
// SDKs do), version and environment "unknown".
//
// Metrics registered: target_info{service_name,service_version,
// deployment_environment,workload} = 1, the process_* families
// (process_metrics.h), Health's (health.h), the log counters (log.h) and the
// span counters (trace.h). Logs and spans carry the same identity.
//
// Thread-safety: all member functions are thread-safe; wait() is meant to be
// called once, from main.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "firebreak/admin.h"
#include "firebreak/clock.h"
#include "firebreak/health.h"
#include "firebreak/metrics.h"
#include "firebreak/multiprocess.h"
#include "firebreak/trace.h"

namespace firebreak {

enum class Workload { kApi, kWorker, kJob };

// Multi-process mode, for the processes of a pre-fork server (multiprocess.h).
enum class MultiprocessMode {
  kAuto,   // kJoin when FIREBREAK_MULTIPROCESS_FILE is set, else kOff
  kOff,    // one process: the Service serves its own admin port
  kServe,  // creates the shared file and serves the admin port for every
           // process: /metrics merged, /readyz from every live process
  kJoin,   // records into the shared file; serves no port (start() binds nothing)
};

// "api", "worker" or "job".
std::string_view to_string(Workload workload);
// Parses "api", "worker" or "job"; nullopt otherwise.
std::optional<Workload> parse_workload(std::string_view text);

// Reads an environment variable; nullopt when unset. Injected for tests.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
// The process environment (getenv).
std::optional<std::string> process_env(std::string_view name);

struct ServiceIdentity {
  std::string name;
  std::string version;
  std::string environment;
  Workload workload = Workload::kApi;
};

struct ServiceOptions {
  std::string name = {};
  std::string version = {};
  std::string environment = {};  // e.g. "production", "staging"
  Workload workload = Workload::kApi;
  // The admin server; .registry and .health are set by the Service, .address
  // is overridden by FIREBREAK_ADMIN_ADDR.
  AdminOptions admin = {};
  // Time between going not-ready and wait() returning, so that load balancers
  // and callers stop sending before the process stops serving.
  std::chrono::milliseconds drain_time = std::chrono::seconds(5);
  // Install SIGTERM and SIGINT handlers in start() (restored when wait()
  // returns or the Service is destroyed). Only one Service in a process can
  // hold them; start() throws std::logic_error for a second one.
  bool handle_signals = true;
  // Register the process_* collector.
  bool process_metrics = true;
  // Set up tracing (init_tracing) with this identity and registry. Tracing
  // records nothing until an exporter is configured (OTEL_EXPORTER_OTLP_ENDPOINT
  // or FIREBREAK_TRACES_FILE); it propagates context either way.
  bool tracing = true;
  const Clock* clock = &Clock::system();
  // Where environment variables come from; empty = the process environment.
  EnvLookup env = {};

  MultiprocessMode multiprocess = MultiprocessMode::kAuto;
  // The shared file; empty: FIREBREAK_MULTIPROCESS_FILE. kServe also sets
  // that variable, so that the processes it starts find the file.
  std::string multiprocess_file = {};
  // kServe: the shared file's size (max_processes, slot_mebibytes).
  MultiprocessOptions multiprocess_options = {};
  // kServe: /readyz passes when every live process reports ready (false:
  // when any does); never before one has.
  bool ready_when_all = true;
  // kServe: a process whose CPU and memory count as the service's and whose
  // start is the service's (the pre-fork server's master); 0: this process.
  pid_t multiprocess_master = 0;
};

// The identity `options` resolves to under the precedence above. Throws
// std::invalid_argument for a FIREBREAK_WORKLOAD that is not api|worker|job.
ServiceIdentity resolve_identity(const ServiceOptions& options, const EnvLookup& env = process_env);
// The admin address: FIREBREAK_ADMIN_ADDR if set, else options.admin.address.
std::string resolve_admin_address(const ServiceOptions& options,
                                  const EnvLookup& env = process_env);

class Service {
 public:
  // Resolves the identity, creates the registry and health, and registers
  // target_info and the process metrics. Throws std::invalid_argument on bad
  // configuration from the environment. Binds nothing yet.
  explicit Service(ServiceOptions options = {});
  // Stops the admin server and the health runner, restores signal handlers.
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const ServiceIdentity& identity() const { return identity_; }
  Registry& registry() { return registry_; }
  // What tracing was set up with (status().enabled is false when off).
  const Tracing& tracing() const { return tracing_; }
  Health& health() { return health_; }
  // The admin server, e.g. to add handlers (before or after start()).
  AdminServer& admin() { return *admin_; }

  // Starts the admin server (throws AdminError when it cannot bind), the
  // health runner and the signal handlers. Call once. In kJoin mode, starts
  // reporting readiness to the serving process instead of the admin server.
  void start();
  // The bound admin address ("127.0.0.1:40123"); "" before start().
  std::string admin_address() const { return admin_->address(); }

  // Opens the start-up gate (Health::mark_started).
  void mark_started() { health_.mark_started(); }

  // Begins shutdown, as SIGTERM does: readiness false at once, and wait()
  // returns once the drain time has passed. A second request (or signal)
  // ends the drain early. Safe to call from any thread, not from a signal
  // handler.
  void request_stop();
  // Whether shutdown has begun (for work loops to stop taking new work).
  bool stop_requested() const;
  // Waits up to `timeout` for shutdown to begin; true if it has. For
  // interruptible waits, e.g. a start-up delay.
  bool wait_for_stop(std::chrono::nanoseconds timeout) const;

  // Blocks until shutdown begins, waits the drain time (the admin server keeps
  // answering, /readyz with 503), then stops the admin server, the health
  // runner and the signal handlers, and returns 0: main's exit status.
  int wait();

 private:
  void install_signals();
  void uninstall_signals();
  void signal_loop();
  void shut_down();
  void report_loop();

  ServiceOptions options_;
  ServiceIdentity identity_;
  MultiprocessMode multiprocess_;
  std::unique_ptr<MultiprocessRegion> region_;  // before registry_: its series live there
  Registry registry_;
  Health health_;
  Tracing tracing_;  // after registry_: destroyed (flushed) before it
  std::unique_ptr<AdminServer> admin_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stop_requested_ = false;   // guarded by mu_
  bool drain_cut_short_ = false;  // guarded by mu_
  bool started_ = false;          // guarded by mu_
  bool shut_down_ = false;        // guarded by mu_

  bool signals_installed_ = false;
  int signal_pipe_[2] = {-1, -1};
  std::thread signal_thread_;
  std::thread report_thread_;  // kJoin: readiness to the serving process
};

}  // namespace firebreak
