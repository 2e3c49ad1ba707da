// A synthetic scrape target for bench/footprint.sh: N series in the
// Prometheus text format, their values moving as real ones do (most
// counters creep up, a few gauges wander, some stay put), so Prometheus and
// watch scraping it store the same samples at the same cost per sample.
//
//   synthetic_target --series 100000 --port 9700
//
// 10 metric names (synthetic_metric_0 .. _9), labels series="<i>" and
// shard="<i % 64>". The body is rebuilt for each scrape from pre-rendered
// label parts.
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "firebreak/admin.h"
#include "firebreak/log.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) {
  g_stop = 1;
}

class Target {
 public:
  explicit Target(int series) {
    prefixes_.reserve(static_cast<std::size_t>(series));
    for (int i = 0; i < series; ++i)
      prefixes_.push_back(
          fmt::format("synthetic_metric_{}{{series=\"{}\",shard=\"{}\"}} ", i % 10, i, i % 64));
  }

  std::string body() {
    const double t =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const auto s = static_cast<std::int64_t>(t);
    std::string out;
    out.reserve(prefixes_.size() * 48);
    for (std::size_t i = 0; i < prefixes_.size(); ++i) {
      out += prefixes_[i];
      switch (i % 4) {
        case 0:  // a busy counter
        case 1:  // a slow counter
          fmt::format_to(std::back_inserter(out), "{}",
                         s * static_cast<std::int64_t>(i % 7 + 1) / (i % 4 == 0 ? 1 : 30));
          break;
        case 2:  // a gauge that wanders
          fmt::format_to(std::back_inserter(out), "{:.3f}",
                         100 + 50 * std::sin(static_cast<double>(s) / 60 + static_cast<double>(i)));
          break;
        default:  // a constant (a build info, a limit)
          out += "1";
          break;
      }
      out += '\n';
    }
    return out;
  }

 private:
  std::vector<std::string> prefixes_;
};

}  // namespace

int main(int argc, char** argv) {
  int series = 10000;
  int port = 9700;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--series")
      series = std::atoi(argv[i + 1]);
    else if (flag == "--port")
      port = std::atoi(argv[i + 1]);
  }
  Target target(series);
  std::mutex mu;  // one body at a time: two scrapers, one core's worth of work
  firebreak::AdminServer server({.address = "127.0.0.1:" + std::to_string(port), .threads = 2});
  server.add_handler("GET", "/metrics", [&](const firebreak::AdminRequest&) {
    std::lock_guard lock(mu);
    return firebreak::AdminResponse{.content_type = "text/plain; version=0.0.4",
                                    .body = target.body()};
  });
  server.start();
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  FB_LOG_INFO("listening", "", {"server", "http"}, {"address", server.address()},
              {"series", series});
  firebreak::flush_logs();
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}
