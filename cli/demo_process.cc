#include "cli/demo_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

namespace firebreak::cli::demo {
namespace {

using Clock = std::chrono::steady_clock;

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

int open_append(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw sys_error("cannot open " + path);
  return fd;
}

}  // namespace

Child::Child(std::string name, const std::vector<std::string>& argv,
             const std::vector<std::string>& env, const std::string& out_path,
             const std::string& err_path)
    : name_(std::move(name)) {
  if (argv.empty()) throw std::runtime_error(name_ + ": nothing to run");
  // Everything exec needs is built before fork: no allocation in the child.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const int out = open_append(out_path);
  const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (err < 0 || in < 0) {
    ::close(out);
    if (err >= 0) ::close(err);
    if (in >= 0) ::close(in);
    throw sys_error("cannot open " + err_path + " or /dev/null");
  }
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // the demo died before prctl
    // The demo ignores SIGPIPE and blocks nothing; exec keeps ignored
    // signals ignored, so restore the defaults.
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    ::execve(args[0], args.data(), envp.data());
    const char msg[] = "firebreak demo: execve failed\n";
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(in);
  ::close(out);
  ::close(err);
  if (pid_ < 0) {
    errno = fork_errno;
    throw sys_error("fork");
  }
}

Child::~Child() {
  if (running()) {
    signal(SIGKILL);
    wait_exit(std::chrono::seconds(5));
  }
}

bool Child::running() {
  if (status_ || pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    status_ = r == pid_ ? status : 0;
    return false;
  }
  return true;
}

std::string Child::exit_text() const {
  if (!status_) return "running";
  if (WIFEXITED(*status_)) return "exit status " + std::to_string(WEXITSTATUS(*status_));
  if (WIFSIGNALED(*status_)) return "killed by signal " + std::to_string(WTERMSIG(*status_));
  return "stopped";
}

void Child::signal(int signo) {
  if (!status_ && pid_ > 0) ::kill(pid_, signo);
}

bool Child::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void stop_all(const std::vector<Child*>& children, std::chrono::milliseconds grace) {
  for (Child* c : children)
    if (c) c->signal(SIGTERM);
  const auto deadline = Clock::now() + grace;
  for (Child* c : children) {
    if (!c) continue;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (!c->wait_exit(std::max(left, std::chrono::milliseconds(0)))) {
      c->signal(SIGKILL);
      c->wait_exit(std::chrono::seconds(5));
    }
  }
}

LineFollower::LineFollower(std::string path, bool from_end) : path_(std::move(path)) {
  struct stat st {};
  if (from_end && ::stat(path_.c_str(), &st) == 0) offset_ = static_cast<std::uint64_t>(st.st_size);
}

std::vector<std::string> LineFollower::new_lines() {
  std::vector<std::string> lines;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return lines;
  in.seekg(static_cast<std::streamoff>(offset_));
  char chunk[8192];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    const auto n = static_cast<std::size_t>(in.gcount());
    offset_ += n;
    partial_.append(chunk, n);
  }
  std::size_t start = 0;
  for (std::size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.emplace_back(partial_, start, nl - start);
  partial_.erase(0, start);
  return lines;
}

std::optional<std::string> listening_address(std::string_view line, std::string_view server) {
  if (line.empty() || line.front() != '{') return std::nullopt;
  const auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object() || j.value("event", "") != "listening" || j.value("server", "") != server)
    return std::nullopt;
  const auto address = j.find("address");
  if (address == j.end() || !address->is_string()) return std::nullopt;
  return address->get<std::string>();
}

std::string file_tail(const std::string& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const auto size = static_cast<std::size_t>(in.tellg());
  const std::size_t from = size > limit ? size - limit : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string out(size - from, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return out;
}

}  // namespace firebreak::cli::demo
