// Restart safety, end to end: `firebreak watch` is killed (SIGKILL) or
// stopped (SIGTERM) at random points, over and over, while three alerts are
// pending or firing: a windowed one (a rate), one with a long `for`, and the
// rule pack's TargetDown. Across every restart:
// - no alert is resolved while its fault holds, and none pages twice (every
//   firing notification of an alert carries the same startsAt, and there is
//   one);
// - `for` timers are kept: each alert, pending before the first restart,
//   still has the same activeAt after the last one, and fires;
// - windows span the restarts: the rule's rate has a value at every step,
//   reading the counter's rate, the counter never seems to reset, and the
//   samples from before the first restart are still there;
// - once the faults clear, each alert resolves exactly once.
// Run at scrape and evaluation intervals of 1 s, 5 s and 15 s, with the
// rules' windows and `for`s in the same proportions. FIREBREAK_RESTARTS
// multiplies the number of restarts (for longer runs by hand);
// FIREBREAK_RESTART_SEED replays the random choices of a printed seed.
// And once with watch down for longer than the rate's whole window.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "e2e/watch_harness.h"
#include "firebreak/admin.h"
#include "support/http_client.h"
#include "workload/support.h"

namespace firebreak::e2e {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A service in trouble: errors at 10 a second and a fault flag, until cleared.
class FaultService {
 public:
  FaultService() : server_({.address = "127.0.0.1:0"}) {
    server_.add_handler("GET", "/metrics", [this](const AdminRequest&) {
      return AdminResponse{.content_type = "text/plain; version=0.0.4", .body = body()};
    });
    server_.start();
  }
  std::string metrics_url() const { return "http://" + server_.address() + "/metrics"; }
  void clear() {
    frozen_.store(errors());
    cleared_.store(true);
  }
  // The counter's value now (exact: 10 per second since start).
  double errors() const {
    if (cleared_.load()) return frozen_.load();
    return 10 * std::chrono::duration<double>(Clock::now() - start_).count();
  }

 private:
  std::string body() const {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "# TYPE fault_errors_total counter\nfault_errors_total %.3f\n"
                  "# TYPE fault_active gauge\nfault_active %d\n",
                  errors(), cleared_.load() ? 0 : 1);
    return buf;
  }

  const Clock::time_point start_ = Clock::now();
  std::atomic<bool> cleared_{false};
  std::atomic<double> frozen_{0};
  AdminServer server_;
};

// A Prometheus duration.
std::string seconds(std::int64_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string url_encode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// When each active alert of `watch` became pending (its activeAt), by name.
std::map<std::string, std::string> active_since(const WatchProcess& watch) {
  std::map<std::string, std::string> out;
  const auto r = test::http_get(watch.port(), "/api/v1/alerts");
  if (r.status != 200) return out;
  const auto body = nlohmann::json::parse(r.body, nullptr, false);
  if (body.is_discarded()) return out;
  for (const auto& a : body["data"]["alerts"])
    out[a["labels"].value("alertname", "")] = a.value("activeAt", "");
  return out;
}

int restarts_factor() {
  const char* env = std::getenv("FIREBREAK_RESTARTS");
  return env && std::atoi(env) > 0 ? std::atoi(env) : 1;
}

struct Figures {
  int restarts = 0;
  int kills = 0;
  int terms = 0;
  int spurious_resolved = 0;
  int duplicate_firing = 0;
};

class WatchRestartTest : public ::testing::Test {
 protected:
  void run(std::int64_t interval_ms, int restarts);
  std::string config(std::int64_t I, const FaultService& service, std::uint16_t gone_port);

  TempDir dir_;
  WebhookReceiver hook_;
};

// Writes the rules (ErrorRateHigh over a 4-interval window, FaultLasts)
// and returns watch's config: `service` and a target that is gone.
std::string WatchRestartTest::config(std::int64_t I, const FaultService& service,
                                     std::uint16_t gone_port) {
  const std::int64_t window = 4 * I, rate_for = 4 * I, slow_for = 6 * I, down_for = 3 * I;
  std::ofstream(dir_.file("rules.yml"))
      << "groups:\n- name: restart\n  rules:\n"
      << "  - alert: ErrorRateHigh\n    expr: rate(fault_errors_total[" << seconds(window)
      << "]) > 5\n    for: " << seconds(rate_for) << "\n"
      << "  - alert: FaultLasts\n    expr: fault_active == 1\n    for: " << seconds(slow_for)
      << "\n";
  return "listen: 127.0.0.1:0\n"
         "storage: {path: watch.db}\n"
         "global: {scrape_interval: " +
         seconds(I) + ", scrape_timeout: " + seconds(I * 4 / 5) +
         ", evaluation_interval: " + seconds(I) +
         "}\n"
         "targets:\n"
         "  - name: fault\n    metrics_url: " +
         service.metrics_url() + "\n" +
         "  - name: gone\n    metrics_url: http://127.0.0.1:" + std::to_string(gone_port) +
         "/metrics\n    thresholds: {down_for: " + seconds(down_for) +
         "}\n"
         "rule_files: [rules.yml]\n"
         "receivers:\n  - name: hook\n    webhook: {url: " +
         hook_.url() + ", timeout: 2s}\n";
}

void WatchRestartTest::run(std::int64_t interval_ms, int restarts) {
  const std::int64_t I = interval_ms;
  const std::int64_t window = 4 * I;
  FaultService service;
  const std::uint16_t gone_port = test::closed_port();
  const std::string yaml = config(I, service, gone_port);

  // FIREBREAK_RESTART_SEED replays a failed run's choices (printed below).
  const char* seed_env = std::getenv("FIREBREAK_RESTART_SEED");
  const std::uint64_t seed =
      seed_env ? std::strtoull(seed_env, nullptr, 10)
               : static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
  std::mt19937_64 rng(seed);
  std::printf("restart loop: interval %lld ms, %d restarts, seed %llu\n", static_cast<long long>(I),
              restarts, static_cast<unsigned long long>(seed));

  const auto t0 = Clock::now();
  const double t0_unix = unix_now();
  auto watch = std::make_unique<WatchProcess>(yaml, dir_.path());
  // Every alert pending (or firing) before the first restart, with the time
  // its `for` started: restarts must keep that time exactly.
  std::map<std::string, std::string> active_at;
  ASSERT_TRUE(firebreak::e2e::eventually(
      [&] {
        active_at = active_since(*watch);
        return active_at.size() == 3;
      },
      milliseconds(6 * I + 10000)))
      << "the three alerts never became pending";
  Figures figures;
  std::vector<std::pair<double, double>> outages;  // watch down, Unix seconds
  // At least `restarts` restarts and 10 intervals, across the alerts'
  // pending and firing.
  while (figures.restarts < restarts || Clock::now() - t0 < milliseconds(10 * I)) {
    // A random point within the next two intervals.
    std::this_thread::sleep_for(milliseconds(I / 5 + static_cast<std::int64_t>(rng() % (2 * I))));
    const double down_since = unix_now();
    if (rng() % 2) {
      watch->process().send_signal(SIGKILL);
      ++figures.kills;
    } else {
      watch->process().send_signal(SIGTERM);
      ASSERT_TRUE(watch->process().wait_exit(milliseconds(20000)).has_value())
          << "watch did not stop on SIGTERM";
      ++figures.terms;
    }
    watch.reset();
    watch = std::make_unique<WatchProcess>(yaml, dir_.path());
    // Its first scrape comes within an interval of its start.
    outages.push_back({down_since, unix_now() + I / 1000.0});
    ++figures.restarts;
  }

  // Every alert fired once, and its `for` was not restarted: the time it
  // became pending is still the one from before the first restart (a timer
  // reset at a restart would start again from that restart).
  for (const char* name : {"ErrorRateHigh", "FaultLasts", "TargetDown"})
    ASSERT_TRUE(hook_.wait_for(name, "firing", milliseconds(10 * I + 10000))) << name;
  const auto after = active_since(*watch);
  for (const auto& [name, since] : active_at) {
    ASSERT_TRUE(after.contains(name)) << name << " is no longer active";
    EXPECT_EQ(after.at(name), since) << name << ": its `for` restarted";
  }
  std::map<std::string, std::set<std::string>> episodes;  // alert -> startsAt of its pages
  std::map<std::string, int> firing;
  for (const HookAlert& a : hook_.alerts()) {
    if (a.status == "resolved") {
      ++figures.spurious_resolved;
      ADD_FAILURE() << a.alertname << " resolved while its fault held";
      continue;
    }
    episodes[a.alertname].insert(a.starts_at);
    if (++firing[a.alertname] > 1) ++figures.duplicate_firing;
  }
  for (const auto& [name, starts] : episodes) {
    EXPECT_EQ(starts.size(), 1u) << name << " paged with " << starts.size() << " startsAt";
    EXPECT_EQ(firing[name], 1) << name << " paged " << firing[name] << " times";
  }

  // Windows span the restarts: the rule's own rate has a value at every
  // interval of the run once its window first filled, and reads the
  // counter's 10/s; the counter never appears to reset; the first scrape is
  // still there.
  const double now_unix = unix_now();
  const std::string rate_q = "rate(fault_errors_total[" + seconds(window) + "])";
  const auto range =
      test::http_get(watch->port(), "/api/v1/query_range?query=" + url_encode(rate_q) +
                                        "&start=" + std::to_string(t0_unix + 2.0 * window / 1000) +
                                        "&end=" + std::to_string(now_unix) + "&step=" + seconds(I));
  ASSERT_EQ(range.status, 200) << range.body;
  const auto matrix = nlohmann::json::parse(range.body)["data"]["result"];
  ASSERT_EQ(matrix.size(), 1u) << range.body;
  const auto& points = matrix[0]["values"];
  // A step whose window the outages leave less than two intervals of (a
  // restart slowed by a loaded machine) cannot hold the two samples a rate
  // needs: no value there is right. Every other step has one.
  std::set<std::int64_t> stepped;
  for (const auto& p : points) stepped.insert(std::llround(p[0].get<double>() * 1000));
  const double w = window / 1000.0, step = I / 1000.0;
  int missing = 0, excused = 0;
  for (double t = t0_unix + 2.0 * w; t <= now_unix; t += step) {
    double down = 0;
    for (const auto& [from, to] : outages)
      down += std::max(0.0, std::min(t, to) - std::max(t - w, from));
    if (w - down < 2 * step + 0.1) {
      ++excused;
      continue;
    }
    // The API answers at start + k * step; allow for the float sum's drift.
    const std::int64_t at = std::llround(t * 1000);
    const bool has =
        stepped.lower_bound(at - 5) != stepped.end() && *stepped.lower_bound(at - 5) <= at + 5;
    if (!has) ++missing;
  }
  EXPECT_EQ(missing, 0) << "steps without a rate (" << excused
                        << " more excused: the outages filled their windows)";
  // At a step while watch was down, the window's newest samples are the
  // ones it missed, so the rate reads low there (as Prometheus's does over a
  // gap; the rule is not evaluated then, and after a restart it waits for a
  // fresh scrape). It never lacks the samples from before the restart.
  std::vector<double> rates;
  for (const auto& p : points) {
    rates.push_back(std::stod(p[1].get<std::string>()));
    EXPECT_GT(rates.back(), 2.5) << "the rate's window lost its history at " << p[0];
  }
  ASSERT_FALSE(rates.empty());
  std::sort(rates.begin(), rates.end());
  EXPECT_NEAR(rates[rates.size() / 2], 10, 0.5) << "the median rate";
  const std::string full = seconds(static_cast<std::int64_t>((now_unix - t0_unix) * 1000) + I);
  const auto resets = watch->query("resets(fault_errors_total[" + full + "])");
  ASSERT_EQ(resets["data"]["result"].size(), 1u) << resets.dump();
  EXPECT_EQ(resets["data"]["result"][0]["value"][1], "0");
  // The counter counts from the service's start, just before t0.
  const auto first = watch->query("min_over_time(fault_errors_total[" + full + "])");
  ASSERT_EQ(first["data"]["result"].size(), 1u) << first.dump();
  EXPECT_LT(std::stod(first["data"]["result"][0]["value"][1].get<std::string>()),
            10 * (2.0 * I / 1000 + 2))
      << "the first scrape, from before any restart";

  // The faults clear: each alert resolves once.
  service.clear();
  AdminServer gone({.address = "127.0.0.1:" + std::to_string(gone_port)});
  gone.add_handler("GET", "/metrics", [](const AdminRequest&) {
    return AdminResponse{.content_type = "text/plain; version=0.0.4", .body = "back 1\n"};
  });
  gone.start();
  for (const char* name : {"ErrorRateHigh", "FaultLasts", "TargetDown"})
    EXPECT_TRUE(hook_.wait_for(name, "resolved", milliseconds(window + 4 * I + 10000))) << name;
  std::this_thread::sleep_for(milliseconds(2 * I));
  std::map<std::string, int> resolved;
  for (const HookAlert& a : hook_.alerts()) {
    if (a.status != "resolved") continue;
    ++resolved[a.alertname];
    EXPECT_TRUE(episodes[a.alertname].contains(a.starts_at)) << a.alertname;
  }
  for (const auto& [name, n] : resolved) EXPECT_EQ(n, 1) << name << " resolved " << n << " times";
  EXPECT_TRUE(hook_.malformed().empty());

  std::printf(
      "restart_loop interval_ms=%lld restarts=%d kill9=%d sigterm=%d spurious_resolved=%d "
      "duplicate_firing=%d\n",
      static_cast<long long>(I), figures.restarts, figures.kills, figures.terms,
      figures.spurious_resolved, figures.duplicate_firing);
}

// watch down for longer than ErrorRateHigh's whole window (a slow start, a
// machine under load, an operator's pause): when it comes back, the window
// holds one fresh sample and the rate has no value. The firing alert must
// not resolve for that; it waits until the window reads the service again.
TEST_F(WatchRestartTest, AnOutageLongerThanTheWindowDoesNotResolveAFiringAlert) {
  const std::int64_t I = 1000, window = 4 * I;
  FaultService service;
  const std::string yaml = config(I, service, test::closed_port());
  auto watch = std::make_unique<WatchProcess>(yaml, dir_.path());
  ASSERT_TRUE(hook_.wait_for("ErrorRateHigh", "firing", milliseconds(10 * I + 10000)));
  const std::string since = active_since(*watch).at("ErrorRateHigh");
  watch->process().send_signal(SIGKILL);
  watch.reset();
  std::this_thread::sleep_for(milliseconds(window + 2 * I));
  watch = std::make_unique<WatchProcess>(yaml, dir_.path());
  // Past the point where the window reads fresh samples only.
  const auto back = Clock::now();
  while (Clock::now() - back < milliseconds(window + 3 * I)) {
    const auto now = active_since(*watch);
    if (now.contains("ErrorRateHigh")) {
      EXPECT_EQ(now.at("ErrorRateHigh"), since);
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_EQ(active_since(*watch).count("ErrorRateHigh"), 1u) << "ErrorRateHigh is not active";
  for (const HookAlert& a : hook_.alerts()) {
    EXPECT_NE(a.status, "resolved") << a.alertname << " resolved while its fault held";
  }
  // Its fault clears: it resolves, once.
  service.clear();
  EXPECT_TRUE(hook_.wait_for("ErrorRateHigh", "resolved", milliseconds(window + 4 * I + 10000)));
}

TEST_F(WatchRestartTest, At1sNothingResolvesOrPagesTwiceAcrossRestarts) {
  run(1000, 14 * restarts_factor());
}

TEST_F(WatchRestartTest, At5sNothingResolvesOrPagesTwiceAcrossRestarts) {
  run(5000, 6 * restarts_factor());
}

TEST_F(WatchRestartTest, At15sNothingResolvesOrPagesTwiceAcrossRestarts) {
  run(15000, 4 * restarts_factor());
}

}  // namespace
}  // namespace firebreak::e2e
