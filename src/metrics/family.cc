#include <algorithm>
#include <functional>
#include <memory>
#include <new>
#include <vector>

#include <fmt/format.h>

#include "firebreak/metrics.h"

namespace firebreak::detail {

namespace {

std::size_t hash_values(std::span<const std::string_view> values) {
  std::size_t h = 0x9e3779b97f4a7c15ull ^ values.size();
  for (std::string_view v : values) {
    h ^= std::hash<std::string_view>{}(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  }
  return h;
}

bool same_values(const std::vector<std::string>& stored, std::span<const std::string_view> values) {
  if (stored.size() != values.size()) return false;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (stored[i] != values[i]) return false;
  }
  return true;
}

}  // namespace

// An open-addressing hash table of series that readers probe without a lock.
// Series are never removed, so a reader sees either a published slot or an
// empty one. Writers (serialised by the family mutex) grow the table by
// publishing a larger copy; old tables stay alive for readers still in them.
class SeriesIndex {
 public:
  SeriesIndex() { grow(16); }

  Series* find(std::span<const std::string_view> values, std::size_t hash) const {
    const Table* table = current_.load(std::memory_order_acquire);
    for (std::size_t i = hash & table->mask;; i = (i + 1) & table->mask) {
      Series* s = table->slots[i].load(std::memory_order_acquire);
      if (s == nullptr) return nullptr;
      if (s->hash == hash && same_values(s->values, values)) return s;
    }
  }

  // Caller holds the family mutex.
  void insert(Series* series) {
    Table* table = current_.load(std::memory_order_relaxed);
    if ((size_ + 1) * 2 > table->mask + 1) table = grow((table->mask + 1) * 2);
    place(*table, series);
    ++size_;
  }

 private:
  struct Table {
    std::size_t mask;
    std::unique_ptr<std::atomic<Series*>[]> slots;
  };

  static void place(Table& table, Series* series) {
    std::size_t i = series->hash & table.mask;
    while (table.slots[i].load(std::memory_order_relaxed) != nullptr) i = (i + 1) & table.mask;
    table.slots[i].store(series, std::memory_order_release);
  }

  Table* grow(std::size_t capacity) {
    auto table = std::make_unique<Table>();
    table->mask = capacity - 1;
    table->slots = std::make_unique<std::atomic<Series*>[]>(capacity);
    if (const Table* old = current_.load(std::memory_order_relaxed)) {
      for (std::size_t i = 0; i <= old->mask; ++i) {
        if (Series* s = old->slots[i].load(std::memory_order_relaxed)) place(*table, s);
      }
    }
    Table* raw = table.get();
    tables_.push_back(std::move(table));
    current_.store(raw, std::memory_order_release);
    return raw;
  }

  std::atomic<Table*> current_{nullptr};
  std::vector<std::unique_ptr<Table>> tables_;  // every table ever published
  std::size_t size_ = 0;
};

namespace {

std::uint32_t cells_for(MetricType type, std::size_t bounds) {
  switch (type) {
    case MetricType::kCounter:
      return 2;  // integer increments, fractional increments
    case MetricType::kHistogram:
      return static_cast<std::uint32_t>(bounds + 2);  // buckets, +Inf, sum
    case MetricType::kGauge:
      return 1;  // used only when the cells are shared
  }
  return 0;
}

}  // namespace

FamilyCore::FamilyCore(MetricType type, MetricSpec spec, std::vector<double> bounds,
                       CellArena& arena, const Clock& clock, SlotBacking* backing)
    : type_(type),
      spec_(std::move(spec)),
      bounds_(std::move(bounds)),
      cells_per_series_(cells_for(type, bounds_.size())),
      arena_(arena),
      clock_(clock),
      backing_(backing),
      index_(std::make_unique<SeriesIndex>()) {}

FamilyCore::~FamilyCore() = default;

Series* FamilyCore::series(std::span<const std::string_view> values) {
  if (values.size() != spec_.labels.size()) {
    throw MetricError(fmt::format("metric {}: expected {} label value(s) ({}), got {}", spec_.name,
                                  spec_.labels.size(), fmt::join(spec_.labels, ", "),
                                  values.size()));
  }
  const std::size_t hash = hash_values(values);
  if (Series* s = index_->find(values, hash)) return s;
  return create(values, hash);
}

Series* FamilyCore::create(std::span<const std::string_view> values, std::size_t hash) {
  std::lock_guard lock(mu_);
  if (Series* s = index_->find(values, hash)) return s;  // created while we waited

  if (sorted_.size() >= spec_.max_series) {
    overflowed_.fetch_add(1, std::memory_order_relaxed);
    if (!overflow_) {
      overflow_ =
          make_series(std::make_shared<const Labels>(Labels{{"otel_metric_overflow", "true"}}));
    }
    return overflow_.get();
  }

  auto labels = std::make_shared<Labels>();
  labels->reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i)
    labels->emplace_back(spec_.labels[i], std::string(values[i]));
  auto series = make_series(std::move(labels));
  series->values.assign(values.begin(), values.end());
  series->hash = hash;
  Series* raw = series.get();
  sorted_.emplace(raw->values, std::move(series));
  index_->insert(raw);
  return raw;
}

// Caller holds mu_.
std::unique_ptr<Series> FamilyCore::make_series(std::shared_ptr<const Labels> labels) {
  auto series = std::make_unique<Series>();
  series->labels = std::move(labels);
  series->created = clock_.wall_seconds();
  if (type_ != MetricType::kGauge || backing_) series->cells = arena_.allocate(cells_per_series_);
  // A shared gauge lives in its cell, where the other processes read it.
  if (type_ == MetricType::kGauge && backing_)
    series->value = new (static_cast<void*>(series->cells)) std::atomic<double>(0.0);
  if (backing_) backing_->published(*this, *series);
  return series;
}

namespace {

void add_point(const Series& s, MetricType type, std::size_t bounds, FamilySnapshot& out) {
  MetricPoint& p = out.points.emplace_back();
  p.labels = s.labels;
  switch (type) {
    case MetricType::kGauge:
      p.value = s.value->load(std::memory_order_relaxed);
      return;
    case MetricType::kCounter:
      p.value = static_cast<double>(shard_sum(s.cells)) + shard_sum_double(s.cells + 1);
      p.created = s.created;
      return;
    case MetricType::kHistogram: {
      p.bucket_counts.resize(bounds + 1);
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i <= bounds; ++i) {
        cumulative += shard_sum(s.cells + i);
        p.bucket_counts[i] = cumulative;
      }
      p.sum = shard_sum_double(s.cells + bounds + 1);
      p.value = static_cast<double>(cumulative);
      p.created = s.created;
      return;
    }
  }
}

}  // namespace

void FamilyCore::snapshot(FamilySnapshot& out) const {
  out.name = spec_.name;
  out.help = spec_.help;
  out.unit = spec_.unit;
  out.type = type_;
  out.bounds = bounds_;
  std::lock_guard lock(mu_);
  out.points.reserve(sorted_.size() + (overflow_ ? 1 : 0));
  for (const auto& [values, series] : sorted_) add_point(*series, type_, bounds_.size(), out);
  if (overflow_) add_point(*overflow_, type_, bounds_.size(), out);
}

}  // namespace firebreak::detail

namespace firebreak {

namespace {
detail::Series& detached_series() {
  // Default-constructed handles all write here; no scrape reads it. Enough
  // cells for any handle kind's fixed offsets (a default Histogram has no
  // finite buckets: cell 0 is +Inf, cell 1 the sum).
  static detail::Series* s = [] {
    auto* series = new detail::Series;
    series->cells = detail::CellArena::detached().allocate(2);
    return series;
  }();
  return *s;
}
}  // namespace

Counter::Counter() : cells_(detached_series().cells) {}
Gauge::Gauge() : value_(detached_series().value) {}
Histogram::Histogram() : cells_(detached_series().cells), bounds_(nullptr), bucket_count_(0) {}

std::uint64_t Histogram::count() const noexcept {
  std::uint64_t total = 0;
  for (std::uint32_t i = 0; i <= bucket_count_; ++i) total += detail::shard_sum(cells_ + i);
  return total;
}

}  // namespace firebreak
