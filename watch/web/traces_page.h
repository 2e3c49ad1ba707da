// The status page's trace pages (status_page.h registers them), over the
// trace store that /v1/traces fills (traces/traces.h):
//
//   /traces        recent traces, newest or slowest first, filtered by
//                  service, route, errors and a minimum duration (the same
//                  parameters as GET /api/v1/traces)
//   /traces/<id>   one trace as a waterfall: every span on one time axis,
//                  indented under its parent, across services (API, queue,
//                  worker), with its attributes, events and status, and the
//                  trace's log correlation id (the `trace_id` of the kit's
//                  log lines)
//
// Server-rendered and complete without JavaScript: the bars are SVG
// rectangles (attributes, not inline style, so the page's CSP holds), span
// details are <details> elements. Span names, attributes and services come
// from whoever sends spans: all of it is escaped.
//
// Thread-safety: as the store's; the functions keep no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "firebreak/admin.h"
#include "watch/traces/traces.h"

namespace watch::web {

// What the trace pages need of the rest of the status page.
struct TracePageContext {
  const traces::Store* store = nullptr;  // nullptr: traces are off (traces.enabled: false)
  std::string version;
  std::int64_t now_ms = 0;
  std::size_t firing = 0;  // for the navigation's count
};

// GET /traces (400 on a bad filter, with the reason on the page).
firebreak::AdminResponse traces_page(const firebreak::AdminRequest& request,
                                     const TracePageContext& context);
// GET /traces/<id> (404 when the store does not hold it).
firebreak::AdminResponse trace_page(const firebreak::AdminRequest& request,
                                    const TracePageContext& context);

}  // namespace watch::web
