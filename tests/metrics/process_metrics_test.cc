#include "firebreak/process_metrics.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "firebreak/exposition.h"

namespace firebreak {
namespace {

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// When this test binary was loaded: the process started shortly before.
const double kLoadedAt = wall_now();

const FamilySnapshot* find(const std::vector<FamilySnapshot>& families, std::string_view name) {
  for (const auto& f : families)
    if (f.name == name) return &f;
  return nullptr;
}

// The value of an unlabelled single-series family in a fresh scrape.
double scrape_value(const Registry& registry, std::string_view name) {
  const auto families = registry.collect();
  const FamilySnapshot* f = find(families, name);
  if (f == nullptr) {
    ADD_FAILURE() << "no family " << name;
    return -1;
  }
  EXPECT_EQ(f->points.size(), 1u) << name;
  return f->points.empty() ? -1 : f->points[0].value;
}

double process_cpu_time() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

class ProcessMetricsTest : public ::testing::Test {
 protected:
  ProcessMetricsTest() { register_process_metrics(registry_); }
  Registry registry_;
};

TEST_F(ProcessMetricsTest, ExposesTheSixFamiliesWithTheClientLibrariesNamesTypesAndHelp) {
  struct Expected {
    const char* name;
    MetricType type;
    const char* help;
    const char* unit;
  };
  const Expected expected[] = {
      {"process_cpu_seconds", MetricType::kCounter,
       "Total user and system CPU time spent in seconds.", "seconds"},
      {"process_max_fds", MetricType::kGauge, "Maximum number of open file descriptors.", ""},
      {"process_open_fds", MetricType::kGauge, "Number of open file descriptors.", ""},
      {"process_resident_memory_bytes", MetricType::kGauge, "Resident memory size in bytes.",
       "bytes"},
      {"process_start_time_seconds", MetricType::kGauge,
       "Start time of the process since unix epoch in seconds.", "seconds"},
      {"process_virtual_memory_bytes", MetricType::kGauge, "Virtual memory size in bytes.",
       "bytes"},
  };
  const auto families = registry_.collect();
  EXPECT_EQ(families.size(), std::size(expected));
  for (const Expected& e : expected) {
    const FamilySnapshot* f = find(families, e.name);
    ASSERT_NE(f, nullptr) << e.name;
    EXPECT_EQ(f->type, e.type) << e.name;
    EXPECT_EQ(f->help, e.help) << e.name;
    EXPECT_EQ(f->unit, e.unit) << e.name;
    ASSERT_EQ(f->points.size(), 1u) << e.name;
    ASSERT_NE(f->points[0].labels, nullptr) << e.name;
    EXPECT_TRUE(f->points[0].labels->empty()) << e.name;
  }
}

TEST_F(ProcessMetricsTest, StartTimeIsJustBeforeThisBinaryWasLoaded) {
  const double start = scrape_value(registry_, "process_start_time_seconds");
  const double now = wall_now();
  EXPECT_GT(start, now - 3600);
  // Boot time is whole seconds and start time whole clock ticks, both rounded
  // down; allow a second for a wall clock slewed since boot.
  EXPECT_LE(start, kLoadedAt + 1.0);
  EXPECT_GT(start, kLoadedAt - 60);
  // Stable between scrapes.
  EXPECT_EQ(scrape_value(registry_, "process_start_time_seconds"), start);
}

TEST_F(ProcessMetricsTest, CpuSecondsFollowsTheCpuTheProcessBurns) {
  const double before = scrape_value(registry_, "process_cpu_seconds");
  const double cpu_before = process_cpu_time();
  volatile std::uint64_t sink = 0;
  while (process_cpu_time() - cpu_before < 0.3) {
    for (int i = 0; i < 100000; ++i) sink = sink + static_cast<std::uint64_t>(i);
  }
  const double after = scrape_value(registry_, "process_cpu_seconds");
  const double cpu_after = process_cpu_time();
  EXPECT_GE(after - before, 0.2);
  // Clock ticks (1/100 s) against the scheduler's nanoseconds: close, not equal.
  EXPECT_NEAR(after, cpu_after, 0.25);
}

TEST_F(ProcessMetricsTest, ResidentAndVirtualMemoryRiseWhenPagesAreMappedAndTouched) {
  const double rss_before = scrape_value(registry_, "process_resident_memory_bytes");
  const double vm_before = scrape_value(registry_, "process_virtual_memory_bytes");
  EXPECT_GT(rss_before, 0);
  EXPECT_GE(vm_before, rss_before);

  constexpr std::size_t kSize = 64 << 20;
  void* p = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  const double vm_mapped = scrape_value(registry_, "process_virtual_memory_bytes");
  std::memset(p, 1, kSize);
  const double rss_touched = scrape_value(registry_, "process_resident_memory_bytes");
  munmap(p, kSize);

  EXPECT_GE(vm_mapped - vm_before, static_cast<double>(kSize));
  EXPECT_GE(rss_touched - rss_before, static_cast<double>(kSize) * 0.75);
  rusage usage{};
  ASSERT_EQ(getrusage(RUSAGE_SELF, &usage), 0);
  EXPECT_LE(rss_touched, static_cast<double>(usage.ru_maxrss) * 1024 + (1 << 20));
}

TEST_F(ProcessMetricsTest, OpenFdsCountsEachOpenedFileAndMatchesAListingOfProcSelfFd) {
  const double before = scrape_value(registry_, "process_open_fds");
  // Listing /proc/self/fd opens one descriptor, which the listing shows.
  const auto listed = std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                                    std::filesystem::directory_iterator());
  EXPECT_EQ(before, static_cast<double>(listed - 1));

  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) {
    fds.push_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_GE(fds.back(), 0);
  }
  EXPECT_EQ(scrape_value(registry_, "process_open_fds"), before + 5);
  for (int fd : fds) close(fd);
  EXPECT_EQ(scrape_value(registry_, "process_open_fds"), before);
}

TEST_F(ProcessMetricsTest, OpenFdsCountsThousandsOfDescriptors) {
  const double before = scrape_value(registry_, "process_open_fds");
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  const int n =
      static_cast<int>(std::min(2000.0, static_cast<double>(limit.rlim_cur) - before - 16));
  if (n < 500) GTEST_SKIP() << "RLIMIT_NOFILE soft limit " << limit.rlim_cur << " is too low";
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) fds.push_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(scrape_value(registry_, "process_open_fds"), before + n);
  for (int fd : fds) close(fd);
}

TEST_F(ProcessMetricsTest, MaxFdsIsTheSoftFileLimitReadAtScrapeTime) {
  rlimit original{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &original), 0);
  EXPECT_EQ(scrape_value(registry_, "process_max_fds"), static_cast<double>(original.rlim_cur));

  rlimit lowered = original;
  lowered.rlim_cur = 777;  // below any sane hard limit; raising back is allowed
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  const double seen = scrape_value(registry_, "process_max_fds");
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &original), 0);
  EXPECT_EQ(seen, 777);
}

TEST_F(ProcessMetricsTest, TextExpositionHasTheStandardSeriesNames) {
  std::string text;
  write_exposition(registry_.collect(), ExpositionFormat::kPrometheusText, text);
  for (const char* line :
       {"# TYPE process_cpu_seconds_total counter\n", "# TYPE process_max_fds gauge\n",
        "# TYPE process_open_fds gauge\n", "# TYPE process_resident_memory_bytes gauge\n",
        "# TYPE process_start_time_seconds gauge\n", "# TYPE process_virtual_memory_bytes gauge\n",
        "\nprocess_cpu_seconds_total ", "\nprocess_open_fds "}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\nin:\n" << text;
  }
}

TEST_F(ProcessMetricsTest, ConcurrentScrapesAgree) {
  const double max_fds = scrape_value(registry_, "process_max_fds");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        const auto families = registry_.collect();
        const FamilySnapshot* f = find(families, "process_max_fds");
        ASSERT_NE(f, nullptr);
        ASSERT_EQ(f->points.at(0).value, max_fds);
      }
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace
}  // namespace firebreak
