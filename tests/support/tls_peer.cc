#include "support/tls_peer.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace firebreak::test {

namespace {

constexpr const char* kPython = "/usr/bin/python3";

void remove_dir_at_exit(const std::string& dir) {
  static std::string to_remove;
  to_remove = dir;
  std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(to_remove, ec);
  });
}

}  // namespace

TestPki::TestPki() {
  dir_ = (std::filesystem::temp_directory_path() / ("firebreak-pki-" + std::to_string(::getpid())))
             .string();
  std::filesystem::remove_all(dir_);
  ChildProcess make({kPython, FIREBREAK_TLS_PEER, "certs", dir_});
  const auto status = make.wait_exit(std::chrono::seconds(60));
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
    throw std::runtime_error("cannot make the test PKI: " +
                             make.read_stderr(std::chrono::seconds(1)));
  remove_dir_at_exit(dir_);
}

const TestPki& TestPki::get() {
  static const TestPki pki;
  return pki;
}

static std::vector<std::string> with_script(const std::vector<std::string>& args) {
  std::vector<std::string> argv{kPython, FIREBREAK_TLS_PEER};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

PeerServer::PeerServer(const std::vector<std::string>& args) : process_(with_script(args)) {
  const auto line = process_.read_line(std::chrono::seconds(20));
  if (!line || line->rfind("port ", 0) != 0)
    throw std::runtime_error("peer did not start: " +
                             process_.read_stderr(std::chrono::seconds(1)));
  port_ = static_cast<std::uint16_t>(std::stoi(line->substr(5)));
}

std::optional<std::string> PeerServer::next(std::chrono::milliseconds timeout) {
  return process_.read_line(timeout);
}

std::string PeerServer::stderr_text() {
  process_.send_signal(SIGTERM);
  return process_.read_stderr(std::chrono::seconds(2));
}

std::vector<std::string> https_args(const std::string& cert, bool client_ca,
                                    const std::string& statuses, bool metrics) {
  const TestPki& pki = TestPki::get();
  std::vector<std::string> args{"https", "--cert", pki.path(cert + ".pem"), "--key",
                                pki.path(cert + ".key")};
  if (client_ca) {
    args.push_back("--client-ca");
    args.push_back(pki.path("ca.pem"));
  }
  if (!statuses.empty()) {
    args.push_back("--statuses");
    args.push_back(statuses);
  }
  if (metrics) args.push_back("--metrics");
  return args;
}

}  // namespace firebreak::test
