// The data model every part of watch shares: label sets, samples, matchers.
// Values and semantics follow Prometheus (model/labels, model/value).
//
//   watch::LabelSet ls = watch::LabelSet::from({{"__name__", "up"}, {"job", "shop-api"}});
//   ls.get("job");          // "shop-api"
//   ls.metric_name();       // "up"
//
// Thread-safety: values; const methods are safe to share.
#pragma once

#include <bit>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace watch {

inline constexpr std::string_view kMetricNameLabel = "__name__";

struct Label {
  std::string name;
  std::string value;
  friend bool operator==(const Label&, const Label&) = default;
  friend auto operator<=>(const Label&, const Label&) = default;
};

// A set of labels, sorted by name, names unique, no empty values (a label
// with an empty value is the same as no label, as in Prometheus).
class LabelSet {
 public:
  LabelSet() = default;
  // Sorts, drops empty values; a repeated name keeps the last value.
  static LabelSet from(std::vector<Label> labels);
  static LabelSet from(std::initializer_list<std::pair<std::string_view, std::string_view>> labels);

  const std::vector<Label>& labels() const { return labels_; }

  // For decoders that reuse storage (the head unpacking its compact form):
  // takes labels already sorted by name, names unique, values non-empty
  // (not checked), and gives the vector back.
  static LabelSet adopt_sorted(std::vector<Label> labels) {
    LabelSet out;
    out.labels_ = std::move(labels);
    return out;
  }
  std::vector<Label> release() && { return std::move(labels_); }
  std::size_t size() const { return labels_.size(); }
  bool empty() const { return labels_.empty(); }
  auto begin() const { return labels_.begin(); }
  auto end() const { return labels_.end(); }

  // The value of a label, "" when absent.
  std::string_view get(std::string_view name) const;
  bool has(std::string_view name) const { return !get(name).empty(); }
  std::string_view metric_name() const { return get(kMetricNameLabel); }

  // Copies with one label set (an empty value removes it), or removed.
  LabelSet with(std::string_view name, std::string_view value) const;
  LabelSet without(std::string_view name) const;
  LabelSet without_metric_name() const { return without(kMetricNameLabel); }

  // Stable 64-bit hash of the whole set (for maps and series ids).
  std::uint64_t hash() const;

  // Prometheus's text form: {__name__="up", job="x"} as up{job="x"}.
  std::string to_string() const;
  // Go's labels.String(): every label in braces, {__name__="up", job="x"}.
  std::string braces() const;

  friend bool operator==(const LabelSet&, const LabelSet&) = default;
  friend auto operator<=>(const LabelSet&, const LabelSet&) = default;

 private:
  std::vector<Label> labels_;
};

// One sample: milliseconds since the Unix epoch (Prometheus's resolution) and a value.
struct Sample {
  std::int64_t t = 0;
  double v = 0;
  friend bool operator==(const Sample&, const Sample&) = default;
};

// Prometheus's staleness marker: a special NaN written when a series
// disappears from a scrape or its target goes down. Tell it from an ordinary
// NaN by its bits.
inline constexpr std::uint64_t kStaleNaNBits = 0x7ff0000000000002ull;
inline double stale_nan() {
  return std::bit_cast<double>(kStaleNaNBits);
}
inline bool is_stale_nan(double v) {
  return std::bit_cast<std::uint64_t>(v) == kStaleNaNBits;
}

// A label matcher: =, !=, =~, !~ (regexes fully anchored, Go's syntax as
// Prometheus's).
struct Matcher {
  enum class Op { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };
  std::string name;
  Op op = Op::kEqual;
  std::string value;
};

// "=", "!=", "=~" or "!~".
std::string_view to_string(Matcher::Op op);

}  // namespace watch
