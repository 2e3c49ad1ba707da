// watch's configuration: one YAML file (`firebreak.yaml`) that says what to
// scrape, which scheduled jobs check in, which extra rule files to load and
// where alerts go. docs/config.md is the reference for every key.
//
//   watch::config::LoadResult r = watch::config::load_config("firebreak.yaml");
//   if (!r.ok()) {
//     for (const auto& e : r.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
//     return 1;  // "firebreak.yaml:12:15: targets[1].interval: not a duration: \"5x\""
//   }
//   auto pack = watch::rulepack::render_rule_pack(watch::config::rule_pack_targets(r.config),
//                                                 watch::config::rule_pack_options(r.config));
//   tracker.configure(watch::config::checkin_jobs(r.config));
//
// Loading never throws and never crashes, whatever the input: every problem
// becomes a ConfigError with the file, the 1-based line and column, and the
// key path ("targets[1].interval"); all of them are collected (up to
// kMaxErrors). Unknown keys are errors (with the closest known key as a
// suggestion), as are repeated keys. Files over kMaxConfigBytes are refused.
// An empty file is a valid configuration with every default and nothing to
// watch.
//
// Relative paths (storage.path, rule_files, the files of a target's
// tls_config, authorization and basic_auth) are resolved against the
// directory of the configuration file. A target's TLS and secret files are
// checked at load (a missing one is an error at its key; their secrets are
// never put in a message). rule_files may be globs (a glob that matches
// nothing is not an error; a plain path that does not exist is). Every rule
// file is loaded with watch::rules::load_rule_file() and its errors are
// passed through with the rule file's own path.
//
// Thread-safety: pure functions (parse_config and load_config read the file
// system: the configuration file, rule files and globs, TLS and secret
// files).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "watch/alerting/integrations.h"
#include "watch/checkin/tracker.h"
#include "watch/discovery/discovery.h"
#include "watch/model/model.h"
#include "watch/relabel/relabel.h"
#include "watch/routing/routing.h"
#include "watch/rulepack/rule_pack.h"
#include "watch/traces/traces.h"
#include "watch/yamlconf/http_config.h"

namespace watch::config {

inline constexpr std::size_t kMaxConfigBytes = 1 << 20;  // 1 MiB
inline constexpr std::size_t kMaxErrors = 100;           // then one "too many errors"

// One scrape target: a service (one `job`, one workload, one set of
// thresholds) with one or many instances, each a process whose /metrics (and
// optionally /readyz) watch scrapes: Prometheus's scrape_config.
struct Target {
  std::string name;  // unique among targets and jobs; the `job` label of its series
  rulepack::Workload workload = rulepack::Workload::kOther;
  // One instance: its URLs as written. "" when the instances come from the
  // lists below (then ready_url is "" too).
  std::string metrics_url;
  std::string ready_url;  // "" when not probed
  // Many instances: host:port addresses from static lists (`targets`,
  // `static_configs`), files and DNS, relabeled, each scraped at
  // <scheme>://<address><metrics_path> and probed at <ready_path> when set.
  std::string scheme = "http";  // "http" or "https"
  std::string metrics_path = "/metrics";
  std::string ready_path;  // "" when not probed
  std::vector<discovery::TargetGroup> static_groups;
  std::vector<discovery::FileSdConfig> file_sd;  // files absolute
  std::vector<discovery::DnsSdConfig> dns_sd;
  // tls_config, authorization and basic_auth (Prometheus's http_config,
  // inline as in its scrape_config): for the scrapes and the readiness
  // probes alike; file paths absolute.
  yamlconf::HttpConfig http;
  std::vector<relabel::Rule> relabel_configs;         // on each instance's labels
  std::vector<relabel::Rule> metric_relabel_configs;  // on each scraped series
  std::int64_t interval_ms = 0;                       // > 0 (default: global.scrape_interval)
  std::int64_t timeout_ms = 0;      // > 0, <= interval_ms (default: global.scrape_timeout,
                                    // capped at the interval)
  std::size_t body_size_limit = 0;  // bytes, 0: no limit (default: global)
  std::size_t sample_limit = 0;     // 0: no limit (default: global)
  bool honor_labels = false;
  std::vector<watch::Label> labels;  // sorted by name; never job, instance or __*
  rulepack::Thresholds thresholds;   // defaults: docs/config.md, targets[].thresholds
  // rule_pack: the target's own choice of the pack's alerts; nullopt: the
  // global one (see rule_pack_targets()).
  std::optional<bool> rule_pack_enabled;
  std::optional<std::vector<std::string>> rule_pack_alerts;
  int line = 0;  // of the target's entry in the file
};

// One scheduled job that checks in (/ping/<name>).
struct Job {
  std::string name;                   // unique among jobs and targets; [A-Za-z0-9._:-]{1,128}
  std::string schedule;               // as written: cron, @macro, a period ("24h") or "@every 1h"
  std::string time_zone;              // IANA name; "UTC" by default
  std::int64_t grace_ms = 3'600'000;  // whole seconds, > 0
  std::int64_t max_run_time_ms = 0;   // whole seconds; 0: no limit
  int line = 0;
};

// One way a receiver is told: an item of its Alertmanager-shaped
// `*_configs` lists (alerting/integrations.h), or of firebreak's `webhook` /
// `log` shorthands (a webhook with `url`, `timeout`, `max_alerts`; a log).
using Integration = alerting::IntegrationConfig;

// Where alerts go: a named receiver the route sends to.
struct Receiver {
  std::string name;                       // unique among receivers
  std::vector<Integration> integrations;  // none: alerts routed here go nowhere
  // Its integrations as Alertmanager's YAML (the `*_configs` lists as
  // written, the `webhook` shorthand as one more webhook_configs item), for
  // alertmanager_yaml(); "" when it has none.
  std::string alertmanager_yaml;
  int line = 0;
};

struct Config {
  std::string path;  // the configuration file as given ("" when parsed from text)
  std::string dir;   // absolute directory that relative paths are resolved against
  std::string listen = "127.0.0.1:9095";  // HOST:PORT ([v6]:PORT); port 0 picks one
  std::string storage_path;  // absolute (dir + "firebreak-watch.db" by default), or ":memory:"
  // The head's directory (WAL, chunk files, checkpoints): absolute (dir +
  // "firebreak-watch-tsdb" by default), or "" to keep samples in memory only
  // (the default when storage_path is ":memory:").
  std::string tsdb_path;
  std::int64_t checkpoint_interval_ms = 30 * 60'000;  // > 0
  // A series without samples this long leaves the head's memory for a cold
  // file (queryable until the retention); > 0.
  std::int64_t evict_idle_after_ms = 2 * 3'600'000;
  std::int64_t retention_ms = 26 * 3'600'000;  // the head's, > 0
  std::size_t max_series = 1'000'000;          // > 0
  // A query (API or rule) that would load more samples fails, as
  // Prometheus's --query.max-samples; both taken at start.
  std::size_t query_max_samples = 50'000'000;  // > 0
  std::int64_t query_timeout_ms = 2 * 60'000;  // > 0
  std::int64_t scrape_interval_ms = 15'000;
  std::int64_t scrape_timeout_ms = 10'000;  // <= scrape_interval_ms
  std::int64_t evaluation_interval_ms = 15'000;
  std::size_t body_size_limit = 16 << 20;    // bytes; 0: no limit
  std::size_t sample_limit = 0;              // 0: no limit
  std::int64_t job_alert_for_ms = 60'000;    // `for` of JobFailed
  std::int64_t job_missed_run_for_ms = 0;    // `for` of JobMissedRun
  std::int64_t job_run_too_long_for_ms = 0;  // `for` of JobRunTooLong
  // global.runbook_base_url: an absolute http(s) URL without query or
  // fragment that the rule pack's runbook_url annotations are made absolute
  // against (rulepack::runbook_url); "": they stay relative.
  std::string runbook_base_url;
  // rule_pack: whether the pack is generated, and which of its alerts
  // (alert names; nullopt: all of them); targets may override both.
  bool rule_pack_enabled = true;
  std::optional<std::vector<std::string>> rule_pack_alerts;
  // rule_pack.inhibit_rules: the pack's inhibit rules come first in the
  // routing (rule_pack_inhibit_rules()).
  bool rule_pack_inhibit_rules = true;
  std::vector<std::string> rule_files;  // absolute, globs expanded, sorted, unique
  std::vector<Target> targets;          // in file order
  std::vector<Job> jobs;                // in file order
  std::vector<Receiver> receivers;      // in file order
  // route, inhibit_rules and time_intervals (from this file or from
  // alertmanager_config); nullopt: the implicit route (effective_routing()).
  std::optional<routing::RoutingConfig> routing;
  std::string alertmanager_config;  // absolute path when routing comes from there
  // Receivers told an alert fired are told it resolved even when it is
  // silenced or inhibited by then (false: Alertmanager's behaviour).
  bool resolve_muted = true;
  // Expired silences and notification log entries are kept this long.
  std::int64_t silence_retention_ms = 120 * 3'600'000LL;
  // Alerts posted to /api/v2/alerts without endsAt resolve after this
  // (Alertmanager's global.resolve_timeout).
  std::int64_t resolve_timeout_ms = 5 * 60'000;
  // traces: whether watch takes OTLP traces (POST /v1/traces) and keeps the
  // recent ones, and within what bounds (max_spans, max_bytes,
  // max_spans_per_trace; the other limits keep their defaults).
  bool traces_enabled = true;
  watch::traces::Limits trace_limits;
};

struct ConfigError {
  std::string file;  // the configuration file, or the rule file the error is in
  int line = 0;      // 1-based; 0 when not about one place
  int column = 0;
  std::string key;  // e.g. "targets[1].interval"; "" for the whole file
  std::string message;
  // "firebreak.yaml:12:15: targets[1].interval: not a duration: \"5x\""
  // (position and key left out when unknown). The position is the offending
  // value's; an unknown or repeated key's own; a missing key's entry's.
  std::string to_string() const;
};

struct LoadResult {
  Config config;  // complete with defaults even when there are errors (do not run it)
  std::vector<ConfigError> errors;
  // Valid but noisy choices (a threshold that lets one failed scrape or a
  // short spike page, a `for` the pack raises): check-config prints them,
  // watch logs them; they do not make the file invalid.
  std::vector<ConfigError> warnings;
  bool ok() const { return errors.empty(); }
};

struct ParseOptions {
  // Expand rule_files globs, check the files exist and load them. Off: only
  // their syntax in the configuration is checked and rule_files holds the
  // resolved patterns (the fuzz target and tools that must not touch disk).
  bool load_rule_files = true;
  // Check the files targets' tls_config, authorization and basic_auth name:
  // readable, and the certificates and key loadable and matching. Off: only
  // their syntax (as load_rule_files).
  bool check_files = true;
};

// Parses YAML text; `path` names the file in errors and its directory
// resolves relative paths ("" or a bare name: the current directory).
LoadResult parse_config(std::string_view yaml_text, std::string_view path,
                        const ParseOptions& options = {});
// Reads the file (at most kMaxConfigBytes), then parse_config(). An
// unreadable or oversized file is one error in the result.
LoadResult load_config(const std::string& path, const ParseOptions& options = {});

// The rule pack's view of the targets (name, workload, thresholds, and the
// alerts each gets: its own rule_pack, else the global one, each limited to
// the alerts of its workload).
std::vector<rulepack::TargetSpec> rule_pack_targets(const Config& config);
// The pack's alerts `target` gets (names, in alert_names() order).
std::vector<std::string> effective_alerts(const Config& config, const Target& target);
// The check-in tracker's jobs, schedules parsed. Jobs whose schedule does not
// parse (only in a config with errors) are left out.
std::vector<checkin::JobConfig> checkin_jobs(const Config& config);
// The rule pack's options: evaluation interval, job rules when there are
// jobs, their `for`s (global.job_alert_for, job_missed_run_for,
// job_run_too_long_for).
rulepack::RulePackOptions rule_pack_options(const Config& config);
// The routing in force: config.routing, or without one the implicit route:
// every receiver gets every alert, each alert its own group (group_by
// ['...']), sent at once (group_wait 0), changes at the next evaluation
// (group_interval = global.evaluation_interval), repeated every 4h.
// With the rule pack on (and rule_pack.inhibit_rules not false), the pack's
// inhibit rules go before the configured ones.
routing::RoutingConfig effective_routing(const Config& config);
routing::RoutingConfig effective_routing_without_pack(const Config& config);
// The pack's inhibit rules: TargetDown inhibits ServiceNotReady and
// WorkerStalled of the same instance (equal job, instance) and ApiLatencyHigh
// of the same service (equal job).
std::vector<routing::InhibitRule> rule_pack_inhibit_rules();

// The routing in force and the receivers as an alertmanager.yml that
// `amtool check-config` accepts and that routes as watch does (for
// /api/v2/status and `firebreak export alertmanager`). Receivers' log
// integrations have no Alertmanager counterpart and are left out.
std::string alertmanager_yaml(const Config& config);

// `yaml` (an alertmanager.yml) with every secret replaced by "<secret>", as
// Alertmanager 0.25 shows its configuration in /api/v2/status: passwords
// and secrets of SMTP, basic auth, authorization credentials and bearer
// tokens, OAuth2 client secrets, Slack API URLs, PagerDuty keys, and the
// keys and tokens of receivers watch does not have. Anything else (a
// webhook's URL included, as Alertmanager does) is kept. Comments and
// formatting are not kept. `yaml` unchanged when it does not parse (it was
// loaded before, so it does).
std::string redact_alertmanager_secrets(const std::string& yaml);

// A few lines for `firebreak watch check-config`: listen address, storage,
// N targets, N jobs, N receivers, N rule files (each named); says so when the
// configuration watches nothing. Ends with a newline.
std::string summary(const Config& config);

// Helpers shared with the CLI and tests.
// "16MiB", "512KiB", "1GiB", "100B" or a plain integer (bytes).
bool parse_size(std::string_view text, std::size_t& bytes);
// HOST:PORT with a non-empty host ([v6 address]:PORT for IPv6), port 0-65535.
bool valid_listen_address(std::string_view text, std::string* why = nullptr);

}  // namespace watch::config
