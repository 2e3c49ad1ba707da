// Delivery to a real HTTP receiver on a local port (the kit's AdminServer on
// port 0), through WebhookNotifier and Delivery, with a ManualClock.
#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include <yaml-cpp/yaml.h>

#include "firebreak/admin.h"
#include "watch/alerting/delivery.h"
#include "watch/alerting/notifier.h"
#include "watch/alerting/webhook.h"

namespace watch::alerting {
namespace {

using std::chrono::seconds;

// Answers POST /hook from a script of statuses (then 200), keeping each body.
class Receiver {
 public:
  Receiver() : server_({.address = "127.0.0.1:0"}) {
    server_.add_handler("POST", "/hook", [this](const firebreak::AdminRequest& req) {
      std::lock_guard lock(mu_);
      bodies_.push_back(req.body);
      content_types_.emplace_back(req.header("Content-Type"));
      int status = 200;
      if (!statuses_.empty()) {
        status = statuses_.front();
        statuses_.pop_front();
      }
      return firebreak::AdminResponse{.status = status, .body = "x"};
    });
    server_.start();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()) + "/hook"; }
  void script(std::deque<int> statuses) {
    std::lock_guard lock(mu_);
    statuses_ = std::move(statuses);
  }
  std::vector<nlohmann::json> bodies() {
    std::lock_guard lock(mu_);
    std::vector<nlohmann::json> out;
    for (const auto& b : bodies_) out.push_back(nlohmann::json::parse(b));
    return out;
  }
  std::string content_type(std::size_t i) {
    std::lock_guard lock(mu_);
    return content_types_.at(i);
  }

 private:
  std::mutex mu_;
  std::deque<int> statuses_;
  std::vector<std::string> bodies_;
  std::vector<std::string> content_types_;
  firebreak::AdminServer server_;
};

rules::Notification alert(bool resolved = false) {
  rules::Notification n;
  n.labels = LabelSet::from({{"alertname", "TargetDown"}, {"job", "shop-api"}});
  n.annotations = {{"summary", "shop-api is down"}};
  n.starts_at_ms = 1767225600000;
  n.ends_at_ms = resolved ? 1767225605000 : 1767225840000;  // resolved 5s after the start
  n.resolved = resolved;
  n.generator_url = "http://watch:9090/graph";
  return n;
}

class WebhookReceiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/watch_webhook_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Each alert its own group, sent at once, changes every 10s.
  std::unique_ptr<Delivery> delivery(store::Store* store = nullptr) {
    auto d = std::make_unique<Delivery>(
        DeliveryOptions{.clock = &clock_, .registry = &registry_, .store = store, .seed = 1});
    std::vector<routing::Error> errors;
    auto routing = routing::load_routing(
        YAML::Load("route: {receiver: ops, group_by: ['...'], group_wait: 0s, "
                   "group_interval: 10s}\n"),
        {"ops"}, errors);
    EXPECT_TRUE(errors.empty());
    d->configure(
        std::move(routing),
        {{.name = "ops",
          .integrations = {{.name = "webhook/0",
                            .notifier = std::make_shared<WebhookNotifier>(WebhookOptions{
                                .url = receiver_.url(), .external_url = "http://watch:9090"})}}}});
    return d;
  }
  std::unique_ptr<store::Store> open_store() {
    std::string error;
    auto s = store::Store::open(dir_ + "/watch.db", &error);
    EXPECT_NE(s, nullptr) << error;
    return s;
  }

  Receiver receiver_;
  firebreak::ManualClock clock_;
  firebreak::Registry registry_;
  std::string dir_;
};

TEST_F(WebhookReceiverTest, PostsAlertmanagerVersion4Json) {
  auto d = delivery();
  d->put({alert()});
  EXPECT_EQ(d->run_due(), 1u);
  auto bodies = receiver_.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(receiver_.content_type(0), "application/json");
  const auto& b = bodies[0];
  EXPECT_EQ(b["version"], "4");
  EXPECT_EQ(b["receiver"], "ops");
  EXPECT_EQ(b["status"], "firing");
  EXPECT_EQ(b["externalURL"], "http://watch:9090");
  EXPECT_EQ(b["groupKey"], "{}:{alertname=\"TargetDown\", job=\"shop-api\"}");
  EXPECT_EQ(b["truncatedAlerts"], 0);
  ASSERT_EQ(b["alerts"].size(), 1u);
  const auto& a = b["alerts"][0];
  EXPECT_EQ(a["status"], "firing");
  EXPECT_EQ(a["labels"], (nlohmann::json{{"alertname", "TargetDown"}, {"job", "shop-api"}}));
  EXPECT_EQ(a["annotations"], (nlohmann::json{{"summary", "shop-api is down"}}));
  EXPECT_EQ(a["startsAt"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(a["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(a["generatorURL"], "http://watch:9090/graph");
  // FNV-1a 64 of "alertname\xffTargetDown\xffjob\xffshop-api\xff".
  EXPECT_EQ(a["fingerprint"], fingerprint_string(fingerprint(alert().labels)));
  EXPECT_EQ(a["fingerprint"].get<std::string>().size(), 16u);
}

TEST_F(WebhookReceiverTest, A503IsTriedAgainAtTheNextFlush) {
  receiver_.script({503});
  auto d = delivery();
  d->put({alert()});
  EXPECT_EQ(d->run_due(), 0u);
  EXPECT_EQ(receiver_.bodies().size(), 1u);
  clock_.advance(seconds(9));
  EXPECT_EQ(d->run_due(), 0u);
  clock_.advance(seconds(1));
  EXPECT_EQ(d->run_due(), 1u);
  EXPECT_EQ(receiver_.bodies().size(), 2u);
  clock_.advance(seconds(10));
  EXPECT_EQ(d->run_due(), 0u);  // known now
}

TEST_F(WebhookReceiverTest, A400IsNotRetriedWithinTheFlushButTheNextFlushSendsAgain) {
  // As Alertmanager: a permanent error ends the flush's retries; the log
  // did not change, so the next flush sends what is true then.
  receiver_.script({400, 429});
  auto d = delivery();
  d->put({alert()});
  EXPECT_EQ(d->run_due(), 0u);
  clock_.advance(seconds(10));
  EXPECT_EQ(d->run_due(), 0u);
  clock_.advance(seconds(10));
  EXPECT_EQ(d->run_due(), 1u);
  EXPECT_EQ(receiver_.bodies().size(), 3u);
}

TEST_F(WebhookReceiverTest, AResolveIsSentOnlyToAReceiverThatHeardTheAlertFire) {
  receiver_.script({503});
  auto d = delivery();
  d->put({alert()});
  d->run_due();  // the firing notification fails
  clock_.advance(seconds(10));
  d->put({alert(true)});
  EXPECT_EQ(d->run_due(), 0u);  // never told it fired: nothing to resolve
  EXPECT_EQ(receiver_.bodies().size(), 1u);

  auto told = delivery();
  told->put({alert()});
  EXPECT_EQ(told->run_due(), 1u);
  clock_.advance(seconds(10));
  told->put({alert(true)});
  EXPECT_EQ(told->run_due(), 1u);
  auto bodies = receiver_.bodies();
  ASSERT_EQ(bodies.size(), 3u);
  EXPECT_EQ(bodies[1]["status"], "firing");
  EXPECT_EQ(bodies[2]["status"], "resolved");
  EXPECT_EQ(bodies[2]["alerts"][0]["endsAt"], "2026-01-01T00:00:05Z");
}

TEST_F(WebhookReceiverTest, ARestartKeepsTheResolveAndRepeatsNothing) {
  auto store = open_store();
  {
    auto d = delivery(store.get());
    d->put({alert()});
    EXPECT_EQ(d->run_due(), 1u);
  }
  store.reset();
  store = open_store();
  {
    auto d = delivery(store.get());
    d->put({alert()});  // the rules' restored alert
    clock_.advance(seconds(10));
    EXPECT_EQ(d->run_due(), 0u);
  }
  auto d = delivery(store.get());
  d->put({alert(true)});
  EXPECT_EQ(d->run_due(), 1u);
  auto bodies = receiver_.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[0]["status"], "firing");
  EXPECT_EQ(bodies[1]["status"], "resolved");
}

}  // namespace
}  // namespace watch::alerting
