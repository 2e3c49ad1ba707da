// Test support: series in promtool's `input_series` notation, loaded into a
// MemoryStorage, so that unit tests and the promtool peer test describe data
// the same way Prometheus's own tests do.
//
//   load(storage, "http_requests_total{job=\"api\"}", "0+10x5 stale 100 _x2 7", 15000);
//
// Values, one per interval starting at t=0: a number; `a+bxn` (a, a+b, ...,
// a+n*b); `a-bxn`; `axn` (a, n+1 times); `_` (no sample) and `_xn`; `stale`
// (a staleness marker).
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "watch/model/model.h"
#include "watch/promql/format.h"
#include "watch/promql/parser.h"
#include "watch/promql/storage.h"

namespace watch::promql::testing {

inline LabelSet parse_labels(std::string_view series) {
  auto r = parse_selector(series);
  if (!r.ok()) throw std::invalid_argument("bad series: " + r.error->to_string());
  std::vector<Label> labels;
  for (const auto& m : r.matchers) {
    if (m.op != Matcher::Op::kEqual) throw std::invalid_argument("series labels must use =");
    labels.push_back({m.name, m.value});
  }
  return LabelSet::from(std::move(labels));
}

// The samples of a values string, at 0, interval, 2*interval...
inline std::vector<Sample> expand_values(std::string_view values, std::int64_t interval_ms) {
  std::vector<std::optional<double>> points;
  std::size_t i = 0;
  auto number = [](std::string_view s) {
    auto v = parse_go_float(s);
    if (!v) throw std::invalid_argument("bad number in series values: " + std::string(s));
    return *v;
  };
  while (i < values.size()) {
    while (i < values.size() && values[i] == ' ') ++i;
    if (i >= values.size()) break;
    std::size_t j = values.find(' ', i);
    if (j == std::string_view::npos) j = values.size();
    std::string_view tok = values.substr(i, j - i);
    i = j;
    if (tok == "stale") {
      points.push_back(stale_nan());
      continue;
    }
    const std::size_t x = tok.find('x');
    if (x == std::string_view::npos) {
      if (tok == "_") {
        points.push_back(std::nullopt);
      } else {
        points.push_back(number(tok));
      }
      continue;
    }
    const int n = std::stoi(std::string(tok.substr(x + 1)));
    std::string_view head = tok.substr(0, x);
    if (head == "_") {
      for (int k = 0; k < n; ++k) points.push_back(std::nullopt);
      continue;
    }
    // a+b or a-b (the sign of a may lead).
    std::size_t op = head.find_first_of("+-", 1);
    if (op == std::string_view::npos) {
      const double a = number(head);
      for (int k = 0; k <= n; ++k) points.push_back(a);
      continue;
    }
    double a = number(head.substr(0, op));
    double b = number(head.substr(op + 1));
    if (head[op] == '-') b = -b;
    // Accumulated, as Prometheus's series description parser does.
    points.push_back(a);
    for (int k = 1; k <= n; ++k) points.push_back(a += b);
  }
  std::vector<Sample> out;
  for (std::size_t k = 0; k < points.size(); ++k)
    if (points[k]) out.push_back(Sample{static_cast<std::int64_t>(k) * interval_ms, *points[k]});
  return out;
}

inline void load(MemoryStorage& storage, std::string_view series, std::string_view values,
                 std::int64_t interval_ms) {
  storage.add(parse_labels(series), expand_values(values, interval_ms));
}

}  // namespace watch::promql::testing
