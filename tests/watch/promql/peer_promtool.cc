// Peer test: our engine against Prometheus's, through `promtool test rules`.
//
// For each case (input series in promtool's `input_series` notation, and
// expressions with evaluation times) we evaluate the expressions with our
// engine and write a promtool unit-test file whose `exp_samples` are OUR
// results; then run `promtool test rules` on it. promtool compares label sets
// exactly and values with ==, so the test passes only where Prometheus
// computes the same labels and the same doubles, to the last bit.
//
//   promql_peer_promtool --promtool /usr/bin/promtool --out DIR
//
// Curated cases cover the subset (docs/query.md) one behaviour at a time; a seeded
// random batch then mixes counters with resets, gaps and staleness markers,
// gauges and histograms under many expression shapes. NaN results cannot be
// expressed in a promtool test (NaN != NaN), so expressions are chosen not to
// produce them; a curated one that does is an error, a random one is skipped
// and counted. Exit status: promtool's (0 when every expectation holds).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "watch/promql/ast.h"
#include "watch/promql/engine.h"
#include "watch/promql/series_notation.h"

namespace {

using namespace watch::promql;

struct InputSeries {
  std::string labels;
  std::string values;
};

struct Query {
  std::string expr;
  std::string eval_time;  // promtool duration, e.g. "5m30s"
};

struct Case {
  std::string name;
  std::string interval = "1m";
  std::vector<InputSeries> series;
  std::vector<Query> queries;
  bool random = false;  // NaN results are skipped rather than fatal
};

std::string yaml_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

// A double as YAML reads it back exactly (Go's ParseFloat).
std::string yaml_double(double v) {
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

struct Stats {
  int queries = 0;
  int samples = 0;
  int empty = 0;
  int skipped_nan = 0;
  int skipped_order = 0;
};

// Results as comparable text: sorted "labels value" lines, values to the bit.
std::vector<std::string> canonical(const Vector& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.labels.to_string() + " " + fmt::format("{}", s.v));
  std::sort(out.begin(), out.end());
  return out;
}

bool write_case(std::ostream& out, const Case& c, Stats& stats) {
  const std::int64_t interval = *parse_duration(c.interval);
  // The same series in three insertion orders: Prometheus aggregates in its
  // storage's order (for promtool, an arbitrary one), so an expression whose
  // result depends on the order (float sums that round, topk among ties)
  // cannot be compared.
  MemoryStorage storages[3];
  std::vector<std::size_t> order(c.series.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (int k = 0; k < 3; ++k) {
    if (k == 1) std::reverse(order.begin(), order.end());
    if (k == 2) std::shuffle(order.begin(), order.end(), std::mt19937(42));
    for (std::size_t i : order)
      testing::load(storages[k], c.series[i].labels, c.series[i].values, interval);
  }
  Engine engine(storages[0]);
  Engine reversed(storages[1]);
  Engine shuffled(storages[2]);
  std::int64_t last_sample = 0;
  for (const auto& s : c.series) {
    auto samples = testing::expand_values(s.values, interval);
    if (!samples.empty()) last_sample = std::max(last_sample, samples.back().t);
  }

  out << "  # " << c.name << "\n";
  out << "  - interval: " << c.interval << "\n    input_series:\n";
  for (const auto& s : c.series)
    out << "      - series: " << yaml_quote(s.labels)
        << "\n        values: " << yaml_quote(s.values) << "\n";
  out << "    promql_expr_test:\n";
  for (const auto& q : c.queries) {
    const std::int64_t t = *parse_duration(q.eval_time);
    QueryResult r = engine.instant_query(q.expr, t);
    if (!r.ok()) {
      std::cerr << "case " << c.name << ": " << q.expr << " @ " << q.eval_time
                << " failed in our engine: " << r.error->message << "\n";
      return false;
    }
    Vector samples;
    if (const auto* s = std::get_if<Scalar>(&*r.value)) {
      samples.push_back(VectorSample{{}, t, s->v});
    } else if (const auto* v = std::get_if<Vector>(&*r.value)) {
      samples = *v;
    } else {
      std::cerr << "case " << c.name << ": " << q.expr << " is neither scalar nor vector\n";
      return false;
    }
    bool nan = false;
    for (const auto& s : samples) nan = nan || std::isnan(s.v);
    if (nan) {
      if (c.random) {
        ++stats.skipped_nan;
        continue;
      }
      std::cerr << "case " << c.name << ": " << q.expr << " @ " << q.eval_time
                << " gives NaN, which promtool cannot compare\n";
      return false;
    }
    bool order_dependent = false;
    for (const Engine* other : {&reversed, &shuffled}) {
      QueryResult r2 = other->instant_query(q.expr, t);
      Vector v2;
      if (const auto* s = std::get_if<Scalar>(&*r2.value)) v2.push_back(VectorSample{{}, t, s->v});
      if (const auto* v = std::get_if<Vector>(&*r2.value)) v2 = *v;
      order_dependent = order_dependent || canonical(v2) != canonical(samples);
    }
    if (order_dependent) {
      if (c.random) {
        ++stats.skipped_order;
        continue;
      }
      std::cerr << "case " << c.name << ": " << q.expr << " @ " << q.eval_time
                << " depends on the order of series; promtool's order is arbitrary\n";
      return false;
    }
    ++stats.queries;
    stats.samples += static_cast<int>(samples.size());
    if (samples.empty()) ++stats.empty;
    out << "      - expr: " << yaml_quote(q.expr) << "\n        eval_time: " << q.eval_time
        << "\n        exp_samples:";
    if (samples.empty()) {
      out << " []\n";
      continue;
    }
    out << "\n";
    for (const auto& s : samples)
      out << "          - labels: " << yaml_quote(s.labels.to_string())
          << "\n            value: " << yaml_double(s.v) << "\n";
  }
  // promtool loads samples only as far as its evaluation loop has gone (up
  // to the latest eval_time, in steps of evaluation_interval): a last query
  // past every sample makes it load them all.
  out << "      - expr: 'vector(1)'\n        eval_time: " << format_duration(last_sample + 120000)
      << "\n        exp_samples:\n          - labels: '{}'\n            value: 1\n";
  return true;
}

std::vector<Case> curated_cases() {
  std::vector<Case> cases;

  cases.push_back({
      "rate, increase, irate, delta with resets, gaps and extrapolation",
      "15s",
      {
          {"http_requests_total{job=\"api\", code=\"200\"}", "0+10x40"},
          {"http_requests_total{job=\"api\", code=\"500\"}",
           "3 7 7 12 2 5 9 1 4 4 8 _ _ 20 25 30 1 3"},
          {"http_requests_total{job=\"web\", code=\"200\"}", "_x8 100+7x20"},
          {"frac_total{job=\"api\"}", "0.1+0.1x40"},
          {"gauge{job=\"api\"}", "10 4 7 -3 8.5 2 2 11 -1 0 6 3 9"},
      },
      {
          {"rate(http_requests_total[1m])", "5m"},
          {"rate(http_requests_total[1m])", "2m7s"},
          {"rate(http_requests_total[2m])", "4m20s"},
          {"increase(http_requests_total[1m])", "1m"},
          {"increase(http_requests_total[5m])", "5m"},
          {"increase(http_requests_total[45s])", "3m10s"},
          {"rate(http_requests_total[5m] offset 1m)", "6m"},
          {"irate(http_requests_total[1m])", "1m50s"},
          {"irate(http_requests_total[1m])", "4m"},
          {"rate(frac_total[1m])", "3m"},
          {"rate(frac_total[50s])", "7m13s"},
          {"increase(frac_total[2m30s])", "9m59s"},
          {"delta(gauge[1m])", "1m"},
          {"delta(gauge[2m])", "2m53s"},
          {"idelta(gauge[1m])", "2m"},
          {"resets(http_requests_total[5m])", "5m"},
          {"changes(gauge[3m])", "3m"},
          {"sum by (job) (rate(http_requests_total[1m]))", "5m"},
          {"sum(increase(http_requests_total{code=~\"5..\"}[2m])) / "
           "sum(increase(http_requests_total[2m]))",
           "4m"},
      },
  });

  cases.push_back({
      "staleness, lookback and offset",
      "1m",
      {
          {"up{job=\"a\"}", "1 1 1 stale"},
          {"up{job=\"b\"}", "1 0 stale _ 1 1"},
          {"up{job=\"c\"}", "1"},
          {"counter_total{job=\"a\"}", "1 2 3 stale 1 2 3"},
      },
      {
          {"up", "2m"},
          {"up", "3m"},
          {"up", "3m30s"},
          {"up", "4m"},
          {"up", "5m"},  // c's only sample: exactly 5m old
          {"up", "5m1s"},
          {"up offset 2m", "4m"},
          {"up offset 1m", "3m"},
          {"count_over_time(up[10m])", "10m"},
          {"rate(counter_total[3m])", "3m"},
          {"rate(counter_total[3m])", "6m"},
          {"last_over_time(up[2m])", "4m"},
          {"present_over_time(up[1m])", "3m"},
          {"absent(up{job=\"a\"})", "3m"},
          {"absent(up{job=\"a\"})", "1m"},
          {"absent_over_time(up{job=\"a\"}[1m])", "5m"},
          {"absent_over_time(up{job=\"a\"}[3m])", "5m"},
          {"absent(nonexistent{job=\"x\", env=~\"p.*\"})", "1m"},
          {"absent((nonexistent{job=\"x\"}))", "1m"},
          {"rate((counter_total[3m]))", "3m"},
          {"timestamp(up)", "3m30s"},
          {"time() - timestamp(up{job=\"b\"})", "5m45s"},
      },
  });

  cases.push_back({
      "over_time functions",
      "30s",
      {
          {"temp{room=\"a\"}", "21 22.5 20 19.25 23 24 18.5 22 21.75 20"},
          {"temp{room=\"b\"}", "-5 -3 0 2 -1.5 4 8 -2 1 3"},
          {"bits{room=\"a\"}", "1 0 0 1 1 1 0 1 0 0"},
      },
      {
          {"avg_over_time(temp[2m])", "4m"},
          {"avg_over_time(temp[5m])", "4m30s"},
          {"sum_over_time(temp[3m])", "3m"},
          {"min_over_time(temp[2m])", "3m"},
          {"max_over_time(temp[2m])", "3m"},
          {"count_over_time(temp[2m])", "2m15s"},
          {"last_over_time(temp[1m])", "4m"},
          {"stddev_over_time(temp[3m])", "4m"},
          {"stdvar_over_time(temp[5m])", "4m30s"},
          {"quantile_over_time(0.5, temp[2m])", "4m"},
          {"quantile_over_time(0.9, temp[5m])", "4m30s"},
          {"quantile_over_time(0, temp[2m])", "2m"},
          {"changes(bits[5m])", "4m30s"},
          {"resets(bits[5m])", "4m30s"},
          {"max_over_time(bits[2m]) == 0", "4m30s"},
          {"max_over_time(bits[1m]) == 0", "4m30s"},
      },
  });

  cases.push_back({
      "histogram_quantile",
      "1m",
      {
          {"lat_bucket{route=\"/a\", le=\"0.05\"}", "0+5x10"},
          {"lat_bucket{route=\"/a\", le=\"0.1\"}", "0+9x10"},
          {"lat_bucket{route=\"/a\", le=\"0.5\"}", "0+12x10"},
          {"lat_bucket{route=\"/a\", le=\"1\"}", "0+14x10"},
          {"lat_bucket{route=\"/a\", le=\"+Inf\"}", "0+15x10"},
          {"lat_bucket{route=\"/b\", le=\"0.05\"}", "0+1x10"},
          {"lat_bucket{route=\"/b\", le=\"0.1\"}", "0+1x10"},
          {"lat_bucket{route=\"/b\", le=\"0.5\"}", "0+3x10"},
          {"lat_bucket{route=\"/b\", le=\"1\"}", "0+30x10"},
          {"lat_bucket{route=\"/b\", le=\"+Inf\"}", "0+33x10"},
          // Not monotonic, and le spelled differently.
          {"odd_bucket{le=\"1.0\"}", "10"},
          {"odd_bucket{le=\"2e0\"}", "8"},
          {"odd_bucket{le=\"5\"}", "15"},
          {"odd_bucket{le=\"+Inf\"}", "20"},
          {"neg_bucket{le=\"-1\"}", "4"},
          {"neg_bucket{le=\"0\"}", "6"},
          {"neg_bucket{le=\"+Inf\"}", "10"},
          // The same bound spelled twice: one bucket, counts added.
          {"dup_bucket{le=\"1\"}", "3"},
          {"dup_bucket{le=\"1.0\"}", "4"},
          {"dup_bucket{le=\"2\"}", "9"},
          {"dup_bucket{le=\"+Inf\"}", "10"},
      },
      {
          {"histogram_quantile(0.5, rate(lat_bucket[5m]))", "10m"},
          {"histogram_quantile(0.95, rate(lat_bucket[5m]))", "10m"},
          {"histogram_quantile(0.99, sum by (le) (rate(lat_bucket[5m])))", "10m"},
          {"histogram_quantile(0.95, sum by (le, route) (rate(lat_bucket[5m]))) > 0.5", "10m"},
          {"histogram_quantile(0.1, lat_bucket)", "7m"},
          {"histogram_quantile(1, lat_bucket)", "7m"},
          {"histogram_quantile(0, lat_bucket{route=\"/b\"})", "7m"},
          {"histogram_quantile(1.5, lat_bucket)", "7m"},
          {"histogram_quantile(-0.5, lat_bucket)", "7m"},
          {"histogram_quantile(0.3, odd_bucket)", "0s"},
          {"histogram_quantile(0.5, odd_bucket)", "0s"},
          {"histogram_quantile(0.8, odd_bucket)", "0s"},
          {"histogram_quantile(0.95, odd_bucket)", "0s"},
          {"histogram_quantile(0.2, neg_bucket)", "0s"},
          {"histogram_quantile(0.5, neg_bucket)", "0s"},
          {"histogram_quantile(0.7, neg_bucket)", "0s"},
          {"histogram_quantile(0.5, dup_bucket)", "0s"},
          {"histogram_quantile(0.8, dup_bucket)", "0s"},
      },
  });

  cases.push_back({
      "aggregations",
      "1m",
      {
          // Multiples of 60: every running mean of up to 6 of them is exact,
          // so avg, stddev and stdvar do not depend on the order Prometheus
          // happens to hold the series in.
          {"m{job=\"a\", instance=\"1\", env=\"prod\"}", "60 120 180"},
          {"m{job=\"a\", instance=\"2\", env=\"prod\"}", "180 300 480"},
          {"m{job=\"b\", instance=\"1\", env=\"prod\"}", "600 660 720"},
          {"m{job=\"b\", instance=\"2\", env=\"dev\"}", "1200 1320 1140"},
          {"m{job=\"b\", instance=\"3\", env=\"dev\"}", "1800 1860 1980"},
          {"m{job=\"c\", instance=\"1\"}", "-420 -480 60"},
          {"frac{job=\"a\"}", "0.1 0.7"},
          {"frac{job=\"b\"}", "0.2 1.3"},
      },
      {
          {"sum(m)", "2m"},
          {"sum by (job) (m)", "2m"},
          {"sum(m) by (job, env)", "2m"},
          {"sum without (instance) (m)", "2m"},
          {"avg by (job) (m)", "2m"},
          {"avg without (instance, env) (m)", "1m"},
          {"min by (env) (m)", "2m"},
          {"max without (job, instance) (m)", "2m"},
          {"count by (job) (m)", "2m"},
          {"group by (env) (m)", "2m"},
          {"stddev by (job) (m)", "2m"},
          {"stdvar(m)", "2m"},
          {"topk(2, m)", "2m"},
          {"topk by (job) (1, m)", "1m"},
          {"bottomk(2, m)", "2m"},
          {"bottomk without (instance) (1, m)", "2m"},
          {"quantile(0.5, m)", "2m"},
          {"quantile by (job) (0.9, m)", "2m"},
          {"count_values(\"value\", m)", "0s"},
          {"count_values by (job) (\"v\", m > 5)", "2m"},
          {"sum by (__name__) (m)", "2m"},
          {"sum(rate(m[2m])) by (job)", "2m"},
          {"sum(frac)", "1m"},
          {"avg(frac)", "1m"},
      },
  });

  cases.push_back({
      "arithmetic, comparisons and bool",
      "1m",
      {
          {"x{i=\"1\"}", "1 2 3"},
          {"x{i=\"2\"}", "-4 0 9.5"},
          {"y{i=\"1\"}", "2 2 2"},
          {"y{i=\"2\"}", "0.5 4 -2"},
      },
      {
          {"x + y", "2m"},
          {"x - y", "2m"},
          {"x * y", "1m"},
          {"x / y", "2m"},
          {"x % y", "2m"},
          {"y ^ 2", "2m"},
          {"-x", "2m"},
          {"x * 2 + 1", "2m"},
          {"1 - x", "2m"},
          {"2 ^ 3 ^ 2", "0s"},
          {"-2 ^ 2", "0s"},
          {"(1 + 2) * 3 % 4", "0s"},
          {"x > 1", "2m"},
          {"x > bool 1", "2m"},
          {"1 < x", "2m"},
          {"1 < bool x", "2m"},
          {"x == 3", "2m"},
          {"x != bool 3", "2m"},
          {"x >= y", "2m"},
          {"x <= bool y", "2m"},
          {"x > y", "1m"},
          {"1 == bool 1", "0s"},
          {"3 > bool 4", "0s"},
          {"x > 0 < 5", "2m"},
          {"x / 0", "0s"},
          {"x + on(i) y * 2", "2m"},
          {"x offset -1m", "1m"},
          {"x - x offset 1m", "2m"},
          {"timestamp(x offset 1m)", "2m"},
          {"scalar(x{i=\"1\"}) * y", "2m"},
          {"vector(2) + 1", "0s"},
      },
  });

  cases.push_back({
      "vector matching: on, ignoring, group_left, group_right",
      "1m",
      {
          {"requests{job=\"api\", instance=\"1\", code=\"200\"}", "100"},
          {"requests{job=\"api\", instance=\"1\", code=\"500\"}", "5"},
          {"requests{job=\"api\", instance=\"2\", code=\"200\"}", "300"},
          {"requests{job=\"web\", instance=\"1\", code=\"200\"}", "50"},
          {"capacity{job=\"api\", instance=\"1\"}", "1000"},
          {"capacity{job=\"api\", instance=\"2\"}", "400"},
          {"capacity{job=\"web\", instance=\"1\"}", "100"},
          {"target_info{job=\"api\", version=\"1.2.0\", env=\"prod\"}", "1"},
          {"target_info{job=\"web\", version=\"2.0.1\", env=\"prod\"}", "1"},
      },
      {
          {"requests / ignoring(code) group_left capacity", "0s"},
          {"requests / on(job, instance) group_left capacity", "0s"},
          {"requests * on(job) group_left(version) target_info", "0s"},
          {"requests * on(job) group_left(version, env) target_info", "0s"},
          {"target_info * on(job) group_right(version) requests", "0s"},
          {"capacity * on(job) group_left(version) target_info", "0s"},
          {"sum by (job, instance) (requests) / on(job, instance) capacity", "0s"},
          {"sum by (job, instance) (requests) / ignoring(nothing) capacity", "0s"},
          {"sum by (job, instance) (requests) > on(job, instance) capacity * 0.3", "0s"},
          {"sum by (job, instance) (requests) > bool on(job, instance) capacity * 0.3", "0s"},
          {"capacity > on(job, instance) group_left sum by (job, instance) (requests)", "0s"},
          {"requests > ignoring(code) group_left capacity * 0.2", "0s"},
          {"requests{code=\"500\"} / ignoring(code) requests{code=\"200\"}", "0s"},
      },
  });

  cases.push_back({
      "and, or, unless",
      "1m",
      {
          {"up{job=\"a\", instance=\"1\"}", "1"},
          {"up{job=\"a\", instance=\"2\"}", "0"},
          {"up{job=\"b\", instance=\"1\"}", "1"},
          {"ready{job=\"a\", instance=\"1\"}", "1"},
          {"ready{job=\"b\", instance=\"1\"}", "0"},
          {"ready{job=\"c\", instance=\"1\"}", "1"},
      },
      {
          {"up and ready", "0s"},
          {"up or ready", "0s"},
          {"up unless ready", "0s"},
          {"ready unless up", "0s"},
          {"up == 1 and ready == 0", "0s"},
          {"up and on(job) ready", "0s"},
          {"up unless on(job) ready", "0s"},
          {"up or on(job) ready", "0s"},
          {"up and ignoring(instance) ready", "0s"},
          {"up == 0 or vector(0)", "0s"},
          {"nothing or up", "0s"},
          {"up and nothing", "0s"},
          {"up unless nothing", "0s"},
          {"up and on() absent(nothing)", "0s"},
          {"up > 0 or up * 10", "0s"},
      },
  });

  cases.push_back({
      "functions on instant vectors",
      "1m",
      {
          {"v{i=\"1\", host=\"db-1.example:9100\"}", "-3.5"},
          {"v{i=\"2\", host=\"web-2.example:9100\"}", "0.25"},
          {"v{i=\"3\", host=\"web-3.example:8080\"}", "12.5"},
          {"v{i=\"4\", host=\"x\"}", "7"},
      },
      {
          {"abs(v)", "0s"},
          {"clamp(v, -1, 10)", "0s"},
          {"clamp(v, 5, 1)", "0s"},
          {"clamp_min(v, 0)", "0s"},
          {"clamp_max(v, 1)", "0s"},
          {"ceil(v)", "0s"},
          {"floor(v)", "0s"},
          {"round(v)", "0s"},
          {"round(v, 5)", "0s"},
          {"round(v, 0.5)", "0s"},
          {"sgn(v)", "0s"},
          {"sqrt(abs(v))", "0s"},
          {"scalar(v{i=\"1\"})", "0s"},
          {"vector(time())", "2m"},
          {"time()", "1m30s"},
          {"timestamp(v)", "1m"},
          {"label_replace(v, \"hostname\", \"$1\", \"host\", \"([^.]+)\\\\..*\")", "0s"},
          {"label_replace(v, \"port\", \"${2}\", \"host\", \"(.*):(.*)\")", "0s"},
          {"label_replace(v, \"i\", \"\", \"i\", \"1\")", "0s"},
          {"label_join(v, \"both\", \"/\", \"i\", \"host\")", "0s"},
          {"label_replace(v, \"t\", \"$1x-${1}y-$$-$0\", \"host\", \"([a-z]+)-.*\")", "0s"},
          {"label_replace(v, \"t\", \"x\", \"absent_label\", \"\")", "0s"},
          {"sort_desc(v)", "0s"},
      },
  });

  cases.push_back({
      "the rule pack's expressions",
      "1m",
      {
          // A worker that stops succeeding at 4m while its queue grows.
          {"worker_last_success_timestamp_seconds{job=\"w\"}",
           "0 60 120 180 240 240 240 240 240 240 240 240 240 240 240 240"},
          {"queue_depth{job=\"w\"}", "0 0 1 0 2 3 4 5 6 7 8 9 10 11 12 13"},
          // A service that never gets ready, and one that does.
          {"service_ready{job=\"s1\"}", "0x15"},
          {"service_ready{job=\"s2\"}", "0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1"},
          {"process_start_time_seconds{job=\"s1\"}", "30x15"},
          {"process_start_time_seconds{job=\"s2\"}", "30x15"},
          // Latency histogram: slow after 8m.
          {"http_server_request_duration_seconds_bucket{http_route=\"/o\", le=\"0.1\"}",
           "0+50x8 400+5x7"},
          {"http_server_request_duration_seconds_bucket{http_route=\"/o\", le=\"0.5\"}",
           "0+59x8 472+10x7"},
          {"http_server_request_duration_seconds_bucket{http_route=\"/o\", le=\"1\"}",
           "0+60x8 480+55x7"},
          {"http_server_request_duration_seconds_bucket{http_route=\"/o\", le=\"+Inf\"}",
           "0+60x8 480+60x7"},
      },
      {
          {"time() - worker_last_success_timestamp_seconds > 600 and queue_depth > 0", "14m"},
          {"time() - worker_last_success_timestamp_seconds > 600 and queue_depth > 0", "15m"},
          {"max_over_time(service_ready[10m]) == 0 and (time() - process_start_time_seconds) > 120",
           "2m"},
          {"max_over_time(service_ready[10m]) == 0 and (time() - process_start_time_seconds) > 120",
           "3m"},
          {"histogram_quantile(0.95, sum by (le, http_route) "
           "(rate(http_server_request_duration_seconds_bucket[5m]))) > 0.5",
           "7m"},
          {"histogram_quantile(0.95, sum by (le, http_route) "
           "(rate(http_server_request_duration_seconds_bucket[5m]))) > 0.5",
           "14m"},
          {"histogram_quantile(0.95, sum by (le, http_route) "
           "(rate(http_server_request_duration_seconds_bucket[5m])))",
           "11m"},
      },
  });
  return cases;
}

// --- Random cases -------------------------------------------------------------

class RandomCase {
 public:
  explicit RandomCase(unsigned seed) : rng_(seed) {}

  Case make(int index) {
    Case c;
    c.random = true;
    c.name = fmt::format("random #{}", index);
    const int interval_s = pick({10, 15, 30, 60});
    c.interval = fmt::format("{}s", interval_s);
    const int points = 40;
    const int instances = 4;

    for (int i = 0; i < instances; ++i) {
      c.series.push_back(
          {fmt::format("rc_total{{inst=\"{}\", grp=\"{}\"}}", i, i % 2), counter_values(points)});
      c.series.push_back(
          {fmt::format("rg{{inst=\"{}\", grp=\"{}\"}}", i, i % 2), gauge_values(points, i)});
    }
    // One histogram per group: cumulative buckets, at least one new
    // observation per step in +Inf (so no quantile of nothing).
    const std::vector<std::string> bounds = {"0.1", "0.25", "1", "2.5", "+Inf"};
    for (int g = 0; g < 2; ++g) {
      std::vector<std::vector<double>> cum(bounds.size(), std::vector<double>(points, 0));
      for (int p = 0; p < points; ++p) {
        double running = 0;
        for (std::size_t b = 0; b < bounds.size(); ++b) {
          running += between(0, 4) + (b + 1 == bounds.size() ? 1 : 0);
          cum[b][p] = (p ? cum[b][p - 1] : 0) + running;
        }
      }
      for (std::size_t b = 0; b < bounds.size(); ++b) {
        std::string values;
        for (int p = 0; p < points; ++p) values += fmt::format("{}{}", p ? " " : "", cum[b][p]);
        c.series.push_back(
            {fmt::format("rh_bucket{{grp=\"{}\", le=\"{}\"}}", g, bounds[b]), values});
      }
    }

    const int span_s = interval_s * (points - 1);
    for (int q = 0; q < 45; ++q) {
      const int t = between(interval_s * 4, span_s + interval_s * 6);
      c.queries.push_back({expression(interval_s), fmt::format("{}s", t)});
    }
    return c;
  }

 private:
  int between(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  template <class T>
  T pick(std::initializer_list<T> options) {
    return *(options.begin() + between(0, static_cast<int>(options.size()) - 1));
  }

  std::string counter_values(int n) {
    std::string out;
    double v = between(0, 50);
    for (int i = 0; i < n; ++i) {
      const int r = between(0, 99);
      std::string tok;
      if (r < 4) {
        tok = "_";
      } else if (r < 6) {
        tok = "stale";
      } else {
        if (r < 10) {
          v = between(0, 5);  // reset
        } else {
          v += between(0, 20) + (r % 4) * 0.25;
        }
        tok = fmt::format("{}", v);
      }
      out += (i ? " " : "") + tok;
    }
    return out;
  }

  std::string gauge_values(int n, int instance) {
    std::string out;
    for (int i = 0; i < n; ++i) {
      const int r = between(0, 99);
      std::string tok = r < 3 ? "_" : fmt::format("{}", between(-20, 40) + instance * 0.125);
      out += (i ? " " : "") + tok;
    }
    return out;
  }

  std::string range(int interval_s) {
    const int k = between(1, 12);
    const int s = interval_s * k + pick({0, 0, 7, -3});
    return format_duration(static_cast<std::int64_t>(std::max(s, 1)) * 1000);
  }

  std::string maybe_offset(int interval_s) {
    if (between(0, 4) != 0) return "";
    return " offset " +
           format_duration(static_cast<std::int64_t>(interval_s * between(1, 5)) * 1000);
  }

  std::string grouping() {
    switch (between(0, 4)) {
      case 0:
        return "";
      case 1:
        return " by (grp)";
      case 2:
        return " without (inst)";
      case 3:
        return " by (inst)";
      default:
        return " without (grp)";
    }
  }

  std::string expression(int interval_s) {
    const std::string r = range(interval_s);
    const std::string off = maybe_offset(interval_s);
    const std::string sel_c =
        "rc_total" + pick<std::string>({"", "{grp=\"0\"}", "{inst=~\"[12]\"}"});
    const std::string sel_g = "rg" + pick<std::string>({"", "{grp=\"1\"}", "{inst!=\"2\"}"});
    switch (between(0, 24)) {
      case 0:
        return fmt::format("rate({}[{}]{})", sel_c, r, off);
      case 1:
        return fmt::format("increase({}[{}]{})", sel_c, r, off);
      case 2:
        return fmt::format("irate({}[{}])", sel_c, r);
      case 3:
        return fmt::format("delta({}[{}]{})", sel_g, r, off);
      case 4:
        return fmt::format("idelta({}[{}])", sel_g, r);
      case 5:
        return fmt::format("{}_over_time({}[{}]{})",
                           pick<std::string>({"avg", "min", "max", "sum", "count", "last", "stddev",
                                              "stdvar", "present"}),
                           sel_g, r, off);
      case 6:
        return fmt::format("quantile_over_time({}, {}[{}])", pick({0.0, 0.25, 0.5, 0.9, 1.0}),
                           sel_g, r);
      case 7:
        return fmt::format("changes({}[{}]) + resets({}[{}])", sel_g, r, sel_g, r);
      case 8:
        return fmt::format(
            "{}{} ({})",
            pick<std::string>({"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"}),
            grouping(), sel_g + off);
      case 9:
        return fmt::format("{}{} ({}, {})", pick<std::string>({"topk", "bottomk"}), grouping(),
                           between(1, 3), sel_g);
      case 10:
        return fmt::format("quantile{} ({}, {})", grouping(), pick({0.1, 0.5, 0.75, 0.99}), sel_g);
      case 11:
        return fmt::format("sum{} (rate({}[{}]))", grouping(), sel_c, r);
      case 12:
        return fmt::format("histogram_quantile({}, rate(rh_bucket[{}]))",
                           pick({0.05, 0.5, 0.9, 0.95, 0.99}), r);
      case 13:
        return fmt::format("histogram_quantile({}, sum by (le) (rate(rh_bucket[{}])))",
                           pick({0.25, 0.5, 0.95}), r);
      case 14:
        return fmt::format("rg {} {}", pick<std::string>({">", "<", ">=", "<=", "==", "!="}),
                           between(-10, 30));
      case 15:
        return fmt::format("rg {} bool {}", pick<std::string>({">", "<", "==", "!="}),
                           between(-10, 30));
      case 16:
        return fmt::format("rg {} on(inst, grp) rate(rc_total[{}])",
                           pick<std::string>({"+", "-", "*", ">", "<"}), r);
      case 17:
        return fmt::format("rg * on(grp) group_left sum by (grp) (rate(rc_total[{}]))", r);
      case 18:
        return fmt::format("rg / on(grp) group_left clamp_min(max by (grp) (rg), 1)");
      case 19:
        return fmt::format("rg > 0 {} rc_total > 30", pick<std::string>({"and", "or", "unless"}));
      case 20:
        return fmt::format("{} {} on(inst) {}", sel_g, pick<std::string>({"and", "or", "unless"}),
                           sel_c);
      case 21:
        return fmt::format("absent({}) or absent_over_time({}[{}])", sel_c, sel_g, r);
      case 22:
        return fmt::format("time() - timestamp({})", sel_c);
      case 23:
        return fmt::format("{}({}, {})", pick<std::string>({"clamp_min", "clamp_max"}), sel_g,
                           between(-5, 10));
      default:
        return fmt::format("abs({} - {}) * 2 ^ 2", sel_g + off, between(0, 10));
    }
  }

  std::mt19937 rng_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string promtool = "promtool";
  std::filesystem::path out_dir = std::filesystem::temp_directory_path() / "promql_peer";
  unsigned seed = 20240601;
  int random_cases = 8;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--promtool" && i + 1 < argc) {
      promtool = argv[++i];
    } else if (a == "--out" && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (a == "--seed" && i + 1 < argc) {
      seed = static_cast<unsigned>(std::stoul(argv[++i]));
    } else if (a == "--random-cases" && i + 1 < argc) {
      random_cases = std::stoi(argv[++i]);
    } else {
      std::cerr << "usage: " << argv[0]
                << " [--promtool PATH] [--out DIR] [--seed N] [--random-cases N]\n";
      return 2;
    }
  }
  std::filesystem::create_directories(out_dir);
  const auto file = out_dir / "promql_peer_test.yml";

  std::vector<Case> cases = curated_cases();
  RandomCase gen(seed);
  for (int i = 0; i < random_cases; ++i) cases.push_back(gen.make(i));

  Stats stats;
  {
    std::ofstream out(file);
    out << "# Generated by promql_peer_promtool: exp_samples are watch's results.\n";
    out << "rule_files: []\nevaluation_interval: 1m\ntests:\n";
    for (const auto& c : cases)
      if (!write_case(out, c, stats)) return 2;
  }
  std::cout << fmt::format(
      "{} expressions ({} with no result), {} samples; random ones skipped: {} for NaN, {} for "
      "depending on series order; seed {}\n",
      stats.queries, stats.empty, stats.samples, stats.skipped_nan, stats.skipped_order, seed);
  std::cout << "promtool test rules " << file.string() << "\n" << std::flush;
  const std::string cmd = fmt::format("'{}' test rules '{}' 2>&1", promtool, file.string());
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::cerr << "promtool disagrees with watch's engine (exit " << rc << ")\n";
    return 1;
  }
  std::cout << "promtool agrees with every result\n";
  return 0;
}
