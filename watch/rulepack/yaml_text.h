// Writing YAML text by hand (the rule pack and prometheus.yml are generated
// as text, so their layout and comments are ours). Internal to the module.
#pragma once

#include <string>
#include <string_view>

namespace watch::rulepack {

// `s` as a YAML single-quoted scalar: 'it''s' for it's. Any text is safe in
// one, newlines included (they fold, which the pack never writes in values).
inline std::string yaml_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace watch::rulepack
