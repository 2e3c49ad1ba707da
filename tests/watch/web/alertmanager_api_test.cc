// Alertmanager's API v2 served from watch's delivery, over a real socket:
// posting alerts (valid, invalid), reading them back with filters and by
// group, silences through their whole life, receivers and status.
#include "watch/web/alertmanager_api.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "firebreak/http_client.h"

namespace watch::web {
namespace {

using nlohmann::json;

class NullNotifier final : public alerting::Notifier {
 public:
  alerting::SendResult notify(const dispatch::GroupNotification&) override { return {}; }
  std::string_view integration() const override { return "null"; }
};

class AlertmanagerApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<routing::Error> errors;
    auto routing = routing::load_routing(YAML::Load("route:\n"
                                                    "  receiver: team\n"
                                                    "  group_by: [alertname]\n"
                                                    "  routes:\n"
                                                    "    - matchers: [service=db]\n"
                                                    "      receiver: db\n"
                                                    "inhibit_rules:\n"
                                                    "  - source_matchers: [alertname=Down]\n"
                                                    "    target_matchers: [alertname=Slow]\n"
                                                    "    equal: [service]\n"),
                                         {"team", "db"}, errors);
    ASSERT_TRUE(errors.empty());
    auto null = std::make_shared<NullNotifier>();
    delivery_.configure(
        std::move(routing),
        {{.name = "team", .integrations = {{.name = "webhook/0", .notifier = null}}},
         {.name = "db", .integrations = {{.name = "webhook/0", .notifier = null}}}});
    add_alertmanager_api(server_, delivery_, clock_,
                         {.config_yaml = [] { return std::string("route: {receiver: team}\n"); }});
    server_.start();
    base_ = "http://" + server_.address();
  }

  firebreak::HttpResponse post(const std::string& path, const std::string& body) {
    return client_.post(base_ + path, body, {{"Content-Type", "application/json"}});
  }
  json get_json(const std::string& path) {
    auto r = client_.get(base_ + path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  std::vector<std::string> names(const json& alerts) {
    std::vector<std::string> out;
    for (const auto& a : alerts)
      out.push_back(a["labels"]["alertname"].get<std::string>() + "/" +
                    a["labels"].value("service", ""));
    std::sort(out.begin(), out.end());
    return out;
  }

  firebreak::ManualClock clock_;
  alerting::Delivery delivery_{{.clock = &clock_}};
  firebreak::AdminServer server_{{.address = "127.0.0.1:0", .max_body_bytes = 1 << 20}};
  firebreak::HttpClient client_;
  std::string base_;
};

constexpr const char* kAlerts = R"([
  {"labels": {"alertname": "Down", "service": "api"}, "annotations": {"summary": "api down"},
   "startsAt": "2026-01-01T00:00:00Z", "generatorURL": "http://prom/graph"},
  {"labels": {"alertname": "Slow", "service": "api"}},
  {"labels": {"alertname": "Slow", "service": "db"}},
  {"labels": {"alertname": "Gone", "service": "web"}, "startsAt": "2025-12-31T23:00:00Z",
   "endsAt": "2025-12-31T23:30:00Z"}
])";

TEST_F(AlertmanagerApiTest, PostedAlertsAreListedWithTheirReceiversAndStatus) {
  auto r = post("/api/v2/alerts", kAlerts);
  ASSERT_EQ(r.status, 200) << r.body;
  const json alerts = get_json("/api/v2/alerts");
  // The resolved one is not listed; sorted by fingerprint.
  ASSERT_EQ(names(alerts), (std::vector<std::string>{"Down/api", "Slow/api", "Slow/db"}));
  for (std::size_t i = 1; i < alerts.size(); ++i)
    EXPECT_LT(alerts[i - 1]["fingerprint"].get<std::string>(),
              alerts[i]["fingerprint"].get<std::string>());
  for (const auto& a : alerts) {
    const std::string name = a["labels"]["alertname"];
    const std::string service = a["labels"]["service"];
    EXPECT_EQ(a["receivers"], json::array({{{"name", service == "db" ? "db" : "team"}}}));
    if (name == "Down") {
      EXPECT_EQ(a["startsAt"], "2026-01-01T00:00:00.000Z");
      EXPECT_EQ(a["endsAt"], "2026-01-01T00:05:00.000Z");  // resolve_timeout
      EXPECT_EQ(a["annotations"], (json{{"summary", "api down"}}));
      EXPECT_EQ(a["generatorURL"], "http://prom/graph");
      EXPECT_EQ(a["status"]["state"], "active");
    }
    if (name == "Slow" && service == "api") {
      EXPECT_EQ(a["status"]["state"], "suppressed");
      EXPECT_EQ(a["status"]["inhibitedBy"].size(), 1u);
    }
  }
  // Filters.
  EXPECT_EQ(names(get_json("/api/v2/alerts?filter=alertname%3D%22Slow%22")),
            (std::vector<std::string>{"Slow/api", "Slow/db"}));
  EXPECT_EQ(names(get_json("/api/v2/alerts?inhibited=false")),
            (std::vector<std::string>{"Down/api", "Slow/db"}));
  EXPECT_EQ(names(get_json("/api/v2/alerts?receiver=db")), (std::vector<std::string>{"Slow/db"}));
  EXPECT_EQ(names(get_json("/api/v2/alerts?active=false")), (std::vector<std::string>{"Slow/api"}));
  auto bad = client_.get(base_ + "/api/v2/alerts?filter=%3Dx");
  EXPECT_EQ(bad.status, 400) << bad.body;
}

TEST_F(AlertmanagerApiTest, GroupsListTheirAlertsByReceiver) {
  ASSERT_EQ(post("/api/v2/alerts", kAlerts).status, 200);
  const json groups = get_json("/api/v2/alerts/groups");
  ASSERT_EQ(groups.size(), 3u) << groups.dump();
  std::vector<std::string> seen;
  for (const auto& g : groups)
    seen.push_back(g["receiver"]["name"].get<std::string>() + ":" + g["labels"].dump() + ":" +
                   std::to_string(g["alerts"].size()));
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"db:{\"alertname\":\"Slow\"}:1",
                                            "team:{\"alertname\":\"Down\"}:1",
                                            "team:{\"alertname\":\"Slow\"}:1"}));
}

TEST_F(AlertmanagerApiTest, InvalidAlertsAreRefusedWithAlertmanagersWords) {
  const auto status_and_body = [&](const std::string& body) {
    auto r = post("/api/v2/alerts", body);
    return std::to_string(r.status) + " " + r.body;
  };
  EXPECT_EQ(status_and_body(R"([{"labels": {}}])"), "400 \"at least one label pair required\"\n");
  EXPECT_EQ(status_and_body(R"([{"labels": {"1a": "x"}}])"),
            "400 \"invalid label set: invalid name \\\"1a\\\"\"\n");
  EXPECT_EQ(status_and_body(R"([{"labels": {"a": "x"}, "startsAt": "2026-01-01T00:10:00Z",
                               "endsAt": "2026-01-01T00:00:00Z"}])"),
            "400 \"start time must be before end time\"\n");
  EXPECT_EQ(status_and_body(R"([{"annotations": {}}])"),
            "422 {\"code\":602,\"message\":\"0.labels in body is required\"}\n");
  EXPECT_EQ(post("/api/v2/alerts", "nope").status, 400);
  EXPECT_EQ(post("/api/v2/alerts", R"({"labels": {"a": "b"}})").status, 400);
  // The valid alerts of a request with invalid ones are taken.
  auto r = post("/api/v2/alerts", R"([{"labels": {"a": "ok"}}, {"labels": {}}])");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(get_json("/api/v2/alerts").size(), 1u);
}

TEST_F(AlertmanagerApiTest, ASilenceIsCreatedListedAppliedAndExpired) {
  ASSERT_EQ(post("/api/v2/alerts", kAlerts).status, 200);
  auto r = post("/api/v2/silences", R"({"matchers": [{"name": "service", "value": "db",
      "isRegex": false}], "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-01-01T02:00:00Z",
      "createdBy": "me", "comment": "maintenance"})");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string id = json::parse(r.body)["silenceID"];
  const json listed = get_json("/api/v2/silences");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["id"], id);
  EXPECT_EQ(listed[0]["status"]["state"], "active");
  EXPECT_EQ(get_json("/api/v2/silence/" + id)["comment"], "maintenance");
  EXPECT_EQ(get_json("/api/v2/silences?filter=service%3Ddb").size(), 1u);
  EXPECT_EQ(get_json("/api/v2/silences?filter=service%3Dapi").size(), 0u);
  // The db alert is silenced.
  for (const auto& a : get_json("/api/v2/alerts?filter=service%3Ddb"))
    EXPECT_EQ(a["status"]["silencedBy"], json::array({id}));
  EXPECT_EQ(names(get_json("/api/v2/alerts?silenced=false")),
            (std::vector<std::string>{"Down/api", "Slow/api"}));
  // Expired: listed as such, mutes nothing.
  auto del = client_.request("DELETE", base_ + "/api/v2/silence/" + id, "", {});
  EXPECT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(get_json("/api/v2/silence/" + id)["status"]["state"], "expired");
  EXPECT_EQ(names(get_json("/api/v2/alerts?silenced=false")).size(), 3u);
  // Unknown and malformed ids.
  EXPECT_EQ(client_.get(base_ + "/api/v2/silence/0b7c6b6a-6d5e-4c0a-9d59-2f5b8c1d0e01").status,
            404);
  EXPECT_EQ(client_.get(base_ + "/api/v2/silence/nope").status, 422);
  // A silence without a comment: Alertmanager's schema error.
  auto bad = post("/api/v2/silences", R"({"matchers": [{"name": "a", "value": "b",
      "isRegex": false}], "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-01-01T02:00:00Z",
      "createdBy": "me"})");
  EXPECT_EQ(bad.status, 422) << bad.body;
}

TEST_F(AlertmanagerApiTest, ReceiversAndStatus) {
  EXPECT_EQ(get_json("/api/v2/receivers"), json::parse(R"([{"name":"team"},{"name":"db"}])"));
  const json status = get_json("/api/v2/status");
  EXPECT_EQ(status["cluster"]["status"], "disabled");
  EXPECT_EQ(status["config"]["original"], "route: {receiver: team}\n");
  EXPECT_EQ(status["uptime"], "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(status["versionInfo"]["version"], "0.1.0");
}

}  // namespace
}  // namespace watch::web
