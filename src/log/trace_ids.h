// Internal: the seam between logs and traces. A log line carries the ids of
// the span current on its thread; the trace module answers.
#pragma once

namespace firebreak::detail {

struct TraceIdsHex {
  char trace_id[32];
  char span_id[16];
  char flags[2];
};

// Fills `out` with the current span's ids in lowercase hex; false when no span
// is current on this thread.
bool current_trace_ids(TraceIdsHex& out) noexcept;

}  // namespace firebreak::detail
