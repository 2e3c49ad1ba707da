#include "watch/rules/unit_test_runner.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "watch/promql/engine.h"
#include "watch/promql/format.h"
#include "watch/promql/parser.h"
#include "watch/promql/storage.h"
#include "watch/rules/group.h"
#include "watch/rules/rule_file.h"
#include "watch/rules/series_notation.h"

namespace watch::rules {

std::string go_duration_string(std::int64_t ms) {
  if (ms == 0) return "0s";
  std::string sign = ms < 0 ? "-" : "";
  std::uint64_t u = ms < 0 ? static_cast<std::uint64_t>(-ms) : static_cast<std::uint64_t>(ms);
  if (u < 1000) return fmt::format("{}{}ms", sign, u);
  const std::uint64_t h = u / 3'600'000, m = (u / 60'000) % 60, s = (u / 1000) % 60,
                      frac = u % 1000;
  std::string secs = std::to_string(s);
  if (frac != 0) {
    std::string f = fmt::format("{:03d}", frac);
    while (f.back() == '0') f.pop_back();
    secs += "." + f;
  }
  if (h > 0) return fmt::format("{}{}h{}m{}s", sign, h, m, secs);
  if (m > 0) return fmt::format("{}{}m{}s", sign, m, secs);
  return fmt::format("{}{}s", sign, secs);
}

namespace {

struct Failure {
  std::string text;
};

struct LabelsAndAnnotations {
  LabelSet labels;
  std::vector<Label> annotations;
  friend auto operator<=>(const LabelsAndAnnotations&, const LabelsAndAnnotations&) = default;
  friend bool operator==(const LabelsAndAnnotations&, const LabelsAndAnnotations&) = default;
};

std::string labels_string(const std::vector<Label>& ls) {
  std::string out = "{";
  for (std::size_t i = 0; i < ls.size(); ++i) {
    if (i) out += ", ";
    out += fmt::format("{}=\"{}\"", ls[i].name, ls[i].value);
  }
  return out + "}";
}

std::string alerts_string(const std::vector<LabelsAndAnnotations>& v, const std::string& indent) {
  if (v.empty()) return "[]";
  std::string out = "[\n";
  for (std::size_t i = 0; i < v.size(); ++i) {
    out +=
        fmt::format("{}{}:\n{}  Labels:{}\n{}  Annotations:{}\n", indent, i, indent,
                    labels_string(v[i].labels.labels()), indent, labels_string(v[i].annotations));
  }
  return out + indent + "]";
}

std::string samples_string(const std::vector<std::pair<LabelSet, double>>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += fmt::format("{} {}", v[i].first.to_string(), promql::format_value(v[i].second));
  }
  return out;
}

std::map<std::string, std::string> string_map(const YAML::Node& n) {
  std::map<std::string, std::string> out;
  if (n && n.IsMap())
    for (const auto& kv : n) out[kv.first.Scalar()] = kv.second.IsNull() ? "" : kv.second.Scalar();
  return out;
}

std::int64_t duration_of(const YAML::Node& n, std::int64_t dflt, const std::string& key) {
  if (!n || n.IsNull()) return dflt;
  std::int64_t ms = 0;
  if (!parse_prom_duration(n.Scalar(), ms))
    throw std::runtime_error(
        fmt::format("{}: not a valid duration string: \"{}\"", key, n.Scalar()));
  return ms;
}

LabelSet parse_expected_labels(const std::string& s, std::string& error) {
  std::string_view t = s;
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  if (t.empty() || t == "{}") return {};
  SeriesParse p = parse_series_labels(t);
  error = p.error;
  return p.labels;
}

class TestGroupRunner {
 public:
  TestGroupRunner(const YAML::Node& tg, const std::vector<GroupSpec>& specs,
                  const std::vector<std::string>& group_order, std::int64_t eval_interval_ms)
      : tg_(tg), eval_interval_ms_(eval_interval_ms) {
    interval_ms_ = duration_of(tg["interval"], eval_interval_ms, "interval");
    if (tg["name"]) name_ = tg["name"].Scalar();
    GroupOptions options;
    options.default_interval_ms = eval_interval_ms;
    options.alerting.external_labels = string_map(tg["external_labels"]);
    if (tg["external_url"]) options.alerting.external_url = tg["external_url"].Scalar();
    GroupDeps deps;
    deps.query = engine_query_fn(engine_);
    deps.append = [this](const std::vector<OutputSample>& samples) {
      for (const auto& s : samples) storage_.add(s.labels, s.sample);
    };
    std::vector<const GroupSpec*> ordered;
    for (const auto& s : specs) ordered.push_back(&s);
    if (!group_order.empty()) {
      auto rank = [&](const GroupSpec* g) {
        auto it = std::find(group_order.begin(), group_order.end(), g->name);
        return it - group_order.begin();
      };
      std::stable_sort(ordered.begin(), ordered.end(),
                       [&](auto* a, auto* b) { return rank(a) < rank(b); });
    }
    for (const auto* s : ordered) groups_.push_back(std::make_unique<Group>(*s, deps, options));
  }

  std::vector<std::string> run() {
    std::vector<std::string> errs;
    // Input series.
    if (YAML::Node in = tg_["input_series"]; in && in.IsSequence()) {
      for (const auto& s : in) {
        SeriesParse labels = parse_series_labels(s["series"] ? s["series"].Scalar() : "");
        if (!labels.error.empty()) {
          errs.push_back(fmt::format("    {}", labels.error));
          return errs;
        }
        SeriesParse values =
            expand_series_values(s["values"] ? s["values"].Scalar() : "", interval_ms_);
        if (!values.error.empty()) {
          errs.push_back(fmt::format("    {}", values.error));
          return errs;
        }
        storage_.add(labels.labels, values.samples);
      }
    }
    // Alert tests by eval time.
    struct AlertTest {
      std::string alertname;
      std::vector<LabelsAndAnnotations> expected;
    };
    std::map<std::int64_t, std::vector<AlertTest>> alert_tests;
    std::int64_t maxt = 0;
    if (YAML::Node at = tg_["alert_rule_test"]; at && at.IsSequence()) {
      for (const auto& t : at) {
        const std::int64_t et = duration_of(t["eval_time"], 0, "eval_time");
        AlertTest test;
        test.alertname = t["alertname"] ? t["alertname"].Scalar() : "";
        if (YAML::Node ea = t["exp_alerts"]; ea && ea.IsSequence()) {
          for (const auto& a : ea) {
            std::vector<Label> ls;
            for (auto& [k, v] : string_map(a["exp_labels"])) ls.push_back({k, v});
            ls.push_back({"alertname", test.alertname});
            std::vector<Label> ann;
            for (auto& [k, v] : string_map(a["exp_annotations"])) ann.push_back({k, v});
            test.expected.push_back({LabelSet::from(std::move(ls)), std::move(ann)});
          }
        }
        alert_tests[et].push_back(std::move(test));
        maxt = std::max(maxt, et);
      }
    }
    YAML::Node expr_tests = tg_["promql_expr_test"];
    if (expr_tests && expr_tests.IsSequence())
      for (const auto& t : expr_tests)
        maxt = std::max(maxt, duration_of(t["eval_time"], 0, "eval_time"));

    const std::string test_name = name_.empty() ? "" : fmt::format("    name: {},\n", name_);
    auto next_alert = alert_tests.begin();
    for (std::int64_t ts = 0; ts <= maxt; ts += eval_interval_ms_) {
      std::vector<std::string> eval_errs;
      for (auto& g : groups_) {
        g->eval(ts);
        for (const auto& r : g->rules()) {
          std::visit(
              [&](const auto& rule) {
                if (rule->health() == RuleHealth::kErr)
                  eval_errs.push_back(fmt::format("    rule: {}, time: {}, err: {}", rule->name(),
                                                  go_duration_string(ts), rule->last_error()));
              },
              r);
        }
      }
      if (!eval_errs.empty()) {
        errs.insert(errs.end(), eval_errs.begin(), eval_errs.end());
        return errs;
      }
      while (next_alert != alert_tests.end() && next_alert->first >= ts &&
             next_alert->first < ts + eval_interval_ms_) {
        for (const auto& test : next_alert->second) {
          std::vector<LabelsAndAnnotations> got;
          for (const auto& g : groups_)
            for (const auto* rule : g->alerting_rules()) {
              if (rule->name() != test.alertname) continue;
              for (const auto& a : rule->active_alerts())
                if (a.state == AlertState::kFiring) got.push_back({a.labels, a.annotations});
            }
          std::vector<LabelsAndAnnotations> exp = test.expected;
          std::sort(got.begin(), got.end());
          std::sort(exp.begin(), exp.end());
          if (got != exp) {
            errs.push_back(fmt::format(
                "{}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}", test_name,
                test.alertname, go_duration_string(next_alert->first),
                alerts_string(exp, "            "), alerts_string(got, "            ")));
          }
        }
        ++next_alert;
      }
      if (eval_interval_ms_ <= 0) break;
    }
    // Alert tests at times never reached (negative eval_time) are left out, as promtool.

    if (expr_tests && expr_tests.IsSequence()) {
      for (const auto& t : expr_tests) {
        const std::string expr = t["expr"] ? t["expr"].Scalar() : "";
        const std::int64_t et = duration_of(t["eval_time"], 0, "eval_time");
        auto parsed = promql::parse(expr);
        if (!parsed.ok()) {
          errs.push_back(fmt::format("    expr: \"{}\", time: {}, err: {}", expr,
                                     go_duration_string(et), parsed.error->to_string()));
          continue;
        }
        VectorOrError got_v = query_vector(engine_query_fn(engine_), *parsed.expr, et);
        if (!got_v.error.empty()) {
          errs.push_back(fmt::format("    expr: \"{}\", time: {}, err: {}", expr,
                                     go_duration_string(et), got_v.error));
          continue;
        }
        std::vector<std::pair<LabelSet, double>> got, exp;
        for (auto& s : got_v.vector) got.emplace_back(s.labels, s.v);
        bool bad = false;
        if (YAML::Node es = t["exp_samples"]; es && es.IsSequence()) {
          for (const auto& s : es) {
            std::string err;
            LabelSet ls = parse_expected_labels(s["labels"] ? s["labels"].Scalar() : "", err);
            if (!err.empty()) {
              errs.push_back(fmt::format("    expr: \"{}\", time: {}, err: labels \"{}\": {}", expr,
                                         go_duration_string(et), s["labels"].Scalar(), err));
              bad = true;
              break;
            }
            double v = 0;
            if (s["value"]) {
              auto f = promql::parse_go_float(s["value"].Scalar());
              if (!f) throw std::runtime_error("bad value: " + s["value"].Scalar());
              v = *f;
            }
            exp.emplace_back(std::move(ls), v);
          }
        }
        if (bad) continue;
        std::sort(got.begin(), got.end());
        std::sort(exp.begin(), exp.end());
        bool equal = got.size() == exp.size();
        for (std::size_t i = 0; equal && i < got.size(); ++i)
          equal = got[i].first == exp[i].first && got[i].second == exp[i].second;
        if (!equal)
          errs.push_back(
              fmt::format("    expr: \"{}\", time: {},\n        exp: {}\n        got: {}", expr,
                          go_duration_string(et), samples_string(exp), samples_string(got)));
      }
    }
    return errs;
  }

 private:
  const YAML::Node& tg_;
  std::int64_t eval_interval_ms_;
  std::int64_t interval_ms_ = 0;
  std::string name_;
  promql::MemoryStorage storage_;
  promql::Engine engine_{storage_};
  std::vector<std::unique_ptr<Group>> groups_;
};

}  // namespace

UnitTestFileResult run_rule_unit_test_file(const std::string& path) {
  UnitTestFileResult result;
  result.file = path;
  try {
    YAML::Node root = YAML::LoadFile(path);
    const std::int64_t eval_interval =
        duration_of(root["evaluation_interval"], 60'000, "evaluation_interval");
    if (eval_interval <= 0) throw std::runtime_error("evaluation_interval must be positive");
    std::vector<std::string> order;
    if (YAML::Node o = root["group_eval_order"]; o && o.IsSequence())
      for (const auto& g : o) order.push_back(g.Scalar());
    // Rule files, relative to the test file.
    std::vector<GroupSpec> specs;
    const std::filesystem::path base = std::filesystem::path(path).parent_path();
    if (YAML::Node rf = root["rule_files"]; rf && rf.IsSequence()) {
      for (const auto& f : rf) {
        std::filesystem::path p = f.Scalar();
        if (p.is_relative()) p = base / p;
        LoadResult lr = load_rule_file(p.string());
        for (const auto& e : lr.errors) result.failures.push_back("    " + e.to_string());
        for (auto& g : lr.file.groups) specs.push_back(std::move(g));
      }
    }
    if (!result.failures.empty()) return result;
    if (YAML::Node tests = root["tests"]; tests && tests.IsSequence()) {
      for (const auto& tg : tests) {
        TestGroupRunner runner(tg, specs, order, eval_interval);
        auto errs = runner.run();
        result.failures.insert(result.failures.end(), errs.begin(), errs.end());
      }
    }
  } catch (const std::exception& e) {
    result.failures.push_back(std::string("    ") + e.what());
  }
  result.passed = result.failures.empty();
  return result;
}

int run_rule_unit_tests(const std::vector<std::string>& paths, std::ostream& out) {
  bool failed = false;
  for (const auto& p : paths) {
    out << "Unit Testing:  " << p << "\n";
    UnitTestFileResult r = run_rule_unit_test_file(p);
    if (r.passed) {
      out << "  SUCCESS\n";
    } else {
      failed = true;
      out << "  FAILED:\n";
      for (const auto& f : r.failures) out << f << "\n";
    }
    out << "\n";
  }
  return failed ? 1 : 0;
}

}  // namespace watch::rules
