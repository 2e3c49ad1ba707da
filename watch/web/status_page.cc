#include "watch/web/status_page.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <random>
#include <set>
#include <type_traits>
#include <variant>

#include "watch/model/text.h"
#include "watch/promql/format.h"
#include "watch/web/html_page.h"
#include "watch/web/params.h"
#include "watch/web/status_assets.h"
#include "watch/web/traces_page.h"

namespace watch::web {

namespace {

constexpr std::size_t kMaxChartSeries = 8;
constexpr std::size_t kRunStrip = 30;  // runs shown on a job's card, as healthchecks.io

// A PromQL string literal: the value in double quotes.
std::string promql_string(std::string_view s) {
  return "\"" + promql_string_body(s) + "\"";
}

std::string percent(double ratio) {
  if (std::isnan(ratio)) return "–";
  return fmt::format("{:.2f}%", ratio * 100);
}

bool http_link(std::string_view url) {
  return equal_fold(url.substr(0, 7), "http://") || equal_fold(url.substr(0, 8), "https://");
}

std::string annotation(const StatusAlert& a, std::string_view name) {
  for (const auto& [k, v] : a.annotations)
    if (k == name) return v;
  return {};
}

std::string label_text(const LabelSet& labels) {
  std::string out = "{";
  bool first = true;
  for (const Label& l : labels) {
    if (!first) out += ", ";
    first = false;
    out += l.name + "=" + promql_string(l.value);
  }
  return out + "}";
}

std::size_t firing_count(const std::vector<StatusAlert>& alerts) {
  return static_cast<std::size_t>(std::count_if(
      alerts.begin(), alerts.end(), [](const StatusAlert& a) { return a.state == "firing"; }));
}

// ---------------------------------------------------------------------------
// Overview.

enum class State { kOk, kWarning, kCritical, kUnknown };

std::string_view state_class(State s) {
  switch (s) {
    case State::kOk:
      return "ok";
    case State::kWarning:
      return "warning";
    case State::kCritical:
      return "critical";
    default:
      return "unknown";
  }
}

State worse(State a, State b) {
  auto rank = [](State s) {
    switch (s) {
      case State::kCritical:
        return 3;
      case State::kWarning:
        return 2;
      case State::kUnknown:
        return 1;
      default:
        return 0;
    }
  };
  return rank(a) >= rank(b) ? a : b;
}

// A query's answer by the value of one label (by job, or by job and route).
using ByKey = std::map<std::string, double>;

ByKey by_labels(const StatusSource& source, const std::string& expr, std::int64_t now,
                std::initializer_list<std::string_view> keys) {
  ByKey out;
  const StatusQueryResult r = source.query(expr, now);
  if (!r.error.empty()) return out;
  for (const StatusSeries& s : r.series) {
    if (s.points.empty()) continue;
    std::string key;
    for (std::string_view k : keys) {
      if (!key.empty()) key += '\x1f';
      key += s.labels.get(k);
    }
    out[key] = s.points.back().second;
  }
  return out;
}

struct Card {
  std::string name;
  std::string workload;
  std::vector<const StatusTarget*> instances;
  std::vector<const StatusAlert*> alerts;
  const StatusJob* job = nullptr;
};

void figure(Out& out, std::string_view name, const std::string& value) {
  out += "<dt>";
  out += name;
  out += "</dt><dd>";
  esc(out, value);
  out += "</dd>";
}

std::optional<double> lookup(const ByKey& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

void chart(Out& out, std::string_view title, const std::string& expr,
           std::string_view css_class = "chart") {
  out += "<div class=\"";
  out += css_class;
  out += "\" data-title=\"";
  esc(out, title);
  out += "\" data-expr=\"";
  esc(out, expr);
  out += "\" data-range=\"3600\"></div>";
}

void render_card(Out& out, const Card& c, std::int64_t now, const std::map<std::string, ByKey>& q) {
  State state = State::kOk;
  bool any_scraped = c.job != nullptr;
  std::size_t up = 0, ready = 0, probed = 0;
  for (const StatusTarget* t : c.instances) {
    if (t->health != "unknown") any_scraped = true;
    if (t->health == "up") ++up;
    if (t->health == "down") state = worse(state, State::kWarning);
    if (t->ready) {
      ++probed;
      if (*t->ready)
        ++ready;
      else
        state = worse(state, State::kWarning);
    }
  }
  if (!any_scraped) state = State::kUnknown;
  if (c.job) {
    if (c.job->state == "down") state = worse(state, State::kCritical);
    if (c.job->state == "late") state = worse(state, State::kWarning);
  }
  std::vector<std::string> reasons;
  for (const StatusAlert* a : c.alerts) {
    const bool page = a->labels.get("severity") == "page";
    const bool silenced = !a->silenced_by.empty();
    if (a->state == "firing" && page && !silenced)
      state = worse(state, State::kCritical);
    else
      state = worse(state, State::kWarning);
    reasons.push_back(std::string(a->labels.get("alertname")) +
                      (a->state == "pending" ? " (pending)" : "") +
                      (silenced ? " (silenced)" : ""));
  }
  out += "<article class=\"card state-";
  out += state_class(state);
  out += "\" id=\"service-";
  esc(out, c.name);
  out += "\"><h3><span class=\"dot\" aria-hidden=\"true\"></span>";
  esc(out, c.name);
  out += "</h3><p class=\"state\">";
  out += state_class(state);
  if (!reasons.empty()) {
    out += ": ";
    for (std::size_t i = 0; i < reasons.size(); ++i) {
      if (i) out += ", ";
      out += "<a href=\"/alerts\">";
      esc(out, reasons[i]);
      out += "</a>";
    }
  }
  out += "</p><dl>";
  const std::string& n = c.name;
  if (!c.instances.empty()) {
    figure(out, "up", fmt::format("{}/{}", up, c.instances.size()));
    if (probed) figure(out, "ready", fmt::format("{}/{}", ready, probed));
  }
  const auto value = [&](const char* query) { return lookup(q.at(query), n); };
  if (c.workload == "api") {
    if (auto v = value("rps")) figure(out, "requests/s", number(*v));
    if (auto v = value("errors")) figure(out, "5xx ratio", percent(*v));
  } else if (c.workload == "worker") {
    if (auto v = value("done")) figure(out, "done/s", number(*v));
    if (auto v = value("backlog")) figure(out, "backlog", number(*v));
    if (auto v = value("oldest")) figure(out, "oldest message", seconds_text(*v));
    if (auto v = value("heartbeat")) figure(out, "heartbeat age", seconds_text(*v));
  }
  if (c.job) {
    const StatusJob& j = *c.job;
    figure(out, "check-in", j.running ? j.state + ", running" : j.state);
    const StatusJobRun* last = nullptr;
    for (auto it = j.history.rbegin(); it != j.history.rend(); ++it)
      if (it->outcome == "success" || it->outcome == "fail") {
        last = &*it;
        break;
      }
    if (last) {
      out += "<dt>last run</dt><dd>";
      esc(out, last->outcome);
      if (last->duration_seconds) out += ", " + seconds_text(*last->duration_seconds);
      out += ", ";
      when(out, last->time_ms, now);
      out += "</dd>";
    }
    if (j.next_expected_ms) {
      out += "<dt>next run</dt><dd>";
      when(out, *j.next_expected_ms, now);
      out += "</dd>";
    }
  }
  out += "</dl>";
  if (c.workload == "api") {
    // p95 by route against the objective.
    const ByKey& p95 = q.at("p95");
    double objective = 0;
    for (const StatusTarget* t : c.instances)
      objective = std::max(objective, t->latency_objective_seconds);
    std::string rows;
    const std::string prefix = n + '\x1f';
    for (auto it = p95.lower_bound(prefix); it != p95.end() && it->first.starts_with(prefix);
         ++it) {
      const bool over = objective > 0 && it->second > objective;
      rows += over ? "<tr class=\"over\"><td>" : "<tr><td>";
      esc(rows, it->first.substr(prefix.size()));
      rows += "</td><td>" + seconds_text(it->second) + "</td></tr>";
    }
    if (!rows.empty()) {
      out += "<table class=\"routes\"><thead><tr><th>route</th><th>p95";
      if (objective > 0) out += " (objective " + seconds_text(objective) + ")";
      out += "</th></tr></thead><tbody>" + rows + "</tbody></table>";
    }
    chart(
        out, "requests/s",
        "sum(rate(http_server_request_duration_seconds_count{job=" + promql_string(n) + "}[1m]))");
  } else if (c.workload == "worker") {
    const ByKey& outcomes = q.at("outcomes");
    std::string list;
    const std::string prefix = n + '\x1f';
    for (auto it = outcomes.lower_bound(prefix);
         it != outcomes.end() && it->first.starts_with(prefix); ++it) {
      if (!list.empty()) list += ", ";
      list += it->first.substr(prefix.size()) + " " + number(it->second) + "/s";
    }
    if (!list.empty()) {
      out += "<p class=\"outcomes\">outcomes: ";
      esc(out, list);
      out += "</p>";
    }
    chart(out, "done/s",
          "sum(rate(messaging_process_duration_seconds_count{job=" + promql_string(n) +
              ",outcome=\"ok\"}[1m]))");
  } else if (!c.instances.empty()) {
    chart(out, "instances up", "sum(up{job=" + promql_string(n) + "})");
  }
  if (c.job) {
    // The last runs, oldest first: green success, red failure.
    std::vector<const StatusJobRun*> runs;
    for (auto it = c.job->history.rbegin(); it != c.job->history.rend() && runs.size() < kRunStrip;
         ++it)
      if (it->outcome == "success" || it->outcome == "fail") runs.push_back(&*it);
    if (!runs.empty()) {
      out += "<ol class=\"runs\" aria-label=\"last runs, oldest first\">";
      for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
        const StatusJobRun& r = **it;
        out += "<li class=\"run ";
        out += r.outcome == "success" ? "ok" : "failed";
        out += "\" title=\"";
        std::string title = r.outcome + " at " + utc(r.time_ms);
        if (r.duration_seconds) title += ", " + seconds_text(*r.duration_seconds);
        if (r.exit_status) title += fmt::format(", exit status {}", *r.exit_status);
        esc(out, title);
        out += "\"></li>";
      }
      out += "</ol>";
    }
  }
  out += "</article>";
}

}  // namespace

StatusQueryResult status_query(const promql::Engine& engine, const std::string& expr,
                               std::int64_t time_ms) {
  StatusQueryResult out;
  const promql::QueryResult r = engine.instant_query(expr, time_ms);
  if (!r.ok()) {
    out.error = r.error ? r.error->message : "query failed";
    return out;
  }
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, promql::Vector>) {
          out.type = "vector";
          for (const auto& s : v) out.series.push_back({s.labels, {{s.t, s.v}}});
        } else if constexpr (std::is_same_v<T, promql::Matrix>) {
          out.type = "matrix";
          for (const auto& s : v) {
            StatusSeries series{.labels = s.labels};
            for (const auto& p : s.samples) series.points.emplace_back(p.t, p.v);
            out.series.push_back(std::move(series));
          }
        } else if constexpr (std::is_same_v<T, promql::Scalar>) {
          out.type = "scalar";
          out.series.push_back({LabelSet{}, {{v.t, v.v}}});
        } else {
          out.type = "string";
          out.error = "a string result: " + v.v;
        }
      },
      *r.value);
  return out;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  esc(out, text);
  return out;
}

std::string render_overview(const StatusSource& source, const StatusPageOptions& options) {
  const std::int64_t now = source.now_ms();
  const std::vector<StatusTarget> targets = source.targets();
  const std::vector<StatusAlert> alerts = source.alerts();
  const std::vector<StatusJob> jobs = source.jobs();

  std::map<std::string, Card> cards;
  for (const StatusTarget& t : targets) {
    Card& c = cards[t.job];
    c.name = t.job;
    if (c.workload.empty()) c.workload = t.workload;
    c.instances.push_back(&t);
  }
  for (const StatusJob& j : jobs) {
    Card& c = cards[j.name];
    c.name = j.name;
    c.workload = "job";
    c.job = &j;
  }
  std::vector<const StatusAlert*> unmatched;
  for (const StatusAlert& a : alerts) {
    auto it = cards.find(std::string(a.labels.get("job")));
    if (it == cards.end()) {
      unmatched.push_back(&a);
      continue;
    }
    it->second.alerts.push_back(&a);
  }
  bool any_api = false, any_worker = false;
  for (const auto& [name, c] : cards) {
    any_api |= c.workload == "api";
    any_worker |= c.workload == "worker";
  }
  // One query per figure for every service at once.
  std::map<std::string, ByKey> q;
  const auto run = [&](const char* key, bool needed, const std::string& expr,
                       std::initializer_list<std::string_view> by) {
    q[key] = needed ? by_labels(source, expr, now, by) : ByKey{};
  };
  const std::string count = "rate(http_server_request_duration_seconds_count[5m])";
  run("rps", any_api, "sum by (job) (" + count + ")", {"job"});
  run("errors", any_api,
      "sum by (job) (rate(http_server_request_duration_seconds_count{http_response_status_code=~"
      "\"5..\"}[5m])) / sum by (job) (" +
          count + ")",
      {"job"});
  run("p95", any_api,
      "histogram_quantile(0.95, sum by (job, http_route, le) "
      "(rate(http_server_request_duration_seconds_bucket[5m])))",
      {"job", "http_route"});
  run("done", any_worker,
      "sum by (job) (rate(messaging_process_duration_seconds_count{outcome=\"ok\"}[5m]))", {"job"});
  run("backlog", any_worker, "sum by (job) (queue_depth)", {"job"});
  run("oldest", any_worker, "max by (job) (queue_oldest_message_age_seconds)", {"job"});
  run("heartbeat", any_worker, "time() - max by (job) (worker_heartbeat_timestamp_seconds)",
      {"job"});
  run("outcomes", any_worker,
      "sum by (job, outcome) (rate(messaging_process_duration_seconds_count[5m]))",
      {"job", "outcome"});

  Page page("overview", "Overview", options.version, now, firing_count(alerts));
  Out& out = page.out();
  if (cards.empty())
    out +=
        "<p class=\"empty\">Nothing to show yet: watch has no targets or jobs. Add them to "
        "firebreak.yaml (see docs/config.md).</p>";
  for (auto [workload, heading] : {std::pair{"api", "APIs"},
                                   {"worker", "Workers"},
                                   {"job", "Scheduled jobs"},
                                   {"", "Other services"}}) {
    bool any = false;
    for (const auto& [name, c] : cards) {
      const bool here = std::string_view(workload).empty()
                            ? (c.workload != "api" && c.workload != "worker" && c.workload != "job")
                            : c.workload == workload;
      if (!here) continue;
      if (!any) {
        out += "<section class=\"workload\"><h2>";
        out += heading;
        out += "</h2><div class=\"cards\">";
        any = true;
      }
      render_card(out, c, now, q);
    }
    if (any) out += "</div></section>";
  }
  if (!unmatched.empty()) {
    out += "<section><h2>Other alerts</h2><ul>";
    for (const StatusAlert* a : unmatched) {
      out += "<li><a href=\"/alerts\">";
      esc(out, a->labels.get("alertname"));
      out += "</a> ";
      esc(out, label_text(a->labels));
      out += "</li>";
    }
    out += "</ul></section>";
  }
  return page.finish();
}

namespace {

// ---------------------------------------------------------------------------
// The other pages.

void labels_list(Out& out, const LabelSet& labels) {
  out += "<ul class=\"labels\">";
  for (const Label& l : labels) {
    out += "<li><span class=\"name\">";
    esc(out, l.name);
    out += "</span>=<span class=\"value\">";
    esc(out, l.value);
    out += "</span></li>";
  }
  out += "</ul>";
}

void hidden(Out& out, std::string_view name, std::string_view value) {
  out += "<input type=\"hidden\" name=\"";
  esc(out, name);
  out += "\" value=\"";
  esc(out, value);
  out += "\">";
}

std::string render_alerts(const StatusSource& source, const StatusPageOptions& options,
                          std::string_view notice) {
  const std::int64_t now = source.now_ms();
  std::vector<StatusAlert> alerts = source.alerts();
  std::stable_sort(alerts.begin(), alerts.end(), [](const StatusAlert& a, const StatusAlert& b) {
    if (a.state != b.state) return a.state == "firing";
    return a.active_at_ms < b.active_at_ms;
  });
  Page page("alerts", "Alerts", options.version, now, firing_count(alerts));
  Out& out = page.out();
  if (!notice.empty()) {
    out += "<p class=\"notice\">";
    esc(out, notice);
    out += "</p>";
  }
  if (alerts.empty()) out += "<p class=\"empty\">No alert is firing or pending.</p>";
  for (const StatusAlert& a : alerts) {
    const bool page_severity = a.labels.get("severity") == "page";
    out += "<article class=\"alert ";
    out += a.state == "firing" ? (page_severity ? "state-critical" : "state-warning")
                               : "state-pending";
    out += "\"><h2><span class=\"dot\" aria-hidden=\"true\"></span>";
    esc(out, a.labels.get("alertname"));
    out += " <span class=\"badge\">";
    esc(out, a.state);
    out += "</span>";
    if (!a.silenced_by.empty()) out += " <span class=\"badge silenced\">silenced</span>";
    out += "</h2><p class=\"since\">since ";
    when(out, a.active_at_ms, now);
    out += " · value ";
    esc(out, number(a.value));
    out += "</p>";
    if (std::string s = annotation(a, "summary"); !s.empty()) {
      out += "<p class=\"summary\">";
      esc(out, s);
      out += "</p>";
    }
    if (std::string d = annotation(a, "description"); !d.empty()) {
      out += "<p class=\"description\">";
      esc(out, d);
      out += "</p>";
    }
    labels_list(out, a.labels);
    if (std::string url = annotation(a, "runbook_url"); !url.empty()) {
      if (http_link(url)) {
        out += "<p><a class=\"runbook\" rel=\"noopener noreferrer\" href=\"";
        esc(out, url);
        out += "\">Runbook</a></p>";
      } else {
        out += "<p class=\"runbook\">Runbook: ";
        esc(out, url);
        out += "</p>";
      }
    }
    // Silence: every label of the alert must be equal.
    out +=
        "<details class=\"silence\"><summary>Silence…</summary>"
        "<form method=\"post\" action=\"/silences\">";
    hidden(out, "token", options.form_token);
    std::size_t i = 0;
    for (const Label& l : a.labels) {
      hidden(out, fmt::format("name{}", i), l.name);
      hidden(out, fmt::format("value{}", i), l.value);
      ++i;
    }
    out +=
        "<label>for <select name=\"duration\"><option value=\"1h\">1 hour</option>"
        "<option value=\"2h\" selected>2 hours</option><option value=\"4h\">4 hours</option>"
        "<option value=\"24h\">1 day</option><option value=\"168h\">1 week</option></select>"
        "</label> <label>by <input name=\"created_by\" required maxlength=\"200\"></label> "
        "<label>because <input name=\"comment\" required maxlength=\"1000\"></label> "
        "<button type=\"submit\">Silence</button></form></details>";
    out += "</article>";
  }
  // Silences.
  const std::vector<StatusSilence> silences = source.silences();
  out += "<h2 id=\"silences\">Silences</h2>";
  bool any = false;
  for (const StatusSilence& s : silences) {
    if (s.state == "expired" && now - s.ends_at_ms > 24 * 3'600'000) continue;
    if (!any) {
      out +=
          "<table class=\"silences\"><thead><tr><th>matchers</th><th>state</th><th>ends</th>"
          "<th>by</th><th>comment</th><th></th></tr></thead><tbody>";
      any = true;
    }
    out += "<tr><td><code>";
    esc(out, s.matchers);
    out += "</code></td><td>";
    esc(out, s.state);
    out += "</td><td>";
    when(out, s.ends_at_ms, now);
    out += "</td><td>";
    esc(out, s.created_by);
    out += "</td><td>";
    esc(out, s.comment);
    out += "</td><td>";
    if (s.state != "expired") {
      out += "<form method=\"post\" action=\"/silences/expire\">";
      hidden(out, "token", options.form_token);
      hidden(out, "id", s.id);
      out += "<button type=\"submit\">Expire</button></form>";
    }
    out += "</td></tr>";
  }
  if (any)
    out += "</tbody></table>";
  else
    out += "<p class=\"empty\">No silences.</p>";
  return page.finish();
}

std::string render_targets(const StatusSource& source, const StatusPageOptions& options) {
  const std::int64_t now = source.now_ms();
  std::vector<StatusTarget> targets = source.targets();
  std::stable_sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) {
    return std::tie(a.job, a.instance) < std::tie(b.job, b.instance);
  });
  Page page("targets", "Targets", options.version, now, firing_count(source.alerts()));
  Out& out = page.out();
  if (targets.empty()) {
    out += "<p class=\"empty\">No targets.</p>";
    return page.finish();
  }
  out +=
      "<table><thead><tr><th>service</th><th>instance</th><th>health</th><th>ready</th>"
      "<th>last scrape</th><th>took</th><th>error</th></tr></thead><tbody>";
  for (const StatusTarget& t : targets) {
    out += "<tr class=\"health-";
    esc(out, t.health);
    out += "\"><td>";
    esc(out, t.job);
    out += "</td><td><a rel=\"noopener noreferrer\" href=\"";
    if (http_link(t.url)) esc(out, t.url);
    out += "\">";
    esc(out, t.instance);
    out += "</a></td><td>";
    esc(out, t.health);
    out += "</td><td>";
    out += t.ready ? (*t.ready ? "ready" : "not ready") : "–";
    out += "</td><td>";
    when(out, t.last_scrape_ms, now);
    out += "</td><td>";
    out += t.last_scrape_ms ? seconds_text(t.last_duration_seconds) : "–";
    out += "</td><td class=\"error\">";
    esc(out, t.last_error);
    out += "</td></tr>";
  }
  out += "</tbody></table>";
  return page.finish();
}

std::string render_rules(const StatusSource& source, const StatusPageOptions& options) {
  const std::int64_t now = source.now_ms();
  Page page("rules", "Rules", options.version, now, firing_count(source.alerts()));
  Out& out = page.out();
  const std::vector<StatusRule> rules = source.rules();
  if (rules.empty()) {
    out += "<p class=\"empty\">No rules.</p>";
    return page.finish();
  }
  out +=
      "<table><thead><tr><th>group</th><th>rule</th><th>state</th><th>health</th>"
      "<th>last evaluation</th><th>took</th><th>error</th></tr></thead><tbody>";
  for (const StatusRule& r : rules) {
    out += "<tr class=\"rule-";
    esc(out, r.state.empty() ? r.type : r.state);
    out += "\"><td>";
    esc(out, r.group);
    out += "</td><td><details><summary>";
    esc(out, r.name);
    out += "</summary><pre><code>";
    esc(out, r.query);
    out += "</code></pre></details></td><td>";
    esc(out, r.state.empty() ? r.type : r.state);
    out += "</td><td>";
    esc(out, r.health);
    out += "</td><td>";
    when(out, r.last_evaluation_ms, now);
    out += "</td><td>";
    out += r.last_evaluation_ms ? seconds_text(r.evaluation_seconds) : "–";
    out += "</td><td class=\"error\">";
    esc(out, r.last_error);
    out += "</td></tr>";
  }
  out += "</tbody></table>";
  return page.finish();
}

std::string render_jobs(const StatusSource& source, const StatusPageOptions& options) {
  const std::int64_t now = source.now_ms();
  Page page("jobs", "Jobs", options.version, now, firing_count(source.alerts()));
  Out& out = page.out();
  const std::vector<StatusJob> jobs = source.jobs();
  if (jobs.empty()) out += "<p class=\"empty\">No scheduled jobs check in.</p>";
  for (const StatusJob& j : jobs) {
    out += "<section class=\"job state-";
    out += j.state == "down" ? "critical" : j.state == "late" ? "warning" : "ok";
    out += "\"><h2><span class=\"dot\" aria-hidden=\"true\"></span>";
    esc(out, j.name);
    out += " <span class=\"badge\">";
    esc(out, j.state);
    out += "</span>";
    if (j.running) out += " <span class=\"badge\">running</span>";
    out += "</h2><dl><dt>schedule</dt><dd><code>";
    esc(out, j.schedule);
    out += "</code>";
    if (!j.schedule_text.empty()) {
      out += " (";
      esc(out, j.schedule_text);
      out += ")";
    }
    out += "</dd><dt>time zone</dt><dd>";
    esc(out, j.time_zone);
    out += "</dd><dt>grace</dt><dd>";
    out += span_text(j.grace_ms);
    out += "</dd><dt>next run</dt><dd>";
    if (j.next_expected_ms)
      when(out, *j.next_expected_ms, now);
    else
      out += "–";
    out += "</dd></dl>";
    if (!j.history.empty()) {
      out +=
          "<table><thead><tr><th>when</th><th>check-in</th><th>exit status</th><th>duration</th>"
          "</tr></thead><tbody>";
      std::size_t shown = 0;
      for (auto it = j.history.rbegin(); it != j.history.rend() && shown < 50; ++it, ++shown) {
        out += "<tr class=\"run-";
        esc(out, it->outcome);
        out += "\"><td>";
        when(out, it->time_ms, now);
        out += "</td><td>";
        esc(out, it->outcome);
        out += "</td><td>";
        if (it->exit_status) out += std::to_string(*it->exit_status);
        out += "</td><td>";
        if (it->duration_seconds) out += seconds_text(*it->duration_seconds);
        out += "</td></tr>";
      }
      out += "</tbody></table>";
    }
    out += "</section>";
  }
  return page.finish();
}

std::string render_query(const StatusSource& source, const StatusPageOptions& options,
                         const Params& params) {
  const std::int64_t now = source.now_ms();
  Page page("query", "Query", options.version, now, firing_count(source.alerts()));
  Out& out = page.out();
  const std::string expr(param(params, "expr").value_or(""));
  std::int64_t at = now;
  std::string time_error;
  if (auto t = param(params, "time"); t && !t->empty()) {
    if (auto ms = parse_time_ms(*t))
      at = *ms;
    else
      time_error = "time: not a Unix time or RFC 3339 time";
  }
  out +=
      "<form class=\"query\" method=\"get\" action=\"/query\"><label for=\"expr\">PromQL "
      "expression</label><textarea id=\"expr\" name=\"expr\" rows=\"3\" spellcheck=\"false\" "
      "required>";
  esc(out, expr);
  out +=
      "</textarea><label>at <input name=\"time\" placeholder=\"now (Unix seconds or RFC 3339)\" "
      "value=\"";
  esc(out, std::string(param(params, "time").value_or("")));
  out += "\"></label> <button type=\"submit\">Run</button></form>";
  if (expr.empty()) return page.finish();
  if (!time_error.empty()) {
    out += "<p class=\"error\">";
    esc(out, time_error);
    out += "</p>";
    return page.finish();
  }
  const StatusQueryResult r = source.query(expr, at);
  if (!r.error.empty()) {
    out += "<p class=\"error\">";
    esc(out, r.error);
    out += "</p>";
    return page.finish();
  }
  chart(out, "last hour", expr, "chart large");
  out += fmt::format("<p class=\"result-type\">{} result, {} series, at ", r.type, r.series.size());
  out += utc(at);
  out += "</p><table class=\"result\"><thead><tr><th>series</th><th>value</th></tr></thead><tbody>";
  for (const StatusSeries& s : r.series) {
    out += "<tr><td><code>";
    esc(out, label_text(s.labels));
    out += "</code></td><td>";
    for (std::size_t i = 0; i < s.points.size(); ++i) {
      if (i) out += "<br>";
      esc(out, promql::format_value(s.points[i].second));
      if (s.points.size() > 1) out += " @" + utc(s.points[i].first);
    }
    out += "</td></tr>";
  }
  out += "</tbody></table>";
  return page.finish();
}

std::string_view content_type_of(std::string_view name) {
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

bool same_token(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

firebreak::AdminResponse see_other(std::string location) {
  return {.status = 303,
          .content_type = "text/plain; charset=utf-8",
          .headers = {{"Location", std::move(location)}, {"Cache-Control", "no-store"}},
          .body = "see other\n"};
}

firebreak::AdminResponse form_error(int status, std::string message) {
  std::string body =
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error · firebreak "
      "watch</title><link rel=\"stylesheet\" href=\"/static/status.css\"></head><body><main><h1>"
      "Not done</h1><p class=\"error\">";
  esc(body, message);
  body += "</p><p><a href=\"/alerts\">Back to the alerts</a></p></main></body></html>\n";
  return html_response(std::move(body), status);
}

// The form's fields when it carries this process's token (so it came from
// one of its pages, not from another site); nullopt otherwise.
std::optional<Params> posted_form(const firebreak::AdminRequest& req,
                                  const StatusPageOptions& options) {
  Params form = parse_form(req.body);
  if (!same_token(param(form, "token").value_or(""), options.form_token)) return std::nullopt;
  return form;
}

firebreak::AdminResponse stale_form() {
  return form_error(403,
                    "This form is out of date or came from another site: reload the alerts page "
                    "and try again.");
}

std::string random_token() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 4; ++i) out += fmt::format("{:08x}", rd());
  return out;
}

}  // namespace

void add_status_page(firebreak::AdminServer& server, StatusSource& source,
                     StatusPageOptions options) {
  if (options.form_token.empty()) options.form_token = random_token();
  auto opts = std::make_shared<const StatusPageOptions>(std::move(options));
  StatusSource* src = &source;
  server.add_handler("GET", "/", [src, opts](const firebreak::AdminRequest&) {
    return html_response(render_overview(*src, *opts));
  });
  server.add_handler("GET", "/alerts", [src, opts](const firebreak::AdminRequest& req) {
    std::string notice;
    if (auto id = req.query_value("silenced")) notice = "Silence " + std::string(*id) + " created.";
    if (auto id = req.query_value("expired")) notice = "Silence " + std::string(*id) + " expired.";
    return html_response(render_alerts(*src, *opts, notice));
  });
  server.add_handler("GET", "/targets", [src, opts](const firebreak::AdminRequest&) {
    return html_response(render_targets(*src, *opts));
  });
  server.add_handler("GET", "/rules", [src, opts](const firebreak::AdminRequest&) {
    return html_response(render_rules(*src, *opts));
  });
  server.add_handler("GET", "/jobs", [src, opts](const firebreak::AdminRequest&) {
    return html_response(render_jobs(*src, *opts));
  });
  server.add_handler("GET", "/query", [src, opts](const firebreak::AdminRequest& req) {
    return html_response(render_query(*src, *opts, Params(req.query.begin(), req.query.end())));
  });
  auto trace_context = [src, opts] {
    return TracePageContext{.store = src->trace_store(),
                            .version = opts->version,
                            .now_ms = src->now_ms(),
                            .firing = firing_count(src->alerts())};
  };
  server.add_handler("GET", "/traces", [trace_context](const firebreak::AdminRequest& req) {
    return traces_page(req, trace_context());
  });
  server.add_prefix_handler("GET", "/traces/", [trace_context](const firebreak::AdminRequest& req) {
    return trace_page(req, trace_context());
  });
  server.add_prefix_handler("GET", "/static/", [](const firebreak::AdminRequest& req) {
    const std::string_view name =
        std::string_view(req.path).substr(std::string_view("/static/").size());
    for (const EmbeddedFile& f : embedded_files())
      if (f.name == name)
        return firebreak::AdminResponse{.content_type = std::string(content_type_of(name)),
                                        .headers = {{"Cache-Control", "public, max-age=300"},
                                                    {"X-Content-Type-Options", "nosniff"}},
                                        .body = std::string(f.bytes)};
    return firebreak::AdminResponse{.status = 404, .body = "no such file\n"};
  });
  server.add_handler("POST", "/silences", [src, opts](const firebreak::AdminRequest& req) {
    const auto posted = posted_form(req, *opts);
    if (!posted) return stale_form();
    const Params& form = *posted;
    std::vector<std::pair<std::string, std::string>> equal;
    for (std::size_t i = 0; i < 64; ++i) {
      auto name = param(form, fmt::format("name{}", i));
      if (!name) break;
      equal.emplace_back(std::string(*name),
                         std::string(param(form, fmt::format("value{}", i)).value_or("")));
    }
    const auto duration = parse_duration_ms(param(form, "duration").value_or(""));
    const std::string created_by(param(form, "created_by").value_or(""));
    const std::string comment(param(form, "comment").value_or(""));
    if (equal.empty()) return form_error(400, "A silence needs at least one label to match.");
    if (!duration || *duration <= 0 || *duration > 366LL * 24 * 3'600'000)
      return form_error(400, "duration: give one between 1s and 366 days (e.g. 2h).");
    if (created_by.empty() || comment.empty())
      return form_error(400, "Say who silences it (by) and why (because).");
    const std::string r = src->create_silence(equal, *duration, created_by, comment);
    if (r.starts_with("error: ")) return form_error(400, r.substr(7));
    return see_other("/alerts?silenced=" + r + "#silences");
  });
  server.add_handler("POST", "/silences/expire", [src, opts](const firebreak::AdminRequest& req) {
    const auto posted = posted_form(req, *opts);
    if (!posted) return stale_form();
    const Params& form = *posted;
    const std::string id(param(form, "id").value_or(""));
    if (id.empty() || id.size() > 64 || !std::all_of(id.begin(), id.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
        }))
      return form_error(400, "id: not a silence id.");
    if (std::string why = src->expire_silence(id); !why.empty()) return form_error(400, why);
    return see_other("/alerts?expired=" + id + "#silences");
  });
}

}  // namespace watch::web
