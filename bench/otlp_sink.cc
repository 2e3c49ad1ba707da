// The benchmark's OTLP/HTTP receiver: blocking sockets, one thread per
// connection, bodies counted as they stream in (see otlp_sink.h).
#include "otlp_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>

namespace bench {

namespace {

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::uint64_t kMaxBodyBytes = 64ull * 1024 * 1024;
constexpr std::size_t kBodyChunk = 1024 * 1024;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string response(int status, std::string_view reason, std::string_view content_type,
                     std::string_view body, bool keep_alive) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " ";
  r += reason;
  r += "\r\nServer: shop-otlp-sink\r\nContent-Type: ";
  r += content_type;
  r += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (!keep_alive) r += "Connection: close\r\n";
  r += "\r\n";
  r += body;
  return r;
}

struct RequestHead {
  std::string_view method;
  std::string_view path;
  std::optional<std::uint64_t> content_length;
  bool bad = false;
  bool chunked = false;
  bool keep_alive = true;
  bool expect_continue = false;
};

RequestHead parse_head(std::string_view head) {
  RequestHead h;
  auto eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) {
    h.bad = true;
    return h;
  }
  h.method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  h.path = target.substr(0, target.find('?'));
  const std::string_view version = line.substr(sp2 + 1);
  h.keep_alive = version == "HTTP/1.1";
  while (eol != std::string_view::npos) {
    const auto start = eol + 2;
    eol = head.find("\r\n", start);
    const std::string_view field =
        head.substr(start, eol == std::string_view::npos ? head.npos : eol - start);
    const auto colon = field.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = field.substr(0, colon);
    const std::string_view value = trim(field.substr(colon + 1));
    if (iequals(name, "content-length")) {
      std::uint64_t n = 0;
      const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || p != value.data() + value.size() ||
          (h.content_length && *h.content_length != n)) {
        h.bad = true;
      }
      h.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      h.chunked = true;
    } else if (iequals(name, "connection")) {
      if (iequals(value, "close")) h.keep_alive = false;
      if (iequals(value, "keep-alive")) h.keep_alive = true;
    } else if (iequals(name, "expect")) {
      h.expect_continue = iequals(value, "100-continue");
    }
  }
  return h;
}

}  // namespace

std::uint64_t SpanIdCounter::feed(std::string_view piece) {
  constexpr std::size_t n = kNeedle.size();
  if (piece.empty()) return count_;
  // Matches that start in the tail (the previous piece's last bytes) and end
  // in this piece: the tail is shorter than the needle, so none lies wholly
  // in it.
  if (tail_size_ > 0) {
    char joint[2 * (n - 1)];
    const std::size_t head = std::min(piece.size(), n - 1);
    std::memcpy(joint, tail_, tail_size_);
    std::memcpy(joint + tail_size_, piece.data(), head);
    const std::string_view j(joint, tail_size_ + head);
    for (std::size_t i = 0; i < tail_size_; ++i)
      if (j.substr(i, n) == kNeedle) ++count_;
  }
  // Matches wholly in this piece. Searching for the needle's first byte, a
  // quote, would stop at every JSON string; its 'I' occurs three times a
  // span (traceId, spanId, parentSpanId), so memchr for it and compare
  // around each hit.
  constexpr std::size_t kAnchor = kNeedle.find('I');
  static_assert(kAnchor != std::string_view::npos);
  const char* const begin = piece.data();
  const char* const end = begin + piece.size();
  for (const char* p = begin + kAnchor; p < end;) {
    const auto* hit =
        static_cast<const char*>(std::memchr(p, 'I', static_cast<std::size_t>(end - p)));
    if (hit == nullptr) break;
    const char* start = hit - kAnchor;
    if (static_cast<std::size_t>(end - start) >= n && std::memcmp(start, kNeedle.data(), n) == 0)
      ++count_;
    p = hit + 1;
  }
  // Keep the last n - 1 bytes of everything fed so far.
  if (piece.size() >= n - 1) {
    std::memcpy(tail_, piece.data() + piece.size() - (n - 1), n - 1);
    tail_size_ = n - 1;
  } else {
    const std::size_t keep = std::min(tail_size_, n - 1 - piece.size());
    std::memmove(tail_, tail_ + tail_size_ - keep, keep);
    std::memcpy(tail_ + keep, piece.data(), piece.size());
    tail_size_ = keep + piece.size();
  }
  return count_;
}

OtlpSink::OtlpSink(std::string listen) : listen_(std::move(listen)) {}

OtlpSink::~OtlpSink() {
  stop();
}

void OtlpSink::start() {
  const auto colon = listen_.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--listen: want HOST:PORT");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  const std::string host = listen_.substr(0, colon);
  int port = -1;
  const std::string_view ps = std::string_view(listen_).substr(colon + 1);
  const auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (ec != std::errc() || p != ps.data() + ps.size() || port < 0 || port > 65535 ||
      ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    throw std::runtime_error("--listen \"" + listen_ + "\": want IPV4:PORT");
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    const std::string why = std::strerror(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    throw std::runtime_error("cannot listen on " + listen_ + ": " + why);
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  char ip[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
  address_ = std::string(ip) + ":" + std::to_string(ntohs(addr.sin_port));
  acceptor_ = std::thread([this] { accept_loop(); });
}

void OtlpSink::stop() {
  if (listen_fd_ < 0 || stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> sessions;
  {
    std::lock_guard lock(mu_);
    for (const int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    sessions.swap(sessions_);
  }
  for (auto& t : sessions) t.join();
}

OtlpSinkStats OtlpSink::stats() const noexcept {
  return {requests_.load(std::memory_order_relaxed), spans_.load(std::memory_order_relaxed),
          bytes_.load(std::memory_order_relaxed)};
}

void OtlpSink::accept_loop() {
  while (!stopping_.load()) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_.load()) return;
      if (errno != EINTR && errno != ECONNABORTED)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mu_);
    if (stopping_.load()) {
      ::close(fd);
      return;
    }
    fds_.push_back(fd);
    sessions_.emplace_back([this, fd] { serve(fd); });
  }
}

void OtlpSink::serve(int fd) {
  std::string buf;  // the request head being read, and what follows it
  const auto body = std::make_unique<char[]>(kBodyChunk);
  for (;;) {
    std::size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHeaderBytes) {
        send_all(fd, response(431, "Request Header Fields Too Large", "text/plain", "", false));
        head_end = std::string::npos;
        break;
      }
      char tmp[16 * 1024];
      const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buf.append(tmp, static_cast<std::size_t>(n));
    }
    if (head_end == std::string::npos) break;
    const RequestHead h = parse_head(std::string_view(buf).substr(0, head_end));
    if (h.bad) {
      send_all(fd, response(400, "Bad Request", "text/plain", "bad request\n", false));
      break;
    }
    if (h.chunked) {
      send_all(fd, response(411, "Length Required", "text/plain", "want Content-Length\n", false));
      break;
    }
    const std::uint64_t length = h.content_length.value_or(0);
    if (length > kMaxBodyBytes) {
      send_all(fd, response(413, "Payload Too Large", "text/plain", "body too large\n", false));
      break;
    }
    const bool traces = h.method == "POST" && h.path == "/v1/traces";
    const bool stats_request = h.method == "GET" && h.path == "/stats";
    const bool keep_alive = h.keep_alive;
    if (h.expect_continue && length > 0 && !send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n")) break;

    SpanIdCounter counter;
    const std::size_t start = head_end + 4;
    const auto have = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size() - start, length));
    if (traces) counter.feed(std::string_view(buf).substr(start, have));
    buf.erase(0, start + have);  // what is left belongs to the next request
    std::uint64_t remaining = length - have;
    bool failed = false;
    while (remaining > 0) {
      // MSG_WAITALL: one call (and one return to user space) for the whole
      // body, or a megabyte of it, however many segments it arrives in.
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, kBodyChunk));
      const ssize_t n = ::recv(fd, body.get(), want, MSG_WAITALL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        failed = true;
        break;
      }
      if (traces) counter.feed(std::string_view(body.get(), static_cast<std::size_t>(n)));
      remaining -= static_cast<std::uint64_t>(n);
    }
    if (failed) break;

    std::string reply;
    if (traces) {
      requests_.fetch_add(1, std::memory_order_relaxed);
      bytes_.fetch_add(length, std::memory_order_relaxed);
      spans_.fetch_add(counter.count(), std::memory_order_relaxed);
      reply = response(200, "OK", "application/json", "{}", keep_alive);
    } else if (stats_request) {
      const OtlpSinkStats s = stats();
      reply = response(200, "OK", "application/json",
                       "{\"requests\":" + std::to_string(s.requests) + ",\"spans\":" +
                           std::to_string(s.spans) + ",\"bytes\":" + std::to_string(s.bytes) + "}",
                       keep_alive);
    } else {
      reply = response(404, "Not Found", "text/plain", "not found\n", keep_alive);
    }
    if (!send_all(fd, reply) || !keep_alive) break;
  }
  std::lock_guard lock(mu_);
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
  fds_.erase(std::find(fds_.begin(), fds_.end(), fd));
}

}  // namespace bench
