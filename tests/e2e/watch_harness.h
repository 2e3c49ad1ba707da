// Pieces for end-to-end tests of `firebreak watch` against real services:
// a webhook receiver that timestamps each Alertmanager-style message, the
// watch process itself, and detection-latency reporting.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "e2e/shop_process.h"
#include "firebreak/admin.h"

namespace firebreak::e2e {

using SteadyTime = std::chrono::steady_clock::time_point;

// One alert of one webhook message.
struct HookAlert {
  std::string alertname;
  std::string status;  // "firing" or "resolved"
  nlohmann::json labels;
  std::string starts_at;  // the firing episode ("startsAt")
  SteadyTime arrived;
  std::chrono::system_clock::time_point arrived_wall;
};

// Receives Alertmanager webhook JSON (version 4) on POST /hook.
class WebhookReceiver {
 public:
  WebhookReceiver();
  std::string url() const;
  std::vector<HookAlert> alerts() const;
  // The first alert with this name and status that arrived, waiting up to
  // `timeout` for it.
  std::optional<HookAlert> wait_for(const std::string& alertname, const std::string& status,
                                    std::chrono::milliseconds timeout) const;
  // Bodies that were not webhook JSON v4 (should stay empty).
  std::vector<std::string> malformed() const;

 private:
  AdminServer server_;
  mutable std::mutex mu_;
  std::vector<HookAlert> alerts_;
  std::vector<std::string> malformed_;
};

// `firebreak watch --config <dir>/firebreak.yaml`, with its HTTP API.
class WatchProcess {
 public:
  WatchProcess(const std::string& yaml, const std::string& dir);
  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // GET /api/v1/query?query=... parsed; {} on failure.
  nlohmann::json query(const std::string& promql) const;
  // Names of alerts in ALERTS with this alertstate ("firing"/"pending").
  std::vector<std::string> alerts(const std::string& state) const;
  // When the condition of `alert` (the rule whose expression names `job`)
  // first held in the scraped data at or after `from`: the expression, taken
  // from /api/v1/rules, evaluated with /api/v1/query_range every 100 ms.
  // nullopt when it never held or the rule is not found.
  // `labels` (the alert's, from the webhook) pick among rules of one name.
  std::optional<std::chrono::system_clock::time_point> condition_true_since(
      const std::string& alert, const std::string& job, const nlohmann::json& labels,
      std::chrono::system_clock::time_point from) const;
  ShopProcess& process() { return *process_; }

 private:
  std::unique_ptr<ShopProcess> process_;
  std::uint16_t port_ = 0;
};

// Prints and records one detection-latency measurement:
// "detection_latency <scenario> <alert>: <ms> ms (bound <ms> ms)"; a bound
// of 0 is left out (an end-to-end figure, data delays included).
void report_latency(const std::string& scenario, const std::string& alert,
                    std::chrono::milliseconds latency, std::chrono::milliseconds bound);

std::chrono::milliseconds since(SteadyTime from, SteadyTime to);

// The `for` of `alert` for `job` in the rule pack watch generates from the
// configuration `yaml` (a detection bound depends on it).
std::chrono::milliseconds rule_for(const std::string& yaml, const std::string& alert,
                                   const std::string& job);

// Checks the detection latency of a page that arrived (`hook`): from the
// moment the alert's condition held in watch's data (the rule's expression
// evaluated over the recent past through its API) to the webhook's arrival,
// at most `bound` (one scrape interval + one evaluation interval + the
// rule's `for`) plus `slack`. `fault` is when the test broke something
// (reported too: the latency a user sees, data delays included); `expected`
// the earliest the condition can hold. Reports both; false when the
// condition cannot be found.
bool check_detection(const WatchProcess& watch, const HookAlert& hook, const std::string& scenario,
                     const std::string& job, SteadyTime fault, SteadyTime expected,
                     std::chrono::milliseconds bound, std::chrono::milliseconds slack);

// Intervals of the e2e configurations (fast_watch_config), and the time a
// loaded 2-core machine may add to a detection bound: a scrape that takes a
// while, a webhook delivered a few milliseconds late.
inline constexpr std::chrono::milliseconds kFastScrape{1000};
inline constexpr std::chrono::milliseconds kFastEval{1000};
inline constexpr std::chrono::milliseconds kDetectionSlack{1500};

// A configuration for e2e tests: 1 s scrapes and evaluations, 2 s job
// alerts, storage in watch.db, these `targets:` and `jobs:` entries (YAML
// list items), and one webhook receiver at `hook_url`.
std::string fast_watch_config(const std::string& targets, const std::string& jobs,
                              const std::string& hook_url);

// One entry of a configuration's `targets:` list: a service whose admin
// port (metrics and readiness) is `port`, with its `thresholds` (a YAML flow
// mapping).
std::string target_yaml(const std::string& name, const std::string& workload, std::uint16_t port,
                        const std::string& thresholds);

// The values of an instant query's result (WatchProcess::query), one per series.
std::vector<double> values(const nlohmann::json& result);

// A fixture for tests that break a system under watch and wait for its
// pages: a webhook receiver, a temporary directory, the configuration and
// the watch process (started by start_watch()).
class WatchPagesTest : public ::testing::Test {
 protected:
  // `scrape` and `eval`: the configuration's intervals; `slack`: the time a
  // loaded 2-core machine may add to a detection bound.
  WatchPagesTest(std::chrono::milliseconds scrape, std::chrono::milliseconds eval,
                 std::chrono::milliseconds slack)
      : scrape_(scrape), eval_(eval), slack_(slack) {}

  void start_watch() { watch_ = std::make_unique<WatchProcess>(yaml_, dir_.path()); }

  // The first webhook alert named `alert` for target or job `job` with this
  // status that arrived after `after`, waiting up to `timeout` for it.
  std::optional<HookAlert> wait_for(const std::string& alert, const std::string& status,
                                    const std::string& job, std::chrono::milliseconds timeout,
                                    SteadyTime after = {}) const;
  // Waits for `alert` to fire for `job` and checks its detection latency
  // (check_detection, with bound = scrape + eval + the rule's `for`).
  // Returns the webhook's alert, or nullopt after a failure.
  std::optional<HookAlert> expect_page(const std::string& scenario, const std::string& alert,
                                       const std::string& job, SteadyTime fault,
                                       SteadyTime expected);
  void expect_resolved(const std::string& alert, const std::string& job,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30),
                       SteadyTime after = {});
  // Fails for every page about `job` other than `alert`: a fault pages
  // once, by the alert that names it.
  void expect_only(const std::string& alert, const std::string& job) const;

  const std::chrono::milliseconds scrape_, eval_, slack_;
  WebhookReceiver hook_;
  TempDir dir_;
  std::string yaml_;
  std::unique_ptr<WatchProcess> watch_;
};

}  // namespace firebreak::e2e
