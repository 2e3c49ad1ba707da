// Tracing: W3C Trace Context propagation, spans, sampling, and export of
// finished spans as OTLP/HTTP JSON (to a collector) or OTLP JSON lines (to a
// file). Minimal on purpose: one request followed from the API through the
// queue to the worker, its spans correlated with its log lines, cheap enough to
// leave on.
//
//   // At start-up: reads OTEL_* and FIREBREAK_TRACES_FILE (see TracingOptions).
//   // With no exporter configured tracing is off: spans still propagate
//   // context (new span ids, the caller's trace id) but nothing is recorded.
//   auto tracing = firebreak::init_tracing({.service_name = "shop-api", .registry = &registry});
//
//   // A request handler continues the caller's trace.
//   firebreak::ScopedSpan span("GET /orders/{id}",
//                              {.kind = firebreak::SpanKind::kServer,
//                               .parent = firebreak::extract(request.headers)});
//   span->set_attribute("http.request.method", "GET");
//
//   // An outgoing call: a client span whose context travels in the headers.
//   firebreak::ScopedSpan call("GET /stock", {.kind = firebreak::SpanKind::kClient});
//   firebreak::inject(call->context(), outgoing_headers);
//   if (failed) call->set_status(firebreak::StatusCode::kError, "timeout");
//
//   // Across a queue: the producer injects into the message's header map; the
//   // consumer continues the trace (one message), or links to the producer of
//   // each message it handles (a batch).
//   firebreak::inject(producer_span.context(), message.headers);
//   firebreak::ScopedSpan work("process orders", {.kind = firebreak::SpanKind::kConsumer,
//                                                  .parent = firebreak::extract(message.headers)});
//   batch_span->add_link(firebreak::extract(message.headers));
//
// A ScopedSpan is current on its thread until it goes out of scope: child
// spans, and log lines (trace_id, span_id, trace_flags), pick it up without
// being told. For async code, pass a SpanContext explicitly (SpanOptions::
// parent) or make one current on another thread with a SpanScope.
//
// Cost: starting and ending a sampled span with a few attributes takes no lock
// and allocates nothing (attributes and strings are stored inline up to a
// bound; the finished span goes into a preallocated ring that a background
// thread drains). An unsampled span costs an id and a few stores; its setters
// return at once.
//
// Thread-safety: free functions, Tracer, processors and exporters are
// thread-safe. A Span is used by one thread at a time (it may be moved to
// another); scopes belong to the thread that created them.
#pragma once

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "firebreak/clock.h"
#include "firebreak/tls.h"

namespace firebreak {

class Registry;

// Thrown at start-up for tracing configuration that cannot be used (an unknown
// OTEL_TRACES_SAMPLER, a malformed endpoint, ...). The message names the
// setting and what it accepts.
class TraceConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// ---------------------------------------------------------------------------
// Identifiers

// A 16-byte trace id. All zeros is the invalid id.
class TraceId {
 public:
  static constexpr std::size_t kSize = 16;
  static constexpr std::size_t kHexSize = 32;

  constexpr TraceId() = default;
  constexpr explicit TraceId(const std::array<std::uint8_t, kSize>& bytes) : bytes_(bytes) {}

  // A new random id from a per-thread generator seeded from the kernel's
  // entropy (re-seeded after fork); never all zeros. About 2 ns.
  static TraceId random() noexcept;
  // Exactly 32 lowercase hex digits, else nullopt. All zeros parses (to an
  // invalid id).
  static std::optional<TraceId> from_hex(std::string_view hex) noexcept;

  bool valid() const noexcept;
  const std::array<std::uint8_t, kSize>& bytes() const noexcept { return bytes_; }
  // Writes exactly 32 lowercase hex digits to out (no terminator).
  void to_hex(char* out) const noexcept;
  std::string to_hex() const;

  friend bool operator==(const TraceId&, const TraceId&) = default;

 private:
  std::array<std::uint8_t, kSize> bytes_{};
};

// An 8-byte span id. All zeros is the invalid id.
class SpanId {
 public:
  static constexpr std::size_t kSize = 8;
  static constexpr std::size_t kHexSize = 16;

  constexpr SpanId() = default;
  constexpr explicit SpanId(const std::array<std::uint8_t, kSize>& bytes) : bytes_(bytes) {}

  // As TraceId::random(); never all zeros.
  static SpanId random() noexcept;
  // Exactly 16 lowercase hex digits, else nullopt.
  static std::optional<SpanId> from_hex(std::string_view hex) noexcept;

  bool valid() const noexcept;
  const std::array<std::uint8_t, kSize>& bytes() const noexcept { return bytes_; }
  // Writes exactly 16 lowercase hex digits to out (no terminator).
  void to_hex(char* out) const noexcept;
  std::string to_hex() const;

  friend bool operator==(const SpanId&, const SpanId&) = default;

 private:
  std::array<std::uint8_t, kSize> bytes_{};
};

// The W3C trace-flags bit this library sets and reads.
inline constexpr std::uint8_t kTraceFlagSampled = 0x01;

// ---------------------------------------------------------------------------
// tracestate

// The W3C `tracestate` list: vendor key=value members, most recent first.
// Immutable; copies share storage (a copy costs one reference count, nothing
// when empty). Bounded: at most 32 members and 512 characters (entries over
// 128 characters are dropped first, then entries from the end).
class TraceState {
 public:
  static constexpr std::size_t kMaxMembers = 32;
  static constexpr std::size_t kMaxLength = 512;

  struct Member {
    std::string key;
    std::string value;
    friend bool operator==(const Member&, const Member&) = default;
  };

  TraceState() = default;

  // Parses a combined header value (several `tracestate` fields joined with
  // ','). Spaces and tabs around members and empty members are allowed. The
  // whole list is invalid (nullopt) on any malformed member, a duplicate key,
  // or more than 32 members; a valid list over 512 characters is truncated.
  static std::optional<TraceState> parse(std::string_view header);

  // Key grammar: lcalpha 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/"), or
  // tenant@system with tenant (lcalpha / DIGIT) 0*240(same) and system
  // lcalpha 0*13(same).
  static bool valid_key(std::string_view key) noexcept;
  // 1 to 256 printable ASCII characters except ',' and '=', not ending in a space.
  static bool valid_value(std::string_view value) noexcept;

  bool empty() const noexcept { return !data_ || data_->members.empty(); }
  std::size_t size() const noexcept { return data_ ? data_->members.size() : 0; }
  std::span<const Member> members() const noexcept;
  std::optional<std::string_view> get(std::string_view key) const noexcept;

  // A copy with key=value as the first member (an existing entry for key is
  // removed), then bounded as above. Throws std::invalid_argument for an
  // invalid key or value.
  TraceState set(std::string_view key, std::string_view value) const;
  // A copy without key.
  TraceState erase(std::string_view key) const;

  // The header value: "k1=v1,k2=v2" ("" when empty).
  std::string header() const;

  friend bool operator==(const TraceState& a, const TraceState& b) noexcept;

 private:
  struct Data {
    std::vector<Member> members;
  };
  explicit TraceState(std::vector<Member> members);
  std::shared_ptr<const Data> data_;
};

// ---------------------------------------------------------------------------
// Span context

// What identifies a span to its children and across process boundaries. An
// invalid context (no trace id or span id) means "no parent".
struct SpanContext {
  TraceId trace_id = {};
  SpanId span_id = {};
  std::uint8_t trace_flags = 0;
  bool is_remote = false;  // extracted from a carrier, not created here
  TraceState trace_state = {};

  bool valid() const noexcept { return trace_id.valid() && span_id.valid(); }
  bool sampled() const noexcept { return (trace_flags & kTraceFlagSampled) != 0; }

  friend bool operator==(const SpanContext&, const SpanContext&) = default;
};

// The context of the span current on this thread (see ScopedSpan, SpanScope);
// an invalid context when there is none. A thread-local read: a few ns.
SpanContext current_span_context() noexcept;

// ---------------------------------------------------------------------------
// Propagation (W3C Trace Context)

inline constexpr std::string_view kTraceparentHeader = "traceparent";
inline constexpr std::string_view kTracestateHeader = "tracestate";
inline constexpr std::size_t kTraceparentSize = 55;

// Parses a `traceparent` value: version 00 exactly ("00-<32 hex>-<16 hex>-<2
// hex>", lowercase, 55 characters), a higher version by the version-00 prefix
// rules (at least 55 characters; anything after them must start with '-';
// only the sampled flag is kept); version ff is invalid, as are all-zero ids.
// Leading and trailing spaces and tabs are ignored. An invalid value is
// rejected as a whole (nullopt). The result is remote, without tracestate.
std::optional<SpanContext> parse_traceparent(std::string_view value) noexcept;

// Writes "00-<trace id>-<span id>-<flags>" (kTraceparentSize characters, no
// terminator) to out.
void format_traceparent(const SpanContext& context, char* out) noexcept;
std::string format_traceparent(const SpanContext& context);

// Collects the trace context headers of one carrier (an HTTP request, a
// message) and builds the remote parent from them. Feed it every header field;
// names are compared case-insensitively and others are ignored. Repeated
// `tracestate` fields are combined in order; a repeated `traceparent` makes
// the context invalid.
class TraceContextExtractor {
 public:
  void add(std::string_view name, std::string_view value);
  // The remote context: invalid when traceparent is missing, repeated or
  // malformed (tracestate is then not read). A malformed tracestate is dropped
  // as a whole and does not affect traceparent.
  SpanContext context() const;

 private:
  std::string traceparent_;
  int traceparent_count_ = 0;
  std::string tracestate_;
  bool has_tracestate_ = false;
};

// Extracts from any range of (name, value) pairs convertible to string_view:
// std::vector<std::pair<std::string, std::string>> (e.g. AdminRequest::headers),
// std::map, std::multimap, std::unordered_map...
template <class Headers>
SpanContext extract(const Headers& headers) {
  TraceContextExtractor extractor;
  for (const auto& [name, value] : headers)
    extractor.add(std::string_view(name), std::string_view(value));
  return extractor.context();
}

// Calls set(name, value) for `traceparent` and, when not empty, `tracestate`.
// Nothing when the context is invalid.
template <class Setter>
requires std::invocable<Setter&, std::string_view, std::string_view>
void inject(const SpanContext& context, Setter&& set) {
  if (!context.valid()) return;
  char buf[kTraceparentSize];
  format_traceparent(context, buf);
  set(kTraceparentHeader, std::string_view(buf, sizeof buf));
  if (!context.trace_state.empty()) {
    const std::string ts = context.trace_state.header();
    set(kTracestateHeader, std::string_view(ts));
  }
}

// Sets `traceparent` (and `tracestate`) in a header list, replacing any field
// of those names (case-insensitively).
void inject(const SpanContext& context, std::vector<std::pair<std::string, std::string>>& headers);
// The same for a message's header map.
void inject(const SpanContext& context, std::map<std::string, std::string>& headers);

// ---------------------------------------------------------------------------
// Sampling

// Decides whether a new span is sampled (recorded and exported). The built-in
// samplers of OpenTelemetry: always on, always off, trace-id ratio, and
// parent-based with one of those for root spans (a span with a parent follows
// the parent's sampled flag, remote or local).
//
// Trace-id ratio uses the rightmost 7 bytes of the trace id as a 56-bit
// randomness value R and samples when R >= (1 - ratio) * 2^56, as the
// OpenTelemetry specification describes; so every service in a trace agrees,
// and a higher ratio samples a superset.
class Sampler {
 public:
  static Sampler always_on() noexcept;
  static Sampler always_off() noexcept;
  // Ratio in [0, 1]; throws TraceConfigError otherwise.
  static Sampler trace_id_ratio(double ratio);
  // Root spans by `root` (which must not itself be parent-based); spans with a
  // parent follow the parent's sampled flag.
  static Sampler parent_based(Sampler root);
  // From OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG values: always_on,
  // always_off, traceidratio, parentbased_always_on, parentbased_always_off,
  // parentbased_traceidratio (empty name: parentbased_always_on; empty ratio:
  // 1.0). Throws TraceConfigError for anything else.
  static Sampler from_config(std::string_view name, std::string_view arg);

  // The decision for a span with this parent (invalid = root) and trace id.
  bool should_sample(const SpanContext& parent, const TraceId& trace_id) const noexcept {
    return decide(parent.valid(), parent.sampled(), trace_id);
  }
  // OpenTelemetry's description, e.g. "ParentBased{root=TraceIdRatioBased{0.250000}}".
  std::string description() const;
  bool parent_based() const noexcept { return parent_based_; }
  double ratio() const noexcept { return ratio_; }

  bool decide(bool has_parent, bool parent_sampled, const TraceId& trace_id) const noexcept {
    if (parent_based_ && has_parent) return parent_sampled;
    switch (root_) {
      case Mode::kOn:
        return true;
      case Mode::kOff:
        return false;
      case Mode::kRatio:
        return randomness(trace_id) >= threshold_;
    }
    return false;
  }
  // The rightmost 7 bytes of the id, big-endian.
  static std::uint64_t randomness(const TraceId& id) noexcept {
    std::uint64_t r = 0;
    for (std::size_t i = TraceId::kSize - 7; i < TraceId::kSize; ++i) r = (r << 8) | id.bytes()[i];
    return r;
  }

 private:
  enum class Mode : std::uint8_t { kOn, kOff, kRatio };
  Mode root_ = Mode::kOn;
  bool parent_based_ = false;
  std::uint64_t threshold_ = 0;  // sample when randomness >= threshold_
  double ratio_ = 1.0;
};

// ---------------------------------------------------------------------------
// Span data

// The OTLP values (SPAN_KIND_*).
enum class SpanKind : std::uint8_t {
  kInternal = 1,
  kServer = 2,
  kClient = 3,
  kProducer = 4,
  kConsumer = 5
};
// The OTLP values (STATUS_CODE_*).
enum class StatusCode : std::uint8_t { kUnset = 0, kOk = 1, kError = 2 };

std::string_view to_string(SpanKind kind);
std::string_view to_string(StatusCode code);

// An attribute value as passed to a setter: a string (not owned; copied by the
// setter), a 64-bit integer, a double or a bool.
class AttributeValue {
 public:
  enum class Type : std::uint8_t { kString, kInt, kDouble, kBool };

  constexpr AttributeValue(std::string_view v) noexcept : type_(Type::kString), s_(v) {}
  constexpr AttributeValue(const char* v) noexcept : type_(Type::kString), s_(v) {}
  AttributeValue(const std::string& v) noexcept : type_(Type::kString), s_(v) {}
  template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>) constexpr AttributeValue(T v) noexcept
      : type_(Type::kInt), i_(static_cast<std::int64_t>(v)) {}
  constexpr AttributeValue(double v) noexcept : type_(Type::kDouble), d_(v) {}
  constexpr AttributeValue(float v) noexcept : type_(Type::kDouble), d_(v) {}
  constexpr AttributeValue(bool v) noexcept : type_(Type::kBool), b_(v) {}

  Type type() const noexcept { return type_; }
  std::string_view as_string() const noexcept { return type_ == Type::kString ? s_ : ""; }
  std::int64_t as_int() const noexcept { return type_ == Type::kInt ? i_ : 0; }
  double as_double() const noexcept { return type_ == Type::kDouble ? d_ : 0; }
  bool as_bool() const noexcept { return type_ == Type::kBool && b_; }

  friend bool operator==(const AttributeValue& a, const AttributeValue& b) noexcept;

 private:
  Type type_;
  std::string_view s_ = {};
  union {
    std::int64_t i_ = 0;
    double d_;
    bool b_;
  };
};

// An attribute held by value (events, links).
struct Attribute {
  std::string key;
  std::variant<std::string, std::int64_t, double, bool> value;

  Attribute(std::string_view k, AttributeValue v);
  AttributeValue view() const noexcept;
};

// A key and a value viewing storage owned elsewhere (a SpanData, a setter's
// arguments).
struct AttributeView {
  std::string_view key;
  AttributeValue value;
};

struct SpanEvent {
  Clock::WallTime time;
  std::string name;
  std::vector<Attribute> attributes;
};

struct SpanLink {
  SpanContext context;
  std::vector<Attribute> attributes;
};

// Limits applied while recording (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
// OTEL_SPAN_EVENT_COUNT_LIMIT, OTEL_SPAN_LINK_COUNT_LIMIT). What goes over is
// dropped and counted in the span's dropped_* fields.
struct SpanLimits {
  std::uint32_t max_attributes = 128;
  std::uint32_t max_events = 128;
  std::uint32_t max_links = 128;
};

namespace detail {
class LineBuffer;  // src/util/line_buffer.h

// Inline storage of a recording span: this many attributes, and this many
// bytes for its strings (name, keys, string values); more goes to the heap.
inline constexpr std::size_t kInlineAttributes = 8;
inline constexpr std::size_t kInlineBytes = 248;

struct StrRef {
  std::uint32_t off;  // into the inline bytes, or kSpilled | index into spilled strings
  std::uint32_t len;
};
inline constexpr std::uint32_t kSpilled = 0x80000000u;

struct InlineAttribute {
  StrRef key;
  AttributeValue::Type type;
  union {
    std::int64_t i;
    double d;
    bool b;
    StrRef s;
  };
};

// memcpy for the short strings of span names, keys and values: overlapping
// fixed-size moves instead of a call (reads and writes only [0, n)).
inline void copy_small(char* dst, const char* src, std::size_t n) noexcept {
  if (n >= 16) {
    if (n > 32) {
      std::memcpy(dst, src, n);
      return;
    }
    std::memcpy(dst, src, 16);
    std::memcpy(dst + n - 16, src + n - 16, 16);
  } else if (n >= 8) {
    std::memcpy(dst, src, 8);
    std::memcpy(dst + n - 8, src + n - 8, 8);
  } else if (n >= 4) {
    std::memcpy(dst, src, 4);
    std::memcpy(dst + n - 4, src + n - 4, 4);
  } else if (n > 0) {
    dst[0] = src[0];
    dst[n / 2] = src[n / 2];
    dst[n - 1] = src[n - 1];
  }
}

struct SpanExtras;
// Out of line, so that a SpanData without extras is destroyed inline.
struct ExtrasDeleter {
  void operator()(SpanExtras* extras) const noexcept;
};
}  // namespace detail

// A finished span as processors and exporters see it. Movable and copyable
// (a move copies only the used part of the inline storage).
class SpanData {
 public:
  SpanData() noexcept {}  // leaves the inline storage uninitialised: nothing is in use
  ~SpanData() = default;
  SpanData(SpanData&& other) noexcept;
  SpanData& operator=(SpanData&& other) noexcept;
  SpanData(const SpanData& other);
  SpanData& operator=(const SpanData& other);

  const TraceId& trace_id() const noexcept { return trace_id_; }
  const SpanId& span_id() const noexcept { return span_id_; }
  // Invalid for a root span.
  const SpanId& parent_span_id() const noexcept { return parent_span_id_; }
  bool parent_is_remote() const noexcept { return parent_is_remote_; }
  std::uint8_t trace_flags() const noexcept { return trace_flags_; }
  const TraceState& trace_state() const noexcept { return trace_state_; }
  std::string_view name() const noexcept { return str(name_); }
  SpanKind kind() const noexcept { return kind_; }
  Clock::WallTime start_time() const noexcept {
    return Clock::WallTime(Clock::Duration(start_ns_));
  }
  Clock::WallTime end_time() const noexcept { return Clock::WallTime(Clock::Duration(end_ns_)); }
  std::int64_t start_unix_nanos() const noexcept { return start_ns_; }
  std::int64_t end_unix_nanos() const noexcept { return end_ns_; }

  std::size_t attribute_count() const noexcept;
  AttributeView attribute(std::size_t i) const noexcept;
  std::optional<AttributeValue> find_attribute(std::string_view key) const noexcept;
  std::uint32_t dropped_attributes() const noexcept { return dropped_attributes_; }

  std::span<const SpanEvent> events() const noexcept;
  std::uint32_t dropped_events() const noexcept;
  std::span<const SpanLink> links() const noexcept;
  std::uint32_t dropped_links() const noexcept;

  StatusCode status_code() const noexcept { return status_; }
  std::string_view status_message() const noexcept { return str(status_message_); }

  // Back to an empty span, freeing what it kept on the heap (for processors
  // that reuse SpanData storage).
  void clear() noexcept { reset(); }

 private:
  friend class Span;
  friend class Tracer;

  std::string_view str(detail::StrRef r) const noexcept;
  detail::StrRef store(std::string_view s) {
    if (s.size() <= detail::kInlineBytes - used_) {
      const detail::StrRef r{used_, static_cast<std::uint32_t>(s.size())};
      detail::copy_small(bytes_ + used_, s.data(), s.size());
      used_ = static_cast<std::uint16_t>(used_ + s.size());
      return r;
    }
    return store_spilled(s);
  }
  detail::StrRef store_spilled(std::string_view s);
  detail::SpanExtras& extras();
  void set_attribute(std::string_view key, AttributeValue value, const SpanLimits& limits);
  void reset() noexcept;
  void copy_scalars(const SpanData& other) noexcept;

  TraceId trace_id_;
  SpanId span_id_;
  SpanId parent_span_id_;
  std::int64_t start_ns_ = 0;
  std::int64_t end_ns_ = 0;
  detail::StrRef name_ = {0, 0};
  detail::StrRef status_message_ = {0, 0};
  std::uint32_t dropped_attributes_ = 0;
  std::uint16_t used_ = 0;  // inline bytes used
  std::uint8_t trace_flags_ = 0;
  std::uint8_t inline_count_ = 0;
  SpanKind kind_ = SpanKind::kInternal;
  StatusCode status_ = StatusCode::kUnset;
  bool parent_is_remote_ = false;
  TraceState trace_state_;
  std::unique_ptr<detail::SpanExtras, detail::ExtrasDeleter> extras_;
  detail::InlineAttribute attrs_[detail::kInlineAttributes];  // [0, inline_count_) in use
  char bytes_[detail::kInlineBytes];                          // [0, used_) in use
};

// ---------------------------------------------------------------------------
// Processors and exporters

// What an exporter reports for one batch.
struct ExportResult {
  enum class Status : std::uint8_t {
    kSuccess,
    kRetryable,  // try again later (HTTP 429/502/503/504, connection errors)
    kFailed,     // do not retry (bad request, ...): the batch is dropped
  };
  Status status = Status::kSuccess;
  // When the receiver said how long to wait (Retry-After); zero otherwise.
  std::chrono::milliseconds retry_after{0};
  std::string error = {};
};

// Sends batches of finished spans somewhere. Called from one thread at a time
// (the batch processor's), so implementations need no locking of their own.
class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  virtual ExportResult export_spans(std::span<const SpanData> spans) = 0;
  // After the last export_spans. Default: nothing.
  virtual void shutdown() {}
};

// Receives every recording span when it ends.
class SpanProcessor {
 public:
  virtual ~SpanProcessor() = default;
  // On the thread ending the span. Must not block, throw or allocate on the
  // common path.
  virtual void on_end(SpanData&& span) noexcept = 0;
  // Exports everything ended so far; false when the timeout passed first.
  virtual bool force_flush(std::chrono::milliseconds timeout) = 0;
  // Flushes, then stops: later spans are dropped. Idempotent.
  virtual void shutdown() = 0;
};

// Options of the batch processor; the defaults are OpenTelemetry's
// (OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
// OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT).
struct BatchOptions {
  // Spans waiting for export; rounded up to a power of two. A span ended while
  // the queue is full is dropped and counted.
  std::size_t max_queue_size = 2048;
  std::size_t max_export_batch_size = 512;
  // Longest time a span waits before its batch is exported (a full batch goes
  // at once).
  std::chrono::milliseconds schedule_delay{5000};
  // How long one batch may be retried, from its first attempt.
  std::chrono::milliseconds export_timeout{30000};
  // Attempts per batch (the first included) on retryable failures; the wait
  // between attempts doubles from initial_backoff up to max_backoff, with
  // jitter (a Retry-After from the receiver is honoured, up to max_backoff).
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{30000};
  // trace_spans_exported_total and trace_spans_dropped_total are registered
  // here when set.
  Registry* registry = nullptr;
  const Clock* clock = &Clock::system();
  // false: no background thread; nothing is exported until tick() (or
  // force_flush()/shutdown()) is called: for tests that move a ManualClock.
  bool background_thread = true;
};

// Queues finished spans in a bounded lock-free ring and exports them in
// batches on a background thread: when a batch is full, when the oldest span
// has waited schedule_delay, and on force_flush() and shutdown(). Retries
// retryable failures with exponential backoff (bounded attempts and time);
// counts every span that is not exported (queue full, attempts exhausted,
// rejected by the receiver, ended after shutdown) as dropped, and logs a batch
// it gives up on (warn, event trace_export_failed, with the error).
//
// A batch is exported straight from the queue's storage (no copy): while it is
// being exported or waits for a retry, its slots hold it and the queue has
// room for max_queue_size minus that batch.
class BatchSpanProcessor final : public SpanProcessor {
 public:
  BatchSpanProcessor(std::shared_ptr<SpanExporter> exporter, BatchOptions options = {});
  // shutdown().
  ~BatchSpanProcessor() override;
  BatchSpanProcessor(const BatchSpanProcessor&) = delete;
  BatchSpanProcessor& operator=(const BatchSpanProcessor&) = delete;

  // Lock-free; no allocation. Drops (and counts) when the queue is full.
  void on_end(SpanData&& span) noexcept override;
  // Exports what is queued now, waiting out backoffs; false on timeout. Without
  // a background thread, runs the exports on the caller's thread and retries
  // without waiting.
  bool force_flush(std::chrono::milliseconds timeout = std::chrono::seconds(30)) override;
  // Flushes within export_timeout, stops the thread, shuts the exporter down.
  void shutdown() override;

  // Without a background thread: one scheduling step at the clock's current
  // time (export due batches, retry a batch whose backoff has passed).
  void tick();

  std::uint64_t exported() const noexcept;  // spans exported successfully
  // Spans given up on, including those ended after shutdown (which the
  // trace_spans_dropped_total metric does not count: the registry may be gone).
  std::uint64_t dropped() const noexcept;
  std::size_t queued() const noexcept;  // spans waiting in the queue

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Exports each span at once on the thread that ends it (under a mutex), for
// tests and debugging. Failures are counted as dropped, never retried.
class SimpleSpanProcessor final : public SpanProcessor {
 public:
  explicit SimpleSpanProcessor(std::shared_ptr<SpanExporter> exporter);
  void on_end(SpanData&& span) noexcept override;
  bool force_flush(std::chrono::milliseconds timeout) override;
  void shutdown() override;
  std::uint64_t dropped() const noexcept;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<SpanExporter> exporter_;  // guarded by mu_
  bool shut_down_ = false;                  // guarded by mu_
  std::uint64_t dropped_ = 0;               // guarded by mu_
};

// Resource attributes (service.name, service.version,
// deployment.environment.name, ...) sent with every batch, as strings.
using ResourceAttributes = std::vector<std::pair<std::string, std::string>>;

struct OtlpHttpOptions {
  // The full URL, used as is (…/v1/traces). http or https.
  std::string endpoint = "http://localhost:4318/v1/traces";
  // Extra request headers (e.g. authentication).
  std::vector<std::pair<std::string, std::string>> headers = {};
  std::chrono::milliseconds timeout{10000};
  ResourceAttributes resource = {};
  bool gzip = false;  // Content-Encoding: gzip
  // For an https endpoint: the server's certificate is verified against the
  // system's CA bundle, or tls.ca_file; a client certificate is presented
  // when tls.cert_file and tls.key_file are set (see firebreak/tls.h).
  TlsOptions tls = {};
};

// POSTs each batch as an OTLP/HTTP JSON ExportTraceServiceRequest. 2xx is
// success; 429, 502, 503, 504 and connection errors are retryable (with the
// Retry-After delay when given); anything else fails the batch.
class OtlpHttpExporter final : public SpanExporter {
 public:
  // Throws TraceConfigError when the endpoint is not an http(s) URL, or
  // when options.tls names files that cannot be loaded (check_tls_options).
  explicit OtlpHttpExporter(OtlpHttpOptions options);
  ~OtlpHttpExporter() override;
  ExportResult export_spans(std::span<const SpanData> spans) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes each batch as one line of OTLP JSON (an ExportTraceServiceRequest,
// as the OpenTelemetry Collector's file exporter writes), to a file opened
// for appending, or to a stdio stream (e.g. stderr for a console exporter).
class JsonLinesFileExporter final : public SpanExporter {
 public:
  // Throws TraceConfigError when the file cannot be opened.
  JsonLinesFileExporter(const std::string& path, ResourceAttributes resource);
  // Writes to `stream` (not closed).
  JsonLinesFileExporter(std::FILE* stream, ResourceAttributes resource);
  ~JsonLinesFileExporter() override;
  ExportResult export_spans(std::span<const SpanData> spans) override;

 private:
  std::FILE* file_;
  bool owned_;
  ResourceAttributes resource_;
  std::unique_ptr<detail::LineBuffer> buf_;  // reused batch after batch
};

// Keeps copies of everything exported, for tests of instrumented code.
class InMemorySpanExporter final : public SpanExporter {
 public:
  ExportResult export_spans(std::span<const SpanData> spans) override;
  std::vector<SpanData> spans() const;
  void clear();

 private:
  mutable std::mutex mu_;
  std::vector<SpanData> spans_;  // guarded by mu_
};

// Writes the OTLP JSON ExportTraceServiceRequest for these spans (one
// resource, one scope "firebreak") to out, replacing its contents.
void encode_otlp_json(std::span<const SpanData> spans, const ResourceAttributes& resource,
                      std::string& out);

// ---------------------------------------------------------------------------
// Spans

struct SpanOptions {
  SpanKind kind = SpanKind::kInternal;
  // nullopt: the span current on this thread (if any) is the parent. Set:
  // this context is the parent; an invalid one starts a new trace.
  std::optional<SpanContext> parent = std::nullopt;
  // Default: now.
  std::optional<Clock::WallTime> start_time = std::nullopt;
};

class Tracer;

// A span in progress: move-only; ends when end() is called or when it is
// destroyed. A span that is not recording (not sampled, or tracing off) still
// has a valid context to propagate, and its setters do nothing.
class Span {
 public:
  // An invalid, non-recording span.
  Span() noexcept = default;
  ~Span() { end(); }
  Span(Span&& other) noexcept;
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

  const SpanContext& context() const noexcept { return context_; }
  bool is_recording() const noexcept { return core_ != nullptr; }

  // Sets (or replaces) an attribute. Beyond the limit it is dropped and counted.
  Span& set_attribute(std::string_view key, AttributeValue value);
  Span& add_event(std::string_view name, std::initializer_list<AttributeView> attributes = {}) {
    return add_event(name, std::span<const AttributeView>(attributes.begin(), attributes.size()));
  }
  Span& add_event(std::string_view name, Clock::WallTime time,
                  std::initializer_list<AttributeView> attributes = {}) {
    return add_event(name, time,
                     std::span<const AttributeView>(attributes.begin(), attributes.size()));
  }
  // A link to another span, e.g. the producer of the message being consumed.
  Span& add_link(const SpanContext& context, std::initializer_list<AttributeView> attributes = {}) {
    return add_link(context, std::span<const AttributeView>(attributes.begin(), attributes.size()));
  }
  // The same with attributes known at run time only (a binding's).
  Span& add_event(std::string_view name, std::span<const AttributeView> attributes);
  Span& add_event(std::string_view name, Clock::WallTime time,
                  std::span<const AttributeView> attributes);
  Span& add_link(const SpanContext& context, std::span<const AttributeView> attributes);
  // kError with a message; kOk is final (later calls do not change it); a
  // message is kept with kError only.
  Span& set_status(StatusCode code, std::string_view message = {});
  Span& set_name(std::string_view name);

  // Ends the span (records it when recording). Later calls do nothing.
  void end() noexcept {
    if (core_) end_impl(std::nullopt);
  }
  void end(Clock::WallTime end_time) noexcept {
    if (core_) end_impl(end_time);
  }

 private:
  friend class Tracer;
  void end_impl(std::optional<Clock::WallTime> end_time) noexcept;

  SpanContext context_;
  const Tracer* core_ = nullptr;  // set while recording
  SpanData data_;
};

// Makes a context current on this thread until destroyed; the previous one is
// restored then. Scopes nest and must be destroyed in reverse order of
// creation, on their thread.
class SpanScope {
 public:
  explicit SpanScope(const Span& span) noexcept : SpanScope(span.context()) {}
  explicit SpanScope(const SpanContext& context) noexcept;
  ~SpanScope();
  SpanScope(const SpanScope&) = delete;
  SpanScope& operator=(const SpanScope&) = delete;

 private:
  struct Saved {
    TraceId trace_id;
    SpanId span_id;
    std::uint8_t flags;
    bool remote;
    const TraceState* state;
  };
  Saved saved_;
  TraceState state_;  // keeps this scope's tracestate alive while current
};

class Tracer;
// The process-wide tracer (see init_tracing()).
Tracer& global_tracer() noexcept;

// A span started on a tracer (the global one by default), current on this
// thread for its lifetime, ended when it goes out of scope.
class ScopedSpan {
 public:
  explicit ScopedSpan(std::string_view name, const SpanOptions& options = {});
  ScopedSpan(Tracer& tracer, std::string_view name, const SpanOptions& options = {});
  ~ScopedSpan() = default;  // the scope ends, then the span
  ScopedSpan(const ScopedSpan&) = delete;
  ScopedSpan& operator=(const ScopedSpan&) = delete;

  Span* operator->() noexcept { return &span_; }
  Span& span() noexcept { return span_; }
  const SpanContext& context() const noexcept { return span_.context(); }

 private:
  Span span_;
  SpanScope scope_;
};

struct TracerOptions {
  // Default: parent-based, always on for root spans.
  Sampler sampler = Sampler::parent_based(Sampler::always_on());
  // Receives recording spans; none: nothing is recorded (spans still
  // propagate, sampled or not, per the sampler).
  std::shared_ptr<SpanProcessor> processor = nullptr;
  SpanLimits limits = {};
  // Span timestamps. Clock::system() is read through a faster path than
  // clock_gettime where the kernel's clocksource is the TSC: the TSC scaled
  // from a per-thread CLOCK_REALTIME reading at most 100 ms old.
  const Clock* clock = &Clock::system();
};

// Starts spans. Must outlive every span it starts.
class Tracer {
 public:
  explicit Tracer(TracerOptions options = {});
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // Picks the parent (options.parent, else the current span), the ids (the
  // parent's trace id or a new one, a new span id) and the sampling decision.
  // No lock, no allocation.
  Span start_span(std::string_view name, const SpanOptions& options = {}) const;

  const Sampler& sampler() const noexcept { return options_.sampler; }
  const SpanLimits& limits() const noexcept { return options_.limits; }
  SpanProcessor* processor() const noexcept { return options_.processor.get(); }
  // Exports what has ended so far (processor's force_flush).
  bool force_flush(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // Shuts the processor down; later spans are not recorded.
  void shutdown() const;

 private:
  friend class Span;
  std::int64_t now_nanos() const noexcept;
  TracerOptions options_;
  bool system_clock_;
};

inline Span& Span::set_attribute(std::string_view key, AttributeValue value) {
  if (core_) data_.set_attribute(key, value, core_->limits());
  return *this;
}

// Starts a span on the global tracer.
inline Span start_span(std::string_view name, const SpanOptions& options = {}) {
  return global_tracer().start_span(name, options);
}

// ---------------------------------------------------------------------------
// Process-wide set-up

// Where environment variables come from: nullopt when unset. Empty function:
// the process environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// What init_tracing() reads, lowest precedence first: these options, then the
// environment (the operator has the last word, as for Service):
//
//   Exporter (tracing is off unless one is configured; one variable turns it on):
//     OTEL_TRACES_EXPORTER          otlp | console | none (default: by the next
//                                   variables; otlp with no endpoint sends to
//                                   http://localhost:4318/v1/traces)
//     FIREBREAK_TRACES_FILE         a path: OTLP JSON lines appended to it
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT   full URL, used as is
//     OTEL_EXPORTER_OTLP_ENDPOINT          base URL; "/v1/traces" is appended
//     OTEL_EXPORTER_OTLP_[TRACES_]HEADERS  k=v,k2=v2 (values percent-decoded)
//     OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT  milliseconds (default 10000)
//     OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION  gzip | none
//     OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL http/json (http/protobuf is accepted
//                                   and sent as JSON; grpc is an error)
//     OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE  PEM file of the CAs that verify an
//                                   https endpoint (default: the system's)
//     OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_CERTIFICATE, ..._CLIENT_KEY  PEM files
//                                   of a client certificate and its key (both)
//     OTEL_SDK_DISABLED=true        off, whatever else is set
//   When both a file and an endpoint are set, the file wins (OTEL_TRACES_EXPORTER
//   decides between them when set). console writes JSON lines to stderr.
//   Sampling: OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG (see Sampler).
//   Batching: OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT (ms),
//     OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE.
//   Limits: OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_EVENT_COUNT_LIMIT,
//     OTEL_SPAN_LINK_COUNT_LIMIT.
//   Resource: OTEL_RESOURCE_ATTRIBUTES (k=v,... percent-decoded), then
//     OTEL_SERVICE_NAME, then FIREBREAK_SERVICE_NAME, FIREBREAK_SERVICE_VERSION,
//     FIREBREAK_ENVIRONMENT; unset everywhere: "unknown_service:<executable>".
struct TracingOptions {
  std::string service_name = {};
  std::string service_version = {};
  std::string environment = {};  // deployment.environment.name
  // trace_spans_exported_total, trace_spans_dropped_total.
  Registry* registry = nullptr;
  const Clock* clock = &Clock::system();
  EnvLookup env = {};
  // Instead of the environment's choice (tests, custom exporters).
  std::shared_ptr<SpanExporter> exporter = nullptr;
  std::optional<Sampler> sampler = std::nullopt;     // instead of OTEL_TRACES_SAMPLER
  std::optional<BatchOptions> batch = std::nullopt;  // instead of OTEL_BSP_* (registry
                                                     // and clock above still apply)
};

// What init_tracing() set up.
struct TracingStatus {
  bool enabled = false;     // an exporter is configured: spans are recorded
  std::string exporter;     // "otlp", "file", "console", "custom" or "none"
  std::string destination;  // the endpoint URL or file path
  std::string sampler;      // Sampler::description()
  ResourceAttributes resource;
};

// Owns the global tracer that init_tracing() installed: its destructor
// flushes and shuts it down and puts back the default (non-recording) tracer.
// Keep it in main, declared after the Registry it counts into, so that it is
// destroyed first. Move-only.
class [[nodiscard]] Tracing {
 public:
  Tracing() = default;
  ~Tracing();
  Tracing(Tracing&& other) noexcept;
  Tracing& operator=(Tracing&& other) noexcept;
  Tracing(const Tracing&) = delete;
  Tracing& operator=(const Tracing&) = delete;

  const TracingStatus& status() const noexcept { return status_; }
  bool enabled() const noexcept { return status_.enabled; }
  // Exports what has ended so far; false on timeout.
  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // As the destructor, now. Idempotent.
  void shutdown();

 private:
  friend Tracing init_tracing(const TracingOptions& options);
  TracingStatus status_;
  Tracer* installed_ = nullptr;
};

// Builds the global tracer from options and the environment and installs it.
// Throws TraceConfigError on configuration it cannot use (nothing is installed
// then). Meant for start-up; calling it again replaces the global tracer (the
// previous one is shut down, and kept in memory so that spans still open stay
// valid).
Tracing init_tracing(const TracingOptions& options = {});

// The resource attributes init_tracing() would send, for these options and
// this environment.
ResourceAttributes resolve_resource(const TracingOptions& options);

}  // namespace firebreak
