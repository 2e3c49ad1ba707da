// HTTP server middleware: what every request of an API records, in one RAII
// scope that any server framework can drive (Boost.Beast adapter in
// http_beast.h).
//
//   firebreak::HttpObserver http(service.registry());          // once, at start-up
//
//   // Per request, after routing, on the thread that runs the handler:
//   firebreak::HttpRequestScope scope = http.begin({
//       .method = "GET",
//       .route = "/orders/{id}",            // the route template, "" when no route matched
//       .target = "/orders/o-17?x=1",       // span attribute url.path only
//       .peer = "10.0.0.7:51234",
//       .headers = [&](std::string_view name) { return request.header(name); },
//   });
//   response.set("X-Request-Id", scope.request_id());     // echo the request id
//   FB_LOG_INFO("order_read", "");                          // carries request_id, http_*, trace_id
//   scope.end(200, response.body().size());                  // metrics + one access-log line
//
// Per request, begin() ... end():
//   - a server span named "<METHOD> <route>" ("<METHOD>" when unmatched), whose
//     parent is the context in the `traceparent`/`tracestate` headers; a
//     missing or malformed traceparent starts a new trace (the request itself
//     never fails for it). Attributes: http.request.method, http.route,
//     url.path, client.address, http.response.status_code; status ERROR for
//     5xx (4xx are the client's errors, as OpenTelemetry's HTTP conventions say).
//     The span is current on the thread while the scope lives.
//   - a request id: the `X-Request-Id` header when it is sane (1 to 128
//     characters of [A-Za-z0-9._~:+=/@-]), else a new random UUID v4. Echoing
//     it in the response is the caller's job (the Beast adapter does it).
//   - a log context (LogScope) with request_id, http_request_method, http_route.
//   - at end(): one `http_request` access-log record (info; error for 5xx)
//     with the context above plus http_response_status_code, duration_s,
//     http_response_body_size, http_request_body_size and client_address.
//     Never the raw path: it may carry ids and personal data.
//   - metrics (docs/metrics.md, "HTTP API"):
//       http_server_request_duration_seconds{http_request_method,http_route,
//         http_response_status_code}   histogram, default_buckets()
//       http_server_active_requests{http_request_method}   gauge, +1 at begin,
//         -1 at end (RAII: also when the handler throws)
//
// Bounded cardinality: an empty route is recorded as http_route="unmatched"
// (HttpObserverOptions::unmatched_route), so a scan of random paths adds one
// series, not one per path. Methods outside the standard set (GET HEAD POST
// PUT DELETE CONNECT OPTIONS TRACE PATCH, matched exactly, case-sensitive as
// HTTP methods are) are recorded as "_OTHER", as OpenTelemetry says; the log
// and the span then also carry http_request_method_original. Status codes
// outside 100..599 are recorded as "_OTHER" too.
//
// Cost (bench/workload_bench.cc, CPU time on the 2-core build machine):
// begin()+end() with tracing and access log off ~0.45 us (the RED metrics
// alone ~0.08 us; the rest is the request id, the log scope and the span
// ids), ~0.75 us with the access-log line, ~0.9 us with a sampled span too.
// The active gauge child is resolved at construction; the histogram child is
// looked up at end() (a lock-free hash lookup on three labels, ~20 ns); no
// lock is taken.
//
// Thread-safety: HttpObserver is thread-safe. An HttpRequestScope belongs to
// the thread that created it (its span and log context are that thread's
// current ones): end and destroy it there, in reverse order of other scopes.
// For a handler that hops threads, run the synchronous part (parse, route,
// handle, produce the response) inside the scope.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "firebreak/clock.h"
#include "firebreak/log.h"
#include "firebreak/metrics.h"
#include "firebreak/trace.h"

namespace firebreak {

inline constexpr std::string_view kRequestIdHeader = "X-Request-Id";
// The longest request id taken from a request.
inline constexpr std::size_t kMaxRequestIdLength = 128;

// The method as metrics record it: the method itself when it is one of the
// standard set (case-sensitive), else "_OTHER". The view is static.
std::string_view normalize_http_method(std::string_view method) noexcept;

// Whether a client-supplied request id is usable as is: 1 to `max_length`
// characters, each of [A-Za-z0-9._~:+=/@-].
bool is_valid_request_id(std::string_view id,
                         std::size_t max_length = kMaxRequestIdLength) noexcept;

// A new random request id: a UUID v4 in its 36-character text form.
std::string generate_request_id();

// A non-owning view of a request's header lookup: called with a header name,
// returns the first field of that name (case-insensitive) or "" when absent.
// It binds to any callable, temporaries included, and is only used during
// HttpObserver::begin(): build it in the same expression as the call.
class HeaderLookup {
 public:
  HeaderLookup() noexcept = default;
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, HeaderLookup> &&
           std::is_invocable_r_v<std::string_view, F&, std::string_view>) HeaderLookup(F&& f)
  noexcept  // NOLINT: implicit on purpose
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, std::string_view name) -> std::string_view {
          return (*static_cast<std::remove_reference_t<F>*>(o))(name);
        }) {}

  std::string_view operator()(std::string_view name) const {
    return call_ ? call_(object_, name) : std::string_view();
  }
  explicit operator bool() const noexcept { return call_ != nullptr; }

 private:
  void* object_ = nullptr;
  std::string_view (*call_)(void*, std::string_view) = nullptr;
};

// What the middleware needs to know about a request. Views: only read during
// begin() (the scope copies what it keeps).
struct HttpRequestInfo {
  std::string_view method;       // as received: "GET"
  std::string_view route = {};   // the matched route template; "" = no route matched
  std::string_view target = {};  // request target; its path goes to the span only
  std::string_view peer = {};    // client address, "ip" or "ip:port"
  HeaderLookup headers = {};     // traceparent, tracestate, X-Request-Id
  // When set, the parent context instead of the one in the headers (for
  // adapters that extract from all header fields themselves, e.g. to combine
  // repeated tracestate fields).
  std::optional<SpanContext> parent = std::nullopt;
  std::uint64_t request_body_size = 0;  // bytes, for the access log
};

struct HttpObserverOptions {
  // Durations (monotonic time).
  const Clock* clock = &Clock::system();
  // Starts the server spans; null: the global tracer (init_tracing()), looked
  // up per request so a later init_tracing() takes effect.
  const Tracer* tracer = nullptr;
  // The http_route value of requests that matched no route.
  std::string unmatched_route = "unmatched";
  // Write the `http_request` access-log record at end().
  bool access_log = true;
  // Take the client's X-Request-Id when valid (false: always generate).
  bool trust_request_id = true;
  // Series limit of the duration histogram (see MetricSpec::max_series).
  std::size_t max_series = kDefaultMaxSeries;
};

class HttpRequestScope;

// Registers the API families in a registry and starts request scopes. Create
// one per server (or per process); it must outlive its scopes.
class HttpObserver {
 public:
  // Registers (or finds) http_server_request_duration_seconds and
  // http_server_active_requests. Throws MetricError when the registry already
  // has one of those names with another shape.
  explicit HttpObserver(Registry& registry, HttpObserverOptions options = {});
  HttpObserver(const HttpObserver&) = delete;
  HttpObserver& operator=(const HttpObserver&) = delete;

  // Starts the request's scope (see the top of this file). Never throws for
  // anything in the request.
  HttpRequestScope begin(const HttpRequestInfo& request);

  // The metrics of a request without a scope, for servers whose requests
  // interleave on one thread (asyncio) or whose context lives elsewhere (a
  // binding): request_started() when it begins (active +1),
  // request_finished() when it ends (active -1, the duration observed).
  // `method` as received (normalized here), `route` "" when none matched.
  // No span, log context or access-log line: the caller writes those.
  void request_started(std::string_view method) noexcept;
  void request_finished(std::string_view method, std::string_view route, int status,
                        double seconds) noexcept;

  const HttpObserverOptions& options() const noexcept { return options_; }

 private:
  friend class HttpRequestScope;
  void observe(std::string_view normalized_method, std::string_view route, int status,
               double seconds) noexcept;
  static constexpr std::size_t kMethods = 10;  // nine standard methods + _OTHER
  static std::size_t method_index(std::string_view normalized) noexcept;

  HttpObserverOptions options_;
  HistogramFamily* duration_;
  std::array<Gauge, kMethods> active_;
};

// One request in progress: its span and log context are current on this
// thread while it lives. Not copyable or movable (begin() returns it by
// guaranteed elision: `auto scope = observer.begin(...)`).
class HttpRequestScope {
 public:
  HttpRequestScope(HttpObserver& observer, const HttpRequestInfo& request);
  // Ends the request when end() was not called: as status 500 (a handler
  // that threw or returned without answering), 0 bytes.
  ~HttpRequestScope();
  HttpRequestScope(const HttpRequestScope&) = delete;
  HttpRequestScope& operator=(const HttpRequestScope&) = delete;

  // The request id (taken or generated); valid for the scope's life.
  std::string_view request_id() const noexcept { return {request_id_.data(), request_id_size_}; }
  // The normalized method and the route label, as recorded.
  std::string_view method() const noexcept { return method_; }
  std::string_view route() const noexcept { return route_; }
  // The server span, e.g. for extra attributes or events.
  Span& span() noexcept { return span_; }
  const SpanContext& span_context() const noexcept { return span_.context(); }

  // Records the response: status and duration into the histogram, the active
  // gauge down, the span's status and end, the access-log record. Later calls
  // do nothing. `response_body_size` in bytes.
  void end(int status, std::uint64_t response_body_size = 0) noexcept;
  bool ended() const noexcept { return ended_; }

 private:
  HttpObserver& observer_;
  std::string_view method_;  // static (normalize_http_method)
  std::string route_;
  std::string original_method_;  // set only when method_ is "_OTHER"
  std::string peer_;
  std::uint64_t request_body_size_;
  std::array<char, kMaxRequestIdLength> request_id_;
  std::size_t request_id_size_ = 0;
  Clock::MonoTime start_;
  Gauge active_;
  bool ended_ = false;
  Span span_;
  SpanScope span_scope_;
  LogScope log_scope_;
};

inline HttpRequestScope HttpObserver::begin(const HttpRequestInfo& request) {
  return HttpRequestScope(*this, request);
}

}  // namespace firebreak
