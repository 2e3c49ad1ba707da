// HttpClient and LineClient: the only translation unit of the kit that knows
// Beast, Asio's SSL streams, OpenSSL and Boost.URL (compile time). One
// io_context per client; each call runs it until the call is done.
#include "firebreak/http_client.h"

#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <sstream>

#include "firebreak/tls.h"

namespace firebreak {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

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
  bool https = false;
  std::string host;         // for connecting: a name or an address (IPv6 without brackets)
  std::uint16_t port = 80;  //
  std::string host_header;  // as written in the URL: "example.com:8080", "[::1]:80"
  std::string target;       // path and query, as written; "/" when empty
  std::string key() const {
    return std::string(https ? "https|" : "http|") + host + "|" + std::to_string(port);
  }
};

bool parse_url(std::string_view url, Target& t, std::string& why) {
  auto r = boost::urls::parse_uri(url);
  if (!r) {
    why = "not an absolute URL (" + r.error().message() + ")";
    return false;
  }
  const boost::urls::url_view u = *r;
  if (u.scheme_id() != boost::urls::scheme::http && u.scheme_id() != boost::urls::scheme::https) {
    why = "scheme must be http or https";
    return false;
  }
  t.https = u.scheme_id() == boost::urls::scheme::https;
  if (!u.has_authority() || u.encoded_host().empty()) {
    why = "no host";
    return false;
  }
  if (u.has_userinfo()) {
    why = "user information in URLs is not supported";
    return false;
  }
  t.host = u.host_address();  // IPv6 without brackets
  t.port = t.https ? 443 : 80;
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

bool is_ip_address(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string trim(std::string s) {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.back())) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && space(s[i])) ++i;
  return s.substr(i);
}

// Reads a secret file; on failure, `error` names the file, never its content.
bool read_secret_file(const std::string& path, std::string_view what, std::string& out,
                      std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + std::string(what) + " \"" + path + "\": " + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  out = trim(ss.str());
  return true;
}

// OpenSSL's reason for an error code from Asio's SSL category.
std::string ssl_message(const beast::error_code& ec) {
  if (ec.category() == asio::error::get_ssl_category()) {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
    if (reason) return reason;
  }
  if (ec == asio::ssl::error::stream_truncated) return "connection closed during TLS";
  return ec.message();
}

// A client context for `tls`: verification mode, trusted CAs, client
// certificate. "" on success.
std::string make_ssl_context(const TlsOptions& tls, std::unique_ptr<ssl::context>& out) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  beast::error_code ec;
  if (tls.insecure_skip_verify) {
    ctx->set_verify_mode(ssl::verify_none);
  } else {
    ctx->set_verify_mode(ssl::verify_peer);
    if (tls.ca_file.empty()) {
      ctx->set_default_verify_paths(ec);
      if (ec) return "cannot load the system's CA certificates: " + ssl_message(ec);
    } else {
      ctx->load_verify_file(tls.ca_file, ec);
      if (ec) return "cannot load ca_file \"" + tls.ca_file + "\": " + ssl_message(ec);
    }
  }
  if (tls.cert_file.empty() != tls.key_file.empty())
    return tls.cert_file.empty() ? "key_file is set but cert_file is not"
                                 : "cert_file is set but key_file is not";
  if (!tls.cert_file.empty()) {
    ctx->use_certificate_chain_file(tls.cert_file, ec);
    if (ec) return "cannot load cert_file \"" + tls.cert_file + "\": " + ssl_message(ec);
    ctx->use_private_key_file(tls.key_file, ssl::context::pem, ec);
    if (ec) return "cannot load key_file \"" + tls.key_file + "\": " + ssl_message(ec);
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      ERR_clear_error();
      return "key_file \"" + tls.key_file + "\" does not match cert_file \"" + tls.cert_file + "\"";
    }
  }
  out = std::move(ctx);
  return {};
}

// What identifies the contents of the TLS files of `tls` without reading
// them: device, inode, size and modification time of each ("" for a file
// that is unset or cannot be stat'ed). A changed stamp means a rotated file.
std::string tls_files_stamp(const TlsOptions& tls) {
  std::string out;
  for (const std::string* path : {&tls.ca_file, &tls.cert_file, &tls.key_file}) {
    struct stat st {};
    if (!path->empty() && ::stat(path->c_str(), &st) == 0) {
      out += std::to_string(st.st_dev) + ':' + std::to_string(st.st_ino) + ':' +
             std::to_string(st.st_size) + ':' + std::to_string(st.st_mtim.tv_sec) + '.' +
             std::to_string(st.st_mtim.tv_nsec);
    }
    out += ';';
  }
  return out;
}

// The name a connection to `host` verifies and sends as SNI.
std::string tls_name(const TlsOptions& tls, const std::string& host) {
  return tls.server_name.empty() ? host : tls.server_name;
}

// Per connection: SNI and the name to verify. "" on success.
std::string prepare_ssl(SSL* ssl, const TlsOptions& tls, const std::string& host) {
  const std::string name = tls_name(tls, host);
  const bool ip = is_ip_address(name);
  if (!ip && !name.empty() && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
    ERR_clear_error();
    return "cannot set the TLS server name \"" + name + "\"";
  }
  if (tls.insecure_skip_verify) return {};
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                    : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
  if (ok != 1) {
    ERR_clear_error();
    return "cannot verify against the server name \"" + name + "\"";
  }
  return {};
}

// A failed handshake, said plainly: a certificate that does not verify
// names the name it was checked against and OpenSSL's reason.
std::string handshake_error(SSL* ssl, const beast::error_code& ec, const std::string& where,
                            const std::string& name, std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout)
    return "timed out after " + std::to_string(timeout.count()) + " ms (TLS handshake with " +
           where + ")";
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK)
    return "TLS handshake with " + where + ": certificate verify failed for \"" + name +
           "\": " + X509_verify_cert_error_string(verify);
  return "TLS handshake with " + where + ": " + ssl_message(ec);
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

std::string check_tls_options(const TlsOptions& options) {
  std::unique_ptr<ssl::context> ctx;
  return make_ssl_context(options, ctx);
}

// The request body is the caller's bytes, sent as they lie: an export batch
// of some hundreds of kilobytes is not copied per request.
using Request = http::request<http::span_body<const char>>;

struct HttpClient::Impl {
  explicit Impl(HttpClientOptions o) : opt(std::move(o)) {}

  HttpClientOptions opt;
  std::mutex mu;
  asio::io_context ioc;                      // guarded by mu
  std::unique_ptr<ssl::context> ssl_ctx;     // guarded by mu: built at the first https call
  std::string ssl_ctx_stamp;                 // guarded by mu: tls_files_stamp() it was built at
  std::unique_ptr<beast::tcp_stream> plain;  // guarded by mu: the kept connection (http)
  std::unique_ptr<TlsStream> secure;         // guarded by mu: the kept connection (https)
  std::string stream_key;                    // guarded by mu: where it goes
  beast::flat_buffer buffer;                 // guarded by mu

  beast::tcp_stream* lowest() {
    if (secure) return &beast::get_lowest_layer(*secure);
    return plain.get();
  }
  bool connected(const std::string& key) {
    beast::tcp_stream* s = lowest();
    return s && s->socket().is_open() && stream_key == key;
  }

  void drop_connection() {
    if (beast::tcp_stream* s = lowest()) {
      beast::error_code ignored;
      s->socket().shutdown(tcp::socket::shutdown_both, ignored);
      s->socket().close(ignored);
    }
    plain.reset();
    secure.reset();
    stream_key.clear();
    buffer.clear();
  }

  // Writes `req` and reads the response on `stream`.
  template <class Stream>
  asio::awaitable<void> transfer(Stream& stream, const Target& t, Request& req, bool reused,
                                 std::chrono::steady_clock::time_point deadline,
                                 std::chrono::milliseconds timeout, HttpResponse& out,
                                 bool& retry) {
    constexpr auto tok = asio::as_tuple(asio::use_awaitable);
    const std::string where = t.host_header;
    auto describe = [&](const beast::error_code& ec, std::string_view what) {
      if (ec == beast::error::timeout)
        return "timed out after " + std::to_string(timeout.count()) + " ms (" + std::string(what) +
               " " + where + ")";
      return std::string(what) + " " + where + ": " + ssl_message(ec);
    };
    lowest()->expires_at(deadline);
    auto [wec, written] = co_await http::async_write(stream, req, tok);
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
    lowest()->expires_at(deadline);
    auto [rec, read] = co_await http::async_read(stream, buffer, parser, tok);
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
      if (t.https) {
        // Built at the first https connection, and again at a new connection
        // after a TLS file changed (a rotated certificate).
        std::string stamp = tls_files_stamp(opt.tls);
        if (!ssl_ctx || stamp != ssl_ctx_stamp) {
          ssl_ctx.reset();
          if (std::string why = make_ssl_context(opt.tls, ssl_ctx); !why.empty()) {
            out.error = "TLS configuration for " + where + ": " + why;
            co_return;
          }
          ssl_ctx_stamp = std::move(stamp);
        }
      }
      auto stream = std::make_unique<beast::tcp_stream>(ioc);
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
          co_return;
        }
        stream->expires_at(deadline);
        auto [cec, endpoint] = co_await stream->async_connect(endpoints, tok);
        ec = cec;
      }
      if (ec) {
        out.error = describe(ec, "connect to");
        co_return;
      }
      // A request is written whole: Nagle would only hold the last segment
      // of a large one back for the server's delayed ACK.
      stream->socket().set_option(tcp::no_delay(true), ec);
      if (t.https) {
        secure = std::make_unique<TlsStream>(std::move(*stream), *ssl_ctx);
        if (std::string why = prepare_ssl(secure->native_handle(), opt.tls, t.host); !why.empty()) {
          out.error = "TLS with " + where + ": " + why;
          drop_connection();
          co_return;
        }
        beast::get_lowest_layer(*secure).expires_at(deadline);
        auto [hec] = co_await secure->async_handshake(ssl::stream_base::client, tok);
        if (hec) {
          out.error = handshake_error(secure->native_handle(), hec, where,
                                      tls_name(opt.tls, t.host), timeout);
          drop_connection();
          co_return;
        }
      } else {
        plain = std::move(stream);
      }
      stream_key = t.key();
    }

    if (secure)
      co_await transfer(*secure, t, req, reused, deadline, timeout, out, retry);
    else
      co_await transfer(*plain, t, req, reused, deadline, timeout, out, retry);
  }

  // The Authorization header the options ask for, or "" (and `error` when a
  // secret file cannot be read).
  std::string auth_header(std::string& error) const {
    if (opt.authorization) {
      const HttpAuthorization& a = *opt.authorization;
      std::string secret = a.credentials;
      if (!a.credentials_file.empty() &&
          !read_secret_file(a.credentials_file, "authorization credentials_file", secret, error))
        return {};
      const std::string type = a.type.empty() ? "Bearer" : a.type;
      return type + " " + secret;
    }
    if (opt.basic_auth) {
      const HttpBasicAuth& b = *opt.basic_auth;
      std::string password = b.password;
      if (!b.password_file.empty() &&
          !read_secret_file(b.password_file, "basic_auth password_file", password, error))
        return {};
      const std::string plain_text = b.username + ":" + password;
      std::string encoded(beast::detail::base64::encoded_size(plain_text.size()), '\0');
      encoded.resize(
          beast::detail::base64::encode(encoded.data(), plain_text.data(), plain_text.size()));
      return "Basic " + encoded;
    }
    return {};
  }
};

HttpClient::HttpClient(HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpClient::~HttpClient() = default;

HttpResponse HttpClientPool::request(std::string_view method, std::string_view url,
                                     std::string_view body, const HttpHeaders& headers,
                                     std::chrono::milliseconds timeout) {
  std::unique_ptr<HttpClient> client;
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      client = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!client) client = std::make_unique<HttpClient>(options_);
  HttpResponse r = client->request(method, url, body, headers, timeout);
  std::lock_guard lock(mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(client));
  return r;
}

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
  bool has_host = false, has_agent = false, has_auth = false;
  for (const auto& [k, v] : headers) {
    has_host = has_host || iequals(k, "host");
    has_agent = has_agent || iequals(k, "user-agent");
    has_auth = has_auth || iequals(k, "authorization");
  }
  if (!has_host) req.set(http::field::host, t.host_header);
  if (!has_agent && !impl_->opt.user_agent.empty())
    req.set(http::field::user_agent, impl_->opt.user_agent);
  if (!has_auth) {
    std::string auth_error;
    const std::string auth = impl_->auth_header(auth_error);
    if (!auth_error.empty()) {
      out.error = auth_error;
      return out;
    }
    if (!auth.empty()) req.set(http::field::authorization, auth);
  }
  for (const auto& [k, v] : headers) req.insert(k, v);
  req.body() = boost::span<const char>(body.data(), body.size());
  req.prepare_payload();
  req.keep_alive(impl_->opt.keep_alive);

  std::lock_guard lock(impl_->mu);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = impl_->connected(t.key());
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

// ---------------------------------------------------------------------------
// LineClient

struct LineClient::Impl {
  asio::io_context ioc;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<ssl::context> ssl_ctx;
  std::unique_ptr<TlsStream> secure;
  std::string where;  // host:port
  std::string buffered;
  std::chrono::steady_clock::time_point deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);

  beast::tcp_stream* lowest() {
    if (secure) return &beast::get_lowest_layer(*secure);
    return plain.get();
  }

  // Runs one asynchronous operation to completion under the deadline.
  template <class Start>
  beast::error_code run(Start&& start, std::size_t* bytes = nullptr) {
    beast::error_code result = asio::error::operation_aborted;
    std::size_t n = 0;
    if (beast::tcp_stream* s = lowest()) s->expires_at(deadline);
    start([&](beast::error_code ec, auto&&... rest) {
      result = ec;
      if constexpr (sizeof...(rest) == 1) {
        if constexpr (std::is_convertible_v<decltype((rest, ...)), std::size_t>) n = (rest, ...);
      }
    });
    ioc.restart();
    ioc.run();
    if (bytes) *bytes = n;
    return result;
  }

  std::string describe(const beast::error_code& ec, std::string_view what) const {
    if (ec == beast::error::timeout) return "timed out (" + std::string(what) + " " + where + ")";
    return std::string(what) + " " + where + ": " + ssl_message(ec);
  }

  std::string handshake(const TlsOptions& tls, const std::string& host) {
    ssl_ctx.reset();
    if (std::string why = make_ssl_context(tls, ssl_ctx); !why.empty())
      return "TLS configuration for " + where + ": " + why;
    secure = std::make_unique<TlsStream>(std::move(*plain), *ssl_ctx);
    plain.reset();
    if (std::string why = prepare_ssl(secure->native_handle(), tls, host); !why.empty())
      return "TLS with " + where + ": " + why;
    const beast::error_code ec = run([&](auto&& handler) {
      secure->async_handshake(ssl::stream_base::client, std::move(handler));
    });
    if (ec)
      return handshake_error(secure->native_handle(), ec, where, tls_name(tls, host),
                             std::chrono::milliseconds(0));
    return {};
  }
};

LineClient::LineClient() : impl_(std::make_unique<Impl>()) {}
LineClient::~LineClient() {
  close();
}

void LineClient::set_deadline(std::chrono::steady_clock::time_point deadline) {
  impl_->deadline = deadline;
}

bool LineClient::tls_active() const {
  return impl_->secure != nullptr;
}

std::string LineClient::connect(const std::string& host, std::uint16_t port, bool implicit_tls,
                                const TlsOptions& tls) {
  close();
  Impl& m = *impl_;
  m.where =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  m.plain = std::make_unique<beast::tcp_stream>(m.ioc);
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    ec = m.run([&](auto&& handler) {
      m.plain->async_connect(tcp::endpoint(address, port), std::move(handler));
    });
  } else {
    tcp::resolver resolver(m.ioc);
    beast::error_code rec;
    const auto endpoints = resolver.resolve(host, std::to_string(port), rec);
    if (rec) {
      close();
      return "cannot resolve " + host + ": " + rec.message();
    }
    ec = m.run([&](auto&& handler) { m.plain->async_connect(endpoints, std::move(handler)); });
  }
  if (ec) {
    const std::string error = m.describe(ec, "connect to");
    close();
    return error;
  }
  if (implicit_tls) {
    if (std::string error = m.handshake(tls, host); !error.empty()) {
      close();
      return error;
    }
  }
  return {};
}

std::string LineClient::start_tls(const TlsOptions& tls, const std::string& host) {
  Impl& m = *impl_;
  if (!m.plain) return m.secure ? "TLS already started" : "not connected";
  if (!m.buffered.empty()) return "the server sent data before the TLS handshake";
  if (std::string error = m.handshake(tls, host); !error.empty()) {
    close();
    return error;
  }
  return {};
}

std::string LineClient::write(std::string_view data) {
  Impl& m = *impl_;
  if (!m.lowest()) return "not connected";
  const auto buffer = asio::buffer(data.data(), data.size());
  const beast::error_code ec = m.run([&](auto&& handler) {
    if (m.secure)
      asio::async_write(*m.secure, buffer, std::move(handler));
    else
      asio::async_write(*m.plain, buffer, std::move(handler));
  });
  if (ec) {
    const std::string error = m.describe(ec, "send to");
    close();
    return error;
  }
  return {};
}

std::string LineClient::read_line(std::string& line) {
  constexpr std::size_t kMaxLine = 64 * 1024;
  Impl& m = *impl_;
  line.clear();
  while (true) {
    if (const std::size_t nl = m.buffered.find('\n'); nl != std::string::npos) {
      line = m.buffered.substr(0, nl);
      m.buffered.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return {};
    }
    if (m.buffered.size() > kMaxLine) {
      close();
      return "line too long from " + m.where;
    }
    if (!m.lowest()) return "not connected";
    char chunk[4096];
    std::size_t n = 0;
    const auto buffer = asio::buffer(chunk, sizeof chunk);
    const beast::error_code ec = m.run(
        [&](auto&& handler) {
          if (m.secure)
            m.secure->async_read_some(buffer, std::move(handler));
          else
            m.plain->async_read_some(buffer, std::move(handler));
        },
        &n);
    m.buffered.append(chunk, n);
    if (ec) {
      const std::string error =
          ec == asio::error::eof ? "connection closed by " + m.where : m.describe(ec, "read from");
      close();
      return error;
    }
  }
}

void LineClient::close() {
  Impl& m = *impl_;
  if (beast::tcp_stream* s = m.lowest()) {
    beast::error_code ignored;
    s->socket().shutdown(tcp::socket::shutdown_both, ignored);
    s->socket().close(ignored);
  }
  m.secure.reset();
  m.plain.reset();
  m.buffered.clear();
}

}  // namespace firebreak
