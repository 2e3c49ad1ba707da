// Fuzz target: the file_sd parser (watch/discovery/discovery.h), which reads
// target files that other tools generate.
//
// The first byte picks the format (even: JSON, odd: YAML); the rest is the
// file. Besides "no crash, no hang, no exception, no sanitizer report", it
// checks properties that hold for every input:
// - a rejected file gives no groups and a one-line error naming the file;
// - an accepted file's groups have sources "<path>:<index>" in order, the
//   label __meta_filepath=<path>, valid label names, and targets with a
//   non-empty __address__ and nothing else;
// - parsing is deterministic.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "watch/discovery/discovery.h"

namespace {

[[noreturn]] void violated(const char* property, std::string_view input) {
  std::fprintf(stderr, "property violated: %s\ninput (%zu bytes): %.*s\n", property, input.size(),
               static_cast<int>(input.size() > 2000 ? 2000 : input.size()), input.data());
  std::abort();
}

bool valid_label_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
          (i > 0 && c >= '0' && c <= '9')))
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace watch::discovery;
  if (size == 0 || size > 256 * 1024) return 0;
  const std::string_view path = data[0] % 2 == 0 ? "/etc/sd/targets.json" : "/etc/sd/targets.yml";
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const FileSdParse r = parse_file_sd(text, path);

  if (!r.ok()) {
    if (!r.groups.empty()) violated("groups with an error", text);
    if (r.error.rfind(std::string(path) + ": ", 0) != 0) violated("error without the path", text);
    if (r.error.size() <= path.size() + 2) violated("error without a message", text);
    if (r.error.find('\n') != std::string::npos) violated("error on more than one line", text);
    return 0;
  }
  for (std::size_t i = 0; i < r.groups.size(); ++i) {
    const TargetGroup& g = r.groups[i];
    if (g.source != std::string(path) + ":" + std::to_string(i)) violated("bad source", text);
    if (g.labels.get(kFilepathLabel) != path) violated("no __meta_filepath", text);
    for (const auto& l : g.labels)
      if (!valid_label_name(l.name) || l.value.empty()) violated("bad group label", text);
    for (const watch::LabelSet& t : g.targets)
      if (t.size() != 1 || t.get(kAddressLabel).empty()) violated("bad target", text);
  }
  if (parse_file_sd(text, path).groups != r.groups) violated("not deterministic", text);
  return 0;
}
