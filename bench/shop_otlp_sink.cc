// shop-otlp-sink: a local OTLP/HTTP trace receiver that counts and discards,
// for bench/shop_http_bench.sh: with tracing sampled at 100%, shop-api really
// encodes and POSTs every span batch over HTTP, and the receiver's cost stays
// out of the way (it parses nothing beyond HTTP).
//
//   shop-otlp-sink --listen 127.0.0.1:0        # prints "otlp listening on HOST:PORT"
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://HOST:PORT/v1/traces shop-api ...
//   curl http://HOST:PORT/stats                # {"requests":N,"spans":M,"bytes":B}
//
// Answers POST /v1/traces with 200 and an empty ExportTraceServiceResponse
// ({}), as a collector does. Spans are counted by their "spanId" members.
// Runs until SIGINT/SIGTERM.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
#include <string_view>
#include <thread>

#include "firebreak/admin.h"

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) {
  g_stop.store(true);
}

std::uint64_t count(std::string_view haystack, std::string_view needle) {
  std::uint64_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string_view::npos;
       pos = haystack.find(needle, pos + needle.size()))
    ++n;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shop-otlp-sink: an OTLP/HTTP receiver that counts spans and discards them"};
  std::string listen = "127.0.0.1:4318";
  app.add_option("--listen", listen, "HOST:PORT (port 0: any free port)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::atomic<std::uint64_t> requests{0}, spans{0}, bytes{0};
  firebreak::AdminServer server(
      {.address = listen, .max_body_bytes = 64 * 1024 * 1024, .max_connections = 64, .threads = 2});
  server.add_handler("POST", "/v1/traces", [&](const firebreak::AdminRequest& req) {
    requests.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(req.body.size(), std::memory_order_relaxed);
    spans.fetch_add(count(req.body, "\"spanId\":"), std::memory_order_relaxed);
    return firebreak::AdminResponse{.content_type = "application/json", .body = "{}"};
  });
  server.add_handler("GET", "/stats", [&](const firebreak::AdminRequest&) {
    return firebreak::AdminResponse{
        .content_type = "application/json",
        .body = fmt::format(R"({{"requests":{},"spans":{},"bytes":{}}})", requests.load(),
                            spans.load(), bytes.load())};
  });
  try {
    server.start();
  } catch (const std::exception& e) {
    std::cerr << "shop-otlp-sink: " << e.what() << std::endl;
    return 1;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::cout << "otlp listening on " << server.address() << std::endl;
  while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.stop();
  return 0;
}
