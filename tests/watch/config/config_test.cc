#include "watch/config/config.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <cstdlib>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace watch::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kFile = "firebreak.yaml";

std::string cwd() {
  return std::filesystem::current_path().string();
}

std::string all_errors(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.to_string() + "\n";
  return out;
}

// Parses `yaml` and expects exactly one error, at `line` and `key`, whose
// message contains `message`.
ConfigError one_error(const std::string& yaml, int line, const std::string& key,
                      const std::string& message) {
  const LoadResult r = parse_config(yaml, kFile);
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
  if (r.errors.empty()) return {};
  const ConfigError& e = r.errors.front();
  EXPECT_EQ(e.file, kFile);
  EXPECT_EQ(e.line, line) << e.to_string();
  EXPECT_EQ(e.key, key) << e.to_string();
  EXPECT_THAT(e.message, HasSubstr(message)) << e.to_string();
  return e;
}

const std::string kTarget = "targets:\n  - name: a\n    metrics_url: http://127.0.0.1:1/metrics\n";

// ---------------------------------------------------------------- valid files

TEST(WatchConfigTest, FullConfigSetsEveryField) {
  const std::string yaml = R"(listen: 0.0.0.0:19095
storage:
  path: data/watch.db
  retention: 8d
  max_series: 5000
global:
  scrape_interval: 30s
  scrape_timeout: 20s
  evaluation_interval: 1m
  body_size_limit: 4MiB
  sample_limit: 10000
  job_alert_for: 2m
targets:
  - name: shop-api
    workload: api
    metrics_url: http://127.0.0.1:9464/metrics
    ready_url: http://127.0.0.1:9464/readyz
    interval: 5s
    timeout: 2s
    honor_labels: true
    body_size_limit: 512KiB
    sample_limit: 50
    labels: {team: shop, tier: "1"}
    thresholds:
      down_for: 3m
      startup_budget: 4m
      not_ready_for: 6m
      stall_for: 11m
      heartbeat_max_age: 90s
      queue_lag: 15m
      queue_lag_for: 7m
      latency_objective: 250ms
      latency_for: 12m
      regression_window: 1h
      regression_baseline_offset: 7d
      regression_factor: 2
      regression_min_request_rate: 0.5
      availability_objective: 0.99
      fast_burn_long_window: 2h
      fast_burn_short_window: 10m
      slow_burn_long_window: 12h
      slow_burn_short_window: 1h
  - name: shop-worker
    workload: worker
    metrics_url: http://127.0.0.1:9465/metrics
jobs:
  - name: shop-daily
    schedule: "30 2 * * *"
    timezone: Europe/Berlin
    grace: 30m
    max_run_time: 2h
  - name: hourly
    schedule: "@every 1h"
rule_files: [rules/*.yml, rules/a.yml, missing/*.yml]
receivers:
  - name: oncall
    webhook: {url: http://127.0.0.1:5001/hook, timeout: 3s, max_alerts: 20}
  - name: stdout
    log: {}
)";
  const std::string path = "tests/watch/config/testdata/firebreak.yaml";
  const LoadResult r = parse_config(yaml, path);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const Config& c = r.config;
  const std::string dir = cwd() + "/tests/watch/config/testdata";
  EXPECT_EQ(c.path, path);
  EXPECT_EQ(c.dir, dir);
  EXPECT_EQ(c.listen, "0.0.0.0:19095");
  EXPECT_EQ(c.storage_path, dir + "/data/watch.db");
  EXPECT_EQ(c.retention_ms, 8 * 24 * 3'600'000LL);
  EXPECT_EQ(c.max_series, 5000u);
  EXPECT_EQ(c.scrape_interval_ms, 30'000);
  EXPECT_EQ(c.scrape_timeout_ms, 20'000);
  EXPECT_EQ(c.evaluation_interval_ms, 60'000);
  EXPECT_EQ(c.body_size_limit, 4u << 20);
  EXPECT_EQ(c.sample_limit, 10000u);
  EXPECT_EQ(c.job_alert_for_ms, 2 * 60'000);
  EXPECT_EQ(c.rule_files, (std::vector<std::string>{dir + "/rules/a.yml", dir + "/rules/b.yml"}));

  ASSERT_EQ(c.targets.size(), 2u);
  const Target& api = c.targets[0];
  EXPECT_EQ(api.name, "shop-api");
  EXPECT_EQ(api.workload, rulepack::Workload::kApi);
  EXPECT_EQ(api.metrics_url, "http://127.0.0.1:9464/metrics");
  EXPECT_EQ(api.ready_url, "http://127.0.0.1:9464/readyz");
  EXPECT_EQ(api.interval_ms, 5'000);
  EXPECT_EQ(api.timeout_ms, 2'000);
  EXPECT_TRUE(api.honor_labels);
  EXPECT_EQ(api.body_size_limit, 512u << 10);
  EXPECT_EQ(api.sample_limit, 50u);
  EXPECT_EQ(api.labels, (std::vector<watch::Label>{{"team", "shop"}, {"tier", "1"}}));
  EXPECT_EQ(api.line, 14);
  const rulepack::Thresholds& t = api.thresholds;
  EXPECT_EQ(t.down_for_ms, 3 * 60'000);
  EXPECT_EQ(t.startup_budget_ms, 4 * 60'000);
  EXPECT_EQ(t.not_ready_for_ms, 6 * 60'000);
  EXPECT_EQ(t.stall_for_ms, 11 * 60'000);
  EXPECT_EQ(t.heartbeat_max_age_ms, 90'000);
  EXPECT_EQ(t.queue_lag_ms, 15 * 60'000);
  EXPECT_EQ(t.queue_lag_for_ms, 7 * 60'000);
  EXPECT_DOUBLE_EQ(t.latency_objective_seconds, 0.25);
  EXPECT_EQ(t.latency_for_ms, 12 * 60'000);
  EXPECT_EQ(t.regression_window_ms, 3'600'000);
  EXPECT_EQ(t.regression_baseline_offset_ms, 7 * 24 * 3'600'000LL);
  EXPECT_DOUBLE_EQ(t.regression_factor, 2.0);
  EXPECT_DOUBLE_EQ(t.regression_min_request_rate, 0.5);
  EXPECT_DOUBLE_EQ(t.availability_objective, 0.99);
  EXPECT_EQ(t.fast_burn_long_window_ms, 2 * 3'600'000);
  EXPECT_EQ(t.fast_burn_short_window_ms, 10 * 60'000);
  EXPECT_EQ(t.slow_burn_long_window_ms, 12 * 3'600'000);
  EXPECT_EQ(t.slow_burn_short_window_ms, 3'600'000);

  const Target& worker = c.targets[1];
  EXPECT_EQ(worker.workload, rulepack::Workload::kWorker);
  EXPECT_EQ(worker.ready_url, "");
  EXPECT_EQ(worker.interval_ms, 30'000);  // from global
  EXPECT_EQ(worker.timeout_ms, 20'000);
  EXPECT_EQ(worker.body_size_limit, 4u << 20);
  EXPECT_EQ(worker.sample_limit, 10000u);
  EXPECT_FALSE(worker.honor_labels);
  EXPECT_TRUE(worker.labels.empty());
  EXPECT_EQ(worker.thresholds.down_for_ms, rulepack::Thresholds{}.down_for_ms);

  ASSERT_EQ(c.jobs.size(), 2u);
  EXPECT_EQ(c.jobs[0].name, "shop-daily");
  EXPECT_EQ(c.jobs[0].schedule, "30 2 * * *");
  EXPECT_EQ(c.jobs[0].time_zone, "Europe/Berlin");
  EXPECT_EQ(c.jobs[0].grace_ms, 30 * 60'000);
  EXPECT_EQ(c.jobs[0].max_run_time_ms, 2 * 3'600'000);
  EXPECT_EQ(c.jobs[0].line, 47);
  EXPECT_EQ(c.jobs[1].schedule, "@every 1h");
  EXPECT_EQ(c.jobs[1].time_zone, "UTC");
  EXPECT_EQ(c.jobs[1].grace_ms, 3'600'000);
  EXPECT_EQ(c.jobs[1].max_run_time_ms, 0);

  ASSERT_EQ(c.receivers.size(), 2u);
  EXPECT_EQ(c.receivers[0].name, "oncall");
  ASSERT_EQ(c.receivers[0].integrations.size(), 1u);
  const Integration& hook = c.receivers[0].integrations[0];
  EXPECT_EQ(hook.kind, "webhook");
  const auto& w = std::get<watch::alerting::WebhookConfig>(hook.config);
  EXPECT_EQ(w.url, "http://127.0.0.1:5001/hook");
  EXPECT_EQ(w.timeout, std::chrono::milliseconds(3'000));
  EXPECT_EQ(w.max_alerts, 20u);
  EXPECT_TRUE(hook.send_resolved);
  EXPECT_EQ(c.receivers[1].name, "stdout");
  ASSERT_EQ(c.receivers[1].integrations.size(), 1u);
  EXPECT_EQ(c.receivers[1].integrations[0].kind, "log");
  EXPECT_EQ(c.receivers[1].line, 58);
}

TEST(WatchConfigTest, EmptyFileIsValidWithDefaultsAndWatchesNothing) {
  for (const char* text : {"", "# only a comment\n", "---\n", "~\n"}) {
    const LoadResult r = parse_config(text, kFile);
    ASSERT_TRUE(r.ok()) << text << all_errors(r);
    const Config& c = r.config;
    EXPECT_EQ(c.dir, cwd());
    EXPECT_EQ(c.listen, "127.0.0.1:9095");
    EXPECT_EQ(c.storage_path, cwd() + "/firebreak-watch.db");
    EXPECT_EQ(c.retention_ms, 26 * 3'600'000);
    EXPECT_EQ(c.max_series, 1'000'000u);
    EXPECT_EQ(c.scrape_interval_ms, 15'000);
    EXPECT_EQ(c.scrape_timeout_ms, 10'000);
    EXPECT_EQ(c.evaluation_interval_ms, 15'000);
    EXPECT_EQ(c.body_size_limit, 16u << 20);
    EXPECT_EQ(c.sample_limit, 0u);
    EXPECT_TRUE(c.targets.empty());
    EXPECT_TRUE(c.jobs.empty());
    EXPECT_TRUE(c.receivers.empty());
    EXPECT_TRUE(c.rule_files.empty());
    EXPECT_THAT(summary(c), HasSubstr("watches nothing"));
  }
}

TEST(WatchConfigTest, TargetDefaultsComeFromGlobal) {
  const LoadResult r = parse_config(kTarget, kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const Target& t = r.config.targets.at(0);
  EXPECT_EQ(t.workload, rulepack::Workload::kOther);
  EXPECT_EQ(t.interval_ms, 15'000);
  EXPECT_EQ(t.timeout_ms, 10'000);
  EXPECT_EQ(t.body_size_limit, 16u << 20);
  EXPECT_EQ(t.sample_limit, 0u);
  EXPECT_FALSE(t.honor_labels);
  EXPECT_EQ(t.line, 2);
}

TEST(WatchConfigTest, DefaultTimeoutIsCappedAtAShorterInterval) {
  const LoadResult r = parse_config(kTarget + "    interval: 5s\n", kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.config.targets.at(0).timeout_ms, 5'000);
}

TEST(WatchConfigTest, NullValuesMeanTheDefault) {
  const LoadResult r = parse_config("listen:\nstorage:\nglobal:\ntargets:\njobs:\n", kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.config.listen, "127.0.0.1:9095");
}

TEST(WatchConfigTest, SizesAcceptBinaryUnitsAndPlainBytes) {
  std::size_t b = 0;
  EXPECT_TRUE(parse_size("16MiB", b));
  EXPECT_EQ(b, 16u << 20);
  EXPECT_TRUE(parse_size("3KiB", b));
  EXPECT_EQ(b, 3u << 10);
  EXPECT_TRUE(parse_size("2GiB", b));
  EXPECT_EQ(b, std::size_t{2} << 30);
  EXPECT_TRUE(parse_size("100B", b));
  EXPECT_EQ(b, 100u);
  EXPECT_TRUE(parse_size("4096", b));
  EXPECT_EQ(b, 4096u);
  EXPECT_TRUE(parse_size("0", b));
  EXPECT_EQ(b, 0u);
  for (const char* bad : {"", "MiB", "16 MiB", "16MB", "-1", "1.5MiB", "99999999999999999999GiB"})
    EXPECT_FALSE(parse_size(bad, b)) << bad;
}

TEST(WatchConfigTest, ListenAddresses) {
  for (const char* good : {"127.0.0.1:9095", "0.0.0.0:0", "localhost:80", "[::1]:9095"})
    EXPECT_TRUE(valid_listen_address(good)) << good;
  for (const char* bad : {"9095", ":9095", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:x",
                          "::1:9095", "a b:1", "[]:1"})
    EXPECT_FALSE(valid_listen_address(bad)) << bad;
}

// ---------------------------------------------------------------- errors

TEST(WatchConfigErrorTest, ToStringHasFileLineColumnKeyAndMessage) {
  const std::string yaml = kTarget +
                           "  - name: b\n    metrics_url: http://127.0.0.1:2/metrics\n"
                           "    interval: 5x\n";
  const ConfigError e = one_error(yaml, 6, "targets[1].interval", "not a duration: \"5x\"");
  EXPECT_EQ(e.to_string(), "firebreak.yaml:6:15: targets[1].interval: not a duration: \"5x\"");
  EXPECT_EQ((ConfigError{"f.yaml", 0, 0, "", "cannot open"}).to_string(), "f.yaml: cannot open");
}

TEST(WatchConfigErrorTest, UnknownKeySuggestsTheClosestKnownKey) {
  const ConfigError e =
      one_error(kTarget + "    intreval: 5s\n", 4, "targets[0].intreval", "unknown key");
  EXPECT_THAT(e.message, HasSubstr("did you mean \"interval\"?"));
  EXPECT_EQ(e.column, 5);
  one_error("scrape_interval: 5s\n", 1, "scrape_interval", "unknown key \"scrape_interval\"");
  one_error("globl: {}\n", 1, "globl", "did you mean \"global\"?");
  one_error(kTarget + "    thresholds: {startup_budgt: 1m}\n", 4,
            "targets[0].thresholds.startup_budgt", "did you mean \"startup_budget\"?");
  one_error("receivers:\n  - name: r\n    log: {path: /tmp/x}\n", 3, "receivers[0].log.path",
            "unknown key");
}

TEST(WatchConfigErrorTest, KeysFromTheFileAreEscapedAndShortened) {
  const LoadResult r = parse_config("\"a\\nb\": 1\n" + std::string(200, 'k') + ": 1\n", kFile);
  ASSERT_EQ(r.errors.size(), 2u) << all_errors(r);
  EXPECT_EQ(r.errors[0].key, "a\\x0ab");
  EXPECT_EQ(r.errors[1].key, std::string(80, 'k') + "...");
}

TEST(WatchConfigErrorTest, UnknownKeyFarFromAnyListsTheKnownKeys) {
  one_error("zzzzzz: 1\n", 1, "zzzzzz", "expected one of: listen, storage, query, global");
}

TEST(WatchConfigErrorTest, RepeatedKey) {
  one_error("listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n", 2, "listen", "key repeated");
}

TEST(WatchConfigErrorTest, WrongTypes) {
  one_error("targets: {a: 1}\n", 1, "targets", "expected a list, got a mapping");
  one_error("storage: [a]\n", 1, "storage", "expected a mapping, got a list");
  one_error("- a\n- b\n", 1, "", "expected a mapping, got a list");
  one_error("listen: [a]\n", 1, "listen", "expected a string, got a list");
  one_error(kTarget + "    honor_labels: yes\n", 4, "targets[0].honor_labels",
            "expected true or false, got \"yes\"");
  one_error(kTarget + "    labels: [team]\n", 4, "targets[0].labels",
            "expected a mapping, got a list");
  one_error(kTarget + "    sample_limit: -1\n", 4, "targets[0].sample_limit",
            "expected a non-negative integer, got \"-1\"");
  one_error("global: {body_size_limit: 16MB}\n", 1, "global.body_size_limit",
            "not a size: \"16MB\"");
  one_error("storage: {max_series: 0}\n", 1, "storage.max_series", "must be greater than 0");
  one_error(kTarget + "    thresholds: {regression_factor: high}\n", 4,
            "targets[0].thresholds.regression_factor", "expected a number, got \"high\"");
  one_error("targets:\n  - just-a-string\n", 2, "targets[0]", "expected a mapping, got a scalar");
}

TEST(WatchConfigErrorTest, MissingRequiredKeys) {
  one_error("targets:\n  - metrics_url: http://127.0.0.1:1/metrics\n", 2, "targets[0].name",
            "is required");
  one_error("targets:\n  - name: a\n", 2, "targets[0].metrics_url", "is required");
  one_error("jobs:\n  - schedule: '@daily'\n", 2, "jobs[0].name", "is required");
  one_error("jobs:\n  - name: j\n", 2, "jobs[0].schedule", "is required");
  one_error("receivers:\n  - log: {}\n", 2, "receivers[0].name", "is required");
  one_error("receivers:\n  - name: r\n    webhook: {timeout: 1s}\n", 3, "receivers[0].webhook.url",
            "is required");
}

TEST(WatchConfigErrorTest, LogReceiverMayBeNull) {
  const LoadResult r = parse_config("receivers:\n  - name: r\n    log:\n", kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.config.receivers.at(0).integrations.at(0).kind, "log");
}

TEST(WatchConfigErrorTest, DuplicateNames) {
  one_error(kTarget + kTarget.substr(9), 4, "targets[1].name",
            "duplicate target name \"a\" (also at line 2)");
  one_error("jobs:\n  - {name: j, schedule: '@daily'}\n  - {name: j, schedule: '@daily'}\n", 3,
            "jobs[1].name", "duplicate job name \"j\" (also at line 2)");
  one_error("receivers:\n  - {name: r, log: {}}\n  - {name: r, log: {}}\n", 3, "receivers[1].name",
            "duplicate receiver name \"r\" (also at line 2)");
  one_error(kTarget + "jobs:\n  - {name: a, schedule: '@daily'}\n", 5, "jobs[0].name",
            "job name \"a\" is also a target's name (line 2)");
}

TEST(WatchConfigErrorTest, InvalidNames) {
  one_error("targets:\n  - name: a/b\n    metrics_url: http://127.0.0.1:1/metrics\n", 2,
            "targets[0].name", "invalid name \"a/b\"");
  one_error("jobs:\n  - {name: 'x y', schedule: '@daily'}\n", 2, "jobs[0].name", "invalid name");
}

TEST(WatchConfigErrorTest, InvalidUrls) {
  one_error("targets:\n  - name: a\n    metrics_url: ftp://x/metrics\n", 3,
            "targets[0].metrics_url", "invalid URL \"ftp://x/metrics\"");
  one_error(kTarget + "    ready_url: /readyz\n", 4, "targets[0].ready_url", "invalid URL");
  one_error("receivers:\n  - name: r\n    webhook: {url: 'not a url'}\n", 3,
            "receivers[0].webhook.url", "invalid URL");
}

TEST(WatchConfigErrorTest, BadDurations) {
  one_error("global:\n  scrape_interval: 15\n", 2, "global.scrape_interval",
            "not a duration: \"15\"");
  one_error("storage:\n  retention: 1.5h\n", 2, "storage.retention", "not a duration");
  one_error(kTarget + "    thresholds:\n      stall_for: soon\n", 5,
            "targets[0].thresholds.stall_for", "not a duration: \"soon\"");
  one_error(kTarget + "    thresholds:\n      latency_objective: fast\n", 5,
            "targets[0].thresholds.latency_objective", "not a duration: \"fast\"");
  one_error("jobs:\n  - {name: j, schedule: '@daily', grace: 1500ms}\n", 2, "jobs[0].grace",
            "must be whole seconds");
  one_error("receivers:\n  - name: r\n    webhook: {url: 'http://h/', timeout: 0}\n", 3,
            "receivers[0].webhook.timeout", "must be greater than 0");
}

TEST(WatchConfigErrorTest, LatencyObjectiveTakesADurationOrSeconds) {
  const LoadResult r = parse_config(kTarget + "    thresholds: {latency_objective: 0.3}\n", kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_DOUBLE_EQ(r.config.targets.at(0).thresholds.latency_objective_seconds, 0.3);
}

TEST(WatchConfigErrorTest, ZeroIntervals) {
  one_error("global:\n  evaluation_interval: 0\n", 2, "global.evaluation_interval",
            "must be greater than 0");
  one_error(kTarget + "    interval: 0s\n", 4, "targets[0].interval", "must be greater than 0");
  one_error(kTarget + "    interval: -5s\n", 4, "targets[0].interval", "not a duration: \"-5s\"");
  one_error("global: {scrape_interval: 5s}\n", 1, "global.scrape_interval",
            "scrape_timeout 10s is greater than scrape_interval 5s");
}

TEST(WatchConfigErrorTest, TimeoutLongerThanInterval) {
  one_error(kTarget + "    interval: 5s\n    timeout: 10s\n", 5, "targets[0].timeout",
            "timeout 10s is greater than interval 5s");
}

TEST(WatchConfigErrorTest, BadLabelNames) {
  one_error(kTarget + "    labels: {9lives: x}\n", 4, "targets[0].labels.9lives",
            "invalid label name \"9lives\"");
  one_error(kTarget + "    labels: {job: x}\n", 4, "targets[0].labels.job",
            "reserved label name \"job\"");
  one_error(kTarget + "    labels: {instance: x}\n", 4, "targets[0].labels.instance",
            "reserved label name");
  one_error(kTarget + "    labels: {__meta: x}\n", 4, "targets[0].labels.__meta",
            "reserved label name");
  one_error(kTarget + "    labels: {team: [a]}\n", 4, "targets[0].labels.team",
            "expected a string");
}

TEST(WatchConfigErrorTest, RetentionMustCoverTheRegressionBaseline) {
  one_error("storage:\n  retention: 12h\n" + kTarget + "    workload: api\n", 2,
            "storage.retention",
            "retention 12h is shorter than a's regression_baseline_offset + regression_window "
            "(1d30m)");
  EXPECT_TRUE(parse_config("storage:\n  retention: 12h\n" + kTarget, kFile).ok());  // not api
  EXPECT_TRUE(
      parse_config("storage:\n  retention: 12h\n" + kTarget +
                       "    workload: api\n    thresholds: {regression_baseline_offset: 6h}\n",
                   kFile)
          .ok());
}

TEST(WatchConfigErrorTest, BadWorkload) {
  one_error(kTarget + "    workload: cron\n", 4, "targets[0].workload",
            "unknown workload \"cron\" (expected api, worker, job or other)");
}

TEST(WatchConfigErrorTest, BadThresholdValues) {
  one_error(kTarget + "    thresholds: {regression_factor: 1}\n", 4,
            "targets[0].thresholds.regression_factor", "must be greater than 1");
  one_error(kTarget + "    thresholds: {availability_objective: 99.9}\n", 4,
            "targets[0].thresholds.availability_objective", "must be between 0 and 1");
  one_error(kTarget + "    thresholds: {fast_burn_short_window: 2h}\n", 4,
            "targets[0].thresholds.fast_burn_short_window",
            "fast_burn_short_window (2h) must be shorter than fast_burn_long_window (1h)");
}

TEST(WatchConfigErrorTest, BadScheduleAndTimeZone) {
  one_error("jobs:\n  - name: j\n    schedule: '30 25 * * *'\n", 3, "jobs[0].schedule",
            "field 2 (hour): 25 is out of range 0-23");
  one_error("jobs:\n  - name: j\n    schedule: '0 0 30 2 *'\n", 3, "jobs[0].schedule", "cron");
  one_error("jobs:\n  - name: j\n    schedule: '@every'\n", 3, "jobs[0].schedule", "@every needs");
  one_error("jobs:\n  - name: j\n    schedule: '@daily'\n    timezone: Mars/Olympus\n", 4,
            "jobs[0].timezone", "unknown time zone 'Mars/Olympus'");
}

TEST(WatchConfigErrorTest, ListenNotHostPort) {
  one_error("listen: 9095\n", 1, "listen", "not HOST:PORT: \"9095\"");
  one_error("listen: ':9095'\n", 1, "listen", "no host");
}

TEST(WatchConfigErrorTest, YamlSyntaxErrorHasItsPosition) {
  const LoadResult r = parse_config("targets:\n  - name: [a\n", kFile);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_GT(r.errors[0].line, 0);
  EXPECT_THAT(r.errors[0].message, HasSubstr("yaml: "));
}

TEST(WatchConfigErrorTest, AllErrorsAreCollected) {
  const std::string yaml = R"(listen: nowhere
targets:
  - name: a
    metrics_url: nope
    intreval: 5s
jobs:
  - name: j
    schedule: "61 * * * *"
)";
  const LoadResult r = parse_config(yaml, kFile);
  ASSERT_EQ(r.errors.size(), 4u) << all_errors(r);
  EXPECT_EQ(r.errors[0].key, "listen");
  EXPECT_EQ(r.errors[1].key, "targets[0].intreval");  // keys are checked first
  EXPECT_EQ(r.errors[2].key, "targets[0].metrics_url");
  EXPECT_EQ(r.errors[3].key, "jobs[0].schedule");
}

TEST(WatchConfigErrorTest, TooManyErrorsStop) {
  std::string yaml = "targets:\n";
  for (int i = 0; i < 500; ++i) yaml += "  - {name: 'bad name'}\n";
  const LoadResult r = parse_config(yaml, kFile);
  ASSERT_EQ(r.errors.size(), kMaxErrors + 1);
  EXPECT_THAT(r.errors.back().message, HasSubstr("too many errors"));
}

TEST(WatchConfigErrorTest, RefusesFilesOverOneMebibyte) {
  const std::string big(kMaxConfigBytes + 1, '#');
  const LoadResult r = parse_config(big, kFile);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].message, HasSubstr("file too large"));
}

TEST(WatchConfigErrorTest, AliasesCannotMultiplyTheWork) {
  // One 2000-label mapping, referenced by 1000 targets: 2M label entries.
  std::string yaml = "targets:\n  - name: t0\n    metrics_url: http://h/\n    labels: &l {";
  for (int i = 0; i < 2000; ++i) yaml += (i ? ", l" : "l") + std::to_string(i) + ": v";
  yaml += "}\n";
  for (int i = 1; i < 1000; ++i)
    yaml += "  - {name: t" + std::to_string(i) + ", metrics_url: 'http://h/', labels: *l}\n";
  const LoadResult r = parse_config(yaml, kFile);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_THAT(r.errors[0].message, HasSubstr("configuration too complex"));
}

TEST(WatchConfigErrorTest, RepeatedRuleFilePatternsAreExpandedOnce) {
  std::string yaml = "rule_files:\n  - &p 'rules/*.yml'\n";
  for (int i = 0; i < 5000; ++i) yaml += "  - *p\n";
  const LoadResult r = parse_config(yaml, "tests/watch/config/testdata/x.yaml");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.config.rule_files.size(), 2u);
}

TEST(WatchConfigErrorTest, GarbageNeverThrows) {
  for (const std::string& text :
       {std::string("\0\1\2", 3), std::string("{{{{{{{{"), std::string(5000, '['),
        std::string("? [a]: b\n"), std::string("targets: [!!binary aGk=]\n"),
        std::string("&a [*a]\n"), std::string("targets:\n  - {name: a, labels: {? [x]: y}}\n")}) {
    EXPECT_NO_THROW(parse_config(text, kFile)) << text;
  }
}

// ---------------------------------------------------------------- files

TEST(WatchConfigFileTest, RelativePathsResolveAgainstTheConfigDirectory) {
  const LoadResult r =
      parse_config("storage: {path: ../state/w.db}\n", "tests/watch/config/testdata/x.yaml");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.config.storage_path, cwd() + "/tests/watch/config/state/w.db");
  const LoadResult abs = parse_config("storage: {path: /var/lib/fb/w.db}\n", "/etc/fb/x.yaml");
  ASSERT_TRUE(abs.ok()) << all_errors(abs);
  EXPECT_EQ(abs.config.dir, "/etc/fb");
  EXPECT_EQ(abs.config.storage_path, "/var/lib/fb/w.db");
  const LoadResult mem = parse_config("storage: {path: ':memory:'}\n", kFile);
  EXPECT_EQ(mem.config.storage_path, ":memory:");
  EXPECT_EQ(mem.config.tsdb_path, "");  // a test configuration keeps nothing
}

TEST(WatchConfigFileTest, QueryLimitsDefaultAsPrometheusAndCanBeSet) {
  const LoadResult def = parse_config("", "/etc/fb/x.yaml");
  EXPECT_EQ(def.config.query_max_samples, 50'000'000u);
  EXPECT_EQ(def.config.query_timeout_ms, 120'000);
  const LoadResult set =
      parse_config("query: {max_samples: 1000, timeout: 10s}\n", "/etc/fb/x.yaml");
  ASSERT_TRUE(set.ok()) << all_errors(set);
  EXPECT_EQ(set.config.query_max_samples, 1000u);
  EXPECT_EQ(set.config.query_timeout_ms, 10'000);
  const LoadResult bad = parse_config("query: {max_samples: 0, timeout: x}\n", "/etc/fb/x.yaml");
  ASSERT_EQ(bad.errors.size(), 2u);
  EXPECT_EQ(bad.errors[0].key, "query.max_samples");
  EXPECT_EQ(bad.errors[1].key, "query.timeout");
}

TEST(WatchConfigFileTest, TracesAreOnByDefaultWithBoundsThatCanBeSet) {
  const LoadResult def = parse_config("", "/etc/fb/x.yaml");
  EXPECT_TRUE(def.config.traces_enabled);
  EXPECT_EQ(def.config.trace_limits.max_spans, 100'000u);
  EXPECT_EQ(def.config.trace_limits.max_bytes, 64u << 20);
  const LoadResult set = parse_config(
      "traces: {enabled: false, max_spans: 5000, max_bytes: 8MiB, max_spans_per_trace: 50}\n",
      "/etc/fb/x.yaml");
  ASSERT_TRUE(set.ok()) << all_errors(set);
  EXPECT_FALSE(set.config.traces_enabled);
  EXPECT_EQ(set.config.trace_limits.max_spans, 5000u);
  EXPECT_EQ(set.config.trace_limits.max_bytes, 8u << 20);
  EXPECT_EQ(set.config.trace_limits.max_spans_per_trace, 50u);
  const LoadResult bad = parse_config(
      "traces: {enabled: maybe, max_spans: 0, max_bytes: 1XB, max_span: 3}\n", "/etc/fb/x.yaml");
  ASSERT_EQ(bad.errors.size(), 4u) << all_errors(bad);
  EXPECT_EQ(bad.errors[0].key, "traces.max_span");  // unknown key, with a suggestion
  EXPECT_NE(bad.errors[0].message.find("max_spans"), std::string::npos);
  EXPECT_EQ(bad.errors[1].key, "traces.enabled");
  EXPECT_EQ(bad.errors[2].key, "traces.max_spans");
  EXPECT_EQ(bad.errors[3].key, "traces.max_bytes");
}

TEST(WatchConfigFileTest, TheTsdbDirectoryDefaultsNextToTheStoreAndCanBeSet) {
  const LoadResult def = parse_config("", "/etc/fb/x.yaml");
  EXPECT_EQ(def.config.tsdb_path, "/etc/fb/firebreak-watch-tsdb");
  EXPECT_EQ(def.config.checkpoint_interval_ms, 30 * 60'000);
  const LoadResult set = parse_config(
      "storage: {tsdb_path: ../data/tsdb, checkpoint_interval: 5m}\n", "/etc/fb/x.yaml");
  ASSERT_TRUE(set.ok()) << all_errors(set);
  EXPECT_EQ(set.config.tsdb_path, "/etc/data/tsdb");
  EXPECT_EQ(set.config.checkpoint_interval_ms, 5 * 60'000);
  const LoadResult mem =
      parse_config("storage: {path: ':memory:', tsdb_path: /var/lib/t}\n", "/etc/fb/x.yaml");
  EXPECT_EQ(mem.config.tsdb_path, "/var/lib/t");
  const LoadResult bad =
      parse_config("storage: {tsdb_path: '', checkpoint_interval: 0s}\n", "/etc/fb/x.yaml");
  ASSERT_EQ(bad.errors.size(), 2u);
  EXPECT_EQ(bad.errors[0].key, "storage.tsdb_path");
  EXPECT_EQ(bad.errors[1].key, "storage.checkpoint_interval");
}

TEST(WatchConfigFileTest, GlobsExpandSortedAndUnique) {
  const LoadResult r = parse_config("rule_files: ['rules/*.yml', 'rules/b.yml', 'rules/*.yml']\n",
                                    "tests/watch/config/testdata/x.yaml");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const std::string dir = cwd() + "/tests/watch/config/testdata";
  EXPECT_EQ(r.config.rule_files,
            (std::vector<std::string>{dir + "/rules/a.yml", dir + "/rules/b.yml"}));
}

TEST(WatchConfigFileTest, GlobMatchingNothingIsFine) {
  const LoadResult r =
      parse_config("rule_files: ['nothing/*.yml']\n", "tests/watch/config/testdata/x.yaml");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_TRUE(r.config.rule_files.empty());
}

TEST(WatchConfigFileTest, MissingRuleFileIsAnError) {
  const LoadResult r =
      parse_config("rule_files:\n  - rules/none.yml\n", "tests/watch/config/testdata/x.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].line, 2);
  EXPECT_EQ(r.errors[0].key, "rule_files[0]");
  EXPECT_THAT(r.errors[0].message,
              HasSubstr("no such file: " + cwd() + "/tests/watch/config/testdata/rules/none.yml"));
}

TEST(WatchConfigFileTest, RuleFileErrorsPassThroughWithTheRuleFilesPath) {
  const LoadResult r =
      parse_config("rule_files: [bad_rules/*.yml]\n", "tests/watch/config/testdata/x.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  const ConfigError& e = r.errors[0];
  EXPECT_EQ(e.file, cwd() + "/tests/watch/config/testdata/bad_rules/bad.yml");
  EXPECT_EQ(e.line, 5);
  EXPECT_EQ(e.key, "groups[0].rules[0].expr");
  EXPECT_THAT(e.message, HasSubstr("could not parse expression"));
}

TEST(WatchConfigFileTest, RuleFilesAreNotTouchedWhenLoadingIsOff) {
  const LoadResult r = parse_config("rule_files: [rules/none.yml, '*.yml']\n", "/etc/fb/x.yaml",
                                    {.load_rule_files = false});
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.config.rule_files,
            (std::vector<std::string>{"/etc/fb/*.yml", "/etc/fb/rules/none.yml"}));
}

TEST(WatchConfigFileTest, LoadConfigReportsAnUnreadableFile) {
  const LoadResult r = load_config("tests/watch/config/testdata/does-not-exist.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, "tests/watch/config/testdata/does-not-exist.yaml");
  EXPECT_THAT(r.errors[0].message, HasSubstr("cannot open"));
}

TEST(WatchConfigFileTest, ExampleConfigLoadsWithoutErrors) {
  const LoadResult r = load_config("examples/firebreak.yaml");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const Config& c = r.config;
  ASSERT_EQ(c.targets.size(), 2u);
  EXPECT_EQ(c.targets[0].name, "shop-api");
  EXPECT_EQ(c.targets[0].workload, rulepack::Workload::kApi);
  EXPECT_EQ(c.targets[0].metrics_url, "http://127.0.0.1:9464/metrics");
  EXPECT_EQ(c.targets[0].ready_url, "http://127.0.0.1:9464/readyz");
  EXPECT_EQ(c.targets[1].name, "shop-worker");
  EXPECT_EQ(c.targets[1].workload, rulepack::Workload::kWorker);
  EXPECT_EQ(c.targets[1].metrics_url, "http://127.0.0.1:9465/metrics");
  ASSERT_EQ(c.jobs.size(), 1u);
  EXPECT_EQ(c.jobs[0].name, "shop-daily");
  EXPECT_EQ(c.jobs[0].schedule, "15 0 * * *");  // as deploy/systemd/shop-daily.timer
  EXPECT_EQ(c.jobs[0].time_zone, "UTC");
  EXPECT_EQ(c.jobs[0].grace_ms, 3'600'000);
  EXPECT_EQ(c.jobs[0].max_run_time_ms, 30 * 60'000);
  ASSERT_GE(c.receivers.size(), 1u);
  EXPECT_EQ(c.receivers[0].name, "stdout");
  EXPECT_EQ(c.receivers[0].integrations.at(0).kind, "log");
  EXPECT_EQ(checkin_jobs(c).size(), 1u);
  // docs/config.md shows this summary.
  EXPECT_EQ(summary(c),
            "listen 127.0.0.1:9095; storage " + cwd() +
                "/examples/firebreak-watch.db (head retention 1d2h, at most 1000000 series)\n"
                "samples in " +
                cwd() +
                "/examples/firebreak-watch-tsdb (checkpoint every 30m)\n"
                "scrape every 15s (timeout 10s, body limit 16MiB), evaluate every 15s\n"
                "2 targets: shop-api (api, every 5s), shop-worker (worker, every 15s)\n"
                "1 job: shop-daily (\"15 0 * * *\" UTC, grace 1h)\n"
                "1 receiver: stdout (log)\n"
                "routing: every receiver gets every alert, each in its own group, sent at once\n"
                "0 rule files (besides the generated rule pack)\n");
}

// ---------------------------------------------------------------- views

TEST(WatchConfigViewTest, RulePackTargetsCarryWorkloadAndThresholds) {
  const std::string yaml = kTarget + R"(    workload: api
    thresholds: {startup_budget: 5m, latency_objective: 750ms, regression_factor: 1.25}
  - name: b
    workload: worker
    metrics_url: http://127.0.0.1:2/metrics
    thresholds: {stall_for: 20m, heartbeat_max_age: 3m}
)";
  const LoadResult r = parse_config(yaml, kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const auto specs = rule_pack_targets(r.config);
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].name, "a");
  EXPECT_EQ(specs[0].workload, rulepack::Workload::kApi);
  EXPECT_EQ(specs[0].thresholds.startup_budget_ms, 5 * 60'000);
  EXPECT_DOUBLE_EQ(specs[0].thresholds.latency_objective_seconds, 0.75);
  EXPECT_DOUBLE_EQ(specs[0].thresholds.regression_factor, 1.25);
  EXPECT_EQ(specs[0].thresholds.stall_for_ms, rulepack::Thresholds{}.stall_for_ms);
  EXPECT_EQ(specs[1].name, "b");
  EXPECT_EQ(specs[1].workload, rulepack::Workload::kWorker);
  EXPECT_EQ(specs[1].thresholds.stall_for_ms, 20 * 60'000);
  EXPECT_EQ(specs[1].thresholds.heartbeat_max_age_ms, 3 * 60'000);
  EXPECT_DOUBLE_EQ(specs[1].thresholds.latency_objective_seconds, 0.5);
}

TEST(WatchConfigViewTest, RulePackOptionsComeFromGlobalAndJobs) {
  const LoadResult none = parse_config(kTarget, kFile);
  ASSERT_TRUE(none.ok()) << all_errors(none);
  EXPECT_EQ(none.config.job_alert_for_ms, 60'000);
  const rulepack::RulePackOptions o = rule_pack_options(none.config);
  EXPECT_EQ(o.evaluation_interval_ms, 15'000);
  EXPECT_FALSE(o.include_job_rules);  // no jobs, no Job* rules
  EXPECT_EQ(o.job_for_ms, 60'000);

  const LoadResult r = parse_config(
      "global: {evaluation_interval: 30s, job_alert_for: 5m}\n"
      "jobs:\n  - {name: j, schedule: '@daily'}\n",
      kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const rulepack::RulePackOptions with_jobs = rule_pack_options(r.config);
  EXPECT_EQ(with_jobs.evaluation_interval_ms, 30'000);
  EXPECT_TRUE(with_jobs.include_job_rules);
  EXPECT_EQ(with_jobs.job_for_ms, 5 * 60'000);

  one_error("global:\n  job_alert_for: 0\n", 2, "global.job_alert_for", "must be greater than 0");
}

TEST(WatchConfigViewTest, RunbookBaseUrlReachesTheRulePack) {
  const LoadResult unset = parse_config(kTarget, kFile);
  ASSERT_TRUE(unset.ok()) << all_errors(unset);
  EXPECT_EQ(unset.config.runbook_base_url, "");
  EXPECT_EQ(rule_pack_options(unset.config).runbook_base_url, "");

  const LoadResult set = parse_config(
      "global: {runbook_base_url: 'https://github.com/acme/firebreak/blob/main/'}\n" + kTarget,
      kFile);
  ASSERT_TRUE(set.ok()) << all_errors(set);
  EXPECT_EQ(set.config.runbook_base_url, "https://github.com/acme/firebreak/blob/main/");
  EXPECT_EQ(rule_pack_options(set.config).runbook_base_url,
            "https://github.com/acme/firebreak/blob/main/");
}

TEST(WatchConfigErrorTest, RunbookBaseUrlMustBeAnAbsoluteHttpUrlWithoutQueryOrFragment) {
  one_error("global:\n  runbook_base_url: docs\n", 2, "global.runbook_base_url",
            "invalid URL \"docs\"");
  one_error("global:\n  runbook_base_url: ftp://files.example.com/runbooks\n", 2,
            "global.runbook_base_url", "scheme must be http or https");
  one_error("global:\n  scrape_interval: 15s\n  runbook_base_url: 'https://wiki/x#top'\n", 3,
            "global.runbook_base_url", "has a query or a fragment");
  one_error("global:\n  runbook_base_url: 'http://wiki/page?id=1'\n", 2, "global.runbook_base_url",
            "has a query or a fragment");
  one_error("global:\n  runbook_base_url: [a]\n", 2, "global.runbook_base_url", "");
}

TEST(WatchConfigViewTest, TheRulePackCanBeTrimmedOrSwitchedOffGloballyOrPerTarget) {
  const std::string yaml = R"(rule_pack:
  alerts: [TargetDown, WorkerStalled, ApiLatencyHigh, JobMissedRun]
targets:
  - {name: api, workload: api, metrics_url: 'http://127.0.0.1:1/metrics'}
  - name: worker
    workload: worker
    metrics_url: http://127.0.0.1:2/metrics
    rule_pack: {alerts: [ServiceNotReady, QueueLagHigh]}
  - name: theirs
    metrics_url: http://127.0.0.1:3/metrics
    rule_pack: {enabled: false}
jobs:
  - {name: j, schedule: '@daily'}
)";
  const LoadResult r = parse_config(yaml, kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const auto specs = rule_pack_targets(r.config);
  ASSERT_EQ(specs.size(), 3u);
  using V = std::vector<std::string>;
  EXPECT_EQ(specs[0].alerts, (V{"TargetDown", "ApiLatencyHigh"}));  // the global list, api's part
  EXPECT_EQ(specs[1].alerts, (V{"ServiceNotReady", "QueueLagHigh"}));  // its own
  EXPECT_EQ(specs[2].alerts, V{});                                     // none
  EXPECT_EQ(rule_pack_options(r.config).job_alerts, V{"JobMissedRun"});

  // Off globally: nothing, not even the Job* rules, unless a target asks.
  const LoadResult off = parse_config(
      "rule_pack: {enabled: false}\n" + kTarget +
          "  - {name: b, metrics_url: 'http://127.0.0.1:2/metrics', rule_pack: {enabled: true}}\n"
          "jobs:\n  - {name: j, schedule: '@daily'}\n",
      kFile);
  ASSERT_TRUE(off.ok()) << all_errors(off);
  EXPECT_EQ(rule_pack_targets(off.config)[0].alerts, V{});
  EXPECT_EQ(rule_pack_targets(off.config)[1].alerts,
            (V{"TargetDown", "ServiceNeverReady", "ServiceNotReady"}));
  EXPECT_FALSE(rule_pack_options(off.config).include_job_rules);

  one_error("rule_pack: {alerts: [TargetDwon]}\n", 1, "rule_pack.alerts[0]",
            "not an alert of the rule pack: \"TargetDwon\" (did you mean \"TargetDown\"?)");
  one_error(kTarget + "    rule_pack: {alerts: [WorkerStalled]}\n", 4,
            "targets[0].rule_pack.alerts[0]",
            "WorkerStalled is not an alert of other targets (they get: TargetDown, "
            "ServiceNeverReady, ServiceNotReady)");
  one_error("rule_pack: {enable: false}\n", 1, "rule_pack.enable", "did you mean \"enabled\"");
}

TEST(WatchConfigViewTest, EachForAndWindowIsAThresholdAndNoisyChoicesWarn) {
  const LoadResult r = parse_config(kTarget + R"(    workload: api
    interval: 30s
    thresholds:
      latency_for: 10m
      latency_window: 8m
      fast_burn_for: 0s
      down_for: 45s
)",
                                    kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const rulepack::Thresholds& t = r.config.targets[0].thresholds;
  EXPECT_EQ(t.latency_window_ms, 8 * 60'000);
  EXPECT_EQ(t.fast_burn_for_ms, 0);
  EXPECT_FALSE(t.heartbeat_for_ms.has_value());
  ASSERT_EQ(r.warnings.size(), 3u);
  std::string all;
  for (const auto& w : r.warnings) all += w.to_string() + "\n";
  EXPECT_THAT(all, HasSubstr("firebreak.yaml:10:17: targets[0].thresholds.down_for: TargetDown: "
                             "down_for 45s is shorter than two scrape intervals (1m)"));
  EXPECT_THAT(all, HasSubstr("firebreak.yaml:9:22: targets[0].thresholds.fast_burn_for: "
                             "ApiErrorBudgetBurn: fast_burn_for 0s is raised to 30s"));
  EXPECT_THAT(all, HasSubstr("firebreak.yaml:8:23: targets[0].thresholds.latency_window: "
                             "ApiLatencyHigh: latency_window 8m is more than half of "
                             "latency_for 10m: a burst of slow requests as short as 2m can "
                             "page"));
  // The defaults warn of nothing.
  EXPECT_TRUE(parse_config(kTarget + "    workload: api\n", kFile).warnings.empty());
  one_error(kTarget + "    thresholds: {latency_window: 0s}\n", 4,
            "targets[0].thresholds.latency_window", "must be greater than 0");
}

TEST(WatchConfigErrorTest, InstancesComeFromOneFormAndAreChecked) {
  const std::string head = "targets:\n  - name: a\n";
  one_error(head + "    metrics_url: http://h:1/metrics\n    targets: ['h:2']\n", 4,
            "targets[0].targets", "either metrics_url (one instance) or a list of instances");
  one_error(head + "    targets: ['h:2']\n    ready_url: http://h:2/readyz\n", 4,
            "targets[0].ready_url", "probes each at ready_path");
  one_error(head + "    metrics_url: http://h:1/metrics\n    metrics_path: /m\n", 4,
            "targets[0].metrics_path", "goes with a list of instances");
  one_error(head + "    workload: api\n", 2, "targets[0].metrics_url",
            "is required (or a list of instances");
  one_error(head + "    targets: ['http://h:1/metrics']\n", 3, "targets[0].targets[0]",
            "not host:port: \"http://h:1/metrics\" (an instance is an address");
  one_error(head + "    targets: [{labels: {a: b}}]\n", 3, "targets[0].targets[0].address",
            "is required");
  one_error(head + "    targets: ['h:1']\n    metrics_path: metrics\n", 4,
            "targets[0].metrics_path", "not an absolute path");
  one_error(head + "    targets: ['h:1']\n    scheme: ftp\n", 4, "targets[0].scheme",
            "unsupported scheme \"ftp\" (expected http or https)");
  one_error(head + "    metrics_url: https://h:1/metrics\n    scheme: https\n", 4,
            "targets[0].scheme", "goes with a list of instances");
  one_error(head + "    file_sd_configs: [{files: [targets.txt]}]\n", 3,
            "targets[0].file_sd_configs[0].files[0]", "must end in .json, .yml or .yaml");
  one_error(head + "    file_sd_configs: [{files: ['*/t.json']}]\n", 3,
            "targets[0].file_sd_configs[0].files[0]", "wildcards only in the last path component");
  one_error(head + "    dns_sd_configs: [{names: [api.example.com], type: A}]\n", 3,
            "targets[0].dns_sd_configs[0].port", "is required for A records");
  one_error(head + "    dns_sd_configs: [{names: [x], type: TXT}]\n", 3,
            "targets[0].dns_sd_configs[0].type", "invalid DNS-SD records type \"TXT\"");
  one_error(
      head + "    targets: ['h:1']\n    relabel_configs:\n      - {regex: '(', target_label: x}\n",
      5, "targets[0].relabel_configs[0].regex", "regex \"(\": missing ): (");
  one_error(head + "    targets: ['h:1']\n    relabel_configs:\n      - {action: kepe}\n", 5,
            "targets[0].relabel_configs[0].action", "unknown relabel action \"kepe\"");
  one_error(head +
                "    targets: ['h:1']\n    metric_relabel_configs:\n      - {action: hashmod, "
                "target_label: s}\n",
            5, "targets[0].metric_relabel_configs[0]", "modulus");
  one_error(head + "    targets: ['h:1']\n    relabel_configs:\n      - {sourcelabels: [a]}\n", 5,
            "targets[0].relabel_configs[0].sourcelabels", "did you mean \"source_labels\"");
}

// ---------------------------------------------------------------- TLS and auth

// A directory with a firebreak.yaml's neighbours: PEM files the loader can
// load (made with the openssl CLI at test time), a token file.
class WatchConfigTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(std::filesystem::temp_directory_path() /
                           ("watch_config_tls_test_" + std::to_string(::getpid())));
    std::filesystem::create_directories(*dir_ + "/certs");
    const std::string cmd =
        "cd " + *dir_ +
        "/certs && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout client.key -out client.pem -days 1 -subj /CN=t >/dev/null 2>&1 && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout other.key -out other.pem -days 1 -subj /CN=o >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ofstream(*dir_ + "/token") << "s3cret-token\n";
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  static std::string path() { return *dir_ + "/firebreak.yaml"; }
  static LoadResult parse(const std::string& target_keys, ParseOptions options = {}) {
    return parse_config(
        "targets:\n  - name: a\n    scheme: https\n    targets: ['h:1']\n" + target_keys, path(),
        options);
  }
  // Exactly one error, at `line` and `key`, its message containing `message`.
  static ConfigError one(const std::string& target_keys, int line, const std::string& key,
                         const std::string& message) {
    const LoadResult r = parse(target_keys);
    EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
    if (r.errors.empty()) return {};
    const ConfigError& e = r.errors.front();
    EXPECT_EQ(e.file, path());
    EXPECT_EQ(e.line, line) << e.to_string();
    EXPECT_EQ(e.key, key) << e.to_string();
    EXPECT_THAT(e.message, HasSubstr(message)) << e.to_string();
    return e;
  }

  static std::string* dir_;
};
std::string* WatchConfigTlsTest::dir_ = nullptr;

TEST_F(WatchConfigTlsTest, TlsAndAuthorizationAreReadWithPathsFromTheConfigDirectory) {
  const LoadResult r = parse(R"(    tls_config:
      ca_file: certs/client.pem
      cert_file: certs/client.pem
      key_file: certs/client.key
      server_name: api.internal
      insecure_skip_verify: false
    authorization: {credentials_file: token}
)");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const Target& t = r.config.targets.at(0);
  EXPECT_EQ(t.scheme, "https");
  EXPECT_EQ(t.http.tls.ca_file, *dir_ + "/certs/client.pem");
  EXPECT_EQ(t.http.tls.cert_file, *dir_ + "/certs/client.pem");
  EXPECT_EQ(t.http.tls.key_file, *dir_ + "/certs/client.key");
  EXPECT_EQ(t.http.tls.server_name, "api.internal");
  EXPECT_FALSE(t.http.tls.insecure_skip_verify);
  ASSERT_TRUE(t.http.authorization.has_value());
  EXPECT_EQ(t.http.authorization->type, "Bearer");
  EXPECT_EQ(t.http.authorization->credentials_file, *dir_ + "/token");
  EXPECT_FALSE(t.http.basic_auth.has_value());
}

TEST_F(WatchConfigTlsTest, BasicAuthAndTheSingleUrlFormOverHttps) {
  const LoadResult r = parse_config(R"(targets:
  - name: a
    metrics_url: https://api.internal:8443/metrics
    ready_url: https://api.internal:8443/readyz
    tls_config: {insecure_skip_verify: true}
    basic_auth: {username: watch, password_file: token}
)",
                                    path());
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const Target& t = r.config.targets.at(0);
  EXPECT_EQ(t.metrics_url, "https://api.internal:8443/metrics");
  EXPECT_TRUE(t.http.tls.insecure_skip_verify);
  ASSERT_TRUE(t.http.basic_auth.has_value());
  EXPECT_EQ(t.http.basic_auth->username, "watch");
  EXPECT_EQ(t.http.basic_auth->password_file, *dir_ + "/token");
}

TEST_F(WatchConfigTlsTest, AMissingFileIsAnErrorAtItsKey) {
  one("    tls_config: {ca_file: certs/missing.pem}\n", 5, "targets[0].tls_config.ca_file",
      "cannot read \"" + *dir_ + "/certs/missing.pem\": No such file or directory");
  one("    tls_config:\n      cert_file: certs/client.pem\n      key_file: nope.key\n", 7,
      "targets[0].tls_config.key_file", "nope.key\": No such file or directory");
  one("    authorization: {credentials_file: missing-token}\n", 5,
      "targets[0].authorization.credentials_file", "missing-token\": No such file");
  one("    basic_auth: {username: u, password_file: certs}\n", 5,
      "targets[0].basic_auth.password_file", "is a directory");
}

TEST_F(WatchConfigTlsTest, CertificatesAndKeysMustLoadAndMatch) {
  one("    tls_config: {ca_file: token}\n", 5, "targets[0].tls_config", "cannot load ca_file");
  one("    tls_config: {cert_file: certs/client.pem, key_file: certs/other.key}\n", 5,
      "targets[0].tls_config", "key values mismatch");
  one("    tls_config: {cert_file: certs/client.pem}\n", 5, "targets[0].tls_config",
      "specified without client key file");
}

TEST_F(WatchConfigTlsTest, FilesAreNotTouchedWhenCheckingIsOff) {
  const LoadResult r = parse("    tls_config: {ca_file: certs/missing.pem}\n",
                             {.load_rule_files = false, .check_files = false});
  EXPECT_TRUE(r.ok()) << all_errors(r);
}

TEST_F(WatchConfigTlsTest, AtMostOneKindOfAuthorizationAndNoSecretInAnError) {
  one("    authorization: {credentials: s3cret}\n    basic_auth: {username: u, password: p}\n", 5,
      "targets[0].authorization",
      "at most one of basic_auth, oauth2 & authorization must be configured");
  const ConfigError e = one("    authorization: {credentials: s3cret, credentials_file: token}\n",
                            5, "targets[0].authorization",
                            "at most one of authorization credentials & credentials_file");
  EXPECT_THAT(e.to_string(), Not(HasSubstr("s3cret")));
  one("    authorization: {type: Basic, credentials: s3cret}\n", 5, "targets[0].authorization.type",
      "use \"basic_auth\" instead");
  one("    basic_auth: {username: u, password: hunter2, password_file: token}\n", 5,
      "targets[0].basic_auth", "at most one of basic_auth password & password_file");
  one("    tls_config: {ca_fil: x}\n", 5, "targets[0].tls_config.ca_fil",
      "did you mean \"ca_file\"");
  one("    tls_config: {min_version: TLS13}\n", 5, "targets[0].tls_config.min_version",
      "not supported");
}

TEST(WatchConfigViewTest, CheckinJobsHaveParsedSchedules) {
  const std::string yaml = R"(jobs:
  - {name: berlin, schedule: "30 2 * * *", timezone: Europe/Berlin, grace: 10m, max_run_time: 1h}
  - {name: utc, schedule: "@daily"}
  - {name: period, schedule: 6h}
  - {name: every, schedule: "@every 90m"}
)";
  const LoadResult r = parse_config(yaml, kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const auto jobs = checkin_jobs(r.config);
  ASSERT_EQ(jobs.size(), 4u);
  using std::chrono::seconds;
  // 2026-01-15 00:00:00Z; 02:30 in Berlin (CET, +1) is 01:30Z.
  const checkin::WallTime t(seconds(1768435200));
  EXPECT_EQ(jobs[0].name, "berlin");
  EXPECT_EQ(jobs[0].schedule.next_after(t), t + std::chrono::minutes(90));
  EXPECT_EQ(jobs[0].grace, std::chrono::minutes(10));
  EXPECT_EQ(jobs[0].max_run_time, std::chrono::hours(1));
  EXPECT_EQ(jobs[1].schedule.next_after(t), t + std::chrono::hours(24));
  EXPECT_EQ(jobs[1].grace, std::chrono::hours(1));
  EXPECT_EQ(jobs[1].max_run_time, seconds(0));
  EXPECT_TRUE(jobs[2].schedule.is_period());
  EXPECT_EQ(jobs[2].schedule.period(), std::chrono::hours(6));
  EXPECT_TRUE(jobs[3].schedule.is_period());
  EXPECT_EQ(jobs[3].schedule.period(), std::chrono::minutes(90));
}

TEST(WatchConfigViewTest, SummaryCountsAndNamesEverything) {
  const std::string yaml = kTarget + R"(jobs:
  - {name: j, schedule: "@daily"}
receivers:
  - {name: r, log: {}}
)";
  const LoadResult r = parse_config(yaml, kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const std::string s = summary(r.config);
  EXPECT_THAT(s, HasSubstr("1 target: a (other, every 15s)"));
  EXPECT_THAT(s, HasSubstr("1 job: j (\"@daily\" UTC, grace 1h)"));
  EXPECT_THAT(s, HasSubstr("1 receiver: r (log)"));
  EXPECT_THAT(s, HasSubstr("0 rule files"));
  EXPECT_THAT(s, Not(HasSubstr("watches nothing")));
}

}  // namespace
}  // namespace watch::config

// ---------------------------------------------------------------- routing (issue 13)

namespace watch::config {
namespace {

const std::string kReceivers =
    "receivers:\n"
    "  - name: team\n"
    "    webhook_configs:\n"
    "      - url: http://127.0.0.1:5001/team\n"
    "        send_resolved: false\n"
    "        max_alerts: 5\n"
    "  - name: both\n"
    "    webhook: {url: http://127.0.0.1:5001/both}\n"
    "    log:\n";

TEST(WatchConfigRouting, AlertmanagerBlocksAreReadAsTheyAre) {
  const LoadResult r = parse_config(kReceivers +
                                        "route:\n"
                                        "  receiver: team\n"
                                        "  group_by: [alertname]\n"
                                        "  routes:\n"
                                        "    - matchers: ['severity=\"page\"']\n"
                                        "      receiver: both\n"
                                        "inhibit_rules:\n"
                                        "  - source_matchers: [a=b]\n"
                                        "    target_matchers: [c=d]\n"
                                        "resolve_muted: false\n"
                                        "storage: {path: ':memory:', silence_retention: 24h}\n",
                                    kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const Config& c = r.config;
  ASSERT_TRUE(c.routing.has_value());
  EXPECT_EQ(c.routing->route.options.receiver, "team");
  ASSERT_EQ(c.routing->route.routes.size(), 1u);
  EXPECT_EQ(c.routing->route.routes[0].options.receiver, "both");
  EXPECT_FALSE(c.resolve_muted);
  EXPECT_EQ(c.silence_retention_ms, 24 * 3'600'000LL);
  ASSERT_EQ(c.receivers.size(), 2u);
  const Integration& hook = c.receivers[0].integrations.at(0);
  EXPECT_FALSE(hook.send_resolved);
  EXPECT_EQ(std::get<watch::alerting::WebhookConfig>(hook.config).max_alerts, 5u);
  ASSERT_EQ(c.receivers[1].integrations.size(), 2u);  // webhook and log
  // The pack's inhibit rules come first, then the configured one.
  const auto routing = effective_routing(c);
  ASSERT_EQ(routing.inhibit_rules.size(), rule_pack_inhibit_rules().size() + 1);
  EXPECT_EQ(routing.inhibit_rules.back().source.at(0).to_string(), "a=\"b\"");
}

TEST(WatchConfigRouting, WithoutARouteEveryReceiverGetsEveryAlertAtOnce) {
  const LoadResult r = parse_config(kReceivers + "global: {evaluation_interval: 10s}\n", kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const auto routing = effective_routing(r.config);
  const auto routes =
      watch::routing::match_routes(routing.route, LabelSet::from({{"alertname", "X"}}));
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0]->options.receiver, "team");
  EXPECT_EQ(routes[1]->options.receiver, "both");
  EXPECT_TRUE(routes[0]->options.group_by_all);
  EXPECT_EQ(routes[0]->options.group_wait_ms, 0);
  EXPECT_EQ(routes[0]->options.group_interval_ms, 10'000);
}

TEST(WatchConfigRouting, ThePacksInhibitRulesCanBeTurnedOff) {
  const LoadResult r = parse_config(kReceivers + "rule_pack: {inhibit_rules: false}\n", kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_TRUE(effective_routing(r.config).inhibit_rules.empty());
  one_error(
      "targets:\n  - name: a\n    metrics_url: http://h:1/metrics\n"
      "    rule_pack: {inhibit_rules: false}\n",
      4, "targets[0].rule_pack.inhibit_rules", "unknown key");
}

TEST(WatchConfigRouting, ThePacksInhibitRulesMuteWhatATargetDownExplains) {
  const auto rules = rule_pack_inhibit_rules();
  const auto down =
      LabelSet::from({{"alertname", "TargetDown"}, {"job", "api"}, {"instance", "a:1"}});
  const auto inhibited =
      [&](std::initializer_list<std::pair<std::string_view, std::string_view>> l) {
        return watch::routing::inhibited(rules, LabelSet::from(l), {down});
      };
  EXPECT_TRUE(inhibited({{"alertname", "ServiceNotReady"}, {"job", "api"}, {"instance", "a:1"}}));
  EXPECT_FALSE(inhibited({{"alertname", "ServiceNotReady"}, {"job", "api"}, {"instance", "b:1"}}));
  EXPECT_TRUE(inhibited({{"alertname", "WorkerStalled"}, {"job", "api"}, {"instance", "a:1"}}));
  EXPECT_TRUE(inhibited({{"alertname", "ApiLatencyHigh"}, {"job", "api"}, {"route", "/x"}}));
  EXPECT_FALSE(inhibited({{"alertname", "ApiLatencyHigh"}, {"job", "web"}, {"route", "/x"}}));
  EXPECT_FALSE(inhibited({{"alertname", "ApiErrorBudgetBurn"}, {"job", "api"}}));
}

TEST(WatchConfigRouting, RoutingErrorsNameTheKey) {
  one_error(kReceivers + "route:\n  receiver: nobody\n", 11, "route.receiver",
            "undefined receiver \"nobody\"");
  one_error(kReceivers + "route:\n  receiver: team\n  group_wait: 5x\n", 12, "route.group_wait",
            "5x");
}

TEST(WatchConfigRouting, AnAlertmanagerFileIsLoadedWithItsErrorsNamingIt) {
  const auto dir = std::filesystem::temp_directory_path() / "watch_config_am_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "alertmanager.yml") << "global: {resolve_timeout: 1m}\n"
                                             "route: {receiver: hook}\n"
                                             "receivers:\n"
                                             "  - name: hook\n"
                                             "    webhook_configs: [{url: 'http://h:1/'}]\n";
  LoadResult r = parse_config("alertmanager_config: alertmanager.yml\n", (dir / "f.yaml").string());
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.config.alertmanager_config, (dir / "alertmanager.yml").string());
  EXPECT_EQ(r.config.resolve_timeout_ms, 60'000);
  ASSERT_EQ(r.config.receivers.size(), 1u);
  EXPECT_EQ(r.config.routing->route.options.receiver, "hook");

  // Its global block's defaults reach its receivers (Alertmanager's smtp_*).
  std::ofstream(dir / "alertmanager.yml") << "global:\n"
                                             "  smtp_from: alerts@example.com\n"
                                             "  smtp_smarthost: 'mail.example.com:25'\n"
                                             "route: {receiver: mail}\n"
                                             "receivers:\n"
                                             "  - name: mail\n"
                                             "    email_configs: [{to: ops@example.com}]\n";
  r = parse_config("alertmanager_config: alertmanager.yml\n", (dir / "f.yaml").string());
  ASSERT_TRUE(r.ok()) << all_errors(r);
  ASSERT_EQ(r.config.receivers.size(), 1u);
  ASSERT_EQ(r.config.receivers[0].integrations.size(), 1u);
  const auto& mail = std::get<alerting::EmailConfig>(r.config.receivers[0].integrations[0].config);
  EXPECT_EQ(mail.from, "alerts@example.com");
  EXPECT_EQ(mail.smarthost_host, "mail.example.com");
  // ... and firebreak.yaml's own receivers have no such block.
  r = parse_config(
      "receivers:\n  - name: mail\n    email_configs: [{to: ops@example.com}]\n"
      "route: {receiver: mail}\n",
      (dir / "f.yaml").string());
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(all_errors(r), HasSubstr("no global SMTP from set"));

  std::ofstream(dir / "alertmanager.yml") << "route: {receiver: hook}\n"
                                             "receivers:\n"
                                             "  - name: hook\n"
                                             "    opsgenie_configs: [{api_key: x}]\n";
  r = parse_config("alertmanager_config: alertmanager.yml\n", (dir / "f.yaml").string());
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].file, (dir / "alertmanager.yml").string());
  EXPECT_EQ(r.errors[0].line, 4);
  EXPECT_EQ(r.errors[0].key, "receivers[0].opsgenie_configs");
  EXPECT_THAT(r.errors[0].message, HasSubstr("watch has no"));

  r = parse_config("alertmanager_config: alertmanager.yml\nreceivers: []\n",
                   (dir / "f.yaml").string());
  EXPECT_FALSE(r.ok());
  r = parse_config("alertmanager_config: missing.yml\n", (dir / "f.yaml").string());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].message, HasSubstr("cannot read"));
  std::filesystem::remove_all(dir);
}

TEST(WatchConfigRouting, TheExportedAlertmanagerYamlRoundTrips) {
  const LoadResult r =
      parse_config(kReceivers +
                       "route:\n"
                       "  receiver: team\n"
                       "  group_by: ['...']\n"
                       "  routes:\n"
                       "    - matchers: ['severity=~\"page|ticket\"']\n"
                       "      receiver: both\n"
                       "      continue: true\n"
                       "      mute_time_intervals: [weekend]\n"
                       "time_intervals:\n"
                       "  - name: weekend\n"
                       "    time_intervals:\n"
                       "      - weekdays: ['saturday', 'sunday']\n"
                       "        times: [{start_time: '00:00', end_time: '12:30'}]\n"
                       "        location: Europe/Paris\n",
                   kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const std::string yaml = alertmanager_yaml(r.config);
  std::vector<watch::routing::Error> errors;
  const auto back = watch::routing::load_routing(YAML::Load(yaml), {"team", "both"}, errors);
  for (const auto& e : errors) ADD_FAILURE() << e.to_string() << "\n" << yaml;
  const auto original = effective_routing(r.config);
  EXPECT_EQ(back.inhibit_rules.size(), original.inhibit_rules.size());
  ASSERT_EQ(back.route.routes.size(), 1u);
  EXPECT_TRUE(back.route.routes[0].continue_matching);
  EXPECT_TRUE(back.route.options.group_by_all);
  ASSERT_TRUE(back.time_intervals.contains("weekend"));
  const auto& t = back.time_intervals.at("weekend").at(0);
  EXPECT_EQ(t.location, "Europe/Paris");
  EXPECT_EQ(*t.times, original.time_intervals.at("weekend").at(0).times.value());
  EXPECT_EQ(*t.weekdays, original.time_intervals.at("weekend").at(0).weekdays.value());
}

}  // namespace
}  // namespace watch::config

namespace watch::config {
namespace {

TEST(WatchConfigRouting, ReceiversTakeEveryIntegrationAndTheShorthandsCountAfterTheLists) {
  const LoadResult r = parse_config(
      "receivers:\n"
      "  - name: team\n"
      "    webhook_configs: [{url: 'http://127.0.0.1:1/a'}]\n"
      "    slack_configs:\n"
      "      - api_url: https://hooks.slack.example/services/T/B/X\n"
      "        channel: '#ops'\n"
      "    webhook: {url: 'http://127.0.0.1:1/b', timeout: 2s}\n"
      "    log:\n",
      kFile);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const auto& ins = r.config.receivers.at(0).integrations;
  ASSERT_EQ(ins.size(), 4u);
  std::vector<std::string> names;
  for (const auto& in : ins) names.push_back(in.kind + "/" + std::to_string(in.index));
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"log/0", "slack/0", "webhook/0", "webhook/1"}));
  // Exported as Alertmanager's lists: both webhooks and the slack item.
  const std::string yaml = alertmanager_yaml(r.config);
  EXPECT_NE(yaml.find("slack_configs"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("http://127.0.0.1:1/b"), std::string::npos) << yaml;
  const YAML::Node back = YAML::Load(yaml);
  EXPECT_EQ(back["receivers"][0]["webhook_configs"].size(), 2u) << yaml;
  one_error("receivers:\n  - name: r\n    slack_configs: [{channel: x}]\n", 3,
            "receivers[0].slack_configs[0]", "api_url");
}

TEST(AlertmanagerExport, RedactedAsAlertmanagerShowsItsStatus) {
  const std::string yaml = R"(global:
  smtp_auth_password: globalpw
  slack_api_url: https://hooks.slack.com/services/GLOBAL
  pagerduty_url: https://events.pagerduty.com/v2/enqueue
route: {receiver: all}
receivers:
  - name: all
    webhook_configs:
      - url: https://example.com/hook?token=kept
        http_config:
          basic_auth: {username: u, password: basicpw}
      - url: https://example.com/hook2
        http_config:
          authorization: {credentials: bearercred}
    slack_configs:
      - {channel: '#x', api_url: https://hooks.slack.com/services/SLACK}
    pagerduty_configs:
      - {routing_key: pdkey, url: https://pd.example.com/}
    email_configs:
      - {to: a@b.c, smarthost: 'localhost:25', auth_username: u, auth_password: emailpw}
)";
  const std::string out = redact_alertmanager_secrets(yaml);
  for (const char* secret :
       {"globalpw", "GLOBAL", "basicpw", "bearercred", "SLACK", "pdkey", "emailpw"})
    EXPECT_EQ(out.find(secret), std::string::npos) << secret << " in\n" << out;
  const YAML::Node root = YAML::Load(out);
  EXPECT_EQ(root["global"]["smtp_auth_password"].as<std::string>(), "<secret>");
  EXPECT_EQ(root["global"]["pagerduty_url"].as<std::string>(),
            "https://events.pagerduty.com/v2/enqueue");
  const YAML::Node r = root["receivers"][0];
  // A webhook's URL is not a secret in Alertmanager 0.25, nor a username.
  EXPECT_EQ(r["webhook_configs"][0]["url"].as<std::string>(),
            "https://example.com/hook?token=kept");
  EXPECT_EQ(r["webhook_configs"][0]["http_config"]["basic_auth"]["username"].as<std::string>(),
            "u");
  EXPECT_EQ(r["webhook_configs"][0]["http_config"]["basic_auth"]["password"].as<std::string>(),
            "<secret>");
  EXPECT_EQ(
      r["webhook_configs"][1]["http_config"]["authorization"]["credentials"].as<std::string>(),
      "<secret>");
  EXPECT_EQ(r["slack_configs"][0]["api_url"].as<std::string>(), "<secret>");
  EXPECT_EQ(r["pagerduty_configs"][0]["routing_key"].as<std::string>(), "<secret>");
  EXPECT_EQ(r["pagerduty_configs"][0]["url"].as<std::string>(), "https://pd.example.com/");
  EXPECT_EQ(r["email_configs"][0]["auth_password"].as<std::string>(), "<secret>");
  EXPECT_EQ(r["email_configs"][0]["auth_username"].as<std::string>(), "u");
  // Not YAML: as it was.
  EXPECT_EQ(redact_alertmanager_secrets("a: [b"), "a: [b");
}

}  // namespace
}  // namespace watch::config
