// `firebreak demo`: the reference shop (examples/shop: shop-api, shop-worker,
// shop-daily, shop-load) and `firebreak watch` on it, at demo scale, with
// faults to break on purpose and heal (cli/demo_plan.h says which alert each
// one fires, and when). The shop's traces go to watch.
//
// Start-up: a temporary directory; watch (with no target yet) and its
// address, printed first as the status page's URL; the shop, its exporters
// pointed at watch; then watch's configuration gets the shop's targets
// (SIGHUP). While it runs, commands come from stdin and from the control
// socket that `firebreak demo --break NAME` / `--heal` in another terminal
// use (an abstract Unix socket, one per user). SIGINT, SIGTERM or SIGHUP:
// every child is stopped (SIGTERM, then SIGKILL after a bound), the
// directory removed, exit 0.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/demo_plan.h"
#include "cli/demo_process.h"
#include "cli/watch_api.h"
#include "firebreak/http_client.h"
#include "watch/silence/silence.h"

extern char** environ;

namespace firebreak::cli {
namespace {

namespace fs = std::filesystem;
using demo::Fault;
using demo::Process;
using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kStartTimeout{20'000};
constexpr milliseconds kStopGrace{10'000};

// Set by SIGINT, SIGTERM and SIGHUP; the pipe wakes the loop's poll().
std::atomic<bool> g_stop{false};
int g_wake[2] = {-1, -1};

extern "C" void on_stop_signal(int) {
  g_stop.store(true);
  const char byte = 's';
  [[maybe_unused]] auto n = ::write(g_wake[1], &byte, 1);
}

void install_signals() {
  if (g_wake[0] < 0 && ::pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::runtime_error("pipe2 failed");
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a control client that went away
}

struct DemoArgs {
  std::vector<std::string> breaks;
  bool heal = false;
  int rate = 10;
  double scale = 1;
  std::string listen = "127.0.0.1:0";
  std::string shop_dir;  // default: next to this executable
  std::string control;   // default: firebreak-demo-<uid>
};

std::string self_path() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("firebreak") : p.string();
}

// --- the control socket -----------------------------------------------------------

std::string default_control() {
  return "firebreak-demo-" + std::to_string(::getuid());
}

// An abstract socket: nothing in the file system to leave behind.
socklen_t control_address(const std::string& name, sockaddr_un& addr) {
  addr = {};
  addr.sun_family = AF_UNIX;
  const std::size_t n = std::min(name.size(), sizeof(addr.sun_path) - 1);
  std::memcpy(addr.sun_path + 1, name.data(), n);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
}

void set_timeout(int fd, milliseconds timeout) {
  timeval tv{.tv_sec = static_cast<time_t>(timeout.count() / 1000),
             .tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Reads until EOF, `limit` bytes, or the socket's timeout.
std::string read_all(int fd, std::size_t limit) {
  std::string out;
  char buf[4096];
  while (out.size() < limit) {
    const auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const auto n = ::write(fd, text.data(), text.size());
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Sends one command line to a running demo; its reply ("ok\n" or "error\n",
// then text), or nullopt when no demo listens on `name`.
std::optional<std::string> ask_running_demo(const std::string& name, const std::string& command) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_un addr;
  const socklen_t len = control_address(name, addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  set_timeout(fd, milliseconds(60'000));  // a restart into never-ready takes a few seconds
  write_all(fd, command + "\n");
  ::shutdown(fd, SHUT_WR);
  std::string reply = read_all(fd, 1 << 20);
  ::close(fd);
  return reply;
}

// --- the demo ------------------------------------------------------------------------

std::string now_text() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

// A process of the shop (or watch) and where it listens.
struct Proc {
  std::string name;
  std::unique_ptr<demo::Child> child;
  std::string admin;  // HOST:PORT of its admin port (watch: its listen address)
  std::string http;   // shop-api's public port
  bool stopped_by_fault = false;
  bool exit_reported = false;

  bool running() const { return child && child->running(); }
};

// A command's outcome.
struct Reply {
  bool ok = true;
  std::string text;
  bool quit = false;
};

// An alert a break predicted, until it fires.
struct Expected {
  demo::Expectation expectation;
  Fault fault;
  Clock::time_point at;
};

class Demo {
 public:
  explicit Demo(DemoArgs args)
      : args_(std::move(args)),
        timing_(demo::demo_timing(args_.scale)),
        exe_(self_path()),
        shop_dir_(args_.shop_dir.empty() ? fs::path(exe_).parent_path().string() : args_.shop_dir) {
  }

  ~Demo() { close_control(); }

  int run() {
    for (const char* bin : {"shop-api", "shop-worker", "shop-daily", "shop-load"}) {
      if (::access((fs::path(shop_dir_) / bin).c_str(), X_OK) != 0) {
        std::cerr << "firebreak demo: no executable " << bin << " in " << shop_dir_
                  << " (build the shop: cmake --build build --target shop-api shop-worker "
                     "shop-daily shop-load; or give its directory with --shop-dir)\n";
        return 1;
      }
    }
    std::string tmpl = (fs::temp_directory_path() / "firebreak-demo.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::cerr << "firebreak demo: cannot create a temporary directory: " << std::strerror(errno)
                << "\n";
      return 1;
    }
    dir_ = tmpl;
    install_signals();
    api_fast_since_ = api_error_free_since_ = Clock::now();
    int status = 0;
    if (start()) {
      open_control();
      for (const auto& name : args_.breaks) say(execute("break " + name).text);
      status = loop();
    } else if (!g_stop) {
      status = 1;
    }
    shut_down();
    return status;
  }

 private:
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  void say(const std::string& text) {
    if (text.empty()) return;
    std::cout << text;
    if (text.back() != '\n') std::cout << '\n';
    std::cout.flush();
  }

  // The environment of every child: this one without the variables that
  // would redirect the shop or watch (FIREBREAK_*, OTEL_*, SHOP_*), JSON
  // logs, and the shop's traces to watch.
  std::vector<std::string> child_env(bool traces) const {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view v(*e);
      if (v.starts_with("FIREBREAK_") || v.starts_with("OTEL_") || v.starts_with("SHOP_")) continue;
      env.emplace_back(v);
    }
    env.emplace_back("FIREBREAK_LOG_FORMAT=json");
    if (traces) {
      env.push_back("OTEL_EXPORTER_OTLP_ENDPOINT=http://" + watch_.admin);
      env.emplace_back("OTEL_BSP_SCHEDULE_DELAY=1000");  // spans show within a second
    }
    return env;
  }

  std::string bin(const char* name) const { return (fs::path(shop_dir_) / name).string(); }
  static std::string addr_or_any(const std::string& addr) {
    return addr.empty() ? "127.0.0.1:0" : addr;
  }

  std::vector<std::string> api_argv(bool never_ready) const {
    std::vector<std::string> a = {bin("shop-api"),
                                  "--db",
                                  path("shop.db"),
                                  "--admin-addr",
                                  addr_or_any(api_.admin),
                                  "--listen",
                                  addr_or_any(api_.http),
                                  "--drain-seconds",
                                  fmt::format("{}", timing_.api_drain_ms / 1000.0),
                                  "--threads",
                                  std::to_string(demo::kApiThreads)};
    if (never_ready) a.insert(a.end(), {"--fault", "never_ready"});
    return a;
  }
  std::vector<std::string> worker_argv() const {
    return {bin("shop-worker"), "--db", path("shop.db"), "--admin-addr", addr_or_any(worker_.admin),
            "--lease-seconds",  "10",   "--poll-ms",     "100"};
  }
  std::vector<std::string> daily_argv() const {
    return {bin("shop-daily"),
            "--db",
            path("shop.db"),
            "--admin-addr",
            "127.0.0.1:0",
            "--every",
            std::to_string(timing_.job_period_s),
            "--day",
            "today",
            "--out-dir",
            path("reports"),
            "--lock-file",
            path("shop-daily.lock"),
            "--checkin-url",
            "http://" + watch_.admin + "/ping/shop-daily"};
  }
  std::vector<std::string> load_argv() const {
    return {
        bin("shop-load"), "--target", "http://" + api_.http, "--rate", std::to_string(args_.rate),
        "--duration",     "0",        "--bad-fraction",      "0.1"};
  }

  // Starts `p` and waits for the `listening` events of `servers` (the
  // first's address is its admin address, "http" goes to p.http). False,
  // with the reason on stderr, when it exits or does not listen in time.
  bool start_proc(Proc& p, const std::vector<std::string>& argv,
                  const std::vector<std::string>& servers, bool traces = true) {
    const std::string log = path(p.name + ".log"), err = path(p.name + ".err");
    demo::LineFollower follower(log, /*from_end=*/true);
    try {
      p.child = std::make_unique<demo::Child>(p.name, argv, child_env(traces), log, err);
    } catch (const std::exception& e) {
      std::cerr << "firebreak demo: cannot start " << p.name << ": " << e.what() << "\n";
      return false;
    }
    p.stopped_by_fault = false;
    p.exit_reported = false;
    std::set<std::string> waiting(servers.begin(), servers.end());
    const auto deadline = Clock::now() + kStartTimeout;
    while (!waiting.empty()) {
      for (const auto& line : follower.new_lines()) {
        for (auto it = waiting.begin(); it != waiting.end();) {
          if (auto address = demo::listening_address(line, *it)) {
            (*it == "http" ? p.http : p.admin) = *address;
            it = waiting.erase(it);
          } else {
            ++it;
          }
        }
      }
      if (waiting.empty()) break;
      if (g_stop) return false;
      if (!p.child->running() || Clock::now() >= deadline) {
        std::cerr << "firebreak demo: " << p.name << " did not start ("
                  << (p.child->running() ? "no listening event in 20s" : p.child->exit_text())
                  << "); its stderr:\n"
                  << demo::file_tail(err) << "\n";
        return false;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    return true;
  }

  bool write_config(bool with_targets) {
    const demo::Addresses a{
        .api_admin = api_.admin, .api_http = api_.http, .worker_admin = worker_.admin};
    std::ofstream out(path("firebreak.yaml"), std::ios::trunc);
    out << demo::watch_config(timing_, args_.listen, with_targets ? &a : nullptr);
    out.close();
    if (!out) std::cerr << "firebreak demo: cannot write " << path("firebreak.yaml") << "\n";
    return static_cast<bool>(out);
  }

  bool start() {
    watch_.name = "firebreak-watch";
    api_.name = "shop-api";
    worker_.name = "shop-worker";
    daily_.name = "shop-daily";
    load_.name = "shop-load";
    if (!write_config(false)) return false;
    watch_log_ = std::make_unique<demo::LineFollower>(path("firebreak-watch.log"));
    if (!start_proc(watch_, {exe_, "watch", "--config", path("firebreak.yaml")}, {"watch"},
                    /*traces=*/false))
      return false;
    say("Status page: http://" + watch_.admin + "/");

    if (!start_proc(api_, api_argv(false), {"admin", "http"}) ||
        !start_proc(worker_, worker_argv(), {"admin"}) ||
        !start_proc(daily_, daily_argv(), {"admin"}) || !start_proc(load_, load_argv(), {}))
      return false;
    // watch learns the shop's addresses by a reload of its configuration.
    if (!write_config(true)) return false;
    reloaded_ = reload_failed_ = false;
    watch_.child->signal(SIGHUP);
    const auto deadline = Clock::now() + kStartTimeout;
    while (!reloaded_) {
      follow_watch();
      if (g_stop) return false;
      if (reload_failed_ || !watch_.running() || Clock::now() >= deadline) {
        std::cerr << "firebreak demo: watch did not take the shop's targets; see "
                  << path("firebreak-watch.log") << "\n";
        return false;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    say(overview());
    return true;
  }

  std::string overview() const {
    const std::string w = "http://" + watch_.admin;
    const std::string period = demo::duration_text(timing_.job_period_s * 1000);
    return fmt::format(
        "\n"
        "Firebreak demo: the reference shop, watched by firebreak watch at demo scale\n"
        "(its files in {dir}, removed when the demo stops)\n"
        "  shop-api     http://{api}/orders   admin http://{api_admin}\n"
        "  shop-worker  turns orders into invoices   admin http://{worker_admin}\n"
        "  shop-daily   the daily report, every {period}, checks in with watch   "
        "admin http://{daily_admin}\n"
        "  shop-load    {rate} requests/s to shop-api, 10% bad input\n"
        "\n"
        "  firebreak watch  {w}   (config {dir}/firebreak.yaml, log {dir}/firebreak-watch.log)\n"
        "    status page: {w}/   traces: an order from shop-api through the queue to "
        "shop-worker: {w}/traces\n"
        "    {exe} status --url {w}\n"
        "    {exe} alerts --url {w}\n"
        "    curl -s '{w}/api/v1/query?query=up'\n"
        "  each admin port: /livez?verbose /readyz?verbose /metrics /fault\n"
        "\n"
        "Break something: type `break NAME` here; each NAME fires these alerts, within about:\n"
        "{table}"
        "`heal` clears every fault; `status`; `help`; `quit` or Ctrl-C stops everything and\n"
        "removes {dir}. From another terminal: {exe} demo --break NAME, or --heal.\n",
        fmt::arg("dir", dir_), fmt::arg("api", api_.http), fmt::arg("api_admin", api_.admin),
        fmt::arg("worker_admin", worker_.admin), fmt::arg("daily_admin", daily_.admin),
        fmt::arg("period", period), fmt::arg("rate", args_.rate), fmt::arg("w", w),
        fmt::arg("exe", exe_), fmt::arg("table", demo::fault_table(timing_)));
  }

  // --- the loop ----------------------------------------------------------------------

  int loop() {
    bool stdin_open = true;
    std::string input;
    while (!g_stop) {
      std::vector<pollfd> fds = {{g_wake[0], POLLIN, 0}};
      if (stdin_open) fds.push_back({STDIN_FILENO, POLLIN, 0});
      if (control_fd_ >= 0) fds.push_back({control_fd_, POLLIN, 0});
      ::poll(fds.data(), fds.size(), 250);
      for (const pollfd& p : fds) {
        if (p.revents == 0) continue;
        if (p.fd == STDIN_FILENO) {
          char buf[1024];
          const auto n = ::read(STDIN_FILENO, buf, sizeof buf);
          if (n <= 0) {
            stdin_open = false;  // no terminal (a service, a pipe closed): Ctrl-C or a signal stops
            continue;
          }
          input.append(buf, static_cast<std::size_t>(n));
          for (std::size_t nl; (nl = input.find('\n')) != std::string::npos;) {
            const std::string line = input.substr(0, nl);
            input.erase(0, nl + 1);
            const Reply r = execute(line);
            (r.ok ? std::cout : std::cerr) << r.text;
            std::cout.flush();
            if (r.quit) return 0;
          }
        } else if (p.fd == control_fd_) {
          if (serve_control()) return 0;
        }
      }
      follow_watch();
      if (!check_children()) return 1;
    }
    return 0;
  }

  // False when watch itself has exited.
  bool check_children() {
    for (Proc* p : {&api_, &worker_, &daily_, &load_}) {
      if (!p->child || p->stopped_by_fault || p->exit_reported || p->running()) continue;
      p->exit_reported = true;
      say(fmt::format("[{}] {} exited unexpectedly ({}; see {}); `heal` starts it again",
                      now_text(), p->name, p->child->exit_text(), path(p->name + ".err")));
    }
    if (!watch_.running()) {
      std::cerr << "firebreak demo: firebreak watch exited (" << watch_.child->exit_text()
                << "); its stderr:\n"
                << demo::file_tail(path("firebreak-watch.err")) << "\n";
      return false;
    }
    return true;
  }

  // Reads watch's new log lines: the reload's outcome, and the alerts its
  // `log` receiver writes, printed once per firing and once per resolve.
  void follow_watch() {
    if (!watch_log_) return;
    for (const auto& line : watch_log_->new_lines()) {
      if (line.empty() || line.front() != '{') continue;
      const json j = json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      const std::string event = j.value("event", "");
      if (event == "config_reloaded") reloaded_ = true;
      if (event == "config_reload_failed") reload_failed_ = true;
      if (event != "alert_firing" && event != "alert_resolved") continue;
      const bool firing = event == "alert_firing";
      const std::string key = j.value("fingerprint", "") + j.value("starts_at", "");
      if (!(firing ? firing_seen_ : resolved_seen_).insert(key).second) continue;
      const std::string alert = j.value("alertname", "");
      std::string text = fmt::format("[{}] {:<8} {}: {}", now_text(),
                                     firing ? "FIRING" : "resolved", alert, j.value("summary", ""));
      if (firing) text += timing_note(alert, j.value("labels", ""));
      say(text);
    }
  }

  // "(42s after `break stall`; expected within about 50s)" for an alert a
  // break predicted (its first firing after the break).
  std::string timing_note(const std::string& alert, const std::string& labels) {
    for (auto it = expected_.begin(); it != expected_.end(); ++it) {
      const demo::Expectation& e = it->expectation;
      if (e.alert != alert) continue;
      // "reason=no_progress" matches reason="no_progress" in the labels.
      if (!e.labels.empty()) {
        const auto eq = e.labels.find('=');
        const std::string want = e.labels.substr(0, eq) + "=\"" + e.labels.substr(eq + 1) + "\"";
        if (labels.find(want) == std::string::npos) continue;
      }
      std::string note = fmt::format(" ({} after `break {}`", demo::duration_text(ms_since(it->at)),
                                     demo::fault_name(it->fault));
      if (e.within_ms) note += "; expected within about " + demo::duration_text(*e.within_ms);
      expected_.erase(it);
      return note + ")";
    }
    return "";
  }

  // --- commands ----------------------------------------------------------------------

  Reply execute(const std::string& raw) {
    std::string line = raw;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    while (!line.empty() && line.front() == ' ') line.erase(0, 1);
    if (line.empty()) return {};
    const auto space = line.find(' ');
    const std::string command = line.substr(0, space);
    std::string arg = space == std::string::npos ? "" : line.substr(space + 1);
    while (!arg.empty() && arg.front() == ' ') arg.erase(0, 1);
    if (command == "break") {
      const auto fault = demo::parse_fault(arg);
      if (!fault)
        return {false, arg.empty() ? "break what? one of: " + demo::fault_names() + "\n"
                                   : demo::unknown_fault(arg) + "\n"};
      return do_break(*fault);
    }
    if (command == "heal" && arg.empty()) return do_heal();
    if (command == "status" && arg.empty()) return do_status();
    if (command == "help" || command == "?") return {true, help()};
    if ((command == "quit" || command == "exit") && arg.empty()) return {true, "", true};
    return {false, "unknown command \"" + line + "\"; " + commands_text()};
  }

  static std::string commands_text() { return "commands: break NAME, heal, status, help, quit\n"; }

  std::string help() const {
    return "break NAME   breaks the shop on purpose; each NAME fires these alerts, within "
           "about:\n" +
           demo::fault_table(timing_) +
           "heal         clears every fault (starts again what a fault stopped)\n"
           "status       the faults in effect, watch's firing and pending alerts, the processes\n"
           "quit         stops everything and removes the demo's files (as Ctrl-C does)\n";
  }

  Proc& proc(Process p) {
    switch (p) {
      case Process::kApi:
        return api_;
      case Process::kWorker:
        return worker_;
      case Process::kDaily:
        return daily_;
    }
    return api_;
  }

  // POSTs switches to a process's /fault; "" when taken, else why not.
  std::string set_switches(Proc& p, const std::string& body) {
    if (!p.running()) return p.name + " is not running; `heal` starts it again";
    HttpClient client({.timeout = std::chrono::seconds(5)});
    const HttpResponse r = client.request("POST", "http://" + p.admin + "/fault", body,
                                          {{"Content-Type", "application/json"}});
    if (!r.error.empty()) return p.name + "/fault: " + r.error;
    if (r.status != 200) return fmt::format("{}/fault answered {}: {}", p.name, r.status, r.body);
    return "";
  }

  // Starts a stopped (or exited) process again with its usual arguments.
  bool restart(Proc& p) {
    if (&p == &api_) return start_proc(api_, api_argv(false), {"admin", "http"});
    if (&p == &worker_) return start_proc(worker_, worker_argv(), {"admin"});
    if (&p == &daily_) return start_proc(daily_, daily_argv(), {"admin"});
    return start_proc(load_, load_argv(), {});
  }

  Reply do_break(Fault fault) {
    if (const auto it = active_.find(fault); it != active_.end())
      return {true,
              fmt::format("{} is already broken ({} ago); `heal` clears it\n",
                          demo::fault_name(fault), demo::duration_text(ms_since(it->second)))};
    const demo::FaultPlan plan = demo::plan(fault, timing_,
                                            {.api_fast_ms = ms_since(api_fast_since_),
                                             .api_error_free_ms = ms_since(api_error_free_since_)});
    for (const demo::Action& a : plan.actions) {
      Proc& p = proc(a.process);
      std::string error;
      switch (a.kind) {
        case demo::Action::Kind::kSetSwitches:
          error = set_switches(p, a.argument);
          break;
        case demo::Action::Kind::kRestartWith:
          say(fmt::format("restarting {} with --fault {} ...", p.name, a.argument));
          demo::stop_all({p.child.get()}, kStopGrace);
          if (!start_proc(p, api_argv(/*never_ready=*/true), {"admin", "http"}))
            error = p.name + " did not start again; `heal` tries once more";
          break;
        case demo::Action::Kind::kStop:
          if (!p.running()) {
            error = p.name + " is not running already";
            break;
          }
          say(fmt::format("stopping {} ...", p.name));
          demo::stop_all({p.child.get()}, kStopGrace);
          p.stopped_by_fault = true;
          break;
      }
      if (!error.empty())
        return {false, "break " + std::string(demo::fault_name(fault)) + ": " + error + "\n"};
    }
    const auto now = Clock::now();
    active_[fault] = now;
    for (const auto& e : plan.expect)
      if (e.within_ms) expected_.push_back({e, fault, now});
    return {true, demo::describe(plan) + "  `heal` clears it.\n"};
  }

  Reply do_heal() {
    std::vector<std::string> cleared, started;
    std::string errors;
    for (Proc* p : {&api_, &worker_, &daily_, &load_}) {
      if (!p->running()) {
        if (restart(*p))
          started.push_back(p->name);
        else
          errors += "could not start " + p->name + " again\n";
        continue;
      }
      if (p == &load_) continue;
      const Process which = p == &api_      ? Process::kApi
                            : p == &worker_ ? Process::kWorker
                                            : Process::kDaily;
      if (std::string e = set_switches(*p, demo::heal_switches(which)); !e.empty())
        errors += e + "\n";
      else
        cleared.push_back(p->name);
    }
    if (active_.count(Fault::kSlow)) api_fast_since_ = Clock::now();
    if (active_.count(Fault::kErrors)) api_error_free_since_ = Clock::now();
    const bool was_broken = !active_.empty();
    active_.clear();
    expected_.clear();
    const auto list = [](const std::vector<std::string>& names) {
      std::string out;
      for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
      return out;
    };
    std::string text = "heal: ";
    if (!cleared.empty()) text += "cleared the fault switches of " + list(cleared);
    if (!started.empty())
      text += std::string(cleared.empty() ? "" : "; ") + "started " + list(started) + " again";
    text += ".\n";
    text += was_broken ? "  Firing alerts resolve as their conditions clear (most within a "
                         "minute; the status page shows them go).\n"
                       : "  Nothing was broken.\n";
    return {errors.empty(), text + errors};
  }

  Reply do_status() {
    std::string text = "faults: ";
    if (active_.empty()) text += "none";
    bool first = true;
    for (const auto& [fault, at] : active_) {
      text += fmt::format("{}{} ({} ago)", first ? "" : ", ", demo::fault_name(fault),
                          demo::duration_text(ms_since(at)));
      first = false;
    }
    text += "\nprocesses:";
    for (Proc* p : {&api_, &worker_, &daily_, &load_, &watch_})
      text += fmt::format(" {} {}", p->name,
                          p->running()          ? "up"
                          : p->stopped_by_fault ? "stopped (fault)"
                                                : "exited (" + p->child->exit_text() + ")");
    text += "\nalerts:";
    const auto body = call("GET", "http://" + watch_.admin + "/api/v1/alerts");
    const json alerts =
        body ? body->value("data", json::object()).value("alerts", json::array()) : json::array();
    if (alerts.empty()) text += " none firing or pending";
    const auto now_ms = std::chrono::duration_cast<milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    for (const json& a : alerts) {
      const json labels = a.value("labels", json::object());
      std::string detail;
      for (const char* key : {"job", "reason", "burn", "http_route"})
        if (labels.contains(key))
          detail += fmt::format("{}{}={}", detail.empty() ? "" : " ", key,
                                labels[key].get<std::string>());
      const auto since = watch::silence::parse_api_time(a.value("activeAt", ""));
      text += fmt::format("\n  {:<8} {} {{{}}}{}", a.value("state", ""),
                          labels.value("alertname", ""), detail,
                          since ? " since " + demo::duration_text(now_ms - *since) + " ago" : "");
    }
    return {true, text + "\n"};
  }

  // --- control socket ----------------------------------------------------------------

  void open_control() {
    const std::string name = args_.control.empty() ? default_control() : args_.control;
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr;
    const socklen_t len = control_address(name, addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd, 4) != 0) {
      std::cerr << "firebreak demo: another demo holds the control socket \"" << name
                << "\": `firebreak demo --break/--heal` reach that one (type commands here)\n";
      if (fd >= 0) ::close(fd);
      return;
    }
    control_fd_ = fd;
  }

  void close_control() {
    if (control_fd_ >= 0) ::close(control_fd_);
    control_fd_ = -1;
  }

  // One command from another terminal; true to quit.
  bool serve_control() {
    const int fd = ::accept4(control_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return false;
    set_timeout(fd, milliseconds(2000));
    std::string line = read_all(fd, 4096);
    if (const auto nl = line.find('\n'); nl != std::string::npos) line.resize(nl);
    say(fmt::format("[{}] from another terminal: {}", now_text(), line));
    const Reply r = execute(line);
    say(r.text);
    write_all(fd, (r.ok ? "ok\n" : "error\n") + r.text);
    ::close(fd);
    return r.quit;
  }

  // --- stopping ----------------------------------------------------------------------

  void shut_down() {
    close_control();
    const bool any = watch_.child || api_.child;
    if (any) say("\nstopping the demo ...");
    demo::stop_all({load_.child.get(), daily_.child.get(), api_.child.get(), worker_.child.get()},
                   kStopGrace);
    demo::stop_all({watch_.child.get()}, kStopGrace);
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
      if (ec)
        std::cerr << "firebreak demo: could not remove " << dir_ << ": " << ec.message() << "\n";
      else if (any)
        say("stopped; removed " + dir_);
    }
  }

  DemoArgs args_;
  demo::Timing timing_;
  std::string exe_;
  std::string shop_dir_;
  std::string dir_;
  Proc watch_, api_, worker_, daily_, load_;
  std::unique_ptr<demo::LineFollower> watch_log_;
  bool reloaded_ = false, reload_failed_ = false;
  std::set<std::string> firing_seen_, resolved_seen_;
  std::map<Fault, Clock::time_point> active_;
  std::vector<Expected> expected_;
  // Since when shop-api has been fast, and free of injected errors (History).
  Clock::time_point api_fast_since_, api_error_free_since_;
  int control_fd_ = -1;
};

// `--break NAME` / `--heal` with a demo already running: sent to it. nullopt
// when none answers (then `--break` starts a demo of its own).
std::optional<int> forward_to_running_demo(const DemoArgs& args) {
  const std::string name = args.control.empty() ? default_control() : args.control;
  std::vector<std::string> commands;
  if (args.heal) commands.emplace_back("heal");
  for (const auto& b : args.breaks) commands.push_back("break " + b);
  int status = 0;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    const auto reply = ask_running_demo(name, commands[i]);
    if (!reply) {
      if (i == 0) return std::nullopt;
      std::cerr << "firebreak demo: the running demo stopped answering\n";
      return 1;
    }
    const bool ok = reply->starts_with("ok\n");
    const std::string text = reply->substr(std::min(reply->find('\n') + 1, reply->size()));
    if (i == 0) std::cout << "(sent to the demo already running)\n";
    (ok ? std::cout : std::cerr) << text;
    if (!ok) status = 1;
  }
  return status;
}

int run_demo(const DemoArgs& args) {
  if (args.heal || !args.breaks.empty()) {
    if (const auto forwarded = forward_to_running_demo(args)) return *forwarded;
    if (args.heal) {
      std::cerr << "firebreak demo --heal: no demo is running (start one with `firebreak demo`)\n";
      return 1;
    }
  }
  Demo demo(args);
  return demo.run();
}

}  // namespace

void add_demo_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Run the reference shop and firebreak watch on it at demo scale, and break things on "
      "purpose");
  const CLI::Validator fault_name(
      [](std::string& value) {
        return demo::parse_fault(value) ? std::string() : demo::unknown_fault(value);
      },
      "NAME");
  cmd->add_option(
         "--break", args->breaks,
         "Break this at start (repeatable; to a running demo: sent to it): " + demo::fault_names())
      ->check(fault_name);
  cmd->add_flag("--heal", args->heal, "Clear every fault of the demo that is running");
  cmd->add_option("--rate", args->rate, "Requests a second from shop-load")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--listen", args->listen, "watch's address HOST:PORT (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--scale", args->scale,
                  "Multiply every interval and threshold (0.1: ten times faster, for tests)")
      ->capture_default_str()
      ->check(CLI::Range(demo::kMinScale, demo::kMaxScale));
  cmd->add_option("--shop-dir", args->shop_dir,
                  "Directory of shop-api, shop-worker, shop-daily, shop-load (default: this "
                  "executable's)");
  cmd->add_option("--control", args->control,
                  "Name of the control socket that --break/--heal reach (default: "
                  "firebreak-demo-<uid>)");
  cmd->footer(
      "While it runs, type: break NAME, heal, status, help, quit. Ctrl-C stops every process\n"
      "and removes the demo's files. Faults: " +
      demo::fault_names() +
      ".\n"
      "\n"
      "Examples:\n"
      "  firebreak demo                        # prints the status page's URL first\n"
      "  firebreak demo --break stall          # WorkerStalled fires within a minute\n"
      "  firebreak demo --break slow           # in another terminal: sent to the running demo\n"
      "  firebreak demo --heal                 # clears every fault of the running demo");
  cmd->callback([&action, args] {
    if (args->heal && !args->breaks.empty())
      throw CLI::ValidationError("--heal", "--heal and --break do not go together");
    action = [args] { return run_demo(*args); };
  });
}

}  // namespace firebreak::cli
