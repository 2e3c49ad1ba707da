// watch's scrape parser and TSDB head, each figure beside a baseline measured
// in the same run:
// - parsing a 100k-sample body, against the kit's serializer producing that
//   same body (firebreak::write_exposition): parsing should cost about what
//   writing costs;
// - ingest into the head (samples/s), by ref and by label set;
// - alert dispatch: routing and mute checks per alert at 10,000 alerts, 50
//   routes, 20 silences and 10 inhibit rules, against hashing the alert's
//   labels;
// - memory after 2 hours of 15 s samples for 10,000 series (counters growing
//   irregularly and gauges): bytes per sample and per series, as counters,
//   next to 16 bytes a sample uncompressed (int64 time + double).
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <malloc.h>
#include <yaml-cpp/yaml.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "firebreak/clock.h"
#include "firebreak/exposition.h"
#include "firebreak/metrics.h"
#include "watch/alerting/delivery.h"
#include "watch/relabel/relabel.h"
#include "watch/routing/routing.h"
#include "watch/scrape/parser.h"
#include "watch/tsdb/chunk.h"
#include "watch/tsdb/db.h"
#include "watch/tsdb/head.h"

namespace {

using firebreak::ExpositionFormat;
using watch::LabelSet;
using watch::tsdb::AppendStatus;
using watch::tsdb::Head;
using watch::tsdb::SeriesRef;

// ---------------------------------------------------------------------------
// Parsing

// A registry whose scrape holds exactly 100,000 samples, shaped like a busy
// API's: request counters by route and status, latency histograms by route
// (14 buckets + +Inf + count + sum), and gauges.
const firebreak::Registry& registry_100k() {
  static const firebreak::Registry* r = [] {
    auto* reg = new firebreak::Registry;
    auto& requests = reg->counter({.name = "http_server_requests_total",
                                   .help = "Requests by route and status.",
                                   .labels = {"http_route", "http_response_status_code"},
                                   .max_series = 100000});
    for (int route = 0; route < 6000; ++route)
      for (int status = 0; status < 10; ++status)
        requests.labels("/api/v1/orders/" + std::to_string(route), std::to_string(200 + status))
            .inc(route * 13 + status * 7 + 0.5);
    auto& latency = reg->histogram({.name = "http_server_request_duration_seconds",
                                    .help = "Latency by route.",
                                    .labels = {"http_route"},
                                    .max_series = 100000});
    for (int route = 0; route < 2000; ++route) {
      auto h = latency.labels("/api/v1/orders/" + std::to_string(route));
      for (int i = 0; i < 10; ++i) h.observe(0.001 * (route % 50) * i);
    }
    auto& depth = reg->gauge({.name = "queue_depth",
                              .help = "Messages waiting.",
                              .labels = {"messaging_destination_name"},
                              .max_series = 100000});
    for (int q = 0; q < 6000; ++q) depth.labels("queue-" + std::to_string(q)).set(q % 97);
    return reg;
  }();
  return *r;
}

const std::vector<firebreak::FamilySnapshot>& snapshot_100k() {
  static const auto* s = new std::vector<firebreak::FamilySnapshot>(registry_100k().collect());
  return *s;
}

const std::string& body_100k(ExpositionFormat format) {
  static const std::string* text = [] {
    auto* s = new std::string;
    firebreak::write_exposition(snapshot_100k(), ExpositionFormat::kPrometheusText, *s);
    return s;
  }();
  static const std::string* om = [] {
    auto* s = new std::string;
    firebreak::write_exposition(snapshot_100k(), ExpositionFormat::kOpenMetrics, *s);
    return s;
  }();
  return format == ExpositionFormat::kPrometheusText ? *text : *om;
}

// This thread's CPU time: both sides of the parse/serialize ratio are
// measured with it, so the ratio holds on a loaded machine.
double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Median CPU time of the kit writing the body, measured in this process.
double serialize_ns(ExpositionFormat format) {
  std::vector<double> runs;
  std::string out;
  for (int i = 0; i < 7; ++i) {
    out.clear();
    const double start = thread_cpu_ns();
    firebreak::write_exposition(snapshot_100k(), format, out);
    benchmark::DoNotOptimize(out.data());
    runs.push_back(thread_cpu_ns() - start);
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

// The baseline: the kit's serializer writing the same 100k samples.
void BM_Baseline_Serialize_Text100k(benchmark::State& state) {
  const auto& families = snapshot_100k();  // built outside the timing
  std::string out;
  for (auto _ : state) {
    out.clear();
    firebreak::write_exposition(families, ExpositionFormat::kPrometheusText, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
  state.SetItemsProcessed(state.iterations() * 100000);
  state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_Baseline_Serialize_Text100k)->Unit(benchmark::kMillisecond);

void parse_whole(benchmark::State& state, ExpositionFormat format) {
  const std::string& body = body_100k(format);
  const auto wf = format == ExpositionFormat::kPrometheusText
                      ? watch::scrape::Format::kPrometheusText
                      : watch::scrape::Format::kOpenMetrics;
  const double baseline = serialize_ns(format);
  std::size_t samples = 0;
  const double start = thread_cpu_ns();
  for (auto _ : state) {
    auto r = watch::scrape::parse_exposition(body, wf);
    samples = r.samples.size();
    benchmark::DoNotOptimize(r.samples.data());
  }
  const double per_parse_ns = (thread_cpu_ns() - start) / static_cast<double>(state.iterations());
  // The text body holds 100k samples; OpenMetrics adds a _created line per
  // counter and histogram series (162k samples).
  if (format == ExpositionFormat::kPrometheusText && samples != 100000)
    state.SkipWithError("the body does not hold 100k samples");
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(samples));
  state.counters["samples"] = static_cast<double>(samples);
  state.counters["bytes"] = static_cast<double>(body.size());
  // The kit writing the same body, and parse time over it (CPU time, same run).
  state.counters["serialize_ms"] = baseline / 1e6;
  state.counters["parse_over_serialize"] = per_parse_ns / baseline;
}

// parse_exposition(): every sample's LabelSet built (what a scrape without a
// cache pays).
void BM_Parse_Text100k(benchmark::State& state) {
  parse_whole(state, ExpositionFormat::kPrometheusText);
}
BENCHMARK(BM_Parse_Text100k)->Unit(benchmark::kMillisecond);

void BM_Parse_OpenMetrics100k(benchmark::State& state) {
  parse_whole(state, ExpositionFormat::kOpenMetrics);
}
BENCHMARK(BM_Parse_OpenMetrics100k)->Unit(benchmark::kMillisecond);

// The streaming parser alone: what a scrape loop with a series cache pays
// (labels as views, no LabelSet per sample).
void BM_Parse_Text100k_Streaming(benchmark::State& state) {
  const std::string& body = body_100k(ExpositionFormat::kPrometheusText);
  std::size_t samples = 0;
  for (auto _ : state) {
    watch::scrape::ExpositionParser p(body, watch::scrape::Format::kPrometheusText);
    double sum = 0;
    while (p.next()) sum += p.value() + static_cast<double>(p.series_key().size());
    benchmark::DoNotOptimize(sum);
    samples = p.samples_read();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(samples));
}
BENCHMARK(BM_Parse_Text100k_Streaming)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------
// Ingest

LabelSet series_labels(int i) {
  return LabelSet::from({{"__name__", i % 2 ? "http_server_requests_total" : "queue_depth"},
                         {"job", "shop-api"},
                         {"instance", "10.0.0." + std::to_string(i % 50) + ":9464"},
                         {"http_route", "/api/v1/orders/" + std::to_string(i / 50)}});
}

// One thread appends by ref (what a scrape loop does with its series cache):
// one sample per series per "scrape", 10,000 series, 15 s apart.
void BM_Ingest(benchmark::State& state) {
  constexpr int kSeries = 10000;
  Head head;
  std::vector<SeriesRef> refs;
  for (int i = 0; i < kSeries; ++i) refs.push_back(head.get_or_create(series_labels(i)).ref);
  std::int64_t t = 1767225600000;
  double v = 0;
  int i = 0;
  for (auto _ : state) {
    if (head.append(refs[i], t, v) != AppendStatus::kOk) state.SkipWithError("append failed");
    v += 1.5;
    if (++i == kSeries) {
      i = 0;
      t += 15000;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_per_sample"] = head.stats().bytes_per_sample();
}
BENCHMARK(BM_Ingest);

// Two threads, each with its own series (two targets scraped at once).
void BM_Ingest_2Writers(benchmark::State& state) {
  constexpr int kSeries = 5000;
  static Head* head = nullptr;
  if (state.thread_index() == 0) head = new Head;
  // Series are created in the first iteration round below; wait for thread 0.
  std::vector<SeriesRef> refs;
  std::int64_t t = 1767225600000;
  int i = 0;
  bool ready = false;
  for (auto _ : state) {
    if (!ready) {
      state.PauseTiming();
      for (int s = 0; s < kSeries; ++s)
        refs.push_back(head->get_or_create(series_labels(state.thread_index() * kSeries + s)).ref);
      ready = true;
      state.ResumeTiming();
    }
    if (head->append(refs[i], t, 1.0 * i) != AppendStatus::kOk)
      state.SkipWithError("append failed");
    if (++i == kSeries) {
      i = 0;
      t += 15000;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {  // after the loop's closing barrier
    delete head;
    head = nullptr;
  }
}
BENCHMARK(BM_Ingest_2Writers)->Threads(2)->UseRealTime();

// By label set: hashing and looking the series up on every sample (no cache).
void BM_Ingest_ByLabels(benchmark::State& state) {
  constexpr int kSeries = 10000;
  Head head;
  std::vector<LabelSet> labels;
  for (int i = 0; i < kSeries; ++i) labels.push_back(series_labels(i));
  std::int64_t t = 1767225600000;
  int i = 0;
  for (auto _ : state) {
    if (head.append(labels[i], t, 2.0).status != AppendStatus::kOk)
      state.SkipWithError("append failed");
    if (++i == kSeries) {
      i = 0;
      t += 15000;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ingest_ByLabels);

// ---------------------------------------------------------------------------
// Memory after 2 hours

// Values like real services': counters that grow irregularly (integer
// request counts, float CPU seconds), gauges (integer queue depths that move
// now and then, float memory/temperature readings).
struct Generator {
  // xorshift64*: small state, so 10,000 of them do not blur the heap figures.
  struct Rng {
    std::uint64_t s;
    std::uint64_t operator()() {
      s ^= s >> 12;
      s ^= s << 25;
      s ^= s >> 27;
      return s * 0x2545F4914F6CDD1Dull;
    }
  };
  explicit Generator(int kind, std::uint64_t seed)
      : kind(kind), rng{seed * 0x9E3779B97F4A7C15ull} {}
  double next() {
    switch (kind) {
      case 0:  // integer counter, bursty
        v += static_cast<double>(rng() % 4 == 0 ? 0 : rng() % 40);
        break;
      case 1:  // CPU seconds
        v += static_cast<double>(rng() % 1000) * 0.00123;
        break;
      case 2:  // queue depth: often unchanged
        if (rng() % 3 == 0) v = static_cast<double>(rng() % 50);
        break;
      default:  // a float reading
        v = 512e6 + static_cast<double>(rng() % 4096) * 4096.0;
        break;
    }
    return v;
  }
  int kind;
  Rng rng;
  double v = 0;
};

std::size_t heap_in_use() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

void memory_after_2h(benchmark::State& state, std::int64_t jitter_ms) {
  constexpr int kSeries = 10000;
  constexpr int kSteps = 2 * 3600 / 15;  // 480 samples a series
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<SeriesRef> refs;
    refs.reserve(kSeries);
    std::vector<Generator> gens;
    gens.reserve(kSeries);
    for (int i = 0; i < kSeries; ++i) gens.emplace_back(i % 4, static_cast<std::uint64_t>(i) + 1);
    malloc_trim(0);
    // Everything the head allocates from here on is the head's.
    const std::size_t heap_before = heap_in_use();
    auto head = std::make_unique<Head>();
    for (int i = 0; i < kSeries; ++i) refs.push_back(head->get_or_create(series_labels(i)).ref);
    // Per kind, the compressed size alone, with the same values.
    std::size_t kind_bytes[4] = {0, 0, 0, 0};
    std::size_t kind_samples[4] = {0, 0, 0, 0};
    std::mt19937_64 jitter(99);
    state.ResumeTiming();
    const std::int64_t t0 = 1767225600000;
    for (int step = 0; step < kSteps; ++step) {
      for (int i = 0; i < kSeries; ++i) {
        const std::int64_t j =
            jitter_ms ? static_cast<std::int64_t>(jitter() % (2 * jitter_ms + 1)) - jitter_ms : 0;
        head->append(refs[i], t0 + step * std::int64_t{15000} + j, gens[i].next());
      }
    }
    state.PauseTiming();
    const auto st = head->stats();
    const std::size_t heap_after = heap_in_use();
    // Bytes per sample per kind, from a re-encoding of the same sequences.
    for (int kind = 0; kind < 4; ++kind) {
      Generator g(kind, static_cast<std::uint64_t>(kind) + 1);
      watch::tsdb::ChunkAppender a;
      for (int step = 0; step < kSteps; ++step) {
        if (a.count() == 120) {
          kind_bytes[kind] += a.seal().bytes();
          kind_samples[kind] += a.count();
          a.reset();
        }
        a.append(t0 + step * std::int64_t{15000}, g.next());
      }
      kind_bytes[kind] += a.seal().bytes();
      kind_samples[kind] += a.count();
    }
    state.counters["series"] = static_cast<double>(st.series);
    state.counters["samples"] = static_cast<double>(st.samples);
    state.counters["bytes_per_sample"] = st.bytes_per_sample();
    state.counters["heap_bytes_per_sample"] =
        static_cast<double>(heap_after - heap_before) / static_cast<double>(st.samples);
    state.counters["heap_per_series"] =
        static_cast<double>(heap_after - heap_before) / static_cast<double>(st.series);
    state.counters["estimate_per_series"] =
        static_cast<double>(st.memory_bytes) / static_cast<double>(st.series);
    state.counters["baseline_raw_bytes_per_sample"] = 16;
    const char* names[4] = {"bps_int_counter", "bps_float_counter", "bps_int_gauge",
                            "bps_float_gauge"};
    for (int kind = 0; kind < 4; ++kind)
      state.counters[names[kind]] =
          static_cast<double>(kind_bytes[kind]) / static_cast<double>(kind_samples[kind]);
    head.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kSeries * kSteps);
}

// Scrape timestamps exactly 15 s apart (Prometheus aligns a scrape's
// timestamp to its interval when it is within a few ms).
void BM_Head_Memory_2h_10kSeries(benchmark::State& state) {
  memory_after_2h(state, 0);
}
BENCHMARK(BM_Head_Memory_2h_10kSeries)->Unit(benchmark::kMillisecond)->Iterations(1);

// Timestamps jittered by up to ±5 ms, as an unaligned scraper writes them.
void BM_Head_Memory_2h_10kSeries_Jitter5ms(benchmark::State& state) {
  memory_after_2h(state, 5);
}
BENCHMARK(BM_Head_Memory_2h_10kSeries_Jitter5ms)->Unit(benchmark::kMillisecond)->Iterations(1);

// ---------------------------------------------------------------------------
// Reading back: one hour of 100 series, as a rule or a chart asks.

void BM_Select_100Series_1h(benchmark::State& state) {
  static Head* head = [] {
    auto* h = new Head;
    for (int i = 0; i < 10000; ++i) {
      const auto ref = h->get_or_create(series_labels(i)).ref;
      Generator g(i % 4, static_cast<std::uint64_t>(i) + 1);
      for (int step = 0; step < 480; ++step) h->append(ref, step * std::int64_t{15000}, g.next());
    }
    return h;
  }();
  // 50 series share a route: two routes select 100 series.
  const auto set = watch::tsdb::MatcherSet::must_compile(
      {{"http_route", watch::Matcher::Op::kRegexMatch, "/api/v1/orders/7|/api/v1/orders/8"},
       {"job", watch::Matcher::Op::kRegexMatch, "shop-.*"}});
  std::size_t samples = 0;
  for (auto _ : state) {
    samples = 0;
    head->select(set, 3600 * 1000, 7200 * 1000,
                 [&](const LabelSet&, std::span<const watch::Sample> s) {
                   samples += s.size();
                   return true;
                 });
  }
  if (samples != 100 * 240) state.SkipWithError("unexpected sample count");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(samples));
}
BENCHMARK(BM_Select_100Series_1h)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------
// A restart: 100,000 series with 2 hours of 15 s samples (48 M samples,
// one commit a scrape), written by a process that then dies by SIGKILL, read
// back by Db::open: from the WAL and the chunk files (a crash), and from a
// checkpoint (after a clean stop). Baseline in the same run: reading the
// same files' bytes, the I/O floor of any replay.

struct ReplayData {
  std::string crash_dir;       // WAL + chunk files, no checkpoint
  std::string checkpoint_dir;  // the same after a clean close
  std::uint64_t samples = 0;
  std::uint64_t wal_bytes = 0;
  std::uint64_t chunk_bytes = 0;
  std::uint64_t checkpoint_bytes = 0;
};

std::uint64_t dir_bytes(const std::string& dir) {
  std::uint64_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

void write_2h(const std::string& dir, int series, bool clean_close) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto db = watch::tsdb::Db::open({.dir = dir}, 7200 * 1000);
    std::vector<watch::tsdb::SeriesHandle> handles;
    std::vector<Generator> gens;
    for (int i = 0; i < series; ++i) {
      const auto r = db->head().get_or_create(series_labels(i));
      handles.push_back(db->head().handle(r.ref));
      gens.emplace_back(i % 4, static_cast<std::uint64_t>(i) + 1);
    }
    for (int step = 0; step < 480; ++step) {
      watch::tsdb::Appender app(db->head());
      for (int i = 0; i < series; ++i)
        app.append(handles[i], step * std::int64_t{15000}, gens[i].next());
    }
    if (clean_close) {
      db->close();
      ::_exit(0);
    }
    ::kill(::getpid(), SIGKILL);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
}

const ReplayData& replay_data(int series) {
  static ReplayData data = [series] {
    ReplayData d;
    char a[] = "/tmp/fb-replay-crash-XXXXXX";
    char b[] = "/tmp/fb-replay-checkpoint-XXXXXX";
    d.crash_dir = ::mkdtemp(a);
    d.checkpoint_dir = ::mkdtemp(b);
    write_2h(d.crash_dir, series, false);
    write_2h(d.checkpoint_dir, series, true);
    d.samples = static_cast<std::uint64_t>(series) * 480;
    d.wal_bytes = dir_bytes(d.crash_dir + "/wal");
    d.chunk_bytes = dir_bytes(d.crash_dir + "/chunks_head");
    for (const auto& e : std::filesystem::directory_iterator(d.checkpoint_dir))
      if (e.path().filename().string().starts_with("checkpoint."))
        d.checkpoint_bytes += dir_bytes(e.path().string());
    std::atexit([] {
      std::filesystem::remove_all(replay_data(0).crash_dir);
      std::filesystem::remove_all(replay_data(0).checkpoint_dir);
    });
    return d;
  }();
  return data;
}

void replay(benchmark::State& state, bool from_checkpoint) {
  const ReplayData& d = replay_data(static_cast<int>(state.range(0)));
  const std::string& dir = from_checkpoint ? d.checkpoint_dir : d.crash_dir;
  watch::tsdb::RecoveryReport report;
  for (auto _ : state) {
    // A copy each time: opening repairs and writes (a new WAL segment).
    state.PauseTiming();
    const std::string copy = dir + "-run";
    std::filesystem::remove_all(copy);
    std::filesystem::copy(dir, copy, std::filesystem::copy_options::recursive);
    state.ResumeTiming();
    {
      auto db = watch::tsdb::Db::open({.dir = copy}, 7200 * 1000, nullptr, &report);
      benchmark::DoNotOptimize(db->head().num_series());
      state.PauseTiming();
      db.reset();  // a clean close: not part of the start
      state.ResumeTiming();
    }
    state.PauseTiming();
    std::filesystem::remove_all(copy);
    state.ResumeTiming();
  }
  if (report.series != static_cast<std::size_t>(state.range(0)))
    state.SkipWithError("replay lost series");
  state.counters["samples"] = static_cast<double>(d.samples);
  state.counters["wal_bytes_per_sample"] =
      static_cast<double>(d.wal_bytes) / static_cast<double>(d.samples);
  state.counters["chunk_bytes_per_sample"] =
      static_cast<double>(d.chunk_bytes) / static_cast<double>(d.samples);
  state.counters["checkpoint_bytes"] = static_cast<double>(d.checkpoint_bytes);
  state.counters["samples_replayed"] = static_cast<double>(report.samples_replayed);
}

void BM_Db_Replay_Crash_2h(benchmark::State& state) {
  replay(state, false);
}
BENCHMARK(BM_Db_Replay_Crash_2h)->Arg(100000)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_Db_Replay_Checkpoint_2h(benchmark::State& state) {
  replay(state, true);
}
BENCHMARK(BM_Db_Replay_Checkpoint_2h)->Arg(100000)->Unit(benchmark::kMillisecond)->Iterations(3);

// Reading every byte the crash replay reads (WAL and chunk files).
void BM_Baseline_ReadReplayFiles_2h(benchmark::State& state) {
  const ReplayData& d = replay_data(static_cast<int>(state.range(0)));
  std::vector<char> buf(1 << 20);
  for (auto _ : state) {
    std::uint64_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(d.crash_dir)) {
      if (!e.is_regular_file()) continue;
      std::FILE* f = std::fopen(e.path().c_str(), "rb");
      while (const std::size_t got = std::fread(buf.data(), 1, buf.size(), f)) n += got;
      std::fclose(f);
    }
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_Baseline_ReadReplayFiles_2h)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// --- relabeling (watch/relabel) -------------------------------------------------
// metric_relabel_configs run once per new series (the scrape cache remembers
// the outcome), relabel_configs once per discovered target: these are the
// costs of one such run, beside copying the label set (the least any rule
// application does).

const watch::LabelSet& relabel_input() {
  static const watch::LabelSet ls =
      watch::LabelSet::from({{"__name__", "http_server_request_duration_seconds_bucket"},
                             {"job", "shop-api"},
                             {"instance", "10.0.0.7:9464"},
                             {"http_request_method", "GET"},
                             {"http_route", "/orders/{id}"},
                             {"http_response_status_code", "503"},
                             {"le", "0.25"},
                             {"pod", "shop-api-7d9f8c6b5-x2x9q"}});
  return ls;
}

std::vector<watch::relabel::Rule> relabel_rules(std::vector<watch::relabel::RelabelSpec> specs) {
  std::vector<watch::relabel::Rule> out;
  for (const auto& spec : specs) out.push_back(*watch::relabel::compile(spec));
  return out;
}

void BM_Baseline_LabelSetCopy(benchmark::State& state) {
  for (auto _ : state) {
    watch::LabelSet copy = relabel_input();
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_Baseline_LabelSetCopy);

// A typical metric_relabel_configs: drop Go runtime series (no match here),
// a status class from the code, drop the pod label.
void BM_Relabel_ThreeMetricRules(benchmark::State& state) {
  const auto rules =
      relabel_rules({{.source_labels = {"__name__"}, .regex = "go_.*", .action = "drop"},
                     {.source_labels = {"http_response_status_code"},
                      .regex = "(\\d)..",
                      .target_label = "status_class",
                      .replacement = "${1}xx"},
                     {.regex = "pod", .action = "labeldrop"}});
  for (auto _ : state) {
    watch::LabelSet copy = relabel_input();
    benchmark::DoNotOptimize(watch::relabel::process(rules, copy));
  }
}
BENCHMARK(BM_Relabel_ThreeMetricRules);

// A discovered target with Prometheus's defaults and two relabel rules.
void BM_Relabel_PopulateTarget(benchmark::State& state) {
  const auto rules =
      relabel_rules({{.source_labels = {"__meta_dns_name"}, .target_label = "dns_name"},
                     {.source_labels = {"__address__"},
                      .regex = "([^:]+):.*",
                      .target_label = "host",
                      .replacement = "$1"}});
  const watch::LabelSet discovered =
      watch::LabelSet::from({{"__address__", "10.0.0.7:9464"},
                             {"__meta_dns_name", "_shop-api._tcp.service.consul"},
                             {"__meta_dns_srv_record_target", "node-7.service.consul."},
                             {"__meta_dns_srv_record_port", "9464"},
                             {"team", "shop"}});
  for (auto _ : state)
    benchmark::DoNotOptimize(
        watch::relabel::populate_target(discovered, {.job = "shop-api"}, rules));
}
BENCHMARK(BM_Relabel_PopulateTarget);

// ---------------------------------------------------------------------------
// Alert dispatch (issue 13): 10,000 active alerts in 1,000 groups (alertname
// x service), a 50-route tree, 20 silences, 10 inhibit rules. Per alert,
// what a flush asks: its routes and whether it is muted (silences, then the
// inhibit rules' index). Baseline: hashing the alert's labels (its
// fingerprint), which any dispatcher does for every alert.

class NullNotifier final : public watch::alerting::Notifier {
 public:
  watch::alerting::SendResult notify(const watch::dispatch::GroupNotification&) override {
    return {};
  }
  std::string_view integration() const override { return "null"; }
};

struct DispatchFixture {
  firebreak::ManualClock clock;
  watch::alerting::Delivery delivery{{.clock = &clock}};
  std::vector<watch::LabelSet> alerts;

  DispatchFixture() {
    std::string yaml = "route:\n  receiver: r0\n  group_by: [alertname, service]\n  routes:\n";
    std::vector<std::string> receivers = {"r0"};
    for (int i = 1; i < 50; ++i) {
      receivers.push_back("r" + std::to_string(i));
      yaml += fmt::format(
          "    - matchers: ['team=\"t{}\"', 'severity=~\"page|ticket\"']\n"
          "      receiver: r{}\n{}",
          i % 25, i, i % 7 == 0 ? "      continue: true\n" : "");
    }
    yaml += "inhibit_rules:\n";
    for (int i = 0; i < 10; ++i)
      yaml += fmt::format(
          "  - source_matchers: [alertname=Down{}]\n"
          "    target_matchers: [severity=ticket]\n"
          "    equal: [service]\n",
          i);
    std::vector<watch::routing::Error> errors;
    auto routing = watch::routing::load_routing(YAML::Load(yaml), receivers, errors);
    if (!errors.empty()) throw std::runtime_error(errors[0].to_string());
    std::vector<watch::alerting::Receiver> rs;
    auto null = std::make_shared<NullNotifier>();
    for (const auto& r : receivers)
      rs.push_back({.name = r, .integrations = {{.name = "webhook/0", .notifier = null}}});
    delivery.configure(std::move(routing), std::move(rs));
    const std::int64_t now = 1767225600000;
    for (int i = 0; i < 20; ++i) {
      auto set = delivery.silences().set(
          {.matchers = {{.name = "service", .value = "svc" + std::to_string(i * 7)},
                        {.name = "alertname", .value = "Alert.*", .is_regex = true}},
           .starts_at_ms = now,
           .ends_at_ms = now + 3'600'000,
           .created_by = "bench",
           .comment = "bench"});
      if (!set.ok()) throw std::runtime_error(set.error);
    }
    std::vector<watch::dispatch::Alert> batch;
    for (int g = 0; g < 1000; ++g) {
      for (int k = 0; k < 10; ++k) {
        const std::string name =
            g % 100 == 0 ? "Down" + std::to_string(g / 100 % 10) : "Alert" + std::to_string(g % 10);
        auto labels = watch::LabelSet::from(
            {{"alertname", name},
             {"service", "svc" + std::to_string(g / 10)},
             {"team", "t" + std::to_string(g % 25)},
             {"severity", k % 2 ? "page" : "ticket"},
             {"instance", "10.0." + std::to_string(g % 250) + "." + std::to_string(k) + ":9464"},
             {"job", "job" + std::to_string(g % 40)}});
        alerts.push_back(labels);
        batch.push_back({.labels = std::move(labels), .starts_at_ms = now});
      }
    }
    delivery.put(std::move(batch));
    delivery.alerts();  // builds the inhibition index
  }
};

DispatchFixture& dispatch_fixture() {
  static DispatchFixture f;
  return f;
}

void BM_Dispatch_Route(benchmark::State& state) {
  auto& f = dispatch_fixture();
  std::size_t i = 0, routes = 0, muted = 0;
  for (auto _ : state) {
    const auto& labels = f.alerts[i++ % f.alerts.size()];
    routes += f.delivery.routes(labels).size();
    muted += f.delivery.muted(labels) ? 1 : 0;
  }
  benchmark::DoNotOptimize(routes);
  state.counters["muted_share"] = static_cast<double>(muted) / static_cast<double>(i);
}
BENCHMARK(BM_Dispatch_Route);

void BM_Baseline_Dispatch_Fingerprint(benchmark::State& state) {
  auto& f = dispatch_fixture();
  std::size_t i = 0;
  std::uint64_t sum = 0;
  for (auto _ : state) sum += watch::dispatch::fingerprint(f.alerts[i++ % f.alerts.size()]);
  benchmark::DoNotOptimize(sum);
}
BENCHMARK(BM_Baseline_Dispatch_Fingerprint);

}  // namespace

BENCHMARK_MAIN();
