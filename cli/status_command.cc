// `firebreak status [--url URL]`: one screen of a running watch for the
// terminal and for scripts: its targets, firing and pending alerts and
// check-in jobs, read through its HTTP API (/api/v1/targets, /api/v1/alerts,
// /api/v2/alerts for silenced and inhibited alerts, and /api/v1/query on the
// job_checkin_* series), with an exit status that says whether anything pages.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "cli/commands.h"
#include "cli/watch_api.h"
#include "watch/silence/silence.h"

namespace firebreak::cli {
namespace {

using nlohmann::json;

// Exit statuses (documented in --help and docs/cli.md).
constexpr int kNothingPages = 0;
constexpr int kPaging = 1;
constexpr int kUnreachable = 3;

constexpr std::string_view kRed = "\033[31m";
constexpr std::string_view kGreen = "\033[32m";
constexpr std::string_view kYellow = "\033[33m";
constexpr std::string_view kDim = "\033[2m";
constexpr std::string_view kBold = "\033[1m";

struct StatusArgs {
  std::string url = kDefaultWatchUrl;
  std::string color = "auto";
};

bool use_color(const std::string& mode) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  // no-color.org: NO_COLOR set to anything but the empty string turns colours off.
  const char* no_color = std::getenv("NO_COLOR");
  return ::isatty(STDOUT_FILENO) == 1 && (no_color == nullptr || *no_color == '\0');
}

// "42s", "3m20s", "2h05m", "3d4h".
std::string span_text(std::int64_t ms) {
  const std::int64_t s = std::max<std::int64_t>(ms, 0) / 1000;
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  else
    std::snprintf(buf, sizeof buf, "%lldd%lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  return buf;
}

// "5s ago", "in 3h00m" for a time relative to now; "never" for none.
std::string when(std::optional<std::int64_t> t_ms, std::int64_t now_ms) {
  if (!t_ms) return "never";
  return *t_ms <= now_ms ? span_text(now_ms - *t_ms) + " ago" : "in " + span_text(*t_ms - now_ms);
}

// An API time; nullopt for none (empty, or Prometheus's "0001-01-01T00:00:00Z").
std::optional<std::int64_t> api_time(const json& j, const char* key) {
  const auto text = j.value(key, "");
  const auto ms = watch::silence::parse_api_time(text);
  if (text.empty() || !ms || *ms <= 0) return std::nullopt;
  return ms;
}

// A table row; `style` colours its first cell (the state).
struct Row {
  std::vector<std::string> cells;
  std::string_view style;
};

struct Screen {
  bool color = false;
  std::int64_t now_ms = 0;
  int targets = 0, targets_down = 0;
  int firing = 0, paging = 0, pending = 0;
  int jobs = 0, jobs_late = 0, jobs_down = 0;
  std::vector<Row> target_rows, alert_rows, job_rows;
};

void add_targets(const json& body, Screen& s) {
  std::vector<Row> rows;
  for (const auto& t : body.at("data").value("activeTargets", json::array())) {
    const json& labels = t.value("labels", json::object());
    std::string state = t.value("health", "unknown");
    if (state == "up" && t.contains("ready") && t["ready"].is_boolean() && !t["ready"].get<bool>())
      state = "not ready";
    std::string error = t.value("lastError", "");
    if (error.empty()) error = t.value("probeError", "");
    const std::string_view style = state == "up" ? kGreen : state == "down" ? kRed : kYellow;
    rows.push_back(
        {{state, labels.value("job", t.value("scrapePool", "")), labels.value("instance", ""),
          when(api_time(t, "lastScrape"), s.now_ms), error},
         style});
    ++s.targets;
    if (state == "down") ++s.targets_down;
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(a.cells[1], a.cells[2]) < std::tie(b.cells[1], b.cells[2]);
  });
  s.target_rows = std::move(rows);
}

// Labels (as canonical JSON text) of the alerts Alertmanager's API v2 lists
// as silenced or inhibited, with which.
std::map<std::string, std::string> suppressed(const json& v2) {
  std::map<std::string, std::string> out;
  for (const auto& a : v2) {
    const json& status = a.value("status", json::object());
    if (status.value("state", "") != "suppressed") continue;
    const bool silenced = !status.value("silencedBy", json::array()).empty();
    out[a.value("labels", json::object()).dump()] = silenced ? "silenced" : "inhibited";
  }
  return out;
}

void add_alerts(const json& body, const json& v2, Screen& s) {
  const auto muted = suppressed(v2);
  std::vector<std::pair<int, Row>> ranked;  // 0 paging, 1 other firing, 2 pending
  for (const auto& a : body.at("data").value("alerts", json::array())) {
    const json& labels = a.value("labels", json::object());
    const std::string severity = labels.value("severity", "");
    std::string state = a.value("state", "");
    int rank = 2;
    std::string_view style = kYellow;
    if (state == "firing") {
      ++s.firing;
      rank = 1;
      if (auto m = muted.find(labels.dump()); m != muted.end()) {
        state += " (" + m->second + ")";
        style = kDim;
      } else if (severity == "page") {
        ++s.paging;
        rank = 0;
        style = kRed;
      }
    } else {
      ++s.pending;
    }
    ranked.push_back(
        {rank,
         {{state, labels.value("alertname", ""), severity, when(api_time(a, "activeAt"), s.now_ms),
           a.value("annotations", json::object()).value("summary", ""),
           labels_text(labels, {"alertname", "severity"})},
          style}});
  }
  // Paging first, then the rest of the firing, then pending; by name and labels.
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first, a.second.cells[1], a.second.cells[5]) <
           std::tie(b.first, b.second.cells[1], b.second.cells[5]);
  });
  for (auto& [rank, row] : ranked) s.alert_rows.push_back(std::move(row));
}

// What the job_checkin_* series say about one job.
struct JobSeries {
  std::optional<double> state, next_expected, running, run_started, duration, exit_status, failed;
  std::map<std::string, double> last_ping;  // by kind: start, success, fail
};

std::optional<std::int64_t> to_ms(std::optional<double> seconds) {
  if (!seconds || !std::isfinite(*seconds)) return std::nullopt;
  return static_cast<std::int64_t>(*seconds * 1000);
}

// "ok 3h00m ago, took 12s", "failed (exit 3) 5m00s ago", "running for 42s", "never".
std::string last_run(const JobSeries& j, std::int64_t now_ms) {
  if (j.running.value_or(0) == 1) {
    const auto started = to_ms(j.run_started);
    return started ? "running for " + span_text(now_ms - *started) : "running";
  }
  std::optional<double> finished;
  for (const char* kind : {"success", "fail"})
    if (auto p = j.last_ping.find(kind); p != j.last_ping.end())
      finished = std::max(finished.value_or(p->second), p->second);
  if (!finished) return "never";
  const bool failed = j.failed.value_or(0) == 1;
  std::string text = failed ? "failed" : "ok";
  if (failed && j.exit_status)
    text += " (exit " + std::to_string(static_cast<long long>(*j.exit_status)) + ")";
  text += " " + when(to_ms(finished), now_ms);
  if (j.duration) text += ", took " + span_text(static_cast<std::int64_t>(*j.duration * 1000));
  return text;
}

void add_jobs(const json& body, Screen& s) {
  std::map<std::string, JobSeries> jobs;
  for (const auto& sample : body.at("data").value("result", json::array())) {
    const json& metric = sample.value("metric", json::object());
    const std::string job = metric.value("job", "");
    const json& value = sample.value("value", json::array());
    if (job.empty() || value.size() != 2 || !value[1].is_string()) continue;
    const double v = std::strtod(value[1].get<std::string>().c_str(), nullptr);
    JobSeries& j = jobs[job];
    static constexpr std::pair<std::string_view, std::optional<double> JobSeries::*> kSeries[] = {
        {"job_checkin_state", &JobSeries::state},
        {"job_checkin_next_expected_timestamp_seconds", &JobSeries::next_expected},
        {"job_checkin_running", &JobSeries::running},
        {"job_checkin_run_started_timestamp_seconds", &JobSeries::run_started},
        {"job_checkin_last_duration_seconds", &JobSeries::duration},
        {"job_checkin_last_exit_status", &JobSeries::exit_status},
        {"job_checkin_last_run_failed", &JobSeries::failed}};
    const std::string name = metric.value("__name__", "");
    for (const auto& [series, field] : kSeries)
      if (name == series) j.*field = v;
    if (name == "job_checkin_last_ping_timestamp_seconds")
      j.last_ping[metric.value("kind", "")] = v;
  }
  for (const auto& [name, j] : jobs) {
    if (!j.state) continue;  // not a check-in job's series set
    static constexpr const char* kStates[] = {"up", "late", "down"};
    static constexpr std::string_view kStyles[] = {kGreen, kYellow, kRed};
    const int state = std::clamp(static_cast<int>(*j.state), 0, 2);
    const auto next = to_ms(j.next_expected);
    std::string next_text = "unknown";
    if (next)
      next_text = *next > s.now_ms ? "in " + span_text(*next - s.now_ms)
                                   : "due " + span_text(s.now_ms - *next) + " ago";
    s.job_rows.push_back(
        {{kStates[state], name, last_run(j, s.now_ms), next_text}, kStyles[state]});
    ++s.jobs;
    if (state == 1) ++s.jobs_late;
    if (state == 2) ++s.jobs_down;
  }
}

void print_section(const Screen& s, std::string_view title, std::string_view none,
                   std::vector<std::string> header, const std::vector<Row>& rows) {
  std::cout << "\n";
  if (s.color)
    std::cout << kBold << title << "\033[0m";
  else
    std::cout << title;
  if (rows.empty()) {
    std::cout << "  " << none << "\n";
    return;
  }
  std::cout << "\n";
  std::vector<std::vector<std::string>> table = {std::move(header)};
  for (const Row& r : rows) table.push_back(r.cells);
  print_table(
      std::cout, table,
      [&](std::size_t row, std::size_t column) -> std::string_view {
        if (!s.color) return {};
        if (row == 0) return kDim;
        return column == 0 ? rows[row - 1].style : std::string_view();
      },
      "  ");
}

int run_status(const StatusArgs& args) {
  const std::string base = trim_url(args.url);
  const auto targets = call("GET", base + "/api/v1/targets");
  if (!targets) return kUnreachable;
  const auto alerts = call("GET", base + "/api/v1/alerts");
  if (!alerts) return kUnreachable;
  const auto am_alerts = call("GET", base + "/api/v2/alerts");
  if (!am_alerts) return kUnreachable;
  const auto jobs =
      call("GET", base + "/api/v1/query?query=" + query_escape("{__name__=~\"job_checkin_.+\"}"));
  if (!jobs) return kUnreachable;

  Screen s;
  s.color = use_color(args.color);
  s.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  try {
    add_targets(*targets, s);
    add_alerts(*alerts, *am_alerts, s);
    add_jobs(*jobs, s);
  } catch (const json::exception& e) {  // JSON, but not the API's shapes
    std::cerr << "firebreak: " << base << " does not answer as watch does: " << e.what() << "\n";
    return kUnreachable;
  }

  std::cout << "watch " << base << ": " << s.targets << " target" << (s.targets == 1 ? "" : "s")
            << " (" << s.targets_down << " down), " << s.firing << " firing (" << s.paging
            << " paging), " << s.pending << " pending, " << s.jobs << " job"
            << (s.jobs == 1 ? "" : "s") << " (" << s.jobs_late << " late, " << s.jobs_down
            << " down)\n";
  print_section(s, "TARGETS", "none", {"STATE", "TARGET", "INSTANCE", "LAST SCRAPE", "ERROR"},
                s.target_rows);
  print_section(s, "ALERTS", "none firing or pending",
                {"STATE", "ALERT", "SEVERITY", "SINCE", "SUMMARY", "LABELS"}, s.alert_rows);
  print_section(s, "JOBS", "none", {"STATE", "JOB", "LAST RUN", "NEXT RUN"}, s.job_rows);
  return s.paging > 0 ? kPaging : kNothingPages;
}

}  // namespace

void add_status_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<StatusArgs>();
  CLI::App* status = app.add_subcommand(
      "status", "One screen of a running watch: targets, firing and pending alerts, jobs");
  add_url_option(status, args->url);
  status
      ->add_option("--color", args->color,
                   "auto: colours when stdout is a terminal and NO_COLOR is not set")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "always", "never"}));
  status->footer(
      "Exit status:\n"
      "  0  nothing pages\n"
      "  1  a firing alert with severity=page (not silenced or inhibited)\n"
      "  2  usage error\n"
      "  3  watch could not be read (not reachable, or not watch's API)\n"
      "\n"
      "Examples:\n"
      "  firebreak status\n"
      "  firebreak status --url http://monitor.internal:9095\n"
      "  firebreak status >/dev/null || echo 'something pages'");
  status->callback([&action, args] { action = [args] { return run_status(*args); }; });
}

}  // namespace firebreak::cli
