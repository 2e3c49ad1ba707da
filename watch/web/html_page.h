// What every page of watch's status page shares (status_page.h,
// traces_page.h): the frame (head, navigation, footer), escaping, and how
// times, durations and numbers are written. No inline script or style: a
// page loads only watch's own files, and html_response() sends the
// Content-Security-Policy that enforces it.
//
//   watch::web::Page page("traces", "Traces", version, now_ms, firing);
//   page.out() += "<p>";
//   watch::web::esc(page.out(), untrusted);
//   return watch::web::html_response(page.finish());
//
// Thread-safety: pure functions; a Page is used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "firebreak/admin.h"

namespace watch::web {

using Out = std::string;

// Appends `text` escaped for HTML element content and quoted attributes.
void esc(Out& out, std::string_view text);

// "2026-12-07 18:20:09 UTC"; "never" for ms <= 0.
std::string utc(std::int64_t ms);
// A length of time: "3m 12s", "2h 5m", "4d 3h".
std::string span_text(std::int64_t ms);
// A <time> saying "3m 12s ago" or "in 5m 0s", with the UTC time as its title.
void when(Out& out, std::int64_t ms, std::int64_t now);
// A value in a few significant digits ("0.125", "1.2e+07", "NaN").
std::string number(double v);
// Seconds as people read them: "250 ms", "1.5 s".
std::string seconds_text(double s);

// A page's frame. The constructor writes the head, the navigation (with the
// number of firing alerts) and the title; finish() closes the page.
class Page {
 public:
  // `name` marks the current navigation entry ("overview", "alerts", ...).
  Page(std::string_view name, std::string_view title, std::string_view version, std::int64_t now,
       std::size_t firing);

  Out& out() { return out_; }
  std::int64_t now() const { return now_; }
  std::string finish();

 private:
  Out out_;
  std::int64_t now_;
  std::string version_;
};

// A page as the HTTP answer, with the security headers every page carries.
firebreak::AdminResponse html_response(std::string body, int status = 200);

}  // namespace watch::web
