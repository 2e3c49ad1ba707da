#include "watch/checkin/tracker.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <utility>

namespace watch::checkin {

namespace {

using std::chrono::milliseconds;

std::int64_t to_ms(WallTime t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}
WallTime from_ms(std::int64_t ms) {
  return WallTime(milliseconds(ms));
}
double seconds_of_ms(std::int64_t ms) {
  return static_cast<double>(ms) / 1000.0;
}

bool valid_token(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '.' || c == '_' || c == ':' || c == '-')) return false;
  }
  return true;
}

}  // namespace

std::string_view to_string(PingKind kind) {
  switch (kind) {
    case PingKind::kStart:
      return "start";
    case PingKind::kSuccess:
      return "success";
    case PingKind::kFail:
      return "fail";
  }
  return "success";
}

std::string_view to_string(JobState state) {
  switch (state) {
    case JobState::kUp:
      return "up";
    case JobState::kLate:
      return "late";
    case JobState::kDown:
      return "down";
  }
  return "up";
}

Result<PingRequest> parse_ping_path(std::string_view path, std::string_view query) {
  constexpr std::string_view kPrefix = "/ping/";
  if (path.substr(0, kPrefix.size()) != kPrefix) {
    return ParseError{"ping: path must start with /ping/", 1};
  }
  std::string_view rest = path.substr(kPrefix.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const std::size_t slash = rest.find('/');
  PingRequest req;
  const std::string_view job = rest.substr(0, slash);
  if (!valid_token(job, 128)) {
    return ParseError{"ping: job name must be 1-128 characters of A-Z a-z 0-9 . _ : -",
                      kPrefix.size() + 1};
  }
  req.job = std::string(job);
  if (slash != std::string_view::npos) {
    const std::string_view action = rest.substr(slash + 1);
    const std::size_t column = kPrefix.size() + slash + 2;
    if (action == "start") {
      req.kind = PingKind::kStart;
    } else if (action == "fail") {
      req.kind = PingKind::kFail;
    } else if (!action.empty() && action.size() <= 3 &&
               std::all_of(action.begin(), action.end(),
                           [](char c) { return c >= '0' && c <= '9'; })) {
      int status = 0;
      for (char c : action) status = status * 10 + (c - '0');
      if (status > 255) {
        return ParseError{fmt::format("ping: exit status {} is out of range 0-255", status),
                          column};
      }
      req.exit_status = status;
      req.kind = status == 0 ? PingKind::kSuccess : PingKind::kFail;
    } else {
      return ParseError{
          fmt::format("ping: unknown action '{}' (expected start, fail or an exit status 0-255)",
                      action.substr(0, 64)),
          column};
    }
  }
  // Query: rid=<id>; other parameters are ignored.
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    if (param.substr(0, 4) == "rid=") {
      const std::string_view rid = param.substr(4);
      if (!valid_token(rid, 64)) {
        return ParseError{"ping: rid must be 1-64 characters of A-Z a-z 0-9 . _ : -", 0};
      }
      req.rid = std::string(rid);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return req;
}

Tracker::Tracker(const firebreak::Clock& clock, Options options)
    : clock_(clock), options_(options) {
  options_.history_size = std::max<std::size_t>(options_.history_size, 1);
  options_.max_open_runs = std::max<std::size_t>(options_.max_open_runs, 1);
}

void Tracker::configure(std::vector<JobConfig> jobs) {
  const std::int64_t now = to_ms(clock_.wall_now());
  std::lock_guard lock(mu_);
  std::map<std::string, Job, std::less<>> next;
  for (auto& config : jobs) {
    auto it = jobs_.find(config.name);
    JobSnapshot state;
    if (it != jobs_.end()) {
      state = std::move(it->second.state);
    } else {
      state.name = config.name;
      state.configured_ms = now;
    }
    std::string name = config.name;
    next.insert_or_assign(std::move(name), Job{std::move(config), std::move(state)});
  }
  jobs_ = std::move(next);
}

PingResult Tracker::ping(const PingRequest& request) {
  PingResult result;
  if (!request.rid.empty() && !valid_token(request.rid, 64)) {
    result.code = PingResult::Code::kInvalid;
    result.error = "ping: rid must be 1-64 characters of A-Z a-z 0-9 . _ : -";
    return result;
  }
  if (request.exit_status && (*request.exit_status < 0 || *request.exit_status > 255)) {
    result.code = PingResult::Code::kInvalid;
    result.error = fmt::format("ping: exit status {} is out of range 0-255", *request.exit_status);
    return result;
  }
  const std::int64_t now = to_ms(clock_.wall_now());
  std::lock_guard lock(mu_);
  auto it = jobs_.find(request.job);
  if (it == jobs_.end()) {
    result.code = PingResult::Code::kUnknownJob;
    result.error = fmt::format("ping: unknown job '{}' (not in the configuration)",
                               request.job.substr(0, 128));
    return result;
  }
  return record(it->second, request, now);
}

PingResult Tracker::record(Job& job, const PingRequest& request, std::int64_t clock_now) {
  PingResult result;
  // A reported time is never in the future.
  const std::int64_t now = std::min(request.time_ms.value_or(clock_now), clock_now);
  JobSnapshot& s = job.state;
  PingKind kind = request.kind;
  if (request.exit_status) kind = *request.exit_status == 0 ? PingKind::kSuccess : PingKind::kFail;

  HistoryEntry entry{.time_ms = now,
                     .kind = kind,
                     .rid = request.rid,
                     .exit_status = request.exit_status,
                     .duration_seconds = std::nullopt};
  s.last_checkin_ms = std::max(s.last_checkin_ms.value_or(now), now);
  if (kind == PingKind::kStart) {
    s.last_start_ms = now;
    auto& runs = s.open_runs;
    runs.erase(std::remove_if(runs.begin(), runs.end(),
                              [&](const OpenRun& r) { return r.rid == request.rid; }),
               runs.end());
    runs.push_back(OpenRun{request.rid, now});
    if (runs.size() > options_.max_open_runs) {
      runs.erase(runs.begin(),
                 runs.begin() + static_cast<std::ptrdiff_t>(runs.size() - options_.max_open_runs));
    }
  } else {
    if (kind == PingKind::kSuccess) {
      s.last_success_ms = now;
    } else {
      s.last_fail_ms = now;
    }
    auto& runs = s.open_runs;
    // The run this ping closes: by rid, or the most recent without one.
    auto match = runs.end();
    if (!request.rid.empty()) {
      match = std::find_if(runs.begin(), runs.end(),
                           [&](const OpenRun& r) { return r.rid == request.rid; });
    } else if (!runs.empty()) {
      match = runs.end() - 1;
    }
    if (match != runs.end()) {
      const std::int64_t took = std::max<std::int64_t>(0, now - match->started_ms);
      entry.duration_seconds = seconds_of_ms(took);
      s.last_duration_seconds = entry.duration_seconds;
      result.duration = milliseconds(took);
      // Drop the closed run and the runs started before it (crashed ones).
      runs.erase(runs.begin(), match + 1);
    } else if (request.duration_seconds && *request.duration_seconds >= 0) {
      entry.duration_seconds = request.duration_seconds;
      s.last_duration_seconds = request.duration_seconds;
    }
    s.last_exit_status = request.exit_status;
    s.last_run_failed = kind == PingKind::kFail;
  }
  s.history.push_back(std::move(entry));
  if (s.history.size() > options_.history_size) {
    s.history.erase(
        s.history.begin(),
        s.history.begin() + static_cast<std::ptrdiff_t>(s.history.size() - options_.history_size));
  }
  return result;
}

JobStatus Tracker::status_of(const Job& job, WallTime now) const {
  const JobSnapshot& s = job.state;
  JobStatus st;
  st.name = job.config.name;
  const WallTime anchor = from_ms(s.last_checkin_ms.value_or(s.configured_ms));
  const Schedule& schedule = job.config.schedule;
  if (schedule.is_period()) {
    st.due = anchor + schedule.period();
  } else {
    st.due = schedule.next_after(anchor);
  }
  if (st.due) {
    if (now < *st.due) {
      st.state = JobState::kUp;
    } else if (now < *st.due + job.config.grace) {
      st.state = JobState::kLate;
    } else {
      st.state = JobState::kDown;
    }
  }
  if (!s.open_runs.empty()) {
    st.running = true;
    std::int64_t oldest = s.open_runs.front().started_ms;
    for (const auto& r : s.open_runs) oldest = std::min(oldest, r.started_ms);
    st.run_started = from_ms(oldest);
    st.run_too_long =
        job.config.max_run_time.count() > 0 && now - *st.run_started >= job.config.max_run_time;
  }
  st.last_run_failed = s.last_run_failed;
  return st;
}

int Tracker::report_pushed(std::string_view job_name, const PushedJobMetrics& pushed) {
  const std::int64_t now = to_ms(clock_.wall_now());
  std::lock_guard lock(mu_);
  auto it = jobs_.find(job_name);
  if (it == jobs_.end()) return 0;
  Job& job = it->second;
  const JobSnapshot& s = job.state;
  auto ms_of = [](double seconds) -> std::optional<std::int64_t> {
    if (!std::isfinite(seconds) || seconds <= 0 || seconds > 1e11) return std::nullopt;
    return static_cast<std::int64_t>(std::llround(seconds * 1000));
  };
  auto newer = [](std::optional<std::int64_t> t, std::optional<std::int64_t> known) {
    return t && (!known || *t > *known);
  };
  std::vector<PingRequest> events;
  const auto success = pushed.last_success ? ms_of(*pushed.last_success) : std::nullopt;
  const auto failure = pushed.last_failure ? ms_of(*pushed.last_failure) : std::nullopt;
  const auto start = pushed.last_start ? ms_of(*pushed.last_start) : std::nullopt;
  const std::optional<std::int64_t> finished = std::max(success, failure);
  const std::optional<double> duration =
      pushed.last_duration && std::isfinite(*pushed.last_duration) ? pushed.last_duration
                                                                   : std::nullopt;
  // A start newer than every finish seen: a run in progress (its finish,
  // pushed later, closes it).
  if (newer(start, s.last_start_ms) && (!finished || *start > *finished))
    events.push_back({.job = std::string(job_name), .kind = PingKind::kStart, .time_ms = start});
  if (newer(success, s.last_success_ms))
    events.push_back({.job = std::string(job_name),
                      .kind = PingKind::kSuccess,
                      .time_ms = success,
                      .duration_seconds = success == finished ? duration : std::nullopt});
  if (newer(failure, s.last_fail_ms))
    events.push_back({.job = std::string(job_name),
                      .kind = PingKind::kFail,
                      .time_ms = failure,
                      .duration_seconds = failure == finished ? duration : std::nullopt});
  if (!pushed.last_success && !pushed.last_failure) {
    // Counts without timestamps: each increase is a finish now.
    if (pushed.runs_ok && job.pushed_runs_ok && *pushed.runs_ok > *job.pushed_runs_ok)
      events.push_back({.job = std::string(job_name),
                        .kind = PingKind::kSuccess,
                        .time_ms = now,
                        .duration_seconds = duration});
    if (pushed.runs_failed && job.pushed_runs_failed &&
        *pushed.runs_failed > *job.pushed_runs_failed)
      events.push_back({.job = std::string(job_name),
                        .kind = PingKind::kFail,
                        .time_ms = now,
                        .duration_seconds = duration});
  }
  if (pushed.runs_ok) job.pushed_runs_ok = pushed.runs_ok;
  if (pushed.runs_failed) job.pushed_runs_failed = pushed.runs_failed;
  std::stable_sort(events.begin(), events.end(), [](const PingRequest& a, const PingRequest& b) {
    return a.time_ms < b.time_ms;
  });
  for (const PingRequest& e : events) record(job, e, now);
  return static_cast<int>(events.size());
}

std::vector<JobStatus> Tracker::evaluate(WallTime now) const {
  std::lock_guard lock(mu_);
  std::vector<JobStatus> out;
  out.reserve(jobs_.size());
  for (const auto& [name, job] : jobs_) out.push_back(status_of(job, now));
  return out;
}

std::vector<SeriesSample> Tracker::collect() {
  const WallTime now = clock_.wall_now();
  const std::int64_t t = to_ms(now);
  std::vector<SeriesSample> out;
  std::lock_guard lock(mu_);
  auto add = [&](std::string_view name, std::string_view job, double v,
                 std::string_view kind = {}) {
    LabelSet ls = LabelSet::from({{kMetricNameLabel, name}, {"job", job}, {"kind", kind}});
    out.push_back(SeriesSample{std::move(ls), Sample{t, v}});
  };
  for (const auto& [name, job] : jobs_) {
    const JobStatus st = status_of(job, now);
    const JobSnapshot& s = job.state;
    add("job_checkin_state", name, static_cast<double>(st.state));
    if (st.due) {
      add("job_checkin_next_expected_timestamp_seconds", name, seconds_of_ms(to_ms(*st.due)));
    }
    if (s.last_start_ms) {
      add("job_checkin_last_ping_timestamp_seconds", name, seconds_of_ms(*s.last_start_ms),
          "start");
    }
    if (s.last_success_ms) {
      add("job_checkin_last_ping_timestamp_seconds", name, seconds_of_ms(*s.last_success_ms),
          "success");
    }
    if (s.last_fail_ms) {
      add("job_checkin_last_ping_timestamp_seconds", name, seconds_of_ms(*s.last_fail_ms), "fail");
    }
    add("job_checkin_running", name, st.running ? 1 : 0);
    if (st.run_started) {
      add("job_checkin_run_started_timestamp_seconds", name, seconds_of_ms(to_ms(*st.run_started)));
    }
    if (s.last_duration_seconds) {
      add("job_checkin_last_duration_seconds", name, *s.last_duration_seconds);
    }
    if (s.last_exit_status) {
      add("job_checkin_last_exit_status", name, static_cast<double>(*s.last_exit_status));
    }
    if (s.last_run_failed) add("job_checkin_last_run_failed", name, *s.last_run_failed ? 1 : 0);
    add("job_checkin_run_too_long", name, st.run_too_long ? 1 : 0);
  }
  std::set<LabelSet> now_collected;
  for (const auto& s : out) now_collected.insert(s.labels);
  for (const auto& gone : last_collected_) {
    if (!now_collected.count(gone)) out.push_back(SeriesSample{gone, Sample{t, stale_nan()}});
  }
  last_collected_ = std::move(now_collected);
  return out;
}

std::vector<HistoryEntry> Tracker::history(std::string_view job) const {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return {};
  return it->second.state.history;
}

std::vector<JobSnapshot> Tracker::save() const {
  std::lock_guard lock(mu_);
  std::vector<JobSnapshot> out;
  out.reserve(jobs_.size());
  for (const auto& [name, job] : jobs_) out.push_back(job.state);
  return out;
}

void Tracker::restore(const std::vector<JobSnapshot>& jobs) {
  std::lock_guard lock(mu_);
  for (const auto& snap : jobs) {
    auto it = jobs_.find(snap.name);
    if (it == jobs_.end()) continue;
    JobSnapshot s = snap;
    if (s.history.size() > options_.history_size) {
      s.history.erase(s.history.begin(),
                      s.history.begin() +
                          static_cast<std::ptrdiff_t>(s.history.size() - options_.history_size));
    }
    if (s.open_runs.size() > options_.max_open_runs) {
      s.open_runs.erase(s.open_runs.begin(),
                        s.open_runs.begin() + static_cast<std::ptrdiff_t>(s.open_runs.size() -
                                                                          options_.max_open_runs));
    }
    it->second.state = std::move(s);
  }
}

}  // namespace watch::checkin
