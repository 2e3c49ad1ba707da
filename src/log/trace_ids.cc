#include "log/trace_ids.h"

namespace firebreak::detail {

// Until the trace module is linked in, no span is ever current.
__attribute__((weak)) bool current_trace_ids(TraceIdsHex&) noexcept {
  return false;
}

}  // namespace firebreak::detail
