// shop-otlp-sink: a local OTLP/HTTP trace receiver that counts and discards,
// for bench/shop_http_bench.sh: with tracing sampled at 100%, shop-api really
// encodes and POSTs every span batch over HTTP, and the receiver's cost stays
// out of the way (it counts spans as the body streams in and parses nothing
// else; see otlp_sink.h).
//
//   shop-otlp-sink --listen 127.0.0.1:0        # logs {"event":"listening","server":"otlp",
//                                              #       "address":"HOST:PORT",...}
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://HOST:PORT/v1/traces shop-api ...
//   curl http://HOST:PORT/stats                # {"requests":N,"spans":M,"bytes":B}
//
// Answers POST /v1/traces with 200 and an empty ExportTraceServiceResponse
// ({}), as a collector does. Spans are counted by their "spanId" members.
// Runs until SIGINT/SIGTERM.
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "firebreak/log.h"
#include "otlp_sink.h"

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) {
  g_stop.store(true);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shop-otlp-sink: an OTLP/HTTP receiver that counts spans and discards them"};
  std::string listen = "127.0.0.1:4318";
  app.add_option("--listen", listen, "HOST:PORT (port 0: any free port)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  bench::OtlpSink sink(listen);
  try {
    sink.start();
  } catch (const std::exception& e) {
    std::cerr << "shop-otlp-sink: " << e.what() << std::endl;
    return 1;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  FB_LOG_INFO("listening", "", {"server", "otlp"}, {"address", sink.address()});
  firebreak::flush_logs();
  while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  sink.stop();
  return 0;
}
