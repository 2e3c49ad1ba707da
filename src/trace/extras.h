// Internal: what a recording span keeps on the heap, only when it needs it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "firebreak/trace.h"

namespace firebreak::detail {

struct SpanExtras {
  std::vector<Attribute> attributes;  // beyond the inline ones
  std::vector<std::string> strings;   // strings that did not fit inline
  std::vector<SpanEvent> events;
  std::vector<SpanLink> links;
  std::uint32_t dropped_events = 0;
  std::uint32_t dropped_links = 0;
};

}  // namespace firebreak::detail
