// watch's trace endpoints on its listen address, served from the trace store
// (traces/traces.h):
//
//   POST /v1/traces               OTLP/HTTP JSON: an ExportTraceServiceRequest, as
//                                 a collector takes it (the kit's exporter with
//                                 OTEL_EXPORTER_OTLP_ENDPOINT=http://<watch>)
//   GET  /api/v1/traces           recent traces, a summary each:
//                                 service=, route=, error=true|false,
//                                 min_duration= (seconds or "250ms"),
//                                 order=start (newest first, the default) |
//                                 duration (slowest first), limit= (1-1000, 100)
//   GET  /api/v1/traces/<trace id>  one trace: its summary and every span in
//                                 waterfall order
//
// POST answers as an OTLP/HTTP collector does (opentelemetry-proto
// docs/specification.md): 200 with {} when every span was taken, 200 with
// {"partialSuccess":{"rejectedSpans":"2","errorMessage":"..."}} when some were
// rejected, 400 with a Status {"code":3,"message":"resourceSpans[0]...: want
// a string, got the number 5"} when the body cannot be read. Protobuf bodies
// (application/x-protobuf) and any Content-Type but application/json get 415
// with what to configure instead; Content-Encoding gzip is read, others get
// 415; a body over max_body_bytes, compressed or not, gets 413.
//
// The GET answers are JSON in the Prometheus API's envelope
// ({"status":"success","data":...}; errors {"status":"error","errorType":
// "bad_data"|"not_found","error":"..."}); docs/traces.md shows their shape.
//
//   watch::web::add_traces_api(server, store);
//
// Thread-safety: handlers run on the server's threads; the store is
// thread-safe and must outlive the server.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "firebreak/admin.h"
#include "watch/traces/traces.h"

namespace watch::web {

struct TracesApiOptions {
  // A POST body over this, compressed or once decompressed, is answered 413
  // (OTLP recommends a limit of about 20 MiB).
  std::size_t max_body_bytes = 16u << 20;
};

void add_traces_api(firebreak::AdminServer& server, traces::Store& store,
                    TracesApiOptions options = {});

// The filters of GET /api/v1/traces from a request's query (the Traces page
// takes the same); nullopt and `error` set on a bad one.
std::optional<traces::Query> parse_traces_query(const firebreak::AdminRequest& request,
                                                std::string* error);
// A trace id from 32 hex digits (either case); nullopt when malformed or all zero.
std::optional<firebreak::TraceId> parse_trace_id(std::string_view hex);

}  // namespace watch::web
