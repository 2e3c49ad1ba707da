// Internal: the built-in admin endpoints, as plain handlers (no Beast here).
#pragma once

#include <string_view>

#include "firebreak/admin.h"
#include "firebreak/health.h"
#include "firebreak/metrics.h"
#include "util/json_write.h"  // append_json_string, shared with the logger

namespace firebreak::detail {

// /livez, /readyz, /healthz: `endpoint` ("livez", "readyz", "healthz") names
// the summary line of the verbose form.
AdminHandler health_endpoint(const Health& health, CheckKind kind, std::string_view endpoint);

// The body of a health endpoint, from a report (exposed for tests).
AdminResponse render_health(const HealthReport& report, std::string_view endpoint,
                            const AdminRequest& request);

// /metrics.
AdminHandler metrics_endpoint(const Registry& registry);

}  // namespace firebreak::detail
