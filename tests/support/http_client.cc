#include "support/http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace firebreak::test {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

HttpConnection::HttpConnection(std::string host, std::uint16_t port,
                               std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw sys_error("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  if (::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) {
    ::close(fd_);
    throw std::runtime_error("not an IPv4 address: " + host_);
  }
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const auto error = sys_error("connect to " + host_ + ":" + std::to_string(port_));
    ::close(fd_);
    throw error;
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

HttpConnection::~HttpConnection() {
  if (fd_ >= 0) ::close(fd_);
}

void HttpConnection::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw sys_error("send");
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void HttpConnection::send_request(std::string_view method, std::string_view target,
                                  const Headers& headers, std::string_view body) {
  std::string req;
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  req.append("Host: ").append(host_).append(":").append(std::to_string(port_)).append("\r\n");
  for (const auto& [k, v] : headers) req.append(k).append(": ").append(v).append("\r\n");
  if (!body.empty())
    req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  req.append("\r\n").append(body);
  send(req);
}

bool HttpConnection::fill() {
  pollfd p{fd_, POLLIN, 0};
  int ready;
  do {
    ready = ::poll(&p, 1, static_cast<int>(timeout_.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) throw sys_error("poll");
  if (ready == 0) throw std::runtime_error("timed out waiting for the server");
  char chunk[16384];
  const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n < 0) {
    if (errno == ECONNRESET) return false;
    throw sys_error("recv");
  }
  if (n == 0) return false;
  buffer_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

HttpResponse HttpConnection::read_response(bool head) {
  std::size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
    if (!fill()) throw std::runtime_error("connection closed before a response header");
  const std::string head_text = buffer_.substr(0, end);
  buffer_.erase(0, end + 4);

  HttpResponse res;
  std::size_t line_end = head_text.find("\r\n");
  const std::string status_line = head_text.substr(0, line_end);
  // "HTTP/1.1 200 OK"
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12)
    throw std::runtime_error("bad status line: " + status_line);
  res.status = std::stoi(status_line.substr(9, 3));
  res.reason = status_line.size() > 13 ? status_line.substr(13) : "";
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head_text.find("\r\n", start);
    const std::string line = head_text.substr(start, line_end - start);
    const auto colon = line.find(':');
    if (colon == std::string::npos) throw std::runtime_error("bad header line: " + line);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    res.headers.emplace_back(line.substr(0, colon), value);
  }
  if (!res.header("Transfer-Encoding").empty())
    throw std::runtime_error("chunked responses are not supported by this test client");
  if (head || res.status == 204 || res.status == 304 || res.status < 200) return res;
  const std::string length_text = res.header("Content-Length");
  if (length_text.empty()) {  // body until EOF
    while (fill()) {
    }
    res.body = std::move(buffer_);
    buffer_.clear();
    return res;
  }
  const std::size_t length = std::stoul(length_text);
  while (buffer_.size() < length)
    if (!fill()) throw std::runtime_error("connection closed inside a response body");
  res.body = buffer_.substr(0, length);
  buffer_.erase(0, length);
  return res;
}

HttpResponse HttpConnection::request(std::string_view method, std::string_view target,
                                     const Headers& headers, std::string_view body) {
  send_request(method, target, headers, body);
  return read_response(method == "HEAD");
}

bool HttpConnection::wait_closed(std::chrono::milliseconds timeout) {
  const auto saved = timeout_;
  timeout_ = timeout;
  bool closed = false;
  try {
    while (fill()) buffer_.clear();
    closed = true;
  } catch (const std::runtime_error&) {
    closed = false;  // timed out: still open
  }
  timeout_ = saved;
  return closed;
}

HttpResponse http_request(std::uint16_t port, std::string_view method, std::string_view target,
                          const Headers& headers, std::string_view body) {
  HttpConnection conn("127.0.0.1", port);
  Headers with_close = headers;
  with_close.emplace_back("Connection", "close");
  return conn.request(method, target, with_close, body);
}

HttpResponse http_get(std::uint16_t port, std::string_view target, const Headers& headers) {
  return http_request(port, "GET", target, headers);
}

std::pair<std::string, std::uint16_t> split_address(std::string_view address) {
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos)
    throw std::runtime_error("no port in " + std::string(address));
  const int port = std::stoi(std::string(address.substr(colon + 1)));
  if (port <= 0 || port > 65535) throw std::runtime_error("bad port in " + std::string(address));
  return {std::string(address.substr(0, colon)), static_cast<std::uint16_t>(port)};
}

std::string gunzip(std::string_view data) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char chunk[16384];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      throw std::runtime_error("not a valid gzip stream");
    }
    out.append(chunk, sizeof chunk - zs.avail_out);
  } while (rc != Z_STREAM_END);
  inflateEnd(&zs);
  return out;
}

}  // namespace firebreak::test
