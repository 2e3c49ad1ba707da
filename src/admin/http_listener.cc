// The admin server's network half: the only translation unit that includes
// Boost.Beast and Asio (they dominate compile time; keep them here).
#include "admin/http_listener.h"

#include <pthread.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <optional>
#include <thread>
#include <vector>

namespace firebreak::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

bool split_host_port(std::string_view address, std::string& host, std::uint16_t& port) {
  std::string_view port_text;
  if (!address.empty() && address.front() == '[') {
    const auto close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() || address[close + 1] != ':')
      return false;
    host = std::string(address.substr(1, close - 1));
    port_text = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = std::string(address.substr(0, colon));
    if (host.find(':') != std::string::npos) return false;  // bare IPv6 needs brackets
    port_text = address.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5) return false;
  unsigned value = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || value > 65535)
    return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

namespace {

std::string format_endpoint(const tcp::endpoint& ep) {
  const std::string host = ep.address().to_string();
  if (ep.address().is_v6()) return "[" + host + "]:" + std::to_string(ep.port());
  return host + ":" + std::to_string(ep.port());
}

bool has_crlf(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

class Session;

}  // namespace

class HttpListener::State {
 public:
  State(const AdminOptions& options, Dispatch dispatch)
      : read_timeout(options.read_timeout),
        max_header_bytes(options.max_header_bytes),
        max_body_bytes(options.max_body_bytes),
        max_connections(options.max_connections),
        dispatch(std::move(dispatch)) {}

  void accept();

  const std::chrono::milliseconds read_timeout;
  const std::size_t max_header_bytes;
  const std::size_t max_body_bytes;
  const std::size_t max_connections;
  const Dispatch dispatch;
  std::atomic<std::size_t> connections{0};

  // Declared after everything sessions use: destroying the io_context destroys
  // the sessions still queued in it, which touch `connections`.
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_backoff{ioc};
  std::vector<std::thread> threads;
};

namespace {

// One connection: read a request, answer it, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpListener::State& state)
      : state_(state),
        stream_(std::move(socket)),
        buffer_(state.max_header_bytes + state.max_body_bytes + 4096) {}
  ~Session() { state_.connections.fetch_sub(1, std::memory_order_relaxed); }

  void start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::read_header, shared_from_this()));
  }

 private:
  void read_header() {
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(state_.max_header_bytes, 0xffffffffu)));
    parser_->body_limit(state_.max_body_bytes);
    // One deadline for the whole request (header and body), so a client that
    // trickles bytes cannot hold the connection; also the keep-alive idle limit.
    stream_.expires_after(state_.read_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_error(ec);
    const auto& req = parser_->get();
    const auto expect = req[http::field::expect];
    if (!expect.empty()) {
      if (!beast::iequals(expect, "100-continue")) {
        return reply_and_close(http::status::expectation_failed, "unsupported Expect\n");
      }
      if (!parser_->is_done()) {
        continue_ = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                       req.version());
        http::async_write(stream_, *continue_,
                          beast::bind_front_handler(&Session::on_continue, shared_from_this()));
        return;
      }
    }
    read_body();
  }

  void on_continue(beast::error_code ec, std::size_t) {
    continue_.reset();
    if (ec) return;
    read_body();
  }

  void read_body() {
    if (parser_->is_done()) return on_request();
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec) return on_error(ec);
    on_request();
  }

  void on_error(beast::error_code ec) {
    if (ec == http::error::header_limit)
      return reply_and_close(http::status::request_header_fields_too_large,
                             "request header too large\n");
    if (ec == http::error::body_limit)
      return reply_and_close(http::status::payload_too_large, "request body too large\n");
    if (ec == http::error::buffer_overflow)
      return reply_and_close(http::status::bad_request, "request too large\n");
    if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message)
      return reply_and_close(http::status::bad_request, "bad request\n");
    // end of stream, timeout (the stream is closed already), reset: nothing to say.
    close();
  }

  void on_request() {
    http::request<http::string_body> req = parser_->release();
    AdminRequest request;
    request.method = std::string(req.method_string());
    const auto target = boost::urls::parse_origin_form(req.target());
    if (!target) return reply_and_close(http::status::bad_request, "bad request target\n");
    request.path = target->path();
    for (const auto& param : target->params())
      request.query.emplace_back(param.key, param.has_value ? param.value : std::string());
    for (const auto& field : req)
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    request.body = std::move(req.body());

    AdminResponse answer = state_.dispatch(request);

    const bool head = req.method() == http::verb::head;
    res_ = {};
    res_.version(req.version());
    const int status = answer.status >= 100 && answer.status <= 599 ? answer.status : 500;
    res_.result(static_cast<unsigned>(status));
    res_.set(http::field::server, "firebreak");
    res_.set(http::field::content_type, answer.content_type);
    for (const auto& [name, value] : answer.headers)
      if (!name.empty() && !has_crlf(name) && !has_crlf(value)) res_.insert(name, value);
    res_.keep_alive(req.keep_alive());
    if (head) {
      res_.content_length(answer.body.size());
    } else {
      res_.body() = std::move(answer.body);
      res_.prepare_payload();
    }
    write(!req.keep_alive());
  }

  void write(bool close_after) {
    stream_.expires_after(state_.read_timeout);
    http::async_write(stream_, res_,
                      [self = shared_from_this(), close_after](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (close_after) return self->close();
                        self->read_header();
                      });
  }

  void reply_and_close(http::status status, std::string body) {
    res_ = {};
    res_.version(11);
    res_.result(status);
    res_.set(http::field::server, "firebreak");
    res_.set(http::field::content_type, "text/plain; charset=utf-8");
    res_.keep_alive(false);
    res_.body() = std::move(body);
    res_.prepare_payload();
    write(true);
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  HttpListener::State& state_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::shared_ptr<http::response<http::empty_body>> continue_;
};

}  // namespace

void HttpListener::State::accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors or similar: back off instead of spinning.
      accept_backoff.expires_after(std::chrono::milliseconds(50));
      accept_backoff.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) accept();
      });
      return;
    }
    if (connections.load(std::memory_order_relaxed) >= max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      connections.fetch_add(1, std::memory_order_relaxed);
      std::make_shared<Session>(std::move(socket), *this)->start();
    }
    accept();
  });
}

HttpListener::HttpListener(const AdminOptions& options, Dispatch dispatch)
    : state_(std::make_unique<State>(options, std::move(dispatch))) {
  const std::string& address = options.address;
  const auto fail = [&](const std::string& why) {
    throw AdminError("cannot listen on " + address + ": " + why);
  };
  std::string host;
  std::uint16_t port = 0;
  if (!split_host_port(address, host, port))
    fail("expected host:port, e.g. 127.0.0.1:9464 or [::1]:9464");

  tcp::endpoint endpoint;
  beast::error_code ec;
  if (host.empty()) {
    endpoint = tcp::endpoint(asio::ip::address_v4::any(), port);
  } else if (const auto ip = asio::ip::make_address(host, ec); !ec) {
    endpoint = tcp::endpoint(ip, port);
  } else {
    tcp::resolver resolver(state_->ioc);
    const auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
    if (ec || results.empty()) fail("cannot resolve \"" + host + "\": " + ec.message());
    endpoint = results.begin()->endpoint();
  }

  tcp::acceptor& acceptor = state_->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); ec) fail(ec.message());
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor.bind(endpoint, ec); ec) fail(ec.message());
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) fail(ec.message());
  const tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) fail(ec.message());
  port_ = bound.port();
  address_ = format_endpoint(bound);

  state_->accept();
  const unsigned threads = std::max(1u, options.threads);
  for (unsigned i = 0; i < threads; ++i) {
    state_->threads.emplace_back([state = state_.get()] {
      pthread_setname_np(pthread_self(), "fb-admin");
      state->ioc.run();
    });
  }
}

HttpListener::~HttpListener() {
  stop();
}

void HttpListener::stop() {
  if (!state_) return;
  // Stop the loop (a handler running now finishes first), then destroy the
  // io_context, which closes the acceptor and every connection it still holds.
  state_->ioc.stop();
  for (auto& t : state_->threads) t.join();
  state_.reset();
}

}  // namespace firebreak::detail
