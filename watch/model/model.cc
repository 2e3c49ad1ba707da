#include "watch/model/model.h"

#include <algorithm>

namespace watch {

LabelSet LabelSet::from(std::vector<Label> labels) {
  // Sorted and compacted in place: no allocation beyond the caller's vector.
  // Small sets (the usual case) by insertion sort, which is stable and, unlike
  // std::stable_sort, needs no temporary buffer.
  const auto by_name = [](const Label& a, const Label& b) { return a.name < b.name; };
  if (labels.size() <= 16) {
    for (std::size_t i = 1; i < labels.size(); ++i) {
      for (std::size_t j = i; j > 0 && by_name(labels[j], labels[j - 1]); --j)
        std::swap(labels[j], labels[j - 1]);
    }
  } else {
    std::stable_sort(labels.begin(), labels.end(), by_name);
  }
  // Of a repeated name the last value counts; empty values are dropped.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i + 1 < labels.size() && labels[i + 1].name == labels[i].name) continue;
    if (labels[i].value.empty()) continue;
    if (kept != i) labels[kept] = std::move(labels[i]);
    ++kept;
  }
  labels.resize(kept);
  LabelSet out;
  out.labels_ = std::move(labels);
  return out;
}

LabelSet LabelSet::from(
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  std::vector<Label> v;
  v.reserve(labels.size());
  for (const auto& [n, val] : labels) v.push_back({std::string(n), std::string(val)});
  return from(std::move(v));
}

std::string_view LabelSet::get(std::string_view name) const {
  auto it = std::lower_bound(labels_.begin(), labels_.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  return it != labels_.end() && it->name == name ? std::string_view(it->value) : std::string_view();
}

LabelSet LabelSet::with(std::string_view name, std::string_view value) const {
  LabelSet out;
  out.labels_.reserve(labels_.size() + 1);  // exactly: label sets are kept by the million
  for (const auto& l : labels_)
    if (l.name != name) out.labels_.push_back(l);
  if (value.empty()) return out;
  auto it = std::lower_bound(out.labels_.begin(), out.labels_.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  out.labels_.insert(it, Label{std::string(name), std::string(value)});
  return out;
}

LabelSet LabelSet::without(std::string_view name) const {
  LabelSet out;
  out.labels_.reserve(labels_.size());
  for (const auto& l : labels_)
    if (l.name != name) out.labels_.push_back(l);
  return out;
}

std::uint64_t LabelSet::hash() const {
  // FNV-1a over name, 0xff, value, 0xff: stable across runs and builds.
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
    h ^= 0xff;
    h *= 0x100000001b3ull;
  };
  for (const auto& l : labels_) {
    mix(l.name);
    mix(l.value);
  }
  return h;
}

namespace {

// Appends name="value" pairs, ", "-separated, in braces; values escaped as Go's %q.
void append_braces(std::string& out, const std::vector<Label>& labels, bool with_metric_name) {
  out.push_back('{');
  bool first = true;
  for (const auto& l : labels) {
    if (!with_metric_name && l.name == kMetricNameLabel) continue;
    if (!first) out.append(", ");
    first = false;
    out.append(l.name);
    out.append("=\"");
    for (char c : l.value) {
      if (c == '\\' || c == '"') out.push_back('\\');
      if (c == '\n') {
        out.append("\\n");
        continue;
      }
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
}

}  // namespace

std::string LabelSet::to_string() const {
  std::string out(metric_name());
  append_braces(out, labels_, false);
  return out;
}

std::string LabelSet::braces() const {
  std::string out;
  append_braces(out, labels_, true);
  return out;
}

std::string_view to_string(Matcher::Op op) {
  switch (op) {
    case Matcher::Op::kEqual:
      return "=";
    case Matcher::Op::kNotEqual:
      return "!=";
    case Matcher::Op::kRegexMatch:
      return "=~";
    case Matcher::Op::kRegexNoMatch:
      return "!~";
  }
  return "=";
}

}  // namespace watch
