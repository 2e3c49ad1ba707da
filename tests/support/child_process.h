// Runs a program as a child process for integration tests: fork/exec with
// stdout and stderr on pipes, line reads with a timeout, signals, and a
// bounded wait for its exit. The child is killed (SIGKILL) and reaped when the
// object is destroyed, so a failing test leaves no process behind.
// Not thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace firebreak::test {

class ChildProcess {
 public:
  // Starts argv[0] (a path) with the given arguments, in the current
  // environment minus the variables named in `unset_env`; its stdin is this
  // process's, or a pipe that write_stdin() writes to (`pipe_stdin`). Throws
  // std::runtime_error when it cannot start.
  explicit ChildProcess(const std::vector<std::string>& argv,
                        const std::vector<std::string>& unset_env = {}, bool pipe_stdin = false);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // The next line of stdout (without '\n'), or nullopt on timeout or EOF.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Reads stdout until the `listening` log event of `server` (support/listening.h)
  // and returns its address; the lines before it are consumed. nullopt on
  // timeout or EOF.
  std::optional<std::string> wait_listening(std::string_view server,
                                            std::chrono::milliseconds timeout);
  // Everything on stderr until EOF or the timeout.
  std::string read_stderr(std::chrono::milliseconds timeout);
  // Writes to its stdin (with `pipe_stdin`). Throws std::runtime_error when
  // it cannot.
  void write_stdin(std::string_view text);

  // Sends a signal. Throws std::runtime_error if the process is gone.
  void send_signal(int signo);
  // Whether it is still running (reaps it when it has exited).
  bool running();
  // Waits up to `timeout` for it to exit; its wait status (see WIFEXITED),
  // or nullopt when it is still running.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  int in_fd_ = -1;
  std::string out_buffer_;
  std::optional<int> status_;
};

// A TCP port on 127.0.0.1 that was free a moment ago, for a peer process
// that must be told its port (another process may take it in between).
// Throws std::runtime_error when none can be had.
std::uint16_t free_port();

}  // namespace firebreak::test
