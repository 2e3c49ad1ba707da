// Fuzz target: content negotiation on a scraper's Accept header and a client's
// Accept-Encoding header (exposition.h). Both come straight off the network.
//
// Besides "no crash, no hang, no sanitizer report", it checks two properties
// that hold for every input:
// - OpenMetrics is chosen only when the header names application/openmetrics-text;
// - gzip is accepted only when the header names gzip (or x-gzip) or "*".
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "firebreak/exposition.h"

namespace {

bool contains_ignoring_case(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    std::size_t j = 0;
    while (j < needle.size()) {
      char c = haystack[i + j];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != needle[j]) break;
      ++j;
    }
    if (j == needle.size()) return true;
  }
  return false;
}

[[noreturn]] void violated(const char* property, std::string_view input) {
  std::fprintf(stderr, "property violated: %s\ninput (%zu bytes): %.*s\n", property, input.size(),
               static_cast<int>(input.size()), input.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view header(reinterpret_cast<const char*>(data), size);

  const firebreak::ExpositionFormat format = firebreak::negotiate_format(header);
  if (format != firebreak::ExpositionFormat::kPrometheusText &&
      format != firebreak::ExpositionFormat::kOpenMetrics)
    violated("negotiate_format returned no known format", header);
  if (format == firebreak::ExpositionFormat::kOpenMetrics &&
      !contains_ignoring_case(header, "application/openmetrics-text"))
    violated("OpenMetrics chosen though the header does not ask for it", header);
  if (firebreak::content_type(format).empty()) violated("empty Content-Type", header);

  const bool gzip = firebreak::accepts_gzip(header);
  if (gzip && !contains_ignoring_case(header, "gzip") && header.find('*') == std::string_view::npos)
    violated("gzip accepted though the header names neither gzip nor *", header);

  // The same bytes as a header value copied into an owning string (as an HTTP
  // library hands it over) must give the same answers.
  const std::string copy(header);
  if (firebreak::negotiate_format(copy) != format || firebreak::accepts_gzip(copy) != gzip)
    violated("answers differ for the same bytes", header);
  return 0;
}
