#include "watch/web/html_page.h"

#include <fmt/format.h>

#include <cmath>
#include <ctime>
#include <utility>

namespace watch::web {

namespace {

// No inline script or style anywhere: the page's own files only.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

}  // namespace

void esc(Out& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
}

std::string utc(std::int64_t ms) {
  if (ms <= 0) return "never";
  const std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// "3m 12s", "2h 5m", "4d 3h".
std::string span_text(std::int64_t ms) {
  if (ms < 0) ms = -ms;
  std::int64_t s = ms / 1000;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m {}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h {}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d {}h", s / 86400, s % 86400 / 3600);
}

// <time> with the absolute time as its title.
void when(Out& out, std::int64_t ms, std::int64_t now) {
  if (ms <= 0) {
    out += "never";
    return;
  }
  out += "<time title=\"";
  out += utc(ms);
  out += "\">";
  out += ms <= now ? span_text(now - ms) + " ago" : "in " + span_text(ms - now);
  out += "</time>";
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  const double a = std::fabs(v);
  if (a != 0 && (a >= 1e6 || a < 1e-3)) return fmt::format("{:.3g}", v);
  if (a >= 100) return fmt::format("{:.0f}", v);
  return fmt::format("{:.3g}", v);
}

std::string seconds_text(double s) {
  if (std::isnan(s)) return "–";
  if (s < 1) return fmt::format("{:.0f} ms", s * 1000);
  return number(s) + " s";
}

Page::Page(std::string_view name, std::string_view title, std::string_view version,
           std::int64_t now, std::size_t firing)
    : now_(now), version_(version) {
  out_.reserve(64 * 1024);
  out_ +=
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>";
  esc(out_, title);
  out_ +=
      " · firebreak watch</title>"
      "<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">"
      "<link rel=\"stylesheet\" href=\"/static/uPlot.min.css\">"
      "<link rel=\"stylesheet\" href=\"/static/status.css\">"
      "<script src=\"/static/uPlot.iife.min.js\" defer></script>"
      "<script src=\"/static/status.js\" defer></script>"
      "</head><body data-page=\"";
  out_ += name;
  out_ += "\" data-now=\"";
  out_ += std::to_string(now);
  out_ += "\"><header><a class=\"brand\" href=\"/\">firebreak watch</a><nav>";
  for (auto [path, label] : {std::pair{"/", "Overview"},
                             {"/alerts", "Alerts"},
                             {"/targets", "Targets"},
                             {"/rules", "Rules"},
                             {"/jobs", "Jobs"},
                             {"/query", "Query"},
                             {"/traces", "Traces"}}) {
    out_ += "<a href=\"";
    out_ += path;
    out_ += "\"";
    if (std::string_view(path).substr(1) == name || (name == "overview" && path[1] == 0))
      out_ += " aria-current=\"page\"";
    out_ += ">";
    out_ += label;
    if (std::string_view(path) == "/alerts" && firing > 0)
      out_ += fmt::format(" <span class=\"count\">{}</span>", firing);
    out_ += "</a>";
  }
  out_ += "</nav><span class=\"asof\">as of ";
  out_ += utc(now);
  out_ += "</span></header><main><h1>";
  esc(out_, title);
  out_ += "</h1>";
}

std::string Page::finish() {
  out_ += "</main><footer>firebreak watch ";
  esc(out_, version_);
  out_ += " · <a href=\"/api/v1/alerts\">JSON</a></footer></body></html>\n";
  return std::move(out_);
}

firebreak::AdminResponse html_response(std::string body, int status) {
  return {.status = status,
          .content_type = "text/html; charset=utf-8",
          .headers = {{"Content-Security-Policy", kContentSecurityPolicy},
                      {"X-Content-Type-Options", "nosniff"},
                      {"Referrer-Policy", "no-referrer"},
                      {"Cache-Control", "no-store"}},
          .body = std::move(body)};
}

}  // namespace watch::web
