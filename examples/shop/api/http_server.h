// HttpServer: shop-api's HTTP/1.1 server, on Boost.Beast, with the kit's
// request middleware (firebreak/workload/http_beast.h) around every request.
//
//   shop::HttpServer server({.address = "127.0.0.1:8080", .threads = 4}, api, &observer);
//   server.start();                        // throws std::runtime_error when it cannot bind
//   shop::announce("http", server.address());
//   ...
//   server.stop(std::chrono::seconds(5));  // after the Service's drain
//
// Each connection is served by one Asio session on a pool of `threads`
// threads; the handler runs synchronously on the thread that read the
// request (the database calls are short, and the middleware's span and log
// context belong to that thread). Keep-alive is honoured. Untrusted input is
// bounded: a body over max_body_bytes gets 413 (answered as soon as the
// header announces it, without reading the body), headers over
// max_header_bytes 431, a malformed request 400; each then closes the
// connection. A connection idle or slow for read_timeout is closed.
//
// With `observer` null (shop-api --kit off, for the benchmark's baseline)
// requests go straight to the handlers: no metrics, access log or span.
//
// Thread-safety: start() and stop() are called from one thread (main).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/orders_api.h"
#include "firebreak/workload/http.h"

namespace shop {

struct HttpServerOptions {
  // HOST:PORT; "[::1]:8080" for IPv6; an empty host listens on every
  // interface; port 0 picks a free port (see address()).
  std::string address = "127.0.0.1:8080";
  unsigned threads = 4;
  std::size_t max_body_bytes = 16 * 1024;
  std::size_t max_header_bytes = 8 * 1024;
  std::chrono::milliseconds read_timeout{30000};
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, OrdersApi& api, firebreak::HttpObserver* observer);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the threads. Throws std::runtime_error ("cannot listen
  // on ADDR: REASON").
  void start();
  // The bound "host:port" (with the chosen port when 0 was asked for).
  std::string address() const;
  // Stops accepting, lets requests in progress finish (up to `grace`), then
  // closes every connection and joins the threads. Idempotent.
  void stop(std::chrono::milliseconds grace);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace shop
