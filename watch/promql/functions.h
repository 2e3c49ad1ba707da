// Internal: the numeric kernels of PromQL's functions and aggregations, as
// Prometheus 2.x computes them (promql/functions.go, promql/quantile.go,
// promql/aggregations), so that results agree to the last bit where the
// inputs allow it. Used by engine.cc; unit-tested directly.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "watch/model/model.h"

namespace watch::promql::detail {

// rate() (is_counter, is_rate), increase() (is_counter), delta() (neither):
// the change over [range_start, range_end] extrapolated as Prometheus's
// extrapolatedRate. std::nullopt with fewer than two samples.
std::optional<double> extrapolated_rate(std::span<const Sample> samples, std::int64_t range_start,
                                        std::int64_t range_end, bool is_counter, bool is_rate);

// irate() (is_rate) and idelta(): from the last two samples.
std::optional<double> instant_value(std::span<const Sample> samples, bool is_rate);

double changes(std::span<const Sample> samples);
double resets(std::span<const Sample> samples);

double avg_over_time(std::span<const Sample> samples);
double sum_over_time(std::span<const Sample> samples);
double min_over_time(std::span<const Sample> samples);
double max_over_time(std::span<const Sample> samples);
double stdvar_over_time(std::span<const Sample> samples);

// The q-quantile of values by linear interpolation (sorts `values`); NaN
// when empty, -Inf for q < 0, +Inf for q > 1.
double quantile(double q, std::vector<double>& values);

struct Bucket {
  double upper_bound;
  double count;
};
// histogram_quantile() over one histogram's classic buckets (sorted and
// modified in place): NaN without a +Inf bucket or with fewer than two
// buckets; counts made monotonic; linear interpolation within a bucket.
double bucket_quantile(double q, std::vector<Bucket>& buckets);

// Go's math.Max / math.Min (NaN wins; +0 > -0).
double go_max(double a, double b);
double go_min(double a, double b);

// Neumaier's compensated summation step, as Prometheus's kahanSumInc.
void kahan_add(double inc, double& sum, double& c);

}  // namespace watch::promql::detail
