// Relabeling as Prometheus 2.42 does it: the rules of a scrape job's
// `relabel_configs` (applied to a target's discovered labels before it is
// scraped) and `metric_relabel_configs` (applied to every scraped series),
// and the population of a scrape target's labels around them
// (model/relabel/relabel.go and scrape/target.go PopulateLabels).
//
//   using namespace watch::relabel;
//   std::string error;
//   std::optional<Rule> rule = compile({.source_labels = {"__meta_env"},
//                                       .regex = "prod-(.*)",
//                                       .target_label = "region"},
//                                      &error);
//   if (!rule) return config_error(error);  // e.g. "regex \"(\": missing ): ("
//   std::vector<Rule> rules{*std::move(rule)};
//
//   watch::LabelSet series = watch::LabelSet::from({{"__meta_env", "prod-eu"}});
//   if (!process(rules, series)) { /* a keep/drop rule dropped it */ }
//   series.get("region");  // "eu"
//
//   PopulateResult target = populate_target(discovered, {.job = "node"}, rules);
//   if (!target.error.empty()) { /* Prometheus skips the target: log target.error */ }
//   else if (target.dropped)   { /* listed as dropped, never scraped */ }
//   else { /* scrape __scheme__://__address____metrics_path__?__param_*; series get
//             target.public_labels() */ }
//
// The semantics are Prometheus 2.42's, quirks included:
// - a rule joins the values of its source_labels with its separator (a
//   missing label gives "") and matches the result against its regex,
//   anchored at both ends (Prometheus compiles ^(?:regex)$, and so do we,
//   with RE2 through watch/goregexp: Go's regexp syntax, and what Go refuses
//   and RE2 would take, such as `\C`, non-ASCII group names or a tree more
//   than 1000 deep, is refused too);
// - replace: on a match, expands target_label and replacement as Go's
//   regexp.Expand ($1, ${1}, $name, ${name}, $$ for "$", the longest name
//   wins: "$1x" is the group named "1x", so usually ""). An expanded target
//   that is not a label name ([a-zA-Z_][a-zA-Z0-9_]*) changes nothing, an
//   empty result deletes the label named target_label *as written* (2.42
//   does not expand it there, so `target_label: ${1}` deletes nothing);
// - keep / drop: the set survives only when the regex matches / does not;
// - keepequal / dropequal: compare the joined value with the value of
//   target_label (both "" when missing);
// - hashmod: target_label = (last 8 bytes of MD5(value), big endian) % modulus;
// - lowercase / uppercase: Go's strings.ToLower / ToUpper (Unicode 13.0
//   simple case mappings, as Prometheus's Go 1.19; invalid UTF-8 becomes
//   U+FFFD);
// - labelmap: every label whose name matches is copied to the name the
//   replacement expands to (over an existing label of that name; the result
//   is not checked to be a valid name, as in 2.42);
// - labeldrop / labelkeep: labels whose names match / do not match are removed;
// - an empty value removes a label (watch::LabelSet holds no empty values).
// Text that is not valid UTF-8 is matched as Go matches it: every invalid byte
// is one U+FFFD character, and captured groups keep the original bytes.
//
// Known differences from Prometheus, all in corners: Unicode classes (\pL,
// (?i) folding) and the letters allowed in a template's $name are RE2's
// Unicode version rather than Go 1.19's 13.0; RE2 needs its compiled program
// to fit in 64 MiB (Go has no limit), so a gigantic regex is refused.
//
// Thread-safety: a Rule is immutable once compiled; const Rules (and vectors
// of them) may be shared between threads and used concurrently. The free
// functions keep no state.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "watch/model/model.h"

namespace watch::relabel {

enum class Action : std::uint8_t {
  kReplace,
  kKeep,
  kDrop,
  kKeepEqual,
  kDropEqual,
  kHashMod,
  kLabelMap,
  kLabelDrop,
  kLabelKeep,
  kLowercase,
  kUppercase,
};

// "replace", "keep", ... as Prometheus writes them. Case-insensitive, as
// Prometheus (it lowercases with Go's strings.ToLower first, so "KEEP" is
// keep); nullopt for anything else, "" included.
std::optional<Action> parse_action(std::string_view name);
std::string_view to_string(Action action);

// One relabel_config as written in prometheus.yml; an unset field takes
// Prometheus's default.
struct RelabelSpec {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  std::optional<std::string> regex;  // nullopt: "(.*)" (an explicit "" matches only "")
  std::uint64_t modulus = 0;
  std::optional<std::string> target_label;
  std::optional<std::string> replacement;  // nullopt: "$1"
  std::string action = "replace";
};

// A compiled rule. Copies share the compiled regex; cheap to copy.
class Rule {
 public:
  Action action() const { return action_; }
  // The rule as given to compile() (unset fields stay unset).
  const RelabelSpec& spec() const { return spec_; }

 private:
  struct Compiled;  // the regex and the parsed templates (relabel.cc)
  friend std::optional<Rule> compile(const RelabelSpec& spec, std::string* error);
  friend bool process(const std::vector<Rule>& rules, LabelSet& labels);

  Rule(RelabelSpec spec, Action action, std::shared_ptr<const Compiled> compiled)
      : spec_(std::move(spec)), action_(action), compiled_(std::move(compiled)) {}
  // Applies this rule to labels sorted by name; false: drop the set.
  bool apply(std::vector<Label>& labels) const;

  RelabelSpec spec_;
  Action action_;
  std::shared_ptr<const Compiled> compiled_;
};

// Validates as Prometheus does when it loads the configuration, then
// compiles the regex once. On error: nullopt, and `*error` (when not null)
// gets a one-line reason in Prometheus's words, e.g.
//   unknown relabel action "kepe"
//   regex "(": missing ): (
//   relabel configuration for replace action requires 'target_label' value
//   "1x" is invalid 'target_label' for replace action
//   relabel configuration for hashmod requires non-zero modulus
//   labeldrop action requires only 'regex', and no other fields
// Cost: compiling the regex (microseconds to milliseconds for large ones).
std::optional<Rule> compile(const RelabelSpec& spec, std::string* error = nullptr);

// Applies the rules in order, as Prometheus's relabel.Process. Returns false
// when a rule drops the set; `labels` is then empty. Cost: one regex match per
// rule (per label for labelmap/labeldrop/labelkeep); allocates only for the
// labels it changes. Thread-safe on const rules.
bool process(const std::vector<Rule>& rules, LabelSet& labels);

// What a scrape job gives the targets it discovers (its scrape_config).
struct JobDefaults {
  std::string job;
  std::string scheme = "http";
  std::string metrics_path = "/metrics";
  std::int64_t scrape_interval_ms = 15000;
  std::int64_t scrape_timeout_ms = 10000;
  // Query parameters: __param_<name> = the first value given for <name>.
  std::vector<std::pair<std::string, std::string>> params;
};

struct PopulateResult {
  // The target's labels, internal ones included (__address__ with its port,
  // __scheme__, __metrics_path__, __param_*, __scrape_interval__,
  // __scrape_timeout__; __meta_* removed). Empty when dropped or on error.
  // Prometheus's scrape URL: __scheme__://__address____metrics_path__, the
  // query being the job's params with each first value replaced by its
  // __param_<name> label (so a param whose label relabeling removed is still
  // sent), names sorted, url.QueryEscape'd.
  LabelSet labels;
  bool dropped = false;
  // Why the target is unusable ("no address", "\"a/b:80\" is not a valid
  // hostname", "scrape timeout cannot be greater than scrape interval (...)",
  // ...): Prometheus logs it and lists the target nowhere.
  std::string error;
  // The labels before relabeling, job defaults added: what Prometheus's
  // discoveredLabels mean, for active and dropped targets. (2.42's API often
  // shows them partly relabeled: its relabel.Process writes into the slice it
  // keeps as discovered labels; fixed in 2.43.) Empty on error.
  LabelSet discovered_labels;
  // The target's scrape interval and timeout, from its (relabeled)
  // __scrape_interval__ and __scrape_timeout__. 0 when dropped or on error.
  std::int64_t scrape_interval_ms = 0;
  std::int64_t scrape_timeout_ms = 0;

  // `labels` without the labels whose names start with "__": the target
  // labels every scraped series gets (/api/v1/targets' `labels`).
  LabelSet public_labels() const;
};

// Prometheus's PopulateLabels (2.42, default port added): to `discovered`
// (the target's __address__, its group's labels, __meta_* ...) adds, where
// absent, job, __scrape_interval__ and __scrape_timeout__ (formatted as
// Prometheus formats durations: "15s", "1m30s", "1w"), __metrics_path__ and
// __scheme__; sets __param_<name> for every param (overriding); applies
// `rules`; then adds ":80" (http, or no __scheme__) or ":443" (https) to an
// address without a port, refuses an address containing "/", checks the
// interval and timeout labels (valid, non-zero, timeout <= interval), removes
// __meta_* labels, sets instance = __address__ when absent, and refuses
// values that are not valid UTF-8. Thread-safe on const rules.
PopulateResult populate_target(const LabelSet& discovered, const JobDefaults& job,
                               const std::vector<Rule>& rules);

// A duration as Prometheus's model.Duration prints it: 90'000 -> "1m30s",
// 604'800'000 -> "1w", 0 -> "0s".
std::string format_duration(std::int64_t ms);
// Prometheus's model.ParseDuration ("1h30m", "0", "1y", ...), in
// milliseconds; nullopt with `*error` set ("not a valid duration string:
// \"x\"", "duration out of range", ...) otherwise.
std::optional<std::int64_t> parse_duration(std::string_view text, std::string* error = nullptr);

}  // namespace watch::relabel
