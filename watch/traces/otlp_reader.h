// Internal: the OTLP JSON reader behind Store::ingest(). It reads an
// ExportTraceServiceRequest with nlohmann's SAX parser straight into spans
// (no JSON tree: memory stays a small multiple of what is kept), checks each
// field's JSON type, and applies the value limits as it goes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "watch/traces/traces.h"

namespace watch::traces::detail {

struct ReadResult {
  std::string error;        // the request as a whole cannot be read ("" when it can)
  std::vector<Span> spans;  // the valid ones, each with its resource (not interned)
  std::size_t received = 0;
  std::size_t rejected = 0;          // invalid spans, not in `spans`
  std::vector<std::string> reasons;  // why, with the path, for the first kMaxReasons
  std::size_t values_truncated = 0;
  std::size_t attributes_dropped = 0, events_dropped = 0, links_dropped = 0;
};

inline constexpr std::size_t kMaxReasons = 3;

// Never throws on any input (std::bad_alloc aside).
ReadResult read_otlp_json(std::string_view body, const Limits& limits);

// "resourceSpans[0].scopeSpans[0].spans[2].traceId: ..., and 4 more" from
// the reasons and their count.
std::string join_reasons(const std::vector<std::string>& reasons, std::size_t count);

}  // namespace watch::traces::detail
