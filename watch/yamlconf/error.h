// A problem found while reading a YAML configuration: where (line, column,
// key path) and what. Plain data; see reader.h.
#pragma once

#include <string>

namespace watch::yamlconf {

struct Error {
  int line = 0;  // 1-based; 0 when not about one place
  int column = 0;
  std::string key;  // e.g. "route.routes[0].group_wait"; "" for the whole document
  std::string message;

  // "12:9: route.routes[0].group_wait: not a valid duration string: \"5x\"".
  std::string to_string() const;
};

}  // namespace watch::yamlconf
