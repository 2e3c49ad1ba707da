// The admin HTTP server: health probes, metrics, and a service's own
// operational handlers, on a port of its own (127.0.0.1:9464 by default).
//
//   firebreak::AdminServer admin({.address = "127.0.0.1:0",
//                                 .registry = &registry,
//                                 .health = &health});
//   admin.add_handler("POST", "/fault", [&](const firebreak::AdminRequest& req) {
//     faults.set(req.query_value("name").value_or(""), req.body == "on");
//     return firebreak::AdminResponse{.body = "ok\n"};
//   });
//   admin.start();                                   // throws AdminError if it cannot bind
//   FB_LOG_INFO("listening", "", {"server", "admin"}, {"address", admin.address()});
//
// Built-in endpoints (GET and HEAD):
//   /livez /readyz /healthz    (with .health) 200 "ok" or 503 "failed";
//                              /healthz is an alias of /readyz.
//       ?verbose               one line a check, as the Kubernetes API server
//                              writes them: "[+]name ok", "[-]name failed: reason",
//                              then "readyz check passed" / "readyz check failed".
//       ?format=json           {"status":"ok"|"failed","checks":[{"name","kind","ok",
//                              "reason","duration_seconds","last_run"}]}
//                              (last_run: RFC 3339 UTC with microseconds, or null
//                              before the first run).
//   /metrics                   (with .registry) Prometheus text 0.0.4, or OpenMetrics
//                              1.0 when Accept prefers it; gzip when Accept-Encoding
//                              allows it.
// Anything else: 404; a known path with another method: 405 with Allow.
// HEAD is answered wherever GET is, without the body.
//
// HTTP/1.1 with keep-alive. Untrusted input is bounded: a request header over
// max_header_bytes gets 431, a body over max_body_bytes 413, a malformed
// request 400 (each then closes the connection); a connection that does not
// deliver a whole request within read_timeout (or idles that long between
// requests) is closed; connections beyond max_connections are closed at once.
// Handlers run on the server's own thread(s), never on the caller's.
//
// Thread-safety: all member functions are thread-safe. Handlers may run
// concurrently with each other when threads > 1.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace firebreak {

class Registry;
class Health;
namespace detail {
class HttpListener;
}

// Thrown by AdminServer::start() and add_handler() with a message a user can
// act on, e.g. "cannot listen on 127.0.0.1:9464: Address already in use".
class AdminError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A request as a handler sees it. Plain data; no Beast types.
struct AdminRequest {
  std::string method;  // "GET", "POST", ... (HEAD requests reach GET handlers as "HEAD")
  std::string path;    // percent-decoded, without the query: "/fault"
  // Percent-decoded query parameters in order; "?verbose" gives {"verbose", ""}.
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string body;

  // Whether the query has the key (with or without a value).
  bool has_query(std::string_view key) const;
  // The first value of the key, or nullopt when absent.
  std::optional<std::string_view> query_value(std::string_view key) const;
  // The first header with this name (case-insensitive), or "" when absent.
  std::string_view header(std::string_view name) const;
};

// What a handler returns. Content-Length is set by the server.
struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers = {};  // extra headers
  std::string body = {};
};

// A handler. Runs on a server thread; an exception becomes a 500 whose body
// is the exception's message.
using AdminHandler = std::function<AdminResponse(const AdminRequest&)>;

struct AdminOptions {
  // host:port to listen on. An IPv6 host in brackets ("[::1]:9464"); an empty
  // host (":9464") listens on every interface; port 0 picks a free port (see
  // AdminServer::port()). A host name is resolved once, at start().
  std::string address = "127.0.0.1:9464";
  Registry* registry = nullptr;  // serves /metrics when set; must outlive the server
  Health* health = nullptr;      // serves /livez, /readyz, /healthz when set; ditto
  std::chrono::milliseconds read_timeout = std::chrono::seconds(10);
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_connections = 128;
  unsigned threads = 1;  // threads running handlers (at least 1)
};

class AdminServer {
 public:
  // Registers the built-in endpoints; does not bind (see start()).
  explicit AdminServer(AdminOptions options = {});
  // Stops the server.
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Routes `method` (e.g. "POST") on the exact `path` (e.g. "/fault") to `fn`.
  // Allowed before or after start(). Throws AdminError if that method and path
  // already have a handler (built-in ones included), or if the path does not
  // start with '/'.
  void add_handler(std::string method, std::string path, AdminHandler fn);

  // Routes `method` on every path under `prefix` ("/ping/" takes "/ping/a"
  // and "/ping/a/start") that has no exact route; the longest matching
  // prefix wins. The handler reads the rest from AdminRequest::path. Throws
  // AdminError as add_handler does, or if `prefix` does not end with '/'.
  void add_prefix_handler(std::string method, std::string prefix, AdminHandler fn);

  // Binds and starts serving on background threads. Throws AdminError when the
  // address is malformed or cannot be bound ("cannot listen on ADDR: REASON"),
  // or when called twice.
  void start();
  // Closes the listener and every connection and joins the threads; in-flight
  // handlers finish first. Idempotent.
  void stop();

  // After start(): the bound port (the chosen one when port 0 was asked for),
  // and "host:port" with that port ("[::1]:9464" for IPv6). 0 / "" before.
  std::uint16_t port() const;
  std::string address() const;

  // Answers a request as the server would, without the network (for tests and
  // for embedding the handlers in another server): routing, 404, 405 and 500
  // included. For HEAD it returns what GET would (the server sends the headers
  // of that response, Content-Length included, and no body).
  AdminResponse handle(const AdminRequest& request) const;

 private:
  struct Routes;
  AdminOptions options_;
  std::shared_ptr<Routes> routes_;
  mutable std::mutex mu_;  // guards listener_
  std::unique_ptr<detail::HttpListener> listener_;
};

}  // namespace firebreak
