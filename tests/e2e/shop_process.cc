#include "e2e/shop_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/http_client.h"
#include "support/listening.h"

extern char** environ;

namespace firebreak::e2e {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool unwanted(std::string_view entry) {
  for (std::string_view prefix : {"FIREBREAK_", "OTEL_", "SHOP_"})
    if (entry.starts_with(prefix)) return true;
  return false;
}

}  // namespace

ShopProcess::ShopProcess(std::string name, const std::string& binary,
                         const std::vector<std::string>& args, const std::string& dir,
                         const std::vector<std::string>& env)
    : name_(std::move(name)),
      out_path_(dir + "/" + name_ + ".out"),
      err_path_(dir + "/" + name_ + ".err") {
  std::vector<std::string> argv_store = {binary};
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e)
    if (!unwanted(*e)) env_store.emplace_back(*e);
  env_store.emplace_back("FIREBREAK_LOG_FORMAT=json");
  env_store.emplace_back("FIREBREAK_LOG_OVERFLOW=block");
  env_store.insert(env_store.end(), env.begin(), env.end());

  std::vector<char*> argv, envp;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  const int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  if (out < 0 || err < 0) throw std::runtime_error("cannot create " + out_path_);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
}

ShopProcess::~ShopProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait_exit(milliseconds(5000));
  }
}

std::uint16_t ShopProcess::wait_listening(const std::string& server, milliseconds timeout) {
  std::uint16_t port = 0;
  const bool found = eventually(
      [&] {
        std::istringstream lines(stdout_text());
        for (std::string line; std::getline(lines, line);) {
          if (const auto address = test::listening_address(line, server)) {
            port = test::split_address(*address).second;
            return true;
          }
        }
        return !running();
      },
      timeout);
  if (!found || port == 0)
    throw std::runtime_error(name_ + " logged no `listening` event of server \"" + server +
                             "\"; stderr: " + stderr_text());
  return port;
}

std::vector<nlohmann::json> ShopProcess::logs() const {
  std::vector<nlohmann::json> out;
  std::istringstream lines(stdout_text());
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() != '{') continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

std::vector<nlohmann::json> ShopProcess::logs(const std::string& event) const {
  std::vector<nlohmann::json> out;
  for (auto& j : logs())
    if (j.value("event", "") == event) out.push_back(std::move(j));
  return out;
}

std::string ShopProcess::stdout_text() const {
  return read_file(out_path_);
}

std::string ShopProcess::stderr_text() const {
  return read_file(err_path_);
}

void ShopProcess::send_signal(int signo) {
  if (!running()) throw std::runtime_error(name_ + " is not running");
  ::kill(pid_, signo);
}

std::optional<int> ShopProcess::wait_exit(milliseconds timeout) {
  eventually([&] { return !running(); }, timeout);
  return status_;
}

bool ShopProcess::running() {
  if (status_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) status_ = status;
  return !status_;
}

std::optional<double> metric(const std::string& exposition, const std::string& name,
                             const std::vector<std::pair<std::string, std::string>>& labels) {
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (!line.starts_with(name)) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') continue;
    const auto space = line.rfind(' ');
    const std::string series = line.substr(0, space);
    bool all = true;
    for (const auto& [k, v] : labels)
      if (series.find(k + "=\"" + v + "\"") == std::string::npos) all = false;
    if (all) return std::stod(line.substr(space + 1));
  }
  return std::nullopt;
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = ::testing::TempDir() + "shop-e2e-" + std::to_string(::getpid()) + "-" +
          std::to_string(counter++);
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(path_, ec);
}

}  // namespace firebreak::e2e
