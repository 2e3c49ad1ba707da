// Peer test: watch's relabeling against the real Prometheus 2.42. Both get
// the same scrape jobs (static targets, group labels, relabel_configs using
// every action and the corners of template expansion); Prometheus's
// /api/v1/targets must list exactly the targets populate_target() keeps, with
// the same labels and scrape URL, and as dropped exactly those it drops.
// Targets that fail (no address, a bad address, scheme or interval) are
// listed nowhere by Prometheus. The targets are never reachable: their
// labels do not depend on scraping them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "firebreak/http_client.h"
#include "support/child_process.h"
#include "watch/relabel/relabel.h"

namespace watch::relabel {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct TargetGroup {
  std::vector<std::string> targets;
  std::vector<std::pair<std::string, std::string>> labels;
};

struct ScrapeJob {
  JobDefaults defaults;
  std::vector<RelabelSpec> relabel_configs;
  std::vector<TargetGroup> groups;
};

// Job "alpha": every action, on targets with and without ports, IPv6, and
// targets that are dropped or fail.
ScrapeJob alpha_job() {
  ScrapeJob job;
  job.defaults = {.job = "alpha",
                  .scrape_interval_ms = 90'000,
                  .scrape_timeout_ms = 10'000,
                  .params = {{"module", "http_2xx"}}};
  job.relabel_configs = {
      {.source_labels = {"__address__"}, .regex = "drop-me\\..*", .action = "drop"},
      // An empty address: "no address".
      {.source_labels = {"__address__"},
       .regex = "empty-address\\..*",
       .target_label = "__address__",
       .replacement = ""},
      // A '/' in the address: "not a valid hostname".
      {.source_labels = {"__address__"},
       .regex = "slash\\.invalid:(\\d+)",
       .target_label = "__address__",
       .replacement = "slash.invalid/$1"},
      {.source_labels = {"env"}, .regex = "prod|dev|qa", .action = "KEEP"},
      {.source_labels = {"__meta_zone"},
       .regex = "([a-z]+)-(\\d+)",
       .target_label = "zone_${1}",
       .replacement = "$2"},
      {.regex = "__meta_kubernetes_pod_label_(.+)", .replacement = "pod_$1", .action = "labelmap"},
      // Creates "1x", which is no valid label name: 2.42 lets it through.
      {.regex = "v(\\d.*)", .action = "labelmap"},
      {.source_labels = {"team"}, .target_label = "team_lower", .action = "lowercase"},
      {.source_labels = {"mixed"}, .target_label = "mixed_upper", .action = "uppercase"},
      {.source_labels = {"mixed"}, .target_label = "mixed_lower", .action = "Lowercase"},
      {.source_labels = {"__address__"},
       .modulus = 1000,
       .target_label = "shard",
       .action = "hashmod"},
      {.source_labels = {"env"}, .target_label = "env_copy"},
      {.source_labels = {"env"}, .target_label = "env_copy", .action = "keepequal"},
      // Drops the groups whose team is written in lowercase.
      {.source_labels = {"team"}, .target_label = "team_lower", .action = "dropequal"},
      // Go's regexp.Expand corners; "e" names two groups.
      {.source_labels = {"env"},
       .regex = "(?P<e>p)(r)od|(?P<e>d)(e)v",
       .target_label = "exp",
       .replacement = "$1x|${1}x|$$|${1|$01|$1é|$e|$0|$9|$-|$4"},
      // Template target names taken literally by uppercase...
      {.source_labels = {"env"}, .target_label = "${1}", .action = "uppercase"},
      {.source_labels = {"team"}, .target_label = "$1", .action = "uppercase"},
      // ... and deleted by an empty replace result / an invalid expanded
      // target, which in 2.42 delete target_label as written.
      {.source_labels = {"env"}, .regex = "(.*)", .target_label = "${1}", .replacement = "$9"},
      {.source_labels = {"team"}, .regex = "(.*)", .target_label = "$1"},
      {.regex = "mixed", .action = "labeldrop"},
      {.regex = "[^X].*", .action = "labelkeep"},
  };
  const std::vector<std::pair<std::string, std::string>> prod_labels{
      {"env", "prod"},
      {"team", "DB-Team"},
      {"__meta_zone", "eu-1"},
      {"__meta_kubernetes_pod_label_app", "web"},
      {"__meta_kubernetes_pod_label_tier", "front"},
      {"prod", "still-here"},
      {"v1x", "digit-name"},
      {"X_secret", "s"},
      {"mixed", "ÄǅİßΣ\u2C2F\u2C00\u212A"}};
  job.groups = {
      {{"127.0.0.1:1", "127.0.0.1", "[::1]", "::1", "host-a.invalid", "host-b.invalid:9100",
        "host-c.invalid:", "drop-me.invalid:1", "empty-address.invalid:1", "slash.invalid:1"},
       prod_labels},
      {{"127.0.0.2", "[::2]", "host-d.invalid:8443"},
       {{"env", "dev"},
        {"team", "Ops"},
        {"__scheme__", "https"},
        {"__meta_zone", "us-22"},
        {"mixed", "straße"}}},
      {{"host-e.invalid"}, {{"env", "qa"}, {"team", "qa"}}},
      {{"host-f.invalid:1"}, {{"env", "test"}, {"team", "T"}}},
  };
  return job;
}

// Job "beta": https by default, a path, params, a week's interval, and
// targets whose scheme or interval relabeling changes.
ScrapeJob beta_job() {
  ScrapeJob job;
  job.defaults = {.job = "beta",
                  .scheme = "https",
                  .metrics_path = "/probe",
                  .scrape_interval_ms = 7 * 86'400'000LL,
                  .scrape_timeout_ms = 90'000,
                  .params = {{"module", "icmp"}, {"target", "x"}}};
  job.relabel_configs = {
      {.source_labels = {"plain"},
       .regex = "yes",
       .target_label = "__scheme__",
       .replacement = "http"},
      {.source_labels = {"__meta_interval"},
       .regex = "(.+)",
       .target_label = "__scrape_interval__"},
      {.source_labels = {"__address__"},
       .regex = "ftp\\..*",
       .target_label = "__scheme__",
       .replacement = "ftp"},
      {.source_labels = {"__address__"}, .target_label = "__param_target"},
      {.source_labels = {"__address__", "job"},
       .separator = "/",
       .modulus = 7,
       .target_label = "shard",
       .action = "hashmod"},
      {.regex = "plain", .action = "labeldrop"},
  };
  job.groups = {
      {{"beta-a.invalid", "beta-b.invalid:9443"}, {}},
      {{"beta-c.invalid"}, {{"plain", "yes"}}},
      {{"beta-d.invalid"}, {{"__meta_interval", "30s"}}},  // timeout 1m30s > 30s: fails
      {{"beta-e.invalid:1"}, {{"__meta_interval", "5m"}}},
      {{"ftp.invalid", "ftp.invalid:21"}, {}},  // without a port: invalid scheme
  };
  return job;
}

json to_json(const RelabelSpec& spec) {
  json out = json::object();
  if (!spec.source_labels.empty()) out["source_labels"] = spec.source_labels;
  if (spec.separator != ";") out["separator"] = spec.separator;
  if (spec.regex) out["regex"] = *spec.regex;
  if (spec.modulus != 0) out["modulus"] = spec.modulus;
  if (spec.target_label) out["target_label"] = *spec.target_label;
  if (spec.replacement) out["replacement"] = *spec.replacement;
  out["action"] = spec.action;
  return out;
}

// prometheus.yml, written as JSON (which YAML reads).
std::string prometheus_config(const std::vector<ScrapeJob>& jobs) {
  json scrape_configs = json::array();
  for (const ScrapeJob& job : jobs) {
    json j = {{"job_name", job.defaults.job},
              {"scheme", job.defaults.scheme},
              {"metrics_path", job.defaults.metrics_path},
              {"scrape_interval", format_duration(job.defaults.scrape_interval_ms)},
              {"scrape_timeout", format_duration(job.defaults.scrape_timeout_ms)},
              {"static_configs", json::array()},
              {"relabel_configs", json::array()}};
    for (const auto& [name, value] : job.defaults.params) j["params"][name] = {value};
    for (const TargetGroup& g : job.groups) {
      json group = {{"targets", g.targets}, {"labels", json::object()}};
      for (const auto& [name, value] : g.labels) group["labels"][name] = value;
      j["static_configs"].push_back(group);
    }
    for (const RelabelSpec& spec : job.relabel_configs)
      j["relabel_configs"].push_back(to_json(spec));
    scrape_configs.push_back(j);
  }
  return json{{"global", {{"evaluation_interval", "1m"}}}, {"scrape_configs", scrape_configs}}.dump(
      2);
}

LabelSet from_json(const json& object) {
  std::vector<Label> labels;
  for (const auto& [name, value] : object.items()) {
    labels.push_back({name, value.get<std::string>()});
  }
  return LabelSet::from(std::move(labels));
}

// Go's url.QueryEscape.
std::string query_escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// The scrape URL Prometheus 2.42 builds: the job's params, overridden by
// __param_* labels, sorted by name.
std::string scrape_url(const PopulateResult& target, const JobDefaults& job) {
  std::map<std::string, std::string> params;
  for (const auto& [name, value] : job.params) params.emplace(name, value);
  for (const Label& l : target.labels) {
    if (l.name.starts_with("__param_")) params[l.name.substr(8)] = l.value;
  }
  std::string url =
      fmt::format("{}://{}{}", target.labels.get("__scheme__"), target.labels.get("__address__"),
                  target.labels.get("__metrics_path__"));
  char sep = '?';
  for (const auto& [name, value] : params) {
    url += sep + query_escape(name) + "=" + query_escape(value);
    sep = '&';
  }
  return url;
}

using firebreak::test::free_port;

// What watch makes of one static target.
struct Expected {
  std::string job;
  std::string address;
  PopulateResult result;
};

std::vector<Expected> watch_targets(const std::vector<ScrapeJob>& jobs) {
  std::vector<Expected> out;
  for (const ScrapeJob& job : jobs) {
    std::vector<Rule> rules;
    for (const RelabelSpec& spec : job.relabel_configs) {
      std::string error;
      std::optional<Rule> rule = compile(spec, &error);
      if (!rule) throw std::runtime_error("compile: " + error);
      rules.push_back(*std::move(rule));
    }
    for (const TargetGroup& g : job.groups) {
      for (const std::string& address : g.targets) {
        // Prometheus's static discovery: __address__, then the group's labels.
        std::vector<Label> discovered{{"__address__", address}};
        for (const auto& [name, value] : g.labels) {
          if (name != "__address__") discovered.push_back({name, value});
        }
        out.push_back(
            {job.defaults.job, address,
             populate_target(LabelSet::from(std::move(discovered)), job.defaults, rules)});
      }
    }
  }
  return out;
}

class RelabelPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("firebreak-relabel-peer-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    prometheus_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Starts Prometheus on `jobs` and returns /api/v1/targets?state=any once it
  // lists `active` + `dropped` targets.
  json targets_from_prometheus(const std::vector<ScrapeJob>& jobs, std::size_t active,
                               std::size_t dropped) {
    const std::filesystem::path config = dir_ / "prometheus.yml";
    std::ofstream(config) << prometheus_config(jobs);
    const std::uint16_t port = free_port();
    prometheus_.emplace(std::vector<std::string>{
        FIREBREAK_PROMETHEUS, "--config.file=" + config.string(),
        "--storage.tsdb.path=" + (dir_ / "data").string(),
        "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"});
    const std::string url =
        "http://127.0.0.1:" + std::to_string(port) + "/api/v1/targets?state=any";
    firebreak::HttpClient client;
    json last;
    // Static targets reach the targets page after the scrape manager's first
    // reload (every 5 s in 2.42).
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!prometheus_->running()) {
        ADD_FAILURE() << "prometheus exited: " << prometheus_->read_stderr(1s);
        return {};
      }
      const firebreak::HttpResponse r = client.get(url, {}, 1s);
      if (r.ok()) {
        last = json::parse(r.body);
        const json& data = last["data"];
        if (data["activeTargets"].size() == active && data["droppedTargets"].size() == dropped) {
          return last;
        }
      }
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "prometheus did not list " << active << " active and " << dropped
                  << " dropped targets in time; last answer: " << last.dump();
    return last;
  }

  std::filesystem::path dir_;
  std::optional<firebreak::test::ChildProcess> prometheus_;
};

TEST_F(RelabelPeerTest, PopulatedTargetsMatchPrometheus) {
  const std::vector<ScrapeJob> jobs{alpha_job(), beta_job()};
  const std::vector<Expected> expected = watch_targets(jobs);
  std::size_t active = 0, dropped = 0, failed = 0;
  for (const Expected& e : expected) {
    if (!e.result.error.empty()) {
      ++failed;
    } else if (e.result.dropped) {
      ++dropped;
    } else {
      ++active;
    }
  }
  // The set-up covers each outcome (the counts only guard the test itself).
  ASSERT_EQ(active, 15u);
  ASSERT_EQ(dropped, 3u);
  ASSERT_EQ(failed, 4u);

  const json answer = targets_from_prometheus(jobs, active, dropped);
  ASSERT_FALSE(answer.is_null());
  const json& active_targets = answer["data"]["activeTargets"];
  const json& dropped_targets = answer["data"]["droppedTargets"];

  // Pairing. Prometheus 2.42's discoveredLabels cannot be trusted whole:
  // relabel.Process writes a rule's result into its input slice, which is the
  // very slice kept as the discovered labels, so they often show part of the
  // relabeling (a changed __scheme__, a label lowercase added...). Active
  // targets pair by job and final instance (unique in these jobs); dropped
  // ones by job and __address__ (which no rule here rewrites before a drop).
  using Key = std::pair<std::string, std::string>;
  std::map<Key, const json*> prometheus_active;
  std::set<Key> prometheus_dropped;
  for (const json& t : active_targets) {
    const Key key{t["scrapePool"].get<std::string>(), from_json(t["labels"]).get("instance")};
    EXPECT_TRUE(prometheus_active.emplace(key, &t).second) << "instance listed twice";
  }
  for (const json& t : dropped_targets) {
    const LabelSet discovered = from_json(t["discoveredLabels"]);
    prometheus_dropped.emplace(discovered.get("job"), discovered.get("__address__"));
  }

  const std::map<std::string, const ScrapeJob*> job_of{{"alpha", &jobs[0]}, {"beta", &jobs[1]}};
  for (const Expected& e : expected) {
    SCOPED_TRACE(e.job + " " + e.address);
    if (!e.result.error.empty()) {
      // Listed nowhere (the counts are equal, and every other target pairs).
      EXPECT_FALSE(prometheus_dropped.contains({e.job, e.address})) << "watch: " << e.result.error;
      continue;
    }
    if (e.result.dropped) {
      EXPECT_TRUE(prometheus_dropped.contains({e.job, e.address}))
          << "watch drops " << e.result.discovered_labels.braces();
      continue;
    }
    const LabelSet labels = e.result.public_labels();
    const auto it = prometheus_active.find({e.job, std::string(labels.get("instance"))});
    if (it == prometheus_active.end()) {
      std::string listed;
      for (const auto& [key, t] : prometheus_active) {
        if (key.first == e.job) listed += "\n  " + from_json((*t)["labels"]).braces();
      }
      ADD_FAILURE() << "Prometheus has no active target " << labels.braces()
                    << "\nIts targets of job " << e.job << ":" << listed;
      continue;
    }
    const json& t = *it->second;
    EXPECT_EQ(from_json(t["labels"]), labels)
        << "prometheus: " << from_json(t["labels"]).braces() << "\nwatch:      " << labels.braces();
    EXPECT_EQ(t["scrapeUrl"].get<std::string>(), scrape_url(e.result, job_of.at(e.job)->defaults));
  }
}

}  // namespace
}  // namespace watch::relabel
