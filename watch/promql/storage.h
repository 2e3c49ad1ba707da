// What the query engine reads from: a Queryable hands over the samples of
// the series that match a selector, in a time window. watch's TSDB head
// implements it; MemoryStorage is a small implementation for tests, tools and
// benchmarks.
//
//   watch::promql::MemoryStorage storage;
//   storage.add(watch::LabelSet::from({{"__name__", "up"}, {"job", "api"}}), {{0, 1}, {15000, 1}});
//   watch::promql::Engine engine(storage);
//
// Contract of select(): call `visit` once per series whose labels satisfy
// every matcher (Prometheus semantics: see label_matcher.h) and that has at
// least one sample with mint_ms <= t <= maxt_ms, with exactly those samples,
// oldest first, staleness markers (watch::stale_nan()) included. Series may
// come in any order. Stop as soon as `visit` returns false: the engine does so
// when a query goes over its sample limit or its deadline. The span passed to
// `visit` needs to live only for that call.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "watch/model/model.h"

namespace watch::promql {

using SeriesVisitor = std::function<bool(const LabelSet& labels, std::span<const Sample> samples)>;

class Queryable {
 public:
  virtual ~Queryable() = default;
  virtual void select(const std::vector<Matcher>& matchers, std::int64_t mint_ms,
                      std::int64_t maxt_ms, const SeriesVisitor& visit) const = 0;
};

// All series in memory, a linear scan per select(). Thread-safe: adds and
// selects may run concurrently (a reader-writer lock).
class MemoryStorage : public Queryable {
 public:
  // Appends samples to the series with these labels (created on first use).
  // Samples must come in increasing time order per series; an out-of-order
  // or duplicate timestamp is dropped and counted as false.
  bool add(const LabelSet& labels, const Sample& sample);
  std::size_t add(const LabelSet& labels, const std::vector<Sample>& samples);

  std::size_t series_count() const;
  std::size_t sample_count() const;

  void select(const std::vector<Matcher>& matchers, std::int64_t mint_ms, std::int64_t maxt_ms,
              const SeriesVisitor& visit) const override;

 private:
  struct Stored {
    LabelSet labels;
    std::vector<Sample> samples;
  };
  Stored& series_for(const LabelSet& labels);  // requires mu_ held exclusively

  mutable std::shared_mutex mu_;
  std::vector<Stored> series_;                                   // guarded by mu_
  std::unordered_multimap<std::uint64_t, std::size_t> by_hash_;  // guarded by mu_
  std::size_t samples_ = 0;                                      // guarded by mu_
};

}  // namespace watch::promql
