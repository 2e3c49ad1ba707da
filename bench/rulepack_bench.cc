// The rule pack (watch/rulepack) evaluated by watch's rule groups over 100
// targets' worth of series in a watch::tsdb::Head, beside the least any
// engine must do for it in the same run: select every metric the pack reads
// over the longest window the pack reads it with, touching each sample.
//
// Data (one hour, a sample every 15 s, 241 per series):
// - 40 APIs (job api-0..39): up, scrape and probe series, process start,
//   service_ready, service_time_to_ready_seconds, and
//   http_server_request_duration_seconds with 4 routes x 3 status codes
//   (200, 404, 500) x 15 buckets plus _count and _sum (204 series);
//   api-0..3 are slow on /cart, api-4 answers 5% 500s;
// - 40 workers (job worker-0..39): the same service series, a heartbeat,
//   and per queue (2) last success, depth, oldest age and
//   messaging_process_duration_seconds (2 outcomes x 15 buckets, _count,
//   _sum); worker-0..3 stall on "orders";
// - 20 check-in jobs (job cron-0..19): the tracker's job_checkin_* series;
//   cron-0 is down, cron-1 failed.
// About 12,000 series and 2.9 million samples.
//
// BM_RulePack_Eval evaluates every group of the generated pack (4 groups, 14
// rules) once per iteration at the end of the hour, as watch does each
// evaluation interval.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "watch/promql/engine.h"
#include "watch/rulepack/rule_pack.h"
#include "watch/rules/group.h"
#include "watch/rules/rule_file.h"
#include "watch/tsdb/head.h"
#include "watch/tsdb/queryable.h"

namespace {

using watch::Label;
using watch::LabelSet;
using watch::Matcher;

constexpr int kApis = 40;
constexpr int kWorkers = 40;
constexpr int kJobs = 20;
constexpr std::int64_t kStep = 15'000;
constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kNow = kHour;
constexpr int kSteps = static_cast<int>(kHour / kStep) + 1;

const char* const kBuckets[] = {"0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5",
                                "0.75",  "1",    "2.5",   "5",    "7.5",   "10",  "+Inf"};
// Upper bounds as numbers, for placing a request's latency.
const double kBounds[] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5,
                          0.75,  1,    2.5,   5,    7.5,   10,  1e300};

// A series and how its value moves with the step index.
struct Gen {
  LabelSet labels;
  std::function<double(int step)> value;
};

std::vector<Label> base(const char* name, const std::string& job, const std::string& instance) {
  return {{"__name__", name}, {"job", job}, {"instance", instance}};
}

// A histogram of `per_step` observations each step, all at `latency`.
void histogram(std::vector<Gen>& out, const std::string& name, std::vector<Label> labels,
               double per_step, double latency) {
  for (int b = 0; b < 15; ++b) {
    auto l = labels;
    l[0].value = name + "_bucket";
    l.push_back({"le", kBuckets[b]});
    const double n = latency <= kBounds[b] ? per_step : 0;
    out.push_back({LabelSet::from(std::move(l)), [n](int s) { return n * s; }});
  }
  auto c = labels;
  c[0].value = name + "_count";
  out.push_back({LabelSet::from(std::move(c)), [per_step](int s) { return per_step * s; }});
  auto sum = labels;
  sum[0].value = name + "_sum";
  out.push_back({LabelSet::from(std::move(sum)),
                 [per_step, latency](int s) { return per_step * latency * s; }});
}

void service(std::vector<Gen>& out, const std::string& job, const std::string& inst) {
  auto g = [&](const char* name, std::function<double(int)> v) {
    out.push_back({LabelSet::from(base(name, job, inst)), std::move(v)});
  };
  g("up", [](int) { return 1.0; });
  g("scrape_duration_seconds", [](int) { return 0.004; });
  g("scrape_samples_scraped", [](int) { return 250.0; });
  g("probe_success", [](int) { return 1.0; });
  g("probe_duration_seconds", [](int) { return 0.002; });
  g("process_start_time_seconds", [](int) { return -86'400.0; });
  g("service_ready", [](int) { return 1.0; });
  g("service_time_to_ready_seconds", [](int) { return 2.5; });
}

struct Data {
  watch::tsdb::Head head;
  std::vector<watch::rulepack::TargetSpec> targets;
  std::size_t series = 0;
  std::size_t samples = 0;
};

Data& data() {
  static Data* d = [] {
    auto* d = new Data;
    std::vector<Gen> gens;
    const char* routes[] = {"/orders", "/orders/{id}", "/cart", "/health"};
    for (int i = 0; i < kApis; ++i) {
      const std::string job = "api-" + std::to_string(i);
      const std::string inst = "10.0.1." + std::to_string(i) + ":9464";
      d->targets.push_back({.name = job, .workload = watch::rulepack::Workload::kApi});
      service(gens, job, inst);
      for (const char* route : routes) {
        const bool slow = i < 4 && std::string_view(route) == "/cart";
        for (const char* code : {"200", "404", "500"}) {
          const double n = code[0] == '2' ? 20 : code[0] == '4' ? 1 : (i == 4 ? 1 : 0.02);
          auto l = base("http_server_request_duration_seconds", job, inst);
          l.push_back({"http_request_method", "GET"});
          l.push_back({"http_route", route});
          l.push_back({"http_response_status_code", code});
          histogram(gens, "http_server_request_duration_seconds", std::move(l), n,
                    slow ? 0.9 : 0.03);
        }
      }
    }
    for (int i = 0; i < kWorkers; ++i) {
      const std::string job = "worker-" + std::to_string(i);
      const std::string inst = "10.0.2." + std::to_string(i) + ":9464";
      d->targets.push_back({.name = job, .workload = watch::rulepack::Workload::kWorker});
      service(gens, job, inst);
      gens.push_back({LabelSet::from(base("worker_heartbeat_timestamp_seconds", job, inst)),
                      [](int s) { return s * 15.0; }});
      for (const char* queue : {"orders", "emails"}) {
        const bool stalled = i < 4 && std::string_view(queue) == "orders";
        auto q = [&](const char* name, std::function<double(int)> v) {
          auto l = base(name, job, inst);
          l.push_back({"messaging_destination_name", queue});
          gens.push_back({LabelSet::from(std::move(l)), std::move(v)});
        };
        q("worker_last_success_timestamp_seconds",
          [stalled](int s) { return stalled ? 0.0 : s * 15.0 - 3; });
        q("queue_depth", [stalled, i](int s) { return stalled ? s : (s + i) % 4; });
        q("queue_oldest_message_age_seconds",
          [stalled](int s) { return stalled ? s * 15.0 : 2.0; });
        q("worker_active_messages", [](int) { return 1.0; });
        for (const char* outcome : {"ok", "error"}) {
          auto l = base("messaging_process_duration_seconds", job, inst);
          l.push_back({"messaging_destination_name", queue});
          l.push_back({"outcome", outcome});
          histogram(gens, "messaging_process_duration_seconds", std::move(l),
                    outcome[0] == 'o' ? 5 : 0.05, 0.04);
        }
      }
    }
    for (int i = 0; i < kJobs; ++i) {
      const std::string job = "cron-" + std::to_string(i);
      auto j = [&](const char* name, std::function<double(int)> v, const char* kind = nullptr) {
        std::vector<Label> l = {{"__name__", name}, {"job", job}};
        if (kind) l.push_back({"kind", kind});
        gens.push_back({LabelSet::from(std::move(l)), std::move(v)});
      };
      j("job_checkin_state", [i](int s) { return i == 0 && s > 100 ? 2.0 : 0.0; });
      j("job_checkin_next_expected_timestamp_seconds", [](int) { return 1'500.0; });
      j(
          "job_checkin_last_ping_timestamp_seconds", [](int) { return 0.0; }, "start");
      j(
          "job_checkin_last_ping_timestamp_seconds", [](int) { return 60.0; }, "success");
      j("job_checkin_running", [](int) { return 0.0; });
      j("job_checkin_last_duration_seconds", [](int) { return 60.0; });
      j("job_checkin_last_run_failed", [i](int) { return i == 1 ? 1.0 : 0.0; });
      j("job_checkin_run_too_long", [](int) { return 0.0; });
    }
    std::vector<watch::tsdb::SeriesRef> refs;
    for (const auto& g : gens) refs.push_back(d->head.get_or_create(g.labels).ref);
    for (int s = 0; s < kSteps; ++s) {
      for (std::size_t k = 0; k < gens.size(); ++k) {
        d->head.append(refs[k], s * kStep, gens[k].value(s));
      }
    }
    d->series = gens.size();
    d->samples = gens.size() * kSteps;
    return d;
  }();
  return *d;
}

Matcher name_is(const char* name) {
  return Matcher{"__name__", Matcher::Op::kEqual, name};
}

// The least any engine must do: every metric the pack reads, selected once
// over the longest window the pack reads it with (lookback 5m for instant
// selectors), each sample touched.
void BM_Baseline_RulePack_Select(benchmark::State& state) {
  Data& d = data();
  const watch::tsdb::HeadQueryable storage(d.head);
  struct Read {
    const char* metric;
    std::int64_t window_ms;
  };
  const Read reads[] = {
      {"up", 300'000},
      {"process_start_time_seconds", 300'000},
      {"service_ready", 300'000},
      {"service_time_to_ready_seconds", 300'000},
      {"probe_success", 300'000},
      {"http_server_request_duration_seconds_bucket", 1'800'000},  // regression [30m]
      {"http_server_request_duration_seconds_count", kHour},       // burn [1h], [6h]
      {"worker_last_success_timestamp_seconds", 300'000},
      {"worker_heartbeat_timestamp_seconds", 300'000},
      {"queue_depth", 300'000},
      {"queue_oldest_message_age_seconds", 300'000},
      {"job_checkin_state", 300'000},
      {"job_checkin_next_expected_timestamp_seconds", 300'000},
      {"job_checkin_last_run_failed", 300'000},
      {"job_checkin_run_too_long", 300'000},
      {"job_checkin_run_started_timestamp_seconds", 300'000},
  };
  std::size_t samples = 0;
  for (auto _ : state) {
    double sum = 0;
    samples = 0;
    for (const Read& r : reads) {
      storage.select({name_is(r.metric)}, kNow - r.window_ms, kNow,
                     [&](const LabelSet& labels, std::span<const watch::Sample> s) {
                       for (const auto& x : s) sum += x.v;
                       samples += s.size() + labels.size();
                       return true;
                     });
    }
    benchmark::DoNotOptimize(sum);
  }
  state.counters["series"] = static_cast<double>(d.series);
}
BENCHMARK(BM_Baseline_RulePack_Select)->Unit(benchmark::kMillisecond);

void eval_pack(benchmark::State& state, const std::vector<watch::rulepack::TargetSpec>& targets) {
  Data& d = data();
  const watch::tsdb::HeadQueryable storage(d.head);
  const watch::promql::Engine engine(storage);
  const std::string yaml = watch::rulepack::render_rule_pack(targets, {});
  const auto file = watch::rules::parse_rule_file(yaml, "firebreak.rules.yml");
  if (!file.ok()) {
    state.SkipWithError(file.errors.front().to_string().c_str());
    return;
  }
  std::vector<std::unique_ptr<watch::rules::Group>> groups;
  std::size_t rules = 0;
  std::vector<std::string> errors;
  for (const auto& spec : file.file.groups) {
    groups.push_back(std::make_unique<watch::rules::Group>(
        spec, watch::rules::GroupDeps{.query = watch::rules::engine_query_fn(engine)},
        watch::rules::GroupOptions{.default_interval_ms = 15'000}, &errors));
    rules += spec.rules.size();
  }
  if (!errors.empty()) {
    state.SkipWithError(errors.front().c_str());
    return;
  }
  std::size_t failed = 0;
  for (auto _ : state) {
    failed = 0;
    for (auto& g : groups) failed += g->eval(kNow).failed_rules;
  }
  if (failed) state.SkipWithError("a rule failed to evaluate");
  std::size_t active = 0;
  for (auto& g : groups) {
    for (const auto* r : g->alerting_rules()) active += r->active_alerts().size();
  }
  state.counters["series"] = static_cast<double>(d.series);
  state.counters["samples"] = static_cast<double>(d.samples);
  state.counters["rules"] = static_cast<double>(rules);
  state.counters["alerts"] = static_cast<double>(active);
}

void BM_RulePack_Eval(benchmark::State& state) {
  eval_pack(state, data().targets);
}
BENCHMARK(BM_RulePack_Eval)->Unit(benchmark::kMillisecond);

// Every target with thresholds of its own (queue lag, latency objective,
// regression factor, availability objective): each of those alerts is an
// `or` of one branch per target, selected by job="<name>".
void BM_RulePack_Eval_DistinctThresholds(benchmark::State& state) {
  auto targets = data().targets;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    auto& t = targets[i].thresholds;
    const auto k = static_cast<std::int64_t>(i);
    // Thresholds in the expressions; every `for` stays the default, so it
    // is still one rule per alert.
    t.queue_lag_ms += k * 1'000;
    t.latency_objective_seconds += 0.01 * static_cast<double>(i);
    t.regression_factor += 0.01 * static_cast<double>(i);
    t.availability_objective -= 0.00001 * static_cast<double>(i);
  }
  eval_pack(state, targets);
}
BENCHMARK(BM_RulePack_Eval_DistinctThresholds)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
