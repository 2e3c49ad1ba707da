// Internal: the network half of AdminServer, the only part that knows Beast.
// It parses requests into AdminRequest, calls a dispatch function and writes
// the AdminResponse back, enforcing the limits in AdminOptions.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "firebreak/admin.h"

namespace firebreak::detail {

class HttpListener {
 public:
  // Must not throw (exceptions are turned into responses before this).
  using Dispatch = std::function<AdminResponse(const AdminRequest&)>;

  // Binds options.address and serves on options.threads threads. Throws
  // AdminError with "cannot listen on ADDR: REASON" when it cannot.
  HttpListener(const AdminOptions& options, Dispatch dispatch);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Closes the listener and every connection, joins the threads. Idempotent.
  // Not thread-safe (AdminServer serialises calls).
  void stop();

  std::uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }

  class State;  // defined in http_listener.cc; public for its sessions

 private:
  std::unique_ptr<State> state_;
  std::uint16_t port_ = 0;
  std::string address_;
};

// Splits "host:port" / "[v6]:port" / ":port". Returns false when malformed.
bool split_host_port(std::string_view address, std::string& host, std::uint16_t& port);

}  // namespace firebreak::detail
