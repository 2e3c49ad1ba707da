// The processes `firebreak demo` runs, and the log files it reads them by.
//
//   demo::Child api("shop-api", {"/opt/fb/bin/shop-api", "--listen", "127.0.0.1:0"},
//                   env, dir + "/shop-api.log", dir + "/shop-api.err");
//   demo::LineFollower log(dir + "/shop-api.log");
//   for (const auto& line : log.new_lines())
//     if (auto address = demo::listening_address(line, "http")) ...
//   demo::stop_all({&api}, std::chrono::seconds(10));   // SIGTERM, then SIGKILL
//
// A child runs in a process group of its own, so the terminal's Ctrl-C
// reaches the demo alone and the demo stops its children in order; if the
// demo dies without stopping them, the kernel sends each SIGTERM
// (PR_SET_PDEATHSIG). Children must be started from the thread that stops
// them (that signal follows the thread that forked).
//
// Not thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace firebreak::cli::demo {

class Child {
 public:
  // Starts argv[0] (a path) with exactly `env` ("NAME=value") as its
  // environment, stdin from /dev/null, stdout and stderr appended to the two
  // files. Throws std::runtime_error when it cannot start.
  Child(std::string name, const std::vector<std::string>& argv, const std::vector<std::string>& env,
        const std::string& out_path, const std::string& err_path);
  // Kills (SIGKILL) and reaps it when it still runs.
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  // Whether it still runs; reaps it once it has exited.
  bool running();
  // Its wait status (see WIFEXITED) once reaped.
  std::optional<int> wait_status() const { return status_; }
  // "exit status 1", "killed by signal 9", or "running".
  std::string exit_text() const;
  // Sends a signal (nothing when it has exited).
  void signal(int signo);
  // Waits up to `timeout` for it to exit; whether it did.
  bool wait_exit(std::chrono::milliseconds timeout);

 private:
  std::string name_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// SIGTERM to every running child at once, up to `grace` for them to exit,
// then SIGKILL to the rest; every child is reaped when this returns.
void stop_all(const std::vector<Child*>& children, std::chrono::milliseconds grace);

// Follows a file that another process appends to: the complete lines added
// since the previous call (none while the file does not exist).
class LineFollower {
 public:
  // From the file's current end (`from_end`), or from its start.
  explicit LineFollower(std::string path, bool from_end = false);
  std::vector<std::string> new_lines();

 private:
  std::string path_;
  std::uint64_t offset_ = 0;
  std::string partial_;
};

// The `address` (HOST:PORT) of a log line that is the `listening` event of
// `server` ("admin", "http", "watch"); nullopt for any other line.
std::optional<std::string> listening_address(std::string_view line, std::string_view server);

// The whole of a small file (a child's stderr), at most `limit` bytes of
// its end; "" when it cannot be read.
std::string file_tail(const std::string& path, std::size_t limit = 4096);

}  // namespace firebreak::cli::demo
