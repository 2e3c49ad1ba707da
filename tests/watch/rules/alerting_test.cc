#include "watch/rules/alerting.h"

#include <gtest/gtest.h>

#include "watch/rules/recording.h"

namespace watch::rules {
namespace {

constexpr std::int64_t kMin = 60'000;

// A query function whose answer the test sets.
struct FakeQuery {
  promql::Vector result;
  std::string error;
  QueryFn fn() {
    return [this](const promql::Expr&, std::int64_t t) {
      promql::QueryResult r;
      if (!error.empty()) {
        r.error = promql::Error{promql::ErrorKind::kExecution, error};
        return r;
      }
      promql::Vector v = result;
      for (auto& s : v) s.t = t;
      r.value = v;
      return r;
    };
  }
  void set(double v) { result = {{LabelSet::from({{"__name__", "up"}, {"job", "api"}}), 0, v}}; }
  void clear() { result.clear(); }
};

RuleSpec alert_spec(std::int64_t for_ms, std::int64_t keep_ms = 0) {
  RuleSpec s;
  s.kind = RuleSpec::Kind::kAlerting;
  s.name = "Down";
  s.expr = "up == 0";
  s.for_ms = for_ms;
  s.keep_firing_for_ms = keep_ms;
  s.labels = {{"severity", "page"}, {"team", "{{ $labels.job }}-oncall"}};
  s.annotations = {{"summary", "{{ $labels.job }} is {{ $value }}"}};
  return s;
}

const LabelSet kAlertLabels = LabelSet::from(
    {{"alertname", "Down"}, {"job", "api"}, {"severity", "page"}, {"team", "api-oncall"}});

TEST(AlertingRule, PendingThenFiringThenResolved) {
  FakeQuery q;
  auto rule = AlertingRule::create(alert_spec(2 * kMin));
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->health(), RuleHealth::kUnknown);

  q.set(0);
  auto out = rule->eval(0, q.fn(), 0);
  EXPECT_EQ(rule->health(), RuleHealth::kOk);
  ASSERT_EQ(rule->active_alerts().size(), 1u);
  Alert a = rule->active_alerts()[0];
  EXPECT_EQ(a.labels, kAlertLabels);
  EXPECT_EQ(a.state, AlertState::kPending);
  EXPECT_EQ(a.active_at_ms, 0);
  ASSERT_EQ(a.annotations.size(), 1u);
  EXPECT_EQ(a.annotations[0].value, "api is 0");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].labels, kAlertLabels.with("__name__", "ALERTS").with("alertstate", "pending"));
  EXPECT_EQ(out[0].sample, (Sample{0, 1}));
  EXPECT_EQ(out[1].labels, kAlertLabels.with("__name__", "ALERTS_FOR_STATE"));

  rule->eval(kMin, q.fn(), 0);
  EXPECT_EQ(rule->state(), AlertState::kPending);
  out = rule->eval(2 * kMin, q.fn(), 0);
  EXPECT_EQ(rule->state(), AlertState::kFiring);
  EXPECT_EQ(rule->active_alerts()[0].fired_at_ms, 2 * kMin);
  EXPECT_EQ(out[0].labels.get("alertstate"), "firing");
  EXPECT_EQ(out[1].sample.v, 0);  // active since t=0 s

  q.clear();
  out = rule->eval(3 * kMin, q.fn(), 0);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(rule->active_alerts().empty());
  ASSERT_EQ(rule->all_alerts().size(), 1u);  // resolved, retained
  EXPECT_EQ(rule->all_alerts()[0].resolved_at_ms, 3 * kMin);
  EXPECT_EQ(rule->all_alerts()[0].state, AlertState::kInactive);

  // Retained for 15m, then dropped.
  rule->eval(3 * kMin + kResolvedRetentionMs, q.fn(), 0);
  EXPECT_EQ(rule->all_alerts().size(), 1u);
  rule->eval(4 * kMin + kResolvedRetentionMs, q.fn(), 0);
  EXPECT_TRUE(rule->all_alerts().empty());
}

TEST(AlertingRule, SpikeShorterThanForNeverFires) {
  FakeQuery q;
  auto rule = AlertingRule::create(alert_spec(5 * kMin));
  for (int m = 0; m < 4; ++m) {
    q.set(0);
    rule->eval(m * kMin, q.fn(), 0);
    EXPECT_NE(rule->state(), AlertState::kFiring);
  }
  q.clear();
  rule->eval(4 * kMin, q.fn(), 0);
  EXPECT_TRUE(rule->all_alerts().empty());  // a pending alert is dropped, not resolved
  q.set(0);
  rule->eval(5 * kMin, q.fn(), 0);
  EXPECT_EQ(rule->active_alerts()[0].active_at_ms, 5 * kMin);  // the timer restarts
}

TEST(AlertingRule, KeepFiringFor) {
  FakeQuery q;
  auto rule = AlertingRule::create(alert_spec(0, 3 * kMin));
  q.set(0);
  rule->eval(0, q.fn(), 0);
  EXPECT_EQ(rule->state(), AlertState::kFiring);  // for: 0 fires at once
  q.clear();
  for (int m = 1; m <= 3; ++m) {
    auto out = rule->eval(m * kMin, q.fn(), 0);
    EXPECT_EQ(rule->state(), AlertState::kFiring) << m;
    EXPECT_EQ(rule->active_alerts()[0].keep_firing_since_ms, kMin);
    EXPECT_EQ(out.size(), 2u);
  }
  rule->eval(4 * kMin, q.fn(), 0);
  EXPECT_EQ(rule->state(), AlertState::kInactive);
  EXPECT_EQ(rule->all_alerts()[0].resolved_at_ms, 4 * kMin);
}

TEST(AlertingRule, ConditionBackResetsKeepFiringSince) {
  FakeQuery q;
  auto rule = AlertingRule::create(alert_spec(0, 2 * kMin));
  q.set(0);
  rule->eval(0, q.fn(), 0);
  q.clear();
  rule->eval(kMin, q.fn(), 0);
  q.set(0);
  rule->eval(2 * kMin, q.fn(), 0);
  EXPECT_EQ(rule->active_alerts()[0].keep_firing_since_ms, 0);
  EXPECT_EQ(rule->active_alerts()[0].active_at_ms, 0);
}

TEST(AlertingRule, QueryErrorSetsHealthAndKeepsState) {
  FakeQuery q;
  auto rule = AlertingRule::create(alert_spec(kMin));
  q.set(0);
  rule->eval(0, q.fn(), 0);
  q.error = "boom";
  EXPECT_TRUE(rule->eval(kMin, q.fn(), 0).empty());
  EXPECT_EQ(rule->health(), RuleHealth::kErr);
  EXPECT_EQ(rule->last_error(), "boom");
  EXPECT_EQ(rule->state(), AlertState::kPending);
  q.error.clear();
  rule->eval(2 * kMin, q.fn(), 0);
  EXPECT_EQ(rule->health(), RuleHealth::kOk);
  EXPECT_TRUE(rule->last_error().empty());
  EXPECT_EQ(rule->state(), AlertState::kFiring);
}

TEST(AlertingRule, DuplicateLabelSetsAndLimit) {
  FakeQuery q;
  RuleSpec s = alert_spec(0);
  s.labels = {{"job", "fixed"}};
  auto rule = AlertingRule::create(s);
  q.result = {{LabelSet::from({{"__name__", "up"}, {"job", "a"}}), 0, 0},
              {LabelSet::from({{"__name__", "up"}, {"job", "b"}}), 0, 0}};
  rule->eval(0, q.fn(), 0);
  EXPECT_EQ(rule->health(), RuleHealth::kErr);
  EXPECT_NE(rule->last_error().find("same labelset"), std::string::npos);

  auto limited = AlertingRule::create(alert_spec(0));
  limited->eval(0, q.fn(), 1);
  EXPECT_EQ(limited->health(), RuleHealth::kErr);
  EXPECT_EQ(limited->last_error(), "exceeded limit of 1 with 2 alerts");
  EXPECT_TRUE(limited->all_alerts().empty());
}

TEST(AlertingRule, BadTemplateGoesIntoTheAnnotation) {
  FakeQuery q;
  RuleSpec s = alert_spec(0);
  s.annotations = {{"summary", "{{ humanize \"x\" }}"}};
  auto rule = AlertingRule::create(s);
  q.set(0);
  rule->eval(0, q.fn(), 0);
  EXPECT_EQ(rule->health(), RuleHealth::kOk);
  EXPECT_EQ(rule->active_alerts()[0].annotations[0].value.rfind("<error expanding template: ", 0),
            0u);
}

TEST(AlertingRule, NotificationsFiringResendAndResolved) {
  FakeQuery q;
  AlertingOptions o;
  o.external_url = "http://watch:9090";
  auto rule = AlertingRule::create(alert_spec(kMin), o);
  q.set(0);
  rule->eval(0, q.fn(), 0);
  EXPECT_TRUE(rule->notifications(0, kMin, kMin).empty());  // pending: nothing
  rule->eval(kMin, q.fn(), 0);
  auto ns = rule->notifications(kMin, kMin, kMin);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_FALSE(ns[0].resolved);
  EXPECT_EQ(ns[0].starts_at_ms, kMin);
  EXPECT_EQ(ns[0].ends_at_ms, kMin + 4 * kMin);
  EXPECT_EQ(ns[0].labels, kAlertLabels);
  EXPECT_EQ(ns[0].generator_url, "http://watch:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1");
  rule->eval(2 * kMin, q.fn(), 0);
  EXPECT_TRUE(rule->notifications(2 * kMin, kMin, kMin).empty());  // resend delay not passed
  rule->eval(2 * kMin + 1, q.fn(), 0);
  EXPECT_EQ(rule->notifications(2 * kMin + 1, kMin, kMin).size(), 1u);  // re-sent
  q.clear();
  rule->eval(3 * kMin, q.fn(), 0);
  ns = rule->notifications(3 * kMin, kMin, kMin);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_TRUE(ns[0].resolved);
  EXPECT_EQ(ns[0].ends_at_ms, 3 * kMin);
}

TEST(AlertingRule, ExportImportKeepsTimers) {
  FakeQuery q;
  auto rule = AlertingRule::create(alert_spec(5 * kMin));
  q.set(0);
  rule->eval(0, q.fn(), 0);
  rule->eval(3 * kMin, q.fn(), 0);
  auto saved = rule->export_state();
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_EQ(saved[0].state, AlertState::kPending);

  auto restarted = AlertingRule::create(alert_spec(5 * kMin));
  restarted->import_state(saved);
  restarted->eval(5 * kMin, q.fn(), 0);
  EXPECT_EQ(restarted->state(), AlertState::kFiring);  // for counted from t=0, not the restart
  auto ns = restarted->notifications(5 * kMin, kMin, kMin);
  ASSERT_EQ(ns.size(), 1u);

  // A firing alert already sent is not re-paged right after a restart.
  auto again = AlertingRule::create(alert_spec(5 * kMin));
  again->import_state(restarted->export_state());
  again->eval(5 * kMin + 30'000, q.fn(), 0);
  EXPECT_TRUE(again->notifications(5 * kMin + 30'000, kMin, kMin).empty());
  EXPECT_EQ(again->active_alerts()[0].fired_at_ms, 5 * kMin);
}

// A rule over a 4-minute window, restarted after watch was down from 10m
// to 13m (three quarters of the window): the expression finds nothing
// until fresh samples fill its window again.
RuleSpec windowed_spec(std::int64_t for_ms) {
  RuleSpec s = alert_spec(for_ms);
  s.expr = "rate(up[4m]) == 0";
  return s;
}

std::unique_ptr<AlertingRule> restarted_with(const RuleSpec& spec, FakeQuery& q,
                                             std::int64_t active_at, std::int64_t until) {
  auto before = AlertingRule::create(spec);
  q.set(0);
  for (std::int64_t t = active_at; t <= until; t += kMin) before->eval(t, q.fn(), 0);
  before->notifications(until, kMin, kMin);
  auto after = AlertingRule::create(spec);
  after->import_state(before->export_state());
  return after;
}

TEST(AlertingRule, ARestoredAlertKeepsItsStateWhileTheOutageFillsHalfItsWindow) {
  FakeQuery q;
  auto rule = restarted_with(windowed_spec(2 * kMin), q, 0, 10 * kMin);
  ASSERT_EQ(rule->state(), AlertState::kFiring);
  rule->set_restart_gap(10 * kMin, 13 * kMin);
  q.clear();
  // 13m, 14m, 15m: the gap fills 3, 3 and 2 of the window's 4 minutes.
  for (std::int64_t t : {13 * kMin, 14 * kMin, 15 * kMin}) {
    auto out = rule->eval(t, q.fn(), 0);
    EXPECT_EQ(rule->state(), AlertState::kFiring) << t;
    EXPECT_EQ(out.size(), 2u) << "ALERTS and ALERTS_FOR_STATE at " << t;
    EXPECT_TRUE(rule->notifications(t, 10 * kMin, kMin).empty()) << t;
  }
  // Then the window reads mostly fresh samples: absence is a resolution.
  rule->eval(15 * kMin + 1000, q.fn(), 0);
  EXPECT_EQ(rule->state(), AlertState::kInactive);
  auto ns = rule->notifications(15 * kMin + 1000, 10 * kMin, kMin);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_TRUE(ns[0].resolved);
}

TEST(AlertingRule, AHeldPendingAlertNeitherFiresNorRestartsItsFor) {
  FakeQuery q;
  auto rule = restarted_with(windowed_spec(5 * kMin), q, 8 * kMin, 10 * kMin);
  ASSERT_EQ(rule->state(), AlertState::kPending);
  rule->set_restart_gap(10 * kMin, 13 * kMin);
  q.clear();
  rule->eval(13 * kMin, q.fn(), 0);  // `for` has run out, but nothing shows the condition
  EXPECT_EQ(rule->state(), AlertState::kPending);
  q.set(0);
  rule->eval(14 * kMin, q.fn(), 0);
  ASSERT_EQ(rule->state(), AlertState::kFiring);
  EXPECT_EQ(rule->active_alerts()[0].active_at_ms, 8 * kMin);
}

TEST(AlertingRule, AShortOutageHoldsUntilTheShortestWindowIsHalfFresh) {
  FakeQuery q;
  // One minute down: restarts in quick succession may have left the window
  // sparse, so it is held until half of it is fresh (2 of 4 minutes).
  auto rule = restarted_with(windowed_spec(2 * kMin), q, 0, 10 * kMin);
  rule->set_restart_gap(10 * kMin, 11 * kMin);
  q.clear();
  for (std::int64_t t : {11 * kMin, 12 * kMin, 13 * kMin}) {
    rule->eval(t, q.fn(), 0);
    EXPECT_EQ(rule->state(), AlertState::kFiring) << t;
  }
  rule->eval(13 * kMin + 1000, q.fn(), 0);
  EXPECT_EQ(rule->state(), AlertState::kInactive);

  // Of a 1 h and a 5 m window, the 5 m one bounds the hold (2.5 minutes),
  // not the hour's half.
  RuleSpec burn = alert_spec(2 * kMin);
  burn.expr = "rate(up[1h]) == 0 and rate(up[5m]) == 0";
  auto both = restarted_with(burn, q, 0, 10 * kMin);
  both->set_restart_gap(10 * kMin, 10 * kMin + 1000);
  q.clear();
  both->eval(12 * kMin, q.fn(), 0);
  EXPECT_EQ(both->state(), AlertState::kFiring);
  both->eval(13 * kMin, q.fn(), 0);
  EXPECT_EQ(both->state(), AlertState::kInactive);
}

TEST(AlertingRule, AnAlertNewSinceTheStartOrWithoutAFreshWindowIsNotHeld) {
  FakeQuery q;

  // An alert that became pending after the start is judged on fresh data.
  auto fresh = AlertingRule::create(windowed_spec(2 * kMin));
  fresh->set_restart_gap(10 * kMin, 13 * kMin);
  q.set(0);
  fresh->eval(13 * kMin, q.fn(), 0);
  q.clear();
  fresh->eval(14 * kMin, q.fn(), 0);
  EXPECT_EQ(fresh->state(), AlertState::kInactive);

  // No range window (an instant selector reads the fresh scrape): not held.
  auto instant = restarted_with(alert_spec(2 * kMin), q, 0, 10 * kMin);
  instant->set_restart_gap(10 * kMin, 13 * kMin);
  q.clear();
  instant->eval(13 * kMin, q.fn(), 0);
  EXPECT_EQ(instant->state(), AlertState::kInactive);

  // An offset window looks at yesterday, which the outage did not touch.
  RuleSpec yesterday = alert_spec(2 * kMin);
  yesterday.expr = "rate(up[4m] offset 1d) == 0";
  auto offset = restarted_with(yesterday, q, 0, 10 * kMin);
  offset->set_restart_gap(10 * kMin, 13 * kMin);
  q.clear();
  offset->eval(13 * kMin, q.fn(), 0);
  EXPECT_EQ(offset->state(), AlertState::kInactive);
}

TEST(RecordingRule, RenamesAndLabels) {
  FakeQuery q;
  RuleSpec s;
  s.name = "job:up:sum";
  s.expr = "sum by (job) (up)";
  s.labels = {{"tier", "1"}};
  auto rule = RecordingRule::create(s);
  ASSERT_TRUE(rule);
  q.set(3);
  auto out = rule->eval(kMin, q.fn(), 0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].labels,
            LabelSet::from({{"__name__", "job:up:sum"}, {"job", "api"}, {"tier", "1"}}));
  EXPECT_EQ(out[0].sample, (Sample{kMin, 3}));
  EXPECT_EQ(rule->health(), RuleHealth::kOk);
  q.result.push_back(q.result[0]);
  q.result[1].labels = q.result[1].labels.with("x", "y");
  EXPECT_TRUE(rule->eval(2 * kMin, q.fn(), 1).empty());
  EXPECT_EQ(rule->last_error(), "exceeded limit of 1 with 2 series");
  EXPECT_FALSE(RecordingRule::create(RuleSpec{.expr = "sum("}));
}

}  // namespace
}  // namespace watch::rules
