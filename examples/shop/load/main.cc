// shop-load: a small open-loop load generator for shop-api: requests are
// scheduled at a fixed rate whatever the latency (a slow API does not slow
// the load down, as real users would not), from a mix of good and bad
// requests (load/traffic.h). Prints a summary: per kind of request, how many,
// how many answered what a correct API answers, and latency percentiles.
//
//   shop-load --target http://127.0.0.1:8080 --rate 50 --duration 30 --bad-fraction 0.1
//
// --duration 0 runs until SIGINT/SIGTERM. Exit status 0 (the summary says
// what went wrong), 2 for bad flags.
#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "firebreak/http_client.h"
#include "load/traffic.h"

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) {
  g_stop.store(true);
}

struct KindStats {
  std::uint64_t sent = 0;
  std::uint64_t expected = 0;  // answered with the expected status
  std::uint64_t failed = 0;    // no answer (connection error, timeout)
  std::map<int, std::uint64_t> statuses;
  std::vector<double> latencies_ms;
};

class Summary {
 public:
  void record(const shop::PlannedRequest& r, const firebreak::HttpResponse& res, double ms) {
    std::lock_guard lock(mu_);
    KindStats& k = kinds_[r.kind];
    ++k.sent;
    if (!res.error.empty()) {
      ++k.failed;
      if (first_error_.empty()) first_error_ = res.error;
      return;
    }
    ++k.statuses[res.status];
    if (res.status == r.expect) ++k.expected;
    k.latencies_ms.push_back(ms);
  }
  void late() { late_.fetch_add(1); }

  void print(double elapsed_s) {
    std::lock_guard lock(mu_);
    KindStats all;
    fmt::print("{:<16} {:>7} {:>9} {:>7} {:>8} {:>8} {:>8}  statuses\n", "kind", "sent", "expected",
               "failed", "p50 ms", "p99 ms", "max ms");
    for (auto& [name, k] : kinds_) {
      row(name, k);
      all.sent += k.sent;
      all.expected += k.expected;
      all.failed += k.failed;
      for (auto [s, n] : k.statuses) all.statuses[s] += n;
      all.latencies_ms.insert(all.latencies_ms.end(), k.latencies_ms.begin(), k.latencies_ms.end());
    }
    row("all", all);
    fmt::print("{:.1f} requests/s over {:.1f} s; {} started late (the generator fell behind)\n",
               static_cast<double>(all.sent) / std::max(elapsed_s, 1e-9), elapsed_s, late_.load());
    if (!first_error_.empty()) fmt::print("first connection error: {}\n", first_error_);
  }

 private:
  static double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
  }
  static void row(const std::string& name, KindStats& k) {
    std::string statuses;
    for (auto [s, n] : k.statuses) statuses += fmt::format("{}:{} ", s, n);
    fmt::print("{:<16} {:>7} {:>9} {:>7} {:>8.1f} {:>8.1f} {:>8.1f}  {}\n", name, k.sent,
               k.expected, k.failed, percentile(k.latencies_ms, 0.5),
               percentile(k.latencies_ms, 0.99), percentile(k.latencies_ms, 1.0), statuses);
  }

  std::mutex mu_;
  std::map<std::string, KindStats> kinds_;  // guarded by mu_
  std::string first_error_;                 // guarded by mu_
  std::atomic<std::uint64_t> late_{0};
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shop-load: open-loop load for shop-api, good and bad requests"};
  std::string target = "http://127.0.0.1:8080";
  double rate = 20;
  double duration = 10;
  double bad_fraction = 0.1;
  unsigned concurrency = 8;
  std::uint64_t seed = 0;
  app.add_option("--target", target, "shop-api base URL")
      ->envname("SHOP_API_URL")
      ->capture_default_str();
  app.add_option("--rate", rate, "Requests a second")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 100000.0));
  app.add_option("--duration", duration, "Seconds to run (0: until Ctrl-C)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--bad-fraction", bad_fraction, "Fraction of bad requests, 0..1")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--concurrency", concurrency, "Connections (requests in flight at most)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--seed", seed, "Random seed for the request mix (0: random)");
  CLI11_PARSE(app, argc, argv);
  while (!target.empty() && target.back() == '/') target.pop_back();
  std::string why;
  if (!firebreak::valid_http_url(target + "/", &why)) {
    std::cerr << "shop-load: --target " << target << ": " << why << std::endl;
    return 2;
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  shop::Traffic traffic({.bad_fraction = bad_fraction, .seed = seed});
  Summary summary;
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const auto start = Clock::now();
  const auto end = duration > 0 ? start + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(duration))
                                : Clock::time_point::max();
  std::atomic<std::uint64_t> ticket{0};

  std::vector<std::thread> senders;
  for (unsigned i = 0; i < concurrency; ++i) {
    senders.emplace_back([&] {
      firebreak::HttpClient client({.timeout = std::chrono::seconds(10)});
      while (!g_stop.load()) {
        const auto n = ticket.fetch_add(1);
        const auto due =
            start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(n));
        if (due >= end) return;
        // Sleep in short steps so that Ctrl-C is prompt.
        while (Clock::now() < due && !g_stop.load())
          std::this_thread::sleep_for(
              std::min<Clock::duration>(due - Clock::now(), std::chrono::milliseconds(100)));
        if (g_stop.load()) return;
        if (Clock::now() - due > std::chrono::milliseconds(10)) summary.late();
        const shop::PlannedRequest r = traffic.next();
        const auto sent = Clock::now();
        const auto res = client.request(r.method, target + r.path, r.body, r.headers);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
        summary.record(r, res, ms);
        if (res.status == 201) {
          const auto j = nlohmann::json::parse(res.body, nullptr, false);
          if (j.is_object() && j.contains("id") && j["id"].is_number_integer())
            traffic.remember_order(j["id"].get<std::int64_t>());
        }
      }
    });
  }
  for (auto& t : senders) t.join();
  summary.print(std::chrono::duration<double>(Clock::now() - start).count());
  return 0;
}
