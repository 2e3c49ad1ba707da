// Internal: constants shared by the OTLP encoder and the resource set-up.
#pragma once

#include <string_view>

namespace firebreak::detail {

// The instrumentation scope's and telemetry.sdk.version's version.
inline constexpr std::string_view kFirebreakVersion = "0.1.0";

}  // namespace firebreak::detail
