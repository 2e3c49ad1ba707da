// watch's exec receiver: runs a program without a shell (posix_spawn), in a
// process group of its own, with Alertmanager's webhook JSON on its standard
// input. Exit status 0 is delivered; another status, a signal or the timeout
// (the whole group killed) is a retryable failure quoting its stderr.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "watch/alerting/receivers_internal.h"
#include "watch/alerting/webhook.h"

extern char** environ;

namespace watch::alerting {

namespace {

constexpr std::size_t kMaxStderr = 4096;   // kept of what the program writes
constexpr std::size_t kShownStderr = 500;  // in an error

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string excerpt(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.size() > kShownStderr) text = text.substr(0, kShownStderr) + "...";
  return text;
}

class ExecNotifier final : public Notifier {
 public:
  ExecNotifier(ExecConfig config, const NotifierContext& ctx)
      : config_(std::move(config)), external_url_(ctx.external_url) {}

  SendResult notify(const dispatch::GroupNotification& n) override {
    const std::string body = webhook_group_json(n, external_url_, config_.max_alerts);
    return run(body);
  }
  std::string_view integration() const override { return "exec"; }

 private:
  SendResult run(const std::string& input) {
    const std::string& program = config_.command.at(0);
    const std::string name = fmt::format("exec {}", program);
    int in_pair[2], err_pipe[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0)
      return {fmt::format("{}: socketpair: {}", name, std::strerror(errno)), true};
    Fd in_parent(in_pair[0]), in_child(in_pair[1]);
    if (::pipe2(err_pipe, O_CLOEXEC) != 0)
      return {fmt::format("{}: pipe: {}", name, std::strerror(errno)), true};
    Fd err_parent(err_pipe[0]), err_child(err_pipe[1]);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_child.get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err_child.get(), STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);  // a group of its own, killed whole on timeout
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> argv;
    for (const std::string& a : config_.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, program.c_str(), &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
      return {fmt::format("{}: cannot start: {}", name, std::strerror(rc)),
              rc == EAGAIN || rc == ENOMEM};
    in_child.reset();
    err_child.reset();
    ::fcntl(err_parent.get(), F_SETFL, O_NONBLOCK);

    const auto deadline = std::chrono::steady_clock::now() + config_.timeout;
    std::size_t written = 0;
    bool writing = true;
    if (input.empty()) {
      in_parent.reset();
      writing = false;
    }
    std::string err_text;
    bool err_open = true;
    int status = 0;
    bool exited = false;
    while (true) {
      const pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        exited = true;
        break;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      pollfd fds[2];
      nfds_t count = 0;
      int in_index = -1, err_index = -1;
      if (writing) {
        in_index = static_cast<int>(count);
        fds[count++] = {in_parent.get(), POLLOUT, 0};
      }
      if (err_open) {
        err_index = static_cast<int>(count);
        fds[count++] = {err_parent.get(), POLLIN, 0};
      }
      // Wakes at least every 20 ms to see whether the program exited.
      const int ready = ::poll(fds, count, static_cast<int>(std::min<long long>(left, 20)));
      if (ready < 0 && errno != EINTR) break;
      if (ready <= 0) continue;
      if (in_index >= 0 && fds[in_index].revents != 0) {
        const ssize_t sent = ::send(in_parent.get(), input.data() + written, input.size() - written,
                                    MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) written += static_cast<std::size_t>(sent);
        // Done, or the program does not read its input: either way, EOF.
        if (written == input.size() || (sent < 0 && errno != EAGAIN && errno != EINTR)) {
          in_parent.reset();
          writing = false;
        }
      }
      if (err_index >= 0 && fds[err_index].revents != 0)
        drain(err_parent.get(), err_text, err_open);
    }
    if (!exited) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      std::string text = excerpt(err_text);
      return {fmt::format("{}: timed out after {} ms (process group killed){}", name,
                          config_.timeout.count(), text.empty() ? "" : ": " + text),
              true};
    }
    if (err_open) drain(err_parent.get(), err_text, err_open);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    std::string text = excerpt(err_text);
    const std::string how = WIFEXITED(status)
                                ? fmt::format("exited with status {}", WEXITSTATUS(status))
                                : fmt::format("killed by signal {}", WTERMSIG(status));
    return {fmt::format("{}: {}{}", name, how, text.empty() ? "" : ": " + text), true};
  }

  // Reads what stderr has now (non-blocking), keeping the first kMaxStderr bytes.
  static void drain(int fd, std::string& out, bool& open) {
    char chunk[4096];
    while (true) {
      const ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n > 0) {
        if (out.size() < kMaxStderr)
          out.append(chunk,
                     std::min<std::size_t>(static_cast<std::size_t>(n), kMaxStderr - out.size()));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) open = false;
      if (n < 0 && errno == EINTR) continue;
      return;
    }
  }

  ExecConfig config_;
  std::string external_url_;
};

}  // namespace

std::unique_ptr<Notifier> make_exec_notifier(const ExecConfig& c, const NotifierContext& ctx) {
  return std::make_unique<ExecNotifier>(c, ctx);
}

}  // namespace watch::alerting
