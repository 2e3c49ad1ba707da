// Runs rule unit tests in `promtool test rules`'s file format with watch's
// own engine and rule evaluator, reporting in promtool's style. Backs
// `firebreak watch test-rules FILE...`.
//
//   std::ostringstream out;
//   int code = watch::rules::run_rule_unit_tests({"tests/pack_test.yml"}, out);
//   // out: "Unit Testing:  tests/pack_test.yml\n  SUCCESS\n"; code 0 when all pass
//
// File format (promtool's):
//   rule_files: [<path, relative to the test file>]
//   evaluation_interval: <duration, default 1m>
//   group_eval_order: [<group name>]      # optional
//   tests:
//     - interval: <duration, default evaluation_interval>
//       name: <string>
//       external_labels: {<name>: <value>}
//       external_url: <string>
//       input_series: [{series: 'm{a="b"}', values: '1+1x10 _ stale'}]
//       alert_rule_test:
//         - {eval_time: <dur>, alertname: <name>,
//            exp_alerts: [{exp_labels: {...}, exp_annotations: {...}}]}
//       promql_expr_test:
//         - {expr: <PromQL>, eval_time: <dur>, exp_samples: [{labels: 'm{a="b"}', value: <n>}]}
//
// As promtool: rules are evaluated at 0, evaluation_interval, ... up to the
// largest eval_time; an alert test at eval_time compares the firing alerts
// after the evaluation at the last step <= eval_time; a rule evaluation
// error fails the test group; rule outputs (recording rules, ALERTS) are
// visible to later rules and to promql_expr_test.
//
// Thread-safety: each call is independent; reads the files named.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace watch::rules {

struct UnitTestFileResult {
  std::string file;
  bool passed = false;
  std::vector<std::string> failures;  // promtool-style failure texts
};

// Runs one test file.
UnitTestFileResult run_rule_unit_test_file(const std::string& path);

// Runs each file, writes promtool's report to `out`; 0 when all pass, else 1.
int run_rule_unit_tests(const std::vector<std::string>& paths, std::ostream& out);

// Go's time.Duration.String() of milliseconds: "10m0s", "1h0m0s", "1.5s", "0s".
std::string go_duration_string(std::int64_t ms);

}  // namespace watch::rules
