// Fuzz target: the cron and period parsers of job schedules
// (watch/checkin/schedule.h), which read user configuration.
//
// Besides "no crash, no hang, no sanitizer report", it checks properties that
// hold for every input:
// - a rejected expression gives a non-empty message, with a column inside the
//   input when it names one;
// - for an accepted expression, next_after(t) is after t, and
//   previous_at_or_before(next) is next (in UTC and in a zone with DST);
// - every accepted cron expression has a next run (impossible days are refused).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "watch/checkin/schedule.h"

namespace {

using watch::checkin::Schedule;
using watch::checkin::WallTime;

[[noreturn]] void violated(const char* property, std::string_view input) {
  std::fprintf(stderr, "property violated: %s\ninput (%zu bytes): %.*s\n", property, input.size(),
               static_cast<int>(input.size() > 2000 ? 2000 : input.size()), input.data());
  std::abort();
}

void check(std::string_view text, std::string_view zone, WallTime t) {
  const auto r = Schedule::parse(text, zone);
  if (!r.ok()) {
    if (r.error().message.empty()) violated("error without a message", text);
    if (r.error().column > text.size() + 1) violated("error column past the end", text);
    return;
  }
  const Schedule& s = r.value();
  const auto next = s.next_after(t);
  if (!next) violated("accepted schedule without a next run", text);
  if (*next <= t) violated("next run not after t", text);
  const auto again = s.previous_at_or_before(*next);
  if (!again || *again != *next) violated("previous_at_or_before(next) != next", text);
  const auto prev = s.previous_at_or_before(t);
  if (prev && *prev > t) violated("previous run after t", text);
  if (prev) {
    // No run lies strictly between previous and next.
    const auto after_prev = s.next_after(*prev);
    if (!after_prev || *after_prev != *next) violated("next_after(previous) != next", text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // A fixed time plus a few input-derived hours, around DST changes of 2026.
  std::int64_t hours = 0;
  for (std::size_t i = 0; i < size && i < 4; ++i) hours = hours * 31 + data[i];
  const WallTime t = WallTime(std::chrono::seconds(1774000000)) +  // 2026-03-20
                     std::chrono::hours(hours % (24 * 240)) + std::chrono::seconds(hours % 3600);
  check(text, "UTC", t);
  check(text, "Europe/Berlin", t);
  check(text, "America/New_York", t);
  return 0;
}
