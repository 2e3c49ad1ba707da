// HttpClient: the only translation unit of the client that knows Beast, Asio
// and Boost.URL (compile time). One io_context per client; each call runs it
// until the call's coroutine is done.
#include "firebreak/http_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/url/parse.hpp>

#include <cctype>
#include <exception>
#include <mutex>

namespace firebreak {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

struct Target {
  std::string host;         // for connecting: a name or an address (IPv6 without brackets)
  std::uint16_t port = 80;  //
  std::string host_header;  // as written in the URL: "example.com:8080", "[::1]:80"
  std::string target;       // path and query, as written; "/" when empty
  std::string key() const { return host + "|" + std::to_string(port); }
};

bool parse_url(std::string_view url, Target& t, std::string& why) {
  auto r = boost::urls::parse_uri(url);
  if (!r) {
    why = "not an absolute URL (" + r.error().message() + ")";
    return false;
  }
  const boost::urls::url_view u = *r;
  if (u.scheme_id() != boost::urls::scheme::http) {
    why = u.scheme_id() == boost::urls::scheme::https ? "https is not supported (http only)"
                                                      : "scheme must be http";
    return false;
  }
  if (!u.has_authority() || u.encoded_host().empty()) {
    why = "no host";
    return false;
  }
  if (u.has_userinfo()) {
    why = "user information in URLs is not supported";
    return false;
  }
  t.host = u.host_address();  // IPv6 without brackets
  t.port = 80;
  if (u.has_port() && !u.port().empty()) {
    const auto p = u.port();
    unsigned long v = 0;
    for (const char c : p) {
      if (c < '0' || c > '9' || v > 65535) {
        why = "bad port \"" + std::string(p) + "\"";
        return false;
      }
      v = v * 10 + static_cast<unsigned long>(c - '0');
    }
    if (v == 0 || v > 65535) {
      why = "bad port \"" + std::string(p) + "\"";
      return false;
    }
    t.port = static_cast<std::uint16_t>(v);
  }
  t.host_header = std::string(u.encoded_host_and_port());
  if (u.has_port() && u.port().empty()) t.host_header = std::string(u.encoded_host());
  t.target = std::string(u.encoded_target());
  if (t.target.empty() || t.target[0] != '/') t.target.insert(0, "/");
  return true;
}

}  // namespace

std::string_view HttpResponse::header(std::string_view name) const noexcept {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

bool valid_http_url(std::string_view url, std::string* why) {
  Target t;
  std::string reason;
  const bool ok = parse_url(url, t, reason);
  if (!ok && why) *why = std::move(reason);
  return ok;
}

// The request body is the caller's bytes, sent as they lie: an export batch
// of some hundreds of kilobytes is not copied per request.
using Request = http::request<http::span_body<const char>>;

struct HttpClient::Impl {
  explicit Impl(HttpClientOptions o) : opt(std::move(o)) {}

  HttpClientOptions opt;
  std::mutex mu;
  asio::io_context ioc;                       // guarded by mu
  std::unique_ptr<beast::tcp_stream> stream;  // guarded by mu: the kept connection
  std::string stream_key;                     // guarded by mu: where it goes
  beast::flat_buffer buffer;                  // guarded by mu

  void drop_connection() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->socket().close(ignored);
    }
    stream.reset();
    stream_key.clear();
    buffer.clear();
  }

  // One exchange on the kept connection (made first unless `reused`). Sets
  // `retry` when a reused connection failed before any of the response came.
  asio::awaitable<void> exchange(const Target& t, Request& req, bool reused,
                                 std::chrono::steady_clock::time_point deadline,
                                 std::chrono::milliseconds timeout, HttpResponse& out,
                                 bool& retry) {
    constexpr auto tok = asio::as_tuple(asio::use_awaitable);
    const std::string where = t.host_header;
    auto describe = [&](const beast::error_code& ec, std::string_view what) {
      if (ec == beast::error::timeout)
        return "timed out after " + std::to_string(timeout.count()) + " ms (" + std::string(what) +
               " " + where + ")";
      return std::string(what) + " " + where + ": " + ec.message();
    };

    if (!reused) {
      drop_connection();
      stream = std::make_unique<beast::tcp_stream>(ioc);
      stream->expires_at(deadline);
      beast::error_code ec;
      const auto address = asio::ip::make_address(t.host, ec);
      if (!ec) {
        auto [cec] = co_await stream->async_connect(tcp::endpoint(address, t.port), tok);
        ec = cec;
      } else {
        tcp::resolver resolver(ioc);
        auto [rec, endpoints] =
            co_await resolver.async_resolve(t.host, std::to_string(t.port), tok);
        if (rec) {
          out.error = "cannot resolve " + t.host + ": " + rec.message();
          drop_connection();
          co_return;
        }
        stream->expires_at(deadline);
        auto [cec, endpoint] = co_await stream->async_connect(endpoints, tok);
        ec = cec;
      }
      if (ec) {
        out.error = describe(ec, "connect to");
        drop_connection();
        co_return;
      }
      stream_key = t.key();
    }

    stream->expires_at(deadline);
    auto [wec, written] = co_await http::async_write(*stream, req, tok);
    if (wec) {
      retry = reused && wec != beast::error::timeout;
      out.error = describe(wec, "send to");
      drop_connection();
      co_return;
    }

    http::response_parser<http::string_body> parser;
    parser.body_limit(opt.max_response_bytes);
    parser.header_limit(64 * 1024);
    if (req.method() == http::verb::head) parser.skip(true);
    // Beast reads as much as the buffer has room for, and no less than 512
    // bytes: with room for 64 KiB a 500 KB scrape takes 8 reads, not 1000
    // (each a recvmsg and a timer re-arm). Returned after the exchange.
    buffer.reserve(64 * 1024);
    stream->expires_at(deadline);
    auto [rec, read] = co_await http::async_read(*stream, buffer, parser, tok);
    if (rec) {
      retry = reused && !parser.got_some() && rec != beast::error::timeout;
      if (rec == http::error::body_limit)
        out.error = "response body too large (over " + std::to_string(opt.max_response_bytes) +
                    " bytes) from " + where;
      else
        out.error = describe(rec, "read from");
      drop_connection();
      co_return;
    }
    auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res)
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.body = std::move(res.body());
    if (!opt.keep_alive || !res.keep_alive() || buffer.size() > 0) drop_connection();
    buffer.shrink_to_fit();
  }
};

HttpClient::HttpClient(HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpClient::~HttpClient() = default;

void HttpClient::close() {
  std::lock_guard lock(impl_->mu);
  impl_->drop_connection();
}

HttpResponse HttpClient::request(std::string_view method, std::string_view url,
                                 std::string_view body, const HttpHeaders& headers,
                                 std::chrono::milliseconds timeout) {
  HttpResponse out;
  Target t;
  std::string why;
  if (!parse_url(url, t, why)) {
    out.error = "invalid URL \"" + std::string(url) + "\": " + why;
    return out;
  }
  if (method.empty()) {
    out.error = "no method";
    return out;
  }
  if (timeout.count() <= 0) timeout = impl_->opt.timeout;

  Request req;
  const auto verb = http::string_to_verb(method);
  if (verb != http::verb::unknown)
    req.method(verb);
  else
    req.method_string(method);
  req.target(t.target);
  req.version(11);
  bool has_host = false, has_agent = false;
  for (const auto& [k, v] : headers) {
    has_host = has_host || iequals(k, "host");
    has_agent = has_agent || iequals(k, "user-agent");
  }
  if (!has_host) req.set(http::field::host, t.host_header);
  if (!has_agent && !impl_->opt.user_agent.empty())
    req.set(http::field::user_agent, impl_->opt.user_agent);
  for (const auto& [k, v] : headers) req.insert(k, v);
  req.body() = boost::span<const char>(body.data(), body.size());
  req.prepare_payload();
  req.keep_alive(impl_->opt.keep_alive);

  std::lock_guard lock(impl_->mu);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused =
        impl_->stream && impl_->stream->socket().is_open() && impl_->stream_key == t.key();
    out = HttpResponse{};
    bool retry = false;
    bool threw = false;
    impl_->ioc.restart();
    asio::co_spawn(impl_->ioc, impl_->exchange(t, req, reused, deadline, timeout, out, retry),
                   [&](std::exception_ptr e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& x) {
                       out.error = std::string("request failed: ") + x.what();
                     } catch (...) {
                       out.error = "request failed";
                     }
                     retry = false;
                     threw = true;
                   });
    impl_->ioc.run();
    if (threw) impl_->drop_connection();
    if (!out.error.empty()) {
      out.status = 0;
      out.headers.clear();
      out.body.clear();
      if (retry && attempt == 0) continue;
    }
    break;
  }
  return out;
}

}  // namespace firebreak
