// Fuzz target: the parameters of watch's Prometheus API (watch/web/params.h):
// form bodies, times (Unix seconds or RFC 3339), durations, and match[]
// series selectors.
//
// Besides "no crash, no hang, no sanitizer report": parsing a form never
// yields more pairs than '&'-separated parts; an accepted time or duration
// is within the range the API allows.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "watch/promql/parser.h"
#include "watch/web/params.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto form = watch::web::parse_form(text);
  if (form.size() > static_cast<std::size_t>(std::count(text.begin(), text.end(), '&')) + 1) {
    std::fprintf(stderr, "more pairs than parts\n");
    std::abort();
  }
  if (const auto t = watch::web::parse_time_ms(text);
      t && (*t > 9'000'000'000'000'000 || *t < -9'000'000'000'000'000)) {
    std::fprintf(stderr, "time out of range\n");
    std::abort();
  }
  if (const auto d = watch::web::parse_duration_ms(text); d && *d < 0) {
    std::fprintf(stderr, "negative duration\n");
    std::abort();
  }
  (void)watch::promql::parse_selector(text);
  return 0;
}
