#include "support/child_process.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "support/listening.h"

extern char** environ;

namespace firebreak::test {

namespace {

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

// Reads what is available on fd into out; false on EOF. Waits up to timeout.
bool read_some(int fd, std::string& out, std::chrono::milliseconds timeout, bool& timed_out) {
  pollfd p{fd, POLLIN, 0};
  int ready;
  do {
    ready = ::poll(&p, 1, static_cast<int>(std::max<long>(0, timeout.count())));
  } while (ready < 0 && errno == EINTR);
  timed_out = ready == 0;
  if (ready <= 0) return ready == 0;
  char chunk[4096];
  const auto n = ::read(fd, chunk, sizeof chunk);
  if (n <= 0) return false;
  out.append(chunk, static_cast<std::size_t>(n));
  return true;
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv,
                           const std::vector<std::string>& unset_env, bool pipe_stdin) {
  if (argv.empty()) throw std::runtime_error("ChildProcess: empty argv");
  // Everything exec needs is built before fork: no allocation in the child.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const bool drop = std::any_of(unset_env.begin(), unset_env.end(), [&](const std::string& n) {
      return entry.size() > n.size() && entry.starts_with(n) && entry[n.size()] == '=';
    });
    if (!drop) env.push_back(*e);
  }
  env.push_back(nullptr);

  int out[2], err[2] = {-1, -1}, in[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0) throw sys_error("pipe2");
  if (::pipe2(err, O_CLOEXEC) != 0 || (pipe_stdin && ::pipe2(in, O_CLOEXEC) != 0)) {
    for (int fd : {out[0], out[1], err[0], err[1]})
      if (fd >= 0) ::close(fd);
    throw sys_error("pipe2");
  }
  pid_ = ::fork();
  if (pid_ < 0) throw sys_error("fork");
  if (pid_ == 0) {
    if (pipe_stdin) ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    ::execve(args[0], args.data(), env.data());
    const char msg[] = "ChildProcess: execve failed\n";
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  if (pipe_stdin) {
    ::close(in[0]);
    in_fd_ = in[1];
  }
}

ChildProcess::~ChildProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds(10));
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
  if (in_fd_ >= 0) ::close(in_fd_);
}

void ChildProcess::write_stdin(std::string_view text) {
  if (in_fd_ < 0) throw std::runtime_error("ChildProcess: stdin is not a pipe");
  while (!text.empty()) {
    const auto n = ::write(in_fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw sys_error("write to stdin");
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::optional<std::string> ChildProcess::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto newline = out_buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = out_buffer_.substr(0, newline);
      out_buffer_.erase(0, newline + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    bool timed_out = false;
    if (!read_some(out_fd_, out_buffer_, left, timed_out) || timed_out) return std::nullopt;
  }
}

std::optional<std::string> ChildProcess::wait_listening(std::string_view server,
                                                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const auto line = read_line(std::max(left, std::chrono::milliseconds(0)));
    if (!line) return std::nullopt;
    if (auto address = listening_address(*line, server)) return address;
  }
}

std::string ChildProcess::read_stderr(std::chrono::milliseconds timeout) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    bool timed_out = false;
    if (left.count() <= 0 || !read_some(err_fd_, out, left, timed_out) || timed_out) return out;
  }
}

void ChildProcess::send_signal(int signo) {
  if (!running()) throw std::runtime_error("ChildProcess: the process has exited");
  if (::kill(pid_, signo) != 0) throw sys_error("kill");
}

bool ChildProcess::running() {
  if (status_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) status_ = status;
  return !status_;
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return status_;
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("free_port: cannot bind");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace firebreak::test
