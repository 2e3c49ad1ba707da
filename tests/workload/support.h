// Test support for the workload helpers: logs captured in a temporary file,
// a tracer that keeps finished spans in memory, metric reads from a registry,
// and a local HTTP receiver (the kit's own admin server on port 0) that
// records every request it gets.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "firebreak/admin.h"
#include "firebreak/exposition.h"
#include "firebreak/log.h"
#include "firebreak/metrics.h"
#include "firebreak/trace.h"

namespace firebreak::test {

namespace fs = std::filesystem;

// A fresh temporary directory, removed at destruction.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("firebreak-workload-" + std::to_string(::getpid()) + "-" +
             (info ? std::string(info->test_suite_name()) + "-" + info->name() : "x"));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Sends the process's log lines to a file while alive; records() parses them.
class LogCapture {
 public:
  explicit LogCapture(const fs::path& dir, const Clock* clock = nullptr)
      : file_(dir / "log.jsonl") {
    flush_logs();
    configure_logging({.level = LogLevel::kInfo,
                       .format = LogFormat::kJson,
                       .file = file_.string(),
                       .overflow = LogOverflow::kBlock,
                       .clock = clock});
  }
  ~LogCapture() {
    flush_logs();
    configure_logging({.level = LogLevel::kInfo, .format = LogFormat::kJson});
  }
  std::vector<std::string> lines() const {
    flush_logs();
    std::ifstream in(file_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  std::vector<nlohmann::json> records() const {
    std::vector<nlohmann::json> out;
    for (const auto& l : lines()) out.push_back(nlohmann::json::parse(l));
    return out;
  }
  // Records with this event name.
  std::vector<nlohmann::json> events(std::string_view event) const {
    std::vector<nlohmann::json> out;
    for (auto& r : records())
      if (r.value("event", "") == event) out.push_back(r);
    return out;
  }

 private:
  fs::path file_;
};

// A tracer that samples everything and keeps the finished spans.
struct MemoryTracer {
  std::shared_ptr<InMemorySpanExporter> exporter = std::make_shared<InMemorySpanExporter>();
  Tracer tracer{TracerOptions{.sampler = Sampler::parent_based(Sampler::always_on()),
                              .processor = std::make_shared<SimpleSpanProcessor>(exporter)}};
  std::vector<SpanData> spans() const { return exporter->spans(); }
};

inline std::string exposition(const Registry& registry) {
  std::string out;
  write_exposition(registry.collect(), ExpositionFormat::kPrometheusText, out);
  return out;
}

// The point of `family` (snapshot name: counters without _total) whose labels
// are exactly `labels`; nullopt when absent.
inline std::optional<MetricPoint> find_point(const Registry& registry, std::string_view family,
                                             const std::map<std::string, std::string>& labels) {
  for (const FamilySnapshot& f : registry.collect()) {
    if (f.name != family) continue;
    for (const MetricPoint& p : f.points) {
      std::map<std::string, std::string> got(p.labels->begin(), p.labels->end());
      if (got == labels) return p;
    }
  }
  return std::nullopt;
}

inline std::optional<double> value_of(const Registry& registry, std::string_view family,
                                      const std::map<std::string, std::string>& labels = {}) {
  auto p = find_point(registry, family, labels);
  if (!p) return std::nullopt;
  return p->value;
}

// Histogram observation count (0 when the series is absent).
inline std::uint64_t count_of(const Registry& registry, std::string_view family,
                              const std::map<std::string, std::string>& labels) {
  auto p = find_point(registry, family, labels);
  return p && !p->bucket_counts.empty() ? p->bucket_counts.back() : 0;
}

// How many series a family has.
inline std::size_t series_count(const Registry& registry, std::string_view family) {
  for (const FamilySnapshot& f : registry.collect())
    if (f.name == family) return f.points.size();
  return 0;
}

// A local HTTP receiver on 127.0.0.1:<free port> that records every request
// to the paths it is told about, and answers each with `status` (or the next
// of `statuses` while any are left).
class Receiver {
 public:
  struct Request {
    std::string method;
    std::string path;
    std::string rid;  // the ?rid= value, "" when absent
    std::string content_type;
    std::string body;
  };

  Receiver() : server_({.address = "127.0.0.1:0", .max_body_bytes = 1 << 20}) {}
  ~Receiver() { server_.stop(); }

  void route(const std::string& method, const std::string& path) {
    server_.add_handler(method, path, [this](const AdminRequest& req) {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back({req.method, req.path, std::string(req.query_value("rid").value_or("")),
                           std::string(req.header("Content-Type")), req.body});
      int status = status_;
      if (!statuses_.empty()) {
        status = statuses_.front();
        statuses_.erase(statuses_.begin());
      }
      return AdminResponse{.status = status, .body = "OK"};
    });
  }
  void start() { server_.start(); }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  void set_statuses(std::vector<int> s) {
    std::lock_guard<std::mutex> lock(mu_);
    statuses_ = std::move(s);
  }
  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  AdminServer server_;
  mutable std::mutex mu_;
  std::vector<Request> requests_;
  std::vector<int> statuses_;
  int status_ = 200;
};

// A port on 127.0.0.1 that nothing listens on, for a server a test starts
// later at a known address. It is picked at random below the kernel's
// ephemeral range (32768 and up on Linux): a port from bind(0) could be
// handed to another test's listener or outgoing connection before our
// server binds it; these never are, and two tests picking the same one of
// ~12,000 ports at once is unlikely.
inline std::uint16_t closed_port() {
  constexpr int kLow = 20000, kHigh = 32767;
  static std::mt19937 pick(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  for (int attempt = 0; attempt < 100; ++attempt) {
    const auto port =
        static_cast<std::uint16_t>(std::uniform_int_distribution<int>(kLow, kHigh)(pick));
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (bound) return port;
  }
  throw std::runtime_error("closed_port: no free port below the ephemeral range");
}

}  // namespace firebreak::test
