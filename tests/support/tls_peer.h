// Real TLS peers for tests (tests/support/tls_peer.py run by Debian's
// python3): a test PKI made with the openssl CLI, an HTTPS server that
// records each request, an SMTP server (aiosmtpd) with STARTTLS and AUTH.
// Needs FIREBREAK_TLS_PEER (the script's path) defined by the test's
// CMakeLists.txt. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/child_process.h"

namespace firebreak::test {

// A test CA, server, client and untrusted certificates, made once per
// process in a temporary directory (removed at exit).
class TestPki {
 public:
  static const TestPki& get();
  // "ca.pem", "server.pem", "server.key", "client.pem", "client.key",
  // "other-ca.pem", "other-server.pem", "other-server.key".
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& dir() const { return dir_; }

 private:
  TestPki();
  std::string dir_;
};

// A peer server: `tls_peer.py <args>`, started and waited for ("port N").
class PeerServer {
 public:
  explicit PeerServer(const std::vector<std::string>& args);
  std::uint16_t port() const { return port_; }
  // The next JSON line the peer printed (a request or a message), or
  // nullopt when none comes within `timeout`.
  std::optional<std::string> next(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  std::string stderr_text();

 private:
  ChildProcess process_;
  std::uint16_t port_ = 0;
};

// An HTTPS peer with the test server certificate (and, with `client_ca`,
// requiring a client certificate it signed); with `metrics`, a scrape target
// (GETs answered with a Prometheus text exposition).
std::vector<std::string> https_args(const std::string& cert = "server", bool client_ca = false,
                                    const std::string& statuses = "", bool metrics = false);

}  // namespace firebreak::test
