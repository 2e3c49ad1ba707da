// `firebreak demo`'s children and the log lines it reads them by: a child's
// output in its files, stop_all's SIGTERM then SIGKILL, a follower that
// hands out whole lines only, and the `listening` event.
#include "cli/demo_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

extern char** environ;

namespace firebreak::cli::demo {
namespace {

using namespace std::chrono_literals;

class DemoProcessTest : public ::testing::Test {
 protected:
  DemoProcessTest()
      : dir_(std::filesystem::temp_directory_path() /
             ("demo_process_test_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir_);
  }
  ~DemoProcessTest() override { std::filesystem::remove_all(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  std::unique_ptr<Child> sh(const std::string& script) {
    return std::make_unique<Child>("sh", std::vector<std::string>{"/bin/sh", "-c", script},
                                   std::vector<std::string>{"PATH=/usr/bin:/bin", "GREETING=hi"},
                                   file("out"), file("err"));
  }
  std::filesystem::path dir_;
};

TEST_F(DemoProcessTest, AChildWritesToItsFilesWithTheEnvironmentItWasGiven) {
  auto child = sh("echo $GREETING; echo oops >&2; read line; echo \"stdin: [$line]\"");
  ASSERT_TRUE(child->wait_exit(5s));
  EXPECT_EQ(child->exit_text(), "exit status 0");
  LineFollower out(file("out"));
  EXPECT_EQ(out.new_lines(), (std::vector<std::string>{"hi", "stdin: []"}));
  EXPECT_EQ(file_tail(file("err")), "oops\n");
}

TEST_F(DemoProcessTest, StopAllSendsSigtermThenSigkillAndReapsEveryChild) {
  auto polite = sh("exec sleep 30");
  auto stubborn = sh("trap '' TERM; while :; do sleep 0.05; done");
  std::this_thread::sleep_for(200ms);  // the trap is set
  const auto start = std::chrono::steady_clock::now();
  stop_all({polite.get(), stubborn.get(), nullptr}, 500ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_FALSE(polite->running());
  EXPECT_FALSE(stubborn->running());
  EXPECT_EQ(polite->exit_text(), "killed by signal 15");
  EXPECT_EQ(stubborn->exit_text(), "killed by signal 9");
  EXPECT_EQ(::kill(stubborn->pid(), 0), -1) << "reaped: no zombie left";
}

TEST_F(DemoProcessTest, AChildRunsInAProcessGroupOfItsOwn) {
  auto child = sh("exec sleep 30");
  for (int i = 0; i < 100 && ::getpgid(child->pid()) != child->pid(); ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(::getpgid(child->pid()), child->pid());
  EXPECT_NE(::getpgid(child->pid()), ::getpgrp());
}

TEST_F(DemoProcessTest, TheFollowerHandsOutWholeLinesOnlyAndStartsWhereAsked) {
  const std::string path = file("log");
  LineFollower missing(path);
  EXPECT_TRUE(missing.new_lines().empty());
  std::ofstream out(path);
  out << "one\ntw" << std::flush;
  LineFollower from_end(path, /*from_end=*/true);
  EXPECT_EQ(missing.new_lines(), std::vector<std::string>{"one"});
  out << "o\nthree\n" << std::flush;
  EXPECT_EQ(missing.new_lines(), (std::vector<std::string>{"two", "three"}));
  EXPECT_EQ(from_end.new_lines(), (std::vector<std::string>{"o", "three"}));
  EXPECT_TRUE(missing.new_lines().empty());
}

TEST(DemoListening, TheAddressOfTheServersListeningEvent) {
  const std::string line =
      R"({"timestamp":"t","level":"info","event":"listening","server":"admin","address":"127.0.0.1:41234"})";
  EXPECT_EQ(listening_address(line, "admin"), "127.0.0.1:41234");
  EXPECT_FALSE(listening_address(line, "http"));
  EXPECT_FALSE(listening_address(R"({"event":"started","server":"admin","address":"x"})", "admin"));
  EXPECT_FALSE(listening_address("admin listening on 127.0.0.1:1", "admin"));
  EXPECT_FALSE(listening_address("{not json", "admin"));
}

}  // namespace
}  // namespace firebreak::cli::demo
