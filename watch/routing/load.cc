// Loading the routing blocks of an alertmanager.yml (config/config.go, the
// timeinterval package's unmarshalers, dispatch.NewRoute's inheritance).
#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <exception>
#include <limits>
#include <set>
#include <utility>

#include "watch/relabel/relabel.h"
#include "watch/routing/routing.h"
#include "watch/yamlconf/reader.h"

namespace watch::routing {

namespace {

constexpr std::size_t kWorkBudget = 200'000;  // YAML nodes visited, aliases included

using yamlconf::Entries;
using yamlconf::Entry;
using yamlconf::join_key;
using yamlconf::Pos;
using yamlconf::pos_of;
using yamlconf::quote;
using yamlconf::shape_of;

// clang-format off
const std::vector<std::string_view> kRouteKeys{
    "receiver", "group_by", "match", "match_re", "matchers", "continue", "routes", "group_wait",
    "group_interval", "repeat_interval", "mute_time_intervals", "active_time_intervals"};
// clang-format on
const std::vector<std::string_view> kInhibitRuleKeys{
    "source_match", "source_match_re", "source_matchers",
    "target_match", "target_match_re", "target_matchers",
    "equal"};
const std::vector<std::string_view> kNamedIntervalKeys{"name", "time_intervals"};
const std::vector<std::string_view> kTimeIntervalKeys{"times",  "weekdays", "days_of_month",
                                                      "months", "years",    "location"};
const std::vector<std::string_view> kTimeRangeKeys{"start_time", "end_time"};

constexpr std::array<std::string_view, 7> kWeekdayNames{
    "sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};
constexpr std::array<std::string_view, 12> kMonthNames{
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};

// strings.ToLower for the names a range may hold: ASCII, plus the two
// characters Go lowers to ASCII letters (U+0130 to 'i', the Kelvin sign to
// 'k'); other characters are left as they are (they can only fail).
std::string go_lower_name(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s.substr(i, 2) == "\xC4\xB0") {
      out.push_back('i');
      ++i;
    } else if (s.substr(i, 3) == "\xE2\x84\xAA") {
      out.push_back('k');
      i += 2;
    } else {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(s[i]))));
    }
  }
  return out;
}

// Go's strconv.Atoi (64-bit int): an optional sign and decimal digits.
std::optional<std::int64_t> go_atoi(std::string_view s, std::string* error) {
  std::string_view digits = s;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  const bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  if (!all_digits) {
    *error = fmt::format("strconv.Atoi: parsing {}: invalid syntax", quote(s));
    return std::nullopt;
  }
  std::uint64_t magnitude = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude);
  const std::uint64_t limit =
      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + (negative ? 1 : 0);
  if (ec != std::errc() || end != digits.data() + digits.size() || magnitude > limit) {
    *error = fmt::format("strconv.Atoi: parsing {}: value out of range", quote(s));
    return std::nullopt;
  }
  if (negative) return static_cast<std::int64_t>(0 - magnitude);
  return static_cast<std::int64_t>(magnitude);
}

int to_int(std::int64_t v) {
  return static_cast<int>(std::clamp<std::int64_t>(v, std::numeric_limits<int>::min(),
                                                   std::numeric_limits<int>::max()));
}

// "HH:MM" (00:00 to 24:00) as minutes of the day (timeinterval.parseTime).
std::optional<int> parse_time_of_day(std::string_view s) {
  const auto digit = [&](std::size_t i) { return s[i] >= '0' && s[i] <= '9'; };
  if (s == "24:00") return 24 * 60;
  if (s.size() != 5 || s[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4)) {
    return std::nullopt;
  }
  const int hours = (s[0] - '0') * 10 + (s[1] - '0');
  const int minutes = (s[3] - '0') * 10 + (s[4] - '0');
  if (hours > 23 || minutes > 59) return std::nullopt;
  return hours * 60 + minutes;
}

enum class RangeKind { kWeekday, kDayOfMonth, kMonth, kYear };

// One member of a range: a name (weekdays, months) or a number.
std::optional<std::int64_t> range_member(RangeKind kind, std::string_view s, std::string* error) {
  if (kind == RangeKind::kWeekday) {
    for (std::size_t i = 0; i < kWeekdayNames.size(); ++i) {
      if (s == kWeekdayNames[i]) return static_cast<std::int64_t>(i);
    }
    *error = fmt::format("{} is not a valid weekday", s);
    return std::nullopt;
  }
  if (kind == RangeKind::kMonth) {
    for (std::size_t i = 0; i < kMonthNames.size(); ++i) {
      if (s == kMonthNames[i]) return static_cast<std::int64_t>(i + 1);
    }
    std::string ignored;
    if (auto n = go_atoi(s, &ignored)) return n;
    *error = fmt::format("{} is not a valid month", s);
    return std::nullopt;
  }
  return go_atoi(s, error);
}

std::string_view month_name(std::int64_t month) {
  return month >= 1 && month <= 12 ? kMonthNames[static_cast<std::size_t>(month - 1)] : "";
}

// A range as timeinterval's stringableRangeFromString and the checks of each
// kind's UnmarshalYAML, with their messages.
std::optional<InclusiveRange> parse_range(RangeKind kind, std::string_view text,
                                          std::string* error) {
  const std::string in = go_lower_name(text);
  std::int64_t begin = 0, end = 0;
  if (const std::size_t colon = in.find(':'); colon != std::string::npos) {
    if (in.find(':', colon + 1) != std::string::npos) {
      *error = fmt::format("couldn't parse range {}, invalid format", in);
      return std::nullopt;
    }
    const auto b = range_member(kind, std::string_view(in).substr(0, colon), error);
    if (!b) return std::nullopt;
    const auto e = range_member(kind, std::string_view(in).substr(colon + 1), error);
    if (!e) return std::nullopt;
    begin = *b;
    end = *e;
  } else {
    const auto v = range_member(kind, in, error);
    if (!v) return std::nullopt;
    begin = end = *v;
  }
  switch (kind) {
    case RangeKind::kWeekday:
      if (begin > end) {
        *error = "start day cannot be before end day";  // sic
        return std::nullopt;
      }
      break;
    case RangeKind::kDayOfMonth: {
      for (const std::int64_t day : {begin, end}) {
        if (day == 0 || day < -31 || day > 31) {
          *error = fmt::format("{} is not a valid day of the month: out of range", day);
          return std::nullopt;
        }
      }
      if (begin < 0 && end > 0) {
        *error = "end day must be negative if start day is negative";
        return std::nullopt;
      }
      // Negative days counted in the shortest month (28 days): what is
      // always wrong is refused, the rest is clamped when matching.
      const std::int64_t check_begin = begin < 0 ? 28 + begin : begin;
      const std::int64_t check_end = end < 0 ? 28 + end : end;
      if (check_begin > check_end) {
        *error = fmt::format("end day {} is always before start day {}", end, begin);
        return std::nullopt;
      }
      break;
    }
    case RangeKind::kMonth:
      // 0.25 checks only the order: 13 is a month that never comes.
      if (begin > end) {
        *error = fmt::format("end month {} is before start month {}", month_name(end),
                             month_name(begin));
        return std::nullopt;
      }
      break;
    case RangeKind::kYear:
      if (begin > end) {
        *error = fmt::format("end year {} is before start year {}", end, begin);
        return std::nullopt;
      }
      break;
  }
  return InclusiveRange{to_int(begin), to_int(end)};
}

class Loader : public yamlconf::Reader {
 public:
  Loader(const std::vector<std::string>& receiver_names, std::vector<Error>& errors)
      : Reader("", errors, kMaxRoutingErrors, kWorkBudget),
        receivers_(receiver_names.begin(), receiver_names.end()) {}

  RoutingConfig run(const YAML::Node& root) {
    RoutingConfig config;
    if (!root || root.IsNull()) {
      error({}, "", "no route provided in config");
      return config;
    }
    if (!root.IsMap()) {
      error(pos_of(root), "", fmt::format("expected a mapping, got {}", shape_of(root)));
      return config;
    }
    // Only the routing blocks: the rest of the document is someone else's.
    Entries top;
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (!charge()) return config;
      const YAML::Node k = it->first;
      if (!k.IsScalar()) continue;
      const std::string name = k.Scalar();
      if (name != "route" && name != "inhibit_rules" && name != "time_intervals" &&
          name != "mute_time_intervals") {
        continue;
      }
      if (top.has(name)) {
        error(pos_of(k), name, "key repeated");
        continue;
      }
      top.add(name, k, YAML::Node(it->second));
    }

    // The older list first: its names are reported as the repeated ones.
    load_named_intervals(top.get("mute_time_intervals"), "mute_time_intervals", true,
                         config.time_intervals);
    load_named_intervals(top.get("time_intervals"), "time_intervals", false, config.time_intervals);
    time_interval_names_ = &config.time_intervals;

    if (const YAML::Node* route = top.get("route")) {
      load_route(*route, "route", nullptr, 0, config.route);
    } else {
      const YAML::Node* at = nullptr;
      for (const Entry& e : top.all()) {
        if (e.name == "route") at = &e.key;
      }
      error(at ? pos_of(*at) : Pos{}, at ? "route" : "", "no routes provided");
    }

    each(top.get("inhibit_rules"), "inhibit_rules",
         [&](const YAML::Node& n, const std::string& key) {
           InhibitRule rule;
           if (load_inhibit_rule(n, key, rule)) config.inhibit_rules.push_back(std::move(rule));
         });
    return config;
  }

 private:
  // A Prometheus duration ("30s", "1h30m", "0"); nullopt when absent, null
  // or bad (then with an error).
  std::optional<std::int64_t> duration(const YAML::Node* n, const std::string& key) {
    if (!n) return std::nullopt;
    std::string s;
    if (!string_value(*n, key, s)) return std::nullopt;
    std::string why;
    const std::optional<std::int64_t> ms = relabel::parse_duration(s, &why);
    if (!ms) error(pos_of(*n), key, why);
    return ms;
  }

  // `match` or `source_match`: label name to value, as = matchers.
  void load_equal_map(const YAML::Node* n, const std::string& key, std::vector<Matcher>& out) {
    if (!n) return;
    Entries map;
    if (!entries(*n, key, nullptr, map)) return;
    for (const Entry& e : map.all()) {
      const std::string entry_key = join_key(key, e.name);
      if (!is_valid_label_name(e.name)) {
        error(pos_of(e.key), entry_key, fmt::format("invalid label name {}", quote(e.name)));
        continue;
      }
      std::string value;
      if (!string_value(e.value, entry_key, value)) continue;
      if (auto m = Matcher::make(e.name, MatchType::kEqual, std::move(value))) {
        out.push_back(*std::move(m));
      }
    }
  }

  // `match_re` or `source_match_re`: label name to regex, as =~ matchers whose
  // value is the anchored regex, as 0.25 makes them.
  void load_regex_map(const YAML::Node* n, const std::string& key, std::vector<Matcher>& out) {
    if (!n) return;
    Entries map;
    if (!entries(*n, key, nullptr, map)) return;
    for (const Entry& e : map.all()) {
      const std::string entry_key = join_key(key, e.name);
      if (!is_valid_label_name(e.name)) {
        error(pos_of(e.key), entry_key, fmt::format("invalid label name {}", quote(e.name)));
        continue;
      }
      if (e.value.IsNull()) {
        error(pos_of(e.key), entry_key, fmt::format("invalid regexp value for {}", quote(e.name)));
        continue;
      }
      std::string regex;
      if (!string_value(e.value, entry_key, regex)) continue;
      // Checked as written, for Alertmanager's message; kept anchored.
      std::string why;
      if (!Matcher::make(e.name, MatchType::kRegex, regex, &why)) {
        error(pos_of(e.value), entry_key, why);
        continue;
      }
      if (auto m = Matcher::make(e.name, MatchType::kRegex, "^(?:" + regex + ")$", &why)) {
        out.push_back(*std::move(m));
      } else {
        error(pos_of(e.value), entry_key, why);
      }
    }
  }

  // `matchers` or `source_matchers`: a list of strings, each a matcher list.
  void load_matcher_list(const YAML::Node* n, const std::string& key, std::vector<Matcher>& out) {
    each(n, key, [&](const YAML::Node& item, const std::string& item_key) {
      std::string text;
      if (!string_value(item, item_key, text)) return;
      std::string why;
      std::optional<std::vector<Matcher>> parsed = parse_matchers(text, &why);
      if (!parsed) {
        error(pos_of(item), item_key, why);
        return;
      }
      out.insert(out.end(), parsed->begin(), parsed->end());
    });
  }

  void load_route(const YAML::Node& n, const std::string& key, const Route* parent, int depth,
                  Route& out) {
    const bool is_root = parent == nullptr;
    if (depth > kMaxRouteDepth) {
      if (!depth_reported_) {  // once: a looping alias would report every branch
        error(pos_of(n), key,
              fmt::format("routes nested too deeply (more than {} levels)", kMaxRouteDepth));
        depth_reported_ = true;
      }
      return;
    }
    Entries f;
    if (!entries(n, key, &kRouteKeys, f)) return;
    const auto sub = [&](std::string_view k) { return key + "." + std::string(k); };
    const auto key_pos = [&](std::string_view k) {
      for (const Entry& e : f.all()) {
        if (e.name == k) return pos_of(e.key);
      }
      return pos_of(n);
    };

    RouteOptions options = is_root ? RouteOptions{} : parent->options;

    std::string receiver;
    if (const YAML::Node* r = f.get("receiver"); r && string_value(*r, sub("receiver"), receiver)) {
      if (!receiver.empty()) {
        options.receiver = receiver;
        if (!receivers_.contains(receiver)) {
          error(pos_of(*r), sub("receiver"),
                fmt::format("undefined receiver {} used in route", quote(receiver)));
        }
      }
    }
    if (is_root && receiver.empty()) {
      error(f.has("receiver") ? key_pos("receiver") : pos_of(n), key,
            "root route must specify a default receiver");
    }

    if (const YAML::Node* g = f.get("group_by")) {
      std::vector<std::string> names;
      bool all = false;
      std::set<std::string> seen;
      each(g, sub("group_by"), [&](const YAML::Node& item, const std::string& item_key) {
        std::string name;
        if (!string_value(item, item_key, name)) return;
        if (name == "...") {
          all = true;
          return;
        }
        if (!is_valid_label_name(name)) {
          error(pos_of(item), item_key,
                fmt::format("invalid label name {} in group_by list", quote(name)));
          return;
        }
        if (!seen.insert(name).second) {
          error(pos_of(item), item_key,
                fmt::format("duplicated label {} in group_by", quote(name)));
          return;
        }
        names.push_back(std::move(name));
      });
      if (all && !names.empty()) {
        error(pos_of(*g), sub("group_by"),
              "cannot have wildcard group_by (`...`) and other labels at the same time");
      }
      // 0.25: a list of names replaces the parent's and turns '...' off; a
      // list without names (only '...', or empty) keeps the parent's names.
      if (!names.empty()) {
        std::sort(names.begin(), names.end());
        options.group_by = std::move(names);
        options.group_by_all = false;
      } else if (all) {
        options.group_by_all = true;
      }
    }

    if (auto ms = duration(f.get("group_wait"), sub("group_wait"))) options.group_wait_ms = *ms;
    if (auto ms = duration(f.get("group_interval"), sub("group_interval"))) {
      if (*ms == 0)
        error(pos_of(*f.get("group_interval")), sub("group_interval"),
              "group_interval cannot be zero");
      options.group_interval_ms = *ms;
    }
    if (auto ms = duration(f.get("repeat_interval"), sub("repeat_interval"))) {
      if (*ms == 0)
        error(pos_of(*f.get("repeat_interval")), sub("repeat_interval"),
              "repeat_interval cannot be zero");
      options.repeat_interval_ms = *ms;
    }

    options.mute_time_intervals =
        interval_references(f.get("mute_time_intervals"), sub("mute_time_intervals"));
    options.active_time_intervals =
        interval_references(f.get("active_time_intervals"), sub("active_time_intervals"));
    if (is_root && !options.mute_time_intervals.empty()) {
      error(key_pos("mute_time_intervals"), sub("mute_time_intervals"),
            "root route must not have any mute time intervals");
    }
    if (is_root && !options.active_time_intervals.empty()) {
      error(key_pos("active_time_intervals"), sub("active_time_intervals"),
            "root route must not have any active time intervals");
    }

    std::vector<Matcher> matchers;
    load_equal_map(f.get("match"), sub("match"), matchers);
    load_regex_map(f.get("match_re"), sub("match_re"), matchers);
    load_matcher_list(f.get("matchers"), sub("matchers"), matchers);
    std::sort(matchers.begin(), matchers.end());
    if (is_root && !matchers.empty()) {
      const std::string_view which = f.get("matchers") ? "matchers"
                                     : f.get("match")  ? "match"
                                                       : "match_re";
      error(key_pos(which), sub(which), "root route must not have any matchers");
    }

    if (const YAML::Node* c = f.get("continue")) {
      if (bool_value(*c, sub("continue"), out.continue_matching) && is_root &&
          out.continue_matching) {
        error(key_pos("continue"), sub("continue"), "cannot have continue in root route");
      }
    }

    out.options = std::move(options);
    out.matchers = std::move(matchers);
    out.key = is_root ? to_string(out.matchers) : parent->key + "/" + to_string(out.matchers);

    each(f.get("routes"), sub("routes"), [&](const YAML::Node& item, const std::string& item_key) {
      if (item.IsNull()) {  // Alertmanager crashes on it
        error(pos_of(item), item_key, "expected a mapping, got null");
        return;
      }
      Route child;
      load_route(item, item_key, &out, depth + 1, child);
      out.routes.push_back(std::move(child));
    });
  }

  // Names of time intervals a route refers to; each must be defined.
  std::vector<std::string> interval_references(const YAML::Node* n, const std::string& key) {
    std::vector<std::string> names;
    each(n, key, [&](const YAML::Node& item, const std::string& item_key) {
      std::string name;
      if (!string_value(item, item_key, name)) return;
      if (time_interval_names_ && !time_interval_names_->contains(name)) {
        error(pos_of(item), item_key,
              fmt::format("undefined time interval {} used in route", quote(name)));
      }
      names.push_back(std::move(name));
    });
    return names;
  }

  bool load_inhibit_rule(const YAML::Node& n, const std::string& key, InhibitRule& out) {
    if (n.IsNull()) {  // Alertmanager would crash on it when running
      error(pos_of(n), key, "expected a mapping, got null");
      return false;
    }
    Entries f;
    if (!entries(n, key, &kInhibitRuleKeys, f)) return false;
    const auto sub = [&](std::string_view k) { return key + "." + std::string(k); };
    load_equal_map(f.get("source_match"), sub("source_match"), out.source);
    load_regex_map(f.get("source_match_re"), sub("source_match_re"), out.source);
    load_matcher_list(f.get("source_matchers"), sub("source_matchers"), out.source);
    load_equal_map(f.get("target_match"), sub("target_match"), out.target);
    load_regex_map(f.get("target_match_re"), sub("target_match_re"), out.target);
    load_matcher_list(f.get("target_matchers"), sub("target_matchers"), out.target);
    // Order does not change what a rule matches; sorted like a route's.
    std::sort(out.source.begin(), out.source.end());
    std::sort(out.target.begin(), out.target.end());
    each(f.get("equal"), sub("equal"), [&](const YAML::Node& item, const std::string& item_key) {
      std::string name;
      if (!string_value(item, item_key, name)) return;
      // A null item is "" (0.25 does not check it): it compares equal always.
      if (!item.IsNull() && !is_valid_label_name(name)) {
        error(pos_of(item), item_key, fmt::format("{} is not a valid label name", quote(name)));
        return;
      }
      if (std::find(out.equal.begin(), out.equal.end(), name) == out.equal.end()) {
        out.equal.push_back(std::move(name));
      }
    });
    return true;
  }

  // `time_intervals` or `mute_time_intervals`: a list of {name, time_intervals}.
  void load_named_intervals(const YAML::Node* n, const std::string& key, bool old_form,
                            std::map<std::string, std::vector<TimeInterval>>& out) {
    each(n, key, [&](const YAML::Node& item, const std::string& item_key) {
      std::string name;
      std::vector<TimeInterval> intervals;
      // 0.25 takes a null entry as an interval named "" that is never empty.
      if (!item.IsNull()) {
        Entries f;
        if (!entries(item, item_key, &kNamedIntervalKeys, f)) return;
        if (const YAML::Node* nm = f.get("name")) string_value(*nm, item_key + ".name", name);
        if (name.empty()) {
          error(pos_of(item), item_key,
                old_form ? "missing name in mute time interval" : "missing name in time interval");
          return;
        }
        each(f.get("time_intervals"), item_key + ".time_intervals",
             [&](const YAML::Node& ti, const std::string& ti_key) {
               TimeInterval interval;
               if (load_time_interval(ti, ti_key, interval)) {
                 intervals.push_back(std::move(interval));
               }
             });
      }
      if (out.contains(name)) {
        error(pos_of(item), item_key,
              fmt::format("{} {} is not unique", old_form ? "mute time interval" : "time interval",
                          quote(name)));
        return;
      }
      out.emplace(std::move(name), std::move(intervals));
    });
  }

  bool load_time_interval(const YAML::Node& n, const std::string& key, TimeInterval& out) {
    if (n.IsNull()) return true;  // 0.25: an entry that restricts nothing
    Entries f;
    if (!entries(n, key, &kTimeIntervalKeys, f)) return false;
    const auto sub = [&](std::string_view k) { return key + "." + std::string(k); };
    bool ok = true;
    if (const YAML::Node* times = f.get("times")) {
      out.times.emplace();
      each(times, sub("times"), [&](const YAML::Node& item, const std::string& item_key) {
        if (auto range = load_time_range(item, item_key)) {
          out.times->push_back(*range);
        } else {
          ok = false;
        }
      });
    }
    const auto ranges = [&](std::string_view name, RangeKind kind,
                            std::optional<std::vector<InclusiveRange>>& field) {
      const YAML::Node* list = f.get(name);
      if (!list) return;
      field.emplace();
      each(list, sub(name), [&](const YAML::Node& item, const std::string& item_key) {
        if (item.IsNull()) {  // 0.25 leaves the range at zero: {0, 0}
          field->push_back({});
          return;
        }
        std::string text, why;
        if (!string_value(item, item_key, text)) {
          ok = false;
          return;
        }
        if (auto range = parse_range(kind, text, &why)) {
          field->push_back(*range);
        } else {
          error(pos_of(item), item_key, why);
          ok = false;
        }
      });
    };
    ranges("weekdays", RangeKind::kWeekday, out.weekdays);
    ranges("days_of_month", RangeKind::kDayOfMonth, out.days_of_month);
    ranges("months", RangeKind::kMonth, out.months);
    ranges("years", RangeKind::kYear, out.years);
    if (const YAML::Node* location = f.get("location")) {
      std::string name, why;
      if (!string_value(*location, sub("location"), name)) {
        ok = false;
      } else if (!set_location(out, name, &why)) {
        error(pos_of(*location), sub("location"), why);
        ok = false;
      }
    }
    return ok;
  }

  std::optional<TimeOfDayRange> load_time_range(const YAML::Node& n, const std::string& key) {
    if (n.IsNull()) return TimeOfDayRange{};  // 0.25: {0, 0}, which no minute is in
    Entries f;
    if (!entries(n, key, &kTimeRangeKeys, f)) return std::nullopt;
    std::string start, end;
    if (const YAML::Node* s = f.get("start_time")) {
      if (!string_value(*s, key + ".start_time", start)) return std::nullopt;
    }
    if (const YAML::Node* e = f.get("end_time")) {
      if (!string_value(*e, key + ".end_time", end)) return std::nullopt;
    }
    if (start.empty() || end.empty()) {
      error(pos_of(n), key, "both start and end times must be provided");
      return std::nullopt;
    }
    const std::optional<int> start_minute = parse_time_of_day(start);
    if (!start_minute) {
      error(pos_of(*f.get("start_time")), key + ".start_time",
            fmt::format("couldn't parse timestamp {}, invalid format", start));
      return std::nullopt;
    }
    const std::optional<int> end_minute = parse_time_of_day(end);
    if (!end_minute) {
      error(pos_of(*f.get("end_time")), key + ".end_time",
            fmt::format("couldn't parse timestamp {}, invalid format", end));
      return std::nullopt;
    }
    if (*start_minute >= *end_minute) {
      error(pos_of(n), key, "start time cannot be equal or greater than end time");
      return std::nullopt;
    }
    return TimeOfDayRange{*start_minute, *end_minute};
  }

  std::set<std::string, std::less<>> receivers_;
  const std::map<std::string, std::vector<TimeInterval>>* time_interval_names_ = nullptr;
  bool depth_reported_ = false;
};

}  // namespace

RoutingConfig load_routing(const YAML::Node& root, const std::vector<std::string>& receiver_names,
                           std::vector<Error>& errors) {
  Loader loader(receiver_names, errors);
  try {
    return loader.run(root);
  } catch (const std::exception& e) {
    // yaml-cpp throws on some malformed trees; never let it escape.
    errors.push_back(
        {0, 0, "", std::string("internal error reading the configuration: ") + e.what()});
  }
  return {};
}

}  // namespace watch::routing
