#include "firebreak/metrics.h"

namespace firebreak {
namespace {

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

bool is_valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (is_alpha(c) || c == '_' || c == ':' || (i > 0 && is_digit(c))) continue;
    return false;
  }
  return true;
}

bool is_valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (is_alpha(c) || c == '_' || (i > 0 && is_digit(c))) continue;
    return false;
  }
  return true;
}

}  // namespace firebreak
