#include "watch/config/config.h"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include "firebreak/http_client.h"
#include "watch/promql/ast.h"
#include "watch/rules/rule_file.h"
#include "watch/yamlconf/http_config.h"
#include "watch/yamlconf/reader.h"

namespace watch::config {

namespace fs = std::filesystem;

std::string ConfigError::to_string() const {
  std::string out = file;
  if (line > 0) out += fmt::format(":{}:{}", line, column);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

bool parse_size(std::string_view text, std::size_t& bytes) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return false;
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, n);
  if (ec != std::errc() || end != text.data() + digits) return false;
  const std::string_view unit = text.substr(digits);
  std::uint64_t mult = 0;
  if (unit.empty() || unit == "B") {
    mult = 1;
  } else if (unit == "KiB") {
    mult = 1ULL << 10;
  } else if (unit == "MiB") {
    mult = 1ULL << 20;
  } else if (unit == "GiB") {
    mult = 1ULL << 30;
  } else {
    return false;
  }
  if (n > std::numeric_limits<std::size_t>::max() / mult) return false;
  bytes = static_cast<std::size_t>(n * mult);
  return true;
}

bool valid_listen_address(std::string_view text, std::string* why) {
  auto fail = [&](std::string reason) {
    if (why) *why = std::move(reason);
    return false;
  };
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail("no port (expected HOST:PORT)");
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (host.empty()) return fail("no host (expected HOST:PORT; 0.0.0.0:PORT for every interface)");
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return fail("bad IPv6 host (expected [ADDR]:PORT)");
    host = host.substr(1, host.size() - 2);
    for (char c : host)
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
        return fail("bad IPv6 host (expected [ADDR]:PORT)");
  } else {
    for (char c : host) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
      if (!ok) return fail("bad host (expected a name or an IPv4 address; [ADDR] for IPv6)");
    }
  }
  if (port.empty() || port.size() > 5) return fail("bad port (expected 0-65535)");
  unsigned p = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p > 65535)
    return fail("bad port (expected 0-65535)");
  return true;
}

namespace {

constexpr std::size_t kWorkBudget = 1'000'000;       // YAML nodes visited, aliases included
constexpr std::size_t kMaxGlobMatches = 10'000;      // per rule_files pattern
constexpr std::size_t kMaxRuleFilePatterns = 1'000;  // distinct rule_files entries
constexpr std::size_t kMaxNameLength = 128;

struct Pos {
  int line = 0;
  int column = 0;
};

Pos pos_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 80;
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

// " (did you mean \"x\"?)" or " (expected one of: a, b)".
std::string suggestion_suffix(std::string_view key, const std::vector<std::string_view>& allowed) {
  if (const std::string_view best = yamlconf::closest_key(key, allowed); !best.empty())
    return fmt::format(" (did you mean \"{}\"?)", best);
  std::string list;
  for (std::string_view a : allowed) {
    if (!list.empty()) list += ", ";
    list += a;
  }
  return fmt::format(" (expected one of: {})", list);
}

std::string unknown_key_message(std::string_view key,
                                const std::vector<std::string_view>& allowed) {
  return fmt::format("unknown key {}{}", quote(key), suggestion_suffix(key, allowed));
}

bool valid_object_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

const char* type_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "nothing";
  }
}

bool has_glob_chars(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

// "@every 1h" is a period; everything else is what Schedule::parse accepts.
checkin::Result<checkin::Schedule> parse_schedule(std::string_view text, std::string_view zone) {
  constexpr std::string_view kEvery = "@every";
  if (text.substr(0, kEvery.size()) == kEvery &&
      (text.size() == kEvery.size() || text[kEvery.size()] == ' ' || text[kEvery.size()] == '\t')) {
    std::string_view rest = text.substr(kEvery.size());
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    if (rest.empty()) return checkin::ParseError{"@every needs a period, e.g. \"@every 1h\"", 0};
    return checkin::Schedule::parse_period(rest);
  }
  return checkin::Schedule::parse(text, zone);
}

// A mapping's entries by key (first occurrence), after checking keys.
class Fields {
 public:
  void add(std::string key, YAML::Node value) { entries_.emplace_back(std::move(key), value); }
  bool has(std::string_view key) const {
    for (const auto& e : entries_)
      if (e.first == key) return true;
    return false;
  }
  // nullptr when absent or null.
  const YAML::Node* get(std::string_view key) const {
    for (const auto& [k, v] : entries_)
      if (k == key) return v.IsNull() ? nullptr : &v;
    return nullptr;
  }

 private:
  std::vector<std::pair<std::string, YAML::Node>> entries_;
};

// A key path: "parent.child", with the child (from the file) escaped and
// shortened so that an error stays one printable line.
std::string join_key(const std::string& parent, std::string_view child) {
  const std::string quoted = quote(child);
  const std::string part = quoted.substr(1, quoted.size() - 2);
  return parent.empty() ? part : parent + "." + part;
}

struct ThresholdField {
  std::string_view key;
  // kFor: an optional `for` or window, 0 allowed (the pack raises it).
  enum class Kind { kDuration, kSeconds, kNumber, kFor } kind;
  std::int64_t rulepack::Thresholds::*ms = nullptr;
  double rulepack::Thresholds::*value = nullptr;
  std::optional<std::int64_t> rulepack::Thresholds::*optional_ms = nullptr;
};

using Th = rulepack::Thresholds;
using TK = ThresholdField::Kind;
const ThresholdField kThresholdFields[] = {
    {"down_for", TK::kDuration, &Th::down_for_ms, nullptr},
    {"startup_budget", TK::kDuration, &Th::startup_budget_ms, nullptr},
    {"never_ready_for", TK::kFor, nullptr, nullptr, &Th::never_ready_for_ms},
    {"not_ready_for", TK::kDuration, &Th::not_ready_for_ms, nullptr},
    {"stall_for", TK::kDuration, &Th::stall_for_ms, nullptr},
    {"no_progress_for", TK::kFor, nullptr, nullptr, &Th::no_progress_for_ms},
    {"heartbeat_max_age", TK::kDuration, &Th::heartbeat_max_age_ms, nullptr},
    {"heartbeat_for", TK::kFor, nullptr, nullptr, &Th::heartbeat_for_ms},
    {"queue_lag", TK::kDuration, &Th::queue_lag_ms, nullptr},
    {"queue_lag_for", TK::kDuration, &Th::queue_lag_for_ms, nullptr},
    {"latency_objective", TK::kSeconds, nullptr, &Th::latency_objective_seconds},
    {"latency_for", TK::kDuration, &Th::latency_for_ms, nullptr},
    {"latency_window", TK::kDuration, nullptr, nullptr, &Th::latency_window_ms},
    {"regression_window", TK::kDuration, &Th::regression_window_ms, nullptr},
    {"regression_for", TK::kFor, nullptr, nullptr, &Th::regression_for_ms},
    {"regression_baseline_offset", TK::kDuration, &Th::regression_baseline_offset_ms, nullptr},
    {"regression_factor", TK::kNumber, nullptr, &Th::regression_factor},
    {"regression_min_request_rate", TK::kNumber, nullptr, &Th::regression_min_request_rate},
    {"availability_objective", TK::kNumber, nullptr, &Th::availability_objective},
    {"fast_burn_long_window", TK::kDuration, &Th::fast_burn_long_window_ms, nullptr},
    {"fast_burn_short_window", TK::kDuration, &Th::fast_burn_short_window_ms, nullptr},
    {"fast_burn_for", TK::kFor, nullptr, nullptr, &Th::fast_burn_for_ms},
    {"slow_burn_long_window", TK::kDuration, &Th::slow_burn_long_window_ms, nullptr},
    {"slow_burn_short_window", TK::kDuration, &Th::slow_burn_short_window_ms, nullptr},
    {"slow_burn_for", TK::kFor, nullptr, nullptr, &Th::slow_burn_for_ms},
};

class Loader {
 public:
  Loader(std::string_view path, const ParseOptions& options) : options_(options) {
    result_.config.path = std::string(path);
    std::error_code ec;
    fs::path parent = fs::path(std::string(path)).parent_path();
    if (parent.empty()) parent = ".";
    fs::path abs = fs::absolute(parent, ec);
    if (ec) abs = parent;
    std::string dir = abs.lexically_normal().string();
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    result_.config.dir = dir;
    result_.config.storage_path = resolve("firebreak-watch.db");
    result_.config.tsdb_path = resolve("firebreak-watch-tsdb");
  }

  LoadResult run(std::string_view text) {
    if (text.size() > kMaxConfigBytes) {
      error({}, "",
            fmt::format("file too large: {} bytes (at most {})", text.size(), kMaxConfigBytes));
      return std::move(result_);
    }
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      error({e.mark.line + 1, e.mark.column + 1}, "", "yaml: " + e.msg);
      return std::move(result_);
    } catch (const std::exception& e) {
      error({}, "", std::string("yaml: ") + e.what());
      return std::move(result_);
    }
    try {
      load_root(root);
    } catch (const std::exception& e) {
      // yaml-cpp throws on some malformed trees (e.g. conversions); never let it escape.
      error({}, "", std::string("internal error reading the configuration: ") + e.what());
    }
    return std::move(result_);
  }

 private:
  std::string resolve(std::string_view p) const {
    fs::path path{std::string(p)};
    if (path.is_absolute()) return path.lexically_normal().string();
    return (fs::path(result_.config.dir) / path).lexically_normal().string();
  }

  void error(Pos pos, std::string key, std::string message) {
    error_in(current_file_.empty() ? result_.config.path : current_file_, pos, std::move(key),
             std::move(message));
  }

  void error_in(const std::string& file, Pos pos, std::string key, std::string message) {
    if (stop_) return;
    if (result_.errors.size() >= kMaxErrors) {
      result_.errors.push_back(
          {file, pos.line, pos.column, "",
           fmt::format("too many errors (more than {}); stopping", kMaxErrors)});
      stop_ = true;
      return;
    }
    result_.errors.push_back({file, pos.line, pos.column, std::move(key), std::move(message)});
  }

  // Charges one unit of work; false (once with an error) when the budget is spent.
  bool charge() {
    if (work_ >= kWorkBudget) {
      if (!budget_reported_) {
        budget_reported_ = true;
        error({}, "",
              fmt::format("configuration too complex (more than {} YAML nodes, aliases included)",
                          kWorkBudget));
        stop_ = true;
      }
      return false;
    }
    ++work_;
    return !stop_;
  }

  // Checks that `n` is a mapping with known, unique, string keys; fills `out`.
  bool fields(const YAML::Node& n, const std::string& key,
              const std::vector<std::string_view>& allowed, Fields& out) {
    if (!n.IsMap()) {
      error(pos_of(n), key, fmt::format("expected a mapping, got {}", type_name(n)));
      return false;
    }
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!charge()) return false;
      const YAML::Node k = it->first;  // the iterator hands out temporaries
      if (!k.IsScalar()) {
        error(pos_of(k), key, "keys must be strings");
        continue;
      }
      const std::string name = k.Scalar();
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        error(pos_of(k), join_key(key, name), unknown_key_message(name, allowed));
        continue;
      }
      if (!seen.insert(name).second) {
        error(pos_of(k), join_key(key, name), "key repeated");
        continue;
      }
      out.add(name, YAML::Node(it->second));
    }
    return true;
  }

  // Each item of a list (null: none).
  template <typename F>
  void each(const YAML::Node* n, const std::string& key, F&& f) {
    if (!n) return;
    if (!n->IsSequence()) {
      error(pos_of(*n), key, fmt::format("expected a list, got {}", type_name(*n)));
      return;
    }
    std::size_t i = 0;
    for (auto it = n->begin(); it != n->end(); ++it, ++i) {
      if (!charge()) return;
      const YAML::Node item = *it;
      f(item, fmt::format("{}[{}]", key, i));
    }
  }

  bool scalar(const YAML::Node* n, const std::string& key, std::string& out) {
    if (!n) return false;
    if (!n->IsScalar()) {
      error(pos_of(*n), key, fmt::format("expected a string, got {}", type_name(*n)));
      return false;
    }
    out = n->Scalar();
    return true;
  }

  bool duration(const YAML::Node* n, const std::string& key, std::int64_t& ms,
                bool allow_zero = false) {
    std::string s;
    if (!scalar(n, key, s)) return false;
    std::int64_t v = 0;
    if (!rules::parse_prom_duration(s, v)) {
      error(pos_of(*n), key, fmt::format("not a duration: {}", quote(s)));
      return false;
    }
    if (v == 0 && !allow_zero) {
      error(pos_of(*n), key, "must be greater than 0");
      return false;
    }
    ms = v;
    return true;
  }

  bool whole_seconds(const YAML::Node* n, const std::string& key, std::int64_t& ms,
                     bool allow_zero) {
    std::int64_t v = 0;
    if (!duration(n, key, v, allow_zero)) return false;
    if (v % 1000 != 0) {
      error(pos_of(*n), key, "must be whole seconds");
      return false;
    }
    ms = v;
    return true;
  }

  bool size(const YAML::Node* n, const std::string& key, std::size_t& bytes) {
    std::string s;
    if (!scalar(n, key, s)) return false;
    if (!parse_size(s, bytes)) {
      error(pos_of(*n), key,
            fmt::format("not a size: {} (expected bytes, or a number with B, KiB, MiB or GiB)",
                        quote(s)));
      return false;
    }
    return true;
  }

  bool count(const YAML::Node* n, const std::string& key, std::size_t& out) {
    std::string s;
    if (!scalar(n, key, s)) return false;
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() ||
        v > std::numeric_limits<std::size_t>::max()) {
      error(pos_of(*n), key, fmt::format("expected a non-negative integer, got {}", quote(s)));
      return false;
    }
    out = static_cast<std::size_t>(v);
    return true;
  }

  bool boolean(const YAML::Node* n, const std::string& key, bool& out) {
    std::string s;
    if (!scalar(n, key, s)) return false;
    if (s == "true" || s == "True" || s == "TRUE") {
      out = true;
    } else if (s == "false" || s == "False" || s == "FALSE") {
      out = false;
    } else {
      error(pos_of(*n), key, fmt::format("expected true or false, got {}", quote(s)));
      return false;
    }
    return true;
  }

  static bool to_number(const std::string& s, double& out) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
      if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'))
        return false;
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || !std::isfinite(v)) return false;
    out = v;
    return true;
  }

  bool number(const YAML::Node* n, const std::string& key, double& out) {
    std::string s;
    if (!scalar(n, key, s)) return false;
    if (!to_number(s, out)) {
      error(pos_of(*n), key, fmt::format("expected a number, got {}", quote(s)));
      return false;
    }
    return true;
  }

  bool url(const YAML::Node* n, const std::string& key, std::string& out) {
    std::string s;
    if (!scalar(n, key, s)) return false;
    std::string why;
    if (!firebreak::valid_http_url(s, &why)) {
      error(pos_of(*n), key, fmt::format("invalid URL {}: {}", quote(s), why));
      return false;
    }
    out = std::move(s);
    return true;
  }

  void load_root(const YAML::Node& root) {
    if (!root || root.IsNull()) return;  // an empty file: every default, nothing to watch
    Fields f;
    if (!fields(root, "",
                {"listen", "storage", "query", "global", "rule_pack", "targets", "jobs",
                 "rule_files", "receivers", "route", "inhibit_rules", "time_intervals",
                 "mute_time_intervals", "alertmanager_config", "resolve_muted", "traces"},
                f))
      return;
    Config& c = result_.config;
    if (const YAML::Node* n = f.get("listen")) {
      std::string s, why;
      if (scalar(n, "listen", s)) {
        if (valid_listen_address(s, &why)) {
          c.listen = s;
        } else {
          error(pos_of(*n), "listen", fmt::format("not HOST:PORT: {}: {}", quote(s), why));
        }
      }
    }
    if (const YAML::Node* n = f.get("storage")) load_storage(*n);
    if (const YAML::Node* n = f.get("query")) load_query(*n);
    if (const YAML::Node* n = f.get("traces")) load_traces(*n);
    if (const YAML::Node* n = f.get("global")) load_global(*n);
    if (const YAML::Node* n = f.get("rule_pack")) {
      std::optional<bool> enabled;
      load_rule_pack(*n, "rule_pack", enabled, c.rule_pack_alerts, std::nullopt,
                     &c.rule_pack_inhibit_rules);
      c.rule_pack_enabled = enabled.value_or(true);
    }
    std::map<std::string, int> target_lines;
    each(f.get("targets"), "targets", [&](const YAML::Node& n, const std::string& key) {
      Target t;
      threshold_pos_.clear();
      if (!load_target(n, key, t)) return;
      warn_noise(t, key);
      if (!t.name.empty()) {
        auto [it, inserted] = target_lines.emplace(t.name, t.line);
        if (!inserted) {
          error(
              name_pos_, key + ".name",
              fmt::format("duplicate target name {} (also at line {})", quote(t.name), it->second));
        }
      }
      c.targets.push_back(std::move(t));
    });
    std::map<std::string, int> job_lines;
    each(f.get("jobs"), "jobs", [&](const YAML::Node& n, const std::string& key) {
      Job j;
      if (!load_job(n, key, j)) return;
      if (!j.name.empty()) {
        auto [it, inserted] = job_lines.emplace(j.name, j.line);
        if (!inserted) {
          error(name_pos_, key + ".name",
                fmt::format("duplicate job name {} (also at line {})", quote(j.name), it->second));
        } else if (auto t = target_lines.find(j.name); t != target_lines.end()) {
          error(name_pos_, key + ".name",
                fmt::format("job name {} is also a target's name (line {}); both would write "
                            "series with job={}",
                            quote(j.name), t->second, quote(j.name)));
        }
      }
      c.jobs.push_back(std::move(j));
    });
    boolean(f.get("resolve_muted"), "resolve_muted", c.resolve_muted);
    const bool routing_here = f.has("route") || f.has("inhibit_rules") || f.has("time_intervals") ||
                              f.has("mute_time_intervals");
    if (const YAML::Node* am = f.get("alertmanager_config")) {
      for (const char* k :
           {"receivers", "route", "inhibit_rules", "time_intervals", "mute_time_intervals"}) {
        if (f.has(k))
          error(pos_of(*am), "alertmanager_config",
                fmt::format("{} cannot be given both here and in alertmanager_config", k));
      }
      load_alertmanager_config(*am);
    } else {
      load_receivers(f.get("receivers"));
      if (routing_here) load_routing_blocks(root);
    }
    check_retention();
    load_rule_files(f.get("rule_files"));
  }

  // ApiLatencyRegression compares with the same window a baseline offset ago:
  // the head must still hold it, or the alert can never fire.
  void check_retention() {
    const Config& c = result_.config;
    for (std::size_t i = 0; i < c.targets.size(); ++i) {
      const Target& t = c.targets[i];
      if (t.workload != rulepack::Workload::kApi) continue;
      const std::int64_t offset = t.thresholds.regression_baseline_offset_ms;
      const std::int64_t window = t.thresholds.regression_window_ms;
      const std::int64_t need = offset > std::numeric_limits<std::int64_t>::max() - window
                                    ? std::numeric_limits<std::int64_t>::max()
                                    : offset + window;
      if (c.retention_ms >= need) continue;
      error(retention_pos_.line > 0 ? retention_pos_ : Pos{t.line, 0}, "storage.retention",
            fmt::format("retention {} is shorter than {}'s regression_baseline_offset + "
                        "regression_window ({}): ApiLatencyRegression would have no baseline",
                        promql::format_duration(c.retention_ms), t.name,
                        promql::format_duration(need)));
      return;  // one error is enough: the fix is the same
    }
  }

  void load_storage(const YAML::Node& n) {
    Fields f;
    if (!fields(n, "storage",
                {"path", "tsdb_path", "checkpoint_interval", "evict_idle_after", "retention",
                 "max_series", "silence_retention"},
                f))
      return;
    Config& c = result_.config;
    std::string path;
    if (scalar(f.get("path"), "storage.path", path)) {
      if (path.empty()) {
        error(pos_of(*f.get("path")), "storage.path", "must not be empty");
      } else if (path == ":memory:") {
        c.storage_path = path;
        c.tsdb_path.clear();  // nothing on disk unless tsdb_path says so
      } else {
        c.storage_path = resolve(path);
      }
    }
    path.clear();
    if (scalar(f.get("tsdb_path"), "storage.tsdb_path", path)) {
      if (path.empty())
        error(pos_of(*f.get("tsdb_path")), "storage.tsdb_path", "must not be empty");
      else
        c.tsdb_path = path == ":memory:" ? "" : resolve(path);
    }
    duration(f.get("checkpoint_interval"), "storage.checkpoint_interval", c.checkpoint_interval_ms);
    duration(f.get("evict_idle_after"), "storage.evict_idle_after", c.evict_idle_after_ms);
    duration(f.get("silence_retention"), "storage.silence_retention", c.silence_retention_ms);
    if (duration(f.get("retention"), "storage.retention", c.retention_ms))
      retention_pos_ = pos_of(*f.get("retention"));
    if (count(f.get("max_series"), "storage.max_series", c.max_series) && c.max_series == 0) {
      error(pos_of(*f.get("max_series")), "storage.max_series", "must be greater than 0");
      c.max_series = Config{}.max_series;
    }
  }

  void load_query(const YAML::Node& n) {
    Fields f;
    if (!fields(n, "query", {"max_samples", "timeout"}, f)) return;
    Config& c = result_.config;
    if (count(f.get("max_samples"), "query.max_samples", c.query_max_samples) &&
        c.query_max_samples == 0) {
      error(pos_of(*f.get("max_samples")), "query.max_samples", "must be greater than 0");
      c.query_max_samples = Config{}.query_max_samples;
    }
    duration(f.get("timeout"), "query.timeout", c.query_timeout_ms);
  }

  void load_traces(const YAML::Node& n) {
    Fields f;
    if (!fields(n, "traces", {"enabled", "max_spans", "max_bytes", "max_spans_per_trace"}, f))
      return;
    Config& c = result_.config;
    boolean(f.get("enabled"), "traces.enabled", c.traces_enabled);
    traces::Limits& l = c.trace_limits;
    for (auto [key, field] :
         {std::pair{"max_spans", &traces::Limits::max_spans},
          std::pair{"max_spans_per_trace", &traces::Limits::max_spans_per_trace}}) {
      const std::string path = std::string("traces.") + key;
      if (count(f.get(key), path, l.*field) && l.*field == 0) {
        error(pos_of(*f.get(key)), path, "must be greater than 0");
        l.*field = traces::Limits{}.*field;
      }
    }
    if (size(f.get("max_bytes"), "traces.max_bytes", l.max_bytes) && l.max_bytes == 0) {
      error(pos_of(*f.get("max_bytes")), "traces.max_bytes", "must be greater than 0");
      l.max_bytes = traces::Limits{}.max_bytes;
    }
  }

  void load_global(const YAML::Node& n) {
    Fields f;
    if (!fields(n, "global",
                {"scrape_interval", "scrape_timeout", "evaluation_interval", "body_size_limit",
                 "sample_limit", "job_alert_for", "job_missed_run_for", "job_run_too_long_for",
                 "runbook_base_url"},
                f))
      return;
    Config& c = result_.config;
    duration(f.get("scrape_interval"), "global.scrape_interval", c.scrape_interval_ms);
    duration(f.get("scrape_timeout"), "global.scrape_timeout", c.scrape_timeout_ms);
    duration(f.get("evaluation_interval"), "global.evaluation_interval", c.evaluation_interval_ms);
    size(f.get("body_size_limit"), "global.body_size_limit", c.body_size_limit);
    count(f.get("sample_limit"), "global.sample_limit", c.sample_limit);
    duration(f.get("job_alert_for"), "global.job_alert_for", c.job_alert_for_ms);
    duration(f.get("job_missed_run_for"), "global.job_missed_run_for", c.job_missed_run_for_ms,
             /*allow_zero=*/true);
    duration(f.get("job_run_too_long_for"), "global.job_run_too_long_for",
             c.job_run_too_long_for_ms, /*allow_zero=*/true);
    if (const YAML::Node* n = f.get("runbook_base_url")) {
      std::string base;
      if (url(n, "global.runbook_base_url", base)) {
        // The runbook's path and its #anchor are appended to it.
        if (base.find_first_of("?#") != std::string::npos)
          error(pos_of(*n), "global.runbook_base_url",
                fmt::format("{} has a query or a fragment; give the base the runbook path "
                            "(docs/alerts.md#<alert>) is appended to",
                            quote(base)));
        else
          c.runbook_base_url = std::move(base);
      }
    }
    if (c.scrape_timeout_ms > c.scrape_interval_ms) {
      const YAML::Node* at =
          f.get("scrape_timeout") ? f.get("scrape_timeout") : f.get("scrape_interval");
      error(at ? pos_of(*at) : pos_of(n),
            f.get("scrape_timeout") ? "global.scrape_timeout" : "global.scrape_interval",
            fmt::format("scrape_timeout {} is greater than scrape_interval {}",
                        promql::format_duration(c.scrape_timeout_ms),
                        promql::format_duration(c.scrape_interval_ms)));
    }
  }

  // Reads `name`, required; remembers its position for duplicate errors.
  bool required_name(const Fields& f, const YAML::Node& n, const std::string& key,
                     std::string& out) {
    name_pos_ = pos_of(n);
    const YAML::Node* name = f.get("name");
    if (!name) {
      error(pos_of(n), key + ".name", "is required");
      return false;
    }
    name_pos_ = pos_of(*name);
    if (!scalar(name, key + ".name", out)) return false;
    if (!valid_object_name(out)) {
      error(pos_of(*name), key + ".name",
            fmt::format("invalid name {} (1-{} characters of A-Z a-z 0-9 . _ : -)", quote(out),
                        kMaxNameLength));
      out.clear();
      return false;
    }
    return true;
  }

  bool load_target(const YAML::Node& n, const std::string& key, Target& t) {
    const Config& c = result_.config;
    t.line = pos_of(n).line;
    t.interval_ms = c.scrape_interval_ms;
    t.body_size_limit = c.body_size_limit;
    t.sample_limit = c.sample_limit;
    Fields f;
    if (!fields(n, key,
                {"name",
                 "workload",
                 "metrics_url",
                 "ready_url",
                 "targets",
                 "static_configs",
                 "file_sd_configs",
                 "dns_sd_configs",
                 "metrics_path",
                 "ready_path",
                 "scheme",
                 "relabel_configs",
                 "metric_relabel_configs",
                 "interval",
                 "timeout",
                 "honor_labels",
                 "labels",
                 "thresholds",
                 "body_size_limit",
                 "sample_limit",
                 "rule_pack",
                 "tls_config",
                 "authorization",
                 "basic_auth"},
                f)) {
      return false;
    }
    required_name(f, n, key, t.name);
    const Pos name_pos = name_pos_;
    if (const YAML::Node* w = f.get("workload")) {
      std::string s;
      if (scalar(w, key + ".workload", s)) {
        if (s == "api") {
          t.workload = rulepack::Workload::kApi;
        } else if (s == "worker") {
          t.workload = rulepack::Workload::kWorker;
        } else if (s == "job") {
          t.workload = rulepack::Workload::kJob;
        } else if (s == "other") {
          t.workload = rulepack::Workload::kOther;
        } else {
          error(pos_of(*w), key + ".workload",
                fmt::format("unknown workload {} (expected api, worker, job or other)", quote(s)));
        }
      }
    }
    load_instances(n, f, key, t);
    load_http(f, key, t);
    duration(f.get("interval"), key + ".interval", t.interval_ms);
    if (const YAML::Node* to = f.get("timeout")) {
      if (duration(to, key + ".timeout", t.timeout_ms) && t.timeout_ms > t.interval_ms) {
        error(pos_of(*to), key + ".timeout",
              fmt::format("timeout {} is greater than interval {}",
                          promql::format_duration(t.timeout_ms),
                          promql::format_duration(t.interval_ms)));
      }
    } else {
      t.timeout_ms = std::min(c.scrape_timeout_ms, t.interval_ms);
    }
    boolean(f.get("honor_labels"), key + ".honor_labels", t.honor_labels);
    size(f.get("body_size_limit"), key + ".body_size_limit", t.body_size_limit);
    count(f.get("sample_limit"), key + ".sample_limit", t.sample_limit);
    if (const YAML::Node* l = f.get("labels")) load_labels(*l, key + ".labels", t.labels);
    if (const YAML::Node* th = f.get("thresholds"))
      load_thresholds(*th, key + ".thresholds", t.thresholds, &threshold_pos_);
    if (const YAML::Node* rp = f.get("rule_pack"))
      load_rule_pack(*rp, key + ".rule_pack", t.rule_pack_enabled, t.rule_pack_alerts, t.workload);
    name_pos_ = name_pos;
    return true;
  }

  // Where a target's instances come from: metrics_url (one), or any of
  // targets, static_configs, file_sd_configs, dns_sd_configs (many).
  void load_instances(const YAML::Node& n, const Fields& f, const std::string& key, Target& t) {
    const char* const many[] = {"targets", "static_configs", "file_sd_configs", "dns_sd_configs"};
    const char* const many_only[] = {"metrics_path", "ready_path", "scheme"};
    const YAML::Node* first_many = nullptr;
    std::string first_many_key;
    for (const char* k : many)
      if (f.get(k) && !first_many) {
        first_many = f.get(k);
        first_many_key = k;
      }
    if (const YAML::Node* u = f.get("metrics_url")) {
      if (first_many) {
        error(pos_of(*first_many), key + "." + first_many_key,
              "a target has either metrics_url (one instance) or a list of instances "
              "(targets, static_configs, file_sd_configs, dns_sd_configs), not both");
        return;
      }
      url(u, key + ".metrics_url", t.metrics_url);
      url(f.get("ready_url"), key + ".ready_url", t.ready_url);
      for (const char* k : many_only)
        if (const YAML::Node* x = f.get(k))
          error(pos_of(*x), join_key(key, k),
                fmt::format("{} goes with a list of instances; with metrics_url, write the "
                            "whole URL{}",
                            k, std::string_view(k) == "ready_path" ? " as ready_url" : ""));
    } else if (!first_many) {
      error(pos_of(n), key + ".metrics_url",
            "is required (or a list of instances: targets, static_configs, file_sd_configs, "
            "dns_sd_configs)");
      return;
    } else if (const YAML::Node* r = f.get("ready_url")) {
      error(pos_of(*r), key + ".ready_url",
            "a target with a list of instances probes each at ready_path (e.g. /readyz)");
    }
    std::string scheme;
    if (scalar(f.get("scheme"), key + ".scheme", scheme)) {
      if (scheme == "http" || scheme == "https")
        t.scheme = scheme;
      else
        error(pos_of(*f.get("scheme")), key + ".scheme",
              fmt::format("unsupported scheme {} (expected http or https)", quote(scheme)));
    }
    for (auto [k, out] : {std::pair<const char*, std::string*>{"metrics_path", &t.metrics_path},
                          {"ready_path", &t.ready_path}}) {
      const YAML::Node* p = f.get(k);
      if (!p || !scalar(p, join_key(key, k), *out)) continue;
      if (out->empty() || out->front() != '/' ||
          !firebreak::valid_http_url("http://h" + *out, nullptr)) {
        error(pos_of(*p), join_key(key, k),
              fmt::format("not an absolute path: {} (e.g. /metrics)", quote(*out)));
        out->clear();
      }
    }
    each(f.get("targets"), key + ".targets", [&](const YAML::Node& item, const std::string& ikey) {
      discovery::TargetGroup g{.source = ikey};
      std::string address;
      if (item.IsMap()) {
        Fields tf;
        if (!fields(item, ikey, {"address", "labels"}, tf)) return;
        if (!tf.get("address")) {
          error(pos_of(item), ikey + ".address", "is required");
          return;
        }
        if (!static_address(tf.get("address"), ikey + ".address", address)) return;
        if (const YAML::Node* l = tf.get("labels")) {
          std::vector<watch::Label> labels;
          load_labels(*l, ikey + ".labels", labels);
          g.labels = LabelSet::from(std::move(labels));
        }
      } else if (!static_address(&item, ikey, address)) {
        return;
      }
      g.targets.push_back(LabelSet::from({{discovery::kAddressLabel, address}}));
      t.static_groups.push_back(std::move(g));
    });
    each(f.get("static_configs"), key + ".static_configs",
         [&](const YAML::Node& item, const std::string& ikey) {
           Fields sf;
           if (!fields(item, ikey, {"targets", "labels"}, sf)) return;
           discovery::TargetGroup g{.source = ikey};
           each(sf.get("targets"), ikey + ".targets",
                [&](const YAML::Node& a, const std::string& akey) {
                  std::string address;
                  if (static_address(&a, akey, address))
                    g.targets.push_back(LabelSet::from({{discovery::kAddressLabel, address}}));
                });
           if (const YAML::Node* l = sf.get("labels")) {
             std::vector<watch::Label> labels;
             load_labels(*l, ikey + ".labels", labels, /*reserved_ok=*/true);
             g.labels = LabelSet::from(std::move(labels));
           }
           t.static_groups.push_back(std::move(g));
         });
    each(f.get("file_sd_configs"), key + ".file_sd_configs",
         [&](const YAML::Node& item, const std::string& ikey) {
           Fields sf;
           if (!fields(item, ikey, {"files", "refresh_interval"}, sf)) return;
           discovery::FileSdConfig c;
           if (!sf.get("files")) error(pos_of(item), ikey + ".files", "is required");
           each(sf.get("files"), ikey + ".files",
                [&](const YAML::Node& file, const std::string& fkey) {
                  std::string path;
                  if (!scalar(&file, fkey, path)) return;
                  const std::string name = fs::path(path).filename().string();
                  const bool ext =
                      name.ends_with(".json") || name.ends_with(".yml") || name.ends_with(".yaml");
                  const std::string dir = fs::path(path).parent_path().string();
                  if (!ext) {
                    error(pos_of(file), fkey,
                          fmt::format("{}: a file SD path must end in .json, .yml or .yaml",
                                      quote(path)));
                  } else if (dir.find_first_of("*?[") != std::string::npos) {
                    error(
                        pos_of(file), fkey,
                        fmt::format("{}: wildcards only in the last path component", quote(path)));
                  } else {
                    c.files.push_back(resolve(path));
                  }
                });
           duration(sf.get("refresh_interval"), ikey + ".refresh_interval", c.refresh_interval_ms);
           t.file_sd.push_back(std::move(c));
         });
    each(f.get("dns_sd_configs"), key + ".dns_sd_configs",
         [&](const YAML::Node& item, const std::string& ikey) {
           Fields sf;
           if (!fields(item, ikey, {"names", "type", "port", "refresh_interval"}, sf)) return;
           discovery::DnsSdConfig c;
           if (!sf.get("names")) error(pos_of(item), ikey + ".names", "is required");
           each(
               sf.get("names"), ikey + ".names",
               [&](const YAML::Node& name, const std::string& nkey) {
                 std::string s;
                 if (!scalar(&name, nkey, s)) return;
                 if (s.empty() || s.size() > 253 || s.find_first_of(" \t/:") != std::string::npos) {
                   error(pos_of(name), nkey, fmt::format("not a DNS name: {}", quote(s)));
                   return;
                 }
                 c.names.push_back(s);
               });
           std::string type = "SRV";
           if (scalar(sf.get("type"), ikey + ".type", type)) {
             if (auto parsed = discovery::parse_dns_type(type)) {
               c.type = *parsed;
             } else {
               error(pos_of(*sf.get("type")), ikey + ".type",
                     fmt::format("invalid DNS-SD records type {} (expected SRV, A, AAAA or MX)",
                                 quote(type)));
             }
           }
           std::size_t port = 0;
           if (count(sf.get("port"), ikey + ".port", port)) {
             if (port == 0 || port > 65535)
               error(pos_of(*sf.get("port")), ikey + ".port", "must be 1-65535");
             else
               c.port = static_cast<std::uint16_t>(port);
           } else if (!sf.get("port") && c.type != discovery::DnsSdConfig::Type::kSrv) {
             error(pos_of(item), ikey + ".port",
                   fmt::format("is required for {} records (SRV records carry their port)", type));
           }
           duration(sf.get("refresh_interval"), ikey + ".refresh_interval", c.refresh_interval_ms);
           t.dns_sd.push_back(std::move(c));
         });
    load_relabel(f.get("relabel_configs"), key + ".relabel_configs", t.relabel_configs);
    load_relabel(f.get("metric_relabel_configs"), key + ".metric_relabel_configs",
                 t.metric_relabel_configs);
  }

  // tls_config, authorization and basic_auth: Prometheus's http_config,
  // inline as in its scrape_config, read by the loader receivers use.
  void load_http(const Fields& f, const std::string& key, Target& t) {
    YAML::Node http(YAML::NodeType::Map);
    bool any = false;
    for (const char* k : {"tls_config", "authorization", "basic_auth"}) {
      if (const YAML::Node* v = f.get(k)) {
        http.force_insert(k, *v);
        any = true;
      }
    }
    if (!any) return;
    std::vector<yamlconf::Error> errors;
    yamlconf::Reader reader(result_.config.dir, errors);
    yamlconf::load_http_config(reader, http, key, t.http, options_.check_files);
    for (yamlconf::Error& e : errors) error({e.line, e.column}, std::move(e.key), e.message);
  }

  // A static instance: host:port (the port may be left out: 80).
  bool static_address(const YAML::Node* n, const std::string& key, std::string& out) {
    if (!scalar(n, key, out)) return false;
    if (out.empty() || out.find('/') != std::string::npos ||
        out.find_first_of(" \t") != std::string::npos) {
      error(pos_of(*n), key,
            fmt::format("not host:port: {}{}", quote(out),
                        out.find("://") != std::string::npos
                            ? " (an instance is an address; the path is metrics_path)"
                            : ""));
      return false;
    }
    return true;
  }

  void load_relabel(const YAML::Node* list, const std::string& key,
                    std::vector<relabel::Rule>& out) {
    each(list, key, [&](const YAML::Node& item, const std::string& ikey) {
      Fields rf;
      const std::size_t errors_before = result_.errors.size();
      if (!fields(item, ikey,
                  {"source_labels", "separator", "regex", "modulus", "target_label", "replacement",
                   "action"},
                  rf))
        return;
      relabel::RelabelSpec spec;
      each(rf.get("source_labels"), ikey + ".source_labels",
           [&](const YAML::Node& l, const std::string& lkey) {
             std::string name;
             if (!scalar(&l, lkey, name)) return;
             if (!rules::valid_label_name(name))
               error(pos_of(l), lkey, fmt::format("invalid label name {}", quote(name)));
             spec.source_labels.push_back(name);
           });
      scalar(rf.get("separator"), ikey + ".separator", spec.separator);
      std::string s;
      if (scalar(rf.get("regex"), ikey + ".regex", s)) spec.regex = s;
      std::size_t modulus = 0;
      if (count(rf.get("modulus"), ikey + ".modulus", modulus)) spec.modulus = modulus;
      if (scalar(rf.get("target_label"), ikey + ".target_label", s)) spec.target_label = s;
      if (scalar(rf.get("replacement"), ikey + ".replacement", s)) spec.replacement = s;
      scalar(rf.get("action"), ikey + ".action", spec.action);
      // A misspelt key already said what is wrong: the rule without it
      // would only add a confusing second error.
      if (result_.errors.size() != errors_before) return;
      std::string why;
      if (auto rule = relabel::compile(spec, &why)) {
        out.push_back(*std::move(rule));
      } else {
        // At the value the reason is about, when it names one.
        const char* at = why.rfind("regex", 0) == 0                      ? "regex"
                         : why.find("action \"") != std::string::npos    ? "action"
                         : why.find("target_label") != std::string::npos ? "target_label"
                         : why.find("modulus") != std::string::npos      ? "modulus"
                                                                         : nullptr;
        const YAML::Node* v = at ? rf.get(at) : nullptr;
        error(v ? pos_of(*v) : pos_of(item), v ? ikey + "." + at : ikey, why);
      }
    });
  }

  void load_labels(const YAML::Node& n, const std::string& key, std::vector<watch::Label>& out,
                   bool reserved_ok = false) {
    if (!n.IsMap()) {
      error(pos_of(n), key, fmt::format("expected a mapping, got {}", type_name(n)));
      return;
    }
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!charge()) return;
      const YAML::Node k = it->first;  // the iterator hands out temporaries
      if (!k.IsScalar()) {
        error(pos_of(k), key, "keys must be strings");
        continue;
      }
      const std::string name = k.Scalar();
      const std::string lkey = join_key(key, name);
      if (!rules::valid_label_name(name)) {
        error(pos_of(k), lkey, fmt::format("invalid label name {}", quote(name)));
        continue;
      }
      if (!reserved_ok && (name == "job" || name == "instance" || name.rfind("__", 0) == 0)) {
        error(pos_of(k), lkey,
              fmt::format("reserved label name {} (watch sets job and instance; __* are "
                          "internal)",
                          quote(name)));
        continue;
      }
      if (!seen.insert(name).second) {
        error(pos_of(k), lkey, "key repeated");
        continue;
      }
      const YAML::Node v = it->second;
      std::string value;
      if (!v.IsNull() && !scalar(&v, lkey, value)) continue;
      out.push_back({name, value});
    }
    std::sort(out.begin(), out.end());
  }

  // `positions` (when given) gets each key's position, for warnings.
  void load_thresholds(const YAML::Node& n, const std::string& key, rulepack::Thresholds& t,
                       std::map<std::string, Pos>* positions = nullptr) {
    std::vector<std::string_view> allowed;
    for (const auto& field : kThresholdFields) allowed.push_back(field.key);
    Fields f;
    if (!fields(n, key, allowed, f)) return;
    for (const auto& field : kThresholdFields) {
      const YAML::Node* v = f.get(field.key);
      if (!v) continue;
      const std::string fkey = join_key(key, field.key);
      if (positions) (*positions)[std::string(field.key)] = pos_of(*v);
      switch (field.kind) {
        case TK::kDuration:
          if (field.optional_ms) {
            std::int64_t ms = 0;
            if (duration(v, fkey, ms)) t.*field.optional_ms = ms;
          } else {
            duration(v, fkey, t.*field.ms);
          }
          break;
        case TK::kFor: {
          std::int64_t ms = 0;
          if (duration(v, fkey, ms, /*allow_zero=*/true)) t.*field.optional_ms = ms;
          break;
        }
        case TK::kSeconds: {
          std::string s;
          if (!scalar(v, fkey, s)) break;
          std::int64_t ms = 0;
          double seconds = 0;
          if (rules::parse_prom_duration(s, ms)) {
            seconds = static_cast<double>(ms) / 1000.0;
          } else if (!to_number(s, seconds)) {
            error(pos_of(*v), fkey,
                  fmt::format("not a duration: {} (expected e.g. 250ms, 1s, or seconds as a "
                              "number)",
                              quote(s)));
            break;
          }
          if (!(seconds > 0)) {
            error(pos_of(*v), fkey, "must be greater than 0");
            break;
          }
          t.*field.value = seconds;
          break;
        }
        case TK::kNumber: {
          double x = 0;
          if (!number(v, fkey, x)) break;
          if (field.key == "regression_factor" && !(x > 1)) {
            error(pos_of(*v), fkey, "must be greater than 1");
          } else if (field.key == "regression_min_request_rate" && x < 0) {
            error(pos_of(*v), fkey, "must not be negative");
          } else if (field.key == "availability_objective" && !(x > 0 && x < 1)) {
            error(pos_of(*v), fkey, "must be between 0 and 1 (exclusive), e.g. 0.999");
          } else {
            t.*field.value = x;
          }
          break;
        }
      }
    }
    auto shorter = [&](std::string_view short_key, std::int64_t short_ms, std::string_view long_key,
                       std::int64_t long_ms) {
      if (short_ms < long_ms) return;
      const YAML::Node* at = f.get(short_key) ? f.get(short_key) : f.get(long_key);
      error(at ? pos_of(*at) : pos_of(n), join_key(key, f.get(short_key) ? short_key : long_key),
            fmt::format("{} ({}) must be shorter than {} ({})", short_key,
                        promql::format_duration(short_ms), long_key,
                        promql::format_duration(long_ms)));
    };
    shorter("fast_burn_short_window", t.fast_burn_short_window_ms, "fast_burn_long_window",
            t.fast_burn_long_window_ms);
    shorter("slow_burn_short_window", t.slow_burn_short_window_ms, "slow_burn_long_window",
            t.slow_burn_long_window_ms);
  }

  // rule_pack: {enabled, alerts}, globally (workload nullopt: any alert of
  // the pack) or for a target (only its workload's alerts).
  void load_rule_pack(const YAML::Node& n, const std::string& key, std::optional<bool>& enabled,
                      std::optional<std::vector<std::string>>& alerts,
                      std::optional<rulepack::Workload> workload, bool* inhibit_rules = nullptr) {
    Fields f;
    std::vector<std::string_view> keys = {"enabled", "alerts"};
    if (inhibit_rules) keys.push_back("inhibit_rules");  // global only
    if (!fields(n, key, keys, f)) return;
    bool on = true;
    if (boolean(f.get("enabled"), key + ".enabled", on)) enabled = on;
    if (inhibit_rules) boolean(f.get("inhibit_rules"), key + ".inhibit_rules", *inhibit_rules);
    const YAML::Node* list = f.get("alerts");
    if (!list) return;
    if (!list->IsSequence()) {
      error(pos_of(*list), key + ".alerts",
            fmt::format("expected a list, got {}", type_name(*list)));
      return;
    }
    const std::vector<std::string>& known = rulepack::alert_names();
    std::vector<std::string_view> names(known.begin(), known.end());
    const std::vector<std::string> own =
        workload ? rulepack::workload_alerts(*workload) : std::vector<std::string>{};
    std::vector<std::string> out;
    each(list, key + ".alerts", [&](const YAML::Node& item, const std::string& ikey) {
      std::string name;
      if (!scalar(&item, ikey, name)) return;
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        error(pos_of(item), ikey,
              fmt::format("not an alert of the rule pack: {}{}", quote(name),
                          suggestion_suffix(name, names)));
        return;
      }
      if (workload && std::find(own.begin(), own.end(), name) == own.end()) {
        error(pos_of(item), ikey,
              fmt::format("{} is not an alert of {} targets (they get: {})", name,
                          rulepack::to_string(*workload), fmt::join(own, ", ")));
        return;
      }
      if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    });
    alerts = std::move(out);
  }

  // The pack's noise warnings for a target, at the threshold they are about
  // (the target's entry when that threshold is a default).
  void warn_noise(const Target& t, const std::string& key) {
    rulepack::TargetSpec spec{.name = t.name,
                              .workload = t.workload,
                              .thresholds = t.thresholds,
                              .alerts = effective_alerts(result_.config, t)};
    for (const auto& w :
         rulepack::noise_warnings(spec, rule_pack_options(result_.config), t.interval_ms)) {
      auto at = threshold_pos_.find(w.key);
      const Pos pos = at != threshold_pos_.end() ? at->second : Pos{t.line, 0};
      result_.warnings.push_back(
          {result_.config.path, pos.line, pos.column, key + ".thresholds." + w.key, w.message});
    }
  }

  bool load_job(const YAML::Node& n, const std::string& key, Job& j) {
    j.line = pos_of(n).line;
    j.time_zone = "UTC";
    Fields f;
    if (!fields(n, key, {"name", "schedule", "timezone", "grace", "max_run_time"}, f)) return false;
    required_name(f, n, key, j.name);
    const Pos name_pos = name_pos_;
    bool zone_ok = true;
    if (const YAML::Node* z = f.get("timezone")) {
      std::string zone;
      if (scalar(z, key + ".timezone", zone)) {
        auto probe = checkin::Schedule::parse_cron("@daily", zone);
        if (!probe.ok()) {
          error(pos_of(*z), key + ".timezone", probe.error().to_string());
          zone_ok = false;
        } else {
          j.time_zone = zone;
        }
      }
    }
    if (const YAML::Node* s = f.get("schedule")) {
      if (scalar(s, key + ".schedule", j.schedule)) {
        auto parsed = parse_schedule(j.schedule, zone_ok ? j.time_zone : "UTC");
        if (!parsed.ok()) error(pos_of(*s), key + ".schedule", parsed.error().to_string());
      }
    } else {
      error(pos_of(n), key + ".schedule", "is required");
    }
    whole_seconds(f.get("grace"), key + ".grace", j.grace_ms, false);
    whole_seconds(f.get("max_run_time"), key + ".max_run_time", j.max_run_time_ms, true);
    name_pos_ = name_pos;
    return true;
  }

  void load_receivers(const YAML::Node* list) {
    std::map<std::string, int> receiver_lines;
    each(list, "receivers", [&](const YAML::Node& n, const std::string& key) {
      Receiver r;
      if (!load_receiver(n, key, r)) return;
      if (!r.name.empty()) {
        auto [it, inserted] = receiver_lines.emplace(r.name, r.line);
        if (!inserted) {
          error(name_pos_, key + ".name",
                fmt::format("duplicate receiver name {} (also at line {})", quote(r.name),
                            it->second));
        }
      }
      result_.config.receivers.push_back(std::move(r));
    });
  }

  // route, inhibit_rules, time_intervals and mute_time_intervals, in
  // Alertmanager's shapes (watch/routing checks them as 0.25 does).
  void load_routing_blocks(const YAML::Node& root) {
    std::vector<std::string> names;
    for (const Receiver& r : result_.config.receivers) names.push_back(r.name);
    std::vector<routing::Error> errors;
    routing::RoutingConfig routing = routing::load_routing(root, names, errors);
    for (routing::Error& e : errors) error({e.line, e.column}, std::move(e.key), e.message);
    if (errors.empty()) result_.config.routing = std::move(routing);
  }

  // An alertmanager.yml used unchanged: its receivers and routing replace
  // those keys here; errors name that file.
  void load_alertmanager_config(const YAML::Node& n) {
    std::string path;
    if (!scalar(&n, "alertmanager_config", path)) return;
    if (path.empty()) {
      error(pos_of(n), "alertmanager_config", "must not be empty");
      return;
    }
    Config& c = result_.config;
    c.alertmanager_config = resolve(path);
    std::ifstream in(c.alertmanager_config, std::ios::binary);
    if (!in) {
      error(pos_of(n), "alertmanager_config",
            fmt::format("cannot read {}: {}", c.alertmanager_config, std::strerror(errno)));
      return;
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.size() > kMaxConfigBytes) {
      error(pos_of(n), "alertmanager_config",
            fmt::format("{} is too large: {} bytes (at most {})", c.alertmanager_config,
                        text.size(), kMaxConfigBytes));
      return;
    }
    current_file_ = c.alertmanager_config;
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      error({e.mark.line + 1, e.mark.column + 1}, "", "yaml: " + e.msg);
      current_file_.clear();
      return;
    }
    if (!root.IsMap()) {
      error(pos_of(root), "", "expected a mapping (an alertmanager.yml)");
      current_file_.clear();
      return;
    }
    Fields f;
    if (fields(root, "",
               {"global", "route", "inhibit_rules", "receivers", "templates", "time_intervals",
                "mute_time_intervals"},
               f)) {
      if (const YAML::Node* g = f.get("global")) load_am_global(*g);
      if (const YAML::Node* t = f.get("templates");
          t && !(t->IsSequence() && t->size() == 0) && !t->IsNull())
        error(pos_of(*t), "templates",
              "custom notification templates are not supported; watch uses Alertmanager's "
              "default templates");
      load_receivers(f.get("receivers"));
      load_routing_blocks(root);
    }
    am_defaults_ = {};
    current_file_.clear();
  }

  // Alertmanager's `global`: resolve_timeout here; the integrations'
  // defaults (smtp_*, slack_api_url, http_config, ...) for the file's receivers.
  void load_am_global(const YAML::Node& n) {
    if (!n.IsMap()) {
      error(pos_of(n), "global", fmt::format("expected a mapping, got {}", type_name(n)));
      return;
    }
    std::vector<routing::Error> errors;
    am_defaults_ = alerting::load_integration_defaults(n, result_.config.dir, errors);
    for (routing::Error& e : errors) error({e.line, e.column}, std::move(e.key), e.message);
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node k = it->first;
      if (k.IsScalar() && k.Scalar() == "resolve_timeout")
        duration(&it->second, "global.resolve_timeout", result_.config.resolve_timeout_ms);
    }
  }

  // A receiver: its name, Alertmanager's `*_configs` lists
  // (alerting::load_integrations) and firebreak's `webhook` and `log`
  // shorthands, numbered after the lists' items of the same kind.
  bool load_receiver(const YAML::Node& n, const std::string& key, Receiver& r) {
    r.line = pos_of(n).line;
    if (!n.IsMap()) {
      error(pos_of(n), key, fmt::format("expected a mapping, got {}", type_name(n)));
      return false;
    }
    YAML::Node lists(YAML::NodeType::Map);
    const YAML::Node* webhook = nullptr;
    const YAML::Node* log = nullptr;
    bool has_name = false;
    std::vector<YAML::Node> held;  // keeps the shorthands' nodes alive
    held.reserve(2);
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node k = it->first;
      if (k.IsScalar() && (k.Scalar() == "webhook" || k.Scalar() == "log")) {
        if ((k.Scalar() == "webhook" ? webhook : log) != nullptr) {
          error(pos_of(k), join_key(key, k.Scalar()), "key repeated");
          continue;
        }
        held.push_back(it->second);
        (k.Scalar() == "webhook" ? webhook : log) = &held.back();
        continue;
      }
      lists.force_insert(k, it->second);
      if (k.IsScalar() && k.Scalar() == "name") {
        has_name = true;
        name_pos_ = pos_of(it->second);
        if (scalar(&it->second, key + ".name", r.name) && r.name.empty())
          error(pos_of(it->second), key + ".name", "must not be empty");
      }
    }
    if (!has_name) {
      name_pos_ = pos_of(n);
      error(pos_of(n), key + ".name", "is required");
    }
    const Pos name_pos = name_pos_;
    std::vector<routing::Error> errors;
    r.integrations =
        alerting::load_integrations(lists, key, result_.config.dir, errors, &am_defaults_);
    for (routing::Error& e : errors) error({e.line, e.column}, std::move(e.key), e.message);
    const auto next_index = [&](std::string_view kind) {
      std::size_t i = 0;
      for (const Integration& in : r.integrations) i += in.kind == kind ? 1 : 0;
      return i;
    };
    if (webhook) {
      Integration in{
          .kind = "webhook", .index = next_index("webhook"), .line = pos_of(*webhook).line};
      alerting::WebhookConfig w;
      const std::string wkey = key + ".webhook";
      Fields wf;
      if (webhook->IsNull()) {
        error(pos_of(n), wkey + ".url", "is required");
      } else if (fields(*webhook, wkey, {"url", "timeout", "max_alerts"}, wf)) {
        if (const YAML::Node* u = wf.get("url"))
          url(u, wkey + ".url", w.url);
        else
          error(pos_of(*webhook), wkey + ".url", "is required");
        std::int64_t timeout_ms = 10'000;
        duration(wf.get("timeout"), wkey + ".timeout", timeout_ms);
        w.timeout = std::chrono::milliseconds(timeout_ms);
        count(wf.get("max_alerts"), wkey + ".max_alerts", w.max_alerts);
        in.config = std::move(w);
        r.integrations.push_back(std::move(in));
      }
    }
    // The same integrations in Alertmanager's shape, for export.
    YAML::Node am = YAML::Clone(lists);
    am.remove("name");
    if (webhook && !webhook->IsNull() && webhook->IsMap()) {
      YAML::Node item(YAML::NodeType::Map);
      for (const char* k : {"url", "max_alerts"})
        if ((*webhook)[k]) item[k] = YAML::Clone((*webhook)[k]);
      am["webhook_configs"].push_back(item);
    }
    if (am.size() > 0) {
      YAML::Emitter e;
      e << am;
      r.alertmanager_yaml = e.c_str();
    }
    if (log) {
      if (!log->IsNull()) {
        Fields lf;
        fields(*log, key + ".log", {}, lf);
      }
      r.integrations.push_back({.kind = "log",
                                .index = next_index("log"),
                                .line = pos_of(*log).line,
                                .config = alerting::LogConfig{}});
    }
    name_pos_ = name_pos;
    return true;
  }

  void load_rule_files(const YAML::Node* n) {
    std::set<std::string> files;
    std::set<std::string> patterns;
    each(n, "rule_files", [&](const YAML::Node& item, const std::string& key) {
      std::string pattern;
      if (!item.IsNull() && !scalar(&item, key, pattern)) return;
      if (pattern.empty()) {
        error(pos_of(item), key, "must not be empty");
        return;
      }
      if (!patterns.insert(pattern).second) return;  // expanded once
      if (patterns.size() > kMaxRuleFilePatterns) {
        if (patterns.size() == kMaxRuleFilePatterns + 1)
          error(pos_of(item), key, fmt::format("more than {} entries", kMaxRuleFilePatterns));
        return;
      }
      const std::string resolved = resolve(pattern);
      if (!options_.load_rule_files) {
        files.insert(resolved);
        return;
      }
      if (has_glob_chars(pattern)) {
        glob_t g{};
        const int rc = ::glob(resolved.c_str(), 0, nullptr, &g);
        if (rc == 0) {
          if (g.gl_pathc > kMaxGlobMatches) {
            error(pos_of(item), key,
                  fmt::format("glob {} matches {} files (at most {})", quote(pattern), g.gl_pathc,
                              kMaxGlobMatches));
          } else {
            for (std::size_t i = 0; i < g.gl_pathc; ++i) {
              struct stat st {};
              if (::stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode))
                files.insert(fs::path(g.gl_pathv[i]).lexically_normal().string());
            }
          }
        } else if (rc != GLOB_NOMATCH) {
          error(pos_of(item), key, fmt::format("cannot expand glob {}", quote(resolved)));
        }
        ::globfree(&g);
        return;
      }
      struct stat st {};
      if (::stat(resolved.c_str(), &st) != 0) {
        error(pos_of(item), key, fmt::format("no such file: {}", resolved));
      } else if (!S_ISREG(st.st_mode)) {
        error(pos_of(item), key, fmt::format("not a regular file: {}", resolved));
      } else {
        files.insert(resolved);
      }
    });
    result_.config.rule_files.assign(files.begin(), files.end());
    if (!options_.load_rule_files) return;
    for (const std::string& file : result_.config.rule_files) {
      if (stop_) return;
      const rules::LoadResult r = rules::load_rule_file(file);
      for (const auto& e : r.errors) error_in(e.file, {e.pos.line, e.pos.column}, e.key, e.message);
    }
  }

  ParseOptions options_;
  LoadResult result_;
  Pos name_pos_;              // of the last entry's name (for duplicate-name errors)
  std::string current_file_;  // errors name this file when set (alertmanager_config)
  alerting::IntegrationDefaults am_defaults_;  // its `global` block's, while it is read
  Pos retention_pos_;                          // of storage.retention, when given
  std::map<std::string, Pos> threshold_pos_;   // the current target's thresholds' keys
  std::size_t work_ = 0;
  bool budget_reported_ = false;
  bool stop_ = false;
};

}  // namespace

LoadResult parse_config(std::string_view yaml_text, std::string_view path,
                        const ParseOptions& options) {
  return Loader(path, options).run(yaml_text);
}

LoadResult load_config(const std::string& path, const ParseOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r = Loader(path, options).run("");
    r.errors.push_back({path, 0, 0, "", "cannot open " + path + ": no such file or not readable"});
    return r;
  }
  std::string text(kMaxConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) {
    LoadResult r = Loader(path, options).run("");
    r.errors.push_back({path, 0, 0, "", "cannot read " + path});
    return r;
  }
  if (text.size() > kMaxConfigBytes) {
    LoadResult r = Loader(path, options).run("");
    r.errors.push_back(
        {path, 0, 0, "", fmt::format("file too large (more than {} bytes)", kMaxConfigBytes)});
    return r;
  }
  return parse_config(text, path, options);
}

std::vector<rulepack::TargetSpec> rule_pack_targets(const Config& config) {
  std::vector<rulepack::TargetSpec> out;
  out.reserve(config.targets.size());
  for (const Target& t : config.targets)
    out.push_back({.name = t.name,
                   .workload = t.workload,
                   .thresholds = t.thresholds,
                   .alerts = effective_alerts(config, t)});
  return out;
}

std::vector<std::string> effective_alerts(const Config& config, const Target& target) {
  const std::vector<std::string> own = rulepack::workload_alerts(target.workload);
  if (!target.rule_pack_enabled.value_or(config.rule_pack_enabled)) return {};
  // A target's own list, else the global list, else everything.
  const std::optional<std::vector<std::string>>& chosen =
      target.rule_pack_alerts    ? target.rule_pack_alerts
      : target.rule_pack_enabled ? std::optional<std::vector<std::string>>{}
                                 : config.rule_pack_alerts;
  if (!chosen) return own;
  std::vector<std::string> out;
  for (const std::string& a : own)
    if (std::find(chosen->begin(), chosen->end(), a) != chosen->end()) out.push_back(a);
  return out;
}

rulepack::RulePackOptions rule_pack_options(const Config& config) {
  rulepack::RulePackOptions o{.evaluation_interval_ms = config.evaluation_interval_ms,
                              .include_job_rules = !config.jobs.empty() && config.rule_pack_enabled,
                              .job_for_ms = config.job_alert_for_ms,
                              .job_missed_run_for_ms = config.job_missed_run_for_ms,
                              .job_run_too_long_for_ms = config.job_run_too_long_for_ms,
                              .runbook_base_url = config.runbook_base_url};
  if (config.rule_pack_alerts) {
    o.job_alerts.emplace();
    for (const std::string& a : *config.rule_pack_alerts)
      if (a.rfind("Job", 0) == 0) o.job_alerts->push_back(a);
  }
  return o;
}

std::vector<checkin::JobConfig> checkin_jobs(const Config& config) {
  std::vector<checkin::JobConfig> out;
  for (const Job& j : config.jobs) {
    auto s = parse_schedule(j.schedule, j.time_zone);
    if (!s.ok() || j.name.empty()) continue;
    out.push_back({.name = j.name,
                   .schedule = std::move(s).value(),
                   .grace = std::chrono::seconds(j.grace_ms / 1000),
                   .max_run_time = std::chrono::seconds(j.max_run_time_ms / 1000)});
  }
  return out;
}

namespace {

std::string workload_name(rulepack::Workload w) {
  switch (w) {
    case rulepack::Workload::kApi:
      return "api";
    case rulepack::Workload::kWorker:
      return "worker";
    case rulepack::Workload::kJob:
      return "job";
    case rulepack::Workload::kOther:
      return "other";
  }
  return "other";
}

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string size_text(std::size_t bytes) {
  if (bytes == 0) return "no limit";
  if (bytes % (1U << 30) == 0) return fmt::format("{}GiB", bytes >> 30);
  if (bytes % (1U << 20) == 0) return fmt::format("{}MiB", bytes >> 20);
  if (bytes % (1U << 10) == 0) return fmt::format("{}KiB", bytes >> 10);
  return fmt::format("{}B", bytes);
}

}  // namespace

std::string summary(const Config& c) {
  using promql::format_duration;
  std::string out;
  out += fmt::format("listen {}; storage {} (head retention {}, at most {} series)\n", c.listen,
                     c.storage_path, format_duration(c.retention_ms), c.max_series);
  out += fmt::format("samples in {}\n", c.tsdb_path.empty()
                                            ? std::string("memory only (lost at a restart)")
                                            : c.tsdb_path + " (checkpoint every " +
                                                  format_duration(c.checkpoint_interval_ms) + ")");
  out += fmt::format("scrape every {} (timeout {}, body limit {}), evaluate every {}\n",
                     format_duration(c.scrape_interval_ms), format_duration(c.scrape_timeout_ms),
                     size_text(c.body_size_limit), format_duration(c.evaluation_interval_ms));
  out += plural(c.targets.size(), "target", "targets");
  for (std::size_t i = 0; i < c.targets.size(); ++i) {
    const Target& t = c.targets[i];
    out += fmt::format("{} {} ({}, every {})", i == 0 ? ":" : ",", t.name,
                       workload_name(t.workload), format_duration(t.interval_ms));
  }
  out += "\n";
  out += plural(c.jobs.size(), "job", "jobs");
  for (std::size_t i = 0; i < c.jobs.size(); ++i) {
    const Job& j = c.jobs[i];
    out += fmt::format("{} {} (\"{}\" {}, grace {})", i == 0 ? ":" : ",", j.name, j.schedule,
                       j.time_zone, format_duration(j.grace_ms));
  }
  out += "\n";
  out += plural(c.receivers.size(), "receiver", "receivers");
  for (std::size_t i = 0; i < c.receivers.size(); ++i) {
    const Receiver& r = c.receivers[i];
    std::vector<std::string_view> kinds;
    for (const Integration& in : r.integrations) kinds.push_back(in.kind);
    out += fmt::format("{} {} ({})", i == 0 ? ":" : ",", r.name,
                       kinds.empty() ? "nothing" : fmt::format("{}", fmt::join(kinds, ", ")));
  }
  if (c.receivers.empty()) out += " (firing alerts notify no one)";
  out += "\n";
  if (!c.alertmanager_config.empty())
    out += "routing: " + c.alertmanager_config + "\n";
  else if (c.routing)
    out += "routing: route, inhibit_rules and time_intervals as configured\n";
  else if (!c.receivers.empty())
    out += "routing: every receiver gets every alert, each in its own group, sent at once\n";
  out += plural(c.rule_files.size(), "rule file", "rule files");
  for (std::size_t i = 0; i < c.rule_files.size(); ++i)
    out += fmt::format("{} {}", i == 0 ? ":" : ",", c.rule_files[i]);
  out += " (besides the generated rule pack)\n";
  if (c.targets.empty() && c.jobs.empty())
    out += "watches nothing: add targets or jobs to monitor something\n";
  return out;
}

std::vector<routing::InhibitRule> rule_pack_inhibit_rules() {
  const auto m = [](const char* name, routing::MatchType type, const char* value) {
    return *routing::Matcher::make(name, type, value);
  };
  using routing::MatchType;
  return {
      // A process that is down is TargetDown's alone: not also not ready or
      // stalled (per instance).
      {.source = {m("alertname", MatchType::kEqual, "TargetDown")},
       .target = {m("alertname", MatchType::kRegex, "ServiceNotReady|WorkerStalled")},
       .equal = {"job", "instance"}},
      // A service with an instance down: its latency is that outage's news.
      {.source = {m("alertname", MatchType::kEqual, "TargetDown")},
       .target = {m("alertname", MatchType::kEqual, "ApiLatencyHigh")},
       .equal = {"job"}},
  };
}

routing::RoutingConfig effective_routing(const Config& config) {
  routing::RoutingConfig out = effective_routing_without_pack(config);
  if (config.rule_pack_enabled && config.rule_pack_inhibit_rules) {
    auto rules = rule_pack_inhibit_rules();
    out.inhibit_rules.insert(out.inhibit_rules.begin(), rules.begin(), rules.end());
  }
  return out;
}

routing::RoutingConfig effective_routing_without_pack(const Config& config) {
  if (config.routing) return *config.routing;
  routing::RoutingConfig out;
  out.route.key = "{}";
  for (const Receiver& r : config.receivers) {
    routing::Route child;
    child.options = {.receiver = r.name,
                     .group_by_all = true,
                     .group_wait_ms = 0,
                     .group_interval_ms = config.evaluation_interval_ms,
                     .repeat_interval_ms = 4 * 3'600'000LL};
    child.continue_matching = true;
    child.key = "{}/{}";
    out.route.routes.push_back(std::move(child));
  }
  return out;
}

}  // namespace watch::config
