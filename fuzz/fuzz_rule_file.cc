// Fuzz target: the Prometheus rule-file parser (watch/rules/rule_file.h),
// which reads user rule files and the generated pack.
//
// Besides "no crash, no hang, no sanitizer report": a rejected file names at
// least one error with a message; an accepted one has groups whose rules all
// have a name and an expression.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "watch/rules/rule_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const watch::rules::LoadResult r = watch::rules::parse_rule_file(text, "fuzz.yml");
  for (const auto& e : r.errors)
    if (e.message.empty()) {
      std::fprintf(stderr, "an error without a message\n");
      std::abort();
    }
  if (r.ok())
    for (const auto& g : r.file.groups)
      for (const auto& rule : g.rules)
        if (rule.name.empty() || rule.expr.empty()) {
          std::fprintf(stderr, "an accepted rule without a name or expression\n");
          std::abort();
        }
  return 0;
}
