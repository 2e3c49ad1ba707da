#include "watch/web/traces_page.h"

#include <fmt/format.h>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <algorithm>
#include <string>
#include <utility>

#include "watch/web/html_page.h"
#include "watch/web/traces_api.h"

namespace watch::web {

namespace {

using firebreak::AdminRequest;
using firebreak::AdminResponse;

constexpr std::string_view kPagePrefix = "/traces/";
// Deeper spans are drawn at this indentation (status.css has depth-0..12).
constexpr std::size_t kMaxIndent = 12;
// The waterfall's bars are drawn in an SVG of this width, scaled to the cell.
constexpr double kAxis = 1000;

std::string nanos_text(std::int64_t nanos) {
  const double ms = static_cast<double>(nanos) / 1e6;
  if (ms < 1) return fmt::format("{:.0f} µs", ms * 1000);
  if (ms < 1000) return fmt::format("{:.3g} ms", ms);
  return seconds_text(ms / 1000);
}

std::string bytes_text(std::size_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b < (1 << 20)) return fmt::format("{:.0f} KiB", b / 1024);
  return fmt::format("{:.1f} MiB", b / (1 << 20));
}

std::string value_text(const traces::Value& v) {
  using T = traces::Value::Type;
  switch (v.type) {
    case T::kEmpty:
      return "(empty)";
    case T::kBool:
      return v.bool_value ? "true" : "false";
    case T::kInt:
      return std::to_string(v.int_value);
    case T::kDouble:
      return number(v.double_value);
    default:
      return v.truncated ? v.text + "…" : v.text;
  }
}

void attributes_list(Out& out, const std::vector<traces::Attribute>& attributes) {
  if (attributes.empty()) return;
  out += "<dl class=\"attributes\">";
  for (const traces::Attribute& a : attributes) {
    out += "<dt>";
    esc(out, a.key);
    out += "</dt><dd><code>";
    esc(out, value_text(a.value));
    out += "</code></dd>";
  }
  out += "</dl>";
}

// A link to the list with one filter changed (the others kept).
std::string list_url(const traces::Query& q, std::string_view key, std::string_view value) {
  std::string url = "/traces?";
  auto add = [&](std::string_view k, std::string_view v) {
    if (v.empty()) return;
    if (url.back() != '?') url += '&';
    url += k;
    url += '=';
    url += boost::urls::encode(v, boost::urls::unreserved_chars);
  };
  add("service", key == "service" ? value : q.service);
  add("route", key == "route" ? value : q.route);
  const bool errors = key == "error" ? value == "true" : q.errors_only;
  add("error", errors ? "true" : "");
  const bool slowest = key == "order" ? value == "duration" : q.order == traces::Order::kDuration;
  add("order", slowest ? "duration" : "");
  if (url.back() == '?') url.pop_back();
  return url;
}

void option(Out& out, std::string_view value, std::string_view label, bool selected) {
  out += "<option value=\"";
  esc(out, value);
  out += selected ? "\" selected>" : "\">";
  esc(out, label);
  out += "</option>";
}

void filters(Out& out, const traces::Store& store, const traces::Query& q,
             const AdminRequest& request) {
  out +=
      "<form class=\"filters\" method=\"get\" action=\"/traces\"><label>service <select "
      "name=\"service\">";
  option(out, "", "any", q.service.empty());
  for (const std::string& s : store.services()) option(out, s, s, s == q.service);
  out += "</select></label> <label>route <select name=\"route\">";
  option(out, "", "any", q.route.empty());
  for (const std::string& r : store.routes()) option(out, r, r, r == q.route);
  out += "</select></label> <label><input type=\"checkbox\" name=\"error\" value=\"true\"";
  if (q.errors_only) out += " checked";
  out +=
      "> errors only</label> <label>at least <input name=\"min_duration\" size=\"6\" "
      "placeholder=\"250ms\" value=\"";
  esc(out, request.query_value("min_duration").value_or(""));
  out += "\"></label> <label>order <select name=\"order\">";
  option(out, "start", "newest first", q.order == traces::Order::kStart);
  option(out, "duration", "slowest first", q.order == traces::Order::kDuration);
  out += "</select></label> <button>Show</button></form>";
}

void summary_row(Out& out, const traces::TraceSummary& t, std::int64_t now_ms) {
  const std::string id = t.trace_id.to_hex();
  out += t.error ? "<tr class=\"over\"><td>" : "<tr><td>";
  when(out, t.start_unix_nano / 1'000'000, now_ms);
  out += "</td><td><a href=\"/traces/";
  out += id;
  out += "\">";
  esc(out, t.root_service);
  out += ": ";
  esc(out, t.root_name.empty() ? "(unnamed)" : t.root_name);
  out += "</a>";
  if (!t.has_root) out += " <span class=\"badge\">root not received</span>";
  if (t.error) out += " <span class=\"badge failed\">error</span>";
  out += "</td><td>";
  esc(out, t.route);
  out += "</td><td class=\"num\">";
  out += nanos_text(t.duration_nanos());
  out += "</td><td class=\"num\">";
  out += std::to_string(t.span_count);
  out += "</td><td>";
  for (std::size_t i = 0; i < t.services.size(); ++i) {
    if (i) out += ", ";
    esc(out, t.services[i]);
  }
  out += "</td></tr>";
}

void traces_off(Page& page) {
  page.out() +=
      "<p class=\"empty\">Traces are off in this watch (<code>traces: {enabled: false}</code> in "
      "its configuration).</p>";
}

}  // namespace

AdminResponse traces_page(const AdminRequest& request, const TracePageContext& context) {
  Page page("traces", "Traces", context.version, context.now_ms, context.firing);
  Out& out = page.out();
  if (!context.store) {
    traces_off(page);
    return html_response(page.finish());
  }
  const traces::Store& store = *context.store;
  std::string error;
  const auto query = parse_traces_query(request, &error);
  if (!query) {
    out += "<p class=\"error\">";
    esc(out, error);
    out += "</p><p><a href=\"/traces\">All traces</a></p>";
    return html_response(page.finish(), 400);
  }
  const traces::StoreStats stats = store.stats();
  out += fmt::format(
      "<p class=\"state\">{} traces held ({} spans, {} of {}); the oldest go first. "
      "<a href=\"{}\">Newest</a> · <a href=\"{}\">Slowest</a> · <a href=\"{}\">Errors</a></p>",
      stats.traces, stats.spans, bytes_text(stats.bytes), bytes_text(store.limits().max_bytes),
      "/traces", list_url({}, "order", "duration"), list_url({}, "error", "true"));
  filters(out, store, *query, request);
  const auto found = store.find(*query);
  if (found.empty()) {
    out += stats.traces == 0
               ? "<p class=\"empty\">No traces yet. Services send them here as to an "
                 "OpenTelemetry Collector: <code>OTEL_EXPORTER_OTLP_ENDPOINT=http://&lt;this "
                 "address&gt;</code> (OTLP/HTTP JSON).</p>"
               : "<p class=\"empty\">No trace matches.</p>";
    return html_response(page.finish());
  }
  out +=
      "<table class=\"traces\"><thead><tr><th>started</th><th>trace (root span)</th><th>route</th>"
      "<th>duration</th><th>spans</th><th>services</th></tr></thead><tbody>";
  for (const traces::TraceSummary& t : found) summary_row(out, t, context.now_ms);
  out += "</tbody></table>";
  return html_response(page.finish());
}

AdminResponse trace_page(const AdminRequest& request, const TracePageContext& context) {
  const std::string_view text = std::string_view(request.path).substr(kPagePrefix.size());
  const auto id = parse_trace_id(text);
  std::optional<traces::TraceView> view;
  if (id && context.store) view = context.store->get(*id);
  Page page("traces", view ? "Trace " + view->summary.root_name : "Trace", context.version,
            context.now_ms, context.firing);
  Out& out = page.out();
  if (!context.store) {
    traces_off(page);
    return html_response(page.finish(), 404);
  }
  if (!view) {
    out += "<p class=\"error\">";
    if (!id) {
      out += "Not a trace id: want 32 hex digits, not all zero.";
    } else {
      out += "Trace ";
      out += id->to_hex();
      out += " is not held: never received, or dropped to make room for newer ones.";
    }
    out += "</p><p><a href=\"/traces\">Recent traces</a></p>";
    return html_response(page.finish(), 404);
  }
  const traces::TraceSummary& s = view->summary;
  const std::int64_t start = s.start_unix_nano;
  const double total = static_cast<double>(std::max<std::int64_t>(s.duration_nanos(), 1));
  out += "<dl class=\"facts\"><dt>trace id</dt><dd><code>";
  out += s.trace_id.to_hex();
  const std::string correlation = traces::log_correlation_id(s.trace_id);
  out += "</code></dd><dt>logs</dt><dd>the kit's log lines of this trace carry <code>";
  esc(out, "\"trace_id\":\"" + correlation + "\"");
  out += "</code>: <code>";
  esc(out, "jq 'select(.trace_id == \"" + correlation + "\")' service.log");
  out += "</code></dd><dt>started</dt><dd>";
  when(out, start / 1'000'000, context.now_ms);
  out += "</dd><dt>duration</dt><dd>";
  out += nanos_text(s.duration_nanos());
  out += "</dd><dt>route</dt><dd>";
  esc(out, s.route.empty() ? "–" : s.route);
  out += "</dd><dt>services</dt><dd>";
  for (std::size_t i = 0; i < s.services.size(); ++i) {
    if (i) out += ", ";
    out += "<a href=\"";
    esc(out, list_url({}, "service", s.services[i]));
    out += "\">";
    esc(out, s.services[i]);
    out += "</a>";
  }
  out += fmt::format("</dd><dt>spans</dt><dd>{}{}</dd></dl>", s.span_count,
                     s.error ? " <span class=\"badge failed\">error</span>" : "");
  out +=
      "<table class=\"waterfall\"><thead><tr><th>service</th><th>span</th><th>kind</th>"
      "<th>duration</th><th class=\"timeline\">timeline</th></tr></thead><tbody>";
  for (const traces::SpanNode& node : view->spans) {
    const traces::Span& span = node.span;
    const double x = static_cast<double>(span.start_unix_nano - start) / total * kAxis;
    const double w = std::max(static_cast<double>(span.duration_nanos()) / total * kAxis, 2.0);
    out += span.failed() ? "<tr class=\"over\"><td>" : "<tr><td>";
    esc(out, span.service());
    out += fmt::format("</td><td class=\"depth-{}\"><details><summary>",
                       std::min(node.depth, kMaxIndent));
    esc(out, span.name.empty() ? "(unnamed)" : span.name);
    if (node.parent_missing) out += " <span class=\"badge\">parent not received</span>";
    out += "</summary><dl><dt>span id</dt><dd><code>";
    out += span.span_id.to_hex();
    out += "</code></dd><dt>starts at</dt><dd>+";
    out += nanos_text(span.start_unix_nano - start);
    out += "</dd><dt>status</dt><dd>";
    esc(out, firebreak::to_string(span.status));
    if (!span.status_message.empty()) {
      out += ": ";
      esc(out, span.status_message);
    }
    out += "</dd>";
    if (!span.scope.empty()) {
      out += "<dt>scope</dt><dd>";
      esc(out, span.scope);
      out += "</dd>";
    }
    out += "</dl>";
    attributes_list(out, span.attributes);
    for (const traces::Event& e : span.events) {
      out += "<p class=\"event\">event <b>";
      esc(out, e.name);
      out += "</b> at +";
      out += nanos_text(e.time_unix_nano - start);
      out += "</p>";
      attributes_list(out, e.attributes);
    }
    if (span.dropped_attributes || span.dropped_events || span.dropped_links)
      out += fmt::format("<p class=\"state\">dropped: {} attributes, {} events, {} links</p>",
                         span.dropped_attributes, span.dropped_events, span.dropped_links);
    out += "</details></td><td>";
    esc(out, firebreak::to_string(span.kind));
    out += "</td><td class=\"num\">";
    out += nanos_text(span.duration_nanos());
    out += fmt::format(
        "</td><td class=\"timeline\"><svg class=\"bar\" viewBox=\"0 0 {0:.0f} 12\" "
        "preserveAspectRatio=\"none\" role=\"img\" aria-label=\"+{1} for {2}\"><rect x=\"{3:.1f}\" "
        "y=\"1\" width=\"{4:.1f}\" height=\"10\" class=\"{5}\"/>",
        kAxis, nanos_text(span.start_unix_nano - start), nanos_text(span.duration_nanos()), x, w,
        span.failed() ? "failed" : "ok");
    for (const traces::Event& e : span.events) {
      const double ex = static_cast<double>(e.time_unix_nano - start) / total * kAxis;
      out += fmt::format("<rect x=\"{:.1f}\" y=\"0\" width=\"2\" height=\"12\" class=\"event\"/>",
                         std::clamp(ex, 0.0, kAxis - 2));
    }
    out += "</svg></td></tr>";
  }
  out += "</tbody></table>";
  return html_response(page.finish());
}

}  // namespace watch::web
