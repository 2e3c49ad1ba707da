// Exposition: writes a scrape (Registry::collect()) in the Prometheus text
// format 0.0.4 or OpenMetrics 1.0 text, chosen from a scraper's Accept header.
//
//   auto format = firebreak::negotiate_format(request_accept_header);
//   std::string body;
//   firebreak::write_exposition(registry.collect(), format, body);
//   response.set("Content-Type", firebreak::content_type(format));
//
// Output is stable: families sorted by name, series by label values. Label
// values and HELP are escaped as each format requires. Pure functions,
// thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "firebreak/metrics.h"

namespace firebreak {

enum class ExpositionFormat { kPrometheusText, kOpenMetrics };

// Picks the format from an HTTP Accept header, honouring q-values: OpenMetrics
// when the scraper prefers application/openmetrics-text, else the text format
// (also for an empty, malformed or unsatisfiable header).
ExpositionFormat negotiate_format(std::string_view accept);

// The Content-Type for a format, with version and charset.
std::string_view content_type(ExpositionFormat format);

// Appends the families to `out`. OpenMetrics output ends with "# EOF".
void write_exposition(const std::vector<FamilySnapshot>& families, ExpositionFormat format,
                      std::string& out);

// True when an Accept-Encoding header accepts gzip (q > 0).
bool accepts_gzip(std::string_view accept_encoding);

// Compresses with gzip framing (RFC 1952).
std::string gzip_compress(std::string_view data);

}  // namespace firebreak
