// Fuzz target: watch's configuration parser (watch/config/config.h), which
// reads firebreak.yaml, a file users edit by hand.
//
// Rule files are not loaded and the files of targets' tls_config,
// authorization and basic_auth not checked (ParseOptions::load_rule_files and
// check_files false), so the fuzzer never globs or reads the file system. Besides "no crash, no
// hang, no exception, no sanitizer report", it checks properties that hold for every input:
// - every error has a message, a non-negative position and a printable form;
// - the number of errors is bounded (kMaxErrors, plus the "too many" line);
// - an accepted configuration is internally consistent: intervals and
//   timeouts positive with timeout <= interval, names non-empty and unique,
//   labels sorted and never reserved, a target's scheme http or https, its
//   client certificate and key both or neither, at most one of
//   authorization and basic_auth, every job's schedule parses again
//   (checkin_jobs keeps them all), and summary() is non-empty.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "watch/config/config.h"

namespace {

[[noreturn]] void violated(const char* property, std::string_view input) {
  std::fprintf(stderr, "property violated: %s\ninput (%zu bytes): %.*s\n", property, input.size(),
               static_cast<int>(input.size() > 2000 ? 2000 : input.size()), input.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace watch::config;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const LoadResult r = parse_config(text, "/etc/firebreak/firebreak.yaml",
                                    {.load_rule_files = false, .check_files = false});

  if (r.errors.size() > kMaxErrors + 1) violated("more errors than kMaxErrors + 1", text);
  for (const ConfigError& e : r.errors) {
    if (e.message.empty()) violated("error without a message", text);
    if (e.line < 0 || e.column < 0) violated("negative error position", text);
    if (e.to_string().empty()) violated("empty error text", text);
  }
  if (!r.ok()) return 0;

  const Config& c = r.config;
  if (c.scrape_interval_ms <= 0 || c.scrape_timeout_ms <= 0 || c.evaluation_interval_ms <= 0)
    violated("accepted a non-positive global interval", text);
  if (c.scrape_timeout_ms > c.scrape_interval_ms) violated("global timeout > interval", text);
  if (c.retention_ms <= 0 || c.max_series == 0) violated("accepted empty storage bounds", text);
  if (c.job_alert_for_ms <= 0) violated("accepted a non-positive job_alert_for", text);
  std::set<std::string> names;
  for (const Target& t : c.targets) {
    if (t.name.empty() || !names.insert(t.name).second)
      violated("target name empty or repeated", text);
    if (t.interval_ms <= 0 || t.timeout_ms <= 0 || t.timeout_ms > t.interval_ms)
      violated("target interval/timeout inconsistent", text);
    if (t.metrics_url.empty() && t.static_groups.empty() && t.file_sd.empty() && t.dns_sd.empty())
      violated("target without metrics_url or instances", text);
    if (t.scheme != "http" && t.scheme != "https") violated("scheme not http or https", text);
    if (t.http.tls.cert_file.empty() != t.http.tls.key_file.empty())
      violated("a client certificate without its key, or a key without it", text);
    if (t.http.authorization && t.http.basic_auth)
      violated("both authorization and basic_auth accepted", text);
    for (std::size_t i = 0; i < t.labels.size(); ++i) {
      const auto& name = t.labels[i].name;
      if (name == "job" || name == "instance" || name.rfind("__", 0) == 0)
        violated("reserved label accepted", text);
      if (i > 0 && !(t.labels[i - 1].name < name)) violated("labels not sorted and unique", text);
    }
    if (t.thresholds.fast_burn_short_window_ms >= t.thresholds.fast_burn_long_window_ms ||
        t.thresholds.slow_burn_short_window_ms >= t.thresholds.slow_burn_long_window_ms)
      violated("burn-rate short window not shorter than long", text);
  }
  for (const Job& j : c.jobs) {
    if (j.name.empty() || !names.insert(j.name).second)
      violated("job name empty or repeated", text);
    if (j.grace_ms <= 0 || j.max_run_time_ms < 0) violated("job durations out of range", text);
  }
  std::set<std::string> receivers;
  for (const Receiver& rc : c.receivers) {
    if (rc.name.empty() || !receivers.insert(rc.name).second)
      violated("receiver name empty or repeated", text);
    for (const Integration& in : rc.integrations)
      if (const auto* w = std::get_if<watch::alerting::WebhookConfig>(&in.config);
          w && (w->url.empty() || w->timeout.count() < 0))
        violated("webhook without url or with a negative timeout", text);
  }
  // The routing in force names only configured receivers.
  const auto routing = effective_routing(c);
  std::vector<const watch::routing::Route*> stack = {&routing.route};
  while (!stack.empty()) {
    const auto* r = stack.back();
    stack.pop_back();
    for (const auto& child : r->routes) stack.push_back(&child);
    if (!r->options.receiver.empty() && !receivers.contains(r->options.receiver))
      violated("the route names an unknown receiver", text);
  }
  if (rule_pack_targets(c).size() != c.targets.size())
    violated("rule_pack_targets lost a target", text);
  if (checkin_jobs(c).size() != c.jobs.size())
    violated("an accepted schedule does not parse", text);
  if (summary(c).empty()) violated("empty summary", text);
  return 0;
}
