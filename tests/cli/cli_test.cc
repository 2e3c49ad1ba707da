// The `firebreak` binary as users meet it: check-config's verdicts and
// messages, test-rules' exit status, export's files (checked by promtool when
// installed), usage errors, `firebreak status` against a running watch (and
// one that is not), and a running watch reloaded with SIGHUP.
#include <gtest/gtest.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "e2e/shop_process.h"
#include "firebreak/admin.h"
#include "support/http_client.h"

namespace firebreak {
namespace {

using namespace std::chrono_literals;

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr
};

CommandResult run(const std::string& args) {
  CommandResult r;
  const std::string cmd = std::string(FIREBREAK_PATH) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  while (const std::size_t n = std::fread(buf.data(), 1, buf.size(), p))
    r.output.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Runs the binary with a terminal (a pseudo-terminal) as stdout and stderr,
// `env` ("NAME=value") added and NO_COLOR removed first; its output (with
// "\r\n" line ends) and exit status.
CommandResult run_in_terminal(const std::vector<std::string>& args,
                              const std::vector<std::string>& env = {}) {
  CommandResult r;
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) return r;
  if (pid == 0) {
    ::unsetenv("NO_COLOR");
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv = {const_cast<char*>(FIREBREAK_PATH)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(FIREBREAK_PATH, argv.data());
    ::_exit(127);
  }
  std::array<char, 4096> buf;
  for (;;) {
    const ssize_t n = ::read(master, buf.data(), buf.size());
    if (n > 0)
      r.output.append(buf.data(), static_cast<std::size_t>(n));
    else if (n < 0 && errno == EINTR)
      continue;
    else
      break;  // EIO: the child closed the terminal
  }
  ::close(master);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The line of `text` that contains every one of `parts`, or "".
std::string line_with(const std::string& text, const std::vector<std::string>& parts) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    bool all = true;
    for (const auto& p : parts) all = all && contains(line, p);
    if (all) return line;
  }
  return "";
}

class CliTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_.file(name);
    std::ofstream(path) << text;
    return path;
  }
  // `firebreak watch` on a free port, with `yaml` after its listen and
  // storage keys; its port in *port.
  std::unique_ptr<e2e::ShopProcess> start_watch(const std::string& yaml, std::uint16_t* port) {
    const std::string path =
        write("firebreak.yaml", "listen: 127.0.0.1:0\nstorage: {path: watch.db}\n" + yaml);
    auto watch = std::make_unique<e2e::ShopProcess>(
        "firebreak-watch", FIREBREAK_PATH, std::vector<std::string>{"watch", "--config", path},
        dir_.path());
    *port = watch->wait_listening("watch");
    return watch;
  }
  e2e::TempDir dir_;
};

TEST_F(CliTest, VersionPrintsTheVersion) {
  const CommandResult r = run("version");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.output.rfind("firebreak ", 0), 0u) << r.output;
  const CommandResult flag = run("--version");
  EXPECT_EQ(flag.status, 0);
  EXPECT_EQ(flag.output, r.output);
}

// Runs `args` and expects a usage error: exit status 2, and each of `parts`
// in the output.
void expect_usage_error(const std::string& args, const std::vector<std::string>& parts = {}) {
  const CommandResult r = run(args);
  EXPECT_EQ(r.status, 2) << args << ": " << r.output;
  for (const auto& part : parts)
    EXPECT_TRUE(contains(r.output, part)) << args << ": no " << part << " in\n" << r.output;
}

TEST_F(CliTest, UsageErrorsExit2WithTheSubcommandsUsage) {
  expect_usage_error("", {"Usage: ", "Examples:"});
  expect_usage_error("frobnicate", {"unknown subcommand \"frobnicate\"", "Usage: firebreak"});
  expect_usage_error("export frobnicate", {"unknown subcommand", "firebreak export prometheus"});
  // The error, then the usage of the subcommand it was made in.
  expect_usage_error("status --no-such-option",
                     {"--no-such-option", "Usage: ", "firebreak status", "--url"});
  expect_usage_error("status --url not-a-url", {"not an http(s) URL"});
  expect_usage_error("status --color sometimes", {"--color"});
  expect_usage_error("export prometheus --config examples/firebreak.yaml",  // no DIR
                     {"firebreak export prometheus", "Output directory"});
  expect_usage_error("silence add", {"firebreak silence add", "--comment"});
  expect_usage_error("watch check-config",
                     {"as an argument or with --config", "firebreak watch check-config"});
  expect_usage_error("watch", {"--config", "Usage: "});
  expect_usage_error(
      "demo --break explode",
      {"unknown fault \"explode\"; one of: never-ready, not-ready, stall", "firebreak demo"});
  expect_usage_error("demo --heal --break stall", {"do not go together"});
  expect_usage_error("demo --scale 0", {"--scale"});
}

TEST_F(CliTest, DemoHealWithNoDemoRunningSaysSo) {
  const CommandResult r =
      run("demo --heal --control firebreak-cli-test-" + std::to_string(::getpid()));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "no demo is running")) << r.output;
}

TEST_F(CliTest, HelpShowsExamples) {
  for (const char* command :
       {"", "watch", "watch check-config", "watch test-rules", "export", "export prometheus",
        "export alertmanager", "status", "alerts", "silence", "silence add", "silence query",
        "silence expire", "demo", "version"}) {
    const CommandResult r = run(std::string(command) + " --help");
    EXPECT_EQ(r.status, 0) << command << ": " << r.output;
    EXPECT_TRUE(contains(r.output, "Example")) << command << ": " << r.output;
    EXPECT_TRUE(contains(r.output, std::string("firebreak ") + command)) << r.output;
  }
  const CommandResult status = run("status --help");
  for (const char* code :
       {"0  nothing pages", "1  a firing alert", "2  usage error", "3  watch could not be read"})
    EXPECT_TRUE(contains(status.output, code)) << status.output;
}

TEST_F(CliTest, CheckConfigTakesTheFileAsArgumentOrAsConfigOption) {
  CommandResult r = run("watch check-config --config examples/firebreak.yaml");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "examples/firebreak.yaml: ok")) << r.output;
  r = run("watch --config examples/firebreak.yaml check-config");
  EXPECT_EQ(r.status, 0) << r.output;
  r = run("watch check-config --config examples/firebreak.yaml examples/firebreak.yaml");
  EXPECT_EQ(r.status, 0) << "the same file twice: " << r.output;
  expect_usage_error(
      "watch check-config --config examples/firebreak.yaml " + write("other.yaml", ""),
      {"two configuration files"});
}

TEST_F(CliTest, CheckConfigAcceptsTheAnnotatedExample) {
  const CommandResult r = run("watch check-config examples/firebreak.yaml");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("examples/firebreak.yaml: ok"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rule groups"), std::string::npos) << r.output;
}

TEST_F(CliTest, CheckConfigNamesFileLineAndKeyOfEachError) {
  const std::string path = write("bad.yaml",
                                 "targets:\n"
                                 "  - name: api\n"
                                 "    metrics_url: http://127.0.0.1:1/metrics\n"
                                 "    intreval: 5s\n"
                                 "jobs:\n"
                                 "  - {name: nightly, schedule: \"61 * * * *\"}\n");
  const CommandResult r = run("watch check-config " + path);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find(path + ":4:5: targets[0].intreval"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("interval"), std::string::npos) << "suggests the known key: " << r.output;
  EXPECT_NE(r.output.find("jobs[0].schedule"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 errors"), std::string::npos) << r.output;
}

TEST_F(CliTest, CheckConfigOfAMissingFileFails) {
  const CommandResult r = run("watch check-config " + dir_.file("nope.yaml"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("nope.yaml"), std::string::npos) << r.output;
}

TEST_F(CliTest, TestRulesGivesPromtoolsVerdicts) {
  CommandResult r = run("watch test-rules tests/watch/rules/testdata/for_lifecycle_test.yml");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("SUCCESS"), std::string::npos) << r.output;
  r = run("watch test-rules tests/watch/rules/testdata/wrong_for_fail_test.yml");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("FAILED"), std::string::npos) << r.output;
}

TEST_F(CliTest, ExportWritesAConfigAndRulesPrometheusAccepts) {
  const std::string out = dir_.file("prom");
  const CommandResult r = run("export prometheus --config examples/firebreak.yaml " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_TRUE(std::filesystem::exists(out + "/prometheus.yml"));
  ASSERT_TRUE(std::filesystem::exists(out + "/rules/firebreak.rules.yml"));
  std::ifstream rules(out + "/rules/firebreak.rules.yml");
  const std::string text((std::istreambuf_iterator<char>(rules)), {});
  EXPECT_NE(text.find("alert: ServiceNeverReady"), std::string::npos);
  EXPECT_NE(text.find("alert: JobMissedRun"), std::string::npos);
  if (std::string(PROMTOOL_PATH).empty()) GTEST_SKIP() << "promtool not installed";
  const std::string promtool = PROMTOOL_PATH;
  EXPECT_EQ(std::system((promtool + " check config " + out + "/prometheus.yml >/dev/null").c_str()),
            0);
  EXPECT_EQ(
      std::system(
          (promtool + " check rules " + out + "/rules/firebreak.rules.yml >/dev/null").c_str()),
      0);
}

TEST_F(CliTest, ExportAlertmanagerWritesARoutingAmtoolAccepts) {
  const std::string config = write("firebreak.yaml",
                                   "receivers:\n"
                                   "  - name: team\n"
                                   "    webhook_configs: [{url: 'http://127.0.0.1:5001/'}]\n"
                                   "  - name: stdout\n"
                                   "    log:\n"
                                   "route:\n"
                                   "  receiver: team\n"
                                   "  routes:\n"
                                   "    - matchers: ['severity=\"page\"']\n"
                                   "      receiver: stdout\n"
                                   "      mute_time_intervals: [night]\n"
                                   "time_intervals:\n"
                                   "  - name: night\n"
                                   "    time_intervals: [{times: [{start_time: '00:00', "
                                   "end_time: '06:00'}]}]\n");
  const std::string out = dir_.file("am");
  const CommandResult r = run("export alertmanager --config " + config + " " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(out + "/alertmanager.yml");
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("alertname=\\\"TargetDown\\\""), std::string::npos) << text;
  if (std::string(AMTOOL_PATH).empty()) GTEST_SKIP() << "amtool not installed";
  const std::string amtool = AMTOOL_PATH;
  EXPECT_EQ(std::system((amtool + " check-config " + out + "/alertmanager.yml >/dev/null").c_str()),
            0)
      << text;
}

TEST_F(CliTest, AlertsAndSilenceTalkToARunningWatch) {
  const std::string path = write("firebreak.yaml",
                                 "listen: 127.0.0.1:0\nstorage: {path: watch.db}\n"
                                 "global: {evaluation_interval: 1s}\n"
                                 "rule_files: [rules.yml]\n");
  write("rules.yml",
        "groups:\n  - name: g\n    rules:\n"
        "      - alert: AlwaysOn\n        expr: vector(1)\n"
        "        labels: {service: api}\n        annotations: {summary: always on}\n");
  e2e::ShopProcess watch("firebreak-watch", FIREBREAK_PATH, {"watch", "--config", path},
                         dir_.path());
  const std::string url = "--url http://127.0.0.1:" + std::to_string(watch.wait_listening("watch"));
  CommandResult alerts;
  ASSERT_TRUE(e2e::eventually(
      [&] {
        alerts = run("alerts " + url);
        return alerts.output.find("AlwaysOn") != std::string::npos;
      },
      10000ms))
      << alerts.output;
  EXPECT_EQ(alerts.status, 0);
  EXPECT_NE(alerts.output.find("STATE"), std::string::npos) << alerts.output;
  EXPECT_NE(alerts.output.find("firing"), std::string::npos) << alerts.output;
  EXPECT_NE(alerts.output.find("always on"), std::string::npos) << alerts.output;
  EXPECT_EQ(run("alerts " + url + " service=web").output, "no firing or pending alerts\n");

  const CommandResult add =
      run("silence add " + url + " service=api --comment maintenance --duration 2h");
  ASSERT_EQ(add.status, 0) << add.output;
  const std::string id = add.output.substr(0, add.output.find('\n'));
  EXPECT_EQ(id.size(), 36u) << add.output;
  EXPECT_EQ(run("silence query -q " + url).output, id + "\n");
  const CommandResult table = run("silence query " + url);
  EXPECT_NE(table.output.find("service=\"api\""), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("maintenance"), std::string::npos) << table.output;
  EXPECT_EQ(run("silence expire " + url + " " + id).status, 0);
  EXPECT_EQ(run("silence query -q " + url).output, "");
  EXPECT_EQ(run("silence query -q --expired " + url).output, id + "\n");
  // Mistakes are clear.
  EXPECT_EQ(run("silence add " + url + " service=api").status, 2);  // no comment
  EXPECT_NE(run("silence add " + url + " '=x' --comment c").output.find("bad matcher"),
            std::string::npos);
  EXPECT_EQ(run("silence expire " + url + " nope").status, 1);
  EXPECT_EQ(run("alerts --url http://127.0.0.1:1").status, 1);
}

TEST_F(CliTest, ExportOfAServiceWithManyInstancesIsAScrapeConfigPrometheusAccepts) {
  const std::string config = write("fleet.yaml", R"(targets:
  - name: api
    workload: api
    metrics_path: /m
    labels: {team: shop}
    targets: ['10.0.0.1:9464', {address: '10.0.0.2:9464', labels: {zone: b}}]
    relabel_configs:
      - {source_labels: [__address__], regex: '([^:]+):.*', target_label: host, replacement: '$1'}
    metric_relabel_configs:
      - {source_labels: [__name__], regex: 'go_.*', action: drop}
  - name: workers
    workload: worker
    labels: {team: shop}
    file_sd_configs: [{files: [targets/*.json], refresh_interval: 1m}]
    dns_sd_configs: [{names: [_workers._tcp.example.com]}, {names: [w.example.com], type: A, port: 9000}]
)");
  const std::string out = dir_.file("prom-fleet");
  const CommandResult r = run("export prometheus --config " + config + " " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream f(out + "/prometheus.yml");
  const std::string text((std::istreambuf_iterator<char>(f)), {});
  for (const char* want :
       {"- targets: ['10.0.0.1:9464']", "- targets: ['10.0.0.2:9464']", "zone: 'b'",
        "metrics_path: '/m'", "file_sd_configs:", "refresh_interval: 1m",
        "dns_sd_configs:", "type: A", "port: 9000",
        "relabel_configs:", "metric_relabel_configs:", "regex: 'go_.*'", "target_label: 'team'"})
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  if (std::string(PROMTOOL_PATH).empty()) GTEST_SKIP() << "promtool not installed";
  EXPECT_EQ(std::system((std::string(PROMTOOL_PATH) + " check config " + out +
                         "/prometheus.yml >/dev/null 2>&1")
                            .c_str()),
            0)
      << text;
}

TEST_F(CliTest, CheckConfigPrintsNoiseWarningsAndStillSucceeds) {
  const std::string path = write("noisy.yaml",
                                 "targets:\n"
                                 "  - name: api\n"
                                 "    metrics_url: http://127.0.0.1:1/metrics\n"
                                 "    interval: 30s\n"
                                 "    thresholds: {down_for: 45s}\n");
  const CommandResult r = run("watch check-config " + path);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("warning: " + path +
                          ":5:28: targets[0].thresholds.down_for: TargetDown: down_for 45s is "
                          "shorter than two scrape intervals (1m): one failed scrape can page"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(": ok (1 warning)"), std::string::npos) << r.output;
}

TEST_F(CliTest, ExportRefusesABadConfig) {
  const std::string path = write("bad.yaml", "targets: 3\n");
  const CommandResult r = run("export prometheus --config " + path + " " + dir_.file("out"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("bad.yaml:1"), std::string::npos) << r.output;
}

// A scrape target that is up: /metrics with one gauge.
class UpTarget {
 public:
  UpTarget() : server_({.address = "127.0.0.1:0"}) {
    server_.add_handler("GET", "/metrics", [](const AdminRequest&) {
      return AdminResponse{.content_type = "text/plain; version=0.0.4", .body = "thing 1\n"};
    });
    server_.start();
  }
  std::string url() const { return "http://" + server_.address() + "/metrics"; }

 private:
  AdminServer server_;
};

TEST_F(CliTest, StatusShowsTargetsAlertsAndJobsAndExits1WhileAPageFires) {
  UpTarget web;
  write("rules.yml",
        "groups:\n  - name: g\n    rules:\n"
        "      - alert: DiskFull\n        expr: vector(1)\n"
        "        labels: {severity: page, service: db}\n"
        "        annotations: {summary: the disk is full}\n"
        "      - alert: CertExpiring\n        expr: vector(1)\n"
        "        labels: {severity: ticket}\n"
        "      - alert: SlowBurn\n        expr: vector(1)\n        for: 1h\n"
        "        labels: {severity: page}\n");
  std::uint16_t port = 0;
  const auto watch = start_watch(
      "global: {scrape_interval: 1s, scrape_timeout: 500ms, evaluation_interval: 1s}\n"
      "targets:\n"
      "  - {name: web, metrics_url: '" +
          web.url() +
          "'}\n"
          "  - {name: gone, metrics_url: 'http://127.0.0.1:1/metrics'}\n"
          "jobs:\n"
          "  - {name: nightly, schedule: '30 2 * * *', grace: 1h}\n"
          "  - {name: weekly, schedule: '0 3 * * 0', grace: 2h}\n"
          "rule_files: [rules.yml]\n",
      &port);
  const std::string url = "--url http://127.0.0.1:" + std::to_string(port);
  ASSERT_EQ(test::http_get(port, "/ping/nightly/start").status, 200);
  ASSERT_EQ(test::http_get(port, "/ping/nightly/3").status, 200);  // exit status 3: failed

  CommandResult r;
  ASSERT_TRUE(e2e::eventually(
      [&] {
        r = run("status " + url);
        return contains(r.output, "DiskFull") && contains(r.output, "Connection refused") &&
               !line_with(r.output, {"up", "web", "ago"}).empty() &&
               contains(r.output, "failed (exit 3)");
      },
      15000ms))
      << r.output;
  EXPECT_EQ(r.status, 1) << "a page is firing: " << r.output;
  EXPECT_TRUE(r.output.starts_with("watch http://127.0.0.1:" + std::to_string(port) +
                                   ": 2 targets (1 down), 2 firing (1 paging)"))
      << r.output;
  for (const char* section : {"\nTARGETS\n", "\nALERTS\n", "\nJOBS\n"})
    EXPECT_TRUE(contains(r.output, section)) << section << r.output;
  // Targets: up, and down with its error.
  EXPECT_FALSE(line_with(r.output, {"down", "gone", "127.0.0.1:1", "Connection refused"}).empty())
      << r.output;
  // Alerts: the page first, its labels and summary; the ticket; the pending one.
  const std::string page = line_with(r.output, {"firing", "DiskFull", "page", "service=db"});
  EXPECT_TRUE(contains(page, "the disk is full")) << r.output;
  EXPECT_LT(r.output.find("DiskFull"), r.output.find("CertExpiring")) << r.output;
  EXPECT_FALSE(line_with(r.output, {"firing", "CertExpiring", "ticket"}).empty()) << r.output;
  EXPECT_FALSE(line_with(r.output, {"pending", "SlowBurn"}).empty()) << r.output;
  // Jobs: the failed run with its exit status, the next run; one never ran.
  EXPECT_FALSE(line_with(r.output, {"up", "nightly", "failed (exit 3)", "ago", "in "}).empty())
      << r.output;
  EXPECT_FALSE(line_with(r.output, {"weekly", "never"}).empty()) << r.output;
  EXPECT_FALSE(contains(r.output, "\033[")) << "no colours into a pipe";

  // Silenced, the page no longer pages.
  ASSERT_EQ(run("silence add " + url + " alertname=DiskFull --comment 'replacing the disk'").status,
            0);
  ASSERT_TRUE(e2e::eventually(
      [&] {
        r = run("status " + url);
        return r.status == 0;
      },
      10000ms))
      << r.output;
  EXPECT_FALSE(line_with(r.output, {"firing (silenced)", "DiskFull"}).empty()) << r.output;
  EXPECT_TRUE(contains(r.output, "2 firing (0 paging)")) << r.output;

  // Colours on a terminal, unless NO_COLOR says otherwise or --color never.
  const CommandResult tty =
      run_in_terminal({"status", "--url", "http://127.0.0.1:" + std::to_string(port)});
  EXPECT_EQ(tty.status, 0) << tty.output;
  EXPECT_TRUE(contains(tty.output, "\033[31mdown")) << tty.output;
  EXPECT_TRUE(contains(tty.output, "\033[32mup")) << tty.output;
  EXPECT_TRUE(contains(tty.output, "\033[1mTARGETS")) << tty.output;
  const CommandResult no_color = run_in_terminal(
      {"status", "--url", "http://127.0.0.1:" + std::to_string(port)}, {"NO_COLOR=1"});
  EXPECT_TRUE(contains(no_color.output, "TARGETS")) << no_color.output;
  EXPECT_FALSE(contains(no_color.output, "\033[")) << no_color.output;
  const CommandResult never = run_in_terminal(
      {"status", "--color", "never", "--url", "http://127.0.0.1:" + std::to_string(port)});
  EXPECT_FALSE(contains(never.output, "\033[")) << never.output;
  EXPECT_TRUE(contains(run("status --color always " + url).output, "\033[31mdown"));
}

TEST_F(CliTest, StatusOfAWatchThatCannotBeReachedExits3) {
  const CommandResult r = run("status --url http://127.0.0.1:1");
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "http://127.0.0.1:1/api/v1/targets")) << r.output;
  EXPECT_TRUE(contains(r.output, "Connection refused")) << r.output;
  // Something that answers, but is not watch.
  UpTarget not_watch;
  const std::string base = not_watch.url().substr(0, not_watch.url().size() - 8);
  const CommandResult other = run("status --url " + base);
  EXPECT_EQ(other.status, 3) << other.output;
  EXPECT_TRUE(contains(other.output, "answered 404")) << other.output;
  // JSON, but not in the shapes of watch's API.
  AdminServer json_server({.address = "127.0.0.1:0"});
  json_server.add_prefix_handler("GET", "/api/", [](const AdminRequest&) {
    return AdminResponse{.content_type = "application/json", .body = "[1, 2]"};
  });
  json_server.start();
  const CommandResult odd = run("status --url http://" + json_server.address());
  EXPECT_EQ(odd.status, 3) << odd.output;
  EXPECT_TRUE(contains(odd.output, "does not answer as watch does")) << odd.output;
}

TEST_F(CliTest, StatusOfAnEmptyWatchSaysSoAndExits0) {
  std::uint16_t port = 0;
  const auto watch = start_watch("", &port);
  const CommandResult r = run("status --url http://127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "TARGETS  none")) << r.output;
  EXPECT_TRUE(contains(r.output, "ALERTS  none firing or pending")) << r.output;
  EXPECT_TRUE(contains(r.output, "JOBS  none")) << r.output;
}

TEST_F(CliTest, WatchWritesOnlyJsonLinesAndAnnouncesItsAddress) {
  std::uint16_t port = 0;
  const auto watch = start_watch("", &port);
  EXPECT_EQ(test::http_get(port, "/readyz").status, 200);
  const auto listening = watch->logs("listening");
  ASSERT_EQ(listening.size(), 1u) << watch->stdout_text();
  EXPECT_EQ(listening[0].value("server", ""), "watch");
  EXPECT_EQ(listening[0].value("address", ""), "127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(listening[0].value("level", ""), "info");
  std::istringstream lines(watch->stdout_text());
  for (std::string line; std::getline(lines, line);)
    EXPECT_TRUE(nlohmann::json::parse(line, nullptr, false).is_object()) << line;
}

TEST_F(CliTest, SighupReloadsAndABadReloadKeepsTheRunningConfig) {
  const std::string good =
      "listen: 127.0.0.1:0\nstorage: {path: watch.db}\nglobal: {evaluation_interval: 1s}\n"
      "jobs:\n  - {name: nightly, schedule: \"30 2 * * *\", grace: 1h}\n";
  const std::string path = write("firebreak.yaml", good);
  e2e::ShopProcess watch("firebreak-watch", FIREBREAK_PATH, {"watch", "--config", path},
                         dir_.path());
  const std::uint16_t port = watch.wait_listening("watch");
  EXPECT_EQ(test::http_get(port, "/ping/nightly").status, 200);
  EXPECT_EQ(test::http_get(port, "/ping/weekly").status, 404);
  EXPECT_EQ(test::http_get(port, "/readyz").status, 200);

  write("firebreak.yaml", good + "  - {name: weekly, schedule: \"0 3 * * 0\", grace: nope}\n");
  watch.send_signal(SIGHUP);
  ASSERT_TRUE(e2e::eventually([&] { return !watch.logs("config_reload_failed").empty(); }, 5000ms))
      << watch.stdout_text();
  const auto failed = watch.logs("config_reload_failed")[0];
  EXPECT_NE(failed.value("error", "").find("jobs[1].grace"), std::string::npos) << failed.dump();
  EXPECT_EQ(test::http_get(port, "/ping/nightly").status, 200) << "still running the old config";
  EXPECT_EQ(test::http_get(port, "/ping/weekly").status, 404);

  write("firebreak.yaml", good + "  - {name: weekly, schedule: \"0 3 * * 0\", grace: 2h}\n");
  watch.send_signal(SIGHUP);
  ASSERT_TRUE(e2e::eventually([&] { return !watch.logs("config_reloaded").empty(); }, 5000ms))
      << watch.stdout_text();
  EXPECT_EQ(test::http_get(port, "/ping/weekly").status, 200);
  const auto history = test::http_get(port, "/api/v1/query?query=job_checkin_state");
  EXPECT_EQ(history.status, 200);

  // watch observes itself with the kit.
  test::HttpResponse metrics;
  EXPECT_TRUE(e2e::eventually(
      [&] {
        metrics = test::http_get(port, "/metrics");
        return metrics.body.find("watch_rule_group_evaluations_total{") != std::string::npos;
      },
      5000ms));
  for (const char* family :
       {"service_ready 1", "target_info{", "watch_rule_group_evaluations_total{",
        "watch_rule_group_duration_seconds_bucket{", "watch_head_series ", "watch_checkin_jobs 2",
        "log_records_total{"})
    EXPECT_NE(metrics.body.find(family), std::string::npos) << family << " in\n" << metrics.body;
  EXPECT_EQ(test::http_get(port, "/livez").status, 200);

  watch.send_signal(SIGTERM);
  const auto status = watch.wait_exit(5000ms);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

}  // namespace
}  // namespace firebreak
