// Multi-process metrics with real processes: children forked from a joined
// process record into slots of their own, die by exit or SIGKILL, and the
// merged scrape stays exact while the file does not grow.
#include "firebreak/multiprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "firebreak/exposition.h"
#include "firebreak/metrics.h"

namespace firebreak {
namespace {

namespace fs = std::filesystem;

class TempPath {
 public:
  TempPath() {
    char tmpl[] = "/tmp/fb-mp-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~TempPath() { fs::remove_all(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

 private:
  fs::path dir_;
};

const FamilySnapshot* find(const std::vector<FamilySnapshot>& fs, const std::string& name) {
  for (const auto& f : fs)
    if (f.name == name) return &f;
  return nullptr;
}

// Label set -> value of one family.
std::map<Labels, double> values(const std::vector<FamilySnapshot>& fs, const std::string& name) {
  std::map<Labels, double> out;
  if (const FamilySnapshot* f = find(fs, name))
    for (const auto& p : f->points) out[*p.labels] = p.value;
  return out;
}

double value(const std::vector<FamilySnapshot>& fs, const std::string& name,
             const Labels& labels = {}) {
  const auto v = values(fs, name);
  const auto it = v.find(labels);
  return it == v.end() ? -1 : it->second;
}

// The recording side of a test: a registry in a slot, with one family of each kind.
struct Recorder {
  explicit Recorder(const std::string& path)
      : region(MultiprocessRegion::open(path)), registry({.slot = &region->join()}) {}

  std::unique_ptr<MultiprocessRegion> region;
  Registry registry;
  CounterFamily& requests =
      registry.counter({.name = "requests_total", .help = "Requests.", .labels = {"route"}});
  HistogramFamily& latency = registry.histogram(
      {.name = "latency_seconds", .help = "Latency.", .unit = "seconds", .buckets = {0.1, 1}});
  GaugeFamily& in_flight = registry.gauge({.name = "in_flight", .help = "In flight."});
  GaugeFamily& sent = registry.gauge(
      {.name = "sent_bytes", .help = "Sum of all.", .combine = ProcessCombine::kSum});
  GaugeFamily& heartbeat = registry.gauge(
      {.name = "heartbeat_seconds", .help = "Max.", .combine = ProcessCombine::kMax});
  GaugeFamily& low =
      registry.gauge({.name = "low_water", .help = "Min.", .combine = ProcessCombine::kMin});
  GaugeFamily& per_pid = registry.gauge(
      {.name = "queue_position", .help = "Per pid.", .combine = ProcessCombine::kPerPid});
};

// Runs `body` in a forked child; returns its pid. The child never returns.
template <class F>
pid_t fork_child(F&& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    body();
    std::_Exit(0);
  }
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(MultiprocessTest, AThousandForkedProcessesCountExactlyWhetherTheyExitOrAreKilled) {
  TempPath tmp;
  const std::string path = tmp.file("metrics.fbm");
  auto reader = MultiprocessRegion::create({.path = path, .max_processes = 16});
  Recorder parent(path);
  // Series the parent made before forking: the children's handles to them
  // record into the children's own slots.
  Counter home = parent.requests.labels("/home");
  Histogram took = parent.latency.labels();
  home.inc(5);
  took.observe(0.05);
  parent.in_flight.labels().set(2);
  parent.sent.labels().set(100);
  parent.heartbeat.labels().set(10);
  parent.low.labels().set(7);
  parent.per_pid.labels().set(3);

  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);

  constexpr int kChildren = 1000;
  constexpr int kBatch = 10;  // alive at once, fewer than the slots
  std::uint64_t expected_home = 5, expected_new = 0, expected_slow = 0;
  for (int first = 0; first < kChildren; first += kBatch) {
    std::vector<pid_t> batch;
    std::vector<int> done(kBatch);
    for (int k = 0; k < kBatch; ++k) {
      const int n = first + k;
      int fds[2];
      ASSERT_EQ(::pipe(fds), 0);
      batch.push_back(fork_child([&, n, fds] {
        ::close(fds[0]);
        home.inc(static_cast<double>(n % 7 + 1));
        // A series the parent never made, created in the child.
        parent.requests.labels("/child").inc();
        took.observe(n % 2 ? 2.0 : 0.5);
        parent.in_flight.labels().set(1000);
        parent.sent.labels().set(n);
        parent.heartbeat.labels().set(n % 100 == 0 ? 9 : 8);  // below the parent's: never wins
        const char ok = 1;
        if (::write(fds[1], &ok, 1) != 1) std::_Exit(3);
        if (n % 2) ::pause();  // odd ones wait for SIGKILL
      }));
      ::close(fds[1]);
      done[k] = fds[0];
      expected_home += n % 7 + 1;
      expected_new += 1;
      expected_slow += n % 2;
    }
    for (int k = 0; k < kBatch; ++k) {
      char byte = 0;
      ASSERT_EQ(::read(done[k], &byte, 1), 1) << "child " << first + k << " did not record";
      ::close(done[k]);
      if ((first + k) % 2) ::kill(batch[k], SIGKILL);
    }
    for (pid_t pid : batch) wait_status(pid);
  }

  std::vector<FamilySnapshot> merged;
  reader->collect(merged);
  EXPECT_EQ(value(merged, "requests", {{"route", "/home"}}), static_cast<double>(expected_home));
  EXPECT_EQ(value(merged, "requests", {{"route", "/child"}}), static_cast<double>(expected_new));
  const FamilySnapshot* latency = find(merged, "latency_seconds");
  ASSERT_NE(latency, nullptr);
  ASSERT_EQ(latency->points.size(), 1u);
  // Buckets 0.1, 1, +Inf (cumulative): the parent's 0.05, even children's 0.5, odd ones' 2.0.
  EXPECT_EQ(latency->points[0].bucket_counts,
            (std::vector<std::uint64_t>{1, 1 + kChildren - expected_slow, 1 + kChildren}));
  EXPECT_DOUBLE_EQ(latency->points[0].sum, 0.05 + 0.5 * (kChildren - expected_slow) +
                                               2.0 * static_cast<double>(expected_slow));
  // Gauges: live ones are the parent's alone; kSum keeps the dead's last values.
  EXPECT_EQ(value(merged, "in_flight"), 2);
  EXPECT_EQ(value(merged, "sent_bytes"), 100 + kChildren * (kChildren - 1) / 2);
  EXPECT_EQ(value(merged, "heartbeat_seconds"), 10);
  EXPECT_EQ(value(merged, "low_water"), 7);
  EXPECT_EQ(values(merged, "queue_position"),
            (std::map<Labels, double>{{{{"pid", std::to_string(::getpid())}}, 3}}));

  std::vector<FamilySnapshot> processes;
  reader->collect_processes(processes, {}, ::getpid());
  EXPECT_EQ(value(processes, "multiprocess_processes"), 1);
  EXPECT_EQ(value(processes, "multiprocess_processes_exited"), kChildren);
  EXPECT_EQ(value(processes, "multiprocess_slots_full"), 0);
  EXPECT_EQ(values(processes, "process_worker_cpu_seconds").size(), 1u);
  EXPECT_GT(value(processes, "process_start_time_seconds"), 1e9);

  // Nothing grew: the same file, its blocks bounded by the slots alive at
  // once, not by the thousand that came and went.
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_size, before.st_size);
  EXPECT_LT(after.st_blocks * 512, 64 * 1024 * 1024) << "allocated bytes grew with churn";
  EXPECT_EQ(
      std::distance(fs::directory_iterator(fs::path(path).parent_path()), fs::directory_iterator()),
      1)
      << "files were left beside the shared one";
}

TEST(MultiprocessTest, AMergedScrapeIsValidExposition) {
  TempPath tmp;
  const std::string path = tmp.file("m.fbm");
  auto reader = MultiprocessRegion::create({.path = path});
  Recorder parent(path);
  parent.requests.labels("/a").inc();
  const pid_t child = fork_child([&] {
    parent.requests.labels("/a").inc(2);
    parent.latency.labels().observe(0.2);
  });
  ASSERT_EQ(wait_status(child), 0);
  Registry serving;
  serving.add_collector([&](std::vector<FamilySnapshot>& out) { reader->collect(out); });
  std::string text;
  write_exposition(serving.collect(), ExpositionFormat::kPrometheusText, text);
  EXPECT_NE(text.find("requests_total{route=\"/a\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_count 1\n"), std::string::npos) << text;
}

TEST(MultiprocessTest, AServingGaugeIsTheCollectingProcesssOwnValue) {
  TempPath tmp;
  const std::string path = tmp.file("m.fbm");
  auto reader = MultiprocessRegion::create({.path = path});
  Recorder parent(path);
  Gauge ready = parent.registry
                    .gauge({.name = "service_ready_view",
                            .help = "The serving process's view.",
                            .combine = ProcessCombine::kServing})
                    .labels();
  ready.set(5);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = fork_child([&] {
    ::close(fds[0]);
    ready.set(9);
    const char ok = 1;
    if (::write(fds[1], &ok, 1) != 1) std::_Exit(3);
    ::pause();
  });
  ::close(fds[1]);
  char byte = 0;
  ASSERT_EQ(::read(fds[0], &byte, 1), 1);
  std::vector<FamilySnapshot> own, unjoined;
  parent.region->collect(own);  // the serving process: its own slot's value
  reader->collect(unjoined);    // a reader with no slot: the largest
  ::kill(child, SIGKILL);
  wait_status(child);
  EXPECT_EQ(value(own, "service_ready_view"), 5);
  EXPECT_EQ(value(unjoined, "service_ready_view"), 9);
}

TEST(MultiprocessTest, ReadinessIsReportedPerProcessAndADeadProcessLeavesTheMembers) {
  TempPath tmp;
  const std::string path = tmp.file("m.fbm");
  auto reader = MultiprocessRegion::create({.path = path});
  Recorder parent(path);
  parent.region->report_ready(true);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = fork_child([&] {
    ::close(fds[0]);
    parent.region->report_ready(false);
    const char ok = 1;
    if (::write(fds[1], &ok, 1) != 1) std::_Exit(3);
    ::pause();
  });
  ::close(fds[1]);
  char byte = 0;
  ASSERT_EQ(::read(fds[0], &byte, 1), 1);
  auto members = reader->members();
  ASSERT_EQ(members.size(), 2u);
  std::map<pid_t, std::pair<bool, bool>> ready;  // pid -> (ready, starting)
  for (const auto& m : members) ready[m.pid] = {m.ready, m.starting};
  EXPECT_EQ(ready, (std::map<pid_t, std::pair<bool, bool>>{{::getpid(), {true, false}},
                                                           {child, {false, true}}}));
  // Stale: nothing reported within the window.
  for (const auto& m : reader->members(-1)) EXPECT_FALSE(m.ready);
  ::kill(child, SIGKILL);
  wait_status(child);
  members = reader->members();
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].pid, ::getpid());
}

TEST(MultiprocessTest, AChildThatFindsNoFreeSlotRecordsPrivatelyAndTheOthersStayExact) {
  TempPath tmp;
  const std::string path = tmp.file("m.fbm");
  auto reader = MultiprocessRegion::create({.path = path, .max_processes = 1});
  Recorder parent(path);  // takes the only slot
  Counter c = parent.requests.labels("/x");
  c.inc();
  const pid_t child = fork_child([&] {
    c.inc(100);  // must not land in the parent's slot
    std::_Exit(parent.region->slot_full() && !parent.region->joined() ? 0 : 4);
  });
  EXPECT_EQ(wait_status(child), 0);
  std::vector<FamilySnapshot> merged;
  reader->collect(merged);
  EXPECT_EQ(value(merged, "requests", {{"route", "/x"}}), 1);
  EXPECT_THROW(MultiprocessRegion::open(path)->join(), MultiprocessError);
}

TEST(MultiprocessTest, ADamagedDirectoryIsReadUpToTheDamageAndNeverCrashes) {
  TempPath tmp;
  const std::string path = tmp.file("m.fbm");
  auto reader = MultiprocessRegion::create({.path = path, .max_processes = 2});
  Recorder parent(path);
  parent.requests.labels("/ok").inc(4);
  // Scribble over the directory of a dead process's slot, at every byte.
  const pid_t child = fork_child([&] { parent.requests.labels("/dead").inc(); });
  ASSERT_EQ(wait_status(child), 0);
  // Fold happens at the next collect; before it, damage the child's record.
  {
    const int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    // Header page, slot 0, slot 1 (the parent), slot 2 (the child): its
    // directory starts one page into the slot.
    struct stat st {};
    ::fstat(fd, &st);
    const off_t slot_bytes = (st.st_size - 4096) / 3;
    const std::string junk(64, '\x7f');
    ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), 4096 + 2 * slot_bytes + 4096 + 8), 64);
    ::close(fd);
  }
  std::vector<FamilySnapshot> merged;
  reader->collect(merged);
  EXPECT_EQ(value(merged, "requests", {{"route", "/ok"}}), 4);
  EXPECT_THROW(MultiprocessRegion::open(tmp.file("missing")), MultiprocessError);
  {
    const std::string bogus = tmp.file("bogus");
    FILE* f = std::fopen(bogus.c_str(), "w");
    std::fputs("not a region", f);
    std::fclose(f);
    EXPECT_THROW(MultiprocessRegion::open(bogus), MultiprocessError);
  }
}

}  // namespace
}  // namespace firebreak
