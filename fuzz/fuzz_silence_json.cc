// Fuzz target: the POST /api/v2/silences body reader of watch/silence
// (parse_postable_silence), which takes JSON from the network.
//
// Besides "no crash, no hang, no sanitizer report", it checks properties that
// hold for every input:
// - reading is deterministic;
// - a refused body has a message, status 400 or 422, and the body
//   Alertmanager would send: {"code":...} or a JSON string and "\n";
// - an accepted silence starts no later than it ends and does not end before
//   `now`; without an id, its matchers have valid label names;
// - Silences::set() takes it as a new silence (the id dropped), or refuses
//   it with "silence invalid: ..." only when it came with an id (whose
//   matcher checks wait for set()); printed as a gettableSilence, a stored
//   silence reads back to itself.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "firebreak/clock.h"
#include "watch/silence/silence.h"

namespace {

using watch::silence::ParseResult;
using watch::silence::Silence;

// 2026-01-01T00:00:00Z, ManualClock's default start.
constexpr std::int64_t kNowMs = 1'767'225'600'000;

[[noreturn]] void violated(const char* property, std::string_view input) {
  std::fprintf(stderr, "property violated: %s\ninput (%zu bytes): %.*s\n", property, input.size(),
               static_cast<int>(input.size() > 2000 ? 2000 : input.size()), input.data());
  std::abort();
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (const char c : name) {
    const bool word =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!word) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const ParseResult r = watch::silence::parse_postable_silence(input, kNowMs);
  const ParseResult again = watch::silence::parse_postable_silence(input, kNowMs);
  if (r.ok() != again.ok() || r.error != again.error || r.silence != again.silence) {
    violated("not deterministic", input);
  }

  if (!r.ok()) {
    if (r.http_status != 400 && r.http_status != 422) violated("refused without 400/422", input);
    const std::string_view body = r.error_body;
    const bool openapi = body.starts_with("{\"code\":") && body.ends_with("}");
    const bool handler = body.starts_with("\"") && body.ends_with("\"\n");
    if (!openapi && !handler) violated("error body of no known shape", input);
    return 0;
  }

  const Silence& s = r.silence;
  if (s.matchers.empty()) violated("accepted without matchers", input);
  if (s.starts_at_ms > s.ends_at_ms) violated("accepted a start after the end", input);
  if (s.ends_at_ms < kNowMs) violated("accepted an end in the past", input);
  if (s.id.empty()) {
    for (const auto& m : s.matchers) {
      if (!valid_label_name(m.name)) violated("accepted an invalid label name", input);
    }
  }

  firebreak::ManualClock clock;
  watch::silence::Silences silences(
      {.clock = &clock, .max_matchers = 1u << 20, .max_silence_bytes = 1u << 30});
  Silence fresh = s;
  fresh.id.clear();
  const auto set = silences.set(fresh);
  if (!set.ok()) {
    if (s.id.empty() || !set.error.starts_with("silence invalid: ")) {
      violated("set() refused an accepted silence", input);
    }
    return 0;
  }
  const Silence stored = *silences.get(set.id);
  (void)silences.mutes(watch::LabelSet::from({{"alertname", "x"}}));

  // Printed and read back (unless the start and the end became the same
  // millisecond, which the handler refuses).
  if (stored.starts_at_ms < stored.ends_at_ms) {
    const std::string json = watch::silence::to_json(stored, kNowMs);
    const ParseResult back = watch::silence::parse_postable_silence(json, kNowMs);
    if (!back.ok()) violated("gettableSilence not readable back", input);
    if (back.silence.matchers != stored.matchers || back.silence.comment != stored.comment ||
        back.silence.created_by != stored.created_by ||
        back.silence.starts_at_ms != stored.starts_at_ms ||
        back.silence.ends_at_ms != stored.ends_at_ms || back.silence.id != stored.id) {
      violated("gettableSilence read back differs", input);
    }
  }
  return 0;
}
