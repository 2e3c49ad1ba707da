// A small synchronous HTTP/1.1 client, http and https (OpenSSL), for the
// kit's own outgoing calls (OTLP export, job check-ins, Pushgateway pushes)
// and watch's (scrapes, receivers).
//
//   firebreak::HttpClient client;
//   firebreak::HttpResponse r = client.post("http://127.0.0.1:4318/v1/traces", body,
//                                           {{"Content-Type", "application/json"}});
//   if (!r.error.empty())      { /* no response: r.error says why */ }
//   else if (r.status != 200)  { /* a response with another status */ }
//
// Network failures are results, never exceptions: `error` names what went
// wrong ("connect to 127.0.0.1:4318: Connection refused", "timed out after
// 10000 ms", ...) and `status` is 0. Each call has one deadline covering
// name resolution, connecting, sending and reading the whole response (a host
// name is resolved by the system resolver, whose own timeouts apply).
//
// The client keeps one connection alive between calls to the same host and
// port; a call on a kept connection that the server closed in the meantime is
// retried once on a new connection when nothing of the response had arrived.
//
// https:// verifies the server's certificate against the system's CA bundle
// (or HttpClientOptions::tls.ca_file) and its name against the URL's host (or
// tls.server_name), which is also sent as SNI; a client certificate is
// presented when tls.cert_file/key_file are set (Prometheus's tls_config).
// The TLS files are loaded when the first https connection is made, and
// again when a new connection finds one of them changed (a rotated
// certificate or CA bundle is picked up without a restart; a kept connection
// goes on with what it was made with).
// A certificate that does not verify is an error naming the host and why
// ("certificate verify failed for \"example.com\": unable to get local
// issuer certificate").
//
// Authentication (Prometheus's http_config): `authorization` sends
// "Authorization: <type> <credentials>", `basic_auth` sends HTTP Basic;
// credentials_file and password_file are read at each call (so a rotated
// secret is picked up), trimmed of surrounding white space, and neither
// they nor the inline secrets ever appear in an error.
//
// Thread-safety: thread-safe; calls on one client are serialised (use one
// client per thread, or an HttpClientPool, for parallel calls).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "firebreak/tls.h"

namespace firebreak {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;  // 0 when no response was received
  std::string body;
  HttpHeaders headers;  // as received
  std::string error;    // empty when a response (any status) was received

  bool ok() const noexcept { return error.empty() && status >= 200 && status < 300; }
  // The first header with this name (case-insensitive), or "".
  std::string_view header(std::string_view name) const noexcept;
};

// Prometheus's `authorization`: "Authorization: <type> <credentials>".
struct HttpAuthorization {
  std::string type = "Bearer";
  std::string credentials;       // inline secret, or
  std::string credentials_file;  // read at each call, trimmed

  friend bool operator==(const HttpAuthorization&, const HttpAuthorization&) = default;
};

// Prometheus's `basic_auth`.
struct HttpBasicAuth {
  std::string username;
  std::string password;       // inline secret, or
  std::string password_file;  // read at each call, trimmed

  friend bool operator==(const HttpBasicAuth&, const HttpBasicAuth&) = default;
};

struct HttpClientOptions {
  // Used when a call does not give its own.
  std::chrono::milliseconds timeout{10000};
  // A longer response body is an error ("response body too large").
  std::size_t max_response_bytes = 8 * 1024 * 1024;
  std::string user_agent = "firebreak/0.1";
  // Keep the connection open between calls (HTTP/1.1 keep-alive).
  bool keep_alive = true;
  // For https:// URLs.
  TlsOptions tls;
  // At most one of them; neither is sent when the call's own headers have
  // an Authorization header.
  std::optional<HttpAuthorization> authorization;
  std::optional<HttpBasicAuth> basic_auth;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `method` to `url` ("http[s]://host[:port]/path?query"; the path and
  // query are sent as written) with `body` (Content-Length is set; give
  // Content-Type in `headers`). Host and User-Agent are set unless `headers`
  // has them. timeout 0: the client's default.
  HttpResponse request(std::string_view method, std::string_view url, std::string_view body = {},
                       const HttpHeaders& headers = {},
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  HttpResponse get(std::string_view url, const HttpHeaders& headers = {},
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    return request("GET", url, {}, headers, timeout);
  }
  HttpResponse post(std::string_view url, std::string_view body, const HttpHeaders& headers = {},
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    return request("POST", url, body, headers, timeout);
  }
  HttpResponse put(std::string_view url, std::string_view body, const HttpHeaders& headers = {},
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    return request("PUT", url, body, headers, timeout);
  }

  // Closes the kept connection, if any.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Clients with the same options for calls made in parallel from several
// threads: each call borrows an idle client (its kept-alive connection with
// it), or makes one, and gives it back; at most `max_idle` are kept.
class HttpClientPool {
 public:
  explicit HttpClientPool(HttpClientOptions options, std::size_t max_idle = 16)
      : options_(std::move(options)), max_idle_(max_idle) {}

  HttpResponse request(std::string_view method, std::string_view url, std::string_view body = {},
                       const HttpHeaders& headers = {},
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  HttpResponse post(std::string_view url, std::string_view body, const HttpHeaders& headers = {},
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    return request("POST", url, body, headers, timeout);
  }

 private:
  HttpClientOptions options_;
  std::size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<HttpClient>> idle_;  // guarded by mu_
};

// Whether `url` is one HttpClient can call (an absolute http or https URL
// with a host); on false, `why` says what is wrong.
bool valid_http_url(std::string_view url, std::string* why = nullptr);

}  // namespace firebreak
