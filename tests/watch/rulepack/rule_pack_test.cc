#include "watch/rulepack/rule_pack.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "tests/watch/rulepack/testpack.h"
#include "watch/promql/parser.h"
#include "watch/rulepack/prometheus_export.h"
#include "watch/rules/rule_file.h"
#include "watch/rules/unit_test_runner.h"

namespace watch::rulepack {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A fresh directory under the system temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("rulepack_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "_" + std::to_string(std::random_device{}()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<TargetSpec> hundred_targets() {
  std::vector<TargetSpec> out;
  for (int i = 0; i < 100; ++i) {
    const Workload w = i < 40 ? Workload::kApi : i < 80 ? Workload::kWorker : Workload::kOther;
    out.push_back({.name = "svc-" + std::to_string(i), .workload = w});
  }
  return out;
}

TEST(RulePack, EveryUnitTestFileGivesItsVerdictWithWatchsRunner) {
  TempDir dir;
  std::ofstream(dir.path() / "firebreak.rules.yml")
      << render_rule_pack(testpack::targets(), testpack::options());
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(RULEPACK_TESTDATA)) {
    if (e.path().filename().string().ends_with("_test.yml")) {
      fs::copy_file(e.path(), dir.path() / e.path().filename());
      files.push_back(dir.path() / e.path().filename());
    }
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 8u);
  for (const auto& f : files) {
    const auto r = watch::rules::run_rule_unit_test_file(f.string());
    const bool want_pass = f.filename().string().find("_fail_test.yml") == std::string::npos;
    std::string failures;
    for (const auto& x : r.failures) failures += x + "\n";
    EXPECT_EQ(r.passed, want_pass) << f.filename() << "\n" << failures;
  }
}

TEST(RulePack, EveryAlertIsCoveredByAUnitTestFile) {
  std::string all;
  for (const auto& e : fs::directory_iterator(RULEPACK_TESTDATA)) {
    if (e.path().filename().string().ends_with("_test.yml") &&
        e.path().filename().string().find("_fail_") == std::string::npos) {
      all += read(e.path());
    }
  }
  for (const auto& name : alert_names()) {
    EXPECT_NE(all.find("alertname: " + name + "\n"), std::string::npos) << name;
  }
}

TEST(RulePack, ParsesWithWatchsRuleParserAndEveryExprWithPromQL) {
  for (const auto& targets : {testpack::targets(), hundred_targets()}) {
    const std::string yaml = render_rule_pack(targets, {});
    const auto loaded = watch::rules::parse_rule_file(yaml, "firebreak.rules.yml");
    ASSERT_TRUE(loaded.ok()) << loaded.errors.front().to_string() << "\n" << yaml;
    std::set<std::string> alerts;
    for (const auto& g : loaded.file.groups) {
      EXPECT_EQ(g.interval_ms, 15'000);
      for (const auto& r : g.rules) {
        const auto parsed = watch::promql::parse(r.expr);
        EXPECT_TRUE(parsed.ok()) << r.name << ": " << parsed.error->to_string() << "\n" << r.expr;
        if (r.kind != watch::rules::RuleSpec::Kind::kAlerting) continue;
        alerts.insert(r.name);
        // Where only time passing makes the condition true, the threshold
        // is the tolerance and there is no `for`; elsewhere, never one sample.
        bool by_time =
            r.name == "ServiceNeverReady" || r.name == "JobMissedRun" || r.name == "JobRunTooLong";
        for (const auto& l : r.labels) by_time |= l.name == "reason" && l.value == "heartbeat";
        if (by_time) {
          EXPECT_EQ(r.for_ms, 0) << r.name;
        } else {
          EXPECT_GE(r.for_ms, 30'000) << r.name << ": fires on one sample";
        }
        std::set<std::string> keys;
        for (const auto& l : r.annotations) keys.insert(l.name);
        EXPECT_EQ(keys, (std::set<std::string>{"description", "runbook_url", "summary"}));
        bool severity = false;
        for (const auto& l : r.labels) {
          if (l.name == "severity") severity = l.value == "page" || l.value == "ticket";
        }
        EXPECT_TRUE(severity) << r.name;
      }
    }
    EXPECT_EQ(alerts, std::set<std::string>(alert_names().begin(), alert_names().end()));
  }
}

TEST(RulePack, IsDeterministicAndIndependentOfTargetOrder) {
  auto targets = hundred_targets();
  const std::string a = render_rule_pack(targets, {});
  EXPECT_EQ(a, render_rule_pack(targets, {}));
  std::mt19937 rng(42);
  std::shuffle(targets.begin(), targets.end(), rng);
  EXPECT_EQ(a, render_rule_pack(targets, {}));
}

TEST(RulePack, TargetsSharingThresholdsShareOneRule) {
  const std::string yaml = render_rule_pack(hundred_targets(), {});
  const auto loaded = watch::rules::parse_rule_file(yaml, "p.yml");
  ASSERT_TRUE(loaded.ok());
  std::size_t rules = 0;
  for (const auto& g : loaded.file.groups) rules += g.rules.size();
  // 5 per target group (2 recording), 4 api, 3 worker, 3 job: a constant.
  EXPECT_EQ(rules, 15u);
  EXPECT_LT(yaml.size(), 64u * 1024);
}

TEST(RulePack, PerTargetThresholdsRender) {
  Thresholds slow;
  slow.latency_objective_seconds = 1.25;
  slow.latency_for_ms = 90 * 60'000;
  slow.down_for_ms = 5 * 60'000;
  slow.availability_objective = 0.995;
  const std::string yaml =
      render_rule_pack({{.name = "a.api", .workload = Workload::kApi},
                        {.name = "b.api", .workload = Workload::kApi, .thresholds = slow}},
                       {.evaluation_interval_ms = 30'000, .include_job_rules = false});
  EXPECT_NE(yaml.find("interval: 30s"), std::string::npos);
  EXPECT_NE(yaml.find("for: 1h30m"), std::string::npos);                    // b's latency_for
  EXPECT_NE(yaml.find("[45m]"), std::string::npos);                         // half of it
  EXPECT_NE(yaml.find("> 1.25"), std::string::npos);                        // b's objective
  EXPECT_NE(yaml.find("> 0.5"), std::string::npos);                         // a's
  EXPECT_NE(yaml.find("job=\"b.api\""), std::string::npos);                 // one-target class
  EXPECT_NE(yaml.find("job=~\"a\\\\.api|b\\\\.api\""), std::string::npos);  // shared, escaped
  EXPECT_NE(yaml.find("14.4 * 0.005"), std::string::npos);
  EXPECT_NE(yaml.find("14.4 * 0.001"), std::string::npos);
  EXPECT_NE(yaml.find("offset 1d"), std::string::npos);
  EXPECT_EQ(yaml.find("JobMissedRun"), std::string::npos);
  EXPECT_EQ(yaml.find("WorkerStalled"), std::string::npos);  // no worker target
  EXPECT_NE(yaml.find("runbook_url: 'docs/alerts.md#apilatencyhigh'"), std::string::npos);
}

TEST(RulePack, RunbookUrlsAreRelativeUnlessABaseIsSet) {
  EXPECT_EQ(runbook_url({}, "TargetDown"), "docs/alerts.md#targetdown");
  EXPECT_EQ(runbook_url({.runbook_base_url = "https://example.com/fb"}, "JobMissedRun"),
            "https://example.com/fb/docs/alerts.md#jobmissedrun");
  EXPECT_EQ(runbook_url({.runbook_base_url = "https://example.com/fb//"}, "JobMissedRun"),
            "https://example.com/fb/docs/alerts.md#jobmissedrun");

  const std::vector<TargetSpec> targets = {{.name = "api", .workload = Workload::kApi},
                                           {.name = "worker", .workload = Workload::kWorker}};
  const std::string yaml = render_rule_pack(
      targets, {.runbook_base_url = "https://github.com/acme/firebreak/blob/main/"});
  const auto loaded = watch::rules::parse_rule_file(yaml, "p.yml");
  ASSERT_TRUE(loaded.ok()) << yaml;
  std::size_t alerts = 0;
  for (const auto& g : loaded.file.groups)
    for (const auto& r : g.rules) {
      if (r.kind != watch::rules::RuleSpec::Kind::kAlerting) continue;
      ++alerts;
      std::string url;
      for (const auto& a : r.annotations)
        if (a.name == "runbook_url") url = a.value;
      std::string anchor = r.name;
      std::transform(anchor.begin(), anchor.end(), anchor.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      EXPECT_EQ(url, "https://github.com/acme/firebreak/blob/main/docs/alerts.md#" + anchor);
    }
  EXPECT_GT(alerts, 5u);
}

// The alert names of a rendered pack, with their `for`s ("ApiLatencyHigh 10m").
std::multiset<std::string> alerts_of(const std::string& yaml) {
  const auto loaded = watch::rules::parse_rule_file(yaml, "p.yml");
  EXPECT_TRUE(loaded.ok()) << yaml;
  std::multiset<std::string> out;
  for (const auto& g : loaded.file.groups)
    for (const auto& r : g.rules)
      if (r.kind == watch::rules::RuleSpec::Kind::kAlerting)
        out.insert(r.name + " " + prom_duration(r.for_ms));
  return out;
}

TEST(RulePack, EachTargetGetsOnlyTheAlertsItsListNames) {
  const std::string yaml = render_rule_pack(
      {{.name = "api",
        .workload = Workload::kApi,
        .alerts = std::vector<std::string>{"TargetDown"}},
       {.name = "mute", .workload = Workload::kWorker, .alerts = std::vector<std::string>{}},
       {.name = "worker",
        .workload = Workload::kWorker,
        .alerts = std::vector<std::string>{"WorkerStalled"}}},
      {.include_job_rules = true, .job_alerts = std::vector<std::string>{"JobFailed"}});
  EXPECT_EQ(alerts_of(yaml), (std::multiset<std::string>{"TargetDown 2m", "WorkerStalled 2m",
                                                         "WorkerStalled 0s", "JobFailed 1m"}));
  // The readiness alerts' recording rules go with them; no api group at all.
  EXPECT_EQ(yaml.find("firebreak:probe_last_success_timestamp_seconds"), std::string::npos);
  EXPECT_EQ(yaml.find("firebreak.api"), std::string::npos);
  EXPECT_EQ(yaml.find("job=\"mute\""), std::string::npos);
  EXPECT_NE(yaml.find("up{job=\"api\"}"), std::string::npos);
  // Nobody gets anything: an empty pack.
  EXPECT_EQ(render_rule_pack({{.name = "a", .alerts = std::vector<std::string>{}}},
                             {.include_job_rules = false}),
            "groups: []\n");
}

TEST(RulePack, EveryForAndWindowIsTunable) {
  Thresholds t;
  t.never_ready_for_ms = 10'000;
  t.no_progress_for_ms = 50'000;
  t.heartbeat_for_ms = 20'000;
  t.latency_window_ms = 2 * 60'000;
  t.regression_for_ms = 75 * 60'000;
  t.fast_burn_for_ms = 3 * 60'000;
  t.slow_burn_for_ms = 20 * 60'000;
  const RulePackOptions o{.evaluation_interval_ms = 5'000, .include_job_rules = false};
  const std::string yaml =
      render_rule_pack({{.name = "api", .workload = Workload::kApi, .thresholds = t},
                        {.name = "w", .workload = Workload::kWorker, .thresholds = t}},
                       o);
  const auto alerts = alerts_of(yaml);
  for (const char* want : {"ServiceNeverReady 10s", "WorkerStalled 50s", "WorkerStalled 20s",
                           "ApiLatencyRegression 1h15m", "ApiErrorBudgetBurn 3m",
                           "ApiErrorBudgetBurn 20m", "ApiLatencyHigh 10m"})
    EXPECT_EQ(alerts.count(want), 1u) << want << "\n" << yaml;
  EXPECT_NE(yaml.find("[2m]"), std::string::npos);  // the latency window
  const Effective e = effective(t, o);
  EXPECT_EQ(e.latency_window_ms, 2 * 60'000);
  EXPECT_EQ(e.heartbeat_for_ms, 20'000);
  // Unset, each is derived from its threshold as before.
  const Effective d = effective(Thresholds{}, {});
  EXPECT_EQ(d.never_ready_for_ms, 0);  // only time passing makes these true
  EXPECT_EQ(d.no_progress_for_ms, 2 * 60'000);
  EXPECT_EQ(d.heartbeat_for_ms, 0);
  EXPECT_EQ(d.latency_window_ms, 5 * 60'000);
  EXPECT_EQ(d.regression_for_ms, 60 * 60'000);  // twice its 30m window
  EXPECT_EQ(d.fast_burn_for_ms, 2 * 60'000);
  EXPECT_EQ(d.slow_burn_for_ms, 15 * 60'000);
}

TEST(RulePack, NoiseWarningsNameTheChoiceThatLetsASpikePage) {
  const RulePackOptions o{.evaluation_interval_ms = 15'000};
  const auto keys = [&](const TargetSpec& t, std::int64_t scrape_ms) {
    std::vector<std::string> out;
    for (const auto& w : noise_warnings(t, o, scrape_ms)) out.push_back(w.key + ": " + w.message);
    return out;
  };
  // The defaults: no warning, whatever the workload.
  for (Workload w : {Workload::kApi, Workload::kWorker, Workload::kJob, Workload::kOther})
    EXPECT_TRUE(keys({.name = "a", .workload = w}, 15'000).empty());
  Thresholds t;
  t.down_for_ms = 45'000;             // one failed 30 s scrape can page
  t.latency_window_ms = 8 * 60'000;   // a 2m burst can page a 10m `for`
  t.no_progress_for_ms = 0;           // raised to 30s
  t.regression_for_ms = 10 * 60'000;  // shorter than its 30m window
  const auto w = keys({.name = "a", .workload = Workload::kApi, .thresholds = t}, 30'000);
  ASSERT_EQ(w.size(), 3u) << ::testing::PrintToString(w);  // no_progress: not an api alert
  EXPECT_THAT(w[0], ::testing::HasSubstr("down_for: TargetDown: down_for 45s is shorter than two "
                                         "scrape intervals (1m): one failed scrape can page"));
  EXPECT_THAT(w[1], ::testing::HasSubstr("a burst of slow requests as short as 2m can page"));
  EXPECT_THAT(w[2], ::testing::HasSubstr(
                        "regression_for: ApiLatencyRegression: regression_window 30m is more than "
                        "half of regression_for 10m: a burst of slow requests of any length can "
                        "page"));
  const auto ww = keys({.name = "w", .workload = Workload::kWorker, .thresholds = t}, 30'000);
  ASSERT_EQ(ww.size(), 2u) << ::testing::PrintToString(ww);
  EXPECT_THAT(ww[0], ::testing::HasSubstr("no_progress_for: WorkerStalled: no_progress_for 0s is "
                                          "raised to 30s"));
  // An alert the target does not get warns of nothing.
  EXPECT_TRUE(keys({.name = "a",
                    .workload = Workload::kApi,
                    .thresholds = t,
                    .alerts = std::vector<std::string>{"ServiceNeverReady"}},
                   15'000)
                  .empty());
}

TEST(RulePack, AClassWithAnotherForGetsARuleOfItsOwnWithTheSameLabels) {
  Thresholds slow;
  slow.down_for_ms = 5 * 60'000;
  const std::string yaml = render_rule_pack({{.name = "a"}, {.name = "b", .thresholds = slow}},
                                            {.include_job_rules = false});
  const auto loaded = watch::rules::parse_rule_file(yaml, "p.yml");
  ASSERT_TRUE(loaded.ok());
  std::vector<std::int64_t> fors;
  for (const auto& r : loaded.file.groups.at(0).rules) {
    if (r.name != "TargetDown") continue;
    fors.push_back(r.for_ms);
    // The alert's identity does not depend on a threshold.
    EXPECT_EQ(r.labels, (std::vector<Label>{{"severity", "page"}}));
  }
  EXPECT_EQ(fors, (std::vector<std::int64_t>{120'000, 300'000}));
}

TEST(RulePack, ManyClassesSplitIntoPartsThatParse) {
  std::vector<TargetSpec> targets;
  for (int i = 0; i < 300; ++i) {
    Thresholds t;
    t.regression_factor = 1.5 + 0.01 * i;  // 300 classes, one `for`
    targets.push_back(
        {.name = "api-" + std::to_string(i), .workload = Workload::kApi, .thresholds = t});
  }
  const auto loaded = watch::rules::parse_rule_file(render_rule_pack(targets, {}), "p.yml");
  ASSERT_TRUE(loaded.ok());
  std::size_t parts = 0;
  for (const auto& g : loaded.file.groups) {
    for (const auto& r : g.rules) {
      EXPECT_LE(r.expr.size(), 32u * 1024) << r.name;
      EXPECT_TRUE(watch::promql::parse(r.expr).ok()) << r.name;
      if (r.name != "ApiLatencyRegression") continue;
      ++parts;
      EXPECT_EQ(r.labels, (std::vector<Label>{{"severity", "ticket"}}));
    }
  }
  EXPECT_GE(parts, 2u);
}

TEST(RulePack, RateWindowsHoldFourEvaluationIntervals) {
  Thresholds t;
  t.latency_for_ms = 60'000;  // half of it (30s) is under 4 x 15s
  const std::string yaml = render_rule_pack(
      {{.name = "a", .workload = Workload::kApi, .thresholds = t}}, {.include_job_rules = false});
  EXPECT_NE(yaml.find("_bucket{job=\"a\", http_response_status_code!~\"5..\"}[1m]"),
            std::string::npos)
      << yaml;
}

TEST(RulePack, RunbookOfEveryAlertIsInDocs) {
  const std::string docs = read(fs::path(RULEPACK_TESTDATA) / "../../../../docs/alerts.md");
  ASSERT_FALSE(docs.empty());
  for (const auto& name : alert_names()) {
    EXPECT_NE(docs.find("\n## " + name + "\n"), std::string::npos) << name;
  }
}

TEST(RulePack, DurationsInPrometheusNotation) {
  EXPECT_EQ(prom_duration(0), "0s");
  EXPECT_EQ(prom_duration(250), "250ms");
  EXPECT_EQ(prom_duration(90'000), "1m30s");
  EXPECT_EQ(prom_duration(5'400'000), "1h30m");
  EXPECT_EQ(prom_duration(86'400'000), "1d");
  EXPECT_EQ(prom_duration(90'061'500), "1d1h1m1s500ms");
  for (std::int64_t ms :
       std::initializer_list<std::int64_t>{1, 999, 61'000, 3'600'000, 7 * 86'400'000LL}) {
    std::int64_t back = -1;
    EXPECT_TRUE(watch::rules::parse_prom_duration(prom_duration(ms), back));
    EXPECT_EQ(back, ms);
  }
}

TEST(PrometheusExport, WritesConfigAndPack) {
  TempDir dir;
  std::ofstream(dir.path() / "team.rules.yml") << "groups: []\n";
  ExportInput in;
  in.targets.push_back({.spec = {.name = "shop-api", .workload = Workload::kApi},
                        .metrics_url = "http://127.0.0.1:9464/metrics",
                        .ready_url = "http://127.0.0.1:9464/readyz"});
  in.targets.push_back({.spec = {.name = "py", .workload = Workload::kOther},
                        .metrics_url = "https://py.internal:8443/m?a=1&b=2",
                        .scrape_interval_ms = 30'000,
                        .honor_labels = true,
                        .labels = {{"team", "shop"}}});
  in.extra_rule_files = {(dir.path() / "team.rules.yml").string()};
  std::string error;
  ASSERT_TRUE(export_prometheus(in, (dir.path() / "out").string(), &error)) << error;
  const std::string cfg = read(dir.path() / "out/prometheus.yml");
  const std::string pack = read(dir.path() / "out/rules/firebreak.rules.yml");
  EXPECT_TRUE(fs::exists(dir.path() / "out/rules/team.rules.yml"));
  std::vector<TargetSpec> specs = {in.targets[0].spec, in.targets[1].spec};
  EXPECT_EQ(pack, render_rule_pack(specs, {}));
  for (const char* want :
       {"evaluation_interval: 15s", "- 'rules/firebreak.rules.yml'", "- 'rules/team.rules.yml'",
        "- job_name: 'shop-api'", "targets: ['127.0.0.1:9464']", "metrics_path: '/metrics'",
        "- job_name: 'py'", "scheme: https", "metrics_path: '/m'", "'a': ['1']",
        "scrape_interval: 30s", "honor_labels: true", "team: 'shop'", "#   static_configs:",
        "targets: ['http://127.0.0.1:9464/readyz']", "targets: ['localhost:9093']"}) {
    EXPECT_NE(cfg.find(want), std::string::npos) << want << "\n" << cfg;
  }
}

TEST(PrometheusExport, WritesTlsAndAuthorizationWithoutInlineSecrets) {
  ExportInput in;
  ExportTarget many{.spec = {.name = "api"}, .scheme = "https"};
  many.static_groups = {{.targets = {LabelSet::from({{"__address__", "api.internal:8443"}})}}};
  many.http.tls = {.ca_file = "/etc/fb/ca.pem",
                   .cert_file = "/etc/fb/client.pem",
                   .key_file = "/etc/fb/client.key",
                   .server_name = "api.internal",
                   .insecure_skip_verify = true};
  many.http.authorization =
      firebreak::HttpAuthorization{.type = "Bearer", .credentials_file = "/etc/fb/token"};
  in.targets.push_back(many);
  ExportTarget one{.spec = {.name = "one"}, .metrics_url = "https://one.internal/metrics"};
  one.http.basic_auth = firebreak::HttpBasicAuth{.username = "watch", .password = "hunter2"};
  in.targets.push_back(one);
  ExportTarget inline_token{.spec = {.name = "tok"}, .metrics_url = "https://t.internal/metrics"};
  inline_token.http.authorization =
      firebreak::HttpAuthorization{.type = "Bearer", .credentials = "s3cret"};
  in.targets.push_back(inline_token);
  EXPECT_FALSE(has_inline_secret(in.targets[0]));
  EXPECT_TRUE(has_inline_secret(in.targets[1]));
  EXPECT_TRUE(has_inline_secret(in.targets[2]));
  std::string cfg, error;
  ASSERT_TRUE(render_prometheus_config(in, &cfg, &error)) << error;
  for (const char* want :
       {"- job_name: 'api'", "    scheme: https\n",
        "    tls_config:\n      ca_file: '/etc/fb/ca.pem'\n      cert_file: '/etc/fb/client.pem'\n"
        "      key_file: '/etc/fb/client.key'\n      server_name: 'api.internal'\n"
        "      insecure_skip_verify: true\n",
        "    authorization:\n      type: 'Bearer'\n      credentials_file: '/etc/fb/token'\n",
        "    basic_auth:\n      username: 'watch'\n      password: '<secret>'  # not exported",
        "      credentials: '<secret>'  # not exported"}) {
    EXPECT_NE(cfg.find(want), std::string::npos) << want << "\n" << cfg;
  }
  EXPECT_EQ(cfg.find("hunter2"), std::string::npos) << cfg;
  EXPECT_EQ(cfg.find("s3cret"), std::string::npos) << cfg;
}

TEST(PrometheusExport, RefusesTwoTargetsOfOneName) {
  ExportInput in;
  in.targets.push_back({.spec = {.name = "x"}, .metrics_url = "http://a:1/metrics"});
  in.targets.push_back({.spec = {.name = "x"}, .metrics_url = "http://b:1/metrics"});
  std::string text, error;
  EXPECT_FALSE(render_prometheus_config(in, &text, &error));
  EXPECT_EQ(error, "two targets named x");
}

TEST(PrometheusExport, CapsTheScrapeTimeoutAtTheInterval) {
  ExportInput in;
  in.targets.push_back(
      {.spec = {.name = "x"}, .metrics_url = "http://a:1/metrics", .scrape_interval_ms = 5'000});
  std::string text, error;
  ASSERT_TRUE(render_prometheus_config(in, &text, &error)) << error;
  EXPECT_NE(text.find("    scrape_interval: 5s\n    scrape_timeout: 5s\n"), std::string::npos)
      << text;
}

TEST(PrometheusExport, RefusesABadUrl) {
  TempDir dir;
  ExportInput in;
  in.targets.push_back({.spec = {.name = "x"}, .metrics_url = "127.0.0.1:9464/metrics"});
  std::string error;
  EXPECT_FALSE(export_prometheus(in, dir.path().string(), &error));
  EXPECT_NE(error.find("target x"), std::string::npos) << error;
}

}  // namespace
}  // namespace watch::rulepack
