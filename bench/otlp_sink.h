// The benchmark's OTLP/HTTP trace receiver (bench/shop_otlp_sink.cc): answers
// POST /v1/traces with 200 and {} as a collector does, counts requests, body
// bytes and spans, and discards the rest. Its cost comes off the same cores as
// the service under test, so it does as little as it can: blocking sockets, a
// thread per connection, the body read whole (MSG_WAITALL: one return to user
// space per export, however many TCP segments it arrives in; not SO_RCVLOWAT,
// which can leave a read asleep when fewer bytes than the mark are still to
// come) and counted as it streams past, without a request object or a JSON
// tree.
//
//   bench::OtlpSink sink("127.0.0.1:0");
//   sink.start();                       // sink.address(): "127.0.0.1:PORT"
//   ... POST http://<address>/v1/traces ...
//   sink.stats().spans;
//   sink.stop();
//
// HTTP/1.1 with Content-Length bodies and keep-alive (what OTLP exporters
// send); chunked bodies are refused (411), bodies over 64 MiB get 413.
// GET /stats answers {"requests":N,"spans":M,"bytes":B}.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace bench {

// Counts the spans of an OTLP JSON body fed in pieces: the occurrences of
// "spanId": (a span's own id; parentSpanId does not match, and links' ids are
// counted too, as before), including those split across pieces. Not
// thread-safe: one counter per body.
class SpanIdCounter {
 public:
  static constexpr std::string_view kNeedle = "\"spanId\":";

  // Counts the matches that end in `piece`; returns the total so far.
  std::uint64_t feed(std::string_view piece);
  std::uint64_t count() const noexcept { return count_; }

 private:
  std::uint64_t count_ = 0;
  char tail_[kNeedle.size() - 1] = {};  // the last bytes fed, at most kNeedle.size() - 1
  std::size_t tail_size_ = 0;
};

struct OtlpSinkStats {
  std::uint64_t requests = 0;  // POST /v1/traces answered 200
  std::uint64_t spans = 0;
  std::uint64_t bytes = 0;  // request body bytes
};

// Thread-safe: stats() from any thread while connections are served.
class OtlpSink {
 public:
  // "HOST:PORT" (port 0: any free port); an IPv4 address.
  explicit OtlpSink(std::string listen);
  ~OtlpSink();
  OtlpSink(const OtlpSink&) = delete;
  OtlpSink& operator=(const OtlpSink&) = delete;

  // Binds and starts accepting; throws std::runtime_error if it cannot.
  void start();
  // Closes the listener and every connection, and joins their threads.
  void stop();
  // "HOST:PORT" bound, after start().
  std::string address() const { return address_; }
  OtlpSinkStats stats() const noexcept;

 private:
  void accept_loop();
  void serve(int fd);

  std::string listen_;
  std::string address_;
  int listen_fd_ = -1;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::vector<int> fds_;               // guarded by mu_: open connections
  std::vector<std::thread> sessions_;  // guarded by mu_
  std::atomic<std::uint64_t> requests_{0}, spans_{0}, bytes_{0};
};

}  // namespace bench
