// Job runs: metrics, span, log context, check-ins, Pushgateway push, lock.
#include "firebreak/workload/job.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "firebreak/exposition.h"
#include "firebreak/http_client.h"
#include "firebreak/log.h"

namespace firebreak {

std::string_view to_string(JobOutcome outcome) noexcept {
  switch (outcome) {
    case JobOutcome::kRunning:
      return "running";
    case JobOutcome::kSuccess:
      return "success";
    case JobOutcome::kFailure:
      return "failure";
    case JobOutcome::kSkipped:
      return "skipped";
  }
  return "failure";
}

namespace {

constexpr std::size_t kMaxJobName = 200;

std::optional<std::string> lookup(const EnvLookup& env, std::string_view name) {
  if (env) return env(name);
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

// Percent-encodes everything outside RFC 3986's unreserved set.
std::string percent_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// RFC 4648 base64url with padding (the Pushgateway accepts both).
std::string base64url(std::string_view s) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(s[i]) << 16) |
                       (static_cast<unsigned char>(s[i + 1]) << 8) |
                       static_cast<unsigned char>(s[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == s.size()) {
    const unsigned v = static_cast<unsigned char>(s[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == s.size()) {
    const unsigned v =
        (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string_view trim_slash(std::string_view s) {
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return s;
}

// <base><suffix>?<base query>&rid=<id>: the suffix goes before any query the
// configured URL has.
std::string checkin_url(std::string_view base, std::string_view suffix, std::string_view rid) {
  std::string_view query;
  if (auto q = base.find('?'); q != std::string_view::npos) {
    query = base.substr(q + 1);
    base = base.substr(0, q);
  }
  std::string url(trim_slash(base));
  url += suffix;
  url += '?';
  if (!query.empty()) {
    url += query;
    url += '&';
  }
  url += "rid=";
  url += rid;
  return url;
}

bool retryable(const HttpResponse& r) {
  if (!r.error.empty()) return true;  // no response: connection refused, timeout, ...
  return r.status >= 500 || r.status == 408 || r.status == 429;
}

constexpr std::string_view kFamilies[] = {
    "job_items_processed",
    "job_last_duration_seconds",
    "job_last_failure_timestamp_seconds",
    "job_last_start_timestamp_seconds",
    "job_last_success_timestamp_seconds",
    "job_runs",  // a counter's snapshot name has no _total
};

}  // namespace

JobOptions resolve_job_options(JobOptions options) {
  if (auto v = lookup(options.env, "FIREBREAK_JOB_CHECKIN_URL")) options.checkin_url = *v;
  if (auto v = lookup(options.env, "FIREBREAK_PUSHGATEWAY_URL")) options.pushgateway_url = *v;
  if (auto v = lookup(options.env, "FIREBREAK_JOB_LOCK_FILE")) options.lock_file = *v;
  if (options.name.empty())
    throw std::invalid_argument("job: JobOptions::name is required (the `job` label)");
  if (options.name.size() > kMaxJobName)
    throw std::invalid_argument(fmt::format("job: name is {} characters long; at most {}",
                                            options.name.size(), kMaxJobName));
  std::string why;
  if (!options.checkin_url.empty() && !valid_http_url(options.checkin_url, &why))
    throw std::invalid_argument(fmt::format(
        "job: check-in URL \"{}\" (FIREBREAK_JOB_CHECKIN_URL or JobOptions::checkin_url) is not "
        "usable: {}",
        options.checkin_url, why));
  if (!options.pushgateway_url.empty() && !valid_http_url(options.pushgateway_url, &why))
    throw std::invalid_argument(fmt::format(
        "job: Pushgateway URL \"{}\" (FIREBREAK_PUSHGATEWAY_URL or JobOptions::pushgateway_url) is "
        "not usable: {}",
        options.pushgateway_url, why));
  if (options.delivery_attempts < 1)
    throw std::invalid_argument("job: delivery_attempts must be at least 1");
  if (options.clock == nullptr) options.clock = &Clock::system();
  return options;
}

std::string pushgateway_job_url(std::string_view base, std::string_view job) {
  std::string url(trim_slash(base));
  if (job.find('/') != std::string_view::npos) {
    url += "/metrics/job@base64/";
    url += base64url(job);
  } else {
    url += "/metrics/job/";
    url += percent_encode(job);
  }
  return url;
}

struct JobRun::Impl {
  JobOptions opt;
  std::unique_ptr<Registry> own_registry;
  Registry* registry = nullptr;
  std::string run_id;
  int uncaught = 0;
  int lock_fd = -1;
  bool acquired = false;
  JobOutcome outcome = JobOutcome::kRunning;
  int exit_status = 0;
  Clock::MonoTime start_mono{};
  double duration = 0;
  std::atomic<std::uint64_t> items{0};

  Gauge last_start, last_success, last_failure, last_duration, items_gauge;
  CounterFamily* runs = nullptr;
  std::unique_ptr<HttpClient> client;

  Span span;
  std::optional<SpanScope> span_scope;
  std::optional<LogScope> log_scope;  // destroyed first

  ~Impl() {
    if (lock_fd >= 0) ::close(lock_fd);  // releases the flock
  }

  void sleep(std::chrono::milliseconds d) const {
    if (opt.sleep)
      opt.sleep(d);
    else
      std::this_thread::sleep_for(d);
  }

  // Tries a request up to delivery_attempts times; logs the final failure.
  bool deliver(std::string_view event, std::string_view method, const std::string& url,
               std::string_view body, const HttpHeaders& headers) {
    HttpResponse r;
    int attempt = 0;
    auto backoff = opt.delivery_backoff;
    while (true) {
      ++attempt;
      r = client->request(method, url, body, headers, opt.delivery_timeout);
      if (r.ok()) return true;
      if (attempt >= opt.delivery_attempts || !retryable(r)) break;
      sleep(backoff);
      backoff *= 2;
    }
    const std::string error = r.error.empty() ? fmt::format("HTTP status {}", r.status) : r.error;
    if (event == "checkin")
      FB_LOG_WARN("job_checkin_failed", "check-in not delivered; the job is not affected",
                  {"url", url}, {"attempts", attempt}, {"error", error});
    else
      FB_LOG_WARN("job_push_failed", "Pushgateway push not delivered; the job is not affected",
                  {"url", url}, {"attempts", attempt}, {"error", error});
    return false;
  }

  void checkin(std::string_view suffix, std::string_view reason) noexcept {
    if (opt.checkin_url.empty()) return;
    try {
      std::string body = fmt::format("job={}\nrun_id={}\n", opt.name, run_id);
      if (outcome != JobOutcome::kRunning) {
        body += fmt::format("outcome={}\nexit_status={}\nduration_seconds={}\nitems={}\n",
                            to_string(outcome), exit_status, duration,
                            items.load(std::memory_order_relaxed));
        if (!reason.empty()) body += fmt::format("reason={}\n", reason);
      }
      deliver("checkin", "POST", checkin_url(opt.checkin_url, suffix, run_id), body,
              {{"Content-Type", "text/plain; charset=utf-8"}});
    } catch (...) {
      // Never fail the job for a check-in (allocation is all that can throw).
    }
  }

  // The job_* families of this job in the text format, without the `job`
  // label (the grouping key in the URL sets it, as client libraries do).
  // With POST, timestamps and durations still 0 (never set by this process)
  // are left out so that they do not replace the gateway's earlier values.
  std::string push_body() const {
    const bool omit_unset = opt.push_method == PushMethod::kPost;
    std::vector<FamilySnapshot> families;
    for (FamilySnapshot& f : registry->collect()) {
      if (std::find(std::begin(kFamilies), std::end(kFamilies), f.name) == std::end(kFamilies))
        continue;
      std::vector<MetricPoint> points;
      for (MetricPoint& p : f.points) {
        bool ours = false;
        Labels rest;
        for (const auto& [k, v] : *p.labels) {
          if (k == "job")
            ours = v == opt.name;
          else
            rest.emplace_back(k, v);
        }
        if (!ours) continue;
        if (omit_unset && p.value == 0 && f.name.starts_with("job_last_")) continue;
        p.labels = std::make_shared<const Labels>(std::move(rest));
        points.push_back(std::move(p));
      }
      if (points.empty()) continue;
      f.points = std::move(points);
      families.push_back(std::move(f));
    }
    std::string body;
    write_exposition(families, ExpositionFormat::kPrometheusText, body);
    return body;
  }

  void push() noexcept {
    if (opt.pushgateway_url.empty()) return;
    try {
      deliver("push", opt.push_method == PushMethod::kPost ? "POST" : "PUT",
              pushgateway_job_url(opt.pushgateway_url, opt.name), push_body(),
              {{"Content-Type", std::string(content_type(ExpositionFormat::kPrometheusText))}});
    } catch (...) {
      // As for check-ins: never fail the job.
    }
  }

  int end(JobOutcome result, int status, std::string_view suffix,
          std::string_view reason) noexcept {
    if (!acquired || outcome != JobOutcome::kRunning) return exit_status;
    outcome = result;
    exit_status = status;
    duration = std::chrono::duration<double>(opt.clock->mono_now() - start_mono).count();
    const double now = opt.clock->wall_seconds();
    const std::uint64_t n = items.load(std::memory_order_relaxed);
    last_duration.set(duration);
    items_gauge.set(static_cast<double>(n));
    if (result == JobOutcome::kSuccess)
      last_success.set(now);
    else
      last_failure.set(now);
    try {
      runs->labels(opt.name, to_string(result)).inc();
    } catch (...) {
    }
    if (span.is_recording()) {
      span.set_attribute("job.items", static_cast<std::int64_t>(n));
      span.set_attribute("job.exit_status", exit_status);
      if (result == JobOutcome::kFailure) span.set_status(StatusCode::kError, reason);
    }
    span.end();
    if (result == JobOutcome::kSuccess) {
      FB_LOG_INFO("job_finished", "", {"outcome", to_string(result)}, {"exit_status", exit_status},
                  {"duration_s", duration}, {"items", n});
    } else {
      FB_LOG_ERROR("job_finished", "", {"outcome", to_string(result)}, {"exit_status", exit_status},
                   {"duration_s", duration}, {"items", n}, {"reason", reason});
    }
    checkin(suffix, reason);
    push();
    return exit_status;
  }
};

JobRun::JobRun(JobOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.uncaught = std::uncaught_exceptions();
  m.opt = resolve_job_options(std::move(options));
  if (m.opt.registry) {
    m.registry = m.opt.registry;
  } else {
    m.own_registry = std::make_unique<Registry>(RegistryOptions{.clock = m.opt.clock});
    m.registry = m.own_registry.get();
  }
  Registry& r = *m.registry;
  const std::string& job = m.opt.name;
  auto gauge = [&](const char* name, const char* help) {
    return r
        .gauge({.name = name,
                .help = help,
                .labels = {"job"},
                .unit = "seconds",
                .combine = ProcessCombine::kMax})
        .labels(job);
  };
  m.last_start = gauge("job_last_start_timestamp_seconds", "Unix time the job's last run started.");
  m.last_success =
      gauge("job_last_success_timestamp_seconds", "Unix time the job's last successful run ended.");
  m.last_failure =
      gauge("job_last_failure_timestamp_seconds", "Unix time the job's last failed run ended.");
  m.last_duration = gauge("job_last_duration_seconds", "Duration of the job's last finished run.");
  m.items_gauge = r.gauge({.name = "job_items_processed",
                           .help = "Items processed by the job's current or last run.",
                           .labels = {"job"}})
                      .labels(job);
  m.runs = &r.counter({.name = "job_runs_total",
                       .help = "Runs of the job by outcome (success, failure, skipped).",
                       .labels = {"job", "outcome"}});
  m.run_id = generate_uuid();
  m.client = std::make_unique<HttpClient>(HttpClientOptions{.timeout = m.opt.delivery_timeout});

  if (!m.opt.lock_file.empty()) {
    m.lock_fd = ::open(m.opt.lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (m.lock_fd < 0)
      throw std::invalid_argument(fmt::format("job: cannot open lock file \"{}\": {}",
                                              m.opt.lock_file, std::strerror(errno)));
    int rc;
    do rc = ::flock(m.lock_fd, LOCK_EX | LOCK_NB);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      const int err = errno;
      ::close(m.lock_fd);
      m.lock_fd = -1;
      if (err != EWOULDBLOCK)
        throw std::invalid_argument(
            fmt::format("job: cannot lock \"{}\": {}", m.opt.lock_file, std::strerror(err)));
      m.outcome = JobOutcome::kSkipped;
      m.exit_status = kJobExitLocked;
      m.runs->labels(job, to_string(JobOutcome::kSkipped)).inc();
      FB_LOG_ERROR("job_locked", "another run of this job holds the lock; this run does not start",
                   {"job", job}, {"job_run_id", m.run_id}, {"lock_file", m.opt.lock_file},
                   {"exit_status", kJobExitLocked});
      return;
    }
    // Who holds it, for an operator looking at the file.
    if (::ftruncate(m.lock_fd, 0) == 0) {
      const std::string pid = fmt::format("{}\n", ::getpid());
      if (::pwrite(m.lock_fd, pid.data(), pid.size(), 0) < 0) {
        // Informational only.
      }
    }
  }

  m.acquired = true;
  m.start_mono = m.opt.clock->mono_now();
  m.last_start.set(m.opt.clock->wall_seconds());
  m.items_gauge.set(0);
  const Tracer& tracer = m.opt.tracer ? *m.opt.tracer : global_tracer();
  m.span = tracer.start_span(fmt::format("job {}", job),
                             {.kind = SpanKind::kInternal, .parent = SpanContext{}});
  if (m.span.is_recording()) {
    m.span.set_attribute("job.name", job);
    m.span.set_attribute("job.run_id", m.run_id);
  }
  m.span_scope.emplace(m.span.context());
  m.log_scope.emplace(std::initializer_list<LogField>{{"job", job}, {"job_run_id", m.run_id}});
  FB_LOG_INFO("job_started", "");
  m.checkin("/start", {});
  m.push();
}

JobRun::~JobRun() {
  Impl& m = *impl_;
  if (m.acquired && m.outcome == JobOutcome::kRunning) {
    const bool unwinding = std::uncaught_exceptions() > m.uncaught;
    m.end(JobOutcome::kFailure, kJobExitFailure, "/fail",
          unwinding ? "exception" : "run ended without succeed(), fail() or finish()");
  }
}

bool JobRun::acquired() const noexcept {
  return impl_->acquired;
}
const std::string& JobRun::name() const noexcept {
  return impl_->opt.name;
}
const std::string& JobRun::run_id() const noexcept {
  return impl_->run_id;
}

void JobRun::add_items(std::uint64_t n) noexcept {
  impl_->items.fetch_add(n, std::memory_order_relaxed);
  impl_->items_gauge.inc(static_cast<double>(n));
}

std::uint64_t JobRun::items() const noexcept {
  return impl_->items.load(std::memory_order_relaxed);
}

int JobRun::succeed() noexcept {
  return impl_->end(JobOutcome::kSuccess, kJobExitSuccess, "", {});
}

int JobRun::fail(std::string_view reason) noexcept {
  return impl_->end(JobOutcome::kFailure, kJobExitFailure, "/fail",
                    reason.empty() ? std::string_view("failed") : reason);
}

int JobRun::finish(int exit_status, std::string_view reason) noexcept {
  if (exit_status < 0 || exit_status > 255) exit_status = kJobExitFailure;
  char suffix[8];
  const auto r = fmt::format_to_n(suffix, sizeof suffix, "/{}", exit_status);
  return impl_->end(exit_status == 0 ? JobOutcome::kSuccess : JobOutcome::kFailure, exit_status,
                    std::string_view(suffix, r.size), reason);
}

bool JobRun::finished() const noexcept {
  return impl_->outcome != JobOutcome::kRunning;
}
JobOutcome JobRun::outcome() const noexcept {
  return impl_->outcome;
}
int JobRun::exit_status() const noexcept {
  return impl_->exit_status;
}

double JobRun::duration_seconds() const noexcept {
  const Impl& m = *impl_;
  if (!m.acquired) return 0;
  if (m.outcome != JobOutcome::kRunning) return m.duration;
  return std::chrono::duration<double>(m.opt.clock->mono_now() - m.start_mono).count();
}

Span& JobRun::span() noexcept {
  return impl_->span;
}
Registry& JobRun::registry() noexcept {
  return *impl_->registry;
}

}  // namespace firebreak
