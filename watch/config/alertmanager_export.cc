// The configuration's routing as an alertmanager.yml (config.h:
// alertmanager_yaml()).
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "watch/config/config.h"
#include "watch/promql/ast.h"

namespace watch::config {
namespace {

// A YAML flow scalar: JSON's double-quoted strings are valid YAML.
std::string q(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + q(items[i]);
  return out + "]";
}

std::string matchers(const std::vector<routing::Matcher>& ms) {
  std::vector<std::string> texts;
  for (const auto& m : ms) texts.push_back(m.to_string());
  return list(texts);
}

void route(std::string& out, const routing::Route& r, const std::string& indent, bool root) {
  const routing::RouteOptions& o = r.options;
  out += indent + "receiver: " + q(o.receiver) + "\n";
  if (o.group_by_all)
    out += indent + "group_by: ['...']\n";
  else if (!o.group_by.empty())
    out += indent + "group_by: " + list(o.group_by) + "\n";
  out += indent + "group_wait: " + promql::format_duration(o.group_wait_ms) + "\n";
  out += indent + "group_interval: " + promql::format_duration(o.group_interval_ms) + "\n";
  out += indent + "repeat_interval: " + promql::format_duration(o.repeat_interval_ms) + "\n";
  if (!root) {
    if (!r.matchers.empty()) out += indent + "matchers: " + matchers(r.matchers) + "\n";
    if (r.continue_matching) out += indent + "continue: true\n";
    if (!o.mute_time_intervals.empty())
      out += indent + "mute_time_intervals: " + list(o.mute_time_intervals) + "\n";
    if (!o.active_time_intervals.empty())
      out += indent + "active_time_intervals: " + list(o.active_time_intervals) + "\n";
  }
  if (r.routes.empty()) return;
  out += indent + "routes:\n";
  for (const routing::Route& child : r.routes) {
    std::string sub;
    route(sub, child, indent + "    ", false);
    sub.replace(indent.size() + 2, 2, "- ");  // the first line opens the list item
    out += sub;
  }
}

std::string ranges(const std::vector<routing::InclusiveRange>& rs) {
  std::vector<std::string> items;
  for (const auto& r : rs)
    items.push_back(r.begin == r.end ? std::to_string(r.begin)
                                     : fmt::format("{}:{}", r.begin, r.end));
  return list(items);
}

std::string weekdays(const std::vector<routing::InclusiveRange>& rs) {
  static const char* kNames[] = {"sunday",   "monday", "tuesday", "wednesday",
                                 "thursday", "friday", "saturday"};
  const auto name = [](int d) { return d >= 0 && d < 7 ? kNames[d] : "sunday"; };
  std::vector<std::string> items;
  for (const auto& r : rs)
    items.push_back(r.begin == r.end ? std::string(name(r.begin))
                                     : fmt::format("{}:{}", name(r.begin), name(r.end)));
  return list(items);
}

std::string clock(int minute) {
  return fmt::format("{:02}:{:02}", minute / 60, minute % 60);
}

void time_interval(std::string& out, const routing::TimeInterval& t) {
  std::string item;
  if (t.times) {
    item += "      times:";
    if (t.times->empty()) item += " []";
    item += "\n";
    for (const auto& r : *t.times)
      item += "        - {start_time: " + q(clock(r.start_minute)) +
              ", end_time: " + q(clock(r.end_minute)) + "}\n";
  }
  if (t.weekdays) item += "      weekdays: " + weekdays(*t.weekdays) + "\n";
  if (t.days_of_month) item += "      days_of_month: " + ranges(*t.days_of_month) + "\n";
  if (t.months) item += "      months: " + ranges(*t.months) + "\n";
  if (t.years) item += "      years: " + ranges(*t.years) + "\n";
  if (t.location != "UTC") item += "      location: " + q(t.location) + "\n";
  if (item.empty()) {
    out += "    - {}\n";
    return;
  }
  item.replace(4, 2, "- ");
  out += item;
}

// The keys Alertmanager 0.25 holds as Secret or SecretURL, wherever they are.
const std::set<std::string, std::less<>>& secret_keys() {
  static const std::set<std::string, std::less<>> keys = {"smtp_auth_password",
                                                          "smtp_auth_secret",
                                                          "slack_api_url",
                                                          "opsgenie_api_key",
                                                          "wechat_api_secret",
                                                          "victorops_api_key",
                                                          "auth_password",
                                                          "auth_secret",
                                                          "routing_key",
                                                          "service_key",
                                                          "password",
                                                          "credentials",
                                                          "bearer_token",
                                                          "client_secret",
                                                          "api_key",
                                                          "user_key",
                                                          "token",
                                                          "bot_token",
                                                          "api_secret"};
  return keys;
}

// `list` is the key of the sequence a map sits in ("slack_configs"), for the
// keys that are secret in one kind of receiver only.
void redact(YAML::Node node, std::string_view list) {
  if (node.IsSequence()) {
    for (YAML::Node item : node) redact(item, list);
    return;
  }
  if (!node.IsMap()) return;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.Scalar();
    YAML::Node value = it->second;
    const bool secret =
        secret_keys().contains(key) || (key == "api_url" && list == "slack_configs");
    if (secret && value.IsScalar() && !value.Scalar().empty()) {
      value = "<secret>";
    } else {
      redact(value, value.IsSequence() ? std::string_view(key) : list);
    }
  }
}

}  // namespace

std::string redact_alertmanager_secrets(const std::string& yaml) {
  try {
    YAML::Node root = YAML::Load(yaml);
    redact(root, "");
    YAML::Emitter out;
    out << root;
    return std::string(out.c_str()) + "\n";
  } catch (const YAML::Exception&) {
    return yaml;
  }
}

std::string alertmanager_yaml(const Config& config) {
  const routing::RoutingConfig r = effective_routing(config);
  std::string out =
      "# Generated by firebreak from its configuration: Alertmanager routes these\n"
      "# alerts as watch does.\n";
  out += "route:\n";
  routing::Route root = r.route;
  // Alertmanager needs a receiver at the root; the implicit route's root
  // is never used (every alert matches a child), so any receiver will do.
  if (root.options.receiver.empty())
    root.options.receiver = config.receivers.empty() ? "none" : config.receivers[0].name;
  route(out, root, "  ", true);
  if (!r.inhibit_rules.empty()) {
    out += "inhibit_rules:\n";
    for (const auto& rule : r.inhibit_rules) {
      out += "  - source_matchers: " + matchers(rule.source) + "\n";
      out += "    target_matchers: " + matchers(rule.target) + "\n";
      if (!rule.equal.empty()) out += "    equal: " + list(rule.equal) + "\n";
    }
  }
  if (!r.time_intervals.empty()) {
    out += "time_intervals:\n";
    for (const auto& [name, intervals] : r.time_intervals) {
      out += "  - name: " + q(name) + "\n    time_intervals:";
      out += intervals.empty() ? " []\n" : "\n";
      for (const auto& t : intervals) {
        std::string item;
        time_interval(item, t);
        out += item;
      }
    }
  }
  out += "receivers:\n";
  if (config.receivers.empty()) out += "  - name: none\n";
  for (const Receiver& rc : config.receivers) {
    out += "  - name: " + q(rc.name) + "\n";
    std::size_t from = 0;
    const std::string& y = rc.alertmanager_yaml;
    while (from < y.size()) {
      const std::size_t nl = y.find('\n', from);
      const std::size_t end = nl == std::string::npos ? y.size() : nl;
      out += "    " + y.substr(from, end - from) + "\n";
      from = end + 1;
    }
    for (const Integration& in : rc.integrations)
      if (in.kind == "log") out += "    # log: watch only (its own log stream)\n";
  }
  return out;
}

}  // namespace watch::config
