// The OTLP JSON encoding of ExportTraceServiceRequest (opentelemetry-proto,
// docs/specification.md "JSON Protobuf Encoding"): lowerCamelCase keys, trace
// and span ids as lowercase hex, enums as integers, 64-bit integers as decimal
// strings, doubles as numbers (NaN and infinities as the strings proto3 JSON
// uses).
//
// Written into a detail::LineBuffer (reserved once, grown by doubling, never
// zero-filled, so an exporter reuses one batch after batch): no fmt call for
// integers, ids hex-encoded in place.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include <fmt/compile.h>
#include <fmt/format.h>

#include "firebreak/trace.h"
#include "trace/otlp_json.h"
#include "util/json_write.h"
#include "util/line_buffer.h"

namespace firebreak {

namespace {

// Span.flags bits above the W3C trace flags (SpanFlags in trace.proto).
constexpr std::uint32_t kHasIsRemote = 0x100;
constexpr std::uint32_t kIsRemote = 0x200;

// "key": — keys are literals, never escaped.
template <std::size_t N>
void key(detail::LineBuffer& out, const char (&k)[N]) {
  out.reserve_more(N + 2);
  char* p = out.tail();
  *p++ = '"';
  std::memcpy(p, k, N - 1);
  p += N - 1;
  *p++ = '"';
  *p++ = ':';
  out.commit(N + 2);
}

template <std::size_t N>
void hex_field(detail::LineBuffer& out, const char (&k)[N], const auto& id) {
  constexpr std::size_t hex = std::remove_cvref_t<decltype(id)>::kHexSize;
  key(out, k);
  out.reserve_more(hex + 2);
  char* p = out.tail();
  *p = '"';
  id.to_hex(p + 1);
  p[hex + 1] = '"';
  out.commit(hex + 2);
}

template <class Int>
void integer(detail::LineBuffer& out, Int v) {
  out.reserve_more(24);
  char* p = out.tail();
  const auto r = std::to_chars(p, p + 24, v);
  out.commit(static_cast<std::size_t>(r.ptr - p));
}

void int64_string(detail::LineBuffer& out, std::int64_t v) {
  out.push_back('"');
  integer(out, v);
  out.push_back('"');
}

void any_value(detail::LineBuffer& out, const AttributeValue& v) {
  switch (v.type()) {
    case AttributeValue::Type::kString:
      out.append("{\"stringValue\":");
      detail::append_json_string(out, v.as_string());
      break;
    case AttributeValue::Type::kInt:
      out.append("{\"intValue\":");
      int64_string(out, v.as_int());
      break;
    case AttributeValue::Type::kDouble: {
      out.append("{\"doubleValue\":");
      const double d = v.as_double();
      if (std::isnan(d)) {
        out.append("\"NaN\"");
      } else if (std::isinf(d)) {
        if (d > 0)
          out.append("\"Infinity\"");
        else
          out.append("\"-Infinity\"");
      } else {
        out.reserve_more(32);
        char* p = out.tail();
        char* end = fmt::format_to(p, FMT_COMPILE("{}"), d);
        out.commit(static_cast<std::size_t>(end - p));
      }
      break;
    }
    case AttributeValue::Type::kBool:
      out.append("{\"boolValue\":");
      if (v.as_bool())
        out.append("true");
      else
        out.append("false");
      break;
  }
  out.push_back('}');
}

void key_value(detail::LineBuffer& out, std::string_view k, const AttributeValue& v) {
  out.append("{\"key\":");
  detail::append_json_string(out, k);
  out.append(",\"value\":");
  any_value(out, v);
  out.push_back('}');
}

void owned_attributes(detail::LineBuffer& out, const std::vector<Attribute>& attributes) {
  key(out, "attributes");
  out.push_back('[');
  for (std::size_t i = 0; i < attributes.size(); ++i) {
    if (i) out.push_back(',');
    key_value(out, attributes[i].key, attributes[i].view());
  }
  out.push_back(']');
}

void encode_span(detail::LineBuffer& out, const SpanData& s) {
  out.push_back('{');
  hex_field(out, "traceId", s.trace_id());
  out.push_back(',');
  hex_field(out, "spanId", s.span_id());
  if (!s.trace_state().empty()) {
    out.push_back(',');
    key(out, "traceState");
    detail::append_json_string(out, s.trace_state().header());
  }
  if (s.parent_span_id().valid()) {
    out.push_back(',');
    hex_field(out, "parentSpanId", s.parent_span_id());
  }
  out.push_back(',');
  key(out, "flags");
  const std::uint32_t flags =
      s.trace_flags() | kHasIsRemote | (s.parent_is_remote() ? kIsRemote : 0);
  integer(out, flags);
  out.push_back(',');
  key(out, "name");
  detail::append_json_string(out, s.name());
  out.push_back(',');
  key(out, "kind");
  integer(out, static_cast<int>(s.kind()));
  out.push_back(',');
  key(out, "startTimeUnixNano");
  int64_string(out, s.start_unix_nanos());
  out.push_back(',');
  key(out, "endTimeUnixNano");
  int64_string(out, s.end_unix_nanos());
  out.push_back(',');
  key(out, "attributes");
  out.push_back('[');
  for (std::size_t i = 0, n = s.attribute_count(); i < n; ++i) {
    if (i) out.push_back(',');
    const AttributeView a = s.attribute(i);
    key_value(out, a.key, a.value);
  }
  out.push_back(']');
  if (s.dropped_attributes()) {
    out.push_back(',');
    key(out, "droppedAttributesCount");
    integer(out, s.dropped_attributes());
  }
  if (!s.events().empty()) {
    out.push_back(',');
    key(out, "events");
    out.push_back('[');
    bool first = true;
    for (const SpanEvent& e : s.events()) {
      if (!first) out.push_back(',');
      first = false;
      out.push_back('{');
      key(out, "timeUnixNano");
      int64_string(out, e.time.time_since_epoch().count());
      out.push_back(',');
      key(out, "name");
      detail::append_json_string(out, e.name);
      out.push_back(',');
      owned_attributes(out, e.attributes);
      out.push_back('}');
    }
    out.push_back(']');
  }
  if (s.dropped_events()) {
    out.push_back(',');
    key(out, "droppedEventsCount");
    integer(out, s.dropped_events());
  }
  if (!s.links().empty()) {
    out.push_back(',');
    key(out, "links");
    out.push_back('[');
    bool first = true;
    for (const SpanLink& l : s.links()) {
      if (!first) out.push_back(',');
      first = false;
      out.push_back('{');
      hex_field(out, "traceId", l.context.trace_id);
      out.push_back(',');
      hex_field(out, "spanId", l.context.span_id);
      if (!l.context.trace_state.empty()) {
        out.push_back(',');
        key(out, "traceState");
        detail::append_json_string(out, l.context.trace_state.header());
      }
      out.push_back(',');
      owned_attributes(out, l.attributes);
      out.push_back(',');
      key(out, "flags");
      integer(out, static_cast<std::uint32_t>(l.context.trace_flags | kHasIsRemote |
                                              (l.context.is_remote ? kIsRemote : 0)));
      out.push_back('}');
    }
    out.push_back(']');
  }
  if (s.dropped_links()) {
    out.push_back(',');
    key(out, "droppedLinksCount");
    integer(out, s.dropped_links());
  }
  out.push_back(',');
  key(out, "status");
  out.push_back('{');
  if (s.status_code() == StatusCode::kError && !s.status_message().empty()) {
    key(out, "message");
    detail::append_json_string(out, s.status_message());
    out.push_back(',');
  }
  key(out, "code");
  integer(out, static_cast<int>(s.status_code()));
  out.append("}}");
}

}  // namespace

namespace detail {

void encode_otlp_json(std::span<const SpanData> spans, const ResourceAttributes& resource,
                      LineBuffer& out) {
  out.clear();
  // A server span with a handful of attributes takes ≈ 450 bytes.
  out.reserve_more(1024 + spans.size() * 512);
  out.append("{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
  for (std::size_t i = 0; i < resource.size(); ++i) {
    if (i) out.push_back(',');
    key_value(out, resource[i].first, AttributeValue(resource[i].second));
  }
  out.append("]},\"scopeSpans\":[{\"scope\":{\"name\":\"firebreak\",\"version\":");
  append_json_string(out, kFirebreakVersion);
  out.append("},\"spans\":[");
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (i) out.push_back(',');
    encode_span(out, spans[i]);
  }
  out.append("]}]}]}");
}

}  // namespace detail

void encode_otlp_json(std::span<const SpanData> spans, const ResourceAttributes& resource,
                      std::string& out) {
  detail::LineBuffer buffer;
  detail::encode_otlp_json(spans, resource, buffer);
  out.assign(buffer.view());
}

}  // namespace firebreak
