// Prometheus rule files: load and validate them as `promtool check rules`
// does (rulefmt.Parse + Validate), keeping each rule's position for errors.
//
//   watch::rules::LoadResult r = watch::rules::load_rule_file("rules/pack.yml");
//   if (!r.ok()) for (const auto& e : r.errors) std::puts(e.to_string().c_str());
//   // "rules/pack.yml:12:7: groups[0].rules[1].expr: could not parse expression: ..."
//
// Format:
//   groups:
//     - name: <string, unique in the file>
//       interval: <duration, optional>      # default: the global evaluation interval
//       limit: <int, optional>              # 0: no limit on alerts/series per rule
//       rules:
//         - record: <metric name>           # or alert: <string>
//           expr: <PromQL>
//           for: <duration>                 # alerting only
//           keep_firing_for: <duration>     # alerting only
//           labels: {<label name>: <template string>}
//           annotations: {<name>: <template string>}   # alerting only
//
// Errors are collected, not thrown: each names the file, line and column
// (1-based) and the key path. Unknown keys are errors, as YAML's strict mode
// in Prometheus makes them.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "watch/model/model.h"

namespace watch::rules {

struct Position {
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
};

struct RuleSpec {
  enum class Kind { kRecording, kAlerting };
  Kind kind = Kind::kRecording;
  std::string name;  // the `record` metric name or the `alert` name
  std::string expr;
  std::int64_t for_ms = 0;
  std::int64_t keep_firing_for_ms = 0;
  std::vector<Label> labels;       // sorted by name; values may be templates
  std::vector<Label> annotations;  // sorted by name; templates
  Position pos;                    // of the rule's mapping
};

struct GroupSpec {
  std::string name;
  std::string file;
  std::int64_t interval_ms = 0;  // 0: the global evaluation interval
  int limit = 0;
  std::vector<RuleSpec> rules;
  Position pos;
};

struct RuleFileError {
  std::string file;
  Position pos;
  std::string key;  // e.g. "groups[0].rules[2].for"
  std::string message;
  // "file:line:col: key: message" (position and key left out when unknown).
  std::string to_string() const;
};

struct RuleFile {
  std::string path;
  std::vector<GroupSpec> groups;
};

struct LoadResult {
  RuleFile file;
  std::vector<RuleFileError> errors;
  bool ok() const { return errors.empty(); }
};

// Parses YAML text; `path` is used in errors and GroupSpec::file.
LoadResult parse_rule_file(std::string_view yaml_text, std::string_view path);
// Reads the file, then parse_rule_file(). A missing file is an error in the result.
LoadResult load_rule_file(const std::string& path);

// Prometheus's model.ParseDuration: "0", or "1h30m", "90s", "1d", "250ms".
bool parse_prom_duration(std::string_view text, std::int64_t& ms);
// Metric and label names as Prometheus's model validates them.
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace watch::rules
