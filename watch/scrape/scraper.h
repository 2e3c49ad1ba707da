// Scraping: the loop that fetches one target's /metrics (and probes its
// readiness URL) into the head, and the manager that runs one loop per
// configured target on its interval. Semantics follow Prometheus's
// scrape/scrape.go (target labels, honor_labels, staleness, report series).
//
// One target, time given by the caller (tests, tools):
//
//   watch::tsdb::Head head;
//   watch::scrape::ScrapeLoop loop({.name = "shop-api",
//                                   .metrics_url = "http://127.0.0.1:9464/metrics",
//                                   .ready_url = "http://127.0.0.1:9464/readyz"},
//                                  head);
//   watch::scrape::ScrapeReport r = loop.scrape_once(t_ms);  // HTTP GETs, parse, append at t_ms
//   if (!r.up) std::cerr << r.error << "\n";                   // "line 3, column 7: ..."
//   loop.mark_stale(t_ms + 15000);                            // target gone
//
// All targets, on their intervals (the runtime; config reload calls apply()):
//
//   watch::scrape::ScrapeManager manager(head, firebreak::Clock::system(),
//                                        {.registry = &self_registry,
//                                         .on_scrape = [&](const TargetStatus& s) {
//                                           rules.evaluate_after_scrape(s);
//                                         }});
//   manager.apply(targets_from_config);   // throws std::invalid_argument on a bad target
//   manager.start();
//   ...
//   manager.apply(new_targets);           // adds, removes (stale markers), restarts changed
//   manager.stop();                       // prompt; writes stale markers for every series
//
// What a scrape does:
// - GET metrics_url with Prometheus's Accept (OpenMetrics preferred, text 0.0.4
//   next) and Accept-Encoding: gzip, within timeout_ms and body_size_limit (a
//   gzip body counts decompressed: a gzip bomb fails the scrape); the format
//   comes from the Content-Type (fallback: ParseOptions::fallback_format);
// - over http or https as the URLs say; the target's `http` (tls_config,
//   authorization, basic_auth) applies to the scrape and the probe alike;
//   a certificate that does not verify fails the scrape with the reason
//   ("TLS handshake with h:443: certificate verify failed for \"h\": ...");
// - samples get the target labels: job=<name>, instance=<host:port of
//   metrics_url>, then the configured labels (which may override job and
//   instance). On a clash with a scraped label, honor_labels=false renames the
//   scraped one to exported_<name> (exported_exported_<name>, ... while taken);
//   honor_labels=true keeps the scraped one; then metric_relabel's rules,
//   which may drop the series (once per new series: the scrape cache
//   remembers a dropped line);
// - explicit timestamps in the body are kept when honor_timestamps (default);
//   as in Prometheus, such series get no staleness markers;
// - written at the scrape's time with the target labels: up (1/0),
//   scrape_duration_seconds, scrape_samples_scraped,
//   scrape_samples_post_metric_relabeling, scrape_series_added (as
//   Prometheus: lines not in the last successful scrape); with a ready_url also
//   probe_success (1 on HTTP 2xx) and probe_duration_seconds. The probe is
//   independent of the metrics scrape (a target can be up and not ready);
// - a scrape is all or nothing: a malformed body, a non-2xx status, a
//   timeout, an oversized or bad gzip body, or more samples than sample_limit
//   fails it (up=0, scrape_samples_scraped=0) with a reason, and no scraped
//   sample is appended;
// - staleness (Prometheus's): a series of the previous successful scrape
//   missing from this one gets watch::stale_nan() at this scrape's time; a
//   failed scrape marks every series of the previous successful one; a removed
//   target or a stopped manager marks all of its series, report series
//   included. up and scrape_* are never marked while the target exists;
// - head refusals (out of order, duplicate timestamp, out of bounds, series
//   limit) are counted in the report, never fatal;
// - failures are logged with FB_LOG_WARN, event `scrape_failed` (once per
//   change of reason: a target down for an hour logs one line, not 240),
//   recovery with FB_LOG_INFO, event `scrape_recovered`.
//
// Nothing here throws on network input; constructors and apply() throw
// std::invalid_argument on an invalid TargetConfig (see validate()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "firebreak/clock.h"
#include "firebreak/http_client.h"
#include "firebreak/metrics.h"
#include "watch/model/model.h"
#include "watch/relabel/relabel.h"
#include "watch/scrape/parser.h"
#include "watch/tsdb/head.h"
#include "watch/yamlconf/http_config.h"

namespace watch::scrape {

// The Accept header every scrape sends (Prometheus 2's, OpenMetrics preferred).
inline constexpr std::string_view kScrapeAccept =
    "application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

// A target's metric_relabel_configs: compiled rules shared by its loops,
// compared by the rules as written (a reload with the same rules is no
// change).
struct MetricRelabel {
  std::shared_ptr<const std::vector<relabel::Rule>> rules;  // null: none
  std::string fingerprint;                                  // the rules as written
  friend bool operator==(const MetricRelabel& a, const MetricRelabel& b) {
    return a.fingerprint == b.fingerprint;
  }
};

// The fingerprint of rules as written.
MetricRelabel metric_relabel(const std::vector<relabel::Rule>& rules);

// One scrape target (one instance of a scrape job), as watch/targets builds
// it. Plain data.
struct TargetConfig {
  std::string name;         // the `job` label; also the `target` label of watch's own metrics
  std::string metrics_url;  // http(s)://host:port/path
  std::string ready_url;    // readiness probe; "" for none
  std::int64_t interval_ms = 15'000;
  std::int64_t timeout_ms = 10'000;         // at most interval_ms
  std::size_t body_size_limit = 16u << 20;  // bytes, after gzip decoding; 0: no limit
  std::size_t sample_limit = 0;             // samples per scrape; 0: no limit
  bool honor_labels = false;                // true for Pushgateway-style targets
  bool honor_timestamps = true;             // keep explicit timestamps of the body
  yamlconf::HttpConfig http;                // TLS and authentication, scrape and probe
  std::vector<Label> labels;                // extra target labels; may set job and instance
  LabelSet discovered_labels;               // before relabeling (for the targets API)
  MetricRelabel metric_relabel;             // applied to each new series' labels

  friend bool operator==(const TargetConfig&, const TargetConfig&) = default;
};

// Why `config` cannot be scraped ("target \"api\": timeout_ms 20000 is longer
// than interval_ms 15000"), or nullopt when it can: a name, an http URL with a
// host for metrics_url (and ready_url when set), interval_ms > 0,
// 0 < timeout_ms <= interval_ms, valid label names.
std::optional<std::string> validate(const TargetConfig& config);

// host:port of an http URL ("http://127.0.0.1:9464/metrics" -> "127.0.0.1:9464";
// the scheme's default port when none is written), "" when it has no host.
std::string instance_of(std::string_view url);

// The target labels: job, instance, then config.labels over them.
LabelSet target_labels(const TargetConfig& config);

// Jitter, as Prometheus spreads scrapes: a target scrapes at the wall times t
// with t mod interval_ms == scrape_offset_ms(config, seed). The offset is a
// hash of the target's identity (name, metrics_url, labels) and `seed` (give
// two watch replicas different seeds to have them scrape at different
// instants), so it is stable across restarts and reloads; in [0, interval_ms).
std::int64_t scrape_offset_ms(const TargetConfig& config, std::uint64_t seed = 0);
// The time a scrape's samples get, as Prometheus's scrape.timestamp-tolerance
// (on by default in 2.42): the scheduled slot when the scrape started at most
// kScrapeTimestampToleranceMs after it (and the interval is over 100 times
// that), else the start time itself. Timestamps a whole interval apart
// compress to one bit each (chunk.h), and rate() reads exact intervals.
inline constexpr std::int64_t kScrapeTimestampToleranceMs = 2;
std::int64_t scrape_timestamp_ms(std::int64_t now_ms, std::int64_t slot_ms,
                                 std::int64_t interval_ms);

// The first time >= now_ms at which t mod interval_ms == offset_ms.
std::int64_t next_scrape_time_ms(std::int64_t now_ms, std::int64_t interval_ms,
                                 std::int64_t offset_ms);

// The outcome of one ScrapeLoop::scrape_once().
struct ScrapeReport {
  std::int64_t t_ms = 0;  // the scrape's time: every sample without a timestamp has it
  bool up = false;
  std::string error;  // why the scrape failed; "" when up
  double duration_seconds = 0;
  std::size_t samples_scraped = 0;       // samples in the body (0 when the scrape failed)
  std::size_t samples_post_relabel = 0;  // of those, the ones metric relabeling kept
  std::size_t samples_appended = 0;
  std::size_t series_added = 0;  // series not in the last successful scrape's body
  std::size_t stale_markers = 0;
  // Samples the head refused, by reason (counted, not fatal).
  std::size_t out_of_order = 0;
  std::size_t duplicate_timestamp = 0;
  std::size_t out_of_bounds = 0;
  std::size_t series_limit = 0;
  // Readiness probe (when the target has a ready_url).
  bool probed = false;
  bool ready = false;       // HTTP 2xx
  std::string probe_error;  // "server returned HTTP status 503", "connect to ...", "" when ready
  double probe_duration_seconds = 0;
};

struct ScrapeLoopOptions {
  // Durations are measured on its monotonic time. Must outlive the loop.
  const firebreak::Clock* clock = &firebreak::Clock::system();
  // Label limits and format fallback; body_size_limit and sample_limit come
  // from the TargetConfig.
  ParseOptions parse = {};
  // Body limit of the readiness probe (its body is not used).
  std::size_t probe_body_limit = 1u << 20;
  std::string user_agent = "firebreak-watch/0.1";
};

// Scrapes one target. Owns its HTTP connections (kept alive between scrapes)
// and a cache from each series as written in the body to its head series,
// so a steady-state scrape builds no label sets.
// Thread-safety: not thread-safe; one thread at a time (the manager runs each
// loop on its own thread). The head may be shared with anything.
class ScrapeLoop {
 public:
  // Throws std::invalid_argument when validate(config) fails. `head` must
  // outlive the loop.
  ScrapeLoop(TargetConfig config, tsdb::Head& head, ScrapeLoopOptions options = {});
  ~ScrapeLoop();
  ScrapeLoop(const ScrapeLoop&) = delete;
  ScrapeLoop& operator=(const ScrapeLoop&) = delete;

  // One scrape and probe, now, with samples (and report series, and
  // staleness markers) written at t_ms. Blocks up to timeout_ms for each of
  // the two requests. Never throws on anything the network sends.
  ScrapeReport scrape_once(std::int64_t t_ms);

  // Writes a staleness marker at t_ms (or 1 ms after last_write_ms(), when
  // that is later) for every series of the last successful scrape and for the
  // report series (the target is gone). Returns the number of markers
  // written. A later scrape_once() starts afresh.
  std::size_t mark_stale(std::int64_t t_ms);

  // Takes over `previous`'s staleness state, when `previous` scraped the same
  // target with the same target labels and honor_labels (a reload that
  // changed only e.g. the interval): series missing from this loop's first
  // scrape get their markers as if no restart had happened, and nothing is
  // marked stale at the restart. False (and nothing taken) otherwise.
  bool take_over(ScrapeLoop& previous);

  // The latest time this loop wrote at (a scrape's t_ms or mark_stale's),
  // nullopt before any.
  std::optional<std::int64_t> last_write_ms() const { return last_t_ms_; }

  const TargetConfig& config() const { return config_; }
  const LabelSet& labels() const { return target_labels_; }

 private:
  enum Report : std::uint8_t {
    kUp,
    kDuration,
    kSamplesScraped,
    kSamplesPostRelabel,
    kSeriesAdded,
    kProbeSuccess,
    kProbeDuration,
    kReportSeries
  };

  // Fetches and decodes the body; "" on success, else the reason.
  std::string fetch(std::string& body, std::string& content_type);
  // Parses and appends; "" on success, else the reason (nothing appended).
  std::string ingest(std::string_view body, std::string_view content_type, std::int64_t t_ms,
                     ScrapeReport& report);
  void probe(ScrapeReport& report);
  LabelSet sample_labels(const ExpositionParser& parser) const;
  // Appends through `series`, creating it (again, when the head dropped it)
  // from `labels` (null: the series' own) and setting `ref`; counts
  // refusals. True when it created.
  bool append(tsdb::SeriesRef& ref, tsdb::SeriesHandle& series, const LabelSet* labels,
              std::int64_t t_ms, double v, ScrapeReport& report);
  void append_report(Report which, std::int64_t t_ms, double v, ScrapeReport& report);
  // Stale markers at t_ms for every tracked series of the last successful
  // scrape; empties the cache.
  void mark_all_stale(std::int64_t t_ms, ScrapeReport& report);
  // The key of the last scrape's line `slot`.
  std::string_view key_of(std::size_t slot) const;
  // index_ over slots_ (open addressing, linear probing).
  void build_index();
  std::optional<std::size_t> find_slot(std::string_view key) const;
  void log_outcome(const ScrapeReport& report);

  TargetConfig config_;
  tsdb::Head& head_;
  tsdb::Appender appender_{head_};  // a scrape's samples go to the WAL as one record
  ScrapeLoopOptions options_;
  LabelSet target_labels_;
  std::string instance_;
  firebreak::HttpHeaders metrics_headers_;
  firebreak::HttpClient metrics_client_;
  firebreak::HttpClient probe_client_;

  // One line of a scrape, in body order: the scrape cache's entry for it.
  struct Slot {
    tsdb::SeriesRef ref;        // 0 until its series is created
    tsdb::SeriesHandle series;  // moved from scrape to scrape along with the line
    bool tracked;               // takes part in staleness (no explicit timestamp)
    bool dropped;               // metric relabeling dropped the line's series
  };
  struct Value {
    double v;
    std::int64_t t;
  };

  // The last successful scrape's lines, their keys end to end, and a hash
  // table over them (slot + 1; 0 is empty) built when a body's order changes.
  std::vector<Slot> slots_;
  std::string keys_;
  std::vector<std::uint32_t> key_ends_;
  std::vector<std::uint32_t> index_;
  // Scratch for the scrape being ingested.
  std::vector<Slot> next_slots_;
  std::string next_keys_;
  std::vector<std::uint32_t> next_key_ends_;
  std::vector<Value> values_;
  std::vector<std::pair<std::size_t, LabelSet>> new_labels_;  // lines whose series is to create
  std::vector<bool> consumed_;                                // last scrape's lines seen again
  tsdb::SeriesRef report_refs_[kReportSeries] = {};
  tsdb::SeriesHandle report_series_[kReportSeries];
  bool report_written_[kReportSeries] = {};
  std::optional<std::int64_t> last_t_ms_;  // see last_write_ms()
  std::string last_error_;                 // of the previous scrape, for logging changes
  bool logged_down_ = false;
};

enum class TargetHealth : std::uint8_t { kUnknown, kUp, kDown };
// "unknown", "up", "down" (Prometheus's API wording).
std::string_view to_string(TargetHealth health);

// What the status page and the API show for a target.
struct TargetStatus {
  TargetConfig config;
  LabelSet labels;                               // target labels
  TargetHealth health = TargetHealth::kUnknown;  // unknown until the first scrape
  std::string last_error;                        // "" when the last scrape succeeded
  std::int64_t last_scrape_ms = 0;               // 0 before the first scrape
  double last_duration_seconds = 0;
  std::size_t last_samples = 0;
  std::uint64_t scrapes = 0;  // since the target was added
  std::uint64_t failures = 0;
  std::optional<bool> ready;  // last probe's outcome; nullopt without ready_url or before it
  std::string probe_error;
  std::int64_t offset_ms = 0;  // the target's jitter (scrape_offset_ms)
  ScrapeReport last_report;    // the whole last report
};

struct ScrapeManagerOptions {
  // Watch's own metrics go here when set; must outlive the manager:
  //   watch_scrapes_total{target}, watch_scrape_failures_total{target},
  //   watch_scrape_samples_rejected_total{target,reason} (out_of_order,
  //   duplicate_timestamp, out_of_bounds, series_limit),
  //   watch_scrape_duration_seconds{target} (histogram),
  //   watch_target_up{target} and watch_targets (collected from the current
  //   targets, so a removed target's gauge disappears).
  firebreak::Registry* registry = nullptr;
  // Called on the target's thread after each scrape's samples are in the head
  // (e.g. to evaluate rules at once). Runs concurrently for different targets
  // and must not call apply() or stop().
  std::function<void(const TargetStatus&)> on_scrape = {};
  std::uint64_t jitter_seed = 0;  // see scrape_offset_ms
  ScrapeLoopOptions loop = {};    // its clock is replaced by the manager's
};

// Runs a ScrapeLoop per target, each on its own thread.
//
// Why a thread per target rather than a pool: a scrape is a blocking HTTP
// exchange that may last its whole timeout (a hung target); with a fixed pool
// a few hung targets would delay every other target's schedule, which is
// exactly when watch must keep scraping on time. Watch runs one machine's
// targets (a handful to a few hundred); an idle thread costs a stack's
// virtual memory and nothing else, and each loop keeps its own connection.
//
// Scheduling: a target scrapes at the wall times t with t mod interval ==
// its offset (see scrape_offset_ms), at the clock's wall time; waits are on a
// condition variable, so stop() and apply() wake the loops at once. Waits
// are real time (the distance to the next slot as the clock tells it): a
// ManualClock does not drive the manager; tests of scrape behaviour call
// ScrapeLoop::scrape_once() with explicit times instead. A scrape
// in flight is not interrupted: stop() and removing or restarting a target
// wait for it (at most its timeout_ms, twice with a ready_url).
//
// Thread-safety: all methods are thread-safe; apply(), start() and stop() are
// serialised with each other. The head and the clock must outlive the manager.
class ScrapeManager {
 public:
  ScrapeManager(tsdb::Head& head, const firebreak::Clock& clock, ScrapeManagerOptions options = {});
  // stop().
  ~ScrapeManager();
  ScrapeManager(const ScrapeManager&) = delete;
  ScrapeManager& operator=(const ScrapeManager&) = delete;

  // Makes the targets these: adds new ones, removes gone ones (their series
  // get stale markers at the clock's time), restarts changed ones (a target
  // is the same when name and metrics_url are; when its target labels and
  // honor_labels are also unchanged, its staleness state carries over and
  // nothing is marked). Unchanged targets keep running undisturbed. All or
  // nothing: throws std::invalid_argument, changing nothing, when a target
  // is invalid or two have the same name and metrics_url. Running targets
  // start at once when the manager is started.
  void apply(std::vector<TargetConfig> targets);

  // Starts a thread per target. Idempotent.
  void start();
  // Stops and joins every thread, then marks every target's series stale at
  // the clock's time. Idempotent; start() may follow.
  void stop();
  // Stops like stop() but writes no staleness markers: at a shutdown the
  // targets are not gone, watch is; after a restart their series continue
  // where they were (as Prometheus ends its scrape loops at shutdown).
  void shutdown();

  // In the order given to apply().
  std::vector<TargetStatus> statuses() const;

 private:
  struct Runner;
  struct Metrics;

  std::shared_ptr<Runner> make_runner(TargetConfig config) const;
  void start_runner(Runner& r);
  static void signal_runner(Runner& r);  // asks its thread to stop
  static void join_runner(Runner& r);    // no-op when not running
  void run(Runner& r);
  void halt(bool mark_stale);
  std::int64_t wall_ms() const;

  tsdb::Head& head_;
  const firebreak::Clock& clock_;
  ScrapeManagerOptions options_;
  std::unique_ptr<Metrics> metrics_;
  std::uint64_t collector_id_ = 0;

  std::mutex control_mu_;  // serialises apply(), start(), stop()
  bool started_ = false;   // guarded by control_mu_
  // The targets, shared with the registry collector (which may outlive the
  // manager by one in-flight collect()).
  struct Targets;
  std::shared_ptr<Targets> targets_;
};

}  // namespace watch::scrape
