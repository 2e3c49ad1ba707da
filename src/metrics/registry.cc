#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "firebreak/metrics.h"

namespace firebreak {

namespace {

constexpr std::string_view kOverflowFamily = "metric_series_overflow_total";

// The sample names a family writes, for collision checks ("foo_count" gauge vs
// a "foo" histogram).
std::vector<std::string> sample_names(MetricType type, const std::string& name) {
  switch (type) {
    case MetricType::kCounter:
      return {name, name + "_total", name + "_created"};
    case MetricType::kHistogram:
      return {name, name + "_bucket", name + "_sum", name + "_count", name + "_created"};
    case MetricType::kGauge:
      return {name};
  }
  return {name};
}

// Checks a spec and returns it normalised (counters lose "_total").
MetricSpec validated(MetricType type, const MetricSpec& in) {
  MetricSpec spec = in;
  if (!is_valid_metric_name(spec.name)) {
    throw MetricError(
        fmt::format("invalid metric name \"{}\": must match [a-zA-Z_:][a-zA-Z0-9_:]*", spec.name));
  }
  if (type == MetricType::kCounter && spec.name.ends_with("_total")) {
    spec.name.resize(spec.name.size() - 6);
    if (spec.name.empty()) throw MetricError("invalid counter name \"_total\"");
  }
  if (spec.name == kOverflowFamily.substr(0, kOverflowFamily.size() - 6)) {
    throw MetricError(fmt::format("metric name \"{}\" is reserved by Firebreak", in.name));
  }
  std::set<std::string_view> seen;
  for (const std::string& label : spec.labels) {
    if (!is_valid_label_name(label)) {
      throw MetricError(fmt::format(
          "metric {}: invalid label name \"{}\": must match [a-zA-Z_][a-zA-Z0-9_]* and not start "
          "with \"__\"",
          in.name, label));
    }
    if (type == MetricType::kHistogram && label == "le") {
      throw MetricError(
          fmt::format("metric {}: label \"le\" is reserved for histogram buckets", in.name));
    }
    if (!seen.insert(label).second)
      throw MetricError(fmt::format("metric {}: label \"{}\" declared twice", in.name, label));
  }
  if (!spec.unit.empty()) {
    if (!is_valid_label_name(spec.unit) || spec.unit.find(':') != std::string::npos) {
      throw MetricError(fmt::format("metric {}: invalid unit \"{}\"", in.name, spec.unit));
    }
    if (!spec.name.ends_with("_" + spec.unit)) {
      throw MetricError(fmt::format("metric {}: a metric with unit \"{}\" must be named *_{}{}",
                                    in.name, spec.unit, spec.unit,
                                    type == MetricType::kCounter ? "_total" : ""));
    }
  }
  if (spec.max_series == 0)
    throw MetricError(fmt::format("metric {}: max_series must be at least 1", in.name));
  return spec;
}

std::vector<double> validated_buckets(const HistogramSpec& spec) {
  std::vector<double> bounds = spec.buckets;
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      throw MetricError(
          fmt::format("metric {}: bucket bound {} is not finite", spec.name, bounds[i]));
    }
    if (i > 0 && !(bounds[i] > bounds[i - 1])) {
      throw MetricError(fmt::format("metric {}: bucket bounds must increase strictly ({} after {})",
                                    spec.name, bounds[i], bounds[i - 1]));
    }
  }
  return bounds;
}

}  // namespace

std::string_view to_string(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "unknown";
}

struct Registry::Entry {
  MetricType type;
  MetricSpec spec;
  std::vector<double> bounds;
  std::unique_ptr<CounterFamily> counter;
  std::unique_ptr<GaugeFamily> gauge;
  std::unique_ptr<HistogramFamily> histogram;
  std::function<double()> callback;  // set for callback metrics

  void snapshot(FamilySnapshot& out) const {
    if (counter) return counter->core_.snapshot(out);
    if (gauge) return gauge->core_.snapshot(out);
    if (histogram) return histogram->core_.snapshot(out);
    out.name = spec.name;
    out.help = spec.help;
    out.unit = spec.unit;
    out.type = type;
    MetricPoint& p = out.points.emplace_back();
    static const auto kNoLabels = std::make_shared<const Labels>();
    p.labels = kNoLabels;
    p.value = callback();
  }

  std::uint64_t overflowed() const {
    if (counter) return counter->overflowed();
    if (gauge) return gauge->overflowed();
    if (histogram) return histogram->overflowed();
    return 0;
  }
};

void Registry::check_sample_names(MetricType type, const std::string& name,
                                  const std::string& as_given) const {
  if (families_.count(name))
    throw MetricError(fmt::format("metric {} is already registered", as_given));
  for (const std::string& sample : sample_names(type, name)) {
    for (const auto& [other, entry] : families_) {
      for (const std::string& taken : sample_names(entry->type, other)) {
        if (taken == sample) {
          throw MetricError(
              fmt::format("metric {} would write sample {}, which {} {} already writes", as_given,
                          sample, to_string(entry->type), other));
        }
      }
    }
  }
}

Registry::Registry(RegistryOptions options)
    : clock_(*options.clock), slot_(options.slot), arena_(options.slot) {}
Registry::~Registry() = default;

template <class F>
F& Registry::add_family(MetricType type, const MetricSpec& in, std::vector<double> bounds) {
  MetricSpec spec = validated(type, in);
  std::lock_guard lock(mu_);
  if (auto it = families_.find(spec.name); it != families_.end()) {
    Entry& e = *it->second;
    const bool same = e.type == type && e.spec.labels == spec.labels && e.bounds == bounds &&
                      e.spec.unit == spec.unit && !e.callback;
    if (!same) {
      throw MetricError(fmt::format(
          "metric {} is already registered as a {} with labels ({}){}; cannot register it as a "
          "{} with labels ({})",
          in.name, to_string(e.type), fmt::join(e.spec.labels, ", "),
          e.callback ? " (callback)" : "", to_string(type), fmt::join(spec.labels, ", ")));
    }
    if constexpr (std::is_same_v<F, CounterFamily>) return *e.counter;
    if constexpr (std::is_same_v<F, GaugeFamily>) return *e.gauge;
    if constexpr (std::is_same_v<F, HistogramFamily>) return *e.histogram;
  }
  check_sample_names(type, spec.name, in.name);
  auto entry = std::make_unique<Entry>();
  entry->type = type;
  entry->spec = spec;
  entry->bounds = bounds;
  F* family = new F(type, spec, std::move(bounds), arena_, clock_, slot_);
  if constexpr (std::is_same_v<F, CounterFamily>) entry->counter.reset(family);
  if constexpr (std::is_same_v<F, GaugeFamily>) entry->gauge.reset(family);
  if constexpr (std::is_same_v<F, HistogramFamily>) entry->histogram.reset(family);
  families_.emplace(spec.name, std::move(entry));
  return *family;
}

CounterFamily& Registry::counter(const CounterSpec& spec) {
  return add_family<CounterFamily>(MetricType::kCounter, spec, {});
}

GaugeFamily& Registry::gauge(const GaugeSpec& spec) {
  return add_family<GaugeFamily>(MetricType::kGauge, spec, {});
}

HistogramFamily& Registry::histogram(const HistogramSpec& spec) {
  return add_family<HistogramFamily>(MetricType::kHistogram, spec.base(), validated_buckets(spec));
}

void Registry::add_callback(MetricType type, const MetricSpec& in, std::function<double()> read) {
  MetricSpec unlabelled = in;
  unlabelled.labels.clear();
  auto entry = std::make_unique<Entry>();
  entry->type = type;
  entry->spec = validated(type, unlabelled);
  entry->callback = std::move(read);
  std::lock_guard lock(mu_);
  check_sample_names(type, entry->spec.name, in.name);
  families_.emplace(entry->spec.name, std::move(entry));
}

void Registry::gauge_callback(const GaugeSpec& spec, std::function<double()> read) {
  add_callback(MetricType::kGauge, spec, std::move(read));
}

void Registry::counter_callback(const CounterSpec& spec, std::function<double()> read) {
  add_callback(MetricType::kCounter, spec, std::move(read));
}

std::uint64_t Registry::add_collector(CollectFn collect) {
  std::lock_guard lock(mu_);
  const std::uint64_t id = next_collector_id_++;
  collectors_.emplace(id, std::make_shared<const CollectFn>(std::move(collect)));
  return id;
}

void Registry::remove_collector(std::uint64_t id) {
  std::lock_guard lock(mu_);
  collectors_.erase(id);
}

std::vector<FamilySnapshot> Registry::collect() const {
  std::vector<const Entry*> entries;
  std::vector<std::shared_ptr<const CollectFn>> collectors;  // no copy of the functions
  {
    // Families are never removed, so the pointers outlive the lock; user
    // callbacks run outside it so they may use the registry themselves.
    std::lock_guard lock(mu_);
    entries.reserve(families_.size());
    for (const auto& [name, entry] : families_) entries.push_back(entry.get());
    for (const auto& [id, fn] : collectors_) collectors.push_back(fn);
  }
  std::vector<FamilySnapshot> out;
  out.reserve(entries.size() + collectors.size() + 1);
  FamilySnapshot overflow{.name = "metric_series_overflow",
                          .help =
                              "Label sets refused by a family's series limit and recorded "
                              "into its overflow series.",
                          .type = MetricType::kCounter};
  for (const Entry* e : entries) {
    // Series in a shared slot reach a scrape merged with the other
    // processes' (MultiprocessRegion::collect), not from here.
    if (slot_ && !e->callback) continue;
    e->snapshot(out.emplace_back());
    if (const std::uint64_t n = e->overflowed()) {
      MetricPoint& p = overflow.points.emplace_back();
      p.labels = std::make_shared<const Labels>(Labels{{"metric", e->spec.name}});
      p.value = static_cast<double>(n);
    }
  }
  if (!overflow.points.empty()) out.push_back(std::move(overflow));
  for (const auto& collect : collectors) (*collect)(out);
  std::stable_sort(out.begin(), out.end(), [](const FamilySnapshot& a, const FamilySnapshot& b) {
    return a.name < b.name;
  });
  return out;
}

}  // namespace firebreak
