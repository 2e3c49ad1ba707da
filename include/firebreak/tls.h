// TLS settings for outgoing connections (Prometheus's `tls_config`), and a
// small synchronous line-oriented TCP client that can start TLS at once or
// upgrade a plain connection (STARTTLS), for text protocols such as SMTP.
//
//   firebreak::LineClient smtp;
//   smtp.set_deadline(std::chrono::steady_clock::now() + std::chrono::seconds(10));
//   if (auto err = smtp.connect("mail.example.com", 587); !err.empty()) { /* ... */ }
//   std::string line;
//   smtp.read_line(line);                            // "220 mail.example.com ESMTP"
//   smtp.write("EHLO watch\r\n");
//   ...
//   smtp.start_tls({.ca_file = "/etc/ssl/ours.pem"}, "mail.example.com");
//
// Verification, as Go's crypto/tls client (what Prometheus and Alertmanager
// use): the peer's chain against the system's CA bundle, or `ca_file`; its
// name against `server_name`, or the host connected to (an IP address is
// checked against the certificate's IP SANs); the name is sent as SNI unless
// it is an IP address. insecure_skip_verify checks nothing.
//
// Errors are returned as text (empty: success), never thrown. The TLS
// machinery (Asio's SSL stream over OpenSSL) lives in one translation unit,
// src/util/http_client.cc.
//
// Thread-safety: a LineClient is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace firebreak {

struct TlsOptions {
  std::string ca_file;      // PEM bundle of trusted CAs; "": the system's
  std::string cert_file;    // client certificate chain (PEM), with key_file
  std::string key_file;     // its private key (PEM)
  std::string server_name;  // name verified and sent as SNI; "": the host
  bool insecure_skip_verify = false;

  friend bool operator==(const TlsOptions&, const TlsOptions&) = default;
};

// Checks what can be checked without connecting: cert_file and key_file
// both or neither; each file readable and PEM that OpenSSL loads; the key
// matching the certificate. "" when fine, else why not.
std::string check_tls_options(const TlsOptions& options);

class LineClient {
 public:
  LineClient();
  ~LineClient();
  LineClient(const LineClient&) = delete;
  LineClient& operator=(const LineClient&) = delete;

  // Every later operation fails with "timed out ..." once this passes.
  // Default: 30 s after construction.
  void set_deadline(std::chrono::steady_clock::time_point deadline);

  // Connects to host:port (a name or an address). With `implicit_tls`, TLS
  // starts at once (SMTPS on port 465), verified against `host`.
  std::string connect(const std::string& host, std::uint16_t port, bool implicit_tls = false,
                      const TlsOptions& tls = {});
  // Upgrades the plain connection to TLS, verified against `host` (unless
  // tls.server_name is set). Nothing must be buffered from the peer.
  std::string start_tls(const TlsOptions& tls, const std::string& host);
  bool tls_active() const;

  std::string write(std::string_view data);
  // The next line without its "\r\n" (or "\n"). Lines over 64 KiB are an
  // error.
  std::string read_line(std::string& line);

  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace firebreak
