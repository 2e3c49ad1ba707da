#include "watch/alerting/delivery.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>

#include "watch/alerting/webhook.h"

namespace watch::alerting {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A notifier answering from a script (then success), recording each call.
class FakeNotifier final : public Notifier {
 public:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<SendResult> script;
    std::vector<rules::Notification> calls;
    std::vector<std::string> receivers;
  };
  explicit FakeNotifier(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
  std::string_view integration() const override { return "fake"; }
  SendResult notify(const dispatch::GroupNotification& g) override {
    std::lock_guard lock(s_->mu);
    const dispatch::Alert& a = g.alerts.at(0);
    s_->calls.push_back({.labels = a.labels,
                         .annotations = a.annotations,
                         .starts_at_ms = a.starts_at_ms,
                         .ends_at_ms = a.ends_at_ms,
                         .resolved = a.ends_at_ms != 0,
                         .generator_url = a.generator_url});
    s_->receivers.emplace_back(g.receiver);
    SendResult r;
    if (!s_->script.empty()) {
      r = s_->script.front();
      s_->script.pop_front();
    }
    s_->cv.notify_all();
    return r;
  }

 private:
  std::shared_ptr<Shared> s_;
};

SendResult retryable() {
  return {.error = "webhook answered 503", .retryable = true};
}
SendResult permanent() {
  return {.error = "webhook answered 400", .retryable = false};
}

rules::Notification alert(std::string_view instance, bool resolved = false,
                          std::int64_t starts_at_ms = 1767225600000) {
  rules::Notification n;
  n.labels = LabelSet::from({{"alertname", "TargetDown"}, {"instance", instance}});
  n.annotations = {{"summary", "down"}};
  n.starts_at_ms = starts_at_ms;
  n.resolved = resolved;
  n.ends_at_ms = resolved ? starts_at_ms + 600000 : starts_at_ms + 240000;
  return n;
}

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/watch_delivery_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<store::Store> open_store() {
    std::string error;
    auto s = store::Store::open(dir_ + "/watch.db", &error);
    EXPECT_NE(s, nullptr) << error;
    return s;
  }

  DeliveryOptions options(store::Store* store = nullptr) {
    return {.clock = &clock_,
            .registry = &registry_,
            .store = store,
            .backoff = {.initial = milliseconds(1000),
                        .multiplier = 2,
                        .max = milliseconds(8000),
                        .jitter = 0.2},
            .seed = 42};
  }

  std::shared_ptr<FakeNotifier::Shared> fake_ = std::make_shared<FakeNotifier::Shared>();
  firebreak::ManualClock clock_;
  firebreak::Registry registry_;
  std::string dir_;
};

TEST_F(DeliveryTest, SendsAsSoonAsPushed) {
  Delivery d(options());
  d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
  d.push({alert("a")});
  EXPECT_EQ(d.queued("ops"), 1u);
  EXPECT_EQ(d.run_due(), 1u);
  ASSERT_EQ(fake_->calls.size(), 1u);
  EXPECT_EQ(fake_->calls[0].labels, alert("a").labels);
  EXPECT_EQ(fake_->receivers[0], "ops");
  EXPECT_EQ(d.queued("ops"), 0u);
  EXPECT_FALSE(d.next_due().has_value());
}

TEST_F(DeliveryTest, EveryReceiverGetsEachNotification) {
  auto other = std::make_shared<FakeNotifier::Shared>();
  Delivery d(options());
  d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
  d.add_receiver("log", std::make_unique<FakeNotifier>(other));
  d.push({alert("a"), alert("b")});
  EXPECT_EQ(d.run_due(), 4u);
  EXPECT_EQ(fake_->calls.size(), 2u);
  EXPECT_EQ(other->calls.size(), 2u);
  EXPECT_EQ(other->receivers[0], "log");
}

TEST_F(DeliveryTest, RetryableFailureIsRetriedAfterBackoff) {
  fake_->script = {retryable()};
  Delivery d(options());
  d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
  d.push({alert("a")});
  EXPECT_EQ(d.run_due(), 0u);
  EXPECT_EQ(d.queued("ops"), 1u);
  ASSERT_TRUE(d.next_due().has_value());
  EXPECT_GE(*d.next_due(), clock_.mono_now() + milliseconds(800));
  EXPECT_LE(*d.next_due(), clock_.mono_now() + milliseconds(1000));

  clock_.advance(milliseconds(700));  // before the earliest retry (1 s less 20% jitter)
  EXPECT_EQ(d.run_due(), 0u);
  EXPECT_EQ(fake_->calls.size(), 1u);

  clock_.advance(milliseconds(300));
  EXPECT_EQ(d.run_due(), 1u);
  EXPECT_EQ(fake_->calls.size(), 2u);
  EXPECT_EQ(d.queued("ops"), 0u);
}

TEST_F(DeliveryTest, BackoffGrowsExponentiallyUpToItsBound) {
  RetryStage plain(
      {.initial = milliseconds(1000), .multiplier = 2, .max = milliseconds(5000), .jitter = 0});
  EXPECT_EQ(plain.delay(1), milliseconds(1000));
  EXPECT_EQ(plain.delay(2), milliseconds(2000));
  EXPECT_EQ(plain.delay(3), milliseconds(4000));
  EXPECT_EQ(plain.delay(4), milliseconds(5000));
  EXPECT_EQ(plain.delay(60), milliseconds(5000));

  RetryStage jittered(
      {.initial = milliseconds(1000), .multiplier = 2, .max = milliseconds(5000), .jitter = 0.2},
      7);
  bool varied = false;
  auto first = jittered.delay(3);
  for (int i = 0; i < 50; ++i) {
    auto d = jittered.delay(3);
    EXPECT_GE(d, milliseconds(3200));
    EXPECT_LE(d, milliseconds(4000));
    varied = varied || d != first;
  }
  EXPECT_TRUE(varied);
}

TEST_F(DeliveryTest, NonRetryableFailureIsDroppedNotRetried) {
  fake_->script = {permanent()};
  Delivery d(options());
  d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
  d.push({alert("a")});
  EXPECT_EQ(d.run_due(), 0u);
  EXPECT_EQ(d.queued("ops"), 0u);
  clock_.advance(seconds(600));
  d.run_due();
  EXPECT_EQ(fake_->calls.size(), 1u);
}

TEST_F(DeliveryTest, ResolvedWaitsForItsFiringAndKeepsOrder) {
  fake_->script = {retryable()};
  Delivery d(options());
  d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
  d.push({alert("a")});
  d.run_due();
  d.push({alert("a", /*resolved=*/true)});
  EXPECT_EQ(d.run_due(), 0u) << "the resolve must not overtake the firing in backoff";
  EXPECT_EQ(fake_->calls.size(), 1u);
  clock_.advance(seconds(1));
  EXPECT_EQ(d.run_due(), 2u);
  ASSERT_EQ(fake_->calls.size(), 3u);
  EXPECT_FALSE(fake_->calls[1].resolved);
  EXPECT_TRUE(fake_->calls[2].resolved);
}

TEST_F(DeliveryTest, OtherAlertsAreNotHeldBackByOneInBackoff) {
  fake_->script = {retryable()};
  Delivery d(options());
  d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
  d.push({alert("a"), alert("b")});
  EXPECT_EQ(d.run_due(), 1u);
  ASSERT_EQ(fake_->calls.size(), 2u);
  EXPECT_EQ(fake_->calls[1].labels.get("instance"), "b");
}

TEST_F(DeliveryTest, SameStateOfSameAlertIsSentOnce) {
  Delivery d(options());
  d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
  d.push({alert("a")});
  d.run_due();
  d.push({alert("a")});  // the rules engine's re-send
  d.run_due();
  EXPECT_EQ(fake_->calls.size(), 1u);
  d.push({alert("a", true)});
  d.push({alert("a", true)});
  d.run_due();
  EXPECT_EQ(fake_->calls.size(), 2u);
  d.push({alert("a", false, 1767229200000)});  // fires again: a new episode
  d.run_due();
  EXPECT_EQ(fake_->calls.size(), 3u);
}

TEST_F(DeliveryTest, PrunedLogEntriesNoLongerDedup) {
  auto store = open_store();
  Delivery d(options(store.get()));
  d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
  d.push({alert("a")});
  d.run_due();
  const std::int64_t sent_ms = 1767225600000;  // the ManualClock's start
  EXPECT_EQ(d.prune_log(sent_ms), 0u);
  EXPECT_EQ(d.prune_log(sent_ms + 1), 1u);
  EXPECT_TRUE(store->load_log().empty());
  d.push({alert("a")});
  d.run_due();
  EXPECT_EQ(fake_->calls.size(), 2u);
}

TEST_F(DeliveryTest, QueuedBeforeRestartIsDeliveredAfter) {
  auto store = open_store();
  {
    fake_->script = {retryable()};
    Delivery d(options(store.get()));
    d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
    d.push({alert("a", true)});
    d.run_due();
    EXPECT_EQ(store->load_pending().size(), 1u);
  }
  store.reset();
  store = open_store();  // the restart
  auto after = std::make_shared<FakeNotifier::Shared>();
  Delivery d(options(store.get()));
  d.add_receiver("ops", std::make_unique<FakeNotifier>(after));
  EXPECT_EQ(d.queued("ops"), 1u);
  EXPECT_EQ(d.run_due(), 1u);
  ASSERT_EQ(after->calls.size(), 1u);
  EXPECT_TRUE(after->calls[0].resolved);
  EXPECT_EQ(after->calls[0].labels, alert("a").labels);
  EXPECT_EQ(after->calls[0].annotations, alert("a").annotations);
  EXPECT_TRUE(store->load_pending().empty());
}

TEST_F(DeliveryTest, DeliveredFiringIsNotResentAfterRestart) {
  auto store = open_store();
  {
    Delivery d(options(store.get()));
    d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
    d.push({alert("a")});
    d.run_due();
  }
  store.reset();
  store = open_store();
  Delivery d(options(store.get()));
  d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
  d.push({alert("a")});
  d.run_due();
  EXPECT_EQ(fake_->calls.size(), 1u);
  d.push({alert("a", true)});
  d.run_due();
  EXPECT_EQ(fake_->calls.size(), 2u);
  EXPECT_TRUE(store->load_pending().empty());
}

TEST_F(DeliveryTest, RemovingAReceiverDropsItsQueue) {
  auto store = open_store();
  fake_->script = {retryable()};
  Delivery d(options(store.get()));
  d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
  d.push({alert("a")});
  d.run_due();
  d.remove_receiver("ops");
  EXPECT_EQ(d.queued("ops"), 0u);
  EXPECT_TRUE(store->load_pending().empty());
  EXPECT_TRUE(d.receivers().empty());
}

TEST_F(DeliveryTest, DuplicateReceiverNameIsAConfigurationError) {
  Delivery d(options());
  d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
  EXPECT_THROW(d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_)), std::invalid_argument);
}

TEST_F(DeliveryTest, MetricsCountSentFailedQueuedAndLatency) {
  fake_->script = {retryable(), permanent()};
  Delivery d(options());
  d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
  auto sent = registry_.counter({.name = "alert_notifications_sent_total", .labels = {"receiver"}})
                  .labels("ops");
  auto failed =
      registry_.counter({.name = "alert_notifications_failed_total", .labels = {"receiver"}})
          .labels("ops");
  auto queued =
      registry_.gauge({.name = "alert_notifications_queued", .labels = {"receiver"}}).labels("ops");
  auto latency = registry_
                     .histogram({.name = "alert_notification_latency_seconds",
                                 .labels = {"receiver"},
                                 .unit = "seconds",
                                 .buckets = Delivery::latency_buckets()})
                     .labels("ops");
  d.push({alert("a"), alert("b")});
  EXPECT_EQ(queued.value(), 2);
  d.run_due();  // a: retryable failure; b: dropped
  EXPECT_EQ(failed.value(), 2);
  EXPECT_EQ(queued.value(), 1);
  clock_.advance(seconds(2));
  d.run_due();
  EXPECT_EQ(sent.value(), 1);
  EXPECT_EQ(queued.value(), 0);
  EXPECT_EQ(latency.count(), 1u);
  EXPECT_DOUBLE_EQ(latency.sum(), 2.0);
}

TEST_F(DeliveryTest, WorkerSendsWithoutBeingAsked) {
  Delivery d({.clock = &firebreak::Clock::system(), .registry = &registry_});
  d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
  d.start();
  d.push({alert("a")});
  std::unique_lock lock(fake_->mu);
  EXPECT_TRUE(fake_->cv.wait_for(lock, seconds(10), [&] { return !fake_->calls.empty(); }));
  lock.unlock();
  d.stop();
}

TEST_F(DeliveryTest, WorkerRetriesOnItsOwn) {
  fake_->script = {retryable()};
  Delivery d({.clock = &firebreak::Clock::system(),
              .backoff = {.initial = milliseconds(10), .max = milliseconds(10)}});
  d.add_receiver("ops", std::make_unique<FakeNotifier>(fake_));
  d.start();
  d.push({alert("a")});
  std::unique_lock lock(fake_->mu);
  EXPECT_TRUE(fake_->cv.wait_for(lock, seconds(10), [&] { return fake_->calls.size() >= 2; }));
  lock.unlock();
  d.stop();
  EXPECT_EQ(d.queued("ops"), 0u);
}

}  // namespace
}  // namespace watch::alerting
