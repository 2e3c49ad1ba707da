// minimal-service as a real process: start-up gate, a failing dependency,
// and SIGTERM (not ready at once, drain, exit 0), seen through /readyz.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.h"
#include "support/http_client.h"

namespace firebreak {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A minimal-service on an ephemeral port, with the address it printed.
class MinimalService {
 public:
  explicit MinimalService(std::vector<std::string> args)
      : process_(with_binary(std::move(args)),
                 {"FIREBREAK_ADMIN_ADDR", "FIREBREAK_SERVICE_NAME", "FIREBREAK_WORKLOAD",
                  "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "FIREBREAK_LOG_FORMAT",
                  "FIREBREAK_LOG_LEVEL", "FIREBREAK_LOG_FILE"}) {
    const auto address = process_.wait_listening("admin", seconds(15));
    if (!address)
      throw std::runtime_error("minimal-service logged no `listening` event; stderr: " +
                               process_.read_stderr(milliseconds(200)));
    started_ = Clock::now();
    port_ = test::split_address(*address).second;
  }

  test::ChildProcess& process() { return process_; }
  std::uint16_t port() const { return port_; }
  Clock::time_point printed_at() const { return started_; }

  // /readyz's status, or nullopt when the server does not answer.
  std::optional<int> readyz() const {
    try {
      return test::http_get(port_, "/readyz").status;
    } catch (const std::runtime_error&) {
      return std::nullopt;
    }
  }

  // Polls /readyz every 20 ms until it is `status`, for up to `timeout`.
  bool await_readyz(int status, milliseconds timeout = milliseconds(10000)) const {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (readyz() == status) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

 private:
  static std::vector<std::string> with_binary(std::vector<std::string> args) {
    args.insert(args.begin(), {MINIMAL_SERVICE_PATH, "--admin-addr", "127.0.0.1:0"});
    return args;
  }

  test::ChildProcess process_;
  Clock::time_point started_;
  std::uint16_t port_ = 0;
};

// A path in the test's temporary directory, removed at the end.
class TempPath {
 public:
  TempPath()
      : path_(::testing::TempDir() + "minimal-service-db-down-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter_++)) {
    std::remove(path_.c_str());
  }
  ~TempPath() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }
  void create() const { std::ofstream(path_) << "down\n"; }
  void remove() const { std::remove(path_.c_str()); }

 private:
  static inline std::atomic<int> counter_{0};
  std::string path_;
};

TEST(MinimalService, ReadyzIs503DuringStartupThen200) {
  MinimalService service({"--startup-delay", "1", "--drain-seconds", "0"});
  EXPECT_EQ(service.readyz(), 503);
  ASSERT_TRUE(service.await_readyz(200));
  EXPECT_GE(Clock::now() - service.printed_at(), milliseconds(900))
      << "ready before the start-up delay was over";
}

TEST(MinimalService, LivezIs200DuringStartup) {
  MinimalService service({"--startup-delay", "5", "--drain-seconds", "0"});
  EXPECT_EQ(test::http_get(service.port(), "/livez").status, 200);
}

TEST(MinimalService, ReadyzIs503WhileTheDependencyIsDown) {
  TempPath down;
  MinimalService service({"--startup-delay", "0", "--drain-seconds", "0", "--check-interval", "0.1",
                          "--dependency-down-file", down.path()});
  ASSERT_TRUE(service.await_readyz(200));

  down.create();
  ASSERT_TRUE(service.await_readyz(503));
  const auto verbose = test::http_get(service.port(), "/readyz?verbose");
  EXPECT_NE(verbose.body.find("[-]database failed: dependency down"), std::string::npos)
      << verbose.body;

  down.remove();
  EXPECT_TRUE(service.await_readyz(200));
}

TEST(MinimalService, DependencyDownAtStartKeepsItNotReadyAfterStartup) {
  TempPath down;
  down.create();
  MinimalService service({"--startup-delay", "0", "--drain-seconds", "0", "--check-interval", "0.1",
                          "--dependency-down-file", down.path()});
  std::this_thread::sleep_for(milliseconds(300));  // start-up over, several checks run
  EXPECT_EQ(service.readyz(), 503);
  down.remove();
  EXPECT_TRUE(service.await_readyz(200));
}

TEST(MinimalService, SigtermMakesNotReadyAtOnceThenExitsZeroAfterTheDrain) {
  MinimalService service({"--startup-delay", "0", "--drain-seconds", "1"});
  ASSERT_TRUE(service.await_readyz(200));

  const auto signalled = Clock::now();
  service.process().send_signal(SIGTERM);
  std::optional<int> status;
  int answered_503 = 0;
  bool answered_200_after_503 = false;
  std::optional<Clock::duration> first_503;
  while (!(status = service.process().wait_exit(milliseconds(0)))) {
    ASSERT_LT(Clock::now() - signalled, seconds(15)) << "did not exit after SIGTERM";
    const auto readyz = service.readyz();
    if (readyz == 503) {
      ++answered_503;
      if (!first_503) first_503 = Clock::now() - signalled;
    } else if (readyz == 200 && first_503) {
      answered_200_after_503 = true;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  const auto exited = Clock::now() - signalled;

  ASSERT_TRUE(first_503) << "never answered 503 after SIGTERM";
  EXPECT_LT(*first_503, milliseconds(200)) << "not ready only late after SIGTERM";
  EXPECT_FALSE(answered_200_after_503);
  EXPECT_GE(answered_503, 10) << "503 should be served throughout the 1 s drain";
  EXPECT_GE(exited, milliseconds(900)) << "exited before the drain time";
  ASSERT_TRUE(WIFEXITED(*status)) << "killed by signal " << WTERMSIG(*status);
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST(MinimalService, SigintExitsZero) {
  MinimalService service({"--startup-delay", "0", "--drain-seconds", "0"});
  service.process().send_signal(SIGINT);
  const auto status = service.process().wait_exit(seconds(10));
  ASSERT_TRUE(status);
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST(MinimalService, SigtermDuringStartupExitsZero) {
  MinimalService service({"--startup-delay", "30", "--drain-seconds", "0"});
  service.process().send_signal(SIGTERM);
  const auto status = service.process().wait_exit(seconds(10));
  ASSERT_TRUE(status);
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST(MinimalService, MetricsShowIdentityHealthAndWork) {
  MinimalService service({"--startup-delay", "0", "--drain-seconds", "0"});
  ASSERT_TRUE(service.await_readyz(200));
  const std::string body = test::http_get(service.port(), "/metrics").body;
  for (const char* expected :
       {"target_info{service_name=\"minimal-service\"", "workload=\"api\"} 1", "service_ready 1",
        "health_check_status{check=\"database\",kind=\"readiness\"} 1",
        "minimal_work_items_total{kind=", "minimal_queue_depth ",
        "minimal_work_duration_seconds_bucket{kind=", "process_start_time_seconds "})
    EXPECT_NE(body.find(expected), std::string::npos) << expected << "\n" << body;
}

TEST(MinimalService, PortInUseExitsOneWithAnActionableMessage) {
  MinimalService first({"--startup-delay", "0", "--drain-seconds", "0"});
  const std::string address = "127.0.0.1:" + std::to_string(first.port());
  test::ChildProcess second({MINIMAL_SERVICE_PATH, "--admin-addr", address},
                            {"FIREBREAK_ADMIN_ADDR"});
  const auto status = second.wait_exit(seconds(10));
  ASSERT_TRUE(status);
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  EXPECT_EQ(second.read_stderr(seconds(2)),
            "minimal-service: cannot listen on " + address + ": Address already in use\n");
}

}  // namespace
}  // namespace firebreak
