// Internal: the OTLP encoder's buffer form and the constants it shares with
// the resource set-up.
#pragma once

#include <span>
#include <string_view>

#include "firebreak/trace.h"
#include "util/line_buffer.h"

namespace firebreak::detail {

// The instrumentation scope's and telemetry.sdk.version's version.
inline constexpr std::string_view kFirebreakVersion = "0.1.0";

// encode_otlp_json() (trace.h) into a reusable buffer, which it replaces the
// contents of: nothing is zero-filled, so an exporter's buffer costs only
// what is written into it, batch after batch.
void encode_otlp_json(std::span<const SpanData> spans, const ResourceAttributes& resource,
                      LineBuffer& out);

}  // namespace firebreak::detail
