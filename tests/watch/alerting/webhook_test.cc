#include "watch/alerting/webhook.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace watch::alerting {
namespace {

// prometheus/common model: TestMetricToFingerprint's vectors.
TEST(Fingerprint, MatchesPrometheusCommonVectors) {
  EXPECT_EQ(fingerprint(LabelSet()), 14695981039346656037ULL);
  EXPECT_EQ(
      fingerprint(LabelSet::from({{"name", "garland, briggs"}, {"fear", "love is not enough"}})),
      5799056148416392346ULL);
}

TEST(Fingerprint, IsSixteenHexDigits) {
  EXPECT_EQ(fingerprint_string(5799056148416392346ULL), "507a62d79ee76c9a");
  EXPECT_EQ(fingerprint_string(0x1f), "000000000000001f");
}

TEST(Fingerprint, DependsOnEveryLabel) {
  auto a = LabelSet::from({{"alertname", "Down"}, {"instance", "a"}});
  auto b = LabelSet::from({{"alertname", "Down"}, {"instance", "b"}});
  EXPECT_NE(fingerprint(a), fingerprint(b));
  EXPECT_EQ(fingerprint(a),
            fingerprint(LabelSet::from({{"instance", "a"}, {"alertname", "Down"}})));
}

TEST(Rfc3339, WritesGoRfc3339Nano) {
  EXPECT_EQ(rfc3339(1767225600000), "2026-01-01T00:00:00Z");
  EXPECT_EQ(rfc3339(1767225600250), "2026-01-01T00:00:00.25Z");
  EXPECT_EQ(rfc3339(1767225600001), "2026-01-01T00:00:00.001Z");
  EXPECT_EQ(rfc3339(0), "0001-01-01T00:00:00Z");
}

rules::Notification firing() {
  rules::Notification n;
  n.labels =
      LabelSet::from({{"alertname", "TargetDown"}, {"job", "shop-api"}, {"severity", "page"}});
  n.annotations = {{"description", "down for 5m"}, {"summary", "shop-api is down"}};
  n.starts_at_ms = 1767225600000;
  n.ends_at_ms = 1767225840000;  // valid-until
  n.generator_url = "http://watch:9090/graph?g0.expr=up+%3D%3D+0";
  return n;
}

TEST(ToAlert, AFiringNotificationIsOpenEndedAndAResolvedOneEndsAtItsResolution) {
  rules::Notification n = firing();
  dispatch::Alert a = to_alert(n);
  EXPECT_EQ(a.labels, n.labels);
  EXPECT_EQ(a.annotations, n.annotations);
  EXPECT_EQ(a.starts_at_ms, n.starts_at_ms);
  EXPECT_EQ(a.ends_at_ms, 0);
  EXPECT_EQ(a.generator_url, n.generator_url);
  n.resolved = true;
  n.ends_at_ms = 1767226200000;
  EXPECT_EQ(to_alert(n).ends_at_ms, 1767226200000);
}

TEST(WebhookGroupJson, AGroupHasItsCommonLabelsTruncationAndStatus) {
  dispatch::GroupNotification n{
      .receiver = "oncall",
      .group_key = "{}/{severity=\"page\"}:{alertname=\"Down\"}",
      .group_labels = LabelSet::from({{"alertname", "Down"}}),
      .alerts =
          {{.labels = LabelSet::from({{"alertname", "Down"}, {"instance", "a:1"}, {"job", "api"}}),
            .annotations = {{"summary", "a down"}, {"runbook_url", "r"}},
            .starts_at_ms = 1767225600000},
           {.labels = LabelSet::from({{"alertname", "Down"}, {"instance", "b:1"}, {"job", "api"}}),
            .annotations = {{"summary", "b down"}, {"runbook_url", "r"}},
            .starts_at_ms = 1767225600000,
            .ends_at_ms = 1767225660000},
           {.labels = LabelSet::from({{"alertname", "Down"}, {"instance", "c:1"}, {"job", "db"}}),
            .starts_at_ms = 1767225600000}},
      .at_ms = 1767225700000};
  auto j = nlohmann::json::parse(webhook_group_json(n, "http://watch:9095", 2));
  EXPECT_EQ(j["receiver"], "oncall");
  EXPECT_EQ(j["status"], "firing");
  EXPECT_EQ(j["version"], "4");
  EXPECT_EQ(j["groupKey"], n.group_key);
  EXPECT_EQ(j["groupLabels"], nlohmann::json({{"alertname", "Down"}}));
  ASSERT_EQ(j["alerts"].size(), 2u);
  EXPECT_EQ(j["truncatedAlerts"], 1);
  EXPECT_EQ(j["alerts"][0]["status"], "firing");
  EXPECT_EQ(j["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(j["alerts"][1]["status"], "resolved");
  EXPECT_EQ(j["alerts"][1]["endsAt"], "2026-01-01T00:01:00Z");
  EXPECT_EQ(j["alerts"][1]["fingerprint"], fingerprint_string(fingerprint(n.alerts[1].labels)));
  // Common to the two sent alerts (the truncated one does not count).
  EXPECT_EQ(j["commonLabels"], nlohmann::json({{"alertname", "Down"}, {"job", "api"}}));
  EXPECT_EQ(j["commonAnnotations"], nlohmann::json({{"runbook_url", "r"}}));
  // Everything resolved: the message's status is resolved.
  for (auto& a : n.alerts) a.ends_at_ms = 1767225660000;
  j = nlohmann::json::parse(webhook_group_json(n, "http://watch:9095"));
  EXPECT_EQ(j["status"], "resolved");
  EXPECT_EQ(j["truncatedAlerts"], 0);
  EXPECT_EQ(j["commonLabels"], nlohmann::json({{"alertname", "Down"}}));
}

}  // namespace
}  // namespace watch::alerting
