// Where alerts go, as Alertmanager 0.25 decides it: the routing tree, inhibit
// rules and time intervals, loaded from Alertmanager's own YAML (the `route`,
// `inhibit_rules`, `time_intervals` and `mute_time_intervals` blocks of an
// alertmanager.yml). Matching only: grouping, timers, silences and sending
// are not here.
//
//   using namespace watch::routing;
//   std::vector<Error> errors;
//   RoutingConfig config = load_routing(YAML::Load(text), {"default", "db-pager"}, errors);
//   for (const Error& e : errors) log(e.to_string());
//   // 12:19: route.routes[0].group_wait: not a valid duration string: "5x"
//   if (!errors.empty()) return;  // the config is partial then
//
//   LabelSet alert = LabelSet::from({{"alertname", "DiskFull"}, {"service", "db"}});
//   for (const Route* route : match_routes(config.route, alert)) {
//     route->options.receiver;   // "db-pager"
//     route->key;                // {}/{service="db"}: the route's identity in groups
//   }
//   inhibited(config.inhibit_rules, alert, firing_alerts);   // muted by a firing alert?
//   contains(config.time_intervals.at("offhours"), std::chrono::system_clock::now());
//
// The semantics are 0.25's (config/config.go, dispatch/route.go,
// inhibit/inhibit.go, timeinterval/timeinterval.go), quirks included; each
// is stated where it applies. One deliberate difference: days_of_month
// counts a month's days on the calendar (0.25 divides the month's length by
// 24 hours, so in a zone that springs forward in March, -1 is March 30th;
// fixed upstream since, alertmanager#5447).
//
// Thread-safety: everything here is a value; const objects may be shared
// between threads. load_routing() reads the system time zone database
// (/usr/share/zoneinfo) when a `location` is given.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "watch/model/model.h"
#include "watch/routing/matchers.h"
#include "watch/yamlconf/error.h"

namespace YAML {
class Node;
}

namespace date {
class time_zone;
}

namespace watch::routing {

// ---------------------------------------------------------------------------
// Time intervals (the timeinterval package).

// Minutes of the day, [start, end): 09:00-17:00 is {540, 1020}.
struct TimeOfDayRange {
  int start_minute = 0;
  int end_minute = 0;
  friend bool operator==(const TimeOfDayRange&, const TimeOfDayRange&) = default;
};

// Inclusive, in the unit of its field.
struct InclusiveRange {
  int begin = 0;
  int end = 0;
  friend bool operator==(const InclusiveRange&, const InclusiveRange&) = default;
};

// One entry of a named interval's `time_intervals`. A field that is absent
// (nullopt) does not restrict; a field that is present must match one of its
// ranges, so (as in 0.25) an empty list matches nothing.
struct TimeInterval {
  std::optional<std::vector<TimeOfDayRange>> times;
  std::optional<std::vector<InclusiveRange>> weekdays;       // 0 = Sunday ... 6 = Saturday
  std::optional<std::vector<InclusiveRange>> days_of_month;  // 1..31, or -1 = last day, ...
  std::optional<std::vector<InclusiveRange>> months;         // 1 = January
  std::optional<std::vector<InclusiveRange>> years;
  std::string location = "UTC";           // as set by set_location(); "UTC" by default
  const date::time_zone* zone = nullptr;  // set_location()'s result; nullptr: UTC
};

// Sets the zone the fields are read in, as Go's time.LoadLocation: "" and
// "UTC" are UTC, "Local" is this machine's zone, anything else an IANA name
// (case-sensitive). false with `*error` ("unknown time zone Mars/Base") when
// the system database does not have it.
bool set_location(TimeInterval& interval, std::string_view name, std::string* error = nullptr);

// 0.25's ContainsTime: whether `t`, read in the interval's location, falls in
// every field present. A negative day of month counts from the month's end
// (clamped to the month, as 0.25). Cost: one zone conversion.
bool contains(const TimeInterval& interval, std::chrono::system_clock::time_point t);
// Whether any of them contains `t`.
bool contains(const std::vector<TimeInterval>& intervals, std::chrono::system_clock::time_point t);

// ---------------------------------------------------------------------------
// The routing tree (dispatch/route.go).

struct RouteOptions {
  std::string receiver;
  // Sorted and unique. A route that writes only ['...'] keeps its parent's
  // labels here and sets group_by_all (as 0.25, which then groups by all).
  std::vector<std::string> group_by;
  bool group_by_all = false;  // ['...']
  std::int64_t group_wait_ms = 30'000;
  std::int64_t group_interval_ms = 300'000;
  std::int64_t repeat_interval_ms = 4 * 3'600'000;
  // The route's own (not inherited from its parent, as in 0.25): names of
  // RoutingConfig::time_intervals.
  std::vector<std::string> mute_time_intervals;
  std::vector<std::string> active_time_intervals;
};

struct Route {
  // After inheritance: the parent's options, overridden by what this route
  // sets (receiver, group_by (a non-empty list of names), the three
  // durations); time intervals are not inherited.
  RouteOptions options;
  // `match` (=), `match_re` (=~, its value "^(?:re)$" as 0.25 prints it) and
  // `matchers`, sorted as Alertmanager sorts them.
  std::vector<Matcher> matchers;
  bool continue_matching = false;  // `continue`
  std::vector<Route> routes;
  // Route.Key(): the parent's key, "/", and this route's matchers, e.g.
  // {}/{service="db"}/{severity=~"^(?:page)$"}. Not unique in general.
  std::string key;
};

// Route.Match: when `alert` satisfies the route's matchers, the routes it goes
// to: depth first, children in order, stopping after the first child that
// matched unless that child has `continue`; the route itself when no child
// took it. Empty when the route's own matchers fail. Pointers into `root`.
std::vector<const Route*> match_routes(const Route& root, const LabelSet& alert);

// ---------------------------------------------------------------------------
// Inhibition (inhibit/inhibit.go).

struct InhibitRule {
  std::vector<Matcher> source;  // source_match (=), source_match_re, source_matchers
  std::vector<Matcher> target;  // likewise for target_*
  std::vector<std::string> equal;
};

// Whether the firing alert `source` inhibits `target` under `rule`: target
// satisfies the target matchers, source the source matchers, their `equal`
// labels have the same values (missing counts as ""), and not both satisfy
// both sides (so an alert never inhibits itself).
bool inhibits(const InhibitRule& rule, const LabelSet& source, const LabelSet& target);

// The alert of `firing` that inhibits `target`, or nullptr: for the first
// rule whose target matchers `target` satisfies, the first alert satisfying
// its source matchers whose `equal` labels have the same values as the
// target's (missing counts as ""). When `target` satisfies both sides of a
// rule, alerts that satisfy both sides are ignored for it (so an alert never
// inhibits itself). `firing` should hold only firing alerts (Alertmanager
// skips resolved ones). Cost: matchers × rules × alerts in the worst case.
const LabelSet* find_inhibitor(const std::vector<InhibitRule>& rules, const LabelSet& target,
                               const std::vector<LabelSet>& firing);
// The same for one rule (callers that index `firing` per rule).
const LabelSet* find_inhibitor(const InhibitRule& rule, const LabelSet& target,
                               const std::vector<LabelSet>& firing);
inline bool inhibited(const std::vector<InhibitRule>& rules, const LabelSet& target,
                      const std::vector<LabelSet>& firing) {
  return find_inhibitor(rules, target, firing) != nullptr;
}

// ---------------------------------------------------------------------------
// Loading.

// A problem at a line, column and key path (yamlconf/reader.h):
// "12:9: route.routes[0].group_wait: not a valid duration string: \"5x\"".
using Error = yamlconf::Error;

inline constexpr std::size_t kMaxRoutingErrors = 100;  // then one "too many errors"
inline constexpr int kMaxRouteDepth = 100;             // nested `routes`

struct RoutingConfig {
  Route route;
  std::vector<InhibitRule> inhibit_rules;
  // Both top-level keys (time_intervals and the older mute_time_intervals),
  // by name; names are unique across the two.
  std::map<std::string, std::vector<TimeInterval>> time_intervals;
};

// Reads the routing blocks of an Alertmanager-shaped YAML mapping (the top
// level of an alertmanager.yml or of firebreak.yaml): `route`,
// `inhibit_rules`, `time_intervals` and `mute_time_intervals`; other keys are
// not looked at. Checks what 0.25 checks when it loads them, with its
// messages: a route is required; the root route needs a receiver and has no
// matchers, time intervals or continue; every receiver named in the tree must
// be in `receiver_names`, every time interval named must be defined; label
// names, regexes, matchers, durations (Prometheus's: "30s", "1h30m"),
// group_by ('...' alone), time interval fields. Also errors, unlike
// Alertmanager only in wording: unknown keys in these blocks (with the
// closest known key as a suggestion), repeated keys, values of the wrong
// shape. YAML merge keys (`<<: *defaults`) are honoured as in Alertmanager.
// A null item of `routes` or `inhibit_rules` is refused (Alertmanager crashes
// on it); null time interval entries are taken as 0.25 takes them (an entry
// that restricts nothing; a named interval called "").
//
// Every problem is appended to `errors` (all of them, up to
// kMaxRoutingErrors) with its position and key path; the result is then
// partial and must not be used. Never throws, whatever the input (aliases
// that loop or explode are cut off by a work budget).
RoutingConfig load_routing(const YAML::Node& root, const std::vector<std::string>& receiver_names,
                           std::vector<Error>& errors);

}  // namespace watch::routing
