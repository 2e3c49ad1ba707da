// watch's Alertmanager, driven by a ManualClock: routing, the three timers,
// resolve, silences, inhibition, time intervals, failures, restarts.
#include "watch/alerting/delivery.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>

#include "watch/alerting/webhook.h"

namespace watch::alerting {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::int64_t kStart = 1767225600000;  // ManualClock's start

// A notifier answering from a script (then success), recording each call.
class FakeNotifier final : public Notifier {
 public:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<SendResult> script;
    std::vector<dispatch::GroupNotification> calls;
  };
  explicit FakeNotifier(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
  std::string_view integration() const override { return "fake"; }
  SendResult notify(const dispatch::GroupNotification& g) override {
    std::lock_guard lock(s_->mu);
    s_->calls.push_back(g);
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

std::int64_t to_ms(const firebreak::Clock& clock) {
  return std::chrono::duration_cast<milliseconds>(clock.wall_now().time_since_epoch()).count();
}

dispatch::Alert firing(std::string_view name, std::string_view service,
                       std::int64_t starts_at_ms = kStart) {
  return {.labels = LabelSet::from({{"alertname", std::string(name)},
                                    {"service", std::string(service)},
                                    {"severity", "page"}}),
          .annotations = {{"summary", std::string(name) + " on " + std::string(service)}},
          .starts_at_ms = starts_at_ms};
}

dispatch::Alert resolved(dispatch::Alert a, std::int64_t ends_at_ms) {
  a.ends_at_ms = ends_at_ms;
  return a;
}

routing::RoutingConfig load(const std::string& yaml, const std::vector<std::string>& receivers) {
  std::vector<routing::Error> errors;
  auto config = routing::load_routing(YAML::Load(yaml), receivers, errors);
  for (const auto& e : errors) ADD_FAILURE() << e.to_string();
  return config;
}

// Alertnames of a notification's alerts, firing ones as "A", resolved "-A".
std::string summary(const dispatch::GroupNotification& n) {
  std::string out;
  for (const auto& a : n.alerts) {
    if (!out.empty()) out += ",";
    if (a.resolved_at(n.at_ms)) out += "-";
    out += a.labels.get("alertname");
  }
  return out;
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
            .backoff = {.initial = milliseconds(10), .max = milliseconds(40)},
            .seed = 42};
  }

  Receiver receiver(std::string name, std::shared_ptr<FakeNotifier::Shared> s,
                    bool send_resolved = true) {
    return {.name = std::move(name),
            .integrations = {{.name = "webhook/0",
                              .send_resolved = send_resolved,
                              .notifier = std::make_shared<FakeNotifier>(std::move(s))}}};
  }

  // A delivery with receivers "team" (fake_) and "db" (db_) routed by
  // service, grouped by alertname, 30s / 5m / 4h.
  std::unique_ptr<Delivery> make(store::Store* store = nullptr, std::string extra = "") {
    auto d = std::make_unique<Delivery>(options(store));
    d->configure(load("route:\n"
                      "  receiver: team\n"
                      "  group_by: [alertname]\n"
                      "  routes:\n"
                      "    - matchers: ['service=\"db\"']\n"
                      "      receiver: db\n" +
                          extra,
                      {"team", "db"}),
                 {receiver("team", fake_), receiver("db", db_)});
    return d;
  }

  std::size_t advance_and_run(Delivery& d, milliseconds by) {
    clock_.advance(by);
    return d.run_due();
  }

  std::string dir_;
  firebreak::ManualClock clock_;
  firebreak::Registry registry_;
  std::shared_ptr<FakeNotifier::Shared> fake_ = std::make_shared<FakeNotifier::Shared>();
  std::shared_ptr<FakeNotifier::Shared> db_ = std::make_shared<FakeNotifier::Shared>();
};

TEST_F(DeliveryTest, RoutesGroupsAndWaitsGroupWaitBeforeTheFirstNotification) {
  auto d = make();
  d->put(
      {firing("Down", "api"), firing("Down", "web"), firing("Slow", "api"), firing("Down", "db")});
  EXPECT_EQ(d->run_due(), 0u);
  EXPECT_EQ(advance_and_run(*d, seconds(29)), 0u);
  EXPECT_EQ(advance_and_run(*d, seconds(1)), 3u);  // Down and Slow to team, Down to db
  ASSERT_EQ(fake_->calls.size(), 2u);
  EXPECT_EQ(fake_->calls[0].receiver, "team");
  EXPECT_EQ(fake_->calls[0].group_labels.to_string(), "{alertname=\"Down\"}");
  EXPECT_EQ(fake_->calls[0].alerts.size(), 2u);
  EXPECT_EQ(fake_->calls[0].group_key, "{}:{alertname=\"Down\"}");
  EXPECT_EQ(fake_->calls[1].group_labels.to_string(), "{alertname=\"Slow\"}");
  ASSERT_EQ(db_->calls.size(), 1u);
  EXPECT_EQ(db_->calls[0].group_key, "{}/{service=\"db\"}:{alertname=\"Down\"}");
}

TEST_F(DeliveryTest, ChangesWaitForGroupIntervalAndUnchangedGroupsForRepeatInterval) {
  auto d = make();
  d->put({firing("Down", "api")});
  advance_and_run(*d, seconds(30));
  ASSERT_EQ(fake_->calls.size(), 1u);
  // A second alert joins: sent at the next flush, group_interval after the first.
  clock_.advance(seconds(60));
  d->put({firing("Down", "web", kStart + 90'000)});
  EXPECT_EQ(advance_and_run(*d, seconds(60)), 0u);
  EXPECT_EQ(advance_and_run(*d, seconds(180)), 1u);  // 30s + 5m
  ASSERT_EQ(fake_->calls.size(), 2u);
  EXPECT_EQ(fake_->calls[1].alerts.size(), 2u);
  // Nothing changes: no message until repeat_interval (4h) has passed.
  for (int i = 0; i < 47; ++i) advance_and_run(*d, milliseconds(300'000));
  EXPECT_EQ(fake_->calls.size(), 2u);
  advance_and_run(*d, milliseconds(300'000));
  EXPECT_EQ(fake_->calls.size(), 3u);
}

TEST_F(DeliveryTest, AResolveIsSentWithTheGroupAtItsNextFlush) {
  auto d = make();
  d->put({firing("Down", "api")});
  advance_and_run(*d, seconds(30));
  clock_.advance(seconds(10));
  d->put({resolved(firing("Down", "api"), kStart + 40'000)});
  EXPECT_EQ(advance_and_run(*d, seconds(100)), 0u);
  EXPECT_EQ(advance_and_run(*d, seconds(190)), 1u);
  ASSERT_EQ(fake_->calls.size(), 2u);
  EXPECT_EQ(summary(fake_->calls[1]), "-Down");
  // Told once: no more messages, and the group is gone.
  for (int i = 0; i < 5; ++i) advance_and_run(*d, milliseconds(300'000));
  EXPECT_EQ(fake_->calls.size(), 2u);
  EXPECT_TRUE(d->groups().empty());
}

TEST_F(DeliveryTest, SendResolvedFalseTellsNothingOfResolves) {
  auto d = std::make_unique<Delivery>(options());
  d->configure(load("route: {receiver: team, group_wait: 0s, group_interval: 1m}\n", {"team"}),
               {receiver("team", fake_, /*send_resolved=*/false)});
  d->put({firing("Down", "api")});
  d->run_due();
  d->put({resolved(firing("Down", "api"), kStart + 1'000)});
  for (int i = 0; i < 3; ++i) advance_and_run(*d, seconds(60));
  ASSERT_EQ(fake_->calls.size(), 1u);
  // It fires again: a new firing notification (the log learnt it was over).
  d->put({firing("Down", "api", kStart + 200'000)});
  advance_and_run(*d, seconds(60));
  EXPECT_EQ(fake_->calls.size(), 2u);
}

TEST_F(DeliveryTest, ASilenceMutesAndItsExpiryLetsTheAlertThrough) {
  auto d = make();
  auto s = d->silences().set({.matchers = {{.name = "service", .value = "api"}},
                              .starts_at_ms = kStart,
                              .ends_at_ms = kStart + 3'600'000,
                              .created_by = "me",
                              .comment = "maintenance"});
  ASSERT_TRUE(s.ok()) << s.error;
  d->put({firing("Down", "api"), firing("Slow", "web")});
  advance_and_run(*d, seconds(30));
  ASSERT_EQ(fake_->calls.size(), 1u);
  EXPECT_EQ(summary(fake_->calls[0]), "Slow");
  const auto views = d->alerts();
  ASSERT_EQ(views.size(), 2u);
  for (const auto& v : views) {
    if (v.alert.labels.get("service") == "api")
      EXPECT_EQ(v.silenced_by, std::vector<std::string>{s.id});
    else
      EXPECT_FALSE(v.suppressed());
  }
  ASSERT_FALSE(d->silences().expire(s.id).has_value());
  advance_and_run(*d, seconds(300));
  ASSERT_EQ(fake_->calls.size(), 2u);
  EXPECT_EQ(summary(fake_->calls[1]), "Down");
}

TEST_F(DeliveryTest, AReceiverToldAnAlertFiredHearsOfItsResolveEvenWhenSilenced) {
  for (bool resolve_muted : {true, false}) {
    SCOPED_TRACE(resolve_muted ? "resolve_muted" : "Alertmanager's behaviour");
    fake_->calls.clear();
    auto opts = options();
    opts.resolve_muted = resolve_muted;
    Delivery d(opts);
    d.configure(load("route: {receiver: team, group_by: [alertname]}\n", {"team"}),
                {receiver("team", fake_)});
    d.put({firing("Down", "api")});
    advance_and_run(d, seconds(30));
    ASSERT_EQ(fake_->calls.size(), 1u);
    ASSERT_TRUE(d.silences()
                    .set({.matchers = {{.name = "alertname", .value = "Down"}},
                          .starts_at_ms = to_ms(clock_),
                          .ends_at_ms = to_ms(clock_) + 3'600'000,
                          .created_by = "me",
                          .comment = "c"})
                    .ok());
    d.put({resolved(firing("Down", "api"), to_ms(clock_))});
    advance_and_run(d, seconds(300));
    if (resolve_muted) {
      ASSERT_EQ(fake_->calls.size(), 2u);
      EXPECT_EQ(summary(fake_->calls[1]), "-Down");
    } else {
      EXPECT_EQ(fake_->calls.size(), 1u);
    }
  }
}

TEST_F(DeliveryTest, AnInhibitedAlertIsHeldUntilItsSourceResolves) {
  auto d = make(nullptr,
                "inhibit_rules:\n"
                "  - source_matchers: [alertname=TargetDown]\n"
                "    target_matchers: [alertname=ServiceNotReady]\n"
                "    equal: [service]\n");
  d->put({firing("TargetDown", "api"), firing("ServiceNotReady", "api"),
          firing("ServiceNotReady", "web")});
  advance_and_run(*d, seconds(30));
  ASSERT_EQ(fake_->calls.size(), 2u);
  EXPECT_EQ(summary(fake_->calls[0]), "ServiceNotReady");
  EXPECT_EQ(fake_->calls[0].alerts[0].labels.get("service"), "web");
  EXPECT_EQ(summary(fake_->calls[1]), "TargetDown");
  for (const auto& v : d->alerts()) {
    const bool target = v.alert.labels.get("alertname") == "ServiceNotReady" &&
                        v.alert.labels.get("service") == "api";
    EXPECT_EQ(v.inhibited_by.size(), target ? 1u : 0u) << v.alert.labels.to_string();
    if (target) {
      EXPECT_EQ(v.inhibited_by[0],
                fingerprint_string(dispatch::fingerprint(firing("TargetDown", "api").labels)));
    }
  }
  // The source resolves while the target still fires: the target is told.
  clock_.advance(seconds(10));
  d->put({resolved(firing("TargetDown", "api"), to_ms(clock_))});
  advance_and_run(*d, seconds(290));
  ASSERT_EQ(fake_->calls.size(), 4u);
  std::set<std::string> last = {summary(fake_->calls[2]), summary(fake_->calls[3])};
  EXPECT_TRUE(last.contains("ServiceNotReady,ServiceNotReady")) << *last.begin();
  EXPECT_TRUE(last.contains("-TargetDown"));
}

TEST_F(DeliveryTest, MuteTimeIntervalsHoldNotificationsAndActiveOnesLetThemThrough) {
  // The clock starts on Thursday 2026-01-01 00:00 UTC.
  auto d = std::make_unique<Delivery>(options());
  d->configure(load("route:\n"
                    "  receiver: team\n"
                    "  group_wait: 0s\n"
                    "  group_interval: 1m\n"
                    "  repeat_interval: 12h\n"
                    "  routes:\n"
                    "    - matchers: [service=api]\n"
                    "      mute_time_intervals: [night]\n"
                    "    - matchers: [service=web]\n"
                    "      active_time_intervals: [night]\n"
                    "time_intervals:\n"
                    "  - name: night\n"
                    "    time_intervals: [{times: [{start_time: '00:00', end_time: '06:00'}]}]\n",
                    {"team"}),
               {receiver("team", fake_)});
  d->put({firing("Down", "api"), firing("Down", "web")});
  d->run_due();
  ASSERT_EQ(fake_->calls.size(), 1u);
  EXPECT_EQ(fake_->calls[0].alerts[0].labels.get("service"), "web");
  for (int i = 0; i < 6 * 60; ++i) advance_and_run(*d, seconds(60));  // 06:00
  ASSERT_EQ(fake_->calls.size(), 2u);
  EXPECT_EQ(fake_->calls[1].alerts[0].labels.get("service"), "api");
}

TEST_F(DeliveryTest, AFailedSendLeavesTheLogAndTheNextFlushSendsAgain) {
  auto d = make();
  fake_->script = {{.error = "503", .retryable = true}};
  d->put({firing("Down", "api")});
  EXPECT_EQ(advance_and_run(*d, seconds(30)), 0u);
  EXPECT_TRUE(d->groups().size() == 1u);
  EXPECT_EQ(advance_and_run(*d, seconds(300)), 1u);
  ASSERT_EQ(fake_->calls.size(), 2u);
  EXPECT_EQ(summary(fake_->calls[1]), "Down");
}

TEST_F(DeliveryTest, ARestartNeitherRepeatsAPageNorLosesAResolve) {
  auto store = open_store();
  {
    auto d = make(store.get());
    d->put({firing("Down", "api")});
    advance_and_run(*d, seconds(30));
    ASSERT_EQ(fake_->calls.size(), 1u);
  }
  // Restarted: the rules put the alert back; the receiver already knows.
  {
    auto d = make(store.get());
    d->put({firing("Down", "api")});
    for (int i = 0; i < 10; ++i) advance_and_run(*d, seconds(60));
    EXPECT_EQ(fake_->calls.size(), 1u) << "paged again after a restart";
  }
  // Restarted again, and the alert resolved meanwhile: the resolve is sent.
  {
    auto d = make(store.get());
    d->put({resolved(firing("Down", "api"), to_ms(clock_))});
    advance_and_run(*d, seconds(30));
    ASSERT_EQ(fake_->calls.size(), 2u);
    EXPECT_EQ(summary(fake_->calls[1]), "-Down");
  }
  // And after that, nothing more.
  auto d = make(store.get());
  d->put({resolved(firing("Down", "api"), to_ms(clock_))});
  advance_and_run(*d, seconds(30));
  EXPECT_EQ(fake_->calls.size(), 2u);
}

// A scenario of steps (alerts put, time moved), run once straight through and
// once with a restart before each step in turn: every run must tell the
// receiver the same things. At a restart the delivery is rebuilt from the
// store and the alerts still held are put back (what the rules do at start).
TEST_F(DeliveryTest, ARestartBetweenAnyTwoStepsChangesNothingTheReceiverHears) {
  struct Step {
    std::vector<dispatch::Alert> put;
    seconds advance;
  };
  const std::int64_t t0 = kStart;
  const std::vector<Step> steps = {
      {{firing("Down", "api", t0)}, seconds(30)},                          // first flush
      {{firing("Down", "web", t0 + 30'000)}, seconds(100)},                // joins the group
      {{}, seconds(200)},                                                  // its flush
      {{resolved(firing("Down", "api", t0), t0 + 330'000)}, seconds(10)},  // api resolves
      {{}, seconds(300)},                                                  // told at a flush
      {{}, seconds(3 * 3600)},                                             // quiet hours
      {{}, seconds(3600)},                                                 // repeat_interval
      {{resolved(firing("Down", "web", t0 + 30'000), t0 + 15'040'000)}, seconds(300)},
  };
  const auto run = [&](int restart_before) {
    std::filesystem::remove_all(dir_ + "/watch.db");
    std::filesystem::remove_all(dir_ + "/watch.db-wal");
    std::filesystem::remove_all(dir_ + "/watch.db-shm");
    firebreak::ManualClock clock;
    auto shared = std::make_shared<FakeNotifier::Shared>();
    auto store = open_store();
    std::map<std::uint64_t, dispatch::Alert> held;  // what the rules hold
    const auto make_delivery = [&] {
      auto opts = options(store.get());
      opts.clock = &clock;
      auto d = std::make_unique<Delivery>(opts);
      d->configure(load("route: {receiver: team, group_by: [alertname]}\n", {"team"}),
                   {receiver("team", shared)});
      return d;
    };
    auto d = make_delivery();
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (static_cast<int>(i) == restart_before) {
        d.reset();
        d = make_delivery();
        std::vector<dispatch::Alert> back;
        for (const auto& [fp, a] : held) back.push_back(a);
        d->put(back);
      }
      for (auto a : steps[i].put) held[dispatch::fingerprint(a.labels)] = a;
      d->put(steps[i].put);
      clock.advance(steps[i].advance);
      d->run_due();
    }
    std::vector<std::string> heard;
    for (const auto& n : shared->calls) heard.push_back(summary(n));
    return heard;
  };
  const auto straight = run(-1);
  ASSERT_EQ(straight,
            (std::vector<std::string>{"Down", "Down,Down", "Down,-Down", "Down", "-Down"}));
  for (int k = 1; k < static_cast<int>(steps.size()); ++k)
    EXPECT_EQ(run(k), straight) << "restart before step " << k;
}

TEST_F(DeliveryTest, SilencesSurviveARestart) {
  auto store = open_store();
  std::string id;
  {
    Delivery d(options(store.get()));
    auto s = d.silences().set({.matchers = {{.name = "service", .value = "api"}},
                               .starts_at_ms = kStart,
                               .ends_at_ms = kStart + 3'600'000,
                               .created_by = "me",
                               .comment = "maintenance"});
    ASSERT_TRUE(s.ok());
    id = s.id;
    d.save_silences();
  }
  auto d = make(store.get());
  auto s = d->silences().get(id);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->comment, "maintenance");
  d->put({firing("Down", "api")});
  advance_and_run(*d, seconds(30));
  EXPECT_TRUE(fake_->calls.empty());
}

TEST_F(DeliveryTest, AnAlertPostedAgainKeepsItsStartAndOneWithoutEndTimesOut) {
  auto d = make();
  d->put({firing("Down", "api", kStart)});
  clock_.advance(seconds(20));
  d->put({firing("Down", "api", kStart + 20'000)});
  advance_and_run(*d, seconds(10));
  ASSERT_EQ(fake_->calls.size(), 1u);
  EXPECT_EQ(fake_->calls[0].alerts[0].starts_at_ms, kStart);
  ASSERT_EQ(d->alerts().size(), 1u);
  EXPECT_EQ(d->alerts()[0].receivers, std::vector<std::string>{"team"});
}

TEST_F(DeliveryTest, ReconfiguringKeepsTheLogSoNothingIsSentTwice) {
  auto d = make();
  d->put({firing("Down", "api")});
  advance_and_run(*d, seconds(30));
  ASSERT_EQ(fake_->calls.size(), 1u);
  d->configure(load("route: {receiver: team, group_by: [alertname]}\n", {"team", "db"}),
               {receiver("team", fake_), receiver("db", db_)});
  for (int i = 0; i < 3; ++i) advance_and_run(*d, seconds(60));
  EXPECT_EQ(fake_->calls.size(), 1u);
}

TEST_F(DeliveryTest, WorkersRetryWithBackoffWithinTheFlush) {
  firebreak::SystemClock real;
  auto opts = options();
  opts.clock = &real;
  Delivery d(opts);
  d.configure(load("route: {receiver: team, group_wait: 0s, group_interval: 1m}\n", {"team"}),
              {receiver("team", fake_)});
  fake_->script = {{.error = "503", .retryable = true}, {.error = "503", .retryable = true}};
  d.start();
  d.put({firing("Down", "api", to_ms(real))});
  std::unique_lock lock(fake_->mu);
  ASSERT_TRUE(fake_->cv.wait_for(lock, seconds(10), [&] { return fake_->calls.size() >= 3; }));
  lock.unlock();
  d.stop();
  EXPECT_EQ(fake_->calls.size(), 3u);
}

// A notifier that holds each call until released, counting how many are
// out at once in all and per group.
class GateNotifier final : public Notifier {
 public:
  std::string_view integration() const override { return "gate"; }
  SendResult notify(const dispatch::GroupNotification& g) override {
    std::unique_lock lock(mu);
    ++out;
    ++out_per_group[g.group_key];
    most = std::max(most, out);
    most_per_group = std::max(most_per_group, out_per_group[g.group_key]);
    ++calls;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
    --out;
    --out_per_group[g.group_key];
    return {};
  }
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int out = 0, most = 0, most_per_group = 0, calls = 0;
  std::map<std::string, int> out_per_group;
};

TEST_F(DeliveryTest, GroupsFlushedTogetherAreSentInParallelAndEachGroupInOrder) {
  firebreak::SystemClock real;
  auto opts = options();
  opts.clock = &real;
  Delivery d(opts);
  auto gate = std::make_shared<GateNotifier>();
  d.configure(load("route: {receiver: team, group_by: [service], group_wait: 0s, "
                   "group_interval: 1m}\n",
                   {"team"}),
              {{.name = "team", .integrations = {{.name = "gate/0", .notifier = gate}}}});
  d.start();
  std::vector<dispatch::Alert> alerts;
  for (int i = 0; i < 12; ++i)
    alerts.push_back(firing("Down", "s" + std::to_string(i), to_ms(real)));
  d.put(alerts);
  {
    // All held: at most 8 go out at once (the senders of one integration).
    std::unique_lock lock(gate->mu);
    ASSERT_TRUE(gate->cv.wait_for(lock, seconds(10), [&] { return gate->out == 8; }));
  }
  // A change to a group whose flush is out waits for it.
  d.put({firing("Slow", "s0", to_ms(real))});
  {
    std::lock_guard lock(gate->mu);
    gate->open = true;
  }
  gate->cv.notify_all();
  std::unique_lock lock(gate->mu);
  ASSERT_TRUE(gate->cv.wait_for(lock, seconds(10), [&] { return gate->calls >= 12; }));
  lock.unlock();
  d.stop();
  EXPECT_EQ(gate->most, 8);
  EXPECT_EQ(gate->most_per_group, 1);
}

}  // namespace
}  // namespace watch::alerting
