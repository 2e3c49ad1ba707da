// Runs one shop binary as a child process for end-to-end tests, with its
// stdout and stderr in files (a test reads the JSON log lines afterwards, and
// a busy process never blocks on a pipe nobody reads). The child is killed
// (SIGKILL) and reaped when the object is destroyed.
// Not thread-safe.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace firebreak::e2e {

using std::chrono::milliseconds;

class ShopProcess {
 public:
  // Starts `binary` with `args` in the test's environment, minus the
  // variables that would redirect it (FIREBREAK_ADMIN_ADDR, OTEL_*, ...),
  // plus `env` ("NAME=value"), JSON logs and a blocking log queue (a test
  // must not lose lines). Output goes to <dir>/<name>.out and .err. Throws
  // std::runtime_error when it cannot start.
  ShopProcess(std::string name, const std::string& binary, const std::vector<std::string>& args,
              const std::string& dir, const std::vector<std::string>& env = {});
  ~ShopProcess();
  ShopProcess(const ShopProcess&) = delete;
  ShopProcess& operator=(const ShopProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }

  // Waits for the `listening` log event of `server` ("admin", "http",
  // "watch") on stdout (support/listening.h) and returns the port of its
  // address. Throws (with the process's stderr) when it does not come in time.
  std::uint16_t wait_listening(const std::string& server,
                               milliseconds timeout = milliseconds(10000));

  // The JSON log records written so far (lines that are not JSON skipped).
  std::vector<nlohmann::json> logs() const;
  // Records with this `event`.
  std::vector<nlohmann::json> logs(const std::string& event) const;
  std::string stdout_text() const;
  std::string stderr_text() const;

  void send_signal(int signo);
  // Waits up to `timeout` for it to exit; its wait status, or nullopt.
  std::optional<int> wait_exit(milliseconds timeout);
  bool running();

 private:
  std::string name_;
  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Polls `done` every 20 ms until it is true or `timeout` passes; its last value.
template <class F>
bool eventually(F done, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

// A sample of a Prometheus text exposition: the value of the series named
// `name` whose labels include every pair of `labels`; nullopt when absent.
std::optional<double> metric(const std::string& exposition, const std::string& name,
                             const std::vector<std::pair<std::string, std::string>>& labels = {});

// A fresh directory under the test temp dir, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace firebreak::e2e
