// The discovery manager: per job, file and DNS discoverers refreshed on one
// background thread (DNS lookups of a refresh fan out to a few threads).
#include "watch/discovery/discovery.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>
#include <utility>

#include "firebreak/log.h"
#include "watch/discovery/internal.h"

namespace watch::discovery {
namespace {

using Mono = firebreak::Clock::MonoTime;
using Ms = std::chrono::milliseconds;

constexpr std::int64_t kMinIntervalMs = 10;
constexpr std::size_t kMaxLookupThreads = 16;

Ms interval(std::int64_t ms) {
  return Ms(std::max(ms, kMinIntervalMs));
}

// Runs f(0..n-1) on up to `threads` threads (this one included).
template <class F>
void run_parallel(std::size_t n, std::size_t threads, F f) {
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < n;) f(i);
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < std::min(n, threads); ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads: the others share the work
    }
  }
  work();
  for (std::thread& t : pool) t.join();
}

// One file a file_sd config matched.
struct FileEntry {
  std::vector<TargetGroup> groups;  // from the last successful read
  std::string error;                // of the last read, "" when it worked
};

struct FileDiscoverer {
  FileSdConfig config;
  std::vector<std::string> order;          // matched paths, at the last refresh
  std::map<std::string, FileEntry> files;  // by path
  std::vector<std::string> missing;        // plain paths that did not exist
  std::vector<detail::FileStamp> stamps;   // taken before the last refresh read
  Mono next_refresh{};
};

struct DnsDiscoverer {
  DnsSdConfig config;                          // names without repeats
  std::map<std::string, TargetGroup> groups;   // by name: last good group
  std::map<std::string, std::string> errors;   // by name: last failure, "" when fine
  std::map<std::string, std::size_t> skipped;  // by name: records not targets, last answer
  Mono next_refresh{};
};

struct Job {
  std::string name;
  std::vector<TargetGroup> static_groups;
  std::vector<FileDiscoverer> files;
  std::vector<DnsDiscoverer> dns;
  bool touched = false;  // a discoverer refreshed since the groups were last composed
};

struct View {
  std::vector<TargetGroup> groups;
  std::vector<std::pair<std::string, std::string>> errors;
};

std::vector<TargetGroup> compose_groups(const Job& job) {
  std::vector<TargetGroup> out = job.static_groups;
  for (const FileDiscoverer& f : job.files)
    for (const std::string& path : f.order)
      if (const auto it = f.files.find(path); it != f.files.end())
        out.insert(out.end(), it->second.groups.begin(), it->second.groups.end());
  for (const DnsDiscoverer& d : job.dns)
    for (const std::string& name : d.config.names)
      if (const auto it = d.groups.find(name); it != d.groups.end()) out.push_back(it->second);
  return out;
}

std::vector<std::pair<std::string, std::string>> compose_errors(const Job& job) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const FileDiscoverer& f : job.files) {
    for (const std::string& path : f.order)
      if (const auto it = f.files.find(path); it != f.files.end() && !it->second.error.empty())
        out.emplace_back("file " + path, it->second.error);
    for (const std::string& path : f.missing) out.emplace_back("file " + path, "no such file");
  }
  for (const DnsDiscoverer& d : job.dns)
    for (const std::string& name : d.config.names)
      if (const auto it = d.errors.find(name); it != d.errors.end() && !it->second.empty())
        out.emplace_back("dns " + name, it->second);
  return out;
}

// Logs a discoverer's error when its reason changes (and its recovery).
void log_file_error(const std::string& job, const std::string& path, const std::string& before,
                    const std::string& now) {
  if (now == before) return;
  if (!now.empty())
    FB_LOG_WARN("file_sd_read_failed",
                "cannot use a file of targets; it keeps its previous targets", {"job", job},
                {"path", path}, {"error", now});
  else
    FB_LOG_INFO("file_sd_recovered", "a file of targets reads fine again", {"job", job},
                {"path", path});
}

void log_dns_error(const std::string& job, const std::string& name, const std::string& before,
                   const std::string& now) {
  if (now == before) return;
  if (!now.empty())
    FB_LOG_WARN("dns_sd_lookup_failed", "DNS discovery failed; the name keeps its previous targets",
                {"job", job}, {"name", name}, {"error", now});
  else
    FB_LOG_INFO("dns_sd_recovered", "DNS discovery works again", {"job", job}, {"name", name});
}

}  // namespace

struct Manager::State {
  explicit State(ManagerOptions o) : options(std::move(o)) {
    if (!options.clock) options.clock = &firebreak::Clock::system();
  }

  ManagerOptions options;

  std::mutex life_mu;  // serialises apply() and stop()
  std::thread thread;  // guarded by life_mu

  std::mutex work_mu;     // serialises apply()'s and the thread's refreshes
  std::vector<Job> jobs;  // guarded by work_mu
  Mono next_poll{};       // guarded by work_mu

  mutable std::mutex view_mu;
  std::map<std::string, View, std::less<>> views;  // guarded by view_mu

  std::mutex control_mu;
  std::condition_variable control_cv;
  bool stopping = false;     // guarded by control_mu
  bool rescheduled = false;  // guarded by control_mu: apply() changed the schedule

  Mono now() const { return options.clock->mono_now(); }

  // Re-reads every file of `f` (the stamps first, so a change while reading
  // is seen by the next poll).
  void refresh_files(const std::string& job, FileDiscoverer& f, Mono now) {
    f.next_refresh = now + interval(f.config.refresh_interval_ms);
    std::vector<std::string> missing;
    std::vector<std::string> paths = detail::expand_patterns(f.config.files, &missing);
    f.stamps = detail::stamp_files(paths);
    std::map<std::string, FileEntry> files;
    for (const std::string& path : paths) {
      FileEntry entry;
      if (auto it = f.files.find(path); it != f.files.end()) entry = std::move(it->second);
      const std::string before = entry.error;
      std::string error;
      if (auto text = detail::read_file_bounded(path, kFileSdMaxBytes, error)) {
        detail::FileSdResult r = detail::parse_file_sd_detail(*text, path);
        entry.error = std::move(r.detail);
        if (entry.error.empty()) entry.groups = std::move(r.groups);
      } else {
        entry.error = std::move(error);
      }
      log_file_error(job, path, before, entry.error);
      files.emplace(path, std::move(entry));
    }
    for (const std::string& path : missing)
      if (std::find(f.missing.begin(), f.missing.end(), path) == f.missing.end())
        FB_LOG_WARN("file_sd_file_missing", "a file of targets does not exist", {"job", job},
                    {"path", path});
    for (auto& [path, entry] : f.files)  // a file gone takes its error along
      if (!files.count(path) && !entry.error.empty())
        FB_LOG_INFO("file_sd_file_gone", "a file of targets that failed is gone", {"job", job},
                    {"path", path});
    f.files = std::move(files);
    f.order = std::move(paths);
    f.missing = std::move(missing);
  }

  // Resolves the given (job, discoverer, name) triples in parallel and
  // applies the outcomes.
  struct LookupTask {
    Job* job;
    DnsDiscoverer* dns;
    std::string name;
    detail::DnsLookup result;
  };
  void resolve(std::vector<LookupTask>& tasks) {
    run_parallel(tasks.size(), kMaxLookupThreads, [&](std::size_t i) {
      LookupTask& t = tasks[i];
      t.result = detail::lookup_dns(t.name, t.dns->config.type, options.dns_servers,
                                    options.dns_timeout_ms);
    });
    for (LookupTask& t : tasks) {
      DnsDiscoverer& d = *t.dns;
      std::string error;
      switch (t.result.status) {
        case detail::DnsLookup::Status::kAnswer: {
          DnsParse parsed = parse_dns_answer(t.result.answer, t.name, d.config);
          if (!parsed.ok()) {
            error = "could not resolve " + detail::quote(t.name) + ": " + parsed.error;
            break;
          }
          if (parsed.skipped_records != d.skipped[t.name] && parsed.skipped_records > 0)
            FB_LOG_WARN("dns_sd_records_skipped", "DNS answer holds records that are not targets",
                        {"job", t.job->name}, {"name", t.name},
                        {"records", parsed.skipped_records});
          d.skipped[t.name] = parsed.skipped_records;
          d.groups[t.name] = std::move(parsed.group);
          break;
        }
        case detail::DnsLookup::Status::kNoRecords:
          d.groups[t.name] = TargetGroup{.source = t.name, .targets = {}, .labels = {}};
          d.skipped[t.name] = 0;
          break;
        case detail::DnsLookup::Status::kFailed:
          error = std::move(t.result.error);
          break;
      }
      std::string& last = d.errors[t.name];
      log_dns_error(t.job->name, t.name, last, error);
      last = std::move(error);
    }
  }

  // One pass over everything due at `now` (everything when `all`). Returns
  // the jobs whose groups changed, with their groups.
  std::vector<std::pair<std::string, std::vector<TargetGroup>>> run_due(Mono now, bool all) {
    const bool poll_due = all || now >= next_poll;
    if (poll_due) next_poll = now + interval(options.file_poll_interval_ms);
    std::vector<LookupTask> tasks;
    for (Job& job : jobs) {
      job.touched = job.touched || all;
      for (FileDiscoverer& f : job.files) {
        if (all || now >= f.next_refresh) {
          refresh_files(job.name, f, now);
          job.touched = true;
        } else if (poll_due) {
          std::vector<std::string> paths = detail::expand_patterns(f.config.files, nullptr);
          if (detail::stamp_files(paths) != f.stamps) {
            refresh_files(job.name, f, now);
            job.touched = true;
          }
        }
      }
      for (DnsDiscoverer& d : job.dns) {
        if (!all && now < d.next_refresh) continue;
        d.next_refresh = now + interval(d.config.refresh_interval_ms);
        for (const std::string& name : d.config.names) tasks.push_back({&job, &d, name, {}});
        job.touched = true;
      }
    }
    if (!tasks.empty()) resolve(tasks);

    std::vector<std::pair<std::string, std::vector<TargetGroup>>> changed;
    std::lock_guard lock(view_mu);
    if (all) {  // jobs no longer configured
      std::erase_if(views, [&](const auto& v) {
        return std::none_of(jobs.begin(), jobs.end(),
                            [&](const Job& j) { return j.name == v.first; });
      });
    }
    for (Job& job : jobs) {
      if (!job.touched) continue;
      job.touched = false;
      View& view = views[job.name];
      std::vector<TargetGroup> groups = compose_groups(job);
      view.errors = compose_errors(job);
      if (groups != view.groups) {
        view.groups = std::move(groups);
        changed.emplace_back(job.name, view.groups);
      }
    }
    return changed;
  }

  // The time of the next thing due.
  Mono next_due() const {
    Mono next = next_poll;
    for (const Job& job : jobs) {
      for (const FileDiscoverer& f : job.files) next = std::min(next, f.next_refresh);
      for (const DnsDiscoverer& d : job.dns) next = std::min(next, d.next_refresh);
    }
    return next;
  }

  void loop() {
    for (;;) {
      Ms wait{0};
      {
        std::lock_guard work(work_mu);
        const auto distance = std::chrono::duration_cast<Ms>(next_due() - now());
        wait = std::clamp(distance, Ms(0), interval(options.file_poll_interval_ms));
      }
      {
        std::unique_lock lock(control_mu);
        control_cv.wait_for(lock, wait, [&] { return stopping || rescheduled; });
        if (stopping) return;
        if (rescheduled) {
          rescheduled = false;
          continue;
        }
      }
      std::lock_guard work(work_mu);
      const auto changed = run_due(now(), false);
      for (const auto& [job, groups] : changed)
        if (options.on_change) options.on_change(job, groups);
    }
  }
};

Manager::Manager(ManagerOptions options) : state_(std::make_unique<State>(std::move(options))) {}

Manager::~Manager() {
  stop();
}

void Manager::apply(std::vector<JobDiscovery> configs) {
  State& s = *state_;
  std::lock_guard life(s.life_mu);
  {
    std::lock_guard work(s.work_mu);
    std::vector<Job> jobs;
    std::set<std::string, std::less<>> names;
    for (JobDiscovery& c : configs) {
      if (!names.insert(c.job).second) {
        FB_LOG_WARN("discovery_job_repeated", "a job is given twice; the first one counts",
                    {"job", c.job});
        continue;
      }
      Job& job = jobs.emplace_back();
      job.name = c.job;
      job.static_groups = std::move(c.static_groups);
      // The old job of that name gives unchanged discoverers their state.
      Job* old = nullptr;
      for (Job& o : s.jobs)
        if (o.name == job.name) old = &o;
      for (FileSdConfig& fc : c.files) {
        FileDiscoverer& f = job.files.emplace_back();
        if (old)
          for (FileDiscoverer& of : old->files)
            if (of.config == fc && !of.config.files.empty()) {
              f = std::move(of);
              of.config.files.clear();  // taken
              break;
            }
        f.config = std::move(fc);
      }
      for (DnsSdConfig& dc : c.dns) {
        std::vector<std::string> unique;
        for (std::string& n : dc.names)
          if (std::find(unique.begin(), unique.end(), n) == unique.end()) unique.push_back(n);
        dc.names = std::move(unique);
        DnsDiscoverer& d = job.dns.emplace_back();
        if (old)
          for (DnsDiscoverer& od : old->dns)
            if (od.config == dc && !od.config.names.empty()) {
              d = std::move(od);
              od.config.names.clear();  // taken
              break;
            }
        d.config = std::move(dc);
      }
    }
    s.jobs = std::move(jobs);
    // Until this returns, groups() shows the previous jobs' groups.
    s.run_due(s.now(), true);  // updates the views; on_change is not called
  }
  {
    std::lock_guard lock(s.control_mu);
    s.stopping = false;
    s.rescheduled = true;
  }
  s.control_cv.notify_all();
  if (!s.thread.joinable()) s.thread = std::thread([&s] { s.loop(); });
}

std::vector<TargetGroup> Manager::groups(const std::string& job) const {
  std::lock_guard lock(state_->view_mu);
  const auto it = state_->views.find(job);
  return it == state_->views.end() ? std::vector<TargetGroup>{} : it->second.groups;
}

std::vector<std::pair<std::string, std::string>> Manager::errors(const std::string& job) const {
  std::lock_guard lock(state_->view_mu);
  const auto it = state_->views.find(job);
  return it == state_->views.end() ? std::vector<std::pair<std::string, std::string>>{}
                                   : it->second.errors;
}

void Manager::stop() {
  State& s = *state_;
  std::lock_guard life(s.life_mu);
  {
    std::lock_guard lock(s.control_mu);
    s.stopping = true;
  }
  s.control_cv.notify_all();
  if (s.thread.joinable()) s.thread.join();
}

}  // namespace watch::discovery
