#include "watch/alerting/notifier.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "firebreak/log.h"

namespace watch::alerting {
namespace {

TEST(HttpRetryable, ConnectionErrors5xxAnd429AreRetryable) {
  EXPECT_TRUE(http_retryable({.status = 0, .error = "connect: Connection refused"}));
  EXPECT_TRUE(http_retryable({.status = 500}));
  EXPECT_TRUE(http_retryable({.status = 503}));
  EXPECT_TRUE(http_retryable({.status = 429}));
  EXPECT_FALSE(http_retryable({.status = 400}));
  EXPECT_FALSE(http_retryable({.status = 404}));
  EXPECT_FALSE(http_retryable({.status = 301}));
}

TEST(WebhookNotifier, UnreachableReceiverIsRetryable) {
  WebhookNotifier hook({.url = "http://127.0.0.1:1/hook", .timeout = std::chrono::seconds(2)});
  dispatch::GroupNotification n{.receiver = "ops"};
  n.alerts.push_back({.labels = LabelSet::from({{"alertname", "A"}})});
  SendResult r = hook.notify(n);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.retryable);
}

TEST(LogNotifier, WritesOneStructuredLinePerStateChange) {
  char tmpl[] = "/tmp/watch_log_notifier_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string file = std::string(tmpl) + "/log.jsonl";
  firebreak::configure_logging(
      {.level = firebreak::LogLevel::kInfo, .format = firebreak::LogFormat::kJson, .file = file});

  dispatch::Alert a{.labels = LabelSet::from({{"alertname", "TargetDown"}, {"job", "shop-api"}}),
                    .annotations = {{"summary", "shop-api is down"}},
                    .starts_at_ms = 1767225600000};
  dispatch::GroupNotification n{.receiver = "stdout", .alerts = {a}, .at_ms = 1767225600000};
  LogNotifier log;
  EXPECT_TRUE(log.notify(n).ok());
  n.alerts[0].ends_at_ms = 1767226200000;
  n.at_ms = 1767226200000;
  EXPECT_TRUE(log.notify(n).ok());
  firebreak::flush_logs();

  std::ifstream in(file);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  firebreak::configure_logging({.format = firebreak::LogFormat::kJson});
  std::filesystem::remove_all(tmpl);

  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["event"], "alert_firing");
  EXPECT_EQ(lines[0]["level"], "warn");
  EXPECT_EQ(lines[0]["alertname"], "TargetDown");
  EXPECT_EQ(lines[0]["labels"], "{alertname=\"TargetDown\", job=\"shop-api\"}");
  EXPECT_EQ(lines[0]["summary"], "shop-api is down");
  EXPECT_EQ(lines[0]["receiver"], "stdout");
  EXPECT_EQ(lines[1]["event"], "alert_resolved");
  EXPECT_EQ(lines[1]["level"], "info");
  EXPECT_EQ(lines[1]["ends_at"], "2026-01-01T00:10:00Z");
}

}  // namespace
}  // namespace watch::alerting
