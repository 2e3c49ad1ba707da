#include "watch/promql/storage.h"

#include <algorithm>

#include "watch/promql/label_matcher.h"

namespace watch::promql {

MemoryStorage::Stored& MemoryStorage::series_for(const LabelSet& labels) {
  const auto h = labels.hash();
  auto [it, end] = by_hash_.equal_range(h);
  for (; it != end; ++it)
    if (series_[it->second].labels == labels) return series_[it->second];
  series_.push_back(Stored{labels, {}});
  by_hash_.emplace(h, series_.size() - 1);
  return series_.back();
}

bool MemoryStorage::add(const LabelSet& labels, const Sample& sample) {
  std::unique_lock lock(mu_);
  Stored& s = series_for(labels);
  if (!s.samples.empty() && s.samples.back().t >= sample.t) return false;
  s.samples.push_back(sample);
  ++samples_;
  return true;
}

std::size_t MemoryStorage::add(const LabelSet& labels, const std::vector<Sample>& samples) {
  std::unique_lock lock(mu_);
  Stored& s = series_for(labels);
  std::size_t added = 0;
  for (const auto& sample : samples) {
    if (!s.samples.empty() && s.samples.back().t >= sample.t) continue;
    s.samples.push_back(sample);
    ++added;
  }
  samples_ += added;
  return added;
}

std::size_t MemoryStorage::series_count() const {
  std::shared_lock lock(mu_);
  return series_.size();
}

std::size_t MemoryStorage::sample_count() const {
  std::shared_lock lock(mu_);
  return samples_;
}

void MemoryStorage::select(const std::vector<Matcher>& matchers, std::int64_t mint_ms,
                           std::int64_t maxt_ms, const SeriesVisitor& visit) const {
  auto compiled = compile_matchers(matchers);
  if (!compiled.ok()) return;  // the parser validated them; nothing matches otherwise
  std::shared_lock lock(mu_);
  for (const auto& s : series_) {
    if (!matches_all(compiled.matchers, s.labels)) continue;
    auto lo = std::lower_bound(s.samples.begin(), s.samples.end(), mint_ms,
                               [](const Sample& a, std::int64_t t) { return a.t < t; });
    auto hi = std::upper_bound(lo, s.samples.end(), maxt_ms,
                               [](std::int64_t t, const Sample& a) { return t < a.t; });
    if (lo == hi) continue;
    if (!visit(s.labels, std::span<const Sample>(&*lo, static_cast<std::size_t>(hi - lo)))) return;
  }
}

}  // namespace watch::promql
