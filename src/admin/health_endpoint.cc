// /livez, /readyz, /healthz: read the cached health state, never run a check.
#include <chrono>
#include <cstdio>
#include <string>

#include "admin/endpoints.h"

namespace firebreak::detail {

namespace {

// One line of text: control characters (a reason may hold a stack trace or a
// newline) are written as escapes so that a check is always one line.
void append_line_safe(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
}

void render_text(const HealthReport& report, std::string_view endpoint, std::string& out) {
  for (const CheckStatus& c : report.checks) {
    out += c.ok ? "[+]" : "[-]";
    append_line_safe(out, c.name);
    if (c.ok) {
      out += " ok\n";
    } else if (c.reason.empty()) {
      out += " failed\n";
    } else {
      out += " failed: ";
      append_line_safe(out, c.reason);
      out += '\n';
    }
  }
  out += endpoint;
  out += report.ok ? " check passed\n" : " check failed\n";
}

void render_json(const HealthReport& report, std::string& out) {
  out += "{\"status\":";
  out += report.ok ? "\"ok\"" : "\"failed\"";
  out += ",\"checks\":[";
  bool first = true;
  for (const CheckStatus& c : report.checks) {
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    append_json_string(out, c.name);
    out += ",\"kind\":";
    append_json_string(out, to_string(c.kind));
    out += ",\"ok\":";
    out += c.ok ? "true" : "false";
    out += ",\"reason\":";
    append_json_string(out, c.reason);
    char num[32];
    std::snprintf(num, sizeof num, "%.6f", std::chrono::duration<double>(c.duration).count());
    out += ",\"duration_seconds\":";
    out += num;
    out += ",\"last_run\":";
    if (c.last_run) {
      out += '"';
      append_rfc3339_micros(
          out, std::chrono::duration_cast<std::chrono::microseconds>(c.last_run->time_since_epoch())
                   .count());
      out += '"';
    } else
      out += "null";
    out += '}';
  }
  out += "]}\n";
}

}  // namespace

AdminResponse render_health(const HealthReport& report, std::string_view endpoint,
                            const AdminRequest& request) {
  AdminResponse res;
  res.status = report.ok ? 200 : 503;
  res.headers.emplace_back("Cache-Control", "no-store");
  if (request.query_value("format") == std::optional<std::string_view>("json")) {
    res.content_type = "application/json";
    render_json(report, res.body);
  } else if (request.has_query("verbose")) {
    render_text(report, endpoint, res.body);
  } else {
    res.body = report.ok ? "ok" : "failed";
  }
  return res;
}

AdminHandler health_endpoint(const Health& health, CheckKind kind, std::string_view endpoint) {
  return [&health, kind, endpoint = std::string(endpoint)](const AdminRequest& request) {
    return render_health(health.report(kind), endpoint, request);
  };
}

}  // namespace firebreak::detail
