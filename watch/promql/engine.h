// The PromQL evaluator: instant and range queries over a Queryable
// (storage.h), with Prometheus 2.x semantics for the subset parser.h accepts.
//
//   watch::promql::Engine engine(storage);
//   auto r = engine.instant_query("sum by (job) (rate(http_requests_total[5m]))", now_ms);
//   auto m = engine.range_query("up", now_ms - 3600000, now_ms, 15000);
//   std::string body = watch::promql::render_query_result(r);   // api_json.h
//
// Semantics, as Prometheus 2.x (checked against promtool 2.42 by the peer
// test in tests/watch/promql/peer_promtool.cc):
// - an instant selector takes, per series, the latest sample in
//   [t - offset - lookback delta (5m), t - offset], both ends included; a
//   staleness marker as that sample ends the series there;
// - a range selector takes the samples in [t - offset - range, t - offset],
//   both ends included (Prometheus 3 made the start exclusive), staleness
//   markers left out;
// - rate/increase/delta extrapolate as Prometheus's extrapolatedRate;
//   histogram_quantile as its bucketQuantile; aggregations, vector matching,
//   metric-name dropping, label handling and error messages as its engine.
// Instant vectors come in the order the Queryable hands series over (as in
// Prometheus, which does not sort either: a float sum over many series can
// differ in its last bits with the order); range queries' matrices are
// sorted by labels. A range query evaluates the expression at start,
// start + step, ... up to end and returns a matrix; its expression must be a
// scalar or an instant vector.
//
// Bounded: a query fails (never hangs or exhausts memory) when it would load
// more than max_samples samples, or when its deadline passes (checked
// between steps, series and selections). Errors come back in the result;
// nothing is thrown for a bad query.
//
// Thread-safety: an Engine is immutable; run queries from any number of
// threads at once (the Queryable must allow concurrent selects).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "watch/promql/ast.h"
#include "watch/promql/parser.h"
#include "watch/promql/storage.h"
#include "watch/promql/value.h"

namespace watch::promql {

struct EngineOptions {
  std::int64_t lookback_delta_ms = 5 * 60 * 1000;
  // Samples loaded from storage, plus points in a range query's result.
  std::size_t max_samples = 50'000'000;
  std::chrono::milliseconds timeout{2 * 60 * 1000};
  // Points per series in a range query (Prometheus's API allows 11,000).
  std::size_t max_steps = 11'000;
  ParseOptions parse;
};

struct QueryOptions {
  // When the query must have finished; by default now + EngineOptions::timeout.
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

class Engine {
 public:
  explicit Engine(const Queryable& storage, EngineOptions options = {});

  // The value of `query` at t_ms: scalar, string, vector or (for a range
  // selector) matrix. Vector samples carry t_ms as their time.
  QueryResult instant_query(std::string_view query, std::int64_t t_ms,
                            const QueryOptions& options = {}) const;
  QueryResult instant_query(const Expr& expr, std::int64_t t_ms,
                            const QueryOptions& options = {}) const;

  // A matrix: the expression at each step from start_ms to end_ms (both
  // included when on the grid). step_ms > 0, end_ms >= start_ms.
  QueryResult range_query(std::string_view query, std::int64_t start_ms, std::int64_t end_ms,
                          std::int64_t step_ms, const QueryOptions& options = {}) const;
  QueryResult range_query(const Expr& expr, std::int64_t start_ms, std::int64_t end_ms,
                          std::int64_t step_ms, const QueryOptions& options = {}) const;

  const EngineOptions& options() const { return options_; }

 private:
  const Queryable& storage_;
  EngineOptions options_;
};

}  // namespace watch::promql
