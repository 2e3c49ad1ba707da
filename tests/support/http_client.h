// A small blocking HTTP/1.1 client over POSIX sockets, for tests: it sends
// exactly the bytes a test asks for (including malformed ones) and parses
// responses with Content-Length. Every read has a timeout, so a test fails
// instead of hanging. Not thread-safe; one connection per object.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace firebreak::test {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  std::string reason;
  Headers headers;
  std::string body;

  // The first header with this name (case-insensitive); "" when absent.
  std::string header(std::string_view name) const;
};

class HttpConnection {
 public:
  // Connects to host:port (IPv4 literal). Throws std::runtime_error.
  HttpConnection(std::string host, std::uint16_t port,
                 std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Writes raw bytes. Throws on error.
  void send(std::string_view bytes);
  // Writes a request with Host (and Content-Length when there is a body).
  void send_request(std::string_view method, std::string_view target, const Headers& headers = {},
                    std::string_view body = {});
  // Reads one response; `head` when it answers a HEAD request (no body).
  // Throws std::runtime_error on timeout, EOF or a malformed response.
  HttpResponse read_response(bool head = false);
  HttpResponse request(std::string_view method, std::string_view target,
                       const Headers& headers = {}, std::string_view body = {});

  // Waits up to `timeout` for the server to close the connection (EOF or
  // reset); data it sends first is discarded. True if it closed.
  bool wait_closed(std::chrono::milliseconds timeout);

 private:
  // Reads more into buffer_; false on EOF. Throws on timeout or error.
  bool fill();

  int fd_ = -1;
  std::string host_;
  std::uint16_t port_;
  std::chrono::milliseconds timeout_;
  std::string buffer_;
};

// One request on a fresh connection ("Connection: close").
HttpResponse http_request(std::uint16_t port, std::string_view method, std::string_view target,
                          const Headers& headers = {}, std::string_view body = {});
HttpResponse http_get(std::uint16_t port, std::string_view target, const Headers& headers = {});

// Splits "127.0.0.1:40123". Throws std::runtime_error when malformed.
std::pair<std::string, std::uint16_t> split_address(std::string_view address);

// Decompresses a gzip stream. Throws std::runtime_error on bad data.
std::string gunzip(std::string_view data);

}  // namespace firebreak::test
