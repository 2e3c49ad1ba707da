#include "e2e/watch_harness.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "support/http_client.h"
#include "watch/config/config.h"
#include "watch/rulepack/rule_pack.h"
#include "watch/rules/rule_file.h"

namespace firebreak::e2e {

WebhookReceiver::WebhookReceiver()
    : server_({.address = "127.0.0.1:0", .max_body_bytes = 1 << 20, .threads = 2}) {
  server_.add_handler("POST", "/hook", [this](const AdminRequest& r) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    try {
      const auto body = nlohmann::json::parse(r.body);
      if (body.at("version") != "4") throw std::runtime_error("version");
      for (const auto& a : body.at("alerts"))
        alerts_.push_back({a.at("labels").value("alertname", ""), a.at("status"), a.at("labels"),
                           a.value("startsAt", ""), now, std::chrono::system_clock::now()});
    } catch (const std::exception&) {
      malformed_.push_back(r.body);
    }
    return AdminResponse{};
  });
  server_.start();
}

std::string WebhookReceiver::url() const {
  return "http://" + server_.address() + "/hook";
}

std::vector<HookAlert> WebhookReceiver::alerts() const {
  std::lock_guard lock(mu_);
  return alerts_;
}

std::vector<std::string> WebhookReceiver::malformed() const {
  std::lock_guard lock(mu_);
  return malformed_;
}

std::optional<HookAlert> WebhookReceiver::wait_for(const std::string& alertname,
                                                   const std::string& status,
                                                   std::chrono::milliseconds timeout) const {
  std::optional<HookAlert> found;
  eventually(
      [&] {
        for (const auto& a : alerts())
          if (a.alertname == alertname && a.status == status) {
            found = a;
            return true;
          }
        return false;
      },
      timeout);
  return found;
}

WatchProcess::WatchProcess(const std::string& yaml, const std::string& dir) {
  const std::string path = dir + "/firebreak.yaml";
  std::ofstream(path) << yaml;
  process_ = std::make_unique<ShopProcess>(
      "firebreak-watch", FIREBREAK_PATH, std::vector<std::string>{"watch", "--config", path}, dir);
  port_ = process_->wait_listening("watch");
}

namespace {

std::string url_encode(const std::string& text) {
  std::string encoded;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~') {
      encoded += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      encoded += buf;
    }
  }
  return encoded;
}

double unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> WatchProcess::condition_true_since(
    const std::string& alert, const std::string& job, const nlohmann::json& labels,
    std::chrono::system_clock::time_point from) const {
  const auto rules = test::http_get(port_, "/api/v1/rules");
  if (rules.status != 200) return std::nullopt;
  std::string expr;
  const nlohmann::json rules_json = nlohmann::json::parse(rules.body);  // alive through the loop
  for (const auto& g : rules_json["data"]["groups"])
    for (const auto& r : g["rules"])
      if (r.value("name", "") == alert && r.value("type", "") == "alerting") {
        bool same_labels = true;
        for (const auto& [name, value] : r["labels"].items())
          same_labels &= labels.value(name, "") == value;
        if (!same_labels) continue;
        const std::string q = r.value("query", "");
        if (q.find(job) != std::string::npos || q.find("job_checkin") != std::string::npos)
          expr = q;
      }
  if (expr.empty()) {
    std::fprintf(stderr, "condition_true_since: no %s rule for %s\n", alert.c_str(), job.c_str());
    return std::nullopt;
  }
  char range[128];
  std::snprintf(range, sizeof range, "&start=%.3f&end=%.3f&step=0.1", unix_seconds(from),
                unix_seconds(std::chrono::system_clock::now()));
  const auto r = test::http_get(port_, "/api/v1/query_range?query=" + url_encode(expr) + range);
  if (r.status != 200) {
    std::fprintf(stderr, "condition_true_since: query_range (%s) answered %d: %s\n", range,
                 r.status, r.body.c_str());
    return std::nullopt;
  }
  std::optional<double> first;
  const nlohmann::json result = nlohmann::json::parse(r.body);
  for (const auto& series : result["data"]["result"]) {
    if (!job.empty() && series["metric"].value("job", job) != job) continue;
    for (const auto& point : series["values"]) {
      const double t = point[0].get<double>();
      if (!first || t < *first) first = t;
      break;
    }
  }
  if (!first) return std::nullopt;
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::duration<double>(*first)));
}

nlohmann::json WatchProcess::query(const std::string& promql) const {
  const auto r = test::http_get(port_, "/api/v1/query?query=" + url_encode(promql));
  if (r.status != 200) return {};
  try {
    return nlohmann::json::parse(r.body);
  } catch (const std::exception&) {
    return {};
  }
}

std::vector<std::string> WatchProcess::alerts(const std::string& state) const {
  std::vector<std::string> names;
  const auto r = query("ALERTS{alertstate=\"" + state + "\"}");
  if (r.is_null()) return names;
  for (const auto& s : r["data"]["result"]) names.push_back(s["metric"].value("alertname", ""));
  return names;
}

std::chrono::milliseconds since(SteadyTime from, SteadyTime to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from);
}

void report_latency(const std::string& scenario, const std::string& alert,
                    std::chrono::milliseconds latency, std::chrono::milliseconds bound) {
  if (bound.count() > 0)
    std::printf("detection_latency %s %s: %lld ms (bound %lld ms)\n", scenario.c_str(),
                alert.c_str(), static_cast<long long>(latency.count()),
                static_cast<long long>(bound.count()));
  else
    std::printf("detection_latency %s %s: %lld ms\n", scenario.c_str(), alert.c_str(),
                static_cast<long long>(latency.count()));
  ::testing::Test::RecordProperty("detection_latency_ms_" + scenario,
                                  static_cast<int>(latency.count()));
  if (const char* file = std::getenv("FIREBREAK_LATENCY_REPORT")) {
    std::ofstream(file, std::ios::app)
        << scenario << "\t" << alert << "\t" << latency.count() << "\t" << bound.count() << "\n";
  }
}

std::chrono::milliseconds rule_for(const std::string& yaml, const std::string& alert,
                                   const std::string& job) {
  const auto config =
      watch::config::parse_config(yaml, "/tmp/firebreak.yaml", {.load_rule_files = false});
  EXPECT_TRUE(config.ok());
  const std::string pack =
      watch::rulepack::render_rule_pack(watch::config::rule_pack_targets(config.config),
                                        watch::config::rule_pack_options(config.config));
  const auto parsed = watch::rules::parse_rule_file(pack, "pack.yml");
  for (const auto& g : parsed.file.groups)
    for (const auto& r : g.rules)
      // Targets that share thresholds share a rule (job=~"a|b").
      if (r.name == alert && (r.expr.find(job) != std::string::npos ||
                              r.expr.find("job_checkin") != std::string::npos))
        return std::chrono::milliseconds(r.for_ms);
  ADD_FAILURE() << "no " << alert << " rule for " << job;
  return std::chrono::milliseconds(0);
}

bool check_detection(const WatchProcess& watch, const HookAlert& hook, const std::string& scenario,
                     const std::string& job, SteadyTime fault, SteadyTime expected,
                     std::chrono::milliseconds bound, std::chrono::milliseconds slack) {
  using namespace std::chrono_literals;
  EXPECT_GE(hook.arrived, expected) << hook.alertname << " fired before its condition could hold";
  const auto fault_wall =
      hook.arrived_wall -
      std::chrono::duration_cast<std::chrono::system_clock::duration>(hook.arrived - fault);
  // An alert without `for` pages within milliseconds of the sample that
  // made its condition true: the range query may have to wait for its next
  // step past that sample.
  std::optional<std::chrono::system_clock::time_point> held;
  for (int attempt = 0; attempt < 10 && !held; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(200ms);
    held = watch.condition_true_since(hook.alertname, job, hook.labels, fault_wall - 2s);
  }
  if (!held) {
    ADD_FAILURE() << "the condition of " << hook.alertname << " never held in watch's data";
    return false;
  }
  const auto latency =
      std::chrono::duration_cast<std::chrono::milliseconds>(hook.arrived_wall - *held);
  report_latency(scenario, hook.alertname, latency, bound);
  report_latency(scenario + "_from_fault", hook.alertname, since(fault, hook.arrived), 0ms);
  EXPECT_LE(latency, bound + slack) << hook.alertname << " took longer than its bound";
  return true;
}

std::string fast_watch_config(const std::string& targets, const std::string& jobs,
                              const std::string& hook_url) {
  return "listen: 127.0.0.1:0\n"
         "storage: {path: watch.db}\n"
         "global: {scrape_interval: 1s, scrape_timeout: 800ms, evaluation_interval: 1s,"
         " job_alert_for: 2s}\n"
         "targets:\n" +
         targets + "jobs:\n" + jobs +
         "receivers:\n"
         "  - name: hook\n"
         "    webhook: {url: " +
         hook_url + ", timeout: 2s}\n";
}

std::string target_yaml(const std::string& name, const std::string& workload, std::uint16_t port,
                        const std::string& thresholds) {
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  return "  - name: " + name + "\n    workload: " + workload + "\n    metrics_url: " + base +
         "/metrics\n    ready_url: " + base + "/readyz\n    thresholds: " + thresholds + "\n";
}

std::vector<double> values(const nlohmann::json& result) {
  std::vector<double> out;
  if (result.is_null()) return out;
  for (const auto& s : result["data"]["result"])
    out.push_back(std::stod(s["value"][1].get<std::string>()));
  return out;
}

std::optional<HookAlert> WatchPagesTest::wait_for(const std::string& alert,
                                                  const std::string& status, const std::string& job,
                                                  std::chrono::milliseconds timeout,
                                                  SteadyTime after) const {
  std::optional<HookAlert> found;
  eventually(
      [&] {
        for (const auto& a : hook_.alerts())
          if (a.alertname == alert && a.status == status && a.labels.value("job", "") == job &&
              a.arrived >= after) {
            found = a;
            return true;
          }
        return false;
      },
      timeout);
  return found;
}

std::optional<HookAlert> WatchPagesTest::expect_page(const std::string& scenario,
                                                     const std::string& alert,
                                                     const std::string& job, SteadyTime fault,
                                                     SteadyTime expected) {
  const std::chrono::milliseconds bound = scrape_ + eval_ + rule_for(yaml_, alert, job);
  const auto hook = wait_for(alert, "firing", job,
                             since(fault, expected) + bound + std::chrono::seconds(15), fault);
  if (!hook) {
    ADD_FAILURE() << alert << " never reached the webhook for " << job << "; watch log:\n"
                  << watch_->process().stdout_text();
    return std::nullopt;
  }
  if (!check_detection(*watch_, *hook, scenario, job, fault, expected, bound, slack_))
    return std::nullopt;
  return hook;
}

void WatchPagesTest::expect_resolved(const std::string& alert, const std::string& job,
                                     std::chrono::milliseconds timeout, SteadyTime after) {
  EXPECT_TRUE(wait_for(alert, "resolved", job, timeout, after).has_value())
      << alert << " did not resolve for " << job << " after the fault was cleared";
}

void WatchPagesTest::expect_only(const std::string& alert, const std::string& job) const {
  for (const auto& a : hook_.alerts())
    if (a.labels.value("job", "") == job && a.alertname != alert)
      ADD_FAILURE() << "also paged: " << a.alertname << " " << a.status << " " << a.labels.dump();
}

}  // namespace firebreak::e2e
