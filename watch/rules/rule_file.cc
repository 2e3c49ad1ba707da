#include "watch/rules/rule_file.h"

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "watch/promql/ast.h"
#include "watch/promql/parser.h"
#include "watch/rules/template.h"

namespace watch::rules {

std::string RuleFileError::to_string() const {
  std::string out = file;
  if (pos.line > 0) out += fmt::format(":{}:{}", pos.line, pos.column);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

bool parse_prom_duration(std::string_view text, std::int64_t& ms) {
  if (text == "0") {
    ms = 0;
    return true;
  }
  auto d = promql::parse_duration(text);
  if (!d) return false;
  ms = *d;
  return true;
}

namespace {
bool name_char(char c, bool first, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
         (!first && c >= '0' && c <= '9');
}
}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, true)) return false;
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, false)) return false;
  return true;
}

namespace {

Position pos_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

class Loader {
 public:
  explicit Loader(std::string_view path) { result_.file.path = std::string(path); }

  LoadResult run(std::string_view text) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      error({e.mark.line + 1, e.mark.column + 1}, "", "yaml: " + e.msg);
      return std::move(result_);
    }
    if (!root || root.IsNull()) return std::move(result_);  // an empty file has no groups
    if (!root.IsMap()) {
      error(pos_of(root), "", "expected a mapping with key 'groups'");
      return std::move(result_);
    }
    check_keys(root, "", {"groups"}, "rulefmt.RuleGroups");
    YAML::Node groups = root["groups"];
    if (!groups || groups.IsNull()) return std::move(result_);
    if (!groups.IsSequence()) {
      error(pos_of(groups), "groups", "expected a list of rule groups");
      return std::move(result_);
    }
    std::set<std::string> names;
    for (std::size_t i = 0; i < groups.size(); ++i) {
      const std::string key = fmt::format("groups[{}]", i);
      GroupSpec g;
      if (load_group(groups[i], key, g)) {
        if (g.name.empty()) {
          error(g.pos, key + ".name", "Groupname must not be empty");
        } else if (!names.insert(g.name).second) {
          error(g.pos, key + ".name",
                fmt::format("groupname: \"{}\" is repeated in the same file", g.name));
        }
        result_.file.groups.push_back(std::move(g));
      }
    }
    return std::move(result_);
  }

 private:
  void error(Position pos, std::string key, std::string message) {
    result_.errors.push_back({result_.file.path, pos, std::move(key), std::move(message)});
  }

  void check_keys(const YAML::Node& map, const std::string& key,
                  std::initializer_list<std::string_view> allowed, std::string_view type) {
    for (const auto& kv : map) {
      const std::string k = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
        error(pos_of(kv.first), key.empty() ? k : key + "." + k,
              fmt::format("field {} not found in type {}", k, type));
    }
  }

  bool scalar(const YAML::Node& n, const std::string& key, std::string& out) {
    if (!n || n.IsNull()) return false;
    if (!n.IsScalar()) {
      error(pos_of(n), key, "expected a string");
      return false;
    }
    out = n.Scalar();
    return true;
  }

  bool duration(const YAML::Node& n, const std::string& key, std::int64_t& ms) {
    std::string s;
    if (!scalar(n, key, s)) return false;
    if (!parse_prom_duration(s, ms)) {
      error(pos_of(n), key, fmt::format("not a valid duration string: \"{}\"", s));
      return false;
    }
    return true;
  }

  void string_map(const YAML::Node& n, const std::string& key, std::vector<Label>& out) {
    if (!n || n.IsNull()) return;
    if (!n.IsMap()) {
      error(pos_of(n), key, "expected a mapping of names to strings");
      return;
    }
    for (const auto& kv : n) {
      std::string v;
      if (!kv.second.IsNull() && !kv.second.IsScalar()) {
        error(pos_of(kv.second), key + "." + kv.first.Scalar(), "expected a string");
        continue;
      }
      if (kv.second.IsScalar()) v = kv.second.Scalar();
      out.push_back({kv.first.Scalar(), v});
    }
    std::sort(out.begin(), out.end());
  }

  bool load_group(const YAML::Node& n, const std::string& key, GroupSpec& g) {
    g.file = result_.file.path;
    g.pos = pos_of(n);
    if (!n.IsMap()) {
      error(g.pos, key, "expected a mapping (name, interval, rules)");
      return false;
    }
    check_keys(n, key, {"name", "interval", "limit", "rules"}, "rulefmt.RuleGroup");
    scalar(n["name"], key + ".name", g.name);
    if (n["interval"]) duration(n["interval"], key + ".interval", g.interval_ms);
    if (YAML::Node l = n["limit"]; l && !l.IsNull()) {
      try {
        g.limit = l.as<int>();
        if (g.limit < 0) error(pos_of(l), key + ".limit", "must not be negative");
      } catch (const YAML::Exception&) {
        error(pos_of(l), key + ".limit", "expected an integer");
      }
    }
    YAML::Node rules = n["rules"];
    if (rules && !rules.IsNull()) {
      if (!rules.IsSequence()) {
        error(pos_of(rules), key + ".rules", "expected a list of rules");
        return true;
      }
      for (std::size_t i = 0; i < rules.size(); ++i) {
        RuleSpec r;
        if (load_rule(rules[i], fmt::format("{}.rules[{}]", key, i), r))
          g.rules.push_back(std::move(r));
      }
    }
    return true;
  }

  bool load_rule(const YAML::Node& n, const std::string& key, RuleSpec& r) {
    r.pos = pos_of(n);
    if (!n.IsMap()) {
      error(r.pos, key, "expected a mapping (record or alert, expr, ...)");
      return false;
    }
    check_keys(n, key,
               {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"},
               "rulefmt.RuleNode");
    std::string record, alert;
    const bool has_record = scalar(n["record"], key + ".record", record) && !record.empty();
    const bool has_alert = scalar(n["alert"], key + ".alert", alert) && !alert.empty();
    const std::size_t errors_before = result_.errors.size();
    if (has_record && has_alert) {
      error(r.pos, key, "only one of 'record' and 'alert' must be set");
    } else if (!has_record && !has_alert) {
      error(r.pos, key, "one of 'record' or 'alert' must be set");
    }
    r.kind = has_record ? RuleSpec::Kind::kRecording : RuleSpec::Kind::kAlerting;
    r.name = has_record ? record : alert;

    YAML::Node expr = n["expr"];
    if (!scalar(expr, key + ".expr", r.expr) || r.expr.empty()) {
      error(r.pos, key + ".expr", "field 'expr' must be set in rule");
    } else {
      auto parsed = promql::parse(r.expr);
      if (!parsed.ok()) {
        error(pos_of(expr), key + ".expr",
              "could not parse expression: " + parsed.error->to_string());
      } else {
        const auto t = parsed.expr->type();
        if (t != promql::ValueType::kVector && t != promql::ValueType::kScalar)
          error(pos_of(expr), key + ".expr",
                fmt::format("rule expression must be of type vector or scalar, got {}",
                            promql::value_type_name(t)));
      }
    }
    if (n["for"]) duration(n["for"], key + ".for", r.for_ms);
    if (n["keep_firing_for"])
      duration(n["keep_firing_for"], key + ".keep_firing_for", r.keep_firing_for_ms);
    string_map(n["labels"], key + ".labels", r.labels);
    string_map(n["annotations"], key + ".annotations", r.annotations);

    if (has_record) {
      if (n["annotations"] && !r.annotations.empty())
        error(pos_of(n["annotations"]), key + ".annotations",
              "invalid field 'annotations' in recording rule");
      if (n["for"] && r.for_ms != 0)
        error(pos_of(n["for"]), key + ".for", "invalid field 'for' in recording rule");
      if (n["keep_firing_for"] && r.keep_firing_for_ms != 0)
        error(pos_of(n["keep_firing_for"]), key + ".keep_firing_for",
              "invalid field 'keep_firing_for' in recording rule");
      if (!valid_metric_name(record))
        error(pos_of(n["record"]), key + ".record",
              fmt::format("invalid recording rule name: {}", record));
    }
    for (const auto& l : r.labels) {
      if (!valid_label_name(l.name) || l.name == kMetricNameLabel)
        error(pos_of(n["labels"]), key + ".labels." + l.name,
              fmt::format("invalid label name: {}", l.name));
    }
    for (const auto& a : r.annotations) {
      if (!valid_label_name(a.name))
        error(pos_of(n["annotations"]), key + ".annotations." + a.name,
              fmt::format("invalid annotation name: {}", a.name));
    }
    // Templates must parse (promtool's testTemplateParsing).
    if (has_alert) {
      const std::string tmpl_name = "__alert_" + alert;
      auto check = [&](const std::vector<Label>& items, const char* what, const YAML::Node& node) {
        for (const auto& item : items)
          if (auto err = check_template(tmpl_name, item.value))
            error(pos_of(node), fmt::format("{}.{}.{}", key, what, item.name),
                  fmt::format("msg=\"template: {}\"", *err));
      };
      check(r.labels, "labels", n["labels"]);
      check(r.annotations, "annotations", n["annotations"]);
    }
    return result_.errors.size() == errors_before;
  }

  LoadResult result_;
};

}  // namespace

LoadResult parse_rule_file(std::string_view yaml_text, std::string_view path) {
  return Loader(path).run(yaml_text);
}

LoadResult load_rule_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.file.path = path;
    r.errors.push_back({path, {}, "", "open " + path + ": no such file or not readable"});
    return r;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_rule_file(ss.str(), path);
}

}  // namespace watch::rules
