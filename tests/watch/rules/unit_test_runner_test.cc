#include "watch/rules/unit_test_runner.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace watch::rules {
namespace {

const std::string kData = RULES_TESTDATA;

TEST(UnitTestRunner, PassingFiles) {
  for (const char* f : {"for_lifecycle_test.yml", "spike_test.yml", "keep_firing_test.yml",
                        "templates_test.yml", "absent_test.yml"}) {
    auto r = run_rule_unit_test_file(kData + "/" + f);
    std::string why;
    for (const auto& x : r.failures) why += x + "\n";
    EXPECT_TRUE(r.passed) << f << "\n" << why;
  }
}

TEST(UnitTestRunner, FailingFilesReportLikePromtool) {
  auto r = run_rule_unit_test_file(kData + "/wrong_for_fail_test.yml");
  EXPECT_FALSE(r.passed);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_NE(r.failures[0].find("alertname: TargetDown, time: 1m0s"), std::string::npos)
      << r.failures[0];
  EXPECT_NE(r.failures[0].find("got:[]"), std::string::npos) << r.failures[0];

  r = run_rule_unit_test_file(kData + "/wrong_value_fail_test.yml");
  EXPECT_FALSE(r.passed);
  ASSERT_EQ(r.failures.size(), 2u);
  EXPECT_NE(r.failures[1].find("expr: \"job:errors:ratio_rate5m\", time: 6m0s"), std::string::npos)
      << r.failures[1];

  std::ostringstream out;
  EXPECT_EQ(
      run_rule_unit_tests({kData + "/spike_test.yml", kData + "/wrong_for_fail_test.yml"}, out), 1);
  EXPECT_NE(out.str().find("  SUCCESS\n"), std::string::npos);
  EXPECT_NE(out.str().find("  FAILED:\n"), std::string::npos);
}

TEST(UnitTestRunner, BrokenInputsFailCleanly) {
  const auto dir = std::filesystem::temp_directory_path() / "watch_rules_runner_test";
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  write("bad_rules.yml",
        "groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: 'sum('\n");
  auto r = run_rule_unit_test_file(write("t1.yml", "rule_files: [bad_rules.yml]\ntests: []\n"));
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.failures.at(0).find("could not parse expression"), std::string::npos);
  r = run_rule_unit_test_file(write("t2.yml", "rule_files: [missing.yml]\ntests: []\n"));
  EXPECT_FALSE(r.passed);
  r = run_rule_unit_test_file(
      write("t3.yml", "tests:\n  - input_series:\n      - series: 'up'\n        values: '1 zz'\n"));
  EXPECT_FALSE(r.passed);
  r = run_rule_unit_test_file(write("t4.yml", "tests: [\n"));
  EXPECT_FALSE(r.passed);
  // A rule evaluation error fails the group, as promtool.
  write("err_rules.yml",
        "groups:\n  - name: x\n    rules:\n      - record: r\n        expr: up + on() group_left "
        "up\n");
  r = run_rule_unit_test_file(write("t5.yml", R"(rule_files: [err_rules.yml]
tests:
  - input_series:
      - {series: 'up{a="1"}', values: '1'}
      - {series: 'up{a="2"}', values: '1'}
    promql_expr_test:
      - {expr: up, eval_time: 0, exp_samples: []}
)"));
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.failures.at(0).find("rule: r, time: 0s, err:"), std::string::npos)
      << r.failures.at(0);
}

TEST(UnitTestRunner, GoDurationStrings) {
  EXPECT_EQ(go_duration_string(0), "0s");
  EXPECT_EQ(go_duration_string(600000), "10m0s");
  EXPECT_EQ(go_duration_string(3600000), "1h0m0s");
  EXPECT_EQ(go_duration_string(90500), "1m30.5s");
  EXPECT_EQ(go_duration_string(250), "250ms");
}

}  // namespace
}  // namespace watch::rules
