// promtool's input_series notation: a series in PromQL's metric syntax and
// its values in the "expanding notation", one value per interval from t=0.
//
//   auto labels = watch::rules::parse_series_labels("up{job=\"api\"}");
//   auto samples = watch::rules::expand_series_values("1+1x3 _ stale 5x2 _x2", 60000);
//   // 1 2 3 4 at 0..3m, nothing at 4m, a staleness marker at 5m, 5 5 5 at 6..8m
//
// Values: a number (Go syntax, Inf, NaN); `a+bxn` / `a-bxn` (n+1 values a,
// a+b, ..., a+n*b); `axn` (a, n+1 times); `_` (no sample); `_xn` (n times no
// sample); `stale` (a staleness marker).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "watch/model/model.h"

namespace watch::rules {

struct SeriesParse {
  LabelSet labels;
  std::vector<Sample> samples;
  std::string error;  // empty when ok
};

// Labels of `name{a="b"}`; error set when not a plain metric with = matchers.
SeriesParse parse_series_labels(std::string_view series);
// Samples at 0, interval_ms, 2*interval_ms, ...; error set on bad syntax.
SeriesParse expand_series_values(std::string_view values, std::int64_t interval_ms);

}  // namespace watch::rules
