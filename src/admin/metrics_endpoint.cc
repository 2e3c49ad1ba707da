// /metrics: one scrape of the registry, in the format the scraper asked for.
#include <string>

#include "admin/endpoints.h"
#include "firebreak/exposition.h"

namespace firebreak::detail {

AdminHandler metrics_endpoint(const Registry& registry) {
  return [&registry](const AdminRequest& request) {
    const ExpositionFormat format = negotiate_format(request.header("Accept"));
    AdminResponse res;
    res.content_type = std::string(content_type(format));
    write_exposition(registry.collect(), format, res.body);
    res.headers.emplace_back("Vary", "Accept, Accept-Encoding");
    if (accepts_gzip(request.header("Accept-Encoding"))) {
      res.body = gzip_compress(res.body);
      res.headers.emplace_back("Content-Encoding", "gzip");
    }
    return res;
  };
}

}  // namespace firebreak::detail
