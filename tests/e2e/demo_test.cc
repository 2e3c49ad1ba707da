// End to end: `firebreak demo` as a newcomer runs it, ten times faster
// (--scale 0.1). The status page's URL comes first and answers; `break stall`
// and `break target-down`, typed on its stdin, say which alert fires and
// when, and watch fires it; `heal` (here from another terminal, `firebreak
// demo --heal`) starts the stopped worker again and the alerts resolve; one
// order's trace spans shop-api and shop-worker in watch; Ctrl-C stops every
// process the demo started and removes its directory.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "support/child_process.h"
#include "support/http_client.h"

namespace firebreak {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Polls `done` every 100 ms until it is true or `timeout` passes.
template <class F>
bool eventually(F done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
}

// The processes whose parent is `pid` (from /proc/*/stat).
std::set<pid_t> children_of(pid_t pid) {
  std::set<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    // pid (comm) state ppid ...: comm may hold spaces and parentheses.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    pid_t ppid = 0;
    if (rest >> state >> ppid && ppid == pid) out.insert(std::stoi(entry.path().filename()));
  }
  return out;
}

class DemoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    control_ = "firebreak-demo-test-" + std::to_string(::getpid());
    demo_ = std::make_unique<test::ChildProcess>(
        std::vector<std::string>{FIREBREAK_PATH, "demo", "--scale", "0.1", "--rate", "20",
                                 "--control", control_},
        std::vector<std::string>{}, /*pipe_stdin=*/true);
  }

  // Reads the demo's stdout until a line contains `text`; every line read
  // is kept in output_. False on timeout.
  bool read_until(const std::string& text, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      const auto line = demo_->read_line(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
      if (!line) return false;
      output_ += *line + "\n";
      if (line->find(text) != std::string::npos) return true;
    }
    return false;
  }

  json get(const std::string& target) {
    const auto r = test::http_get(port_, target);
    if (r.status != 200) return json();
    return json::parse(r.body, nullptr, false);
  }

  // Whether watch has `alert` firing, with `label`=`value`.
  bool firing(const std::string& alert, const std::string& label, const std::string& value) {
    const json alerts = get("/api/v1/alerts")["data"]["alerts"];
    if (!alerts.is_array()) return false;
    for (const json& a : alerts)
      if (a["labels"].value("alertname", "") == alert && a["labels"].value(label, "") == value &&
          a.value("state", "") == "firing")
        return true;
    return false;
  }

  // Types a command and waits for the line that answers it.
  void type(const std::string& command, const std::string& answer) {
    demo_->write_stdin(command + "\n");
    ASSERT_TRUE(read_until(answer, 30s)) << command << ": no \"" << answer << "\" in\n"
                                         << output_ << demo_->read_stderr(100ms);
  }

  std::string control_;
  std::unique_ptr<test::ChildProcess> demo_;
  std::uint16_t port_ = 0;
  std::string output_;
};

TEST_F(DemoTest, BreaksHealsTracesAndCleansUp) {
  // The status page first: the demo's first line.
  const auto first = demo_->read_line(30s);
  ASSERT_TRUE(first) << demo_->read_stderr(1s);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(*first, m, std::regex(R"(Status page: http://127\.0\.0\.1:(\d+)/)")))
      << *first;
  port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
  EXPECT_EQ(test::http_get(port_, "/").status, 200);

  ASSERT_TRUE(read_until("Ctrl-C stops everything", 30s)) << output_ << demo_->read_stderr(1s);
  std::smatch dir_match;
  ASSERT_TRUE(std::regex_search(output_, dir_match, std::regex(R"(its files in (\S+),)")))
      << output_;
  const std::string dir = dir_match[1];
  EXPECT_TRUE(std::filesystem::exists(dir + "/firebreak.yaml"));
  for (const char* fault : {"never-ready", "not-ready", "stall", "slow", "errors", "job-fails",
                            "job-missed", "job-too-long", "target-down"})
    EXPECT_NE(output_.find(std::string("  ") + fault + " "), std::string::npos) << fault;

  // A worker that turns but finishes nothing: WorkerStalled, as announced.
  const auto stalled = Clock::now();
  type("break stall", "WorkerStalled {reason=no_progress} fires within about 5s");
  ASSERT_TRUE(eventually([&] { return firing("WorkerStalled", "reason", "no_progress"); }, 20s))
      << get("/api/v1/alerts").dump();
  const auto stall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stalled).count();
  std::printf("demo: WorkerStalled firing %lld ms after `break stall` (announced within 5s)\n",
              static_cast<long long>(stall_ms));
  EXPECT_TRUE(read_until("FIRING   WorkerStalled", 10s)) << output_;

  // The worker stopped: TargetDown.
  const auto downed = Clock::now();
  type("break target-down", "TargetDown {job=shop-worker} fires within about 4s");
  ASSERT_TRUE(eventually([&] { return firing("TargetDown", "job", "shop-worker"); }, 20s))
      << get("/api/v1/alerts").dump();
  std::printf(
      "demo: TargetDown firing %lld ms after `break target-down` (announced within 4s)\n",
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - downed).count()));

  // A wrong name is refused with the valid ones; the demo goes on.
  demo_->write_stdin("break explode\n");

  // heal from another terminal: the running demo takes it.
  FILE* p = ::popen(
      (std::string(FIREBREAK_PATH) + " demo --heal --control " + control_ + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string healed;
  char buf[4096];
  while (const std::size_t n = std::fread(buf, 1, sizeof buf, p)) healed.append(buf, n);
  EXPECT_EQ(WEXITSTATUS(::pclose(p)), 0) << healed;
  EXPECT_NE(healed.find("sent to the demo already running"), std::string::npos) << healed;
  EXPECT_NE(healed.find("started shop-worker again"), std::string::npos) << healed;
  EXPECT_TRUE(eventually(
      [&] {
        return !firing("TargetDown", "job", "shop-worker") &&
               !firing("WorkerStalled", "reason", "no_progress");
      },
      30s))
      << get("/api/v1/alerts").dump();

  // One order's trace, from shop-api through the queue to shop-worker.
  EXPECT_TRUE(eventually(
      [&] {
        const json traces = get("/api/v1/traces?service=shop-worker")["data"]["traces"];
        if (!traces.is_array()) return false;
        for (const json& t : traces)
          if (t["services"] == json::array({"shop-api", "shop-worker"})) return true;
        return false;
      },
      20s))
      << get("/api/v1/traces").dump();

  // Ctrl-C: every child stopped and reaped, the directory gone, exit 0.
  const std::set<pid_t> children = children_of(demo_->pid());
  EXPECT_EQ(children.size(), 5u) << "watch, shop-api, shop-worker, shop-daily, shop-load";
  demo_->send_signal(SIGINT);
  const auto status = demo_->wait_exit(40s);
  ASSERT_TRUE(status) << "still running after SIGINT";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  for (const pid_t c : children)
    EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(c)))
        << "child " << c << " is left";
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
  const std::string err = demo_->read_stderr(1s);
  EXPECT_NE(err.find("unknown fault \"explode\"; one of: never-ready"), std::string::npos) << err;
}

}  // namespace
}  // namespace firebreak
