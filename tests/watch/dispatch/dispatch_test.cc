// The dispatcher's timers and notification log against Alertmanager 0.25's
// documented semantics, with time as plain numbers.
#include "watch/dispatch/dispatch.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace watch::dispatch {
namespace {

constexpr std::int64_t kS = 1000;
constexpr std::int64_t kMin = 60 * kS;

Alert firing(std::string name, std::int64_t starts_at, std::string instance = "a:1") {
  return {.labels = LabelSet::from({{"alertname", name}, {"job", "api"}, {"instance", instance}}),
          .starts_at_ms = starts_at};
}

Alert resolved(Alert a, std::int64_t at) {
  a.ends_at_ms = at;
  return a;
}

struct Harness {
  Route route{.key = "{}",
              .receiver = "hook",
              .group_by = {"alertname"},
              .group_wait_ms = 30 * kS,
              .group_interval_ms = 5 * kMin,
              .repeat_interval_ms = 4 * 60 * kMin};
  std::set<std::string> muted;  // instances
  bool fail = false;
  std::vector<GroupNotification> sent;
  Options options;

  Dispatcher make() {
    return Dispatcher(
        {.route = [this](const LabelSet&) { return std::vector<Route>{route}; },
         .muted =
             [this](const LabelSet& l) { return muted.contains(std::string(l.get("instance"))); },
         .send =
             [this](const GroupNotification& n) {
               if (fail) return false;
               sent.push_back(n);
               return true;
             }},
        options);
  }

  // "firing:a:1,b:1 resolved:c:1" for the last notification.
  std::string last() const {
    if (sent.empty()) return "";
    std::string f, r;
    for (const Alert& a : sent.back().alerts) {
      std::string& out = a.resolved_at(sent.back().at_ms) ? r : f;
      out += (out.empty() ? "" : ",") + std::string(a.labels.get("instance"));
    }
    return "firing:" + f + " resolved:" + r;
  }
};

// Ticks every second from `from` to `to` (inclusive).
void run(Dispatcher& d, std::int64_t from, std::int64_t to) {
  for (std::int64_t t = from; t <= to; t += kS) d.tick(t);
}

TEST(Dispatch, FingerprintIsAlertmanagers) {
  // Read from a real Alertmanager 0.25's GET /api/v2/alerts.
  EXPECT_EQ(fingerprint(
                LabelSet::from({{"alertname", "TargetDown"}, {"job", "api"}, {"instance", "a:1"}})),
            0x298edcca598ac20bull);
  EXPECT_EQ(fingerprint(LabelSet::from({{"foo", "bar"}})), 0x3fff2c2d7595e046ull);
}

TEST(Dispatch, TheFirstNotificationWaitsGroupWaitAndCarriesTheAlertsThatCameMeanwhile) {
  Harness h;
  Dispatcher d = h.make();
  d.put({firing("Down", 0, "a:1")}, 0);
  run(d, 0, 10 * kS);
  d.put({firing("Down", 10 * kS, "b:1")}, 10 * kS);
  run(d, 11 * kS, 29 * kS);
  EXPECT_TRUE(h.sent.empty());
  d.tick(30 * kS);
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.last(), "firing:a:1,b:1 resolved:");
  EXPECT_EQ(h.sent[0].group_key, "{}:{alertname=\"Down\"}");
  EXPECT_EQ(h.sent[0].group_labels, LabelSet::from({{"alertname", "Down"}}));
}

TEST(Dispatch, AnAlertAlreadyOlderThanGroupWaitIsSentAtOnce) {
  Harness h;
  Dispatcher d = h.make();
  d.put({firing("Down", 0)},
        2 * kMin);  // e.g. restored, or from a Prometheus that fired it long ago
  d.tick(2 * kMin);
  EXPECT_EQ(h.sent.size(), 1u);
}

TEST(Dispatch, LaterChangesWaitForTheGroupIntervalAndUnchangedGroupsForTheRepeatInterval) {
  Harness h;
  Dispatcher d = h.make();
  d.put({firing("Down", 0, "a:1")}, 0);
  d.tick(30 * kS);
  ASSERT_EQ(h.sent.size(), 1u);
  d.put({firing("Down", 40 * kS, "b:1")}, 40 * kS);
  run(d, 31 * kS, 30 * kS + 5 * kMin - kS);
  EXPECT_EQ(h.sent.size(), 1u) << "a change waits for the group interval";
  d.tick(30 * kS + 5 * kMin);
  ASSERT_EQ(h.sent.size(), 2u);
  EXPECT_EQ(h.last(), "firing:a:1,b:1 resolved:");
  // Nothing changes: re-sent at the first flush after 4h from the last send.
  for (std::int64_t t = 30 * kS + 10 * kMin; t < 30 * kS + 5 * kMin + 4 * 60 * kMin; t += 5 * kMin)
    d.tick(t);
  EXPECT_EQ(h.sent.size(), 2u);
  d.tick(30 * kS + 5 * kMin + 4 * 60 * kMin);
  EXPECT_EQ(h.sent.size(), 3u);
}

TEST(Dispatch, AResolveIsSentWithTheGroupAndThenTheGroupGoes) {
  Harness h;
  Dispatcher d = h.make();
  d.put({firing("Down", 0, "a:1"), firing("Down", 0, "b:1")}, 0);
  d.tick(30 * kS);
  d.put({resolved(firing("Down", 0, "a:1"), kMin)}, kMin);
  d.tick(30 * kS + 5 * kMin);
  ASSERT_EQ(h.sent.size(), 2u);
  EXPECT_EQ(h.last(), "firing:b:1 resolved:a:1");
  d.put({resolved(firing("Down", 0, "b:1"), 6 * kMin)}, 6 * kMin);
  d.tick(30 * kS + 10 * kMin);
  ASSERT_EQ(h.sent.size(), 3u);
  EXPECT_EQ(h.last(), "firing: resolved:b:1");
  EXPECT_TRUE(d.groups().empty());
  // The log remembers the receiver knows nothing fires (until its retention).
  ASSERT_EQ(d.log().size(), 1u);
  EXPECT_TRUE(d.log().begin()->second.firing.empty());
  d.tick(30 * kS + 10 * kMin + 120 * 60 * kMin + kS);
  EXPECT_TRUE(d.log().empty());
}

TEST(Dispatch, AnAlertThatFiresAndResolvesBetweenFlushesIsSentAsResolvedWithItsGroup) {
  Harness h;
  Dispatcher d = h.make();
  d.put({firing("Down", 0, "a:1")}, 0);
  d.tick(30 * kS);
  d.put({resolved(firing("Down", kMin, "b:1"), 2 * kMin)}, 2 * kMin);
  d.tick(30 * kS + 5 * kMin);
  ASSERT_EQ(h.sent.size(), 2u);
  EXPECT_EQ(h.last(), "firing:a:1 resolved:b:1");
  // Alone (a group nobody was told about), it is not sent at all.
  Harness h2;
  Dispatcher d2 = h2.make();
  d2.put({resolved(firing("Blip", 0), 10 * kS)}, 10 * kS);
  run(d2, 10 * kS, 10 * kMin);
  EXPECT_TRUE(h2.sent.empty());
}

TEST(Dispatch, WithoutSendResolvedResolvesAreNotSentButTheLogForgetsTheAlert) {
  Harness h;
  h.route.send_resolved = false;
  Dispatcher d = h.make();
  d.put({firing("Down", 0)}, 0);
  d.tick(30 * kS);
  d.put({resolved(firing("Down", 0), kMin)}, kMin);
  d.tick(30 * kS + 5 * kMin);
  EXPECT_EQ(h.sent.size(), 1u);
  ASSERT_EQ(d.log().size(), 1u);
  EXPECT_TRUE(d.log().begin()->second.firing.empty());
  // It fires again: a new group, a new page after group_wait.
  d.put({firing("Down", 7 * kMin)}, 7 * kMin);
  d.tick(7 * kMin + 30 * kS);
  EXPECT_EQ(h.sent.size(), 2u);
}

TEST(Dispatch, SilencedAlertsAreLeftOutAndTheirResolveReachesWhoeverWasToldTheyFired) {
  for (bool resolve_muted : {true, false}) {
    Harness h;
    h.options.resolve_muted = resolve_muted;
    Dispatcher d = h.make();
    d.put({firing("Down", 0, "a:1"), firing("Down", 0, "b:1")}, 0);
    d.tick(30 * kS);
    ASSERT_EQ(h.last(), "firing:a:1,b:1 resolved:");
    h.muted = {"a:1"};  // a silence for a:1 during maintenance
    d.put({resolved(firing("Down", 0, "a:1"), 2 * kMin)}, 2 * kMin);
    d.tick(30 * kS + 5 * kMin);
    if (resolve_muted) {
      ASSERT_EQ(h.sent.size(), 2u);
      EXPECT_EQ(h.last(), "firing:b:1 resolved:a:1");
    } else {
      EXPECT_EQ(h.sent.size(), 1u) << "Alertmanager drops the resolve (alertmanager#226)";
    }
    // A silenced alert that was never told is never sent, firing or resolved.
    h.muted = {"c:1"};
    d.put({firing("Down", 6 * kMin, "c:1")}, 6 * kMin);
    const auto before = h.sent.size();
    d.tick(30 * kS + 10 * kMin);
    for (std::size_t i = before; i < h.sent.size(); ++i)
      for (const Alert& a : h.sent[i].alerts) EXPECT_NE(a.labels.get("instance"), "c:1");
  }
}

TEST(Dispatch, AFailedSendIsTriedAgainAtTheNextFlushAndTheLogWaitsForIt) {
  Harness h;
  Dispatcher d = h.make();
  d.put({firing("Down", 0)}, 0);
  h.fail = true;
  d.tick(30 * kS);
  EXPECT_TRUE(h.sent.empty());
  EXPECT_TRUE(d.log().empty());
  h.fail = false;
  d.tick(30 * kS + 5 * kMin);
  EXPECT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(d.log().size(), 1u);
}

TEST(Dispatch, TheLogHandsOutOnlyTheEntriesThatChangedSinceItWasLastAsked) {
  Harness h;
  h.options.log_retention_ms = 10 * 60 * kMin;
  Dispatcher d = h.make();
  d.put({firing("Down", 0), firing("Slow", 0)}, 0);
  d.tick(30 * kS);
  ASSERT_EQ(h.sent.size(), 2u);
  auto changes = d.take_log_changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_TRUE(changes[0].entry && changes[1].entry);
  EXPECT_TRUE(d.take_log_changes().empty());  // nothing new
  // Re-marked (a failed save): handed out again, with the current entry.
  d.mark_log_changed(changes);
  EXPECT_EQ(d.take_log_changes().size(), 2u);
  // One group changes: one entry.
  d.put({resolved(firing("Down", 0), kMin)}, kMin);
  d.tick(30 * kS + 5 * kMin);
  changes = d.take_log_changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_NE(changes[0].key.find("Down"), std::string::npos) << changes[0].key;
  // Entries past the retention are handed out as removed.
  d.put({resolved(firing("Slow", 0), 6 * kMin)}, 6 * kMin);
  d.tick(30 * kS + 10 * kMin);
  d.take_log_changes();
  d.tick(30 * kS + 10 * kMin + 11 * 60 * kMin);
  changes = d.take_log_changes();
  ASSERT_FALSE(changes.empty());
  for (const auto& c : changes) EXPECT_FALSE(c.entry) << c.key;
  EXPECT_TRUE(d.log().empty());
}

TEST(Dispatch, ARestartWithTheLogRestoredNeitherRepeatsAPageNorLosesAResolve) {
  Harness h;
  std::map<std::string, LogEntry> saved;
  {
    Dispatcher d = h.make();
    d.put({firing("Down", 0)}, 0);
    d.tick(30 * kS);
    ASSERT_EQ(h.sent.size(), 1u);
    for (auto& c : d.take_log_changes()) saved[c.key] = *c.entry;  // as the store saves them
  }
  // The restarted watch re-evaluates its restored alert: old enough to
  // flush at once, but the log says the receiver knows.
  Dispatcher d = h.make();
  d.restore_log(saved);
  d.put({firing("Down", 0)}, 2 * kMin);
  run(d, 2 * kMin, 2 * kMin + 10 * kS);
  EXPECT_EQ(h.sent.size(), 1u);
  d.put({resolved(firing("Down", 0), 3 * kMin)}, 3 * kMin);
  d.tick(2 * kMin + 5 * kMin);
  ASSERT_EQ(h.sent.size(), 2u);
  EXPECT_EQ(h.last(), "firing: resolved:a:1");
}

TEST(Dispatch, GroupByAllMakesAGroupPerAlertAndTwoRoutesTwoGroups) {
  Harness h;
  h.route.group_by_all = true;
  Dispatcher d = h.make();
  d.put({firing("Down", 0, "a:1"), firing("Down", 0, "b:1")}, 0);
  EXPECT_EQ(d.groups().size(), 2u);
  d.tick(30 * kS);
  EXPECT_EQ(h.sent.size(), 2u);
}

}  // namespace
}  // namespace watch::dispatch
