#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "firebreak/clock.h"
#include "firebreak/log.h"
#include "firebreak/metrics.h"
#include "firebreak/trace.h"
#include "util/json_write.h"

namespace firebreak {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Each test logs to its own file, with a manual clock at 2026-01-01T00:00:00Z.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("firebreak-log-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    file_ = dir_ / "out.log";
    configure();
    set_log_identity({.service = "shop-api", .version = "1.2.0", .env = "test", .workload = "api"});
  }
  void TearDown() override {
    flush_logs();
    configure_logging({.level = LogLevel::kInfo, .format = LogFormat::kJson});
    fs::remove_all(dir_);
  }
  void configure(LogOptions options = {}) {
    options.file = file_.string();
    if (options.format == LogFormat::kAuto) options.format = LogFormat::kJson;
    options.clock = &clock_;
    configure_logging(options);
  }
  std::vector<std::string> lines() {
    flush_logs();
    return read_lines(file_);
  }

  ManualClock clock_;
  fs::path dir_, file_;
};

TEST_F(LogTest, GoldenLineWithFixedKeysInSchemaOrder) {
  FB_LOG_INFO("order_created", "Order stored", {"order_id", "o-17"}, {"quantity", 3},
              {"amount", 12.5}, {"paid", true});
  EXPECT_THAT(lines(), ::testing::ElementsAre(
                           R"({"timestamp":"2026-01-01T00:00:00.000000Z","level":"info",)"
                           R"("event":"order_created","msg":"Order stored","service":"shop-api",)"
                           R"("version":"1.2.0","env":"test","workload":"api","order_id":"o-17",)"
                           R"("quantity":3,"amount":12.5,"paid":true})"));
}

TEST_F(LogTest, MessageIsOptionalAndTypedFieldsAreWritten) {
  clock_.advance(std::chrono::microseconds(1234567));
  const auto at = std::chrono::system_clock::time_point(std::chrono::seconds(1767225600)) +
                  std::chrono::milliseconds(5);
  FB_LOG_WARN("job_finished", "", {"duration_s", std::chrono::milliseconds(1500)},
              {"finished_at", at}, {"items", std::uint64_t{18446744073709551615u}}, {"delta", -4},
              {"error", std::make_error_code(std::errc::timed_out)}, {"none", nullptr});
  EXPECT_THAT(lines(), ::testing::ElementsAre(
                           R"({"timestamp":"2026-01-01T00:00:01.234567Z","level":"warn",)"
                           R"("event":"job_finished","service":"shop-api","version":"1.2.0",)"
                           R"("env":"test","workload":"api","duration_s":1.5,)"
                           R"("finished_at":"2026-01-01T00:00:00.005000Z",)"
                           R"("items":18446744073709551615,"delta":-4,)"
                           R"("error":"Connection timed out","none":null})"));
}

TEST_F(LogTest, ASiteWritesTheKeysAndLevelOfEachCallWhateverItWroteBefore) {
  // One call site, run three times: a run-time key that changes, a constant
  // key that needs escaping, and a level that changes.
  const std::string keys[] = {"first", "second", "third"};
  const LogLevel levels[] = {LogLevel::kInfo, LogLevel::kWarn, LogLevel::kInfo};
  for (int i = 0; i < 3; ++i) {
    FB_LOG(levels[i], "site_event", "", {"fixed", i}, {keys[i], "v"}, {"quo\"te", 1.25});
  }
  const std::string identity = R"("service":"shop-api","version":"1.2.0","env":"test",)"
                               R"("workload":"api")";
  auto line = [&](const char* level, int i, const char* key) {
    return std::string(R"({"timestamp":"2026-01-01T00:00:00.000000Z","level":")") + level +
           R"(","event":"site_event",)" + identity + R"(,"fixed":)" + std::to_string(i) + ",\"" +
           key + R"(":"v","quo\"te":1.25})";
  };
  EXPECT_THAT(lines(), ::testing::ElementsAre(line("info", 0, "first"), line("warn", 1, "second"),
                                              line("info", 2, "third")));
}

// Most lines take a fast path (plain strings, numbers, no room checks); the
// rest the general one. Both must write exactly what util/json_write.h
// writes, for every kind and size of value, strings that fit and strings
// that need escaping, lines short and longer than the in-place room.
TEST_F(LogTest, EveryValueIsWrittenExactlyAsJsonWriteWritesIt) {
  configure({.overflow = LogOverflow::kBlock});  // ≈ 1 MB of lines: none may be dropped
  std::mt19937_64 rng(7);
  auto pick = [&](std::uint64_t n) { return rng() % n; };
  auto random_string = [&] {
    static constexpr std::string_view kSpecial[] = {"\"", "\\", "\n", "\x01", "\xc3\xa9", "\xff"};
    std::string s;
    const std::size_t n = pick(4) == 0 ? pick(1200) : pick(40);
    for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('a' + pick(26)));
    if (!s.empty() && pick(4) == 0) s.replace(pick(s.size()), 1, kSpecial[pick(6)]);
    return s;
  };
  auto random_double = [&] {
    switch (pick(4)) {
      case 0:  // a few decimals, as durations and amounts have
        return static_cast<double>(static_cast<std::int64_t>(pick(2000000)) - 1000000) /
               static_cast<double>(std::uint64_t{1} << pick(20)) / std::pow(10.0, pick(6));
      case 1: {  // any finite double
        double d;
        do {
          const std::uint64_t bits = rng();
          std::memcpy(&d, &bits, 8);
        } while (!std::isfinite(d));
        return d;
      }
      case 2:
        return std::ldexp(static_cast<double>(pick(1000)), static_cast<int>(pick(120)) - 60);
      default:
        return static_cast<double>(static_cast<std::int64_t>(rng() >> pick(64)));
    }
  };
  std::vector<std::string> expected;
  const std::string opening =
      R"({"timestamp":"2026-01-01T00:00:00.000000Z","level":"info","event":"mixed",)"
      R"("service":"shop-api","version":"1.2.0","env":"test","workload":"api")";
  for (int round = 0; round < 2000; ++round) {
    const std::string s = random_string(), key = pick(8) == 0 ? random_string() : "dyn";
    const auto i = static_cast<std::int64_t>(rng() >> pick(64)) * (pick(2) ? 1 : -1);
    const std::uint64_t u = rng() >> pick(64);
    const double d = random_double();
    const bool b = pick(2) == 0;
    FB_LOG_INFO("mixed", "", {"s", s}, {"i", i}, {"u", u}, {"d", d}, {"b", b}, {key, s},
                {"n", nullptr});
    std::string line = opening;
    line += ",\"s\":";
    detail::append_json_string(line, s);
    line += ",\"i\":";
    detail::append_json_int(line, i);
    line += ",\"u\":";
    detail::append_json_uint(line, u);
    line += ",\"d\":";
    detail::append_json_double(line, d);
    line += b ? ",\"b\":true," : ",\"b\":false,";
    detail::append_json_string(line, key);
    line += ':';
    detail::append_json_string(line, s);
    line += ",\"n\":null}";
    expected.push_back(std::move(line));
  }
  const auto got = lines();
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t k = 0; k < got.size(); ++k) ASSERT_EQ(got[k], expected[k]) << k;
}

// Lines of every length around the room a line is first written in (1 KiB),
// with as many fields as a site caches and the widest values: each byte is
// there, in order, and nothing is written past the line.
TEST_F(LogTest, LinesAroundTheInPlaceRoomAreWrittenWhole) {
  configure({.overflow = LogOverflow::kBlock});
  const std::string opening =
      R"({"timestamp":"2026-01-01T00:00:00.000000Z","level":"info","event":"wide",)"
      R"("service":"shop-api","version":"1.2.0","env":"test","workload":"api")";
  std::vector<std::string> expected;
  for (std::size_t total = 0; total <= 1100; ++total) {
    std::string a(total / 3, 'a'), b(total / 3, 'b'), c(total - 2 * (total / 3), 'c');
    const std::int64_t low = std::numeric_limits<std::int64_t>::min();
    const std::uint64_t high = std::numeric_limits<std::uint64_t>::max();
    const double d = -1.7976931348623157e308;
    FB_LOG_INFO("wide", "", {"a", a}, {"i1", low}, {"u1", high}, {"d1", d}, {"b", b}, {"i2", low},
                {"u2", high}, {"d2", d}, {"c", c}, {"i3", low}, {"u3", high}, {"d3", d});
    std::string line = opening;
    for (int k = 0; k < 3; ++k) {
      line += ",\"" + std::string(1, static_cast<char>('a' + k)) + "\":\"" +
              (k == 0   ? a
               : k == 1 ? b
                        : c) +
              "\"";
      line += ",\"i" + std::to_string(k + 1) + "\":";
      detail::append_json_int(line, low);
      line += ",\"u" + std::to_string(k + 1) + "\":";
      detail::append_json_uint(line, high);
      line += ",\"d" + std::to_string(k + 1) + "\":";
      detail::append_json_double(line, d);
    }
    line += '}';
    expected.push_back(std::move(line));
  }
  const auto got = lines();
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t k = 0; k < got.size(); ++k) ASSERT_EQ(got[k], expected[k]) << k;
}

TEST_F(LogTest, EveryLineIsOneValidJsonObjectWhateverTheInput) {
  const std::string nasty = std::string("multi\nline \"quoted\" \\ tab\t nul") + '\0' +
                            " bell\x07 bad\xff utf8 \xe2\x98\x95";
  FB_LOG_ERROR("weird_input", nasty, {nasty, nasty});
  const auto got = lines();
  ASSERT_EQ(got.size(), 1u);
  const auto j = nlohmann::json::parse(got[0]);
  EXPECT_EQ(j["msg"], "multi\nline \"quoted\" \\ tab\t nul" + std::string(1, '\0') +
                          " bell\x07 bad\xef\xbf\xbd utf8 \xe2\x98\x95");
  EXPECT_EQ(j.size(), 9u);  // 8 fixed keys and the field, whose key was sanitised too
  EXPECT_TRUE(j.contains("multi\nline \"quoted\" \\ tab\t nul" + std::string(1, '\0') +
                         " bell\x07 bad\xef\xbf\xbd utf8 \xe2\x98\x95"));
}

TEST_F(LogTest, ScopedContextIsCarriedInSchemaOrderAndRestored) {
  {
    LogScope job({{"job_run_id", "r-1"}, {"job", "daily_report"}});
    LogScope request({{"http_route", "/orders/{id}"}, {"request_id", "req-9"}});
    FB_LOG_INFO("inner", "", {"k", 1});
    {
      LogScope override({{"request_id", "req-10"}});
      FB_LOG_INFO("overridden", "");
    }
    FB_LOG_INFO("restored", "");
  }
  FB_LOG_INFO("outside", "");
  const auto got = lines();
  ASSERT_EQ(got.size(), 4u);
  const std::string ids = R"("workload":"api")";
  EXPECT_THAT(
      got[0],
      ::testing::HasSubstr(
          ids +
          R"(,"request_id":"req-9","http_route":"/orders/{id}","job":"daily_report","job_run_id":"r-1","k":1})"));
  EXPECT_THAT(
      got[1],
      ::testing::HasSubstr(
          ids +
          R"(,"request_id":"req-10","http_route":"/orders/{id}","job":"daily_report","job_run_id":"r-1"})"));
  EXPECT_THAT(got[2], ::testing::HasSubstr(R"("request_id":"req-9")"));
  EXPECT_THAT(got[3], ::testing::EndsWith(ids + "}"));
}

TEST_F(LogTest, ContextCrossesThreadsOnlyWhenHandedOver) {
  LogContext captured;
  {
    LogScope scope({{"message_id", "m-1"}, {"messaging_destination_name", "orders"}});
    captured = LogContext::capture();
    std::thread([] { FB_LOG_INFO("no_handover", ""); }).join();
  }
  std::thread([&] {
    LogContext::Restore restore(captured);
    FB_LOG_INFO("handed_over", "");
  }).join();
  FB_LOG_INFO("after", "");
  // Lines of different threads may be written in any order: find them by event.
  std::map<std::string, std::string> by_event;
  for (const auto& line : lines()) by_event[nlohmann::json::parse(line)["event"]] = line;
  ASSERT_EQ(by_event.size(), 3u);
  EXPECT_THAT(by_event["no_handover"], ::testing::Not(::testing::HasSubstr("message_id")));
  EXPECT_THAT(by_event["handed_over"],
              ::testing::HasSubstr(R"("messaging_destination_name":"orders","message_id":"m-1")"));
  EXPECT_THAT(by_event["after"], ::testing::Not(::testing::HasSubstr("message_id")));
}

TEST_F(LogTest, CurrentSpanIdsAreAddedAfterTheFixedKeys) {
  std::string trace_hex, span_hex;
  {
    // A remote sampled parent makes this span's context known in advance.
    SpanContext parent;
    parent.trace_id = *TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736");
    parent.span_id = *SpanId::from_hex("00f067aa0ba902b7");
    parent.trace_flags = kTraceFlagSampled;
    parent.is_remote = true;
    ScopedSpan span("handle", {.kind = SpanKind::kServer, .parent = parent});
    trace_hex = span->context().trace_id.to_hex();
    span_hex = span->context().span_id.to_hex();
    LogScope scope({{"request_id", "r-1"}});
    FB_LOG_INFO("in_span", "");
  }
  FB_LOG_INFO("no_span", "");
  const auto got = lines();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(trace_hex, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_THAT(got[0], ::testing::HasSubstr(R"("workload":"api","trace_id":")" + trace_hex +
                                           R"(","span_id":")" + span_hex +
                                           R"(","trace_flags":"01","request_id":"r-1"})"));
  EXPECT_THAT(got[1], ::testing::Not(::testing::HasSubstr("trace_id")));
}

TEST_F(LogTest, DisabledStatementDoesNotEvaluateArguments) {
  set_log_level(LogLevel::kWarn);
  int evaluated = 0;
  auto expensive = [&] {
    ++evaluated;
    return std::string("x");
  };
  FB_LOG_INFO("skipped", expensive(), {"k", expensive()});
  FB_LOG_DEBUG("skipped", "", {"k", expensive()});
  EXPECT_EQ(evaluated, 0);
  FB_LOG_ERROR("kept", expensive());
  EXPECT_EQ(evaluated, 1);
  EXPECT_EQ(lines().size(), 1u);
}

TEST_F(LogTest, LevelThresholdFromEnvironment) {
  ::setenv("FIREBREAK_LOG_LEVEL", "ERROR", 1);
  EXPECT_EQ(log_options_from_env().level, LogLevel::kError);
  ::setenv("FIREBREAK_LOG_LEVEL", "loud", 1);  // unknown: ignored
  EXPECT_EQ(log_options_from_env({.level = LogLevel::kDebug}).level, LogLevel::kDebug);
  ::unsetenv("FIREBREAK_LOG_LEVEL");
}

TEST_F(LogTest, RateLimitSuppressesAndSummarises) {
  set_log_rate_limit("cache_miss", 3);
  for (int i = 0; i < 10; ++i) FB_LOG_INFO("cache_miss", "", {"i", i});
  FB_LOG_INFO("other_event", "");  // other events are not limited
  clock_.advance(std::chrono::seconds(1));
  FB_LOG_INFO("cache_miss", "", {"i", 10});
  const auto got = lines();
  ASSERT_EQ(got.size(), 6u) << ::testing::PrintToString(got);
  EXPECT_THAT(got[2], ::testing::HasSubstr(R"("i":2})"));
  EXPECT_THAT(got[3], ::testing::HasSubstr(R"("event":"other_event")"));
  const auto summary = nlohmann::json::parse(got[4]);
  EXPECT_EQ(summary["event"], "log_suppressed");
  EXPECT_EQ(summary["level"], "warn");
  EXPECT_EQ(summary["suppressed_event"], "cache_miss");
  EXPECT_EQ(summary["suppressed_count"], 7);
  EXPECT_THAT(got[5], ::testing::HasSubstr(R"("i":10})"));
  set_log_rate_limit("cache_miss", 0);
}

TEST_F(LogTest, ConsoleFormIsReadable) {
  configure({.format = LogFormat::kConsole});
  LogScope scope({{"request_id", "r-1"}});
  FB_LOG_WARN("stock_low", "Only a few left", {"item", "tea pot"}, {"left", 2});
  EXPECT_THAT(lines(),
              ::testing::ElementsAre("2026-01-01T00:00:00.000000Z WARN  stock_low  Only a "
                                     "few left request_id=\"r-1\" item=\"tea pot\" left=2"));
}

TEST_F(LogTest, WrittenLinesAreCountedByLevelInMetrics) {
  Registry registry;
  register_log_metrics(registry);
  const auto before = log_records_written(LogLevel::kError);
  FB_LOG_ERROR("boom", "");
  FB_LOG_ERROR("boom", "");
  flush_logs();
  EXPECT_EQ(log_records_written(LogLevel::kError), before + 2);
  bool found = false;
  for (const auto& f : registry.collect()) {
    if (f.name != "log_records") continue;
    for (const auto& p : f.points) {
      if ((*p.labels)[0].second == "error") {
        EXPECT_EQ(p.value, static_cast<double>(before + 2));
        found = true;
      }
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(LogTest, FatalIsWrittenBeforeTheCallReturns) {
  FB_LOG_FATAL("about_to_die", "disk gone");
  // No flush_logs(): fatal flushes by itself.
  EXPECT_EQ(read_lines(file_).size(), 1u);
}

TEST_F(LogTest, LinesQueuedBeforeAReconfigurationGoWhereTheyWereMeantTo) {
  FB_LOG_INFO("to_the_first_file", "");  // queued, not flushed
  const fs::path second = dir_ / "second.log";
  configure_logging({.format = LogFormat::kJson, .file = second.string(), .clock = &clock_});
  FB_LOG_INFO("to_the_second_file", "");
  flush_logs();
  const auto first = read_lines(file_);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_THAT(first[0], ::testing::HasSubstr("to_the_first_file"));
  const auto then = read_lines(second);
  ASSERT_EQ(then.size(), 1u);
  EXPECT_THAT(then[0], ::testing::HasSubstr("to_the_second_file"));
}

TEST_F(LogTest, ReopensTheFileOnSighupForRotation) {
  FB_LOG_INFO("before_rotation", "");
  flush_logs();
  fs::rename(file_, dir_ / "out.log.1");
  ::raise(SIGHUP);
  FB_LOG_INFO("after_rotation", "");
  const auto now = lines();
  ASSERT_EQ(now.size(), 1u);
  EXPECT_THAT(now[0], ::testing::HasSubstr("after_rotation"));
  EXPECT_EQ(read_lines(dir_ / "out.log.1").size(), 1u);
}

// The writer is stuck on a pipe nobody reads: the small queue fills, lines are
// dropped and counted, and written + dropped is exactly what was logged.
TEST_F(LogTest, FullQueueDropsAndCountsEveryLostLine) {
  const fs::path fifo = dir_ / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  LogOptions options{.format = LogFormat::kJson, .queue_bytes = 8192, .clock = &clock_};
  options.file = fifo.string();
  configure_logging(options);
  const auto written_before = log_records_written(LogLevel::kInfo);
  const auto dropped_before = log_records_dropped();
  constexpr int kLines = 5000;  // ~1 MB: far more than the pipe (64 KiB) and queue hold
  const std::string padding(150, 'x');
  std::thread producer([&] {
    for (int i = 0; i < kLines; ++i) FB_LOG_INFO("flood", padding, {"i", i});
  });
  producer.join();
  EXPECT_GT(log_records_dropped(), dropped_before);
  // Drain the pipe while the logger flushes what it still holds.
  std::string received;
  std::thread flusher([&] {
    flush_logs();
    configure_logging({.format = LogFormat::kJson});  // back to stdout: closes the pipe
  });
  ::fcntl(reader, F_SETFL, 0);  // blocking reads until the writer closes its end
  char buf[65536];
  for (ssize_t n; (n = ::read(reader, buf, sizeof buf)) > 0;) received.append(buf, n);
  flusher.join();
  ::close(reader);
  const auto lines_received = std::count(received.begin(), received.end(), '\n');
  const auto written = log_records_written(LogLevel::kInfo) - written_before;
  const auto dropped = log_records_dropped() - dropped_before;
  EXPECT_EQ(static_cast<std::uint64_t>(lines_received), written);
  EXPECT_EQ(written + dropped, static_cast<std::uint64_t>(kLines));
}

TEST_F(LogTest, BlockingQueueLosesNothing) {
  const fs::path fifo = dir_ / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  LogOptions options{.format = LogFormat::kJson,
                     .queue_bytes = 8192,
                     .overflow = LogOverflow::kBlock,
                     .clock = &clock_};
  options.file = fifo.string();
  configure_logging(options);
  const auto dropped_before = log_records_dropped();
  constexpr int kLines = 3000;
  std::thread producer([&] {
    for (int i = 0; i < kLines; ++i) FB_LOG_INFO("flood", std::string(150, 'y'), {"i", i});
    flush_logs();
    configure_logging({.format = LogFormat::kJson});
  });
  ::fcntl(reader, F_SETFL, 0);
  std::string received;
  char buf[4096];
  for (ssize_t n; (n = ::read(reader, buf, sizeof buf)) > 0;) {
    received.append(buf, n);
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // a slow reader
  }
  producer.join();
  ::close(reader);
  EXPECT_EQ(std::count(received.begin(), received.end(), '\n'), kLines);
  EXPECT_EQ(log_records_dropped(), dropped_before);
  // In order, per thread.
  EXPECT_THAT(received.substr(received.rfind("\"i\":")), ::testing::StartsWith("\"i\":2999}"));
}

// A child process logs and then exits or dies: every line reaches the file.
int run_child_and_count(const fs::path& file, void (*end)()) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    LogOptions options{.format = LogFormat::kJson, .overflow = LogOverflow::kBlock};
    options.file = file.string();
    configure_logging(options);
    for (int i = 0; i < 2000; ++i) FB_LOG_INFO("child_line", "", {"i", i});
    end();
    ::_exit(99);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return static_cast<int>(read_lines(file).size());
}

TEST(LogExit, CleanExitFlushesTheQueue) {
  const fs::path file =
      fs::temp_directory_path() / ("firebreak-exit-" + std::to_string(::getpid()));
  EXPECT_EQ(run_child_and_count(file, [] { std::exit(0); }), 2000);
  fs::remove(file);
}

TEST(LogExit, TerminateFlushesTheQueue) {
  const fs::path file =
      fs::temp_directory_path() / ("firebreak-term-" + std::to_string(::getpid()));
  EXPECT_EQ(run_child_and_count(file, [] { std::terminate(); }), 2000);
  fs::remove(file);
}

// stdout is a pipe someone made non-blocking, and a small one: every write
// of a batch comes back short or with EAGAIN while the reader catches up.
// Every line still arrives, whole and in order.
TEST(LogSink, ANonBlockingPipeLosesNothing) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::fcntl(fds[1], F_SETPIPE_SZ, 4096);
  ASSERT_EQ(::fcntl(fds[1], F_SETFL, ::fcntl(fds[1], F_GETFL) | O_NONBLOCK), 0);
  constexpr int kLines = 20000;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ::dup2(fds[1], STDOUT_FILENO);
    configure_logging({.format = LogFormat::kJson, .overflow = LogOverflow::kBlock});
    for (int i = 0; i < kLines; ++i)
      FB_LOG_INFO("piped_line", "", {"i", i}, {"padding", std::string(100, 'p')});
    std::exit(0);
  }
  ::close(fds[1]);
  std::string all;
  char chunk[1024];
  for (ssize_t n; (n = ::read(fds[0], chunk, sizeof chunk)) != 0;) {
    if (n > 0) all.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::istringstream in(all);
  int expected = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"piped_line\"") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(line);
    ASSERT_EQ(j["i"], expected) << line;
    ++expected;
  }
  EXPECT_EQ(expected, kLines);
}

}  // namespace
}  // namespace firebreak
