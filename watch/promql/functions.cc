#include "watch/promql/functions.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace watch::promql::detail {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Sorts NaN first, then ascending: a strict weak order even with NaNs
// (Prometheus's vectorByValueHeap order).
bool nan_first_less(double a, double b) {
  if (std::isnan(a)) return !std::isnan(b);
  if (std::isnan(b)) return false;
  return a < b;
}
}  // namespace

void kahan_add(double inc, double& sum, double& c) {
  const double t = sum + inc;
  if (std::fabs(sum) >= std::fabs(inc)) {
    c += (sum - t) + inc;
  } else {
    c += (inc - t) + sum;
  }
  sum = t;
}

std::optional<double> extrapolated_rate(std::span<const Sample> s, std::int64_t range_start,
                                        std::int64_t range_end, bool is_counter, bool is_rate) {
  if (s.size() < 2) return std::nullopt;
  double result = s.back().v - s.front().v;
  if (is_counter) {
    double last = 0;
    for (const auto& p : s) {
      if (p.v < last) result += last;
      last = p.v;
    }
  }
  double duration_to_start = static_cast<double>(s.front().t - range_start) / 1000;
  const double duration_to_end = static_cast<double>(range_end - s.back().t) / 1000;
  const double sampled_interval = static_cast<double>(s.back().t - s.front().t) / 1000;
  const double average_between = sampled_interval / static_cast<double>(s.size() - 1);

  if (is_counter && result > 0 && s.front().v >= 0) {
    // A counter starts at zero: do not extrapolate below it.
    const double duration_to_zero = sampled_interval * (s.front().v / result);
    if (duration_to_zero < duration_to_start) duration_to_start = duration_to_zero;
  }
  const double threshold = average_between * 1.1;
  double extrapolate_to = sampled_interval;
  extrapolate_to += duration_to_start < threshold ? duration_to_start : average_between / 2;
  extrapolate_to += duration_to_end < threshold ? duration_to_end : average_between / 2;

  double factor = extrapolate_to / sampled_interval;
  if (is_rate) factor /= static_cast<double>(range_end - range_start) / 1000;
  return result * factor;
}

std::optional<double> instant_value(std::span<const Sample> s, bool is_rate) {
  if (s.size() < 2) return std::nullopt;
  const Sample& last = s[s.size() - 1];
  const Sample& prev = s[s.size() - 2];
  double result = is_rate && last.v < prev.v ? last.v : last.v - prev.v;
  const std::int64_t interval = last.t - prev.t;
  if (interval == 0) return std::nullopt;
  if (is_rate) result /= static_cast<double>(interval) / 1000;
  return result;
}

double changes(std::span<const Sample> s) {
  double n = 0;
  for (std::size_t i = 1; i < s.size(); ++i) {
    const double cur = s[i].v;
    const double prev = s[i - 1].v;
    if (cur != prev && !(std::isnan(cur) && std::isnan(prev))) ++n;
  }
  return n;
}

double resets(std::span<const Sample> s) {
  double n = 0;
  for (std::size_t i = 1; i < s.size(); ++i)
    if (s[i].v < s[i - 1].v) ++n;
  return n;
}

double avg_over_time(std::span<const Sample> s) {
  double mean = 0, count = 0, c = 0;
  for (const auto& p : s) {
    ++count;
    if (std::isinf(mean)) {
      if (std::isinf(p.v) && (mean > 0) == (p.v > 0)) continue;
      if (!std::isinf(p.v) && !std::isnan(p.v)) continue;
    }
    kahan_add(p.v / count - mean / count, mean, c);
  }
  if (std::isinf(mean)) return mean;
  return mean + c;
}

double sum_over_time(std::span<const Sample> s) {
  double sum = 0, c = 0;
  for (const auto& p : s) kahan_add(p.v, sum, c);
  if (std::isinf(sum)) return sum;
  return sum + c;
}

double min_over_time(std::span<const Sample> s) {
  double min = s.front().v;
  for (const auto& p : s)
    if (p.v < min || std::isnan(min)) min = p.v;
  return min;
}

double max_over_time(std::span<const Sample> s) {
  double max = s.front().v;
  for (const auto& p : s)
    if (p.v > max || std::isnan(max)) max = p.v;
  return max;
}

double stdvar_over_time(std::span<const Sample> s) {
  double count = 0, mean = 0, c_mean = 0, aux = 0, c_aux = 0;
  for (const auto& p : s) {
    ++count;
    const double delta = p.v - (mean + c_mean);
    kahan_add(delta / count, mean, c_mean);
    kahan_add(delta * (p.v - (mean + c_mean)), aux, c_aux);
  }
  return (aux + c_aux) / count;
}

double quantile(double q, std::vector<double>& values) {
  if (values.empty() || std::isnan(q)) return kNaN;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  std::sort(values.begin(), values.end(), nan_first_less);
  const double n = static_cast<double>(values.size());
  const double rank = q * (n - 1);
  const double lower = std::max(0.0, std::floor(rank));
  const double upper = std::min(n - 1, lower + 1);
  const double weight = rank - std::floor(rank);
  return values[static_cast<std::size_t>(lower)] * (1 - weight) +
         values[static_cast<std::size_t>(upper)] * weight;
}

double bucket_quantile(double q, std::vector<Bucket>& buckets) {
  if (std::isnan(q)) return kNaN;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  if (buckets.empty()) return kNaN;
  std::sort(buckets.begin(), buckets.end(), [](const Bucket& a, const Bucket& b) {
    return nan_first_less(a.upper_bound, b.upper_bound);
  });
  if (buckets.back().upper_bound != kInf) return kNaN;

  // Coalesce buckets with the same upper bound.
  std::size_t n = 0;
  for (std::size_t i = 1; i < buckets.size(); ++i) {
    if (buckets[i].upper_bound == buckets[n].upper_bound) {
      buckets[n].count += buckets[i].count;
    } else {
      buckets[++n] = buckets[i];
    }
  }
  buckets.resize(n + 1);

  // Ensure monotonic counts (buckets scraped at slightly different times).
  double max = -kInf;
  for (auto& b : buckets) {
    if (b.count > max) {
      max = b.count;
    } else if (b.count < max) {
      b.count = max;
    }
  }

  if (buckets.size() < 2) return kNaN;
  const double observations = buckets.back().count;
  if (observations == 0) return kNaN;
  double rank = q * observations;
  // The first bucket (not the +Inf one) whose count reaches the rank.
  // (Go's sort.Search over all but the +Inf bucket.)
  std::size_t lo = 0, hi = buckets.size() - 1;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (!(buckets[mid].count >= rank)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  const std::size_t b = lo;

  if (b == buckets.size() - 1) return buckets[buckets.size() - 2].upper_bound;
  if (b == 0 && buckets[0].upper_bound <= 0) return buckets[0].upper_bound;
  double bucket_start = 0;
  const double bucket_end = buckets[b].upper_bound;
  double count = buckets[b].count;
  if (b > 0) {
    bucket_start = buckets[b - 1].upper_bound;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  return bucket_start + (bucket_end - bucket_start) * (rank / count);
}

double go_max(double a, double b) {
  if (std::isinf(a) && a > 0) return a;
  if (std::isinf(b) && b > 0) return b;
  if (std::isnan(a) || std::isnan(b)) return kNaN;
  if (a == 0 && a == b) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}

double go_min(double a, double b) {
  if (std::isinf(a) && a < 0) return a;
  if (std::isinf(b) && b < 0) return b;
  if (std::isnan(a) || std::isnan(b)) return kNaN;
  if (a == 0 && a == b) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}

}  // namespace watch::promql::detail
