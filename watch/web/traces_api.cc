#include "watch/web/traces_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "watch/alerting/webhook.h"
#include "watch/model/gzip.h"
#include "watch/model/text.h"
#include "watch/promql/api_json.h"
#include "watch/web/params.h"

namespace watch::web {
namespace {

using firebreak::AdminRequest;
using firebreak::AdminResponse;
using Json = nlohmann::ordered_json;

constexpr std::string_view kTracePrefix = "/api/v1/traces/";
constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kMaxLimit = 1000;

AdminResponse json_reply(int status, std::string body) {
  return {.status = status, .content_type = "application/json", .body = std::move(body)};
}

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// --- POST /v1/traces

// An OTLP/HTTP failure: a google.rpc.Status as JSON (code 3 is
// INVALID_ARGUMENT; the specification lets a server leave it out).
AdminResponse otlp_error(int status, std::string_view message) {
  Json j = Json::object();
  if (status == 400) j["code"] = 3;
  j["message"] = message;
  return json_reply(status, dump(j));
}

// The media type of a Content-Type value: lowercase, without parameters.
std::string media_type(std::string_view content_type) {
  return ascii_lower(trim_blanks(content_type.substr(0, content_type.find(';'))));
}

AdminResponse post_traces(const AdminRequest& r, traces::Store& store,
                          const TracesApiOptions& options) {
  const std::string type = media_type(r.header("Content-Type"));
  if (type == "application/x-protobuf" || type == "application/protobuf")
    return otlp_error(415,
                      "watch reads OTLP/HTTP JSON only, not protobuf: configure the exporter for "
                      "http/json (OTEL_EXPORTER_OTLP_PROTOCOL=http/json), which sends "
                      "Content-Type: application/json");
  if (type != "application/json")
    return otlp_error(415, fmt::format("unsupported Content-Type \"{}\": watch reads OTLP/HTTP "
                                       "JSON (Content-Type: application/json)",
                                       r.header("Content-Type")));
  if (r.body.size() > options.max_body_bytes)
    return otlp_error(413, fmt::format("body larger than {} bytes", options.max_body_bytes));
  const std::string encoding = media_type(r.header("Content-Encoding"));
  std::string inflated;
  std::string_view body = r.body;
  if (encoding == "gzip" || encoding == "x-gzip") {
    const std::string error = gunzip(r.body, options.max_body_bytes, inflated);
    if (!error.empty()) {
      const bool too_large = error.starts_with("body size limit");
      return otlp_error(too_large ? 413 : 400, error);
    }
    body = inflated;
  } else if (!encoding.empty() && encoding != "identity") {
    return otlp_error(415, fmt::format("unsupported Content-Encoding \"{}\": send gzip or no "
                                       "compression",
                                       r.header("Content-Encoding")));
  }
  const traces::IngestResult result = store.ingest(body);
  if (!result.ok()) return otlp_error(400, result.error);
  if (result.rejected == 0) return json_reply(200, "{}");
  // rejectedSpans is an int64: a decimal string in proto3 JSON.
  Json partial = {{"rejectedSpans", std::to_string(result.rejected)},
                  {"errorMessage", result.rejection}};
  return json_reply(200, dump(Json{{"partialSuccess", std::move(partial)}}));
}

// --- GET /api/v1/traces

AdminResponse bad_data(std::string_view message) {
  return json_reply(400, promql::render_error(promql::ErrorKind::kBadData, message));
}

AdminResponse success(Json data) {
  return json_reply(200, dump(Json{{"status", "success"}, {"data", std::move(data)}}));
}

std::string invalid(std::string_view name, std::string_view value, std::string_view want) {
  return fmt::format("invalid parameter \"{}\": \"{}\": want {}", name, value, want);
}

}  // namespace

std::optional<traces::Query> parse_traces_query(const AdminRequest& r, std::string* error) {
  traces::Query q{.limit = kDefaultLimit};
  if (auto v = r.query_value("service")) q.service = *v;
  if (auto v = r.query_value("route")) q.route = *v;
  if (auto v = r.query_value("error")) {
    if (*v == "true" || *v == "1") {
      q.errors_only = true;
    } else if (*v != "false" && *v != "0" && !v->empty()) {
      *error = invalid("error", *v, "true or false");
      return std::nullopt;
    }
  }
  if (auto v = r.query_value("min_duration"); v && !v->empty()) {
    const auto ms = parse_duration_ms(*v);
    if (!ms) {
      *error = invalid("min_duration", *v, "a duration (seconds, or as 250ms, 1m30s)");
      return std::nullopt;
    }
    q.min_duration_nanos = *ms > INT64_MAX / 1'000'000 ? INT64_MAX : *ms * 1'000'000;
  }
  if (auto v = r.query_value("order"); v && !v->empty()) {
    if (*v == "start") {
      q.order = traces::Order::kStart;
    } else if (*v == "duration") {
      q.order = traces::Order::kDuration;
    } else {
      *error = invalid("order", *v, "start or duration");
      return std::nullopt;
    }
  }
  if (auto v = r.query_value("limit"); v && !v->empty()) {
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size() || n == 0) {
      *error = invalid("limit", *v, fmt::format("an integer from 1 to {}", kMaxLimit));
      return std::nullopt;
    }
    q.limit = std::min(n, kMaxLimit);
  }
  return q;
}

std::optional<firebreak::TraceId> parse_trace_id(std::string_view hex) {
  if (hex.size() != firebreak::TraceId::kHexSize) return std::nullopt;
  auto id = firebreak::TraceId::from_hex(ascii_lower(hex));
  if (!id || !id->valid()) return std::nullopt;
  return id;
}

namespace {

double millis(std::int64_t nanos) {
  return static_cast<double>(nanos) / 1e6;
}

Json summary_json(const traces::TraceSummary& s) {
  return {{"traceId", s.trace_id.to_hex()},
          {"logCorrelationId", traces::log_correlation_id(s.trace_id)},
          {"rootName", s.root_name},
          {"rootService", s.root_service},
          {"hasRoot", s.has_root},
          {"route", s.route},
          {"start", alerting::rfc3339(s.start_unix_nano / 1'000'000)},
          {"startUnixNano", std::to_string(s.start_unix_nano)},
          {"durationMs", millis(s.duration_nanos())},
          {"spanCount", s.span_count},
          {"services", s.services},
          {"error", s.error}};
}

AdminResponse get_traces(const AdminRequest& r, const traces::Store& store) {
  std::string error;
  const auto query = parse_traces_query(r, &error);
  if (!query) return bad_data(error);
  Json list = Json::array();
  for (const traces::TraceSummary& s : store.find(*query)) list.push_back(summary_json(s));
  const traces::StoreStats stats = store.stats();
  const traces::Limits limits = store.limits();
  return success({{"traces", std::move(list)},
                  {"services", store.services()},
                  {"routes", store.routes()},
                  {"held",
                   {{"traces", stats.traces},
                    {"spans", stats.spans},
                    {"bytes", stats.bytes},
                    {"maxSpans", limits.max_spans},
                    {"maxBytes", limits.max_bytes}}}});
}

// --- GET /api/v1/traces/<id>

Json value_json(const traces::Value& v) {
  using T = traces::Value::Type;
  switch (v.type) {
    case T::kEmpty:
      return nullptr;
    case T::kBool:
      return v.bool_value;
    case T::kInt:
      return v.int_value;
    case T::kDouble:
      if (std::isnan(v.double_value)) return "NaN";
      if (std::isinf(v.double_value)) return v.double_value > 0 ? "Infinity" : "-Infinity";
      return v.double_value;
    case T::kArray:
    case T::kKvlist: {
      Json parsed = Json::parse(v.text, nullptr, false);
      return parsed.is_discarded() ? Json(v.text) : parsed;
    }
    default:
      return v.text;
  }
}

Json attributes_json(const std::vector<traces::Attribute>& attributes) {
  Json out = Json::object();
  for (const traces::Attribute& a : attributes) out[a.key] = value_json(a.value);
  return out;
}

Json span_json(const traces::SpanNode& node, std::int64_t trace_start, std::size_t resource) {
  const traces::Span& s = node.span;
  Json events = Json::array();
  for (const traces::Event& e : s.events)
    events.push_back({{"name", e.name},
                      {"offsetMs", millis(e.time_unix_nano - trace_start)},
                      {"attributes", attributes_json(e.attributes)}});
  Json links = Json::array();
  for (const traces::Link& l : s.links)
    links.push_back({{"traceId", l.trace_id.to_hex()},
                     {"spanId", l.span_id.to_hex()},
                     {"attributes", attributes_json(l.attributes)}});
  return {{"spanId", s.span_id.to_hex()},
          {"parentSpanId", s.parent_span_id.valid() ? s.parent_span_id.to_hex() : ""},
          {"parentIndex", node.parent_index ? Json(*node.parent_index) : Json(nullptr)},
          {"parentMissing", node.parent_missing},
          {"depth", node.depth},
          {"name", s.name},
          {"kind", firebreak::to_string(s.kind)},
          {"service", s.service()},
          {"resource", resource},
          {"scope", s.scope},
          {"startOffsetMs", millis(s.start_unix_nano - trace_start)},
          {"durationMs", millis(s.duration_nanos())},
          {"startUnixNano", std::to_string(s.start_unix_nano)},
          {"endUnixNano", std::to_string(s.end_unix_nano)},
          {"attributes", attributes_json(s.attributes)},
          {"events", std::move(events)},
          {"links", std::move(links)},
          {"status", {{"code", static_cast<int>(s.status)}, {"message", s.status_message}}},
          {"error", s.failed()},
          {"dropped",
           {{"attributes", s.dropped_attributes},
            {"events", s.dropped_events},
            {"links", s.dropped_links}}}};
}

AdminResponse get_trace(const AdminRequest& r, const traces::Store& store) {
  const std::string_view text = std::string_view(r.path).substr(kTracePrefix.size());
  const std::optional<firebreak::TraceId> id = parse_trace_id(text);
  if (!id)
    return bad_data(fmt::format("invalid trace id \"{}\": want 32 hex digits, not all zero", text));
  const auto view = store.get(*id);
  if (!view)
    return json_reply(404, dump(Json{{"status", "error"},
                                     {"errorType", "not_found"},
                                     {"error", fmt::format("trace {} is not held (never received, "
                                                           "or dropped to make room)",
                                                           id->to_hex())}}));
  Json data = summary_json(view->summary);
  std::vector<const traces::Resource*> resources;
  Json spans = Json::array();
  for (const traces::SpanNode& node : view->spans) {
    const traces::Resource* res = node.span.resource.get();
    auto it = std::find(resources.begin(), resources.end(), res);
    if (it == resources.end()) it = resources.insert(resources.end(), res);
    spans.push_back(span_json(node, view->summary.start_unix_nano,
                              static_cast<std::size_t>(it - resources.begin())));
  }
  Json resource_list = Json::array();
  for (const traces::Resource* res : resources)
    resource_list.push_back(
        {{"service", res ? res->service : "unknown_service"},
         {"attributes", res ? attributes_json(res->attributes) : Json::object()}});
  data["resources"] = std::move(resource_list);
  data["spans"] = std::move(spans);
  return success(std::move(data));
}

}  // namespace

void add_traces_api(firebreak::AdminServer& server, traces::Store& store,
                    TracesApiOptions options) {
  server.add_handler("POST", "/v1/traces", [&store, options](const AdminRequest& r) {
    return post_traces(r, store, options);
  });
  server.add_handler("GET", "/api/v1/traces",
                     [&store](const AdminRequest& r) { return get_traces(r, store); });
  server.add_prefix_handler("GET", std::string(kTracePrefix),
                            [&store](const AdminRequest& r) { return get_trace(r, store); });
}

}  // namespace watch::web
