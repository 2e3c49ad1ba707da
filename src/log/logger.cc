// The logger: formatting on the caller's thread, per-thread rings, one writer
// thread, rate limits, context scopes and the sinks.
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "firebreak/clock.h"
#include "firebreak/log.h"
#include "firebreak/metrics.h"
#include "log/line_writer.h"
#include "log/ring.h"
#include "log/trace_ids.h"
#include "trace/wall_clock.h"
#include "util/json_write.h"
#include "util/line_buffer.h"

namespace firebreak {

namespace detail {

std::atomic<std::uint8_t> log_threshold{static_cast<std::uint8_t>(LogLevel::kInfo)};

inline constexpr std::uint32_t kDefaultLimit = 0xffffffffu;

// Rate-limit state of one event name. Never freed: call sites keep pointers.
struct EventLimit {
  std::string event;
  std::atomic<std::uint32_t> per_second{kDefaultLimit};  // kDefaultLimit: the default
  std::atomic<std::int64_t> window{0};                   // the second being counted
  std::atomic<std::uint32_t> count{0};
  std::atomic<std::uint64_t> suppressed{0};
};

}  // namespace detail

namespace {

using detail::EventLimit;
using detail::LogRing;

constexpr int kLevels = 6;
static_assert(detail::LogRing::kLevels == kLevels);
// Room asked of the queue to format a line in place; longer lines are
// formatted in the thread's buffer and copied.
constexpr std::size_t kInPlaceLine = 1024;
constexpr std::string_view kLevelNames[] = {"trace", "debug", "info", "warn",
                                            "error", "fatal", "off"};

// Without an injected clock: the TSC-backed wall clock spans use (it follows
// CLOCK_REALTIME within 100 ms and costs less than half a clock_gettime).
[[gnu::always_inline]] inline std::int64_t now_micros(const Clock* clock) {
  if (clock) {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               clock->wall_now().time_since_epoch())
        .count();
  }
  const std::int64_t ns = detail::fast_wall_nanos();
  return ns >= 0 ? ns / 1000 : (ns - 999) / 1000;
}

std::int64_t floor_seconds(std::int64_t micros) {
  return micros >= 0 ? micros / 1000000 : (micros - 999999) / 1000000;
}

// Schema order of context keys (docs/logs.md, "Keys, in this order").
int context_rank(std::string_view key) {
  if (key == "request_id") return 0;
  if (key.starts_with("http_")) return 1;
  if (key.starts_with("messaging_")) return 2;
  if (key == "message_id") return 3;
  if (key == "job") return 4;
  if (key == "job_run_id") return 5;
  return 6;
}

template <class Out>
void append_value_json(Out& out, const LogValue& v) {
  using K = LogValue::Kind;
  switch (v.kind()) {
    case K::kString:
      detail::append_json_string(out, v.str());
      return;
    case K::kInt:
      detail::append_json_int(out, v.i());
      return;
    case K::kUint:
      detail::append_json_uint(out, v.u());
      return;
    case K::kDouble:
    case K::kDuration:
      detail::append_json_double(out, v.d());
      return;
    case K::kBool:
      out.append(v.b() ? "true" : "false");
      return;
    case K::kTime:
      out.push_back('"');
      detail::append_rfc3339_micros(out, v.i());
      out.push_back('"');
      return;
    case K::kErrorCode:
      detail::append_json_string(out, v.category()->message(static_cast<int>(v.i())));
      return;
    case K::kNull:
      out.append("null");
      return;
  }
}

// Console form of a value: strings bare unless they hold spaces or quotes.
void append_value_console(detail::LineBuffer& out, const LogValue& v) {
  if (v.kind() == LogValue::Kind::kString) {
    const std::string_view s = v.str();
    if (!s.empty() && s.find_first_of(" \"=\t\n\r") == std::string_view::npos) {
      detail::append_json_escaped(out, s);
    } else {
      detail::append_json_string(out, s);
    }
    return;
  }
  append_value_json(out, v);
}

// ---------------------------------------------------------------------------

// This thread's log context. Slots past `count` keep their string buffers, so
// a request's scope reuses them instead of allocating.
struct ThreadContext {
  std::vector<std::pair<std::string, std::string>> slots;  // key, rendered JSON value
  std::size_t count = 0;
  std::string rendered;  // ,"k":v in schema order, when !stale
  // Scopes open and close on every request, most with no log line in
  // between: render when a line needs it, not on each change.
  bool stale = false;

  const std::string& rendered_now() {
    if (stale) render();
    return rendered;
  }

  std::span<const std::pair<std::string, std::string>> entries() const {
    return {slots.data(), count};
  }

  void push(std::string_view key, const LogValue& value) {
    if (count == slots.size()) slots.emplace_back();
    auto& [k, v] = slots[count++];
    k.assign(key);
    v.clear();
    append_value_json(v, value);
  }

  void assign(std::span<const std::pair<std::string, std::string>> entries) {
    count = 0;
    for (const auto& [key, value] : entries) {
      if (count == slots.size()) slots.emplace_back();
      slots[count].first.assign(key);
      slots[count].second.assign(value);
      ++count;
    }
    stale = true;
  }

  void render() {
    stale = false;
    rendered.clear();
    // Innermost wins for a repeated key; then schema order, push order within
    // a rank. Contexts are small: fixed arrays, no allocation.
    constexpr std::size_t kMax = 64;
    std::size_t keep[kMax];
    std::size_t kept = 0;
    for (std::size_t i = count; i-- > 0 && kept < kMax;) {
      bool shadowed = false;
      for (std::size_t k = 0; k < kept; ++k)
        shadowed = shadowed || slots[keep[k]].first == slots[i].first;
      if (!shadowed) keep[kept++] = i;
    }
    std::reverse(keep, keep + kept);
    // A stable insertion sort by rank (std::stable_sort allocates a buffer).
    int rank[kMax];
    for (std::size_t k = 0; k < kept; ++k) rank[k] = context_rank(slots[keep[k]].first);
    for (std::size_t k = 1; k < kept; ++k) {
      const std::size_t idx = keep[k];
      const int r = rank[k];
      std::size_t j = k;
      for (; j > 0 && rank[j - 1] > r; --j) {
        keep[j] = keep[j - 1];
        rank[j] = rank[j - 1];
      }
      keep[j] = idx;
      rank[j] = r;
    }
    for (std::size_t k = 0; k < kept; ++k) {
      rendered.push_back(',');
      detail::append_json_string(rendered, slots[keep[k]].first);
      rendered.push_back(':');
      rendered.append(slots[keep[k]].second);
    }
  }
};

struct ThreadState {
  detail::LineBuffer buf;
  detail::TimestampOpening opening;
  std::shared_ptr<LogRing> ring;
  ThreadContext context;
  ~ThreadState() {
    if (ring) ring->closed.store(true, std::memory_order_release);
  }
};

// This thread's state, reached through a constant-initialised pointer so the
// hot path has no thread_local initialisation check; the state itself is
// built on first use and destroyed at thread exit.
constinit thread_local ThreadState* t_state = nullptr;

[[gnu::noinline]] ThreadState& make_thread_state() {
  thread_local ThreadState state;
  t_state = &state;
  return state;
}

ThreadState& thread_state() {
  if (ThreadState* s = t_state) [[likely]]
    return *s;
  return make_thread_state();
}

// ---------------------------------------------------------------------------

class Logger {
 public:
  static Logger& get() {
    static Logger* logger = new Logger;  // never destroyed: logging works in static destructors
    return *logger;
  }

  void configure(const LogOptions& options);

  bool console() const { return console_.load(std::memory_order_relaxed); }
  bool color() const { return color_.load(std::memory_order_relaxed); }
  const Clock* clock() const { return clock_.load(std::memory_order_relaxed); }
  std::uint32_t default_limit() const { return default_limit_.load(std::memory_order_relaxed); }
  // Whether any rate limit was ever set: until then no line needs admit().
  bool limits_in_use() const { return limits_in_use_.load(std::memory_order_relaxed); }
  void use_limits() { limits_in_use_.store(true); }
  const std::string& identity() const { return *identity_.load(std::memory_order_acquire); }

  void set_identity(const LogIdentity& id) {
    std::string s;
    for (const auto& [key, value] :
         {std::pair<std::string_view, std::string_view>{"service", id.service},
          {"version", id.version},
          {"env", id.env},
          {"workload", id.workload}}) {
      s.append(",\"");
      s.append(key);
      s.append("\":");
      detail::append_json_string(s, value);
    }
    std::lock_guard lock(config_mu_);
    identities_.push_back(std::make_unique<std::string>(std::move(s)));
    identity_.store(identities_.back().get(), std::memory_order_release);
  }

  void submit(ThreadState& t, std::uint8_t level, std::string_view line);
  // This thread's ring (created on first use).
  LogRing& ring_for(ThreadState& t) {
    if (!t.ring) [[unlikely]]
      add_ring(t);
    return *t.ring;
  }
  // After a record was queued: wakes the writer if the ring is filling up.
  void queued(LogRing& ring) {
    if (ring.filling() && idle_.load(std::memory_order_relaxed) && idle_.exchange(false))
      wake_.release();
    if (!running_.load(std::memory_order_relaxed)) [[unlikely]]
      flush();  // after shutdown: write at once
  }
  void flush();
  void flush_on_terminate();
  void shutdown();

  EventLimit* limit_for(std::string_view event) {
    std::lock_guard lock(limits_mu_);
    auto it = limits_.find(event);
    if (it == limits_.end()) {
      auto limit = std::make_unique<EventLimit>();
      limit->event = std::string(event);
      it = limits_.emplace(limit->event, std::move(limit)).first;
    }
    return it->second.get();
  }

  // Lines written at `level`, or queued to be (counted as they are queued).
  std::uint64_t written(int level) {
    std::lock_guard lock(rings_mu_);
    std::uint64_t n = written_[level].load(std::memory_order_relaxed);
    for (const auto& ring : rings_) n += ring->queued(level);
    return n;
  }
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  void count_dropped() { dropped_.fetch_add(1, std::memory_order_relaxed); }

  // Formats the "N lines suppressed" summary for one event.
  template <class Out>
  void format_summary(Out& out, std::string_view event, std::uint64_t n, std::int64_t micros);

  void request_reopen() { reopen_.store(true, std::memory_order_relaxed); }

  // fork() copies only the calling thread: hold the locks across it so the
  // child does not inherit one held by a thread that no longer exists, and in
  // the child write synchronously (it has no writer thread).
  void before_fork() {
    drain_mu_.lock();
    rings_mu_.lock();
  }
  void after_fork(bool child) {
    if (child) {
      writer_alive_ = false;
      running_.store(false);
    }
    rings_mu_.unlock();
    drain_mu_.unlock();
  }

 private:
  Logger();

  [[gnu::noinline]] void add_ring(ThreadState& t);

  void writer_loop();
  // Drains every ring and writes; caller holds drain_mu_. Returns the bytes
  // written from the rings.
  std::size_t drain_locked();
  // Write every byte (short writes go on, a full non-blocking sink is
  // waited for); give up only when the sink is gone. Caller holds drain_mu_.
  void write_out_locked();
  void write_spans_locked(iovec* spans, std::size_t n);
  void sweep_suppressed_locked();
  void open_sink_locked();

  std::mutex config_mu_;
  std::vector<std::unique_ptr<std::string>> identities_;  // guarded by config_mu_; never freed
  std::atomic<const std::string*> identity_{nullptr};
  std::atomic<bool> console_{false};
  std::atomic<bool> color_{false};
  std::atomic<const Clock*> clock_{nullptr};
  std::atomic<std::uint32_t> default_limit_{0};
  std::atomic<bool> limits_in_use_{false};
  std::atomic<std::size_t> queue_bytes_{256 * 1024};
  std::atomic<LogOverflow> overflow_{LogOverflow::kDrop};

  std::mutex rings_mu_;
  std::vector<std::shared_ptr<LogRing>> rings_;  // guarded by rings_mu_

  std::timed_mutex drain_mu_;
  detail::LineBuffer out_{64 * 1024};  // guarded by drain_mu_
  int fd_ = STDOUT_FILENO;             // guarded by drain_mu_
  std::string file_;                   // guarded by drain_mu_
  std::atomic<bool> reopen_{false};
  std::int64_t last_sweep_ = 0;  // guarded by drain_mu_

  std::thread writer_;
  bool writer_alive_ = false;  // false in a forked child, whose copy of writer_ is no thread
  std::atomic<bool> running_{false};
  std::atomic<bool> stop_{false};
  std::atomic<bool> idle_{false};
  // Wakes the writer early: a flag and a futex. Not a std::binary_semaphore:
  // libstdc++'s timed acquire spins with sched_yield before it sleeps, and on
  // a small, busy machine each yield hands a core to another thread and back.
  // No mutex either, so a fork never copies one locked.
  struct Wakeup {
    std::atomic<std::uint32_t> set{0};
    void release() noexcept {
      if (set.exchange(1, std::memory_order_release) == 0)
        ::syscall(SYS_futex, &set, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }
    void try_acquire_for(std::chrono::nanoseconds timeout) noexcept {
      if (set.exchange(0, std::memory_order_acquire) != 0) return;
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
      timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      // Returns at once if set is no longer 0; EINTR and timeouts are fine.
      ::syscall(SYS_futex, &set, FUTEX_WAIT_PRIVATE, 0u, &ts, nullptr, 0);
      set.store(0, std::memory_order_relaxed);
    }
  } wake_;

  std::mutex limits_mu_;
  std::map<std::string, std::unique_ptr<EventLimit>, std::less<>> limits_;

  std::atomic<std::uint64_t> written_[kLevels] = {};
  std::atomic<std::uint64_t> dropped_{0};
};

std::terminate_handler previous_terminate = nullptr;

void on_terminate() {
  Logger::get().flush_on_terminate();
  if (previous_terminate) previous_terminate();
  std::abort();
}

void on_sighup(int) {
  Logger::get().request_reopen();
}

void shutdown_at_exit() {
  Logger::get().shutdown();
}

void prepare_fork() {
  Logger::get().before_fork();
}
void parent_after_fork() {
  Logger::get().after_fork(false);
}
void child_after_fork() {
  Logger::get().after_fork(true);
}

Logger::Logger() {
  set_identity({.service = "unknown_service", .version = "", .env = "", .workload = ""});
  previous_terminate = std::set_terminate(on_terminate);
  std::atexit(shutdown_at_exit);
  try {
    configure(log_options_from_env());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "firebreak: logging: %s; logging to stdout\n", e.what());
  }
  ::pthread_atfork(prepare_fork, parent_after_fork, child_after_fork);
  running_.store(true);
  writer_ = std::thread([this] { writer_loop(); });
  writer_alive_ = true;
}

void Logger::configure(const LogOptions& options) {
  std::lock_guard config(config_mu_);
  std::lock_guard drain(drain_mu_);
  if (!options.file.empty() && options.file != file_) {
    const int fd = ::open(options.file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      throw std::runtime_error(
          fmt::format("cannot open log file {}: {}", options.file, std::strerror(errno)));
    }
    drain_locked();  // lines already queued go where they were meant to
    if (fd_ != STDOUT_FILENO) ::close(fd_);
    fd_ = fd;
    file_ = options.file;
    struct sigaction sa {};
    sa.sa_handler = on_sighup;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, nullptr);
  } else if (options.file.empty() && fd_ != STDOUT_FILENO) {
    drain_locked();
    ::close(fd_);
    fd_ = STDOUT_FILENO;
    file_.clear();
  }
  bool console = options.format == LogFormat::kConsole;
  if (options.format == LogFormat::kAuto) console = options.file.empty() && ::isatty(STDOUT_FILENO);
  console_.store(console);
  color_.store(console && options.file.empty() && ::isatty(STDOUT_FILENO));
  clock_.store(options.clock);
  default_limit_.store(options.rate_limit_per_event);
  if (options.rate_limit_per_event != 0) use_limits();
  queue_bytes_.store(std::max<std::size_t>(options.queue_bytes, 4096));
  overflow_.store(options.overflow);
  detail::log_threshold.store(static_cast<std::uint8_t>(options.level));
}

void Logger::add_ring(ThreadState& t) {
  t.ring = std::make_shared<LogRing>(queue_bytes_.load(std::memory_order_relaxed));
  std::lock_guard lock(rings_mu_);
  rings_.push_back(t.ring);
}

void Logger::submit(ThreadState& t, std::uint8_t level, std::string_view line) {
  LogRing& ring = ring_for(t);
  const std::size_t len = line.size();
  if (len >= ring.capacity()) {
    // Larger than the whole queue: write it here, after what is queued.
    std::lock_guard lock(drain_mu_);
    drain_locked();
    out_.append(line);
    written_[level < kLevels ? level : kLevels - 1].fetch_add(1, std::memory_order_relaxed);
    write_out_locked();
    return;
  }
  if (!ring.push(level, line.data(), len)) {
    if (overflow_.load(std::memory_order_relaxed) == LogOverflow::kDrop) {
      count_dropped();
      return;
    }
    while (!ring.push(level, line.data(), len)) {
      if (!running_.load(std::memory_order_acquire)) {
        flush();
        continue;
      }
      idle_.store(false, std::memory_order_relaxed);
      wake_.release();
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  queued(ring);
}

std::size_t Logger::drain_locked() {
  if (reopen_.exchange(false) && !file_.empty()) {
    // Log rotation: what is queued now goes to the new file.
    write_out_locked();
    const int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::close(fd_);
      fd_ = fd;
    } else {
      std::fprintf(stderr, "firebreak: cannot reopen log file %s: %s\n", file_.c_str(),
                   std::strerror(errno));
    }
  }
  std::size_t bytes = 0;
  {
    std::lock_guard lock(rings_mu_);
    for (auto it = rings_.begin(); it != rings_.end();) {
      LogRing& ring = **it;
      const bool closed = ring.closed.load(std::memory_order_acquire);
      // What is queued goes to the sink as it lies in the ring (never
      // copied, whatever the number of lines): one writev.
      iovec spans[2];
      if (const std::size_t n = ring.take(spans)) {
        bytes += spans[0].iov_len + (n == 2 ? spans[1].iov_len : 0);
        write_spans_locked(spans, n);
        ring.release();
      }
      // A closed ring gets no more records once its owner is gone; its
      // counts live on in written_.
      if (closed && ring.empty()) {
        for (int level = 0; level < kLevels; ++level)
          written_[level].fetch_add(ring.queued(level), std::memory_order_relaxed);
        it = rings_.erase(it);
      } else {
        ++it;
      }
    }
  }
  write_out_locked();
  return bytes;
}

void Logger::write_spans_locked(iovec* spans, std::size_t n) {
  int stalled_ms = 0;
  while (n > 0) {
    const ssize_t written =
        ::writev(fd_, spans, static_cast<int>(std::min<std::size_t>(n, IOV_MAX)));
    if (written < 0) {
      if (errno == EINTR) continue;
      // A non-blocking sink (a pipe someone set O_NONBLOCK on) that is full:
      // wait for room as a blocking write would, up to 10 s without progress.
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && stalled_ms < 10000) {
        pollfd ready{.fd = fd_, .events = POLLOUT, .revents = 0};
        if (::poll(&ready, 1, 100) == 0) stalled_ms += 100;
        continue;
      }
      return;  // the sink is gone (closed pipe, full disk): nothing better to do
    }
    stalled_ms = 0;
    // Past what a short write took.
    auto left = static_cast<std::size_t>(written);
    while (n > 0 && left >= spans->iov_len) {
      left -= spans->iov_len;
      ++spans;
      --n;
    }
    if (n > 0) {
      spans->iov_base = static_cast<char*>(spans->iov_base) + left;
      spans->iov_len -= left;
    }
  }
}

void Logger::write_out_locked() {
  iovec all{.iov_base = const_cast<char*>(out_.data()), .iov_len = out_.size()};
  write_spans_locked(&all, 1);
  out_.clear();
}

template <class Out>
void Logger::format_summary(Out& out, std::string_view event, std::uint64_t n,
                            std::int64_t micros) {
  out.append("{\"timestamp\":\"");
  detail::append_rfc3339_micros(out, micros);
  out.append("\",\"level\":\"warn\",\"event\":\"log_suppressed\",\"msg\":");
  detail::append_json_string(
      out, fmt::format("suppressed {} line(s) of event {} over its rate limit", n, event));
  out.append(identity());
  out.append(",\"suppressed_event\":");
  detail::append_json_string(out, event);
  out.append(",\"suppressed_count\":");
  detail::append_json_uint(out, n);
  out.append("}\n");
}

void Logger::sweep_suppressed_locked() {
  const std::int64_t micros = now_micros(clock());
  const std::int64_t secs = floor_seconds(micros);
  if (secs == last_sweep_) return;
  last_sweep_ = secs;
  std::lock_guard lock(limits_mu_);
  for (auto& [name, limit] : limits_) {
    if (limit->suppressed.load(std::memory_order_relaxed) == 0) continue;
    if (limit->window.load(std::memory_order_relaxed) >= secs) continue;  // window still open
    if (const std::uint64_t n = limit->suppressed.exchange(0)) {
      format_summary(out_, name, n, micros);
      written_[static_cast<int>(LogLevel::kWarn)].fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void Logger::writer_loop() {
  using namespace std::chrono;
  auto last = steady_clock::now();
  while (!stop_.load(std::memory_order_acquire)) {
    std::size_t bytes;
    {
      std::lock_guard lock(drain_mu_);
      bytes = drain_locked();
      sweep_suppressed_locked();
      write_out_locked();
    }
    // Lines are written in batches: after writing, pause so the next batch
    // can gather (one wake-up per batch, not per line), and when idle, sleep
    // longer. The pause is what an eighth of a queue takes to fill at the
    // rate just seen, within [50 µs, 2 ms]: a thread logging flat out then
    // seldom reaches a quarter of its queue, where it would wake us itself
    // (a system call on its own time). A producer that misses the idle flag
    // (a benign race that keeps fences off the hot path) waits at most the
    // pause.
    const auto now = steady_clock::now();
    const auto since = duration_cast<nanoseconds>(now - last).count();
    last = now;
    nanoseconds pause = milliseconds(50);
    if (bytes > 0) {
      const double eighth = static_cast<double>(queue_bytes_.load(std::memory_order_relaxed)) / 8;
      const double fill_ns = eighth * static_cast<double>(since) / static_cast<double>(bytes);
      pause = nanoseconds(static_cast<std::int64_t>(std::clamp(fill_ns, 50e3, 2e6)));
    }
    idle_.store(true, std::memory_order_relaxed);
    wake_.try_acquire_for(pause);
    idle_.store(false, std::memory_order_relaxed);
  }
}

void Logger::flush() {
  std::lock_guard lock(drain_mu_);
  drain_locked();
}

void Logger::flush_on_terminate() {
  if (drain_mu_.try_lock_for(std::chrono::seconds(2))) {
    drain_locked();
    drain_mu_.unlock();
  }
}

void Logger::shutdown() {
  if (running_.exchange(false)) {
    stop_.store(true, std::memory_order_release);
    wake_.release();
    if (writer_alive_ && writer_.joinable()) writer_.join();
  }
  flush();
}

Logger& logger() {
  return Logger::get();
}

// Returns false when the line is over its event's rate limit. Rolls the
// window and reports what the previous one suppressed through `summary`.
bool admit(detail::LogSite& site, std::int64_t micros, std::uint64_t& summary_count) {
  EventLimit* limit = site.limit.load(std::memory_order_acquire);
  if (!limit) {
    limit = logger().limit_for(site.event);
    site.limit.store(limit, std::memory_order_release);
  }
  std::uint32_t per_second = limit->per_second.load(std::memory_order_relaxed);
  if (per_second == detail::kDefaultLimit) per_second = logger().default_limit();
  if (per_second == 0) return true;
  const std::int64_t secs = floor_seconds(micros);
  std::int64_t window = limit->window.load(std::memory_order_relaxed);
  if (window != secs && limit->window.compare_exchange_strong(window, secs)) {
    limit->count.store(0, std::memory_order_relaxed);
    summary_count = limit->suppressed.exchange(0);
  }
  if (limit->count.fetch_add(1, std::memory_order_relaxed) < per_second) return true;
  limit->suppressed.fetch_add(1, std::memory_order_relaxed);
  return false;
}

// `Z","level":"<level>","event":"`, the piece between the timestamp's digits
// and the event name, per level, padded so it is copied as whole words.
struct LevelPiece {
  char text[32];
  std::size_t size;
};
constexpr auto kLevelPieces = [] {
  std::array<LevelPiece, 7> pieces{};
  for (std::size_t l = 0; l < pieces.size(); ++l) {
    LevelPiece& p = pieces[l];
    for (std::string_view part : {std::string_view("Z\",\"level\":\""), kLevelNames[l],
                                  std::string_view("\",\"event\":\"")}) {
      for (char c : part) p.text[p.size++] = c;
    }
  }
  return pieces;
}();

}  // namespace

namespace detail {

// The pieces of JSON that are the same on every line of one call site: the
// level-and-event piece, for the level the site last logged at, and the
// `,"key":` piece of each constant key. Built on a site's first line, never
// freed (the site is static); read without a lock.
struct SiteCache {
  static constexpr std::size_t kHead = 64;  // Z","level":"...","event":"<event>"
  static constexpr std::size_t kPiece = 32;
  static constexpr std::size_t kMaxKeys = 12;
  struct Key {
    const char* data = nullptr;
    std::size_t size = SIZE_MAX;  // SIZE_MAX: not cached
    char piece[kPiece] = {};
    std::size_t piece_size = 0;
  };
  LogLevel level = LogLevel::kOff;
  std::size_t head_size = 0;  // 0: the event is too long to cache
  char head[kHead] = {};
  Key key[kMaxKeys];  // one per field of the first line; the rest never match
};

}  // namespace detail

namespace {

using detail::SiteCache;

[[gnu::noinline]] SiteCache* make_site_cache(detail::LogSite& site, LogLevel level,
                                             std::span<const LogField> fields) {
  auto cache = std::make_unique<SiteCache>();
  cache->level = level;
  std::string head(kLevelPieces[static_cast<std::size_t>(level)].text,
                   kLevelPieces[static_cast<std::size_t>(level)].size);
  detail::append_json_escaped(head, site.event);
  head.push_back('"');
  if (head.size() <= SiteCache::kHead) {
    std::memcpy(cache->head, head.data(), head.size());
    cache->head_size = head.size();
  }
  for (std::size_t i = 0; i < std::min(fields.size(), SiteCache::kMaxKeys); ++i) {
    const LogField& f = fields.begin()[i];
    // Only constant keys: their bytes never change, so their address names them.
    if (!f.key_constant() || f.key.size() + 5 > SiteCache::kPiece) continue;
    SiteCache::Key& k = cache->key[i];
    std::string piece = ",\"";
    piece.append(f.key);
    piece.append("\":");
    std::memcpy(k.piece, piece.data(), piece.size());
    k.piece_size = piece.size();
    k.data = f.key.data();
    k.size = f.key.size();
  }
  SiteCache* expected = nullptr;
  if (site.cache.compare_exchange_strong(expected, cache.get(), std::memory_order_acq_rel))
    return cache.release();
  return expected;  // another thread's, as good
}

// The current span's ids (the log schema's trace_id, span_id, trace_flags), if a
// span is current; kTraceIdsSize bytes at most.
constexpr std::size_t kTraceIdsSize = 94;
[[gnu::always_inline]] inline char* put_trace_ids(char* p) {
  detail::TraceIdsHex ids;
  if (!detail::current_trace_ids(ids)) return p;
  std::memcpy(p, ",\"trace_id\":\"", 13);
  std::memcpy(p + 13, ids.trace_id, 32);
  std::memcpy(p + 45, "\",\"span_id\":\"", 13);
  std::memcpy(p + 58, ids.span_id, 16);
  std::memcpy(p + 74, "\",\"trace_flags\":\"", 17);
  std::memcpy(p + 91, ids.flags, 2);
  p[93] = '"';
  return p + kTraceIdsSize;
}

// The usual line, written with the cursor in a register and no room checks
// but one per field: the site's cached head applies (the level it last
// logged at), every string is plain (nothing to escape), every value is a
// string, number, bool or null, and the line fits between `p` and `end`.
// Returns the end of the line; null when the line is not such a line (what
// was written is then of no use), for format_json to write it.
char* format_json_common(char* p, char* const end, ThreadState& t, const std::string& identity,
                         LogLevel level, std::int64_t micros, const SiteCache& cache,
                         std::string_view msg, std::span<const LogField> fields) {
  namespace put = detail::put;
  const auto room = [&] { return static_cast<std::size_t>(end - p); };
  if (cache.level != level || cache.head_size == 0) [[unlikely]]
    return nullptr;
  const std::string& context = t.context.rendered_now();
  // Opening, head, trace ids, "}\n", and 16 bytes past each copied string.
  constexpr std::size_t kFixed =
      sizeof(detail::TimestampOpening::text) + 6 + SiteCache::kHead + kTraceIdsSize + 2 + 4 * 16;
  // Each field: its key's piece and a value other than a string (strings
  // check their own room, past this).
  constexpr std::size_t kField = SiteCache::kPiece + 40;
  if (fields.size() > SiteCache::kMaxKeys ||
      room() < kFixed + 9 + msg.size() + identity.size() + context.size() + fields.size() * kField)
      [[unlikely]]
    return nullptr;
  p = put::timestamp_opening(p, t.opening, micros);
  std::memcpy(p, cache.head, SiteCache::kHead);
  p += cache.head_size;
  if (!msg.empty()) {
    std::memcpy(p, ",\"msg\":\"", 8);
    p = put::plain(p + 8, msg.data(), msg.size());
    if (!p) return nullptr;
    *p++ = '"';
  }
  p = put::raw(p, identity.data(), identity.size());
  p = put_trace_ids(p);
  if (!context.empty()) p = put::raw(p, context.data(), context.size());
  using K = LogValue::Kind;
  // One cache entry per field (fields past the site's first call's count
  // meet entries that never match). Room: `left` fields of kField each are
  // always there; a string or an uncached key checks for its own bytes on
  // top of that.
  const SiteCache::Key* key = cache.key;
  std::size_t left = fields.size();
  for (const LogField& f : fields) {
    if (key->data == f.key.data() && key->size == f.key.size()) [[likely]] {
      std::memcpy(p, key->piece, SiteCache::kPiece);
      p += key->piece_size;
    } else {
      if (room() < f.key.size() + 4 + 16 + left * kField) return nullptr;
      std::memcpy(p, ",\"", 2);
      p = put::plain(p + 2, f.key.data(), f.key.size());
      if (!p) return nullptr;
      std::memcpy(p, "\":", 2);
      p += 2;
    }
    ++key;
    --left;
    const LogValue& v = f.value;
    // Strings first: the commonest kind, without the jump table's indirect branch.
    if (v.kind() == K::kString) {
      const std::string_view s = v.str();
      if (room() < s.size() + 2 + 16 + left * kField) return nullptr;
      *p++ = '"';
      p = put::plain(p, s.data(), s.size());
      if (!p) return nullptr;
      *p++ = '"';
      continue;
    }
    switch (v.kind()) {
      case K::kInt:
        p = put::int64(p, v.i());
        break;
      case K::kUint:
        p = put::uint(p, v.u());
        break;
      case K::kDouble:
      case K::kDuration:
        if (!std::isfinite(v.d())) return nullptr;
        p = put::finite_double(p, v.d());
        break;
      case K::kBool:
        std::memcpy(p, v.b() ? "true" : "false", 5);
        p += v.b() ? 4 : 5;
        break;
      case K::kNull:
        std::memcpy(p, "null", 4);
        p += 4;
        break;
      default:
        return nullptr;
    }
  }
  std::memcpy(p, "}\n", 2);
  return p + 2;
}

// Any line (escapes, any kind of value, any length), without the site's
// cached pieces: the path for what format_json_common declines.
void format_json(detail::LineWriter& w, ThreadState& t, const std::string& identity, LogLevel level,
                 std::int64_t micros, std::string_view event, std::string_view msg,
                 std::span<const LogField> fields) {
  w.need(sizeof(detail::TimestampOpening::text) + 6 + sizeof(LevelPiece::text));
  w.timestamp_opening(t.opening, micros);
  const LevelPiece& piece = kLevelPieces[static_cast<std::size_t>(level)];
  std::memcpy(w.cursor(), piece.text, sizeof piece.text);
  w.advance(piece.size);
  w.escaped(event);
  w.put('"');
  if (!msg.empty()) {
    w.literal(",\"msg\":\"");
    w.escaped(msg);
    w.put('"');
  }
  w.raw(identity);
  w.need(kTraceIdsSize);
  w.advance(static_cast<std::size_t>(put_trace_ids(w.cursor()) - w.cursor()));
  if (const std::string& context = t.context.rendered_now(); !context.empty()) w.raw(context);
  using K = LogValue::Kind;
  for (const LogField& f : fields) {
    w.need(0);
    w.literal(",\"");
    w.escaped(f.key);
    w.literal("\":");
    const LogValue& v = f.value;
    switch (v.kind()) {
      case K::kString:
        w.json_string(v.str());
        break;
      case K::kInt:
        w.need(24);
        w.signed_integer(v.i());
        break;
      case K::kUint:
        w.need(24);
        w.unsigned_integer(v.u());
        break;
      case K::kDouble:
      case K::kDuration:
        w.number(v.d());
        break;
      case K::kBool:
        if (v.b())
          w.literal("true");
        else
          w.literal("false");
        break;
      case K::kNull:
        w.literal("null");
        break;
      default:
        w.slow([&](detail::LineBuffer& out) { append_value_json(out, v); });
        break;
    }
  }
  w.need(0);
  w.literal("}\n");
}

void format_console(detail::LineBuffer& b, LogLevel level, std::int64_t micros,
                    std::string_view event, std::string_view msg,
                    std::span<const LogField> fields) {
  static constexpr std::string_view kColors[] = {"\x1b[90m", "\x1b[36m", "\x1b[32m",
                                                 "\x1b[33m", "\x1b[31m", "\x1b[35;1m"};
  static constexpr std::string_view kTags[] = {"TRACE", "DEBUG", "INFO ",
                                               "WARN ", "ERROR", "FATAL"};
  const bool color = logger().color();
  detail::append_rfc3339_micros(b, micros);
  b.push_back(' ');
  if (color) b.append(kColors[static_cast<int>(level)]);
  b.append(kTags[static_cast<int>(level)]);
  if (color) b.append("\x1b[0m");
  b.push_back(' ');
  detail::append_json_escaped(b, event);
  if (!msg.empty()) {
    b.append("  ");
    detail::append_json_escaped(b, msg);
  }
  detail::TraceIdsHex ids;
  if (detail::current_trace_ids(ids)) {
    b.append("  trace_id=");
    b.append(ids.trace_id, 32);
    b.append(" span_id=");
    b.append(ids.span_id, 16);
  }
  for (const auto& [key, value] : thread_state().context.entries()) {
    b.push_back(' ');
    b.append(key);
    b.push_back('=');
    b.append(value);
  }
  for (const LogField& f : fields) {
    b.push_back(' ');
    detail::append_json_escaped(b, f.key);
    b.push_back('=');
    append_value_console(b, f.value);
  }
  b.push_back('\n');
}

}  // namespace

namespace detail {

void log_emit(LogSite& site, LogLevel level, std::string_view msg,
              std::span<const LogField> fields) noexcept {
  try {
    Logger& log = logger();
    ThreadState& t = thread_state();
    const std::int64_t micros = now_micros(log.clock());
    std::uint64_t suppressed = 0;
    const bool admitted = !log.limits_in_use() || admit(site, micros, suppressed);
    detail::LineBuffer& b = t.buf;
    b.clear();
    if (suppressed) [[unlikely]] {
      log.format_summary(b, site.event, suppressed, micros);
      log.submit(t, static_cast<std::uint8_t>(LogLevel::kWarn), b.view());
      b.clear();
    }
    if (!admitted) return;
    if (log.console()) [[unlikely]] {
      format_console(b, level, micros, site.event, msg, fields);
      log.submit(t, static_cast<std::uint8_t>(level), b.view());
    } else {
      // Straight into the queue when it has room for a line of that size;
      // else into the thread's buffer, then queued as a whole.
      SiteCache* cache = site.cache.load(std::memory_order_acquire);
      if (!cache) [[unlikely]]
        cache = make_site_cache(site, level, fields);
      const std::string& identity = log.identity();
      LogRing& ring = log.ring_for(t);
      char* region = ring.reserve(kInPlaceLine);
      std::size_t in_region = 0;  // the line's size when it is at `region`
      if (region) [[likely]] {
        if (char* end = format_json_common(region, region + kInPlaceLine, t, identity, level,
                                           micros, *cache, msg, fields)) [[likely]]
          in_region = static_cast<std::size_t>(end - region);
      }
      if (in_region == 0) {
        detail::LineWriter w =
            region ? detail::LineWriter(b, region, kInPlaceLine) : detail::LineWriter(b);
        format_json(w, t, identity, level, micros, site.event, msg, fields);
        if (w.finish()) in_region = w.in_region_size();
      }
      if (in_region != 0) {
        ring.publish(static_cast<std::uint8_t>(level), in_region);
        log.queued(ring);
      } else {
        log.submit(t, static_cast<std::uint8_t>(level), b.view());
      }
    }
    if (level == LogLevel::kFatal) log.flush();
  } catch (...) {
    // Logging never throws into the caller (allocation failure is all that can).
  }
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Public functions

std::string_view to_string(LogLevel level) {
  return kLevelNames[std::min<int>(static_cast<int>(level), 6)];
}

bool parse_log_level(std::string_view text, LogLevel& out) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "warning") lower = "warn";
  for (int i = 0; i <= 6; ++i) {
    if (lower == kLevelNames[i]) {
      out = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

LogOptions log_options_from_env(LogOptions options) {
  auto env = [](const char* name) -> std::string_view {
    const char* v = std::getenv(name);
    return v ? std::string_view(v) : std::string_view();
  };
  auto complain = [](const char* name, std::string_view value, const char* expected) {
    std::fprintf(stderr, "firebreak: ignoring %s=\"%.*s\": expected %s\n", name,
                 static_cast<int>(value.size()), value.data(), expected);
  };
  if (auto v = env("FIREBREAK_LOG_LEVEL"); !v.empty()) {
    if (!parse_log_level(v, options.level))
      complain("FIREBREAK_LOG_LEVEL", v, "trace, debug, info, warn, error, fatal or off");
  }
  if (auto v = env("FIREBREAK_LOG_FORMAT"); !v.empty()) {
    if (v == "json")
      options.format = LogFormat::kJson;
    else if (v == "console")
      options.format = LogFormat::kConsole;
    else if (v == "auto")
      options.format = LogFormat::kAuto;
    else
      complain("FIREBREAK_LOG_FORMAT", v, "json, console or auto");
  }
  if (auto v = env("FIREBREAK_LOG_FILE"); !v.empty()) options.file = std::string(v);
  if (auto v = env("FIREBREAK_LOG_OVERFLOW"); !v.empty()) {
    if (v == "drop")
      options.overflow = LogOverflow::kDrop;
    else if (v == "block")
      options.overflow = LogOverflow::kBlock;
    else
      complain("FIREBREAK_LOG_OVERFLOW", v, "drop or block");
  }
  if (auto v = env("FIREBREAK_LOG_RATE_LIMIT"); !v.empty()) {
    char* end = nullptr;
    const std::string s(v);
    const unsigned long n = std::strtoul(s.c_str(), &end, 10);
    if (end && *end == '\0' && n < detail::kDefaultLimit)
      options.rate_limit_per_event = static_cast<std::uint32_t>(n);
    else
      complain("FIREBREAK_LOG_RATE_LIMIT", v, "a number of lines a second per event");
  }
  return options;
}

void configure_logging(const LogOptions& options) {
  logger().configure(options);
}

void set_log_identity(const LogIdentity& identity) {
  logger().set_identity(identity);
}

void set_log_level(LogLevel level) {
  logger();  // configure from env first, so this call wins
  detail::log_threshold.store(static_cast<std::uint8_t>(level));
}

LogLevel log_level() {
  return static_cast<LogLevel>(detail::log_threshold.load());
}

void set_log_rate_limit(std::string_view event, std::uint32_t per_second) {
  logger().limit_for(event)->per_second.store(std::min(per_second, detail::kDefaultLimit - 1));
  if (per_second != 0) logger().use_limits();
}

void flush_logs() {
  logger().flush();
}

std::uint64_t log_records_written(LogLevel level) {
  const int i = static_cast<int>(level);
  return i < kLevels ? logger().written(i) : 0;
}

std::uint64_t log_records_dropped() {
  return logger().dropped();
}

void register_log_metrics(Registry& registry) {
  registry.add_collector([](std::vector<FamilySnapshot>& out) {
    FamilySnapshot f{.name = "log_records",
                     .help = "Log lines written, by level.",
                     .type = MetricType::kCounter};
    for (int i = 0; i < kLevels; ++i) {
      static const auto kLabels = [] {
        std::vector<std::shared_ptr<const Labels>> v;
        for (int l = 0; l < kLevels; ++l)
          v.push_back(
              std::make_shared<const Labels>(Labels{{"level", std::string(kLevelNames[l])}}));
        return v;
      }();
      f.points.push_back({.labels = kLabels[i], .value = static_cast<double>(logger().written(i))});
    }
    out.push_back(std::move(f));
  });
  registry.counter_callback({.name = "log_records_dropped_total",
                             .help = "Log lines lost because the log queue was full."},
                            [] { return static_cast<double>(logger().dropped()); });
}

// ---------------------------------------------------------------------------
// Context

LogScope::LogScope(std::span<const LogField> fields) : restore_size_(thread_state().context.count) {
  ThreadContext& context = thread_state().context;
  for (const LogField& f : fields) context.push(f.key, f.value);
  context.stale = true;
}

LogScope::~LogScope() {
  ThreadContext& context = thread_state().context;
  context.count = restore_size_;
  context.stale = true;
}

LogContext LogContext::capture() {
  LogContext c;
  const auto live = thread_state().context.entries();
  c.entries_.assign(live.begin(), live.end());
  return c;
}

LogContext::Restore::Restore(const LogContext& context) {
  const auto live = thread_state().context.entries();
  saved_.assign(live.begin(), live.end());
  thread_state().context.assign(context.entries_);
}

LogContext::Restore::~Restore() {
  thread_state().context.assign(saved_);
}

}  // namespace firebreak
