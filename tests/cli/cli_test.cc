// The `firebreak` binary as users meet it: check-config's verdicts and
// messages, test-rules' exit status, export's files (checked by promtool when
// installed), and a running watch reloaded with SIGHUP.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "e2e/shop_process.h"
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

class CliTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_.file(name);
    std::ofstream(path) << text;
    return path;
  }
  e2e::TempDir dir_;
};

TEST_F(CliTest, VersionPrintsTheVersion) {
  const CommandResult r = run("version");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.output.rfind("firebreak ", 0), 0u) << r.output;
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

TEST_F(CliTest, WatchWithoutConfigIsAUsageError) {
  const CommandResult r = run("watch");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--config"), std::string::npos) << r.output;
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
