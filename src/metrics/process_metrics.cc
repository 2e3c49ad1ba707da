// The process collector: reads /proc/self at scrape time (see process_metrics.h).
#include "firebreak/process_metrics.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

namespace firebreak {
namespace {

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads a whole (small) file into `buf`; returns the bytes read, or nullopt.
// /proc files have no size, so read until EOF.
std::optional<std::size_t> read_small_file(const char* path, char* buf, std::size_t cap) {
  Fd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  std::size_t len = 0;
  while (len < cap) {
    const ssize_t n = ::read(fd.get(), buf + len, cap - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  return len;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// The boot time (Unix seconds) from the "btime" line of /proc/stat, or nullopt.
// /proc/stat grows with the CPU and interrupt counts, so scan it in chunks.
std::optional<double> read_boot_time() {
  Fd fd(::open("/proc/stat", O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  constexpr std::string_view kKey = "\nbtime ";
  std::array<char, 8192> buf;
  buf[0] = '\n';  // so a "btime" on the first line matches too
  std::size_t len = 1;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data() + len, buf.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    len += static_cast<std::size_t>(n);
    const std::string_view text(buf.data(), len);
    const std::size_t at = text.find(kKey);
    if (at != std::string_view::npos) {
      const std::size_t begin = at + kKey.size();
      const std::size_t end = text.find('\n', begin);
      if (end == std::string_view::npos && len < buf.size()) {
        // The line continues in the next read: keep it and read on.
        std::memmove(buf.data(), buf.data() + at, len - at);
        len -= at;
        continue;
      }
      std::uint64_t btime = 0;
      if (!parse_u64(text.substr(begin, end - begin), btime)) return std::nullopt;
      return static_cast<double>(btime);
    }
    // Keep the tail that could hold the start of the key.
    const std::size_t keep = std::min(len, kKey.size() + 24);
    std::memmove(buf.data(), buf.data() + len - keep, keep);
    len = keep;
  }
}

// The fields of /proc/self/stat the collector uses (proc(5) numbering).
struct ProcStat {
  std::uint64_t utime = 0;      // (14) clock ticks in user mode
  std::uint64_t stime = 0;      // (15) clock ticks in kernel mode
  std::uint64_t starttime = 0;  // (22) clock ticks after boot
  std::uint64_t vsize = 0;      // (23) bytes
  std::uint64_t rss = 0;        // (24) pages
};

std::optional<ProcStat> read_proc_stat(const char* path = "/proc/self/stat") {
  std::array<char, 4096> buf;
  const auto len = read_small_file(path, buf.data(), buf.size());
  if (!len) return std::nullopt;
  std::string_view text(buf.data(), *len);
  // The command name (field 2) is in parentheses and may hold spaces and ')':
  // the fields that follow start after the last ')'.
  const std::size_t paren = text.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  text.remove_prefix(paren + 1);

  ProcStat stat;
  int field = 2;  // the field just consumed
  while (!text.empty() && field < 24) {
    const std::size_t start = text.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    const std::size_t end = std::min(text.find_first_of(" \n"), text.size());
    const std::string_view token = text.substr(0, end);
    text.remove_prefix(end);
    ++field;
    std::uint64_t* dest = nullptr;
    switch (field) {
      case 14:
        dest = &stat.utime;
        break;
      case 15:
        dest = &stat.stime;
        break;
      case 22:
        dest = &stat.starttime;
        break;
      case 23:
        dest = &stat.vsize;
        break;
      case 24:
        dest = &stat.rss;
        break;
      default:
        break;
    }
    if (dest && !parse_u64(token, *dest)) return std::nullopt;
  }
  if (field < 24) return std::nullopt;
  return stat;
}

// Counts the entries of /proc/self/fd, leaving out the descriptor used to list it.
std::optional<std::uint64_t> count_open_fds() {
  Fd dir(::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return std::nullopt;
  // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[].
  constexpr std::size_t kReclenOffset = 16;
  constexpr std::size_t kNameOffset = 19;
  alignas(8) std::array<char, 16384> buf;
  std::uint64_t count = 0;
  for (;;) {
    const long n = ::syscall(SYS_getdents64, dir.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) break;
    for (long pos = 0; pos < n;) {
      std::uint16_t reclen = 0;
      std::memcpy(&reclen, buf.data() + pos + kReclenOffset, sizeof reclen);
      if (reclen == 0) return std::nullopt;
      const char* name = buf.data() + pos + kNameOffset;
      pos += reclen;
      if (name[0] == '.') continue;  // "." and ".."
      int fd = -1;
      const auto [ptr, ec] = std::from_chars(name, name + std::strlen(name), fd);
      if (ec == std::errc() && fd == dir.get()) continue;
      ++count;
    }
  }
  return count;
}

FamilySnapshot family(std::string_view name, std::string_view help, std::string_view unit,
                      MetricType type, const std::shared_ptr<const Labels>& labels, double value) {
  FamilySnapshot f;
  f.name = name;
  f.help = help;
  f.unit = unit;
  f.type = type;
  f.points.push_back(MetricPoint{.labels = labels, .value = value});
  return f;
}

// What does not change while the process runs, read once.
struct ProcessConstants {
  double ticks_per_second = 100;
  double page_bytes = 4096;
  // The boot time moves only when the wall clock is stepped; read once, as the
  // Python client does, so the start time does not jitter between scrapes.
  std::optional<double> boot_time;
  std::shared_ptr<const Labels> no_labels = std::make_shared<const Labels>();
};

const ProcessConstants& process_constants() {
  static const ProcessConstants constants = [] {
    ProcessConstants c;
    if (const long ticks = ::sysconf(_SC_CLK_TCK); ticks > 0)
      c.ticks_per_second = static_cast<double>(ticks);
    if (const long page = ::sysconf(_SC_PAGESIZE); page > 0)
      c.page_bytes = static_cast<double>(page);
    c.boot_time = read_boot_time();
    return c;
  }();
  return constants;
}

void collect_process_metrics(std::vector<FamilySnapshot>& out) {
  const ProcessConstants& c = process_constants();
  // Families in name order, as a scrape lists them.
  const std::optional<ProcStat> stat = read_proc_stat();
  if (stat) {
    out.push_back(family("process_cpu_seconds", "Total user and system CPU time spent in seconds.",
                         "seconds", MetricType::kCounter, c.no_labels,
                         static_cast<double>(stat->utime + stat->stime) / c.ticks_per_second));
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.push_back(family("process_max_fds", "Maximum number of open file descriptors.", "",
                         MetricType::kGauge, c.no_labels, static_cast<double>(limit.rlim_cur)));
  }
  if (const std::optional<std::uint64_t> fds = count_open_fds()) {
    out.push_back(family("process_open_fds", "Number of open file descriptors.", "",
                         MetricType::kGauge, c.no_labels, static_cast<double>(*fds)));
  }
  if (stat) {
    out.push_back(family("process_resident_memory_bytes", "Resident memory size in bytes.", "bytes",
                         MetricType::kGauge, c.no_labels,
                         static_cast<double>(stat->rss) * c.page_bytes));
    if (c.boot_time) {
      out.push_back(family(
          "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
          "seconds", MetricType::kGauge, c.no_labels,
          *c.boot_time + static_cast<double>(stat->starttime) / c.ticks_per_second));
    }
    out.push_back(family("process_virtual_memory_bytes", "Virtual memory size in bytes.", "bytes",
                         MetricType::kGauge, c.no_labels, static_cast<double>(stat->vsize)));
  }
}

}  // namespace

std::optional<double> process_start_time_seconds() {
  const ProcessConstants& c = process_constants();
  const std::optional<ProcStat> stat = read_proc_stat();
  if (!stat || !c.boot_time) return std::nullopt;
  return *c.boot_time + static_cast<double>(stat->starttime) / c.ticks_per_second;
}

std::optional<ProcessSample> sample_process(pid_t pid) {
  char path[48] = "/proc/self/stat";
  if (pid != 0) std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const std::optional<ProcStat> stat = read_proc_stat(path);
  if (!stat) return std::nullopt;
  const ProcessConstants& c = process_constants();
  ProcessSample s{
      .cpu_seconds = static_cast<double>(stat->utime + stat->stime) / c.ticks_per_second,
      .resident_bytes = static_cast<double>(stat->rss) * c.page_bytes,
      .virtual_bytes = static_cast<double>(stat->vsize)};
  if (c.boot_time)
    s.start_time_seconds = *c.boot_time + static_cast<double>(stat->starttime) / c.ticks_per_second;
  return s;
}

void register_process_metrics(Registry& registry) {
  process_constants();  // read /proc/stat now rather than in the first scrape
  // A plain function: the registry copies it per scrape without allocating.
  registry.add_collector(collect_process_metrics);
}

}  // namespace firebreak
