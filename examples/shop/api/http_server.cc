#include "api/http_server.h"

#include <fmt/format.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include "api/routes.h"
#include "common/problem.h"
#include "firebreak/log.h"
#include "firebreak/workload/http_beast.h"

namespace shop {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

namespace {

std::string_view sv(beast::string_view s) {
  return {s.data(), s.size()};
}

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  return addr.is_v6() ? fmt::format("[{}]:{}", addr.to_string(), ep.port())
                      : fmt::format("{}:{}", addr.to_string(), ep.port());
}

Response to_beast(const ApiResponse& api, unsigned version, bool keep_alive) {
  Response res(static_cast<http::status>(api.status), version);
  res.set(http::field::content_type, api.content_type);
  if (!api.location.empty()) res.set(http::field::location, api.location);
  if (!api.allow.empty()) res.set(http::field::allow, api.allow);
  res.body() = api.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  OrdersApi& api;
  firebreak::HttpObserver* observer;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_pause{ioc};
  std::vector<std::thread> threads;
  std::string bound;
  std::atomic<bool> stopping{false};

  // Requests between "read" and "written", for a graceful stop.
  std::mutex mu;
  std::condition_variable idle;
  int in_flight = 0;  // guarded by mu

  Impl(HttpServerOptions o, OrdersApi& a, firebreak::HttpObserver* obs)
      : options(std::move(o)), api(a), observer(obs), ioc(static_cast<int>(options.threads)) {}

  void request_started() {
    std::lock_guard lock(mu);
    ++in_flight;
  }
  void request_done() {
    std::lock_guard lock(mu);
    if (--in_flight == 0) idle.notify_all();
  }

  // Runs the handler for one request: routed, then observed by the kit's
  // middleware (unless the kit is off).
  Response handle(const Request& req, std::string_view peer, const ApiResponse* preset) {
    const bool keep_alive = req.keep_alive() && !stopping.load();
    const RouteMatch route = match_route(sv(req.method_string()), sv(req.target()));
    auto run = [&](const Request& r) {
      if (preset) return to_beast(*preset, r.version(), false);
      const auto ct = r.find(http::field::content_type);
      const ApiResponse api_res =
          api.handle(route, {.method = sv(r.method_string()),
                             .content_type = ct == r.end() ? std::string_view() : sv(ct->value()),
                             .body = r.body()});
      return to_beast(api_res, r.version(), keep_alive);
    };
    if (!observer) return run(req);
    return firebreak::observe_request(*observer, route.route, req, peer, run);
  }
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server) {
    beast::error_code ec;
    const auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = endpoint_text(ep);
  }

  void start() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(server_.options.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_header_bytes));
    stream_.expires_after(server_.options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted)
      return close();
    server_.request_started();  // done in on_write (or close() below)
    if (ec == http::error::body_limit) {
      // The header is complete (Beast checks Content-Length against the limit
      // as soon as it has it), so the request can be routed and recorded.
      const ApiResponse too_large =
          ApiResponse::problem(Problem::too_large(server_.options.max_body_bytes));
      return respond(server_.handle(parser_->get(), peer_, &too_large), /*close=*/true);
    }
    if (ec == http::error::header_limit) {
      const Problem p{431, "Request Header Fields Too Large",
                      fmt::format("headers over {} bytes", server_.options.max_header_bytes)};
      return respond(to_beast(ApiResponse::problem(p), 11, false), true);
    }
    if (ec) {
      if (ec.category() != http::make_error_code(http::error::bad_target).category()) {
        server_.request_done();
        return close();  // a socket error: nobody to answer
      }
      const ApiResponse bad = ApiResponse::problem(Problem::bad_request("malformed HTTP request"));
      return respond(to_beast(bad, 11, false), true);
    }
    const Request& req = parser_->get();
    Response res;
    try {
      res = server_.handle(req, peer_, nullptr);
    } catch (const std::exception& e) {
      // The middleware recorded the 500; say why in the log once.
      FB_LOG_ERROR("handler_failed", "", {"error", e.what()});
      res = to_beast(ApiResponse::problem(Problem::internal("unexpected error")), req.version(),
                     false);
    }
    const bool close_after = !res.keep_alive();
    respond(std::move(res), close_after);
  }

  // Writes the response of the request counted by request_started().
  void respond(Response res, bool close) {
    res_ = std::move(res);
    if (close) res_.keep_alive(false);
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&Session::on_write, shared_from_this(), close));
  }

  void on_write(bool close_after, beast::error_code ec, std::size_t) {
    server_.request_done();
    if (ec || close_after || server_.stopping.load()) return close();
    read();
  }

  // Lingering close, as nginx and Apache do: after our last response, stop
  // sending but read (and drop) what the client is still sending, e.g. the
  // rest of a body we refused with 413. Closing at once with unread data
  // makes the kernel send a reset, which can destroy our response before the
  // client has read it.
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    discard();
  }

  void discard() {
    stream_.async_read_some(asio::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (!ec && self->drained_ < kMaxDrain) self->discard();
                            });
  }

  static constexpr std::size_t kMaxDrain = 1 << 20;

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response res_;
  std::string peer_;
  std::array<char, 4096> drain_;
  std::size_t drained_ = 0;
};

void accept(HttpServer::Impl& server) {
  server.acceptor.async_accept(
      asio::make_strand(server.ioc), [&server](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || server.stopping.load()) return;
        if (!ec) {
          std::make_shared<Session>(std::move(socket), server)->start();
          return accept(server);
        }
        // Out of file descriptors, most likely: accepting again at once would
        // spin. Pause, so the connections we have can finish and free some.
        FB_LOG_WARN("accept_failed", "", {"error", ec.message()});
        server.accept_pause.expires_after(std::chrono::milliseconds(100));
        server.accept_pause.async_wait([&server](beast::error_code) { accept(server); });
      });
}

tcp::endpoint resolve(asio::io_context& ioc, const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("expected HOST:PORT");
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  auto results = resolver.resolve(host, port, tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) throw std::runtime_error(ec ? ec.message() : "no address for " + host);
  return results.begin()->endpoint();
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, OrdersApi& api, firebreak::HttpObserver* observer)
    : impl_(std::make_unique<Impl>(std::move(options), api, observer)) {}

HttpServer::~HttpServer() {
  stop(std::chrono::milliseconds(0));
}

void HttpServer::start() {
  Impl& s = *impl_;
  try {
    const tcp::endpoint ep = resolve(s.ioc, s.options.address);
    s.acceptor.open(ep.protocol());
    s.acceptor.set_option(asio::socket_base::reuse_address(true));
    s.acceptor.bind(ep);
    s.acceptor.listen(asio::socket_base::max_listen_connections);
    s.bound = endpoint_text(s.acceptor.local_endpoint());
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("cannot listen on {}: {}", s.options.address, e.what()));
  }
  accept(s);
  for (unsigned i = 0; i < std::max(1u, s.options.threads); ++i)
    s.threads.emplace_back([&s] { s.ioc.run(); });
}

std::string HttpServer::address() const {
  return impl_->bound;
}

void HttpServer::stop(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  if (s.stopping.exchange(true)) return;
  asio::post(s.ioc, [&s] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
  });
  {
    std::unique_lock lock(s.mu);
    s.idle.wait_for(lock, grace, [&s] { return s.in_flight == 0; });
  }
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
}

}  // namespace shop
