// tracecontext-service: the W3C Trace Context test service, built on the kit,
// so that the W3C conformance suite (w3c/trace-context, test/test.py) can be
// pointed at Firebreak's propagation:
//
//   build/bin/tracecontext-service --listen 127.0.0.1:5000
//   python test.py http://127.0.0.1:5000/test
//
// On POST /test with a JSON array of {"url": ..., "arguments": [...]}, it
// continues the caller's trace (traceparent and tracestate of the request,
// extracted by the W3C rules), and for each element POSTs `arguments` as JSON
// to `url` from a client span of its own: the callback carries `traceparent`
// with the caller's trace id and a new span id, and the caller's `tracestate`.
// Then it answers 200. With no traceparent (or an invalid one) it starts a new
// trace.
//
// It logs the event `listening` (server "http", address HOST:PORT; with port
// 0 the chosen port) once it accepts connections and runs until SIGTERM or
// SIGINT. Tracing is off unless the
// environment configures an exporter (e.g. OTEL_EXPORTER_OTLP_ENDPOINT).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "firebreak/admin.h"
#include "firebreak/http_client.h"
#include "firebreak/log.h"
#include "firebreak/trace.h"

namespace {

using nlohmann::json;

firebreak::AdminResponse handle_test(const firebreak::AdminRequest& request) {
  const json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_array())
    return {.status = 400, .body = "expected a JSON array of {\"url\", \"arguments\"}\n"};

  firebreak::ScopedSpan server("POST /test", {.kind = firebreak::SpanKind::kServer,
                                              .parent = firebreak::extract(request.headers)});
  firebreak::HttpClient client;
  for (const json& item : body) {
    if (!item.is_object() || !item.contains("url") || !item["url"].is_string()) continue;
    const std::string url = item["url"];
    const json arguments = item.contains("arguments") ? item["arguments"] : json::array();

    firebreak::ScopedSpan call("POST", {.kind = firebreak::SpanKind::kClient});
    call->set_attribute("url.full", url);
    firebreak::HttpHeaders headers{{"Content-Type", "application/json"}};
    firebreak::inject(call.context(), headers);
    const firebreak::HttpResponse r =
        client.post(url, arguments.dump(), headers, std::chrono::seconds(5));
    if (!r.error.empty()) {
      call->set_status(firebreak::StatusCode::kError, r.error);
    } else {
      call->set_attribute("http.response.status_code", r.status);
    }
  }
  return {.body = "ok\n"};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"W3C Trace Context test service (POST /test)"};
  std::string listen = "127.0.0.1:5000";
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0 picks a free port)");
  CLI11_PARSE(app, argc, argv);

  // Block the stop signals before any thread starts, so that only sigwait
  // below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    firebreak::Tracing tracing = firebreak::init_tracing({.service_name = "tracecontext-service"});
    firebreak::AdminServer server({.address = listen, .max_body_bytes = 1 << 20, .threads = 4});
    server.add_handler("POST", "/test", handle_test);
    server.start();
    FB_LOG_INFO("listening", "", {"server", "http"}, {"address", server.address()});
    firebreak::flush_logs();

    int signo = 0;
    sigwait(&stop_signals, &signo);
    server.stop();
  } catch (const std::exception& e) {
    std::cerr << "tracecontext-service: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
