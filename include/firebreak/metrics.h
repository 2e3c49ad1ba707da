// Metrics: counters, gauges and histograms in families with labels, exposed in
// the Prometheus text format 0.0.4 and OpenMetrics 1.0 (see exposition.h).
//
//   firebreak::Registry registry;
//   auto& requests = registry.counter({.name = "orders_created_total",
//                                      .help = "Orders accepted.",
//                                      .labels = {"channel"}});
//   firebreak::Counter web = requests.labels("web");   // resolve once, keep the handle
//   web.inc();                                         // no lock, no allocation
//
//   auto& latency = registry.histogram({.name = "order_store_duration_seconds",
//                                       .help = "Time to store an order.",
//                                       .unit = "seconds"});
//   latency.labels().observe(0.012);
//
// A family is the set of series sharing a name; `labels(...)` finds or creates
// one series and returns a handle to it. Handles are small values, valid as
// long as the registry, and cheap to copy. Recording on a handle takes no lock,
// allocates nothing and never throws: counters and histograms write to a
// per-thread shard that the scrape sums (see detail/shards.h).
//
// Thread-safety: everything here is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "firebreak/clock.h"
#include "firebreak/detail/shards.h"

namespace firebreak {

// Thrown at registration for a bad name, label or bucket layout, or a
// registration that conflicts with an existing family. The message names the
// offending value.
class MetricError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Default histogram buckets (seconds), for request latency (docs/metrics.md, "Defaults").
inline const std::vector<double>& default_buckets() {
  static const std::vector<double> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                               0.5,   0.75, 1,     2.5,  5,     7.5, 10};
  return kBuckets;
}

inline constexpr std::size_t kDefaultMaxSeries = 10000;

// How a gauge's values from the processes of a multi-process service are
// combined at a scrape (multiprocess.h); ignored elsewhere. Counters and
// histograms always add up, dead processes included.
enum class ProcessCombine {
  kLiveSum,  // the sum over live processes (in-flight requests, connections)
  kSum,      // the sum over every process, exited ones at their last value
  kMax,      // the largest value of a live process (timestamps, queue depth)
  kMin,      // the smallest value of a live process
  kPerPid,   // one series per live process, with a "pid" label
  kServing,  // the value of the process serving /metrics: the service's own
             // view (its readiness, which allows for workers still starting)
};

// What every family declares. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]* and
// label names [a-zA-Z_][a-zA-Z0-9_]* (not starting with "__"). When `unit` is
// set, the name must end with "_<unit>" (before "_total" for counters).
struct MetricSpec {
  std::string name;
  std::string help;
  std::vector<std::string> labels = {};
  std::string unit = {};
  // Distinct label sets the family accepts; later ones are recorded into one
  // overflow series (label otel_metric_overflow="true") and counted in
  // metric_series_overflow_total{metric}.
  std::size_t max_series = kDefaultMaxSeries;
  // Gauges only: how the values of a multi-process service's processes combine.
  ProcessCombine combine = ProcessCombine::kLiveSum;
};

// A counter's name may be given with or without "_total"; it is exposed with it.
using CounterSpec = MetricSpec;
using GaugeSpec = MetricSpec;

// MetricSpec plus bucket bounds (a separate aggregate so that designated
// initializers work: {.name = ..., .buckets = {...}}).
struct HistogramSpec {
  std::string name;
  std::string help;
  std::vector<std::string> labels = {};
  std::string unit = {};
  // Upper bounds, strictly increasing and finite; "+Inf" is implicit.
  std::vector<double> buckets = default_buckets();
  std::size_t max_series = kDefaultMaxSeries;

  MetricSpec base() const { return {name, help, labels, unit, max_series}; }
};

// ---------------------------------------------------------------------------
// Snapshots: what a scrape sees. Also what a custom collector produces.

enum class MetricType { kCounter, kGauge, kHistogram };

// "counter", "gauge" or "histogram", as the exposition formats write it.
std::string_view to_string(MetricType type);

using Labels = std::vector<std::pair<std::string, std::string>>;

struct MetricPoint {
  std::shared_ptr<const Labels> labels;  // never null
  double value = 0;                      // counter total or gauge value
  // Histograms: cumulative count for each bound, the last for +Inf (= count).
  std::vector<std::uint64_t> bucket_counts = {};
  double sum = 0;  // histograms
  // Counters and histograms: when the series was created (Unix seconds), for
  // OpenMetrics' _created; NaN when unknown.
  double created = std::numeric_limits<double>::quiet_NaN();
};

struct FamilySnapshot {
  std::string name;  // counters: without "_total"
  std::string help;
  std::string unit;
  MetricType type = MetricType::kGauge;
  std::vector<double> bounds = {};  // histograms: finite upper bounds
  std::vector<MetricPoint> points = {};
};

// Appends families to a scrape. Called on the scraping thread; must be
// thread-safe with respect to the rest of the program and fast.
using CollectFn = std::function<void(std::vector<FamilySnapshot>&)>;

namespace detail {

// One series of a family: its label values and where its value lives.
struct Series {
  std::vector<std::string> values;
  std::shared_ptr<const Labels> labels;
  std::size_t hash = 0;
  double created = 0;
  Cell* cells = nullptr;  // counters: [integer part, fractional part]; histograms:
                          // [bucket 0 .. bucket n-1, +Inf, sum]; gauges: the value
                          // when the registry's cells are shared, else null
  std::atomic<double> gauge{0};
  std::atomic<double>* value = &gauge;  // gauges: `gauge`, or the shared cell
};

class SeriesIndex;

// The type-independent part of a family: names, series and their lookup.
class FamilyCore {
 public:
  FamilyCore(MetricType type, MetricSpec spec, std::vector<double> bounds, CellArena& arena,
             const Clock& clock, SlotBacking* backing = nullptr);
  ~FamilyCore();
  FamilyCore(const FamilyCore&) = delete;
  FamilyCore& operator=(const FamilyCore&) = delete;

  // Finds or creates the series for these label values (one per label name,
  // else MetricError). Lock-free when the series exists.
  Series* series(std::span<const std::string_view> values);

  const MetricSpec& spec() const { return spec_; }
  MetricType type() const { return type_; }
  const std::vector<double>& bounds() const { return bounds_; }
  std::uint64_t overflowed() const { return overflowed_.load(std::memory_order_relaxed); }
  void snapshot(FamilySnapshot& out) const;

 private:
  Series* create(std::span<const std::string_view> values, std::size_t hash);
  std::unique_ptr<Series> make_series(std::shared_ptr<const Labels> labels);

  const MetricType type_;
  const MetricSpec spec_;
  const std::vector<double> bounds_;
  const std::uint32_t cells_per_series_;
  CellArena& arena_;
  const Clock& clock_;
  SlotBacking* const backing_;
  std::unique_ptr<SeriesIndex> index_;
  mutable std::mutex mu_;  // guards creation, sorted_ and overflow_
  std::map<std::vector<std::string>, std::unique_ptr<Series>> sorted_;
  std::unique_ptr<Series> overflow_;
  std::atomic<std::uint64_t> overflowed_{0};
};

template <class T>
concept StringLike = std::convertible_to<const T&, std::string_view>;

}  // namespace detail

template <class Handle>
class Family;

// ---------------------------------------------------------------------------
// Handles. A default-constructed handle records into a private series that no
// scrape shows, so a struct of handles can be declared before it is bound.

// A monotonically increasing count.
class Counter {
 public:
  Counter();
  // Adds 1.
  void inc() noexcept { detail::shard_add(cells_, 1); }
  // Adds `v`; negative and NaN increments are ignored (a counter never goes down).
  void inc(double v) noexcept {
    if (v >= 0 && v < 9007199254740992.0 && v == static_cast<double>(static_cast<std::uint64_t>(v)))
      detail::shard_add(cells_, static_cast<std::uint64_t>(v));
    else if (v > 0)
      detail::shard_add_double(cells_ + 1, v);
  }
  // The current total (sums the shards: for tests and status, not hot paths).
  double value() const noexcept {
    return static_cast<double>(detail::shard_sum(cells_)) + detail::shard_sum_double(cells_ + 1);
  }

 private:
  friend class Family<Counter>;
  explicit Counter(detail::Series* s) : cells_(s->cells) {}
  detail::Cell* cells_;
};

// A value that goes up and down. Set/inc/dec are one atomic operation on a
// shared value (not sharded: `set` must win over earlier increments).
class Gauge {
 public:
  Gauge();
  void set(double v) noexcept { value_->store(v, std::memory_order_relaxed); }
  void inc(double v = 1) noexcept { value_->fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1) noexcept { value_->fetch_sub(v, std::memory_order_relaxed); }
  // Sets the gauge to the current Unix time in seconds.
  void set_to_current_time(const Clock& clock = Clock::system()) noexcept {
    set(clock.wall_seconds());
  }
  double value() const noexcept { return value_->load(std::memory_order_relaxed); }

 private:
  friend class Family<Gauge>;
  explicit Gauge(detail::Series* s) : value_(s->value) {}
  std::atomic<double>* value_;
};

// Counts observations into buckets and sums them. NaN observations are ignored.
class Histogram {
 public:
  Histogram();
  void observe(double v) noexcept {
    if (v != v) return;  // NaN
    std::uint32_t i = 0;
    while (i < bucket_count_ && v > bounds_[i]) ++i;
    detail::shard_add(cells_ + i, 1);
    detail::shard_add_double(cells_ + bucket_count_ + 1, v);
  }
  // Observes the seconds elapsed since `start` (steady clock).
  void observe_since(std::chrono::steady_clock::time_point start) noexcept {
    observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::uint64_t count() const noexcept;
  double sum() const noexcept { return detail::shard_sum_double(cells_ + bucket_count_ + 1); }

 private:
  friend class Family<Histogram>;
  Histogram(detail::Series* s, const std::vector<double>& bounds)
      : cells_(s->cells),
        bounds_(bounds.data()),
        bucket_count_(static_cast<std::uint32_t>(bounds.size())) {}
  detail::Cell* cells_;
  const double* bounds_;
  std::uint32_t bucket_count_;
};

// Observes the lifetime of a scope into a histogram, in seconds.
class ScopedTimer {
 public:
  explicit ScopedTimer(Histogram h) : h_(h), start_(std::chrono::steady_clock::now()) {}
  ~ScopedTimer() { h_.observe_since(start_); }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  Histogram h_;
  std::chrono::steady_clock::time_point start_;
};

// ---------------------------------------------------------------------------

// All series of one metric. Obtained from a Registry, which owns it.
template <class Handle>
class Family {
 public:
  // The series for these label values, one per label name in declaration order:
  //   family.labels("GET", "/orders/{id}", "200")
  // Lock-free when the series exists (hash lookup, no allocation); resolve once
  // and keep the handle on hot paths. Throws MetricError on a wrong count.
  template <detail::StringLike... V>
  Handle labels(const V&... values) {
    const std::string_view views[] = {std::string_view(values)..., std::string_view()};
    return make(core_.series(std::span<const std::string_view>(views, sizeof...(V))));
  }
  Handle labels(std::span<const std::string_view> values) { return make(core_.series(values)); }
  Handle labels(std::initializer_list<std::string_view> values) {
    return make(core_.series(std::span<const std::string_view>(values.begin(), values.size())));
  }

  const std::string& name() const { return core_.spec().name; }
  // How many label sets were refused by the cardinality guard so far.
  std::uint64_t overflowed() const { return core_.overflowed(); }

 private:
  friend class Registry;
  template <class... A>
  explicit Family(A&&... args) : core_(std::forward<A>(args)...) {}
  Handle make(detail::Series* s) const {
    if constexpr (std::is_same_v<Handle, Histogram>)
      return Handle(s, core_.bounds());
    else
      return Handle(s);
  }
  detail::FamilyCore core_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

struct RegistryOptions {
  const Clock* clock = &Clock::system();  // for _created timestamps
  // Shared memory for the series' cells (MultiprocessRegion::join()); must
  // outlive the registry. Null: the heap, seen by this process only.
  detail::SlotBacking* slot = nullptr;
};

// Owns families and collectors, and produces scrapes.
class Registry {
 public:
  Registry() : Registry(RegistryOptions{}) {}
  explicit Registry(RegistryOptions options);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers a family, or returns the existing one when the same name was
  // registered with the same type, labels and buckets. Throws MetricError on a
  // bad spec or a conflicting registration.
  CounterFamily& counter(const CounterSpec& spec);
  GaugeFamily& gauge(const GaugeSpec& spec);
  HistogramFamily& histogram(const HistogramSpec& spec);

  // Metrics sampled at scrape time. The spec's labels are not used: an
  // unlabelled series whose value `read` returns. `read` runs on the scraping
  // thread. Throws MetricError on a bad or conflicting name.
  void gauge_callback(const GaugeSpec& spec, std::function<double()> read);
  void counter_callback(const CounterSpec& spec, std::function<double()> read);

  // Adds a collector that appends whole families at each scrape (for series
  // read from elsewhere: process stats, a queue's depth). Its family names are
  // the caller's responsibility. Returns an id for remove_collector.
  std::uint64_t add_collector(CollectFn collect);
  void remove_collector(std::uint64_t id);

  // A consistent-enough snapshot of every family, sorted by name (series sorted
  // by label values). Does not block recording. With a shared slot, only the
  // callbacks and collectors: the families are read, merged with the other
  // processes', by MultiprocessRegion::collect().
  std::vector<FamilySnapshot> collect() const;

 private:
  template <class F>
  F& add_family(MetricType type, const MetricSpec& spec, std::vector<double> bounds);
  void check_sample_names(MetricType type, const std::string& name,
                          const std::string& as_given) const;  // caller holds mu_
  void add_callback(MetricType type, const MetricSpec& spec, std::function<double()> read);

  const Clock& clock_;
  detail::SlotBacking* const slot_;
  detail::CellArena arena_;
  mutable std::mutex mu_;  // guards everything below
  struct Entry;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> families_;
  std::map<std::uint64_t, std::shared_ptr<const CollectFn>> collectors_;
  std::uint64_t next_collector_id_ = 1;
};

// Name checks, exposed for other modules (audit, watch) and tests.
bool is_valid_metric_name(std::string_view name);
bool is_valid_label_name(std::string_view name);

}  // namespace firebreak
