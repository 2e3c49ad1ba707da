// watch's status page, served on watch's listen address: what people look at
// during an incident, before they read JSON.
//
//   /            overview: one card per service, by workload (API, worker,
//                job), with the checklist's signals and a red / amber /
//                green state that follows the alerts
//   /alerts      firing and pending alerts (value, since, labels, summary,
//                runbook), a Silence form on each, and the silences (Expire)
//   /targets     every instance: health, readiness, last scrape, error
//   /rules       every rule: state, health, last evaluation, error
//   /jobs        scheduled jobs: schedule, state, next run, history
//   /query       a PromQL expression as a table (and a chart, with JS)
//   /traces      recent traces, and one as a waterfall (traces_page.h)
//   /static/...  the page's CSS and JavaScript and uPlot, built into the
//                binary (no network, no CDN)
//
// The HTML is complete without JavaScript; the script adds charts and a
// refresh. Every value is escaped (label names and values, annotations, job
// names), links are only http(s) (a relative runbook_url is shown as text),
// and the
// Content-Security-Policy allows no
// inline script or style. Forms that change state (silences) carry a token
// that only this process's pages know, so another site cannot post them.
//
//   watch::web::add_status_page(server, source, {.version = "0.1.0"});
//
// Thread-safety: handlers run on the server's threads and only call the
// source, which must be thread-safe and outlive the server.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "firebreak/admin.h"
#include "watch/model/model.h"
#include "watch/promql/engine.h"

namespace watch::traces {
class Store;
}

namespace watch::web {

// One scraped instance.
struct StatusTarget {
  std::string job;       // the service
  std::string workload;  // "api", "worker", "job" or "" (other)
  std::string instance;
  std::string url;
  std::string health;         // "up", "down", "unknown"
  std::optional<bool> ready;  // the readiness probe; nullopt when not probed (yet)
  std::int64_t last_scrape_ms = 0;
  double last_duration_seconds = 0;
  std::string last_error;                // scrape or probe
  double latency_objective_seconds = 0;  // API: p95 objective per route; 0 none
};

// A pending or firing alert of watch's rules.
struct StatusAlert {
  LabelSet labels;
  std::vector<std::pair<std::string, std::string>> annotations;
  std::string state;  // "pending", "firing"
  std::int64_t active_at_ms = 0;
  double value = 0;
  std::vector<std::string> silenced_by;  // silence ids
};

struct StatusSilence {
  std::string id;
  std::string matchers;  // as Alertmanager prints them: {a="b", c=~"d"}
  std::int64_t starts_at_ms = 0, ends_at_ms = 0;
  std::string created_by, comment;
  std::string state;  // "active", "pending", "expired"
};

struct StatusRule {
  std::string group, name, type;  // type: "alerting", "recording"
  std::string query;
  std::string state;   // alerting rules: "inactive", "pending", "firing"
  std::string health;  // "ok", "err", "unknown"
  std::int64_t last_evaluation_ms = 0;
  double evaluation_seconds = 0;
  std::string last_error;
};

struct StatusJobRun {
  std::int64_t time_ms = 0;
  std::string outcome;  // "start", "success", "fail", "log"
  std::optional<int> exit_status;
  std::optional<double> duration_seconds;
};

struct StatusJob {
  std::string name;
  std::string schedule;       // as written
  std::string schedule_text;  // in words: "at 02:00 every day"
  std::string time_zone;
  std::int64_t grace_ms = 0;
  std::string state;  // "up", "late", "down"
  bool running = false;
  std::optional<std::int64_t> next_expected_ms;
  std::vector<StatusJobRun> history;  // oldest first
};

// A PromQL answer as the page shows it.
struct StatusSeries {
  LabelSet labels;
  std::vector<std::pair<std::int64_t, double>> points;  // one for an instant query
};
struct StatusQueryResult {
  std::string error;  // "" when it worked
  std::string type;   // "vector", "matrix", "scalar", "string"
  std::vector<StatusSeries> series;
};

// An instant query through `engine`, as the page shows it.
StatusQueryResult status_query(const promql::Engine& engine, const std::string& expr,
                               std::int64_t time_ms);

// What the page reads and does. watch's runtime implements it; tests and
// benchmarks give their own.
class StatusSource {
 public:
  virtual ~StatusSource() = default;
  virtual std::int64_t now_ms() const = 0;
  virtual std::vector<StatusTarget> targets() const = 0;
  virtual std::vector<StatusAlert> alerts() const = 0;
  virtual std::vector<StatusSilence> silences() const = 0;
  virtual std::vector<StatusRule> rules() const = 0;
  virtual std::vector<StatusJob> jobs() const = 0;
  // An instant query at `time_ms`.
  virtual StatusQueryResult query(const std::string& expr, std::int64_t time_ms) const = 0;
  // Creates a silence of the given equality matchers; its id, or an error
  // message starting with "error: ".
  virtual std::string create_silence(const std::vector<std::pair<std::string, std::string>>& equal,
                                     std::int64_t duration_ms, const std::string& created_by,
                                     const std::string& comment) = 0;
  // "" when expired, else why not.
  virtual std::string expire_silence(const std::string& id) = 0;
  // The traces services send to /v1/traces (the Traces pages); nullptr when
  // traces are off.
  virtual const traces::Store* trace_store() const { return nullptr; }
};

struct StatusPageOptions {
  std::string version = "0.1.0";
  // The secret in the page's forms; "" makes a random one.
  std::string form_token;
};

void add_status_page(firebreak::AdminServer& server, StatusSource& source,
                     StatusPageOptions options = {});

// The overview's HTML, for tests and benchmarks (what GET / answers).
std::string render_overview(const StatusSource& source, const StatusPageOptions& options);

// Escapes text for HTML element content and quoted attribute values.
std::string html_escape(std::string_view text);

}  // namespace watch::web
