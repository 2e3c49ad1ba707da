// Scaling out to Prometheus: writes a Prometheus configuration that scrapes
// the same targets as watch, with the same job and instance labels, and loads
// the same rule pack, so Prometheus evaluates the same alerts on the same
// series. Backs `firebreak export`.
//
//   watch::rulepack::ExportInput in;
//   in.targets.push_back({.spec = {.name = "shop-api", .workload = Workload::kApi},
//                         .metrics_url = "http://127.0.0.1:9464/metrics",
//                         .ready_url = "http://127.0.0.1:9464/readyz"});
//   std::string error;
//   if (!watch::rulepack::export_prometheus(in, "out/", &error)) die(error);
//   // out/prometheus.yml, out/rules/firebreak.rules.yml
//   // $ promtool check config out/prometheus.yml
//
// Inputs are independent of watch's configuration types: the caller maps its
// configuration into ExportInput.
//
// What Prometheus cannot do by itself: probe a readiness URL. Each target with
// a ready_url gets a commented-out blackbox_exporter job that would write
// probe_success with the target's job and instance labels (what the pack's
// ServiceNeverReady/ServiceNotReady read for a service without
// service_ready); uncomment it once a blackbox_exporter runs. Job check-ins
// live in watch: the Job* rules see job_checkin_* only if Prometheus scrapes
// watch's own metrics (add watch as a target with honor_labels = true).
//
// Secrets written inline in watch's configuration are not exported:
// prometheus.yml gets "<secret>" in their place (what Prometheus itself
// shows of a secret), with a comment; use the *_file forms to have them
// carried over. has_inline_secret() tells a caller to warn about it.
//
// Thread-safety: export_prometheus() touches only `dir`; render_* are pure.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "watch/discovery/discovery.h"
#include "watch/relabel/relabel.h"
#include "watch/rulepack/rule_pack.h"
#include "watch/yamlconf/http_config.h"

namespace watch::rulepack {

struct ExportTarget {
  TargetSpec spec;                      // spec.name becomes job_name (the `job` label)
  std::string metrics_url;              // http(s)://host[:port]/path[?query]
  std::string ready_url;                // optional: the readiness probe (blackbox, commented out)
  std::int64_t scrape_interval_ms = 0;  // 0: the global one
  std::int64_t scrape_timeout_ms = 0;   // 0: the global one
  bool honor_labels = false;
  std::vector<std::pair<std::string, std::string>> labels;  // static target labels
  // tls_config, authorization and basic_auth, written as Prometheus writes
  // them: file paths as given (absolute: Prometheus resolves relative ones
  // against prometheus.yml's directory), an inline secret as "<secret>"
  // with a comment (never the secret itself).
  yamlconf::HttpConfig http;
  // The form with many instances (metrics_url ""): Prometheus's own
  // scrape_config keys, written as they are. Static groups' targets are
  // their __address__ (the instance labels, other than __address__, are
  // the group's labels).
  std::string scheme = "http";
  std::string metrics_path = "/metrics";
  std::vector<discovery::TargetGroup> static_groups;
  std::vector<discovery::FileSdConfig> file_sd;
  std::vector<discovery::DnsSdConfig> dns_sd;
  std::vector<relabel::RelabelSpec> relabel_configs;
  std::vector<relabel::RelabelSpec> metric_relabel_configs;
};

struct ExportInput {
  std::vector<ExportTarget> targets;
  std::int64_t scrape_interval_ms = 15'000;  // global
  std::int64_t scrape_timeout_ms = 10'000;   // global
  RulePackOptions rules;  // rules.evaluation_interval_ms is the global evaluation_interval
  // Other rule files (paths readable now): copied to DIR/rules/<file name>
  // and listed after the pack. Two with the same file name are an error.
  std::vector<std::string> extra_rule_files;
  // host:port of the Alertmanager (a placeholder until there is one).
  std::string alertmanager = "localhost:9093";
  std::string blackbox_exporter = "localhost:9115";  // for the commented-out probe jobs
};

// DIR/prometheus.yml's text, deterministic (scrape jobs sorted by name);
// false with a message in *error for a bad URL or two targets of one name.
bool render_prometheus_config(const ExportInput& input, std::string* text, std::string* error);

// Whether `target` has a secret written inline (authorization.credentials,
// basic_auth.password), which the export replaces with "<secret>".
bool has_inline_secret(const ExportTarget& target);

// Writes DIR/prometheus.yml and DIR/rules/firebreak.rules.yml (the pack for
// input's targets), copies the extra rule files to DIR/rules/, creating
// directories as needed. On failure returns false with a message in *error
// (a bad URL, an unreadable extra rule file, a write error); files already
// written stay.
bool export_prometheus(const ExportInput& input, const std::string& dir, std::string* error);

}  // namespace watch::rulepack
