// The rule pack generator. Every expression is built from the thresholds of
// one class of targets (the targets that share the values the alert reads)
// and scoped to them by a matcher on `job`. The noise guards of DESIGN.md are
// written down next to each alert; docs/alerts.md explains them to operators.
#include "watch/rulepack/rule_pack.h"
#include "watch/rulepack/yaml_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace watch::rulepack {

namespace {

constexpr std::size_t kMaxExprBytes = 32 * 1024;
constexpr const char* kProbeLastSuccess = "firebreak:probe_last_success_timestamp_seconds";
constexpr const char* kLatencyBucket = "http_server_request_duration_seconds_bucket";
constexpr const char* kLatencyCount = "http_server_request_duration_seconds_count";
constexpr const char* kNot5xx = "http_response_status_code!~\"5..\"";
constexpr const char* k5xx = "http_response_status_code=~\"5..\"";

// A number as PromQL reads it: shortest text that round-trips, after
// rounding away binary noise (1 - 0.999 renders 0.001).
std::string num(double v) {
  std::string s = fmt::format("{:.12g}", v);
  return s;
}

std::string seconds(std::int64_t ms) {
  return num(static_cast<double>(ms) / 1000.0);
}

// Prometheus regexp (RE2) with every metacharacter escaped, then as the body
// of a double-quoted PromQL string.
std::string regex_quote(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\.+*?()|[]{}^$").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::string promql_string_body(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The targets of one threshold class and the matcher that selects them.
struct Scope {
  const TargetSpec* first = nullptr;  // its thresholds are the class's
  std::vector<std::string> names;
  std::string matcher;  // job="a" or job=~"a|b"
};

std::string job_matcher(const std::vector<std::string>& names) {
  if (names.size() == 1) return "job=\"" + promql_string_body(names[0]) + "\"";
  std::string re;
  for (const auto& n : names) {
    if (!re.empty()) re += '|';
    re += regex_quote(n);
  }
  return "job=~\"" + promql_string_body(re) + "\"";
}

// Targets (sorted by name) split into classes by `key` (the thresholds the
// alert reads), in the order of each class's first target.
std::vector<Scope> scopes(const std::vector<const TargetSpec*>& targets,
                          const std::function<std::string(const Thresholds&)>& key) {
  std::vector<Scope> out;
  std::map<std::string, std::size_t> index;
  // At most this many jobs in one matcher: an expression repeats its matcher
  // in every selector, so one class of many targets is cut into scopes whose
  // expressions stay well under the part size (add_merged splits parts).
  constexpr std::size_t kMaxJobsPerScope = 64;
  for (const TargetSpec* t : targets) {
    const std::string k = key(t->thresholds);
    auto [it, inserted] = index.emplace(k, out.size());
    if (!inserted && out[it->second].names.size() == kMaxJobsPerScope) {
      it->second = out.size();
      inserted = true;
    }
    if (inserted) out.push_back(Scope{.first = t});
    out[it->second].names.push_back(t->name);
  }
  for (auto& s : out) s.matcher = job_matcher(s.names);
  return out;
}

std::string sel(std::string_view metric, const std::string& matcher, std::string_view extra = {}) {
  std::string out(metric);
  out += '{';
  out += matcher;
  if (!extra.empty()) {
    out += ", ";
    out += extra;
  }
  out += '}';
  return out;
}

struct Rule {
  bool recording = false;
  std::string name;
  std::string expr;
  std::int64_t for_ms = 0;
  std::int64_t keep_firing_for_ms = 0;
  std::vector<std::pair<std::string, std::string>> labels;  // in output order
  std::string summary;
  std::string description;
};

struct GroupOut {
  std::string name;
  std::vector<Rule> rules;
};

class Renderer {
 public:
  explicit Renderer(const RulePackOptions& options) : options_(options) {}

  // At least two evaluations: no alert fires on one sample.
  std::int64_t hold(std::int64_t ms) const {
    return std::max(ms, 2 * options_.evaluation_interval_ms);
  }
  // A rate window holds at least four evaluation intervals (as Prometheus
  // advises four scrape intervals), so rate() always has samples to use.
  std::int64_t window(std::int64_t ms) const {
    return std::max(ms, 4 * options_.evaluation_interval_ms);
  }

  std::string render(const std::vector<GroupOut>& groups) const {
    std::string out;
    out +=
        "# The Firebreak rule pack (DESIGN.md, \"The rule pack\"), generated by\n"
        "# watch/rulepack from the watch configuration: regenerate it with\n"
        "# `firebreak export` rather than editing it. Runbooks: docs/alerts.md.\n"
        "groups:\n";
    for (const auto& g : groups) {
      out += "  - name: " + yaml_quote(g.name) + "\n";
      out += "    interval: " + prom_duration(options_.evaluation_interval_ms) + "\n";
      out += "    rules:\n";
      for (const auto& r : g.rules) render_rule(r, out);
    }
    return out;
  }

 private:
  void render_rule(const Rule& r, std::string& out) const {
    out += r.recording ? "      - record: " : "      - alert: ";
    out += r.name + "\n";
    out += "        expr: |-\n";
    std::size_t start = 0;
    while (start <= r.expr.size()) {
      const std::size_t nl = r.expr.find('\n', start);
      const std::string line =
          r.expr.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      out += line.empty() ? "\n" : "          " + line + "\n";
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    if (r.recording) return;
    out += "        for: " + prom_duration(r.for_ms) + "\n";
    if (r.keep_firing_for_ms > 0) {
      out += "        keep_firing_for: " + prom_duration(r.keep_firing_for_ms) + "\n";
    }
    if (!r.labels.empty()) {
      out += "        labels:\n";
      for (const auto& [k, v] : r.labels) out += "          " + k + ": " + yaml_quote(v) + "\n";
    }
    out += "        annotations:\n";
    out += "          summary: " + yaml_quote(r.summary) + "\n";
    out += "          description: " + yaml_quote(r.description) + "\n";
    out += "          runbook_url: " + yaml_quote(options_.runbook_base_url + "#" + lower(r.name)) +
           "\n";
  }

  const RulePackOptions& options_;
};

std::string key_of(std::initializer_list<double> values) {
  std::string k;
  for (double v : values) k += fmt::format("{};", v);
  return k;
}

// One class's part of an alert: its expression and its `for`.
struct Branch {
  std::string expr;
  std::int64_t for_ms = 0;
  std::int64_t keep_firing_for_ms = 0;
};

// Classes with the same `for` and keep_firing_for share one rule, their
// expressions joined with `or` (so the file has one rule per alert and
// variant, as promtool's lint wants: no two rules with the same name and
// labels). Classes with another `for` get a rule of their own, told apart
// by a `for` label. `make` gives the rule for a `for`.
void add_merged(GroupOut& g, const std::vector<Branch>& branches,
                const std::function<Rule(std::int64_t for_ms)>& make) {
  std::vector<std::pair<std::int64_t, std::int64_t>> keys;
  std::vector<std::vector<const Branch*>> parts;
  for (const auto& b : branches) {
    const std::pair<std::int64_t, std::int64_t> k{b.for_ms, b.keep_firing_for_ms};
    auto it = std::find(keys.begin(), keys.end(), k);
    if (it == keys.end()) {
      keys.push_back(k);
      parts.emplace_back();
      it = keys.end() - 1;
    }
    parts[static_cast<std::size_t>(it - keys.begin())].push_back(&b);
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    // Expressions of at most kMaxExprBytes (the PromQL parser takes 64 KiB):
    // past it, the branches go on in another rule with a `part` label.
    std::vector<std::string> exprs;
    if (parts[i].size() == 1) {
      exprs.push_back(parts[i][0]->expr);
    } else {
      exprs.emplace_back();
      for (const Branch* b : parts[i]) {
        std::string part = "(\n  ";
        for (char c : b->expr) {
          part += c;
          if (c == '\n') part += "  ";
        }
        part += "\n)";
        if (!exprs.back().empty() && exprs.back().size() + part.size() + 4 > kMaxExprBytes) {
          exprs.emplace_back();
        }
        if (!exprs.back().empty()) exprs.back() += "\nor\n";
        exprs.back() += part;
      }
    }
    for (std::size_t e = 0; e < exprs.size(); ++e) {
      Rule rule = make(keys[i].first);
      rule.for_ms = keys[i].first;
      rule.keep_firing_for_ms = keys[i].second;
      rule.expr = std::move(exprs[e]);
      if (keys.size() > 1) rule.labels.emplace_back("for", prom_duration(keys[i].first));
      if (exprs.size() > 1) rule.labels.emplace_back("part", std::to_string(e + 1));
      g.rules.push_back(std::move(rule));
    }
  }
}

// --- every target --------------------------------------------------------------

void target_rules(const std::vector<const TargetSpec*>& targets, const Renderer& r, GroupOut& g) {
  const std::string all = job_matcher([&] {
    std::vector<std::string> n;
    for (const auto* t : targets) n.push_back(t->name);
    return n;
  }());

  // The last time the readiness probe succeeded, carried forward by reading
  // its own previous value (while the target is probed). For a service
  // without service_ready (not built on the kit), this is how "was it ever
  // ready in this process" is answered.
  g.rules.push_back(
      Rule{.recording = true,
           .name = kProbeLastSuccess,
           .expr = fmt::format("timestamp({0} == 1)\n"
                               "  or on(job, instance)\n"
                               "(\n"
                               "  {1}\n"
                               "    and on(job, instance) {0}\n"
                               ")",
                               sel("probe_success", all), sel(kProbeLastSuccess, all))});

  std::vector<Branch> b;
  for (const auto& s :
       scopes(targets, [](const Thresholds& t) { return key_of({double(t.down_for_ms)}); })) {
    b.push_back({sel("up", s.matcher) + " == 0", r.hold(s.first->thresholds.down_for_ms)});
  }
  add_merged(g, b, [](std::int64_t for_ms) {
    return Rule{
        .name = "TargetDown",
        .labels = {{"severity", "page"}},
        .summary = "{{ $labels.job }} ({{ $labels.instance }}) is down",
        .description = fmt::format(
            "Scrapes of {{{{ $labels.instance }}}} (job {{{{ $labels.job }}}}) have failed for "
            "more than {}: the process is not running, not listening, or not reachable.",
            prom_duration(for_ms))};
  });

  // Scoped to the current process: its age comes from
  // process_start_time_seconds, and "ever ready" from
  // service_time_to_ready_seconds (set once, by the kit, when this process
  // first got ready) or, without the kit, from the last successful probe
  // being after the process start. A restart that gets ready within its
  // budget never pages; one that never does, pages even if the previous
  // process was ready. The budget is in the expression; `for` (a quarter of
  // it) only rides out one odd scrape. A target that is down is TargetDown's
  // alone: the probe-only branches require up == 1. Start times read from
  // /proc in whole seconds (prometheus_client) may be up to 1 s early, so a
  // probe success counts for this process only from 1 s after its start.
  b.clear();
  for (const auto& s :
       scopes(targets, [](const Thresholds& t) { return key_of({double(t.startup_budget_ms)}); })) {
    const Thresholds& th = s.first->thresholds;
    const std::string budget = seconds(th.startup_budget_ms);
    const std::string m = s.matcher;
    const std::string age =
        "(time() - " + sel("process_start_time_seconds", m) + " > " + budget + ")";
    b.push_back(
        {fmt::format(
             "# kit services: service_ready, and service_time_to_ready_seconds once ready\n"
             "(\n"
             "  {0}\n"
             "    and on(job, instance) ({1} == 0)\n"
             "    unless on(job, instance) {2}\n"
             ")\n"
             "or\n"
             "# other services: the readiness probe; ready if it succeeded since the start\n"
             "(\n"
             "  {0}\n"
             "    and on(job, instance) ({3} == 0)\n"
             "    unless on(job, instance) {1}\n"
             "    unless on(job, instance) ({4} >= on(job, instance) ({5} + 1))\n"
             ")\n"
             "or\n"
             "# no start time either: probed for the whole budget, never a success seen\n"
             "(\n"
             "  max_over_time({3}[{6}]) == 0\n"
             "    and on(job, instance) ({3} offset {6})\n"
             "    and on(job, instance) ({7} == 1)\n"
             "    unless on(job, instance) {1}\n"
             "    unless on(job, instance) {5}\n"
             "    unless on(job, instance) {4}\n"
             ")",
             age, sel("service_ready", m), sel("service_time_to_ready_seconds", m),
             sel("probe_success", m), sel(kProbeLastSuccess, m),
             sel("process_start_time_seconds", m), prom_duration(th.startup_budget_ms),
             sel("up", m)),
         r.hold(th.startup_budget_ms / 4)});
  }
  add_merged(g, b, [](std::int64_t) {
    return Rule{
        .name = "ServiceNeverReady",
        .labels = {{"severity", "page"}},
        .summary = "{{ $labels.job }} ({{ $labels.instance }}) has never become ready",
        .description =
            "The current process of {{ $labels.job }} on {{ $labels.instance }} has not been "
            "ready once since it started, and it has been up longer than its start-up budget. "
            "/readyz?verbose says which dependency or start-up step it waits for."};
  });

  // Was ready in this process, then not ready for not_ready_for.
  b.clear();
  for (const auto& s :
       scopes(targets, [](const Thresholds& t) { return key_of({double(t.not_ready_for_ms)}); })) {
    const Thresholds& th = s.first->thresholds;
    const std::string m = s.matcher;
    b.push_back({fmt::format("(\n"
                             "  {0} == 0\n"
                             "    and on(job, instance) {1}\n"
                             ")\n"
                             "or\n"
                             "(\n"
                             "  {2} == 0\n"
                             "    and on(job, instance) ({5} == 1)\n"
                             "    unless on(job, instance) {0}\n"
                             "    and on(job, instance) {3}\n"
                             "    unless on(job, instance) (({4} + 1) > on(job, instance) {3})\n"
                             ")",
                             sel("service_ready", m), sel("service_time_to_ready_seconds", m),
                             sel("probe_success", m), sel(kProbeLastSuccess, m),
                             sel("process_start_time_seconds", m), sel("up", m)),
                 r.hold(th.not_ready_for_ms), th.not_ready_for_ms / 5});
  }
  add_merged(g, b, [](std::int64_t for_ms) {
    return Rule{
        .name = "ServiceNotReady",
        .labels = {{"severity", "page"}},
        .summary = "{{ $labels.job }} ({{ $labels.instance }}) is not ready",
        .description = fmt::format(
            "{{{{ $labels.job }}}} on {{{{ $labels.instance }}}} was ready and has not been for "
            "more than {}: it takes no traffic. /readyz?verbose names the failing check.",
            prom_duration(for_ms))};
  });
}

// --- workers ---------------------------------------------------------------------

void worker_rules(const std::vector<const TargetSpec*>& targets, const Renderer& r, GroupOut& g) {
  // Progress, not liveness: messages have waited longer than stall_for and
  // none finished ok in that time. An idle worker with an empty queue
  // (depth 0) and a slow worker still finishing messages (a recent last
  // success) are not stalled; a message that just arrived at an idle worker
  // is not either (the oldest waiting message must be older than stall_for).
  // No rate window: `for` (a fifth of stall_for) only rides out one scrape.
  std::vector<Branch> b;
  for (const auto& s :
       scopes(targets, [](const Thresholds& t) { return key_of({double(t.stall_for_ms)}); })) {
    const Thresholds& th = s.first->thresholds;
    const std::string m = s.matcher;
    const std::string stall = seconds(th.stall_for_ms);
    b.push_back({fmt::format("(time() - {0} > {1})\n"
                             "  and on(job, instance, messaging_destination_name) ({2} > 0)\n"
                             "  and on(job, instance, messaging_destination_name) ({3} > {1})",
                             sel("worker_last_success_timestamp_seconds", m), stall,
                             sel("queue_depth", m), sel("queue_oldest_message_age_seconds", m)),
                 r.hold(th.stall_for_ms / 5)});
  }
  add_merged(g, b, [](std::int64_t) {
    return Rule{
        .name = "WorkerStalled",
        .labels = {{"severity", "page"}, {"reason", "no_progress"}},
        .summary =
            "{{ $labels.job }} makes no progress on {{ $labels.messaging_destination_name }}",
        .description =
            "Messages have waited on {{ $labels.messaging_destination_name }} longer than the "
            "stall limit and {{ $labels.job }} ({{ $labels.instance }}) has finished none for "
            "{{ $value | humanizeDuration }}."};
  });
  // A dead loop: the heartbeat (every loop turn, work or not) is old.
  b.clear();
  for (const auto& s : scopes(
           targets, [](const Thresholds& t) { return key_of({double(t.heartbeat_max_age_ms)}); })) {
    const Thresholds& th = s.first->thresholds;
    b.push_back(
        {fmt::format("time() - {} > {}", sel("worker_heartbeat_timestamp_seconds", s.matcher),
                     seconds(th.heartbeat_max_age_ms)),
         r.hold(th.heartbeat_max_age_ms / 2)});
  }
  add_merged(g, b, [](std::int64_t) {
    return Rule{.name = "WorkerStalled",
                .labels = {{"severity", "page"}, {"reason", "heartbeat"}},
                .summary = "{{ $labels.job }} worker loop has stopped turning",
                .description =
                    "The worker loop of {{ $labels.job }} ({{ $labels.instance }}) last turned "
                    "{{ $value | humanizeDuration }} ago: it is blocked or dead while the process "
                    "still answers scrapes."};
  });
  b.clear();
  for (const auto& s : scopes(targets, [](const Thresholds& t) {
         return key_of({double(t.queue_lag_ms), double(t.queue_lag_for_ms)});
       })) {
    const Thresholds& th = s.first->thresholds;
    b.push_back({fmt::format("{} > {}", sel("queue_oldest_message_age_seconds", s.matcher),
                             seconds(th.queue_lag_ms)),
                 r.hold(th.queue_lag_for_ms)});
  }
  add_merged(g, b, [](std::int64_t for_ms) {
    return Rule{
        .name = "QueueLagHigh",
        .labels = {{"severity", "ticket"}},
        .summary =
            "{{ $labels.messaging_destination_name }} lags: oldest message "
            "{{ $value | humanizeDuration }}",
        .description = fmt::format(
            "The oldest message waiting on {{{{ $labels.messaging_destination_name }}}} "
            "(worker {{{{ $labels.job }}}}) is {{{{ $value | humanizeDuration }}}} old, over its "
            "limit for more than {}: consumers do not keep up.",
            prom_duration(for_ms))};
  });
}

// --- APIs -------------------------------------------------------------------------

std::string p95(const std::string& m, const std::string& window, std::string_view offset = {}) {
  std::string range = "[" + window + "]";
  if (!offset.empty()) range += " offset " + std::string(offset);
  return fmt::format("histogram_quantile(0.95, sum by (job, http_route, le) (rate({}{})))",
                     sel(kLatencyBucket, m, kNot5xx), range);
}

std::string error_ratio(const std::string& m, const std::string& window) {
  return fmt::format("sum by (job) (rate({}[{}]))\n  / sum by (job) (rate({}[{}]))",
                     sel(kLatencyCount, m, k5xx), window, sel(kLatencyCount, m), window);
}

void api_rules(const std::vector<const TargetSpec*>& targets, const Renderer& r, GroupOut& g) {
  // p95 of non-5xx requests by route over half of `for`: the condition lasts
  // up to one window after a burst of slow requests ends, so a burst shorter
  // than for - window (5m by default) never pages.
  std::vector<Branch> b;
  for (const auto& s : scopes(targets, [](const Thresholds& t) {
         return key_of({t.latency_objective_seconds, double(t.latency_for_ms)});
       })) {
    const Thresholds& th = s.first->thresholds;
    const std::int64_t window = r.window(th.latency_for_ms / 2);
    const std::int64_t for_ms = std::max(r.hold(th.latency_for_ms), window);
    b.push_back(
        {p95(s.matcher, prom_duration(window)) + "\n  > " + num(th.latency_objective_seconds),
         for_ms, for_ms / 5});
  }
  add_merged(g, b, [](std::int64_t for_ms) {
    return Rule{
        .name = "ApiLatencyHigh",
        .labels = {{"severity", "page"}},
        .summary = "{{ $labels.job }} {{ $labels.http_route }} p95 {{ $value | humanizeDuration }}",
        .description = fmt::format(
            "The 95th percentile latency of {{{{ $labels.job }}}} on {{{{ $labels.http_route }}}} "
            "(non-5xx responses) is {{{{ $value | humanizeDuration }}}}, above its objective for "
            "more than {}.",
            prom_duration(for_ms))};
  });
  // A sustained increase against the same window a baseline offset ago (a
  // day: same time of day), only with enough traffic for a p95 to mean
  // something. `for` = the window.
  b.clear();
  for (const auto& s : scopes(targets, [](const Thresholds& t) {
         return key_of({double(t.regression_window_ms), double(t.regression_baseline_offset_ms),
                        t.regression_factor, t.regression_min_request_rate});
       })) {
    const Thresholds& th = s.first->thresholds;
    const std::string w = prom_duration(th.regression_window_ms);
    b.push_back({fmt::format("(\n"
                             "  {0}\n"
                             "    > {1} * {2}\n"
                             ")\n"
                             "and on(job, http_route)\n"
                             "  sum by (job, http_route) (rate({3}[{4}])) >= {5}",
                             p95(s.matcher, w), num(th.regression_factor),
                             p95(s.matcher, w, prom_duration(th.regression_baseline_offset_ms)),
                             sel(kLatencyCount, s.matcher, kNot5xx), w,
                             num(th.regression_min_request_rate)),
                 r.hold(th.regression_window_ms)});
  }
  add_merged(g, b, [](std::int64_t for_ms) {
    return Rule{
        .name = "ApiLatencyRegression",
        .labels = {{"severity", "ticket"}},
        .summary =
            "{{ $labels.job }} {{ $labels.http_route }} p95 regressed to "
            "{{ $value | humanizeDuration }}",
        .description = fmt::format(
            "The p95 latency of {{{{ $labels.job }}}} on {{{{ $labels.http_route }}}} is "
            "{{{{ $value | humanizeDuration }}}}, above its regression factor times its level at "
            "the same time of the baseline (a day earlier by default), with enough traffic, for "
            "more than {}.",
            prom_duration(for_ms))};
  });
  // Multiwindow, multi-burn-rate (Google SRE workbook, ch. 5) on the 5xx
  // ratio. Deviation from "for >= the longest rate window": the long window
  // (1h, 6h) is the burn's duration itself and the short one (5m, 30m) makes
  // the alert stop soon after the burn does; a `for` of 1h would delay the
  // page for a full outage by an hour. `for` is 2/5 of the short window for
  // the fast pair (2m) and half of it for the slow pair (15m), as the
  // workbook's for: 2m / 15m.
  struct Pair {
    const char* burn;
    double factor;
  };
  for (const Pair& p : {Pair{"fast", 14.4}, Pair{"slow", 6}}) {
    const bool fast = std::string_view(p.burn) == "fast";
    b.clear();
    for (const auto& s : scopes(targets, [&](const Thresholds& t) {
           return fast ? key_of({t.availability_objective, double(t.fast_burn_long_window_ms),
                                 double(t.fast_burn_short_window_ms)})
                       : key_of({t.availability_objective, double(t.slow_burn_long_window_ms),
                                 double(t.slow_burn_short_window_ms)});
         })) {
      const Thresholds& th = s.first->thresholds;
      const std::int64_t long_ms = fast ? th.fast_burn_long_window_ms : th.slow_burn_long_window_ms;
      const std::int64_t short_ms =
          fast ? th.fast_burn_short_window_ms : th.slow_burn_short_window_ms;
      const std::string threshold = num(p.factor) + " * " + num(1.0 - th.availability_objective);
      b.push_back({fmt::format("(\n"
                               "  {0}\n"
                               ") > {1}\n"
                               "and on(job)\n"
                               "(\n"
                               "  {2}\n"
                               ") > {1}",
                               error_ratio(s.matcher, prom_duration(long_ms)), threshold,
                               error_ratio(s.matcher, prom_duration(short_ms))),
                   r.hold(fast ? short_ms * 2 / 5 : short_ms / 2)});
    }
    add_merged(g, b, [&](std::int64_t) {
      return Rule{
          .name = "ApiErrorBudgetBurn",
          .labels = {{"severity", "page"}, {"burn", p.burn}},
          .summary = fmt::format("{{{{ $labels.job }}}} burns its error budget {}x too fast",
                                 num(p.factor)),
          .description = fmt::format(
              "{{{{ $labels.job }}}} answers {{{{ $value | humanizePercentage }}}} of requests "
              "with 5xx over the {0} burn's long window, and the short window agrees: more than "
              "{1}x its error budget. At {1}x, a 30-day budget is gone in {2}.",
              p.burn, num(p.factor),
              prom_duration(static_cast<std::int64_t>(30.0 * 86'400'000 / p.factor)))};
    });
  }
}

// --- check-ins ---------------------------------------------------------------------

void job_rules(const RulePackOptions& o, const Renderer& r, GroupOut& g) {
  const std::int64_t for_ms = r.hold(o.job_for_ms);
  // job_checkin_state is 1 (late) between the scheduled time and the ping
  // for every punctual run; 2 only once the grace is over. Value: how long
  // past the expected time.
  g.rules.push_back(Rule{
      .name = "JobMissedRun",
      .expr = "time() - job_checkin_next_expected_timestamp_seconds\n"
              "  and on(job) (job_checkin_state == 2)",
      .for_ms = for_ms,
      .labels = {{"severity", "page"}},
      .summary = "{{ $labels.job }} missed its scheduled run",
      .description = "{{ $labels.job }} was expected {{ $value | humanizeDuration }} ago and "
                     "has not checked in (start, success or fail) within its grace.",
  });
  g.rules.push_back(Rule{
      .name = "JobFailed",
      .expr = "job_checkin_last_run_failed == 1",
      .for_ms = for_ms,
      .labels = {{"severity", "ticket"}},
      .summary = "{{ $labels.job }}: the last run failed",
      .description = "The last finished run of {{ $labels.job }} reported a failure (fail ping "
                     "or non-zero exit status). It clears when a run succeeds.",
  });
  g.rules.push_back(Rule{
      .name = "JobRunTooLong",
      .expr = "time() - job_checkin_run_started_timestamp_seconds\n"
              "  and on(job) (job_checkin_run_too_long == 1)",
      .for_ms = for_ms,
      .labels = {{"severity", "ticket"}},
      .summary = "{{ $labels.job }} has run for {{ $value | humanizeDuration }}",
      .description = "A run of {{ $labels.job }} started {{ $value | humanizeDuration }} ago "
                     "and has not finished within its maximum run time: hung, or its input grew.",
  });
}

}  // namespace

std::string_view to_string(Workload workload) {
  switch (workload) {
    case Workload::kApi:
      return "api";
    case Workload::kWorker:
      return "worker";
    case Workload::kJob:
      return "job";
    case Workload::kOther:
      return "other";
  }
  return "other";
}

const std::vector<std::string>& alert_names() {
  static const std::vector<std::string> names = {
      "TargetDown",     "ServiceNeverReady",    "ServiceNotReady",   "WorkerStalled",
      "QueueLagHigh",   "JobMissedRun",         "JobFailed",         "JobRunTooLong",
      "ApiLatencyHigh", "ApiLatencyRegression", "ApiErrorBudgetBurn"};
  return names;
}

std::string prom_duration(std::int64_t ms) {
  if (ms <= 0) return "0s";
  static constexpr std::pair<std::int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}, {1, "ms"}};
  std::string out;
  for (const auto& [unit, suffix] : kUnits) {
    if (ms >= unit) {
      out += std::to_string(ms / unit) + suffix;
      ms %= unit;
    }
  }
  return out;
}

std::string render_rule_pack(const std::vector<TargetSpec>& targets,
                             const RulePackOptions& options) {
  std::vector<const TargetSpec*> sorted;
  for (const auto& t : targets) sorted.push_back(&t);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const TargetSpec* a, const TargetSpec* b) { return a->name < b->name; });
  std::vector<const TargetSpec*> apis, workers;
  for (const auto* t : sorted) {
    if (t->workload == Workload::kApi) apis.push_back(t);
    if (t->workload == Workload::kWorker) workers.push_back(t);
  }
  Renderer r(options);
  std::vector<GroupOut> groups;
  if (!sorted.empty()) {
    groups.push_back({.name = "firebreak.targets"});
    target_rules(sorted, r, groups.back());
  }
  if (!apis.empty()) {
    groups.push_back({.name = "firebreak.api"});
    api_rules(apis, r, groups.back());
  }
  if (!workers.empty()) {
    groups.push_back({.name = "firebreak.worker"});
    worker_rules(workers, r, groups.back());
  }
  if (options.include_job_rules) {
    groups.push_back({.name = "firebreak.jobs"});
    job_rules(options, r, groups.back());
  }
  if (groups.empty()) return "groups: []\n";
  return r.render(groups);
}

}  // namespace watch::rulepack
