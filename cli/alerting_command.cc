// `firebreak alerts` and `firebreak silence add|query|expire`: a running
// watch's alerts and silences from the terminal, through its HTTP API (the
// Prometheus-style /api/v1/alerts for firing and pending alerts, Alertmanager's
// /api/v2/silences for silences), so they work against any watch and, for
// silences, against an Alertmanager too.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/watch_api.h"
#include "watch/routing/matchers.h"
#include "watch/rules/rule_file.h"
#include "watch/silence/silence.h"

namespace firebreak::cli {
namespace {

using nlohmann::json;

struct AlertingArgs {
  std::string url = kDefaultWatchUrl;
  std::vector<std::string> matchers;  // filter (query, alerts) or the silence's (add)
  std::string comment;
  std::string author;
  std::string duration = "1h";
  bool expired = false;
  bool quiet = false;
  std::vector<std::string> ids;
};

bool parse_matchers(const std::vector<std::string>& texts,
                    std::vector<watch::routing::Matcher>& out) {
  for (const auto& t : texts) {
    std::string error;
    auto m = watch::routing::parse_matcher(t, &error);
    if (!m) {
      std::cerr << "firebreak: bad matcher " << t << ": " << error << "\n";
      return false;
    }
    out.push_back(std::move(*m));
  }
  return true;
}

int run_alerts(const AlertingArgs& args) {
  std::vector<watch::routing::Matcher> filter;
  if (!parse_matchers(args.matchers, filter)) return 2;
  auto body = call("GET", trim_url(args.url) + "/api/v1/alerts");
  if (!body) return 1;
  std::vector<std::vector<std::string>> rows = {{"STATE", "ALERT", "LABELS", "SINCE", "SUMMARY"}};
  std::vector<std::vector<std::string>> alerts;
  for (const auto& a : (*body)["data"]["alerts"]) {
    std::vector<watch::Label> ls;
    for (const auto& [k, v] : a["labels"].items()) ls.push_back({k, v.get<std::string>()});
    if (!watch::routing::matches_all(filter, watch::LabelSet::from(ls))) continue;
    alerts.push_back({a.value("state", ""), a["labels"].value("alertname", ""),
                      labels_text(a["labels"], {"alertname"}), a.value("activeAt", ""),
                      a["annotations"].value("summary", "")});
  }
  // Firing first, then by name and labels.
  std::sort(alerts.begin(), alerts.end(), [](const auto& a, const auto& b) {
    if (a[0] != b[0]) return a[0] == "firing";
    return std::tie(a[1], a[2]) < std::tie(b[1], b[2]);
  });
  if (alerts.empty()) {
    std::cout << "no firing or pending alerts\n";
    return 0;
  }
  rows.insert(rows.end(), alerts.begin(), alerts.end());
  print_table(std::cout, rows);
  return 0;
}

int run_silence_add(const AlertingArgs& args) {
  std::vector<watch::routing::Matcher> ms;
  if (!parse_matchers(args.matchers, ms)) return 2;
  if (ms.empty()) {
    std::cerr << "firebreak: a silence needs at least one matcher (name=value)\n";
    return 2;
  }
  std::int64_t duration_ms = 0;
  if (!watch::rules::parse_prom_duration(args.duration, duration_ms) || duration_ms <= 0) {
    std::cerr << "firebreak: --duration: not a duration: " << args.duration << "\n";
    return 2;
  }
  if (args.comment.empty()) {
    std::cerr << "firebreak: --comment is required (say why)\n";
    return 2;
  }
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  json matchers = json::array();
  for (const auto& m : ms) {
    const auto t = m.type();
    matchers.push_back({{"name", m.name()},
                        {"value", m.value()},
                        {"isRegex", t == watch::routing::MatchType::kRegex ||
                                        t == watch::routing::MatchType::kNotRegex},
                        {"isEqual", t == watch::routing::MatchType::kEqual ||
                                        t == watch::routing::MatchType::kRegex}});
  }
  const char* user = std::getenv("USER");
  json silence = {{"matchers", matchers},
                  {"startsAt", watch::silence::format_api_time(now)},
                  {"endsAt", watch::silence::format_api_time(now + duration_ms)},
                  {"createdBy", args.author.empty() ? (user ? user : "firebreak") : args.author},
                  {"comment", args.comment}};
  auto r = call("POST", trim_url(args.url) + "/api/v2/silences", silence.dump());
  if (!r) return 1;
  std::cout << r->value("silenceID", "") << "\n";
  return 0;
}

int run_silence_query(const AlertingArgs& args) {
  std::vector<watch::routing::Matcher> filter;
  if (!parse_matchers(args.matchers, filter)) return 2;
  std::string url = trim_url(args.url) + "/api/v2/silences";
  auto body = call("GET", url);
  if (!body) return 1;
  std::vector<std::vector<std::string>> rows = {
      {"ID", "MATCHERS", "ENDS AT", "CREATED BY", "COMMENT"}};
  for (const auto& s : *body) {
    const std::string state = s["status"].value("state", "");
    if ((state == "expired") != args.expired) continue;
    std::vector<std::string> texts;
    std::vector<watch::Label> as_labels;
    for (const auto& m : s["matchers"]) {
      const bool regex = m.value("isRegex", false), equal = m.value("isEqual", true);
      const char* op = regex ? (equal ? "=~" : "!~") : (equal ? "=" : "!=");
      texts.push_back(m.value("name", "") + op + json(m.value("value", "")).dump());
      as_labels.push_back({m.value("name", ""), m.value("value", "")});
    }
    // A filter matcher must match one of the silence's matchers' values
    // (amtool's silence query).
    if (!watch::routing::matches_all(filter, watch::LabelSet::from(as_labels))) continue;
    if (args.quiet) {
      std::cout << s.value("id", "") << "\n";
      continue;
    }
    std::string joined;
    for (const auto& t : texts) joined += (joined.empty() ? "" : " ") + t;
    rows.push_back({s.value("id", ""), joined, s.value("endsAt", ""), s.value("createdBy", ""),
                    s.value("comment", "")});
  }
  if (!args.quiet) print_table(std::cout, rows);
  return 0;
}

int run_silence_expire(const AlertingArgs& args) {
  int status = 0;
  for (const auto& id : args.ids)
    if (!call("DELETE", trim_url(args.url) + "/api/v2/silence/" + id)) status = 1;
  return status;
}

}  // namespace

void add_alerting_commands(CLI::App& app, Action& action) {
  auto args = std::make_shared<AlertingArgs>();
  const auto url_option = [&](CLI::App* c) { add_url_option(c, args->url); };

  CLI::App* alerts =
      app.add_subcommand("alerts", "List the firing and pending alerts of a running watch");
  url_option(alerts);
  alerts->add_option("matchers", args->matchers, "Only alerts matching these (name=value, ...)");
  alerts->footer(
      "Exit status: 0 listed, 1 watch could not be read, 2 usage error.\n"
      "\n"
      "Examples:\n"
      "  firebreak alerts\n"
      "  firebreak alerts --url http://monitor.internal:9095 severity=page");
  alerts->callback([&action, args] { action = [args] { return run_alerts(*args); }; });

  CLI::App* silence = app.add_subcommand("silence", "Add, list and expire silences");
  silence->require_subcommand(1);
  silence->footer(
      "Examples:\n"
      "  firebreak silence add service=api --comment 'deploy' --duration 1h\n"
      "  firebreak silence query\n"
      "  firebreak silence expire $(firebreak silence query -q service=api)");
  CLI::App* add = silence->add_subcommand("add", "Silence the alerts matching the matchers");
  url_option(add);
  add->add_option("matchers", args->matchers, "name=value, name=~regex, name!=value, ...")
      ->required();
  add->add_option("--comment", args->comment, "Why (required)");
  add->add_option("--author", args->author, "Who (default: $USER)");
  add->add_option("--duration", args->duration, "How long, e.g. 2h")->capture_default_str();
  add->footer(
      "Prints the new silence's id.\n"
      "\n"
      "Examples:\n"
      "  firebreak silence add service=api --comment 'deploy' --duration 1h\n"
      "  firebreak silence add alertname=~'Api.*' job=shop-api --comment 'load test'");
  add->callback([&action, args] { action = [args] { return run_silence_add(*args); }; });

  CLI::App* query = silence->add_subcommand("query", "List active and pending silences");
  url_option(query);
  query->add_option("matchers", args->matchers, "Only silences with matching matchers");
  query->add_flag("--expired", args->expired, "List expired silences instead");
  query->add_flag("-q,--quiet", args->quiet, "Only the ids");
  query->footer(
      "Examples:\n"
      "  firebreak silence query\n"
      "  firebreak silence query --expired service=api");
  query->callback([&action, args] { action = [args] { return run_silence_query(*args); }; });

  CLI::App* expire = silence->add_subcommand("expire", "End silences now");
  url_option(expire);
  expire->add_option("ids", args->ids, "Silence ids")->required();
  expire->footer(
      "Example:\n"
      "  firebreak silence expire $(firebreak silence query -q service=api)");
  expire->callback([&action, args] { action = [args] { return run_silence_expire(*args); }; });
}

}  // namespace firebreak::cli
