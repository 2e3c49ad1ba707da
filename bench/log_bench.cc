// Caller-side cost of a log line, beside formatting the same JSON line with
// fmt into a reused buffer (the least a JSON logger must do), in the same run.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <time.h>

#include <string>

#include "firebreak/log.h"

namespace {

void configure(firebreak::LogOverflow overflow) {
  firebreak::LogOptions options{.level = firebreak::LogLevel::kInfo,
                                .format = firebreak::LogFormat::kJson,
                                .queue_bytes = 4 << 20,
                                .overflow = overflow};
  options.file = "/dev/null";
  firebreak::configure_logging(options);
  firebreak::set_log_identity(
      {.service = "shop-api", .version = "1.2.0", .env = "bench", .workload = "api"});
}

// The same line as BM_Log_Info5Fields, written with fmt: a clock read, the
// fixed keys and 5 fields, into a reused buffer. No escaping, no queue.
void BM_Baseline_FmtFormatLine(benchmark::State& state) {
  std::string buf;
  std::int64_t i = 0;
  const std::string_view route = "/orders/{id}";
  for (auto _ : state) {
    buf.clear();
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fmt::format_to(std::back_inserter(buf),
                   R"({{"timestamp":"{}.{:06}Z","level":"info","event":"http_request",)"
                   R"("service":"shop-api","version":"1.2.0","env":"bench","workload":"api",)"
                   R"("http_request_method":"{}","http_route":"{}","http_response_status_code":{},)"
                   R"("duration_s":{},"bytes":{}}})"
                   "\n",
                   ts.tv_sec, ts.tv_nsec / 1000, "GET", route, 200, 0.0123, ++i);
    benchmark::DoNotOptimize(buf.data());
  }
}
BENCHMARK(BM_Baseline_FmtFormatLine);

void BM_Log_Info5Fields(benchmark::State& state) {
  configure(firebreak::LogOverflow::kBlock);
  std::int64_t i = 0;
  const std::string_view route = "/orders/{id}";
  for (auto _ : state) {
    FB_LOG_INFO("http_request", "", {"http_request_method", "GET"}, {"http_route", route},
                {"http_response_status_code", 200}, {"duration_s", 0.0123}, {"bytes", ++i});
  }
  firebreak::flush_logs();
  state.counters["dropped"] = static_cast<double>(firebreak::log_records_dropped());
}
BENCHMARK(BM_Log_Info5Fields);

void BM_Log_Disabled(benchmark::State& state) {
  configure(firebreak::LogOverflow::kDrop);
  std::int64_t i = 0;
  for (auto _ : state) {
    FB_LOG_DEBUG("http_request", "", {"http_request_method", "GET"}, {"bytes", ++i});
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_Log_Disabled);

// Sustained: lines logged and written to /dev/null, nothing dropped (the
// caller waits when the queue is full), flushed at the end of each batch.
void BM_Log_Throughput(benchmark::State& state) {
  configure(firebreak::LogOverflow::kBlock);
  constexpr int kBatch = 100000;
  std::int64_t i = 0;
  for (auto _ : state) {
    for (int n = 0; n < kBatch; ++n) {
      FB_LOG_INFO("http_request", "", {"http_request_method", "GET"},
                  {"http_route", "/orders/{id}"}, {"http_response_status_code", 200},
                  {"duration_s", 0.0123}, {"bytes", ++i});
    }
    firebreak::flush_logs();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_Log_Throughput)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
