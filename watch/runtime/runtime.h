// The running monitor: everything `firebreak watch` does except owning the
// process (signals, the listen socket, exit status). It wires the modules the
// way data flows:
//
//   targets --scrape--> head <--check-ins, pushes
//                        |
//                   rule groups --ALERTS, recording rules--> head
//                        |
//   POST /api/v2/alerts --> delivery --> receivers (webhook, log): routing,
//                                  grouping, silences, inhibition
//                                  (alerting/delivery.h), with the store
//                                  keeping alert state, the notification log,
//                                  silences and check-in history
//
//   watch::runtime::Runtime rt(config, {.registry = &service.registry()});
//   rt.add_http(service.admin());     // /api/v1/*, /ping/*, /metrics/job/*
//   rt.start();
//   ...
//   if (auto errors = rt.reload(new_config); !errors.empty()) { /* old config keeps running */ }
//   rt.stop();
//
// Rule groups are the rule pack generated from the config's targets
// (rulepack::render_rule_pack) followed by the config's rule files. A group
// is evaluated at the wall times t with t mod interval == 0, at t exactly
// (as Prometheus evaluates at the scheduled time), right after the check-in
// and push series are published at t. So a condition true in the scraped data
// is seen within one scrape interval plus one evaluation interval, and fires
// after the rule's `for`; delivery then follows the routing (without a
// `route`, at once: config::effective_routing()).
//
// Restarts: samples live in a durable head (tsdb/db.h: WAL, chunk files,
// a checkpoint every storage.checkpoint_interval and at stop), so windows
// (rates, the day-over-day baseline) span a restart. Alert states
// (pending/firing, active-since, keep_firing_for) are saved after each
// evaluation, before its notifications are handed to delivery, and restored
// by group name at start, so a restart neither re-pages nor resets a `for`
// timer; the notification log and silences survive too, and the restored
// alerts are handed to delivery again (alerting/delivery.h); check-in history, open runs and pushed
// groups are saved as they change and restored. After a start, rule groups wait until every target
// has been scraped once (at most the longest scrape interval plus its timeout) before their first
// evaluation, so no alert resolves or fires for lack of data that is on its way. A stop writes no
// staleness markers: the series go on after the restart.
//
// Thread-safety: all member functions are thread-safe. evaluate() is for
// tests and tools that move a ManualClock; start() runs it on its own thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "firebreak/admin.h"
#include "firebreak/clock.h"
#include "firebreak/metrics.h"
#include "watch/alerting/delivery.h"
#include "watch/checkin/push_store.h"
#include "watch/checkin/tracker.h"
#include "watch/config/config.h"
#include "watch/discovery/discovery.h"
#include "watch/promql/engine.h"
#include "watch/rules/group.h"
#include "watch/scrape/scraper.h"
#include "watch/store/store.h"
#include "watch/targets/targets.h"
#include "watch/traces/traces.h"
#include "watch/tsdb/db.h"
#include "watch/tsdb/head.h"
#include "watch/tsdb/queryable.h"

namespace watch::runtime {

struct RuntimeOptions {
  const firebreak::Clock* clock = &firebreak::Clock::system();
  // watch's own metrics (scrapes, rule evaluations, notifications, head);
  // must outlive the Runtime. nullptr: none.
  firebreak::Registry* registry = nullptr;
  // The URL alerts link back to ("generatorURL", "externalURL"); default
  // http://<listen>.
  std::string external_url = {};
  std::string version = "0.1.0";
  // DNS servers for dns_sd_configs ("host:port"); empty: the system's.
  std::vector<std::string> dns_servers = {};
};

// The scrape targets of a configuration's static instances (metrics_url,
// targets, static_configs; no discovery), relabeled. The workload is not a
// label of the target's series: it picks the target's rules in the pack.
std::vector<scrape::TargetConfig> scrape_targets(const config::Config& config);

// The rule groups a configuration describes: the generated rule pack, then
// each rule file. On errors (a rule file that no longer parses, a group name
// used twice) returns them and no groups.
struct RuleSet {
  std::vector<rules::GroupSpec> groups;
  std::vector<std::string> errors;
};
RuleSet rule_groups(const config::Config& config);

// One rule group's state for status views.
struct GroupStatus {
  std::string name;
  std::string file;
  std::int64_t interval_ms = 0;
  std::int64_t last_eval_ms = 0;
  double last_duration_seconds = 0;
  std::size_t failed_rules = 0;
};

class Runtime {
 public:
  // Opens the store (config.storage_path) and the head (config.tsdb_path,
  // replaying what it holds), and restores alert states, pending
  // notifications, check-in history and pushed groups. Throws
  // std::runtime_error with a message a user can act on when either cannot
  // be opened or the rule groups do not build.
  Runtime(config::Config config, RuntimeOptions options = {});
  // stop().
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Adds the query API, check-ins and pushes (watch/web/api.h), the
  // Alertmanager API, the status page (watch/web/status_page.h) and, unless
  // traces.enabled is false, the trace endpoints (watch/web/traces_api.h)
  // to `server`.
  void add_http(firebreak::AdminServer& server);

  // Starts scraping, the evaluation thread and delivery. Idempotent.
  void start();
  // Stops them: alert state is saved, the head writes a checkpoint, sends in
  // flight finish (pending ones stay in the store). No staleness markers are
  // written (see Restarts above). Idempotent.
  void stop();

  // Applies a new configuration without a restart: targets (added, removed,
  // changed), rule groups (a group with the same name keeps its alerts'
  // state), check-in jobs and receivers. All or nothing: on errors, returns
  // them and the running configuration stays. Listen address and storage
  // path are taken at start only (a change is reported as an error).
  std::vector<std::string> reload(config::Config config);

  // Publishes check-in and push series at t_ms and evaluates every group due
  // at t_ms (all of them when force). What the evaluation thread does at each
  // scheduled time; for tests and tools that drive a ManualClock.
  void evaluate(std::int64_t t_ms, bool force = false);
  // Runs due deliveries now (the delivery threads do it when started).
  std::size_t deliver_due() { return delivery_->run_due(); }
  alerting::Delivery& delivery() { return *delivery_; }

  tsdb::Head& head() { return head_; }
  tsdb::Db& db() { return *db_; }
  // What the head's start-up replay found.
  const tsdb::RecoveryReport& recovery() const { return recovery_; }
  // Whether rule groups are still waiting for the first scrape of every
  // target after a start (see Restarts above).
  bool waiting_for_first_scrapes() const;
  const promql::Engine& engine() const { return engine_; }
  checkin::Tracker& tracker() { return tracker_; }
  // Recent traces (POST /v1/traces); its limits follow reloads.
  traces::Store& traces() { return *traces_; }
  std::vector<scrape::TargetStatus> targets() const { return scraper_->statuses(); }
  // Instances relabeling dropped or that could not be used, by scrape job.
  std::vector<targets::DroppedTarget> dropped_targets() const;
  std::vector<GroupStatus> groups() const;
  // Pending and firing alerts of every group.
  std::vector<rules::Alert> active_alerts() const;
  config::Config config() const;
  // The routing as an alertmanager.yml (the file given as
  // alertmanager_config, as it is), for /api/v2/status.
  std::string alertmanager_yaml() const;

 private:
  struct GroupState;
  class StatusView;  // what the status page reads (web::StatusSource)

  void build_groups(const std::vector<rules::GroupSpec>& specs, bool restore_from_store);
  // Builds every configured target's instances from target_configs_ and
  // what discovery found, and gives them to the scrape manager. Throws
  // std::invalid_argument as ScrapeManager::apply (nothing changed then).
  void apply_targets();
  void configure_receivers(const config::Config& config);
  void publish_checkins(std::int64_t t_ms);
  void save_checkins();
  void save_pushes();
  // One error line per episode of failed saves of `what` (of `rule_group`'s
  // alerts, for "alert_states"): a full disk must not log every evaluation.
  // One info line when it is saved again; every failure is counted in
  // watch_store_save_failures_total{what}.
  // Saves again the check-ins and pushed groups whose last save failed.
  void retry_failed_saves();
  void note_store_save(const std::string& what, const std::string& rule_group, bool saved,
                       const std::string& error);
  void eval_loop();
  void housekeeping_loop();
  void housekeeping(std::int64_t now_ms);
  bool first_scrapes_done(std::int64_t now_ms);
  void note_restart_gap(std::int64_t resumed_ms);
  std::int64_t wall_ms() const;

  RuntimeOptions options_;
  std::unique_ptr<StatusView> status_view_;
  const firebreak::Clock& clock_;
  tsdb::RecoveryReport recovery_;
  std::unique_ptr<tsdb::Db> db_;
  tsdb::Head& head_;
  tsdb::DbQueryable storage_;
  promql::Engine engine_;
  checkin::Tracker tracker_;
  checkin::PushStore pushes_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<alerting::Delivery> delivery_;
  std::unique_ptr<scrape::ScrapeManager> scraper_;
  std::unique_ptr<traces::Store> traces_;
  // Discovery's thread calls apply_targets(): it goes before scraper_.
  std::unique_ptr<discovery::Manager> discovery_;
  mutable std::mutex targets_mu_;  // serialises apply_targets(); guards the two below
  std::vector<config::Target> target_configs_;
  std::vector<targets::DroppedTarget> dropped_;

  mutable std::mutex mu_;  // guards the fields below
  config::Config config_;
  std::vector<std::unique_ptr<GroupState>> groups_;
  std::set<LabelSet> published_pushes_;  // push series of the last publication, for staleness
  std::int64_t last_published_ms_ = 0;
  std::int64_t started_ms_ = 0;     // of the last start(); 0 before
  bool first_scrapes_seen_ = true;  // rule groups may evaluate (false right after start())
  // The newest sample stored when start() ran: where the time watch was
  // down began (0: nothing stored, a first start).
  std::int64_t data_until_ms_ = 0;
  // Evaluation: notifications of the group being evaluated, pushed to
  // delivery once its state is saved. Guarded by mu_.
  std::vector<rules::Notification> held_notifications_;
  // Housekeeping thread only.
  std::int64_t last_sync_ms_ = 0;
  std::int64_t last_gc_ms_ = 0;
  std::int64_t last_checkpoint_ms_ = 0;
  bool sync_failing_ = false;

  std::mutex eval_mu_;  // serialises evaluate() passes
  std::mutex control_mu_;
  std::condition_variable control_cv_;
  bool running_ = false;  // guarded by control_mu_
  std::thread eval_thread_;
  std::thread housekeeping_thread_;
  std::atomic<bool> checkins_dirty_{false};
  std::mutex push_save_mu_;              // serialises saves of pushed groups (a take and its save)
  std::mutex store_failing_mu_;          // guards the set below (not held while saving)
  std::set<std::string> store_failing_;  // what is in a failed-save episode

  firebreak::HistogramFamily* eval_duration_ = nullptr;
  firebreak::CounterFamily* evals_ = nullptr;
  firebreak::CounterFamily* eval_failures_ = nullptr;
  firebreak::CounterFamily* store_save_failures_ = nullptr;
};

}  // namespace watch::runtime
