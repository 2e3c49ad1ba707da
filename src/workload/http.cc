// HTTP server middleware: request scope, RED metrics, access log.
#include "firebreak/workload/http.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <string>
#include <string_view>

#include "workload/uuid.h"

namespace firebreak {
namespace {

constexpr std::array<std::string_view, 10> kMethodNames = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER"};
constexpr std::string_view kOther = "_OTHER";

// "100".."599" as static strings, for the status label without formatting.
struct StatusTable {
  char text[500][4];
  constexpr StatusTable() : text{} {
    for (int s = 100; s < 600; ++s) {
      char* t = text[s - 100];
      t[0] = static_cast<char>('0' + s / 100);
      t[1] = static_cast<char>('0' + s / 10 % 10);
      t[2] = static_cast<char>('0' + s % 10);
      t[3] = '\0';
    }
  }
};
constexpr StatusTable kStatus;

std::string_view status_label(int status) noexcept {
  if (status < 100 || status > 599) return kOther;
  return {kStatus.text[status - 100], 3};
}

// Letters, digits and .-_~:+=/@, as one table lookup per byte (every
// request with an X-Request-Id checks each of its bytes).
constexpr auto kRequestIdChars = [] {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (char c : std::string_view(".-_~:+=/@")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

bool request_id_char(char c) noexcept {
  return kRequestIdChars[static_cast<unsigned char>(c)];
}

std::string_view strip_query(std::string_view target) noexcept {
  const auto q = target.find_first_of("?#");
  return q == std::string_view::npos ? target : target.substr(0, q);
}

const Tracer& tracer_of(const HttpObserverOptions& options) noexcept {
  return options.tracer ? *options.tracer : global_tracer();
}

// The server span: parent from the request (explicit, or traceparent and
// tracestate looked up in the headers); invalid parent = a new trace.
Span start_server_span(const HttpObserverOptions& options, const HttpRequestInfo& request,
                       std::string_view method, std::string_view route, bool matched) {
  SpanContext parent;
  if (request.parent) {
    parent = *request.parent;
  } else if (request.headers) {
    TraceContextExtractor extractor;
    const std::string_view tp = request.headers(kTraceparentHeader);
    if (!tp.empty()) {
      extractor.add(kTraceparentHeader, tp);
      const std::string_view ts = request.headers(kTracestateHeader);
      if (!ts.empty()) extractor.add(kTracestateHeader, ts);
    }
    parent = extractor.context();
  }
  // "GET /orders/{id}", or "GET" alone when no route matched (OpenTelemetry's
  // rule: no high-cardinality path in the span name); "HTTP" for a method
  // outside the standard set.
  if (method == kOther) method = "HTTP";
  char name[160];
  std::size_t n = std::min(method.size(), sizeof name);
  std::memcpy(name, method.data(), n);
  if (matched && n < sizeof name) {
    name[n++] = ' ';
    const std::size_t r = std::min(route.size(), sizeof name - n);
    std::memcpy(name + n, route.data(), r);
    n += r;
  }
  return tracer_of(options).start_span(std::string_view(name, n),
                                       {.kind = SpanKind::kServer, .parent = parent});
}

}  // namespace

std::string_view normalize_http_method(std::string_view method) noexcept {
  for (std::size_t i = 0; i + 1 < kMethodNames.size(); ++i)
    if (method == kMethodNames[i]) return kMethodNames[i];
  return kOther;
}

bool is_valid_request_id(std::string_view id, std::size_t max_length) noexcept {
  if (id.empty() || id.size() > max_length || id.size() > kMaxRequestIdLength) return false;
  return std::all_of(id.begin(), id.end(), request_id_char);
}

std::size_t HttpObserver::method_index(std::string_view normalized) noexcept {
  for (std::size_t i = 0; i < kMethodNames.size(); ++i)
    if (normalized.data() == kMethodNames[i].data()) return i;
  return kMethods - 1;
}

HttpObserver::HttpObserver(Registry& registry, HttpObserverOptions options)
    : options_(std::move(options)) {
  if (options_.clock == nullptr) options_.clock = &Clock::system();
  duration_ = &registry.histogram(
      {.name = "http_server_request_duration_seconds",
       .help = "Duration of HTTP server requests, by method, route template and status code.",
       .labels = {"http_request_method", "http_route", "http_response_status_code"},
       .unit = "seconds",
       .buckets = default_buckets(),
       .max_series = options_.max_series});
  GaugeFamily& active = registry.gauge({.name = "http_server_active_requests",
                                        .help = "HTTP server requests in progress, by method.",
                                        .labels = {"http_request_method"}});
  for (std::size_t i = 0; i < kMethods; ++i) active_[i] = active.labels(kMethodNames[i]);
}

void HttpObserver::observe(std::string_view normalized_method, std::string_view route, int status,
                           double seconds) noexcept {
  try {
    duration_->labels(normalized_method, route, status_label(status)).observe(seconds);
  } catch (...) {
    // Only allocation can fail here (a new series); the request is not
    // affected and the cardinality guard counts refused series.
  }
}

void HttpObserver::request_started(std::string_view method) noexcept {
  active_[method_index(normalize_http_method(method))].inc();
}

void HttpObserver::request_finished(std::string_view method, std::string_view route, int status,
                                    double seconds) noexcept {
  const std::string_view normalized = normalize_http_method(method);
  active_[method_index(normalized)].dec();
  observe(normalized, route.empty() ? std::string_view(options_.unmatched_route) : route, status,
          seconds);
}

namespace {

LogScope make_log_scope(std::string_view request_id, std::string_view method,
                        std::string_view route, std::string_view original_method) {
  if (original_method.empty())
    return LogScope(
        {{"request_id", request_id}, {"http_request_method", method}, {"http_route", route}});
  return LogScope({{"request_id", request_id},
                   {"http_request_method", method},
                   {"http_request_method_original", original_method},
                   {"http_route", route}});
}

std::size_t pick_request_id(const HttpObserverOptions& options, const HttpRequestInfo& request,
                            std::array<char, kMaxRequestIdLength>& out) noexcept {
  if (options.trust_request_id && request.headers) {
    const std::string_view given = request.headers(kRequestIdHeader);
    if (is_valid_request_id(given)) {
      std::memcpy(out.data(), given.data(), given.size());
      return given.size();
    }
  }
  detail::write_uuid(out.data());
  return detail::kUuidSize;
}

}  // namespace

HttpRequestScope::HttpRequestScope(HttpObserver& observer, const HttpRequestInfo& request)
    : observer_(observer),
      method_(normalize_http_method(request.method)),
      route_(request.route.empty() ? std::string_view(observer.options_.unmatched_route)
                                   : request.route),
      original_method_(method_ == kOther ? std::string(request.method.substr(0, 64))
                                         : std::string()),
      peer_(request.peer.substr(0, 128)),
      request_body_size_(request.request_body_size),
      request_id_size_(pick_request_id(observer.options_, request, request_id_)),
      start_(observer.options_.clock->mono_now()),
      active_(observer.active_[HttpObserver::method_index(method_)]),
      span_(start_server_span(observer.options_, request, method_, route_, !request.route.empty())),
      span_scope_(span_),
      log_scope_(make_log_scope(request_id(), method_, route_, original_method_)) {
  active_.inc();
  if (span_.is_recording()) {
    span_.set_attribute("http.request.method", method_);
    if (!original_method_.empty())
      span_.set_attribute("http.request.method_original", original_method_);
    if (!request.route.empty()) span_.set_attribute("http.route", route_);
    if (!request.target.empty()) span_.set_attribute("url.path", strip_query(request.target));
    if (!peer_.empty()) span_.set_attribute("client.address", peer_);
  }
}

HttpRequestScope::~HttpRequestScope() {
  if (!ended_) end(500, 0);
}

void HttpRequestScope::end(int status, std::uint64_t response_body_size) noexcept {
  if (ended_) return;
  ended_ = true;
  const double seconds =
      std::chrono::duration<double>(observer_.options_.clock->mono_now() - start_).count();
  observer_.observe(method_, route_, status, seconds);
  active_.dec();
  if (span_.is_recording()) {
    span_.set_attribute("http.response.status_code", static_cast<std::int64_t>(status));
    if (status >= 500) span_.set_status(StatusCode::kError);
  }
  span_.end();
  if (observer_.options_.access_log) {
    FB_LOG(status >= 500 ? LogLevel::kError : LogLevel::kInfo, "http_request", "",
           {"http_response_status_code", status}, {"duration_s", seconds},
           {"http_request_body_size", request_body_size_},
           {"http_response_body_size", response_body_size}, {"client_address", peer_});
  }
}

}  // namespace firebreak
