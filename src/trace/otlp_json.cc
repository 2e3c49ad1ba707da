// The OTLP JSON encoding of ExportTraceServiceRequest (opentelemetry-proto,
// docs/specification.md "JSON Protobuf Encoding"): lowerCamelCase keys, trace
// and span ids as lowercase hex, enums as integers, 64-bit integers as decimal
// strings, doubles as numbers (NaN and infinities as the strings proto3 JSON
// uses).
#include <cmath>
#include <iterator>

#include <fmt/format.h>

#include "firebreak/trace.h"
#include "trace/otlp_json.h"
#include "util/json_write.h"

namespace firebreak {

namespace {

// Span.flags bits above the W3C trace flags (SpanFlags in trace.proto).
constexpr std::uint32_t kHasIsRemote = 0x100;
constexpr std::uint32_t kIsRemote = 0x200;

void key(std::string& out, std::string_view k) {
  out += '"';
  out += k;
  out += "\":";
}

void hex_field(std::string& out, std::string_view k, const auto& id) {
  key(out, k);
  out += '"';
  char buf[32];
  id.to_hex(buf);
  out.append(buf, std::remove_cvref_t<decltype(id)>::kHexSize);
  out += '"';
}

void int64_string(std::string& out, std::int64_t v) {
  out += '"';
  fmt::format_to(std::back_inserter(out), "{}", v);
  out += '"';
}

void any_value(std::string& out, const AttributeValue& v) {
  switch (v.type()) {
    case AttributeValue::Type::kString:
      out += "{\"stringValue\":";
      detail::append_json_string(out, v.as_string());
      break;
    case AttributeValue::Type::kInt:
      out += "{\"intValue\":";
      int64_string(out, v.as_int());
      break;
    case AttributeValue::Type::kDouble: {
      out += "{\"doubleValue\":";
      const double d = v.as_double();
      if (std::isnan(d))
        out += "\"NaN\"";
      else if (std::isinf(d))
        out += d > 0 ? "\"Infinity\"" : "\"-Infinity\"";
      else
        fmt::format_to(std::back_inserter(out), "{}", d);
      break;
    }
    case AttributeValue::Type::kBool:
      out += "{\"boolValue\":";
      out += v.as_bool() ? "true" : "false";
      break;
  }
  out += '}';
}

void key_value(std::string& out, std::string_view k, const AttributeValue& v) {
  out += "{\"key\":";
  detail::append_json_string(out, k);
  out += ",\"value\":";
  any_value(out, v);
  out += '}';
}

void owned_attributes(std::string& out, const std::vector<Attribute>& attributes) {
  key(out, "attributes");
  out += '[';
  for (std::size_t i = 0; i < attributes.size(); ++i) {
    if (i) out += ',';
    key_value(out, attributes[i].key, attributes[i].view());
  }
  out += ']';
}

void encode_span(std::string& out, const SpanData& s) {
  out += '{';
  hex_field(out, "traceId", s.trace_id());
  out += ',';
  hex_field(out, "spanId", s.span_id());
  if (!s.trace_state().empty()) {
    out += ',';
    key(out, "traceState");
    detail::append_json_string(out, s.trace_state().header());
  }
  if (s.parent_span_id().valid()) {
    out += ',';
    hex_field(out, "parentSpanId", s.parent_span_id());
  }
  out += ',';
  key(out, "flags");
  const std::uint32_t flags =
      s.trace_flags() | kHasIsRemote | (s.parent_is_remote() ? kIsRemote : 0);
  fmt::format_to(std::back_inserter(out), "{}", flags);
  out += ',';
  key(out, "name");
  detail::append_json_string(out, s.name());
  out += ',';
  key(out, "kind");
  fmt::format_to(std::back_inserter(out), "{}", static_cast<int>(s.kind()));
  out += ',';
  key(out, "startTimeUnixNano");
  int64_string(out, s.start_unix_nanos());
  out += ',';
  key(out, "endTimeUnixNano");
  int64_string(out, s.end_unix_nanos());
  out += ',';
  key(out, "attributes");
  out += '[';
  for (std::size_t i = 0, n = s.attribute_count(); i < n; ++i) {
    if (i) out += ',';
    const AttributeView a = s.attribute(i);
    key_value(out, a.key, a.value);
  }
  out += ']';
  if (s.dropped_attributes()) {
    out += ',';
    key(out, "droppedAttributesCount");
    fmt::format_to(std::back_inserter(out), "{}", s.dropped_attributes());
  }
  if (!s.events().empty()) {
    out += ',';
    key(out, "events");
    out += '[';
    bool first = true;
    for (const SpanEvent& e : s.events()) {
      if (!first) out += ',';
      first = false;
      out += '{';
      key(out, "timeUnixNano");
      int64_string(out, e.time.time_since_epoch().count());
      out += ',';
      key(out, "name");
      detail::append_json_string(out, e.name);
      out += ',';
      owned_attributes(out, e.attributes);
      out += '}';
    }
    out += ']';
  }
  if (s.dropped_events()) {
    out += ',';
    key(out, "droppedEventsCount");
    fmt::format_to(std::back_inserter(out), "{}", s.dropped_events());
  }
  if (!s.links().empty()) {
    out += ',';
    key(out, "links");
    out += '[';
    bool first = true;
    for (const SpanLink& l : s.links()) {
      if (!first) out += ',';
      first = false;
      out += '{';
      hex_field(out, "traceId", l.context.trace_id);
      out += ',';
      hex_field(out, "spanId", l.context.span_id);
      if (!l.context.trace_state.empty()) {
        out += ',';
        key(out, "traceState");
        detail::append_json_string(out, l.context.trace_state.header());
      }
      out += ',';
      owned_attributes(out, l.attributes);
      out += ',';
      key(out, "flags");
      fmt::format_to(std::back_inserter(out), "{}",
                     l.context.trace_flags | kHasIsRemote | (l.context.is_remote ? kIsRemote : 0));
      out += '}';
    }
    out += ']';
  }
  if (s.dropped_links()) {
    out += ',';
    key(out, "droppedLinksCount");
    fmt::format_to(std::back_inserter(out), "{}", s.dropped_links());
  }
  out += ',';
  key(out, "status");
  out += '{';
  if (s.status_code() == StatusCode::kError && !s.status_message().empty()) {
    key(out, "message");
    detail::append_json_string(out, s.status_message());
    out += ',';
  }
  key(out, "code");
  fmt::format_to(std::back_inserter(out), "{}", static_cast<int>(s.status_code()));
  out += "}}";
}

}  // namespace

void encode_otlp_json(std::span<const SpanData> spans, const ResourceAttributes& resource,
                      std::string& out) {
  out.clear();
  out.reserve(256 + spans.size() * 400);
  out += "{\"resourceSpans\":[{\"resource\":{\"attributes\":[";
  for (std::size_t i = 0; i < resource.size(); ++i) {
    if (i) out += ',';
    key_value(out, resource[i].first, AttributeValue(resource[i].second));
  }
  out += "]},\"scopeSpans\":[{\"scope\":{\"name\":\"firebreak\",\"version\":";
  detail::append_json_string(out, detail::kFirebreakVersion);
  out += "},\"spans\":[";
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (i) out += ',';
    encode_span(out, spans[i]);
  }
  out += "]}]}]}";
}

}  // namespace firebreak
