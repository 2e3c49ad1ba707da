#include "firebreak/service.h"

#include "firebreak/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <utility>

#include "firebreak/process_metrics.h"

namespace firebreak {

std::string_view to_string(Workload workload) {
  switch (workload) {
    case Workload::kApi:
      return "api";
    case Workload::kWorker:
      return "worker";
    case Workload::kJob:
      return "job";
  }
  return "api";
}

std::optional<Workload> parse_workload(std::string_view text) {
  if (text == "api") return Workload::kApi;
  if (text == "worker") return Workload::kWorker;
  if (text == "job") return Workload::kJob;
  return std::nullopt;
}

std::optional<std::string> process_env(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

namespace {

// An environment variable, with empty counted as unset.
std::optional<std::string> env_value(const EnvLookup& env, std::string_view name) {
  auto value = env(name);
  if (value && value->empty()) return std::nullopt;
  return value;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// OTEL_RESOURCE_ATTRIBUTES: "key1=value1,key2=value2", values percent-encoded
// (W3C Baggage octets). Malformed entries are skipped, as the SDKs do.
std::map<std::string, std::string, std::less<>> parse_resource_attributes(std::string_view text) {
  std::map<std::string, std::string, std::less<>> attrs;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = trim(item.substr(0, eq));
    const std::string value = percent_decode(trim(item.substr(eq + 1)));
    if (key.empty()) continue;
    attrs[std::string(key)] = value;
  }
  return attrs;
}

std::string default_service_name() {
  return std::string("unknown_service:") + program_invocation_short_name;
}

// The process's start time from /proc (Linux), for time to ready; nullopt
// when it cannot be read.
std::optional<Clock::WallTime> process_start_time() {
  const std::optional<double> seconds = process_start_time_seconds();
  if (!seconds) return std::nullopt;
  return Clock::WallTime(
      std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(*seconds)));
}

// The write end of the signal pipe of the Service holding the signals.
std::atomic<int> g_signal_fd{-1};
struct sigaction g_previous_term;
struct sigaction g_previous_int;

extern "C" void firebreak_on_signal(int signo) {
  const int saved_errno = errno;
  const int fd = g_signal_fd.load();
  if (fd >= 0) {
    const char byte = static_cast<char>(signo);
    [[maybe_unused]] const auto n = ::write(fd, &byte, 1);  // async-signal-safe
  }
  errno = saved_errno;
}

}  // namespace

ServiceIdentity resolve_identity(const ServiceOptions& options, const EnvLookup& env) {
  ServiceIdentity id{options.name, options.version, options.environment, options.workload};
  if (const auto attrs_text = env_value(env, "OTEL_RESOURCE_ATTRIBUTES")) {
    const auto attrs = parse_resource_attributes(*attrs_text);
    const auto take = [&](std::string_view key, std::string& into) {
      const auto it = attrs.find(key);
      if (it != attrs.end() && !it->second.empty()) {
        into = it->second;
        return true;
      }
      return false;
    };
    take("service.name", id.name);
    take("service.version", id.version);
    if (!take("deployment.environment.name", id.environment))
      take("deployment.environment", id.environment);
  }
  if (auto v = env_value(env, "OTEL_SERVICE_NAME")) id.name = std::move(*v);
  if (auto v = env_value(env, "FIREBREAK_SERVICE_NAME")) id.name = std::move(*v);
  if (auto v = env_value(env, "FIREBREAK_SERVICE_VERSION")) id.version = std::move(*v);
  if (auto v = env_value(env, "FIREBREAK_ENVIRONMENT")) id.environment = std::move(*v);
  if (auto v = env_value(env, "FIREBREAK_WORKLOAD")) {
    const auto workload = parse_workload(*v);
    if (!workload)
      throw std::invalid_argument("FIREBREAK_WORKLOAD=\"" + *v +
                                  "\" is not a workload kind: use api, worker or job");
    id.workload = *workload;
  }
  if (id.name.empty()) id.name = default_service_name();
  if (id.version.empty()) id.version = "unknown";
  if (id.environment.empty()) id.environment = "unknown";
  return id;
}

std::string resolve_admin_address(const ServiceOptions& options, const EnvLookup& env) {
  if (auto v = env_value(env, "FIREBREAK_ADMIN_ADDR")) return std::move(*v);
  return options.admin.address;
}

namespace {

const EnvLookup& env_of(const ServiceOptions& options) {
  static const EnvLookup kProcessEnv = process_env;
  return options.env ? options.env : kProcessEnv;
}

MultiprocessMode resolve_multiprocess(ServiceOptions& options, const EnvLookup& env) {
  if (options.multiprocess_file.empty()) {
    if (auto v = env_value(env, "FIREBREAK_MULTIPROCESS_FILE")) options.multiprocess_file = *v;
  }
  MultiprocessMode mode = options.multiprocess;
  if (mode == MultiprocessMode::kAuto)
    mode = options.multiprocess_file.empty() ? MultiprocessMode::kOff : MultiprocessMode::kJoin;
  if (mode != MultiprocessMode::kOff && options.multiprocess_file.empty()) {
    throw std::invalid_argument(
        "multi-process mode needs a file: set multiprocess_file or FIREBREAK_MULTIPROCESS_FILE");
  }
  return mode;
}

std::unique_ptr<MultiprocessRegion> open_region(MultiprocessMode mode,
                                                const ServiceOptions& options) {
  if (mode == MultiprocessMode::kOff) return nullptr;
  std::unique_ptr<MultiprocessRegion> region;
  if (mode == MultiprocessMode::kServe) {
    MultiprocessOptions o = options.multiprocess_options;
    o.path = options.multiprocess_file;
    region = MultiprocessRegion::create(o);
    ::setenv("FIREBREAK_MULTIPROCESS_FILE", o.path.c_str(), 1);
  } else {
    region = MultiprocessRegion::open(options.multiprocess_file);
  }
  region->join();  // the serving process records into a slot too, and merges it with the rest
  return region;
}

HealthOptions health_options(const ServiceOptions& options) {
  HealthOptions h{.clock = options.clock};
  // Time to ready counts from the process's start, as the ServiceNeverReady
  // alert does; a test clock keeps its own origin.
  if (dynamic_cast<const SystemClock*>(options.clock) != nullptr)
    h.start_time = process_start_time();
  return h;
}

}  // namespace

Service::Service(ServiceOptions options)
    : options_(std::move(options)),
      identity_(resolve_identity(options_, env_of(options_))),
      multiprocess_(resolve_multiprocess(options_, env_of(options_))),
      region_(open_region(multiprocess_, options_)),
      registry_(
          RegistryOptions{.clock = options_.clock, .slot = region_ ? &region_->join() : nullptr}),
      health_(registry_, health_options(options_)) {
  AdminOptions admin = options_.admin;
  admin.address = resolve_admin_address(options_, env_of(options_));
  admin.registry = &registry_;
  admin.health = &health_;
  admin_ = std::make_unique<AdminServer>(std::move(admin));

  registry_
      .gauge({.name = "target_info",
              .help = "The service's identity; always 1.",
              .labels = {"service_name", "service_version", "deployment_environment", "workload"},
              .combine = ProcessCombine::kMax})
      .labels(identity_.name, identity_.version, identity_.environment,
              to_string(identity_.workload))
      .set(1);
  if (multiprocess_ == MultiprocessMode::kServe) {
    const pid_t master = options_.multiprocess_master ? options_.multiprocess_master : ::getpid();
    registry_.add_collector([region = region_.get(), master, processes = options_.process_metrics](
                                std::vector<FamilySnapshot>& out) {
      region->collect(out);
      if (processes) region->collect_processes(out, {::getpid(), master}, master);
    });
    health_.add_readiness(
        "processes",
        [region = region_.get(), all = options_.ready_when_all] {
          // A process still starting (a worker forked to replace a recycled
          // one) does not count until it has been ready once: recycling must not
          // flap the service's readiness. One that was ready and is not, does.
          std::size_t ready = 0, settled = 0;
          for (const auto& m : region->members()) {
            settled += !m.starting;
            ready += m.ready;
          }
          if (ready == 0) return CheckResult::failure("no process is ready");
          if (all && ready < settled) {
            return CheckResult::failure(std::to_string(settled - ready) + " of " +
                                        std::to_string(settled) + " processes not ready");
          }
          return CheckResult::success();
        },
        // Cheap (shared memory and a lock test per slot), and what the
        // service's readiness waits on: as often as the processes report.
        CheckOptions{.interval = std::chrono::milliseconds(500)});
  } else if (options_.process_metrics && multiprocess_ == MultiprocessMode::kOff) {
    register_process_metrics(registry_);
  }
  // Logs carry the same identity as target_info, and are counted here.
  set_log_identity({.service = identity_.name,
                    .version = identity_.version,
                    .env = identity_.environment,
                    .workload = std::string(to_string(identity_.workload))});
  register_log_metrics(registry_);
  if (options_.tracing) {
    tracing_ = init_tracing({.service_name = identity_.name,
                             .service_version = identity_.version,
                             .environment = identity_.environment,
                             .registry = &registry_,
                             .clock = options_.clock,
                             .env = options_.env});
  }
}

Service::~Service() {
  shut_down();
}

void Service::start() {
  {
    std::lock_guard lock(mu_);
    if (started_) throw std::logic_error("firebreak::Service::start() called twice");
    started_ = true;
  }
  if (multiprocess_ == MultiprocessMode::kJoin)
    report_thread_ = std::thread([this] { report_loop(); });
  else
    admin_->start();
  health_.start_runner();
  if (options_.handle_signals) install_signals();
  FB_LOG_INFO("service_started", "", {"admin_address", admin_->address()},
              {"tracing", tracing_.status().exporter},
              {"multiprocess", region_ ? region_->path() : std::string()});
}

void Service::request_stop() {
  health_.start_draining();  // first: not ready at once
  bool first;
  {
    std::lock_guard lock(mu_);
    first = !stop_requested_;
    if (stop_requested_)
      drain_cut_short_ = true;
    else
      stop_requested_ = true;
  }
  cv_.notify_all();
  if (first) {
    FB_LOG_INFO("service_draining", "Not ready; draining before exit",
                {"drain_s", options_.drain_time});
  } else {
    FB_LOG_INFO("service_drain_cut_short", "Second stop request; exiting now");
  }
}

bool Service::stop_requested() const {
  std::lock_guard lock(mu_);
  return stop_requested_;
}

bool Service::wait_for_stop(std::chrono::nanoseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return stop_requested_; });
}

int Service::wait() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stop_requested_; });
    cv_.wait_for(lock, options_.drain_time, [&] { return drain_cut_short_; });
  }
  shut_down();
  return 0;
}

void Service::shut_down() {
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  admin_->stop();
  if (report_thread_.joinable()) {
    cv_.notify_all();
    report_thread_.join();
  }
  if (region_) region_->report_ready(false);
  health_.stop_runner();
  uninstall_signals();
  tracing_.flush(std::chrono::seconds(2));
  FB_LOG_INFO("service_stopped", "");
  flush_logs();
}

// kJoin: the serving process's /readyz reads what each process last reported.
void Service::report_loop() {
  pthread_setname_np(pthread_self(), "fb-mp-report");
  std::unique_lock lock(mu_);
  while (!shut_down_) {
    lock.unlock();
    region_->report_ready(health_.ready());
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return shut_down_; });
  }
}

void Service::install_signals() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("firebreak::Service: pipe2: ") + std::strerror(errno));
  ::fcntl(fds[1], F_SETFL, ::fcntl(fds[1], F_GETFL) | O_NONBLOCK);
  int expected = -1;
  if (!g_signal_fd.compare_exchange_strong(expected, fds[1])) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::logic_error(
        "firebreak::Service: another Service already handles SIGTERM/SIGINT in this process "
        "(set handle_signals = false on all but one)");
  }
  signal_pipe_[0] = fds[0];
  signal_pipe_[1] = fds[1];
  struct sigaction action {};
  action.sa_handler = firebreak_on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &action, &g_previous_term);
  ::sigaction(SIGINT, &action, &g_previous_int);
  signals_installed_ = true;
  signal_thread_ = std::thread([this] { signal_loop(); });
}

void Service::signal_loop() {
  pthread_setname_np(pthread_self(), "fb-signals");
  for (;;) {
    char byte = 0;
    const auto n = ::read(signal_pipe_[0], &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || byte == 0) return;  // 0: uninstall_signals() wants us gone
    request_stop();
  }
}

void Service::uninstall_signals() {
  if (!signals_installed_) return;
  signals_installed_ = false;
  ::sigaction(SIGTERM, &g_previous_term, nullptr);
  ::sigaction(SIGINT, &g_previous_int, nullptr);
  const char stop = 0;
  while (::write(signal_pipe_[1], &stop, 1) < 0 && errno == EINTR) {
  }
  signal_thread_.join();
  g_signal_fd.store(-1);
  ::close(signal_pipe_[0]);
  ::close(signal_pipe_[1]);
  signal_pipe_[0] = signal_pipe_[1] = -1;
}

}  // namespace firebreak
