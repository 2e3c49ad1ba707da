// Structured logs: one JSON object a line, with the fixed keys of the log
// schema (docs/logs.md) first, then the context in scope, then the call's own
// fields.
//
//   firebreak::set_log_identity({.service = "shop-api", .version = "1.2.0",
//                                .env = "prod", .workload = "api"});
//   FB_LOG_INFO("order_created", "Order stored",
//               {"order_id", order.id}, {"quantity", order.quantity});
//   // {"timestamp":"2026-11-25T23:18:47.123456Z","level":"info","event":"order_created",
//   //  "msg":"Order stored","service":"shop-api",...,"order_id":"o-17","quantity":3}
//
//   firebreak::LogScope scope({{"request_id", id}, {"http_route", "/orders/{id}"}});
//   FB_LOG_WARN("stock_low", "");   // carries request_id and http_route
//
// A disabled statement costs one relaxed load and a branch, and evaluates none
// of its arguments. An enabled one formats on the calling thread into a reused
// buffer and hands the line to a background writer through a bounded per-thread
// queue; when the queue is full the line is dropped and counted (or the caller
// waits, if configured). The queue is flushed at exit, after every `fatal`
// line, and on std::terminate. Lines of one thread keep their order; lines of
// different threads may be written out of order (each carries its timestamp).
//
// Thread-safety: everything here is thread-safe. Scopes are per thread; carry
// them across threads with LogContext.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#ifndef FIREBREAK_LOG_MIN_LEVEL
// Compile-time floor: statements below it compile to nothing (0 = trace).
#define FIREBREAK_LOG_MIN_LEVEL 0
#endif

namespace firebreak {

class Clock;
class Registry;

enum class LogLevel : std::uint8_t { kTrace, kDebug, kInfo, kWarn, kError, kFatal, kOff };

std::string_view to_string(LogLevel level);
// Parses "trace".."fatal", "off" (also "warning", any case). False when unknown.
bool parse_log_level(std::string_view text, LogLevel& out);

// A typed value for a log field. Strings are copied when the line is
// formatted, so views into temporaries are fine. 24 bytes, trivially copyable.
class LogValue {
 public:
  enum class Kind : std::uint8_t {
    kString,
    kInt,
    kUint,
    kDouble,
    kBool,
    kDuration,
    kTime,
    kErrorCode,
    kNull
  };

  LogValue(std::string_view v) : kind_(Kind::kString) { set_str(v); }
  LogValue(const char* v) : kind_(v ? Kind::kString : Kind::kNull) {
    set_str(v ? std::string_view(v) : std::string_view());
  }
  LogValue(const std::string& v) : kind_(Kind::kString) { set_str(v); }
  LogValue(bool v) : kind_(Kind::kBool) { a_.b = v; }
  template <class T>
  requires(std::is_integral_v<T>&& std::is_signed_v<T> && !std::is_same_v<T, bool>) LogValue(T v)
      : kind_(Kind::kInt) {
    a_.i = v;
  }
  template <class T>
  requires(std::is_integral_v<T>&& std::is_unsigned_v<T> && !std::is_same_v<T, bool>) LogValue(T v)
      : kind_(Kind::kUint) {
    a_.u = v;
  }
  LogValue(double v) : kind_(Kind::kDouble) { a_.d = v; }
  LogValue(float v) : kind_(Kind::kDouble) { a_.d = v; }
  // Durations are written in seconds, as a number (the unit Prometheus and
  // OpenTelemetry use); name the key accordingly, e.g. "duration_s".
  template <class Rep, class Period>
  LogValue(std::chrono::duration<Rep, Period> v) : kind_(Kind::kDuration) {
    a_.d = std::chrono::duration<double>(v).count();
  }
  // Points in time are written as RFC 3339 UTC strings with microseconds.
  template <class Duration>
  LogValue(std::chrono::time_point<std::chrono::system_clock, Duration> v) : kind_(Kind::kTime) {
    a_.i = std::chrono::duration_cast<std::chrono::microseconds>(v.time_since_epoch()).count();
  }
  // Errors are written as their message.
  LogValue(const std::exception& e) : kind_(Kind::kString) { set_str(e.what()); }
  LogValue(const std::error_code& ec) : kind_(Kind::kErrorCode) {
    a_.i = ec.value();
    b_.category = &ec.category();
  }
  LogValue(std::nullptr_t) : kind_(Kind::kNull) {}

  Kind kind() const { return kind_; }
  std::string_view str() const { return {a_.data, b_.size}; }
  std::int64_t i() const { return a_.i; }
  std::uint64_t u() const { return a_.u; }
  double d() const { return a_.d; }
  bool b() const { return a_.b; }
  const std::error_category* category() const { return b_.category; }

 private:
  friend struct LogField;
  void set_str(std::string_view v) {
    a_.data = v.data();
    b_.size = v.size();
  }
  // Two words, used as the kind says: a string's data and size; a number in
  // the first; an error code's value and category.
  union {
    const char* data;
    std::int64_t i;
    std::uint64_t u;
    double d;
    bool b;
  } a_{};
  union {
    std::size_t size;
    const std::error_category* category;
  } b_{};
  Kind kind_;
  bool key_constant_ = false;  // the owning LogField's (LogKey::constant())
};

// A log field's key. Built from a string literal (or another constant
// character array) at compile time, when it also records whether the key
// needs escaping, so the logger can render it once per call site; from a
// std::string or std::string_view at run time otherwise.
class LogKey {
 public:
  template <std::size_t N>
  consteval LogKey(const char (&s)[N]) : view_(s, length(s, N)), constant_(plain(s, N)) {}
  LogKey(std::string_view s) : view_(s) {}
  LogKey(const std::string& s) : view_(s) {}

  std::string_view view() const { return view_; }
  // True when the key is a compile-time constant that needs no escaping.
  bool constant() const { return constant_; }

 private:
  static consteval std::size_t length(const char* s, std::size_t n) {
    std::size_t i = 0;
    while (i + 1 < n && s[i] != '\0') ++i;
    return i;
  }
  static consteval bool plain(const char* s, std::size_t n) {
    for (std::size_t i = 0; i < length(s, n); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return false;
    }
    return true;
  }

  std::string_view view_;
  bool constant_ = false;
};

// A key and its value. Keys should be snake_case and stable.
struct LogField {
  // The value is built in place (no temporary LogValue to copy), from
  // anything a LogValue is built from.
  template <class V>
  requires std::is_constructible_v<LogValue, V&&> LogField(LogKey k, V&& v)
      : key(k.view()), value(std::forward<V>(v)) {
    value.key_constant_ = k.constant();
  }
  // Whether `key` is a compile-time constant that needs no escaping.
  bool key_constant() const { return value.key_constant_; }

  std::string_view key;
  LogValue value;
};

// The service identity written on every line (service, version, env, workload).
struct LogIdentity {
  std::string service;
  std::string version;
  std::string env;
  std::string workload;
};
void set_log_identity(const LogIdentity& identity);

enum class LogFormat { kAuto, kJson, kConsole };
enum class LogOverflow { kDrop, kBlock };

struct LogOptions {
  LogLevel level = LogLevel::kInfo;
  LogFormat format = LogFormat::kAuto;   // auto: console when stdout is a terminal
  std::string file = {};                 // empty: stdout. Reopened on SIGHUP (rotation).
  std::size_t queue_bytes = 256 * 1024;  // per logging thread
  LogOverflow overflow = LogOverflow::kDrop;
  // At most this many lines a second per event name (0 = no limit); the rest
  // are suppressed and summed up in one "log_suppressed" line per event.
  std::uint32_t rate_limit_per_event = 0;
  // Time source for timestamps and rate windows; null = the system clock read
  // directly (fastest). Tests pass a ManualClock.
  const Clock* clock = nullptr;
};

// Reads FIREBREAK_LOG_LEVEL, FIREBREAK_LOG_FORMAT (json|console|auto),
// FIREBREAK_LOG_FILE, FIREBREAK_LOG_OVERFLOW (drop|block) and
// FIREBREAK_LOG_RATE_LIMIT over `defaults`. Unknown values are reported on
// stderr and ignored.
LogOptions log_options_from_env(LogOptions defaults = {});

// (Re)configures logging. Optional: the first log call configures it from the
// environment. Lines already queued are written with the old settings.
void configure_logging(const LogOptions& options);

// Sets the run-time threshold.
void set_log_level(LogLevel level);
LogLevel log_level();

// Limits one event name to `per_second` lines a second (0 = no limit),
// overriding the default for it.
void set_log_rate_limit(std::string_view event, std::uint32_t per_second);

// Blocks until every line logged before the call is written.
void flush_logs();

// Adds log_records_total{level} (lines written, counted as they are queued) and
// log_records_dropped_total (lines lost to a full queue) to `registry`.
void register_log_metrics(Registry& registry);

// Counters behind those metrics, for tests and status.
std::uint64_t log_records_written(LogLevel level);
std::uint64_t log_records_dropped();

// ---------------------------------------------------------------------------
// Context

// Pushes fields onto this thread's log context for the life of the scope;
// every line logged on this thread meanwhile carries them (after the fixed
// keys, in schema order: request_id, http_*, messaging_*, message_id, job,
// job_run_id, then others). An inner scope's key overrides an outer one's.
class LogScope {
 public:
  explicit LogScope(std::initializer_list<LogField> fields)
      : LogScope(std::span<const LogField>(fields.begin(), fields.size())) {}
  // Fields known at run time only (a binding's context, a parsed header).
  explicit LogScope(std::span<const LogField> fields);
  ~LogScope();
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;

 private:
  std::size_t restore_size_;
};

// A copy of a thread's log context, to carry it into another thread or an
// async continuation:
//   auto ctx = firebreak::LogContext::capture();
//   pool.post([ctx] { firebreak::LogContext::Restore r(ctx); FB_LOG_INFO(...); });
class LogContext {
 public:
  static LogContext capture();

  class Restore {
   public:
    explicit Restore(const LogContext& context);  // replaces this thread's context
    ~Restore();
    Restore(const Restore&) = delete;
    Restore& operator=(const Restore&) = delete;

   private:
    std::vector<std::pair<std::string, std::string>> saved_;
  };

 private:
  friend class Restore;
  std::vector<std::pair<std::string, std::string>> entries_;  // key, rendered JSON value
};

// ---------------------------------------------------------------------------
// Internals used by the macros.

namespace detail {

extern std::atomic<std::uint8_t> log_threshold;

struct EventLimit;
struct SiteCache;

// Per call site: resolves the event's rate limit once, and keeps the pieces
// of JSON that are the same on every line from the site (built on first use).
struct LogSite {
  explicit LogSite(std::string_view event_name) : event(event_name) {}
  std::string_view event;
  std::atomic<EventLimit*> limit{nullptr};
  std::atomic<SiteCache*> cache{nullptr};
};

void log_emit(LogSite& site, LogLevel level, std::string_view msg,
              std::span<const LogField> fields) noexcept;
inline void log_emit(LogSite& site, LogLevel level, std::string_view msg,
                     std::initializer_list<LogField> fields) noexcept {
  log_emit(site, level, msg, std::span<const LogField>(fields.begin(), fields.size()));
}

}  // namespace detail

// True when statements at `level` are compiled in (FIREBREAK_LOG_MIN_LEVEL).
constexpr bool log_compiled_in(int level) {
  return level >= FIREBREAK_LOG_MIN_LEVEL;
}

inline bool log_enabled(LogLevel level) noexcept {
  return static_cast<std::uint8_t>(level) >= detail::log_threshold.load(std::memory_order_relaxed);
}

}  // namespace firebreak

// FB_LOG(level, event, msg, {key, value}...): `event` a stable snake_case name
// (a string literal), `msg` human text or "" for none, then any number of
// {key, value} fields. `level` may be a run-time value; the FB_LOG_<LEVEL>
// forms also honour the compile-time floor FIREBREAK_LOG_MIN_LEVEL.
#define FB_LOG(level, event, msg, ...)                                        \
  do {                                                                        \
    if (::firebreak::log_enabled(level)) {                                    \
      static ::firebreak::detail::LogSite fb_log_site_(event);                \
      ::firebreak::detail::log_emit(fb_log_site_, level, msg, {__VA_ARGS__}); \
    }                                                                         \
  } while (false)

#define FB_LOG_AT_(lvl, event, msg, ...)                                                      \
  do {                                                                                        \
    if constexpr (::firebreak::log_compiled_in(static_cast<int>(::firebreak::LogLevel::lvl))) \
      FB_LOG(::firebreak::LogLevel::lvl, event, msg, __VA_ARGS__);                            \
  } while (false)

#define FB_LOG_TRACE(event, msg, ...) FB_LOG_AT_(kTrace, event, msg, __VA_ARGS__)
#define FB_LOG_DEBUG(event, msg, ...) FB_LOG_AT_(kDebug, event, msg, __VA_ARGS__)
#define FB_LOG_INFO(event, msg, ...) FB_LOG_AT_(kInfo, event, msg, __VA_ARGS__)
#define FB_LOG_WARN(event, msg, ...) FB_LOG_AT_(kWarn, event, msg, __VA_ARGS__)
#define FB_LOG_ERROR(event, msg, ...) FB_LOG_AT_(kError, event, msg, __VA_ARGS__)
#define FB_LOG_FATAL(event, msg, ...) FB_LOG_AT_(kFatal, event, msg, __VA_ARGS__)
