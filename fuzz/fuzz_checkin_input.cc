// Fuzz target: what jobs send to watch over HTTP: check-in paths
// (/ping/<job>/...?rid=), Pushgateway paths (/metrics/job/<job>/<l>/<v>) and
// pushed bodies (watch/checkin/). The input is split at the first two NUL
// bytes into a path, a query and a body.
//
// Besides "no crash, no hang, no sanitizer report": a refused ping or push
// says why; a push answers one of Pushgateway's statuses.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "firebreak/clock.h"
#include "watch/checkin/push_store.h"
#include "watch/checkin/tracker.h"

namespace {

[[noreturn]] void violated(const char* property) {
  std::fprintf(stderr, "property violated: %s\n", property);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto take = [&in] {
    const std::size_t nul = in.find('\0');
    const std::string_view part = in.substr(0, nul);
    in = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
    return part;
  };
  const std::string_view path = take();
  const std::string_view query = take();
  const std::string_view body = in;

  static firebreak::ManualClock clock;
  const auto ping = watch::checkin::parse_ping_path(path, query);
  if (!ping.ok() && ping.error().message.empty()) violated("a refused ping without a reason");

  static watch::checkin::PushStore store(clock, {.body_size_limit = 1 << 16, .max_groups = 64});
  const auto pushed = store.push(watch::checkin::PushMethod::kPut, path, body);
  if (!pushed.ok() && pushed.error.empty()) violated("a refused push without a reason");
  const int s = pushed.http_status;
  if (s != 200 && s != 202 && s != 400 && s != 413 && s != 415)
    violated("a push status Pushgateway does not answer");
  store.snapshot();
  if (store.group_count() > 64) violated("more groups than the limit");
  return 0;
}
