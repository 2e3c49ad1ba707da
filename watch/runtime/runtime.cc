#include "watch/runtime/runtime.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "firebreak/log.h"
#include "watch/alerting/notifier.h"
#include "watch/alerting/webhook.h"
#include "watch/promql/format.h"
#include "watch/rulepack/rule_pack.h"
#include "watch/rules/rule.h"
#include "watch/rules/rule_file.h"
#include "watch/web/alertmanager_api.h"
#include "watch/web/api.h"
#include "watch/web/status_page.h"
#include "watch/web/traces_api.h"

namespace watch::runtime {
namespace {

constexpr const char* kRulePackFile = "firebreak-rule-pack.yml";  // the generated pack's name

// The latest multiple of interval_ms at or before t_ms.
std::int64_t floor_to(std::int64_t t_ms, std::int64_t interval_ms) {
  std::int64_t r = t_ms % interval_ms;
  if (r < 0) r += interval_ms;
  return t_ms - r;
}

// The first multiple of interval_ms strictly after t_ms.
std::int64_t next_after(std::int64_t t_ms, std::int64_t interval_ms) {
  return floor_to(t_ms, interval_ms) + interval_ms;
}

// The delivery's receivers: each integration named by its kind and its
// index among the receiver's integrations of that kind ("webhook/0").
std::vector<alerting::Receiver> delivery_receivers(const config::Config& config,
                                                   const std::string& external_url) {
  std::vector<alerting::Receiver> out;
  for (const config::Receiver& r : config.receivers) {
    alerting::Receiver dr{.name = r.name};
    for (const config::Integration& in : r.integrations)
      dr.integrations.push_back(
          {.name = in.kind + "/" + std::to_string(in.index),
           .send_resolved = in.send_resolved,
           .notifier = alerting::make_notifier(in, {.external_url = external_url})});
    out.push_back(std::move(dr));
  }
  return out;
}

std::string default_external_url(const config::Config& config) {
  return "http://" + config.listen;
}

std::int64_t wall_ms_of(const firebreak::Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall_now().time_since_epoch())
      .count();
}

// The head, with what its directory holds replayed.
std::unique_ptr<tsdb::Db> open_db(const config::Config& config, const firebreak::Clock& clock,
                                  tsdb::RecoveryReport& report) {
  std::string error;
  auto db = tsdb::Db::open(tsdb::DbOptions{.dir = config.tsdb_path,
                                           .head = {.max_series = config.max_series,
                                                    .retention_ms = config.retention_ms},
                                           .evict_idle_after_ms = config.evict_idle_after_ms},
                           wall_ms_of(clock), &error, &report);
  if (!db)
    throw std::runtime_error("cannot open the head's directory (storage.tsdb_path) " +
                             config.tsdb_path + ": " + error);
  for (const std::string& problem : report.problems)
    FB_LOG_WARN("tsdb_recovery_problem", "damaged data dropped at start-up", {"problem", problem},
                {"dir", config.tsdb_path});
  if (db->durable())
    FB_LOG_INFO("tsdb_recovered", "head restored", {"dir", config.tsdb_path},
                {"series", static_cast<std::int64_t>(report.series)},
                {"samples_replayed", static_cast<std::int64_t>(report.samples_replayed)},
                {"chunks", static_cast<std::int64_t>(report.chunks_loaded)},
                {"wal_bytes", static_cast<std::int64_t>(report.wal_bytes)},
                {"from_checkpoint", report.from_checkpoint}, {"seconds", report.seconds});
  return db;
}

// How often the WAL and chunk files are fsync'ed (docs/config.md, storage).
constexpr std::int64_t kSyncIntervalMs = 10'000;

}  // namespace

std::vector<scrape::TargetConfig> scrape_targets(const config::Config& config) {
  targets::Built built;
  for (const config::Target& t : config.targets)
    targets::build(t, targets::static_groups(t), built);
  return std::move(built.active);
}

RuleSet rule_groups(const config::Config& config) {
  RuleSet set;
  const std::string pack = rulepack::render_rule_pack(config::rule_pack_targets(config),
                                                      config::rule_pack_options(config));
  auto add = [&](rules::LoadResult loaded) {
    for (const auto& e : loaded.errors) set.errors.push_back(e.to_string());
    for (auto& g : loaded.file.groups) set.groups.push_back(std::move(g));
  };
  add(rules::parse_rule_file(pack, kRulePackFile));
  for (const std::string& path : config.rule_files) add(rules::load_rule_file(path));
  // Alert state is saved and restored by group name, so names must be unique.
  std::map<std::string, std::string> seen;
  for (const auto& g : set.groups) {
    auto [it, inserted] = seen.emplace(g.name, g.file);
    if (!inserted)
      set.errors.push_back(g.file + ": group \"" + g.name + "\" is also defined in " + it->second +
                           " (group names must be unique across rule files)");
  }
  if (!set.errors.empty()) set.groups.clear();
  return set;
}

struct Runtime::GroupState {
  std::unique_ptr<rules::Group> group;
  std::int64_t next_ms = 0;  // the next scheduled evaluation; 0: not scheduled yet
  std::int64_t last_eval_ms = 0;
  double last_duration_seconds = 0;
  std::size_t failed_rules = 0;
};

Runtime::Runtime(config::Config config, RuntimeOptions options)
    : options_(std::move(options)),
      clock_(*options_.clock),
      db_(open_db(config, clock_, recovery_)),
      head_(db_->head()),
      storage_(*db_),
      engine_(storage_,
              promql::EngineOptions{.max_samples = config.query_max_samples,
                                    .timeout = std::chrono::milliseconds(config.query_timeout_ms)}),
      tracker_(clock_),
      pushes_(clock_) {
  if (options_.external_url.empty()) options_.external_url = default_external_url(config);
  std::string error;
  store_ = store::Store::open(config.storage_path, &error);
  if (!store_)
    throw std::runtime_error("cannot open the store " + config.storage_path + ": " + error);

  RuleSet rules = rule_groups(config);
  if (!rules.errors.empty()) {
    std::string all;
    for (const auto& e : rules.errors) all += "\n  " + e;
    throw std::runtime_error("the rule groups do not load:" + all);
  }

  delivery_ = std::make_unique<alerting::Delivery>(
      alerting::DeliveryOptions{.clock = &clock_,
                                .registry = options_.registry,
                                .store = store_.get(),
                                .resolve_muted = config.resolve_muted,
                                .retention_ms = config.silence_retention_ms,
                                .resolve_timeout_ms = config.resolve_timeout_ms});
  traces_ = std::make_unique<traces::Store>(
      traces::StoreOptions{.limits = config.trace_limits, .registry = options_.registry});
  scraper_ = std::make_unique<scrape::ScrapeManager>(
      head_, clock_, scrape::ScrapeManagerOptions{.registry = options_.registry});
  discovery_ = std::make_unique<discovery::Manager>(discovery::ManagerOptions{
      .clock = &clock_,
      .on_change =
          [this](const std::string& job, const std::vector<discovery::TargetGroup>&) {
            try {
              apply_targets();
              FB_LOG_INFO("targets_discovered", "a scrape job's instances changed",
                          {"target", job});
            } catch (const std::invalid_argument& e) {
              FB_LOG_ERROR("targets_discovery_failed", "kept the running instances",
                           {"target", job}, {"error", e.what()});
            }
          },
      .dns_servers = options_.dns_servers});

  if (firebreak::Registry* reg = options_.registry) {
    eval_duration_ = &reg->histogram({.name = "watch_rule_group_duration_seconds",
                                      .help = "Time to evaluate a rule group.",
                                      .labels = {"rule_group"},
                                      .buckets = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5}});
    evals_ = &reg->counter({.name = "watch_rule_group_evaluations_total",
                            .help = "Rule group evaluations.",
                            .labels = {"rule_group"}});
    eval_failures_ = &reg->counter({.name = "watch_rule_evaluation_failures_total",
                                    .help = "Rules whose evaluation failed, per group evaluation.",
                                    .labels = {"rule_group"}});
    store_save_failures_ =
        &reg->counter({.name = "watch_store_save_failures_total",
                       .help = "Saves of alert states, check-ins or pushed groups that failed "
                               "(a full disk); the state stays in memory.",
                       .labels = {"what"}});
    reg->gauge_callback({.name = "watch_head_series", .help = "Series in the in-memory head."},
                        [this] { return static_cast<double>(head_.num_series()); });
    reg->counter_callback(
        {.name = "watch_tsdb_head_samples_appended_total", .help = "Samples stored in the head."},
        [this] { return static_cast<double>(head_.samples_appended()); });
    auto db_stat = [this](auto field) {
      return [this, field] { return static_cast<double>(db_->stats().*field); };
    };
    reg->counter_callback({.name = "watch_tsdb_wal_written_bytes_total",
                           .help = "Bytes written to the head's write-ahead log."},
                          db_stat(&tsdb::DbStats::wal_bytes_written));
    reg->counter_callback({.name = "watch_tsdb_wal_write_failures_total",
                           .help = "Writes to the write-ahead log that failed (a full disk): "
                                   "their samples are in memory but not durable."},
                          db_stat(&tsdb::DbStats::wal_write_failures));
    reg->counter_callback({.name = "watch_tsdb_chunk_write_failures_total",
                           .help = "Completed chunks that could not be written to chunk files "
                                   "and stay in memory."},
                          db_stat(&tsdb::DbStats::chunk_write_failures));
    reg->counter_callback({.name = "watch_tsdb_checkpoints_total", .help = "Checkpoints written."},
                          db_stat(&tsdb::DbStats::checkpoints));
    reg->counter_callback({.name = "watch_tsdb_checkpoint_failures_total",
                           .help = "Checkpoints that could not be written (the WAL is kept)."},
                          db_stat(&tsdb::DbStats::checkpoint_failures));
    reg->gauge_callback({.name = "watch_tsdb_wal_size_bytes",
                         .help = "Bytes of WAL a restart would replay after the checkpoint."},
                        db_stat(&tsdb::DbStats::wal_bytes));
    reg->gauge_callback(
        {.name = "watch_tsdb_chunk_files_size_bytes", .help = "Bytes of completed chunks on disk."},
        db_stat(&tsdb::DbStats::chunk_file_bytes));
    reg->gauge_callback({.name = "watch_tsdb_checkpoint_duration_seconds",
                         .help = "How long the last checkpoint took."},
                        db_stat(&tsdb::DbStats::checkpoint_seconds));
    reg->gauge_callback({.name = "watch_tsdb_cold_series",
                         .help = "Series that left the head for cold files (idle for "
                                 "storage.evict_idle_after), until the retention."},
                        db_stat(&tsdb::DbStats::cold_series));
    reg->counter_callback({.name = "watch_tsdb_series_evicted_total",
                           .help = "Idle series moved out of the head's memory."},
                          db_stat(&tsdb::DbStats::series_evicted));
    reg->gauge_callback({.name = "watch_tsdb_recovery_duration_seconds",
                         .help = "How long the start-up replay of the head took."},
                        [this] { return recovery_.seconds; });
    reg->gauge_callback({.name = "watch_checkin_jobs", .help = "Jobs that check in."}, [this] {
      std::lock_guard lock(mu_);
      return static_cast<double>(config_.jobs.size());
    });
  }

  // The jobs first: restore() fills in the state of configured jobs only.
  tracker_.configure(config::checkin_jobs(config));
  std::vector<std::string> restore_errors;
  tracker_.restore(store_->load_checkins(&restore_errors));
  for (const auto& e : restore_errors)
    FB_LOG_WARN("checkin_restore_failed", "check-in history of a job was not restored",
                {"error", e});
  // Saved at once: a new job's anchor (when it was first configured) must
  // survive a crash, or restarts would keep a job that never runs from
  // ever being late.
  save_checkins();
  restore_errors.clear();
  pushes_.restore(store_->load_push_groups(&restore_errors));
  for (const auto& e : restore_errors)
    FB_LOG_WARN("push_restore_failed", "a pushed group was not restored", {"error", e});
  {
    std::lock_guard lock(targets_mu_);
    target_configs_ = config.targets;
  }
  discovery_->apply(targets::discovery_jobs(config));
  apply_targets();
  configure_receivers(config);
  config_ = std::move(config);
  build_groups(rules.groups, /*restore_from_store=*/true);
  // The delivery holds alerts in memory only: the restored ones go back to
  // it (the notification log it restored knows what each receiver heard,
  // so nothing is sent twice and a resolve that was due is still sent).
  const std::int64_t now = wall_ms();
  for (const auto& g : groups_) delivery_->put(g->group->current_notifications(now));
}

// The status page reads the runtime through this (web::StatusSource).
class Runtime::StatusView final : public web::StatusSource {
 public:
  explicit StatusView(Runtime& r) : r_(r) {}

  std::int64_t now_ms() const override { return r_.wall_ms(); }

  std::vector<web::StatusTarget> targets() const override {
    const config::Config config = r_.config();
    std::map<std::string, const config::Target*> by_name;
    for (const config::Target& t : config.targets) by_name[t.name] = &t;
    std::vector<web::StatusTarget> out;
    for (const scrape::TargetStatus& t : r_.targets()) {
      web::StatusTarget v{.job = t.config.name,
                          .instance = std::string(t.labels.get("instance")),
                          .url = t.config.metrics_url,
                          .health = std::string(scrape::to_string(t.health)),
                          .ready = t.ready,
                          .last_scrape_ms = t.last_scrape_ms,
                          .last_duration_seconds = t.last_duration_seconds,
                          .last_error = t.last_error.empty() ? t.probe_error : t.last_error};
      if (auto it = by_name.find(t.config.name); it != by_name.end()) {
        if (it->second->workload != rulepack::Workload::kOther)
          v.workload = std::string(rulepack::to_string(it->second->workload));
        v.latency_objective_seconds = it->second->thresholds.latency_objective_seconds;
      }
      out.push_back(std::move(v));
    }
    return out;
  }

  std::vector<web::StatusAlert> alerts() const override {
    std::vector<web::StatusAlert> out;
    for (const rules::Alert& a : r_.active_alerts()) {
      web::StatusAlert v{.labels = a.labels,
                         .state = a.state == rules::AlertState::kFiring ? "firing" : "pending",
                         .active_at_ms = a.active_at_ms,
                         .value = a.value,
                         .silenced_by = r_.delivery_->silences().mutes(a.labels)};
      for (const Label& l : a.annotations) v.annotations.emplace_back(l.name, l.value);
      out.push_back(std::move(v));
    }
    return out;
  }

  std::vector<web::StatusSilence> silences() const override {
    const auto& silences = r_.delivery_->silences();
    const std::int64_t now = silences.now_ms();
    std::vector<web::StatusSilence> out;
    for (const silence::Silence& s : silences.query()) {
      std::string matchers = "{";
      for (const silence::SilenceMatcher& m : s.matchers) {
        if (matchers.size() > 1) matchers += ", ";
        matchers +=
            m.name + (m.is_equal ? (m.is_regex ? "=~" : "=") : (m.is_regex ? "!~" : "!=")) +
            nlohmann::json(m.value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
      out.push_back({.id = s.id,
                     .matchers = matchers + "}",
                     .starts_at_ms = s.starts_at_ms,
                     .ends_at_ms = s.ends_at_ms,
                     .created_by = s.created_by,
                     .comment = s.comment,
                     .state = std::string(silence::to_string(silence::state_of(s, now)))});
    }
    return out;
  }

  std::vector<web::StatusRule> rules() const override {
    std::lock_guard lock(r_.mu_);
    std::vector<web::StatusRule> out;
    for (const auto& g : r_.groups_) {
      for (const auto& rule : g->group->rules()) {
        web::StatusRule v{.group = g->group->name(),
                          .last_evaluation_ms = g->last_eval_ms,
                          .evaluation_seconds = g->last_duration_seconds};
        if (const auto* a = std::get_if<std::unique_ptr<rules::AlertingRule>>(&rule)) {
          const rules::AlertingRule& r = **a;
          v.name = r.name();
          v.type = "alerting";
          v.query = r.spec().expr;
          v.state = r.state() == rules::AlertState::kFiring    ? "firing"
                    : r.state() == rules::AlertState::kPending ? "pending"
                                                               : "inactive";
          v.health = std::string(rules::to_string(r.health()));
          v.last_error = r.last_error();
        } else {
          const rules::RecordingRule& r = *std::get<std::unique_ptr<rules::RecordingRule>>(rule);
          v.name = r.name();
          v.type = "recording";
          v.query = r.spec().expr;
          v.health = std::string(rules::to_string(r.health()));
          v.last_error = r.last_error();
        }
        out.push_back(std::move(v));
      }
    }
    return out;
  }

  std::vector<web::StatusJob> jobs() const override {
    const config::Config config = r_.config();
    const auto now = r_.clock_.wall_now();
    std::map<std::string, checkin::JobStatus> statuses;
    for (checkin::JobStatus& s : r_.tracker_.evaluate(now)) statuses[s.name] = std::move(s);
    std::map<std::string, checkin::JobSnapshot> snapshots;
    for (checkin::JobSnapshot& s : r_.tracker_.save()) snapshots[s.name] = std::move(s);
    std::vector<web::StatusJob> out;
    for (const config::Job& j : config.jobs) {
      web::StatusJob v{
          .name = j.name, .schedule = j.schedule, .time_zone = j.time_zone, .grace_ms = j.grace_ms};
      if (auto s = checkin::Schedule::parse(j.schedule, j.time_zone); s.ok())
        v.schedule_text = checkin::describe(s.value());
      if (auto it = statuses.find(j.name); it != statuses.end()) {
        v.state = std::string(checkin::to_string(it->second.state));
        v.running = it->second.running;
        if (it->second.due)
          v.next_expected_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   it->second.due->time_since_epoch())
                                   .count();
      }
      if (auto it = snapshots.find(j.name); it != snapshots.end())
        for (const checkin::HistoryEntry& h : it->second.history)
          v.history.push_back({.time_ms = h.time_ms,
                               .outcome = std::string(checkin::to_string(h.kind)),
                               .exit_status = h.exit_status,
                               .duration_seconds = h.duration_seconds});
      out.push_back(std::move(v));
    }
    return out;
  }

  web::StatusQueryResult query(const std::string& expr, std::int64_t time_ms) const override {
    return web::status_query(r_.engine_, expr, time_ms);
  }

  std::string create_silence(const std::vector<std::pair<std::string, std::string>>& equal,
                             std::int64_t duration_ms, const std::string& created_by,
                             const std::string& comment) override {
    auto& silences = r_.delivery_->silences();
    silence::Silence s{.starts_at_ms = silences.now_ms(),
                       .ends_at_ms = silences.now_ms() + duration_ms,
                       .created_by = created_by,
                       .comment = comment};
    for (const auto& [name, value] : equal)
      s.matchers.push_back({.name = name, .value = value, .is_regex = false, .is_equal = true});
    silence::SetResult set = silences.set(std::move(s));
    if (!set.ok()) return "error: " + set.error;
    r_.delivery_->save_silences();
    return set.id;
  }

  std::string expire_silence(const std::string& id) override {
    if (auto err = r_.delivery_->silences().expire(id)) return *err;
    r_.delivery_->save_silences();
    return {};
  }

  const traces::Store* trace_store() const override {
    return r_.config().traces_enabled ? r_.traces_.get() : nullptr;
  }

 private:
  Runtime& r_;
};

Runtime::~Runtime() {
  stop();
}

namespace {

nlohmann::json labels_json(const LabelSet& labels) {
  nlohmann::json out = nlohmann::json::object();
  for (const Label& l : labels) out[l.name] = l.value;
  return out;
}

nlohmann::json labels_json(const std::vector<Label>& labels) {
  nlohmann::json out = nlohmann::json::object();
  for (const Label& l : labels) out[l.name] = l.value;
  return out;
}

std::string_view state_name(rules::AlertState state) {
  switch (state) {
    case rules::AlertState::kPending:
      return "pending";
    case rules::AlertState::kFiring:
      return "firing";
    default:
      return "inactive";
  }
}

nlohmann::json alert_json(const rules::Alert& a) {
  return {{"labels", labels_json(a.labels)},
          {"annotations", labels_json(a.annotations)},
          {"state", state_name(a.state)},
          {"activeAt", alerting::rfc3339(a.active_at_ms)},
          {"value", promql::format_value(a.value)}};
}

firebreak::AdminResponse success_json(nlohmann::json data) {
  nlohmann::json body = {{"status", "success"}, {"data", std::move(data)}};
  return {.content_type = "application/json",
          .body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace

void Runtime::add_http(firebreak::AdminServer& server) {
  web::add_query_api(server, engine_, *db_, clock_, {.version = options_.version});
  // Prometheus's status APIs, with watch's readiness probe in each target.
  server.add_handler("GET", "/api/v1/targets", [this](const firebreak::AdminRequest&) {
    nlohmann::json active = nlohmann::json::array();
    for (const scrape::TargetStatus& t : targets()) {
      nlohmann::json j = {{"discoveredLabels", labels_json(t.config.discovered_labels)},
                          {"labels", labels_json(t.labels)},
                          {"scrapePool", t.config.name},
                          {"scrapeUrl", t.config.metrics_url},
                          {"globalUrl", t.config.metrics_url},
                          {"lastError", t.last_error},
                          {"lastScrape", t.last_scrape_ms ? alerting::rfc3339(t.last_scrape_ms)
                                                          : "0001-01-01T00:00:00Z"},
                          {"lastScrapeDuration", t.last_duration_seconds},
                          {"health", std::string(scrape::to_string(t.health))},
                          {"scrapeInterval", promql::format_duration(t.config.interval_ms)},
                          {"scrapeTimeout", promql::format_duration(t.config.timeout_ms)},
                          {"readyUrl", t.config.ready_url},
                          {"ready", t.ready ? nlohmann::json(*t.ready) : nlohmann::json(nullptr)},
                          {"probeError", t.probe_error}};
      active.push_back(std::move(j));
    }
    nlohmann::json dropped = nlohmann::json::array();
    for (const targets::DroppedTarget& d : dropped_targets()) {
      nlohmann::json j = {{"discoveredLabels", labels_json(d.discovered_labels)},
                          {"scrapePool", d.job}};
      if (!d.reason.empty()) j["error"] = d.reason;  // watch's: why it could not be used
      dropped.push_back(std::move(j));
    }
    return success_json(
        {{"activeTargets", std::move(active)}, {"droppedTargets", std::move(dropped)}});
  });
  server.add_handler("GET", "/api/v1/alerts", [this](const firebreak::AdminRequest&) {
    nlohmann::json alerts = nlohmann::json::array();
    for (const rules::Alert& a : active_alerts()) alerts.push_back(alert_json(a));
    return success_json({{"alerts", std::move(alerts)}});
  });
  server.add_handler("GET", "/api/v1/rules", [this](const firebreak::AdminRequest&) {
    std::lock_guard lock(mu_);
    nlohmann::json groups = nlohmann::json::array();
    for (const auto& g : groups_) {
      nlohmann::json rules = nlohmann::json::array();
      for (const auto& rule : g->group->rules()) {
        if (const auto* a = std::get_if<std::unique_ptr<rules::AlertingRule>>(&rule)) {
          const rules::AlertingRule& r = **a;
          nlohmann::json alerts = nlohmann::json::array();
          for (const rules::Alert& alert : r.active_alerts()) alerts.push_back(alert_json(alert));
          rules.push_back(
              {{"type", "alerting"},
               {"name", r.name()},
               {"query", r.spec().expr},
               {"duration", static_cast<double>(r.spec().for_ms) / 1000},
               {"keepFiringFor", static_cast<double>(r.spec().keep_firing_for_ms) / 1000},
               {"labels", labels_json(r.spec().labels)},
               {"annotations", labels_json(r.spec().annotations)},
               {"alerts", std::move(alerts)},
               {"state", state_name(r.state())},
               {"health", std::string(rules::to_string(r.health()))},
               {"lastError", r.last_error()}});
        } else {
          const rules::RecordingRule& r = *std::get<std::unique_ptr<rules::RecordingRule>>(rule);
          rules.push_back({{"type", "recording"},
                           {"name", r.name()},
                           {"query", r.spec().expr},
                           {"labels", labels_json(r.spec().labels)},
                           {"health", std::string(rules::to_string(r.health()))},
                           {"lastError", r.last_error()}});
        }
      }
      groups.push_back({{"name", g->group->name()},
                        {"file", g->group->file()},
                        {"interval", static_cast<double>(g->group->interval_ms()) / 1000},
                        {"rules", std::move(rules)},
                        {"evaluationTime", g->last_duration_seconds},
                        {"lastEvaluation", g->last_eval_ms ? alerting::rfc3339(g->last_eval_ms)
                                                           : "0001-01-01T00:00:00Z"}});
    }
    return success_json({{"groups", std::move(groups)}});
  });
  if (!status_view_) status_view_ = std::make_unique<StatusView>(*this);
  web::add_status_page(server, *status_view_, {.version = options_.version});
  web::add_alertmanager_api(
      server, *delivery_, clock_,
      {.version = options_.version,
       .config_yaml = [this] { return config::redact_alertmanager_secrets(alertmanager_yaml()); },
       .resolve_timeout_ms = config().resolve_timeout_ms});
  web::add_checkin_api(server, tracker_, pushes_, [this] {
    checkins_dirty_.store(true);
    save_pushes();  // first: a push may count as a job's run
    save_checkins();
    control_cv_.notify_all();
  });
  if (config().traces_enabled) web::add_traces_api(server, *traces_);
}

// Requires mu_ (or construction).
void Runtime::configure_receivers(const config::Config& config) {
  delivery_->configure(config::effective_routing(config),
                       delivery_receivers(config, options_.external_url));
}

void Runtime::build_groups(const std::vector<rules::GroupSpec>& specs, bool restore_from_store) {
  std::map<std::string, GroupState*> old;
  for (auto& g : groups_) old[g->group->name()] = g.get();
  std::vector<std::unique_ptr<GroupState>> fresh;
  for (const rules::GroupSpec& spec : specs) {
    rules::GroupDeps deps{
        .query = rules::engine_query_fn(engine_),
        // Held until the group's state is saved (evaluate()): a crash in
        // between must not leave a page sent for a state the store lacks.
        .notify =
            [this](const std::vector<rules::Notification>& n) {
              held_notifications_.insert(held_notifications_.end(), n.begin(), n.end());
            },
        .append =
            [this](const std::vector<rules::OutputSample>& samples) {
              tsdb::Appender app(head_);
              for (const auto& s : samples) app.append(s.labels, s.sample.t, s.sample.v);
            },
    };
    rules::GroupOptions group_options{.default_interval_ms = config_.evaluation_interval_ms};
    group_options.alerting.external_url = options_.external_url;
    std::vector<std::string> errors;
    auto state = std::make_unique<GroupState>();
    state->group = std::make_unique<rules::Group>(spec, std::move(deps), group_options, &errors);
    for (const auto& e : errors)
      FB_LOG_WARN("rule_group_warning", "", {"rule_group", spec.name}, {"error", e});
    if (auto it = old.find(spec.name); it != old.end()) {
      state->group->import_state(it->second->group->export_state());
      state->next_ms = it->second->next_ms;
      state->last_eval_ms = it->second->last_eval_ms;
    } else if (restore_from_store) {
      state->group->import_state(store_->load_alerts(spec.name));
    }
    fresh.push_back(std::move(state));
  }
  groups_ = std::move(fresh);
}

void Runtime::start() {
  {
    std::lock_guard lock(control_mu_);
    if (running_) return;
    running_ = true;
  }
  {
    std::lock_guard lock(mu_);
    started_ms_ = wall_ms();
    first_scrapes_seen_ = false;
    data_until_ms_ = head_.stats().max_t;
  }
  delivery_->start();
  scraper_->start();
  eval_thread_ = std::thread([this] { eval_loop(); });
  housekeeping_thread_ = std::thread([this] { housekeeping_loop(); });
  FB_LOG_INFO("watch_started", "", {"targets", static_cast<std::int64_t>(targets().size())},
              {"rule_groups", static_cast<std::int64_t>(groups().size())});
}

void Runtime::stop() {
  bool was_running;
  {
    std::lock_guard lock(control_mu_);
    was_running = running_;
    running_ = false;
  }
  if (was_running) {
    control_cv_.notify_all();
    if (eval_thread_.joinable()) eval_thread_.join();
    if (housekeeping_thread_.joinable()) housekeeping_thread_.join();
    scraper_->shutdown();  // no staleness markers: the targets are not gone
    delivery_->stop();
  }
  std::lock_guard eval(eval_mu_);
  std::lock_guard lock(mu_);
  for (auto& g : groups_) store_->save_alerts(g->group->name(), g->group->export_state());
  save_pushes();  // those a failed save left unsaved
  save_checkins();
  // The snapshot a fast start reads.
  std::string error;
  if (!db_->checkpoint(&error))
    FB_LOG_ERROR("tsdb_shutdown_checkpoint_failed", "the next start replays the WAL",
                 {"error", error});
}

std::vector<std::string> Runtime::reload(config::Config config) {
  std::vector<std::string> errors;
  {
    std::lock_guard lock(mu_);
    if (config.listen != config_.listen)
      errors.push_back("listen: changing the listen address (" + config_.listen + " -> " +
                       config.listen + ") needs a restart");
    if (config.query_max_samples != config_.query_max_samples ||
        config.query_timeout_ms != config_.query_timeout_ms)
      errors.push_back("query: changing max_samples or timeout needs a restart");
    if (config.tsdb_path != config_.tsdb_path)
      errors.push_back("storage.tsdb_path: changing the head's directory (" + config_.tsdb_path +
                       " -> " + config.tsdb_path + ") needs a restart");
    if (config.storage_path != config_.storage_path)
      errors.push_back("storage.path: changing the store (" + config_.storage_path + " -> " +
                       config.storage_path + ") needs a restart");
    if (config.traces_enabled != config_.traces_enabled)
      errors.push_back("traces.enabled: turning traces on or off needs a restart");
  }
  RuleSet rules = rule_groups(config);
  for (auto& e : rules.errors) errors.push_back(std::move(e));
  if (!errors.empty()) return errors;
  {
    // Checked before anything changes: the static instances must be valid.
    targets::Built check;
    for (const config::Target& t : config.targets)
      targets::build(t, targets::static_groups(t), check);
    for (const scrape::TargetConfig& c : check.active)
      if (auto why = scrape::validate(c)) return {*why};
  }
  std::vector<config::Target> previous;
  {
    std::lock_guard lock(targets_mu_);
    previous = std::exchange(target_configs_, config.targets);
  }
  discovery_->apply(targets::discovery_jobs(config));
  try {
    apply_targets();
  } catch (const std::invalid_argument& e) {
    std::lock_guard lock(targets_mu_);
    target_configs_ = std::move(previous);
    return {e.what()};
  }
  std::lock_guard eval(eval_mu_);
  std::lock_guard lock(mu_);
  tracker_.configure(config::checkin_jobs(config));
  save_checkins();
  configure_receivers(config);
  traces_->set_limits(config.trace_limits);
  config_ = std::move(config);
  build_groups(rules.groups, /*restore_from_store=*/false);
  return {};
}

void Runtime::apply_targets() {
  std::lock_guard lock(targets_mu_);
  targets::Built built;
  for (const config::Target& t : target_configs_)
    targets::build(t, discovery_->groups(t.name), built);
  scraper_->apply(std::move(built.active));
  dropped_ = std::move(built.dropped);
}

std::vector<targets::DroppedTarget> Runtime::dropped_targets() const {
  std::lock_guard lock(targets_mu_);
  return dropped_;
}

void Runtime::note_store_save(const std::string& what, const std::string& rule_group, bool saved,
                              const std::string& error) {
  const std::string episode = what + "/" + rule_group;
  std::lock_guard lock(store_failing_mu_);
  if (saved) {
    if (store_failing_.erase(episode))
      FB_LOG_INFO("store_save_recovered", "saved again", {"what", what},
                  {"rule_group", rule_group});
    return;
  }
  if (store_save_failures_) store_save_failures_->labels(what).inc();
  if (!store_failing_.insert(episode).second) return;
  FB_LOG_ERROR("store_save_failed",
               "not saved: kept in memory and saved at the next change that can be; a restart "
               "before then loses it",
               {"what", what}, {"rule_group", rule_group}, {"error", error});
}

void Runtime::save_checkins() {
  std::string error;
  const bool saved = store_->save_checkins(tracker_.save(), &error);
  note_store_save("checkins", "", saved, error);
}

namespace {

// What a pushed group says about its job's runs (checkin::PushedJobMetrics):
// the kit's job metrics, by metric name, whatever family they came in.
checkin::PushedJobMetrics pushed_job_metrics(const checkin::PushGroupSnapshot& group) {
  checkin::PushedJobMetrics m;
  for (const auto& [family, samples] : group.families) {
    for (const checkin::PushedSample& s : samples) {
      const std::string_view name = s.labels.metric_name();
      if (name == "job_last_start_timestamp_seconds") {
        m.last_start = s.value;
      } else if (name == "job_last_success_timestamp_seconds") {
        m.last_success = s.value;
      } else if (name == "job_last_failure_timestamp_seconds") {
        m.last_failure = s.value;
      } else if (name == "job_last_duration_seconds") {
        m.last_duration = s.value;
      } else if (name == "job_runs_total") {
        const std::string_view outcome = s.labels.get("outcome");
        auto& slot = outcome == "ok" || outcome == "success" ? m.runs_ok : m.runs_failed;
        slot = slot.value_or(0) + s.value;
      }
    }
  }
  return m;
}

}  // namespace

void Runtime::save_pushes() {
  std::string error;
  bool saved;
  {
    // Taken and saved under one lock: two saves at once could otherwise
    // write an older state of a group over a newer one.
    std::lock_guard lock(push_save_mu_);
    std::vector<checkin::PushGroupSnapshot> changes = pushes_.take_changes();
    if (changes.empty()) return;
    // A job that pushes instead of pinging: its push is its check-in (a
    // group reported again after a failed save counts no run twice).
    for (const auto& g : changes)
      if (!g.deleted) tracker_.report_pushed(g.key.get("job"), pushed_job_metrics(g));
    saved = store_->save_push_groups(changes, &error);
    // Listed again, or a restart would bring back what was there before.
    if (!saved) pushes_.keep_changed(changes);
  }
  note_store_save("pushed_groups", "", saved, error);
}

void Runtime::publish_checkins(std::int64_t t_ms) {
  // Requires mu_.
  tsdb::Appender app(head_);
  for (const auto& s : tracker_.collect()) app.append(s.labels, t_ms, s.sample.v);
  std::set<LabelSet> now;
  for (const auto& s : pushes_.snapshot()) {
    app.append(s.labels, t_ms, s.sample.v);
    now.insert(s.labels);
  }
  for (const LabelSet& gone : published_pushes_)
    if (!now.contains(gone)) app.append(gone, t_ms, stale_nan());
  published_pushes_ = std::move(now);
  last_published_ms_ = t_ms;
}

void Runtime::evaluate(std::int64_t t_ms, bool force) {
  std::lock_guard eval(eval_mu_);
  std::lock_guard lock(mu_);
  // Publish at the earliest scheduled time due, so the groups evaluated at it
  // see this publication rather than the previous one.
  std::int64_t publish_at = t_ms;
  for (const auto& g : groups_)
    if (!force && g->next_ms <= t_ms)
      publish_at = std::min(publish_at, floor_to(t_ms, g->group->interval_ms()));
  if (publish_at > last_published_ms_) publish_checkins(publish_at);
  for (auto& g : groups_) {
    const std::int64_t interval = g->group->interval_ms();
    if (!force && g->next_ms > t_ms) continue;
    // At the latest scheduled time not after t (missed ones are skipped, as
    // Prometheus skips them), or at t itself when forced.
    const std::int64_t at = force ? t_ms : floor_to(t_ms, interval);
    const auto started = clock_.mono_now();
    const rules::GroupEvalStats stats = g->group->eval(at);
    const double seconds = std::chrono::duration<double>(clock_.mono_now() - started).count();
    g->last_eval_ms = at;
    g->last_duration_seconds = seconds;
    g->failed_rules = stats.failed_rules;
    g->next_ms = next_after(at, interval);
    if (eval_duration_) {
      eval_duration_->labels(g->group->name()).observe(seconds);
      evals_->labels(g->group->name()).inc();
      if (stats.failed_rules) eval_failures_->labels(g->group->name()).inc(stats.failed_rules);
    }
    std::string error;
    const bool saved = store_->save_alerts(g->group->name(), g->group->export_state(), &error);
    note_store_save("alert_states", g->group->name(), saved, error);
    if (!held_notifications_.empty()) {
      delivery_->put(held_notifications_);
      held_notifications_.clear();
    }
  }
  retry_failed_saves();
}

void Runtime::retry_failed_saves() {
  bool checkins, pushes;
  {
    std::lock_guard lock(store_failing_mu_);
    checkins = store_failing_.contains("checkins/");
    pushes = store_failing_.contains("pushed_groups/");
  }
  // Otherwise saved again only at the next ping or push, which may not come
  // before a restart.
  if (pushes) save_pushes();
  if (checkins) save_checkins();
}

std::int64_t Runtime::wall_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall_now().time_since_epoch())
      .count();
}

bool Runtime::first_scrapes_done(std::int64_t now_ms) {
  // Eval thread. Every target scraped once since the start, or the bound passed.
  std::int64_t bound = 0;
  std::vector<std::string> waiting;
  for (const scrape::TargetStatus& t : scraper_->statuses()) {
    bound = std::max(bound, t.config.interval_ms + t.config.timeout_ms);
    if (t.scrapes == 0) waiting.push_back(t.config.name);
  }
  std::lock_guard lock(mu_);
  if (waiting.empty()) {
    first_scrapes_seen_ = true;
    note_restart_gap(now_ms);
    return true;
  }
  if (now_ms - started_ms_ < bound + 1000) return false;
  std::string names;
  for (const auto& n : waiting) names += (names.empty() ? "" : ", ") + n;
  FB_LOG_WARN("rule_evaluation_started_without_scrapes",
              "targets not scraped within their interval and timeout of the start; evaluating "
              "rules anyway",
              {"targets", names});
  first_scrapes_seen_ = true;
  note_restart_gap(now_ms);
  return true;
}

// Requires mu_. Restored alerts must not resolve for the samples the
// outage left out of their windows (rules::AlertingRule::set_restart_gap).
void Runtime::note_restart_gap(std::int64_t resumed_ms) {
  if (data_until_ms_ <= 0 || data_until_ms_ >= resumed_ms) return;
  for (auto& g : groups_) g->group->set_restart_gap(data_until_ms_, resumed_ms);
}

bool Runtime::waiting_for_first_scrapes() const {
  std::lock_guard lock(mu_);
  return !first_scrapes_seen_;
}

void Runtime::eval_loop() {
  std::unique_lock control(control_mu_);
  while (running_) {
    const std::int64_t now = wall_ms();
    if (waiting_for_first_scrapes()) {
      control.unlock();
      const bool done = first_scrapes_done(now);
      control.lock();
      if (!done) {
        control_cv_.wait_for(control, std::chrono::milliseconds(50));
        continue;
      }
    }
    std::int64_t due = now + 1000;
    {
      std::lock_guard lock(mu_);
      for (auto& g : groups_) {
        if (g->next_ms == 0) g->next_ms = next_after(now, g->group->interval_ms());
        due = std::min(due, g->next_ms);
      }
      // Check-ins and pushes are published at least every evaluation interval,
      // even with no group to evaluate.
      due = std::min(due, next_after(last_published_ms_, config_.evaluation_interval_ms));
    }
    if (due > now && !checkins_dirty_.load()) {
      // Bounded waits: a wall-clock step (or a ManualClock) is noticed within 1 s.
      control_cv_.wait_for(control,
                           std::chrono::milliseconds(std::min<std::int64_t>(due - now, 1000)));
      continue;
    }
    control.unlock();
    checkins_dirty_.store(false);
    evaluate(wall_ms());
    control.lock();
  }
}

void Runtime::housekeeping_loop() {
  std::unique_lock control(control_mu_);
  const std::int64_t start = wall_ms();
  last_sync_ms_ = last_gc_ms_ = last_checkpoint_ms_ = start;
  while (running_) {
    control_cv_.wait_for(control, std::chrono::milliseconds(1000));
    if (!running_) break;
    control.unlock();
    housekeeping(wall_ms());
    control.lock();
  }
}

void Runtime::housekeeping(std::int64_t now_ms) {
  // Housekeeping thread: fsync, retention, checkpoints, none of which may
  // delay a rule evaluation.
  if (now_ms - last_sync_ms_ >= kSyncIntervalMs) {
    last_sync_ms_ = now_ms;
    std::string error;
    const bool ok = db_->sync(&error);
    if (!ok && !sync_failing_)
      FB_LOG_ERROR("tsdb_sync_failed", "fsync of the head's files failed", {"error", error});
    sync_failing_ = !ok;
  }
  if (now_ms - last_gc_ms_ >= 60'000) {
    last_gc_ms_ = now_ms;
    db_->gc(now_ms);
    // Memory freed by collected series, a first scrape's scratch or a heavy
    // query stays with glibc otherwise (its free pages inside the heap are
    // not returned by free()): hand it back, once a minute.
    ::malloc_trim(0);
  }
  std::int64_t interval;
  {
    std::lock_guard lock(mu_);
    interval = config_.checkpoint_interval_ms;
  }
  // Also early when the WAL outgrows twice the last checkpoint (and 256
  // MiB): what a crash would replay stays bounded on a busy watch.
  const tsdb::DbStats st = db_->stats();
  const bool wal_large =
      st.wal_bytes > std::max<std::uint64_t>(256u << 20, 2 * st.checkpoint_bytes);
  if (now_ms - last_checkpoint_ms_ >= interval || wal_large) {
    last_checkpoint_ms_ = now_ms;
    db_->checkpoint();  // logs its own failure
  }
}

std::vector<GroupStatus> Runtime::groups() const {
  std::lock_guard lock(mu_);
  std::vector<GroupStatus> out;
  for (const auto& g : groups_)
    out.push_back({g->group->name(), g->group->file(), g->group->interval_ms(), g->last_eval_ms,
                   g->last_duration_seconds, g->failed_rules});
  return out;
}

std::vector<rules::Alert> Runtime::active_alerts() const {
  std::lock_guard lock(mu_);
  std::vector<rules::Alert> out;
  for (const auto& g : groups_)
    for (const rules::AlertingRule* rule : g->group->alerting_rules())
      for (auto& a : rule->active_alerts()) out.push_back(std::move(a));
  return out;
}

config::Config Runtime::config() const {
  std::lock_guard lock(mu_);
  return config_;
}

std::string Runtime::alertmanager_yaml() const {
  const config::Config c = config();
  if (!c.alertmanager_config.empty()) {
    std::ifstream in(c.alertmanager_config, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  return config::alertmanager_yaml(c);
}

}  // namespace watch::runtime
