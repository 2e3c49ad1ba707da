// The head: watch's in-memory store of recent samples. Series are identified
// by their label set and get a SeriesRef on creation; samples go into
// Gorilla-compressed chunks of ~120 samples (chunk.h); a postings index over
// label pairs answers matchers (matcher.h). Retention drops whole chunks and
// then the series left empty. Semantics follow Prometheus's TSDB head.
//
//   watch::tsdb::Head head({.max_series = 200'000, .retention_ms = 26 * 3600 * 1000});
//   auto s = head.get_or_create(labels);                    // once per series; keep s.ref
//   if (s.status == AppendStatus::kOk) head.append(s.ref, t_ms, value);
//   head.append(s.ref, t_ms + 15000, watch::stale_nan());   // staleness marker: a sample like any
//
//   auto set = watch::tsdb::MatcherSet::must_compile({{"__name__", Matcher::Op::kEqual, "up"}});
//   for (const auto& series : head.select(set, start_ms, end_ms)) use(series.labels,
//   series.samples); head.gc(now_ms);                                         // from a timer:
//   retention
//
// Appending (Prometheus's rules for in-order samples):
// - t older than the series' last sample: kOutOfOrder ("out of order sample");
// - t equal to the last sample's: accepted as a no-op when the value is the
//   same bit for bit, else kDuplicateTimestamp ("duplicate sample for timestamp");
// - t before the retention cutoff of the last gc()/truncate(): kOutOfBounds;
// - a new series beyond HeadOptions::max_series: kSeriesLimit, counted in
//   stats().series_limit_rejections; existing series keep working.
// Refused samples change nothing and are counted in stats().
//
// Thread-safety: every method may be called from any thread concurrently.
// Series live in lock stripes (a reader-writer lock each, taken exclusively
// only to create or remove series) and each series has its own mutex, held
// for one append or while one reader decodes it: scrape threads appending to
// different series do not wait for each other, and readers (rule evaluation,
// HTTP API) do not block appends beyond one series' decode. The intended use
// is one writer per series at a time (a target's scrape loop owns its
// series); concurrent appends to one series are safe but their order is
// whichever takes the series' mutex first. A select() visitor runs with its
// series' stripe read-locked: it must not call back into the Head.
//
// Durability: a Head alone lives in memory. Given a HeadLog (db.h gives it
// one), it reports each new series before any of its samples, the samples
// it accepts (an Appender batches one scrape's into one record), and each
// chunk it seals, which the log may move out of memory (a chunk file's
// mapping). The restore_* functions rebuild a head from what was logged.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "watch/model/model.h"
#include "watch/tsdb/chunk.h"
#include "watch/tsdb/matcher.h"
#include "watch/tsdb/records.h"

namespace watch::tsdb {

// A series' id, stable for the series' life in the head; never reused.
// 0 is never a valid ref.
using SeriesRef = std::uint64_t;

struct HeadOptions {
  // Most series the head holds; creating more is refused (kSeriesLimit).
  std::size_t max_series = 1'000'000;
  // How far back gc(now) keeps samples (26h: a day-over-day comparison plus margin).
  std::int64_t retention_ms = std::int64_t{26} * 3600 * 1000;
  // Samples per chunk before it is sealed.
  std::uint16_t samples_per_chunk = 120;
  // Lock stripes for series (rounded up to a power of two).
  std::size_t stripes = 128;
};

enum class AppendStatus : std::uint8_t {
  kOk,
  kOutOfOrder,
  kDuplicateTimestamp,
  kOutOfBounds,
  kSeriesLimit,
  kInvalidLabels,  // an empty label set
  kUnknownSeries,  // the ref was never issued, or its series was garbage-collected
};

// Prometheus's wording where it has one: "out of order sample", "duplicate
// sample for timestamp", "out of bounds"; "series limit reached", ...
std::string_view to_string(AppendStatus status);

struct SeriesResult {
  AppendStatus status = AppendStatus::kOk;
  SeriesRef ref = 0;  // valid when status is kOk (or, from append(labels, ...), the series exists)
  bool created = false;  // this call created the series
};

struct SeriesSamples {
  SeriesRef ref = 0;
  LabelSet labels;
  std::vector<Sample> samples;  // oldest first
};

struct HeadStats {
  std::size_t series = 0;
  std::size_t samples = 0;      // stored now
  std::size_t chunks = 0;       // sealed and open
  std::size_t chunk_bytes = 0;  // compressed sample data, sealed chunks plus open chunks' buffers
  // Of chunk_bytes, sealed chunks whose words live outside the heap (chunk
  // files' mappings: page cache, not counted in memory_bytes).
  std::size_t mapped_chunk_bytes = 0;
  std::size_t memory_chunks = 0;  // sealed chunks still on the heap
  // Estimated bytes the head holds in total: series, labels, chunks, index.
  std::size_t memory_bytes = 0;
  std::int64_t min_t = 0;  // oldest and newest sample (0, 0 when empty)
  std::int64_t max_t = 0;
  // Counters since construction.
  std::uint64_t samples_appended = 0;
  std::uint64_t series_created = 0;
  std::uint64_t series_removed = 0;
  std::uint64_t series_limit_rejections = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t duplicate_timestamp = 0;
  std::uint64_t out_of_bounds = 0;
  std::uint64_t duplicates_ignored = 0;  // same timestamp, same value: accepted, not stored

  // Compressed bytes per stored sample.
  double bytes_per_sample() const {
    return samples ? static_cast<double>(chunk_bytes) / static_cast<double>(samples) : 0;
  }
};

// Called once per selected series with the labels and samples; return false
// to stop. Both live only for the call.
using SeriesVisitor = std::function<bool(const LabelSet& labels, std::span<const Sample> samples)>;

namespace detail {
struct MemSeries;
}

// A series held by a writer (the scrape cache): appending through it skips
// the lookup by ref. It keeps the series' memory alive, not its data: once
// the head collects the series, appends through the handle return
// kUnknownSeries (create the series again). Copying costs an atomic
// increment; moving costs nothing.
class SeriesHandle {
 public:
  SeriesHandle() = default;
  explicit operator bool() const { return s_ != nullptr; }
  // The series' labels (requires a non-empty handle).
  LabelSet labels() const;

 private:
  friend class Head;
  friend class Appender;
  explicit SeriesHandle(std::shared_ptr<detail::MemSeries> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::MemSeries> s_;
};

// A sealed chunk as the head holds it: its words (in a chunk file's mapping)
// and what it spans.
struct ChunkMeta {
  const std::uint64_t* words = nullptr;
  std::int64_t min_t = 0;
  std::int64_t max_t = 0;
  std::uint32_t bits = 0;
  std::uint16_t count = 0;
};

// A series that received nothing for a while, on its way out of the head
// (Head::idle_series, db.h).
struct IdleSeries {
  std::uint64_t ref = 0;
  std::uint64_t hash = 0;
  std::int64_t last_t = 0;
  LabelSet labels;
  std::vector<ChunkMeta> chunks;  // oldest first, all in chunk files
};

// Where a durable head sends what it must keep (db.h implements it). Called
// with the series' locks held: implementations must not call back into the
// Head, and should be quick.
class HeadLog {
 public:
  virtual ~HeadLog() = default;
  // A series was created; called before any sample of it is logged.
  virtual void log_series(std::uint64_t ref, const LabelSet& labels) = 0;
  // Samples the head accepted, in the order they were accepted per series.
  virtual void log_samples(std::span<const RefSample> samples) = 0;
  // A chunk the head is sealing: returns where its words now live (they must
  // stay valid until the head drops the chunk), or nullptr to keep it on
  // the heap.
  virtual const std::uint64_t* store_chunk(std::uint64_t ref, const ChunkAppender& chunk) = 0;
};

class Head {
 public:
  explicit Head(HeadOptions options = {});
  ~Head();
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  // The series with these labels, created if new. kInvalidLabels for an
  // empty set, kSeriesLimit when creating it would exceed max_series.
  SeriesResult get_or_create(const LabelSet& labels);
  // The series' ref, without creating it.
  std::optional<SeriesRef> find(const LabelSet& labels) const;
  // A handle to the series (empty when the ref is unknown).
  SeriesHandle handle(SeriesRef ref) const;

  // Appends one sample to a series. Cost: a stripe read lock, the series'
  // mutex, ~10-30 ns of encoding; allocates only when a chunk's buffer grows
  // or a chunk is sealed.
  AppendStatus append(SeriesRef ref, std::int64_t t_ms, double v);
  // get_or_create() then append(): the first failure's status.
  SeriesResult append(const LabelSet& labels, std::int64_t t_ms, double v);

  // Visits every series that matches and has samples in [mint_ms, maxt_ms],
  // with exactly those samples, oldest first, staleness markers included;
  // series in ref (creation) order. Stops when `visit` returns false. This is
  // the contract of watch::promql::Queryable::select (see queryable.h).
  void select(const MatcherSet& matchers, std::int64_t mint_ms, std::int64_t maxt_ms,
              const SeriesVisitor& visit) const;
  // The same, collected and sorted by labels (label by label, as Prometheus
  // orders label sets).
  std::vector<SeriesSamples> select(const MatcherSet& matchers, std::int64_t mint_ms,
                                    std::int64_t maxt_ms) const;

  // For /api/v1/series: label sets of matching series with a sample in
  // [mint_ms, maxt_ms], sorted.
  std::vector<LabelSet> series(const MatcherSet& matchers, std::int64_t mint_ms = INT64_MIN,
                               std::int64_t maxt_ms = INT64_MAX) const;
  // For /api/v1/labels and /api/v1/label/<name>/values: sorted, unique. With
  // no matchers and the full time range they read the index alone; otherwise
  // they look at the matching series with a sample in the range.
  std::vector<std::string> label_names(const MatcherSet& matchers = {},
                                       std::int64_t mint_ms = INT64_MIN,
                                       std::int64_t maxt_ms = INT64_MAX) const;
  std::vector<std::string> label_values(std::string_view name, const MatcherSet& matchers = {},
                                        std::int64_t mint_ms = INT64_MIN,
                                        std::int64_t maxt_ms = INT64_MAX) const;

  // Drops every chunk whose newest sample is older than mint_ms, removes the
  // series left without samples, and refuses later appends older than
  // mint_ms (the cutoff never moves back). Retention works in whole chunks: a
  // chunk is kept until its newest sample leaves the window. A series created
  // but never written to is removed once a truncate() with a later cutoff
  // than the one that first saw it empty finds it still empty (gc() from a
  // timer: after one to two periods). Returns the number of series removed.
  std::size_t truncate(std::int64_t mint_ms);
  // truncate(now_ms - retention_ms).
  std::size_t gc(std::int64_t now_ms) { return truncate(now_ms - options_.retention_ms); }

  // Sets (or clears, with nullptr) where the head logs; set it before
  // appends start (not synchronised with them). The log must outlive its use.
  void set_log(HeadLog* log) { log_ = log; }

  // Restoring (db.h), before appends start; not for concurrent use.
  // The series of these labels with this ref, created if new. When the
  // labels already have a series under another ref, returns that ref (a
  // series collected and created again); 0 for an empty label set.
  SeriesRef restore_series(SeriesRef ref, const LabelSet& labels);
  // Adds a sealed chunk after the series' others, its words living
  // elsewhere. False when the ref is unknown or the chunk does not start
  // after the series' last sample (it is then ignored). `last`: no chunk of
  // this series follows (its last value is decoded, for the duplicate check
  // of later appends; for the others it is not needed).
  bool restore_chunk(SeriesRef ref, std::int64_t min_t, std::int64_t max_t, std::uint32_t bits,
                     std::uint16_t count, const std::uint64_t* words, bool last = true);
  // New series get refs above `ref` from now on.
  void reserve_refs(SeriesRef ref);
  // Ends a restore: puts the index in order (restore_series adds in log
  // order). Required before the head is read.
  void finish_restore();
  SeriesRef last_ref() const;
  // The cutoff of the last truncate() (INT64_MIN before any), and setting
  // it (a restore); it never moves back.
  std::int64_t min_valid_time() const { return min_valid_t_.load(std::memory_order_relaxed); }
  void set_min_valid_time(std::int64_t t);

  // Offers every sealed chunk still on the heap to the log's store_chunk()
  // (those a full disk kept there); returns how many stay on the heap.
  std::size_t store_memory_chunks();
  // Calls `fn` for every series with its open chunk, the series locked (for
  // a checkpoint; `fn` must be quick and not call back into the Head).
  using SeriesStateVisitor =
      std::function<void(SeriesRef ref, const LabelSet& labels, const ChunkAppender& open)>;
  void visit_series(const SeriesStateVisitor& fn) const;

  // Series whose every sample is older than `cutoff`, at most `limit`, for
  // the cold store (cold.h): each with its labels and chunks, its open chunk
  // first sealed through the log's store_chunk (a series that cannot have
  // all its chunks in chunk files is left out). They stay in the head until
  // remove_idle().
  std::vector<IdleSeries> idle_series(std::int64_t cutoff, std::size_t limit);
  // Removes those series from the head (index, memory), each unless a
  // sample reached it since idle_series() saw it. Returns how many went.
  std::size_t remove_idle(std::span<const IdleSeries> series);

  // Walks every series (O(series)): for monitoring and benchmarks.
  HeadStats stats() const;
  std::size_t num_series() const { return num_series_.load(std::memory_order_relaxed); }
  // Samples stored since construction (cheap: one load per stripe).
  std::uint64_t samples_appended() const;
  const HeadOptions& options() const { return options_; }

 private:
  using Series = detail::MemSeries;
  struct RefStripe;
  struct HashStripe;
  class Index;

  friend class Appender;
  // append() without logging the sample.
  AppendStatus append_unlogged(SeriesRef ref, std::int64_t t_ms, double v);
  // The same, to a series held (its mutex not yet taken).
  AppendStatus append_to(Series& s, std::int64_t t_ms, double v);
  std::vector<SeriesRef> matching_refs(const MatcherSet& matchers) const;
  // Calls fn(series) with the series locked; false if the ref is unknown.
  template <class Fn>
  bool with_series(SeriesRef ref, Fn&& fn) const;
  // Calls fn(ref, series) for every series, its stripe read-locked and the
  // series locked.
  template <class Fn>
  void for_each_series(Fn&& fn) const;
  // Unlinks the candidates (ref, hash) for which still(series) holds under
  // its lock; returns how many went.
  template <class Still>
  std::size_t unlink_series(const std::vector<std::pair<SeriesRef, std::uint64_t>>& candidates,
                            Still&& still);

  HeadOptions options_;
  std::size_t stripe_mask_;
  std::unique_ptr<RefStripe[]> ref_stripes_;
  std::unique_ptr<HashStripe[]> hash_stripes_;
  std::unique_ptr<Index> index_;
  std::atomic<std::size_t> num_series_{0};
  std::atomic<std::int64_t> min_valid_t_{INT64_MIN};

  struct Counters {
    std::atomic<std::uint64_t> samples_appended{0};
    std::atomic<std::uint64_t> series_created{0};
    std::atomic<std::uint64_t> series_removed{0};
    std::atomic<std::uint64_t> series_limit_rejections{0};
    std::atomic<std::uint64_t> out_of_order{0};
    std::atomic<std::uint64_t> duplicate_timestamp{0};
    std::atomic<std::uint64_t> out_of_bounds{0};
    std::atomic<std::uint64_t> duplicates_ignored{0};
  } counters_;
  std::mutex truncate_mu_;  // one truncate() at a time
  HeadLog* log_ = nullptr;
};

// Appends samples to a head and logs them as one record at commit(): the
// scrape loop's way to append a scrape (one write(2) for all of it instead of
// one per sample). A sample is visible to readers when append() returns;
// commit() hands the batch to the head's log. Without a log, an Appender is
// a plain head.append().
//
//   watch::tsdb::Appender app(head);
//   for (...) app.append(ref, t_ms, v);
//   app.commit();                       // also on destruction
//
// Thread-safety: one thread at a time; the head may be shared.
class Appender {
 public:
  explicit Appender(Head& head) : head_(head) {}
  ~Appender() { commit(); }
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;

  AppendStatus append(SeriesRef ref, std::int64_t t_ms, double v);
  AppendStatus append(const SeriesHandle& series, std::int64_t t_ms, double v);
  SeriesResult append(const LabelSet& labels, std::int64_t t_ms, double v);
  void commit();

  // Memory prefetches for a writer that knows which series it appends to
  // next: the series itself some appends ahead, then (once that has
  // arrived) where its next sample goes. Hints only: no effect on results.
  static void prefetch_series(const SeriesHandle& series);
  static void prefetch_tail(const SeriesHandle& series);
  Head& head() { return head_; }

 private:
  Head& head_;
  std::vector<RefSample> pending_;
};

}  // namespace watch::tsdb
