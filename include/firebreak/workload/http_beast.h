// Boost.Beast adapter of the HTTP middleware (http.h): runs a request handler
// inside an HttpRequestScope and stamps the response. Header-only, and the
// only workload header that includes Beast: include it in the translation
// units that serve HTTP, not in shared headers.
//
//   firebreak::HttpObserver http(service.registry());
//
//   // In the session loop, once a request is read (synchronous or not, the
//   // handler call itself runs on one thread):
//   std::string_view route = router.match(req.method_string(), req.target());  // "" if none
//   auto res = firebreak::observe_request(http, route, req, peer,
//       [&](const auto& r, firebreak::HttpRequestScope& scope) {
//         return router.dispatch(r);                   // any http::response<...>
//       });
//   // res carries X-Request-Id; metrics, span and access log are recorded.
//
//   // Or wrap a handler once and call the wrapper per request:
//   auto handle = firebreak::observed(http, [&](std::string_view method, std::string_view target) {
//     return router.match(method, target);
//   }, app_handler);
//   auto res = handle(req, peer);
//
// The handler may take (request) or (request, HttpRequestScope&). What the
// adapter does around it:
//   - the trace context is extracted from every header field (repeated
//     tracestate fields combined, a repeated traceparent ignored: new trace);
//   - X-Request-Id on the response: the request's id (taken or generated);
//   - status and body size from the response (payload_size() when the body
//     knows it, else 0) go to HttpRequestScope::end();
//   - a handler that throws: the request is recorded as 500 and the exception
//     propagates (the server decides what to send).
//
// Thread-safety: as http.h; call on the thread that runs the handler.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <exception>
#include <string_view>
#include <type_traits>
#include <utility>

#include "firebreak/trace.h"
#include "firebreak/workload/http.h"

namespace firebreak {

namespace detail {

inline std::string_view sv(boost::beast::string_view s) noexcept {
  return {s.data(), s.size()};
}

template <class Fields>
SpanContext extract_beast(const Fields& fields) {
  TraceContextExtractor extractor;
  for (const auto& field : fields) extractor.add(sv(field.name_string()), sv(field.value()));
  return extractor.context();
}

template <class Response>
std::uint64_t response_body_size(const Response& res) {
  if constexpr (requires { res.payload_size(); }) {
    if (auto n = res.payload_size()) return static_cast<std::uint64_t>(*n);
  }
  return 0;
}

}  // namespace detail

// Runs `handler` for `req` inside a request scope (see above). `route` is the
// route template that matched, "" for none; `peer` the client address.
// Returns the handler's response with X-Request-Id set.
template <class Body, class Fields, class Handler>
auto observe_request(HttpObserver& observer, std::string_view route,
                     const boost::beast::http::request<Body, Fields>& req, std::string_view peer,
                     Handler&& handler) {
  using Request = boost::beast::http::request<Body, Fields>;
  const std::string_view target = detail::sv(req.target());
  auto lookup = [&req](std::string_view name) -> std::string_view {
    auto it = req.find(boost::beast::string_view(name.data(), name.size()));
    return it == req.end() ? std::string_view() : detail::sv(it->value());
  };
  std::uint64_t request_bytes = 0;
  if constexpr (requires { req.payload_size(); }) {
    if (auto n = req.payload_size()) request_bytes = static_cast<std::uint64_t>(*n);
  }
  HttpRequestScope scope = observer.begin({.method = detail::sv(req.method_string()),
                                           .route = route,
                                           .target = target,
                                           .peer = peer,
                                           .headers = lookup,
                                           .parent = detail::extract_beast(req.base()),
                                           .request_body_size = request_bytes});
  auto call = [&]() -> decltype(auto) {
    if constexpr (std::is_invocable_v<Handler&, const Request&, HttpRequestScope&>)
      return handler(req, scope);
    else
      return handler(req);
  };
  try {
    auto res = call();
    const std::string_view id = scope.request_id();
    res.set(boost::beast::string_view(kRequestIdHeader.data(), kRequestIdHeader.size()),
            boost::beast::string_view(id.data(), id.size()));
    scope.end(static_cast<int>(res.result_int()), detail::response_body_size(res));
    return res;
  } catch (...) {
    scope.end(500, 0);
    throw;
  }
}

// A callable `(const request&, std::string_view peer) -> response` that routes
// with `route_of(method, target) -> std::string_view` (the template, "" for
// none) and runs `handler` under observe_request(). `route_of` and `handler`
// are moved into the wrapper; `observer` is kept by reference and must outlive
// it. The wrapper may be called from several threads if they are thread-safe.
template <class RouteOf, class Handler>
auto observed(HttpObserver& observer, RouteOf route_of, Handler handler) {
  return [&observer, route_of = std::move(route_of), handler = std::move(handler)](
             const auto& req, std::string_view peer) mutable {
    const std::string_view route =
        route_of(detail::sv(req.method_string()), detail::sv(req.target()));
    return observe_request(observer, route, req, peer, handler);
  };
}

}  // namespace firebreak
