// Internal to watch/web: the status page's static files (its CSS and script,
// uPlot's), embedded in the binary at build time by cmake/embed_files.cmake.
#pragma once

#include <string_view>
#include <vector>

namespace watch::web {

struct EmbeddedFile {
  std::string_view name;   // "status.js"
  std::string_view bytes;  // the file as it was at build time
};

const std::vector<EmbeddedFile>& embedded_files();

}  // namespace watch::web
