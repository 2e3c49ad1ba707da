#include "watch/rules/group.h"

#include <gtest/gtest.h>

#include "watch/promql/engine.h"
#include "watch/promql/storage.h"

namespace watch::rules {
namespace {

constexpr std::int64_t kMin = 60'000;

GroupSpec spec() {
  auto r = parse_rule_file(R"(groups:
  - name: g
    interval: 30s
    rules:
      - record: job:up:min
        expr: min by (job) (up)
      - alert: JobDown
        expr: job:up:min == 0
        for: 1m
        annotations: {summary: "{{ $labels.job }} down"}
)",
                           "g.yml");
  EXPECT_TRUE(r.ok());
  return r.file.groups.at(0);
}

struct Harness {
  promql::MemoryStorage storage;
  promql::Engine engine{storage};
  std::vector<Notification> sent;
  std::vector<OutputSample> appended;
  GroupDeps deps() {
    return {engine_query_fn(engine),
            [this](const auto& ns) { sent.insert(sent.end(), ns.begin(), ns.end()); },
            [this](const std::vector<OutputSample>& out) {
              for (const auto& s : out) storage.add(s.labels, s.sample);
              appended.insert(appended.end(), out.begin(), out.end());
            }};
  }
  void up(std::int64_t t, double v) {
    storage.add(LabelSet::from({{"__name__", "up"}, {"job", "api"}}), Sample{t, v});
  }
};

TEST(Group, RecordingFeedsAlertInTheSameEvaluation) {
  Harness h;
  Group g(spec(), h.deps());
  EXPECT_EQ(g.interval_ms(), 30000);
  h.up(0, 0);
  auto stats = g.eval(0);
  EXPECT_EQ(stats.failed_rules, 0u);
  // job:up:min written at t=0 and seen by JobDown at t=0.
  ASSERT_EQ(g.alerting_rules()[0]->active_alerts().size(), 1u);
  EXPECT_EQ(g.alerting_rules()[0]->active_alerts()[0].active_at_ms, 0);
  h.up(kMin, 0);
  g.eval(kMin);
  EXPECT_EQ(g.alerting_rules()[0]->state(), AlertState::kFiring);
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0].annotations[0].value, "api down");
}

TEST(Group, StalenessMarkersForSeriesThatWentAway) {
  Harness h;
  Group g(spec(), h.deps());
  h.up(0, 0);
  g.eval(0);
  h.up(kMin, 0);
  g.eval(kMin);  // pending -> firing: the pending ALERTS series goes stale
  bool stale_pending = false;
  for (const auto& s : h.appended)
    if (s.labels.get("alertstate") == "pending" && s.sample.t == kMin && is_stale_nan(s.sample.v))
      stale_pending = true;
  EXPECT_TRUE(stale_pending);
  h.up(2 * kMin, 1);
  h.appended.clear();
  g.eval(2 * kMin);  // resolved: firing ALERTS and ALERTS_FOR_STATE stale
  int stale = 0;
  for (const auto& s : h.appended)
    if (is_stale_nan(s.sample.v)) ++stale;
  EXPECT_EQ(stale, 2);
  ASSERT_EQ(h.sent.size(), 2u);
  EXPECT_TRUE(h.sent[1].resolved);
}

TEST(Group, FailingRuleDoesNotStopTheOthers) {
  Harness h;
  auto r = parse_rule_file(R"(groups:
  - name: g
    rules:
      - record: bad
        expr: up + on() group_left up
      - record: good
        expr: up
)",
                           "g.yml");
  ASSERT_TRUE(r.ok());
  Group g(r.file.groups[0], h.deps());
  h.storage.add(LabelSet::from({{"__name__", "up"}, {"job", "a"}}), Sample{0, 1});
  h.storage.add(LabelSet::from({{"__name__", "up"}, {"job", "b"}}), Sample{0, 1});
  auto stats = g.eval(0);
  EXPECT_EQ(stats.failed_rules, 1u);
  auto* bad = std::get<std::unique_ptr<RecordingRule>>(g.rules()[0]).get();
  auto* good = std::get<std::unique_ptr<RecordingRule>>(g.rules()[1]).get();
  EXPECT_EQ(bad->health(), RuleHealth::kErr);
  EXPECT_FALSE(bad->last_error().empty());
  EXPECT_EQ(good->health(), RuleHealth::kOk);
  EXPECT_EQ(h.appended.size(), 2u);
}

TEST(Group, RestartNeitherRepagesNorResetsFor) {
  Harness h;
  std::vector<AlertStateRecord> saved;
  {
    Group g(spec(), h.deps());
    h.up(0, 0);
    g.eval(0);
    h.up(kMin, 0);
    g.eval(kMin);
    ASSERT_EQ(h.sent.size(), 1u);
    saved = g.export_state();
  }
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_EQ(saved[0].group, "g");
  EXPECT_EQ(saved[0].rule, "JobDown");
  EXPECT_EQ(saved[0].rule_index, 1);
  EXPECT_EQ(saved[0].alert.state, AlertState::kFiring);
  Group restarted(spec(), h.deps());
  restarted.import_state(saved);
  h.up(kMin + 30'000, 0);
  restarted.eval(kMin + 30'000);
  EXPECT_EQ(h.sent.size(), 1u);  // no second page
  auto alerts = restarted.alerting_rules()[0]->active_alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].active_at_ms, 0);
  EXPECT_EQ(alerts[0].fired_at_ms, kMin);
  // Records of other groups are ignored.
  saved[0].group = "other";
  Group fresh(spec(), h.deps());
  fresh.import_state(saved);
  EXPECT_TRUE(fresh.export_state().empty());
}

// Two rules of one name, split by `for` as the rule pack does: "api" moves
// from the 1m class to the 2m class (a retuned threshold) across a restart.
GroupSpec split_spec(const std::string& one_minute_job, const std::string& two_minute_job) {
  auto r = parse_rule_file(
      "groups:\n"
      "  - name: g\n"
      "    interval: 30s\n"
      "    rules:\n"
      "      - alert: Down\n"
      "        expr: up{job=\"" +
          one_minute_job +
          "\"} == 0\n"
          "        for: 1m\n"
          "        labels: {severity: page}\n"
          "      - alert: Down\n"
          "        expr: up{job=\"" +
          two_minute_job +
          "\"} == 0\n"
          "        for: 2m\n"
          "        labels: {severity: page}\n",
      "g.yml");
  EXPECT_TRUE(r.ok());
  return r.file.groups.at(0);
}

// Every alert the group holds, across its rules.
std::vector<Alert> all_active(const Group& g) {
  std::vector<Alert> all;
  for (const auto* rule : g.alerting_rules())
    for (const auto& a : rule->active_alerts()) all.push_back(a);
  return all;
}

// `from_first`: the alert moves from the first rule of its name to the
// second, else from the second to the first (the rule that takes it over is
// evaluated after, or before, the one that held it).
void expect_moved_alert_keeps_identity(bool from_first) {
  SCOPED_TRACE(from_first ? "from the first rule to the second" : "from the second to the first");
  const auto before_retune = [&] {
    return from_first ? split_spec("api", "db") : split_spec("db", "api");
  };
  const auto after_retune = [&] {
    return from_first ? split_spec("db", "api") : split_spec("api", "db");
  };
  Harness h;
  std::vector<AlertStateRecord> saved;
  {
    Group g(before_retune(), h.deps());
    // api's rule is 1m or 2m: down for 2m, it fires either way.
    for (std::int64_t t = 0; t <= 2 * kMin; t += 30'000) {
      h.up(t, 0);
      g.eval(t);
    }
    ASSERT_EQ(h.sent.size(), 1u);
    saved = g.export_state();
  }
  ASSERT_EQ(saved.size(), 1u);
  const std::int64_t fired_at = saved[0].alert.fired_at_ms;
  // Retuned: api is in the other rule now. The alert keeps its labels, its
  // activeAt and its firing state; nothing resolves, nothing pages again.
  Group retuned(after_retune(), h.deps());
  retuned.import_state(saved);
  // Listed and exported before any evaluation: nothing is lost or hidden.
  EXPECT_EQ(retuned.export_state().size(), 1u);
  ASSERT_EQ(all_active(retuned).size(), 1u);
  EXPECT_EQ(all_active(retuned)[0].state, AlertState::kFiring);
  for (std::int64_t t = 2 * kMin + 30'000; t <= 4 * kMin; t += 30'000) {
    h.up(t, 0);
    retuned.eval(t);
  }
  // Resent (every resend_delay), never as a new episode.
  for (const auto& n : h.sent) {
    EXPECT_FALSE(n.resolved) << "resolved after the retune";
    EXPECT_EQ(n.starts_at_ms, fired_at) << "paged again with a new startsAt";
  }
  const auto all = all_active(retuned);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].state, AlertState::kFiring);
  EXPECT_EQ(all[0].active_at_ms, 0);
  EXPECT_EQ(all[0].fired_at_ms, fired_at);
  // The rule that produces it holds it.
  EXPECT_EQ(retuned.alerting_rules()[from_first ? 1 : 0]->active_alerts().size(), 1u);

  // An alert that no rule produces after the restart (it cleared while
  // watch was down) is resolved once, at the first evaluation.
  const auto before = h.sent.size();
  Group cleared(after_retune(), h.deps());
  cleared.import_state(retuned.export_state());
  h.up(5 * kMin, 1);
  cleared.eval(5 * kMin);
  std::size_t resolved = 0;
  for (std::size_t i = before; i < h.sent.size(); ++i) resolved += h.sent[i].resolved ? 1 : 0;
  EXPECT_EQ(resolved, 1u);
  const auto after_resolution = h.sent.size();
  h.up(5 * kMin + 30'000, 1);
  cleared.eval(5 * kMin + 30'000);
  EXPECT_EQ(h.sent.size(), after_resolution) << "resolved more than once";
  EXPECT_TRUE(all_active(cleared).empty());
}

TEST(Group, AnAlertThatMovesToALaterRuleOfItsNameKeepsItsIdentityAndTimers) {
  expect_moved_alert_keeps_identity(true);
}

TEST(Group, AnAlertThatMovesToAnEarlierRuleOfItsNameKeepsItsIdentityAndTimers) {
  expect_moved_alert_keeps_identity(false);
}

}  // namespace
}  // namespace watch::rules
