#include "watch/store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace watch::store {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/watch_store_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/watch.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> open() {
    std::string error;
    auto s = Store::open(path_, &error);
    EXPECT_NE(s, nullptr) << error;
    return s;
  }

  static void raw_exec(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  std::string dir_;
  std::string path_;
};

rules::AlertStateRecord record(std::string group, std::string rule, std::string instance,
                               rules::AlertState state) {
  rules::AlertStateRecord r;
  r.group = std::move(group);
  r.rule = std::move(rule);
  r.rule_index = 1;
  r.alert.labels = LabelSet::from({{"alertname", r.rule}, {"instance", instance}});
  r.alert.annotations = {{"description", "it's \"down\"\n"}, {"summary", "down"}};
  r.alert.state = state;
  r.alert.value = 0.25;
  r.alert.active_at_ms = 1767225600000;
  r.alert.fired_at_ms = 1767225660000;
  r.alert.resolved_at_ms = 0;
  r.alert.keep_firing_since_ms = 1767225700000;
  r.alert.last_sent_ms = 1767225720000;
  return r;
}

bool same(const rules::AlertStateRecord& a, const rules::AlertStateRecord& b) {
  return a.group == b.group && a.rule == b.rule && a.rule_index == b.rule_index &&
         a.alert.labels == b.alert.labels && a.alert.annotations == b.alert.annotations &&
         a.alert.state == b.alert.state && a.alert.value == b.alert.value &&
         a.alert.active_at_ms == b.alert.active_at_ms &&
         a.alert.fired_at_ms == b.alert.fired_at_ms &&
         a.alert.resolved_at_ms == b.alert.resolved_at_ms &&
         a.alert.keep_firing_since_ms == b.alert.keep_firing_since_ms &&
         a.alert.last_sent_ms == b.alert.last_sent_ms;
}

TEST_F(StoreTest, NewDatabaseIsAtCurrentSchemaVersionInWalMode) {
  auto s = open();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->schema_version(), kSchemaVersion);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(StoreTest, SavedAlertStatesLoadEqualAfterReopen) {
  std::vector<rules::AlertStateRecord> g1 = {
      record("g1", "Down", "a:1", rules::AlertState::kFiring),
      record("g1", "Down", "b:1", rules::AlertState::kPending)};
  g1[1].alert.resolved_at_ms = 1767225800000;
  auto g2 = std::vector{record("g2", "Slow", "c:1", rules::AlertState::kInactive)};
  {
    auto s = open();
    ASSERT_TRUE(s->save_alerts("g1", g1));
    ASSERT_TRUE(s->save_alerts("g2", g2));
  }
  auto s = open();
  auto loaded = s->load_alerts("g1");
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_TRUE(same(loaded[0], g1[0]));
  EXPECT_TRUE(same(loaded[1], g1[1]));
  auto all = s->load_all_alerts();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_TRUE(same(all[2], g2[0]));
}

TEST_F(StoreTest, SaveAlertsReplacesOnlyThatGroup) {
  auto s = open();
  ASSERT_TRUE(s->save_alerts("g1", {record("g1", "Down", "a:1", rules::AlertState::kFiring)}));
  ASSERT_TRUE(s->save_alerts("g2", {record("g2", "Slow", "c:1", rules::AlertState::kFiring)}));
  ASSERT_TRUE(s->save_alerts("g1", {}));
  EXPECT_TRUE(s->load_alerts("g1").empty());
  EXPECT_EQ(s->load_alerts("g2").size(), 1u);
}

TEST_F(StoreTest, UnchangedSaveWritesNothing) {
  auto s = open();
  std::vector<rules::AlertStateRecord> g = {record("g", "Down", "a:1", rules::AlertState::kFiring)};
  ASSERT_TRUE(s->save_alerts("g", g));
  raw_exec(path_, "DELETE FROM alert_states;");  // behind the store's back
  ASSERT_TRUE(s->save_alerts("g", g));
  EXPECT_TRUE(s->load_alerts("g").empty()) << "an identical save was written again";
  g[0].alert.last_sent_ms += 60000;
  ASSERT_TRUE(s->save_alerts("g", g));
  EXPECT_EQ(s->load_alerts("g").size(), 1u);
}

TEST_F(StoreTest, MigratesAVersionOneDatabase) {
  raw_exec(path_,
           "CREATE TABLE alert_states (grp TEXT NOT NULL, rule TEXT NOT NULL, rule_index INTEGER "
           "NOT NULL, labels TEXT NOT NULL, annotations TEXT NOT NULL, state INTEGER NOT NULL, "
           "value REAL NOT NULL, active_at_ms INTEGER NOT NULL, fired_at_ms INTEGER NOT NULL, "
           "resolved_at_ms INTEGER NOT NULL, keep_firing_since_ms INTEGER NOT NULL, last_sent_ms "
           "INTEGER NOT NULL);"
           "INSERT INTO alert_states VALUES ('g','Down',0,'[[\"alertname\",\"Down\"]]','[]',2,1,"
           "1,2,0,0,3);"
           "PRAGMA user_version = 1;");
  auto s = open();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->schema_version(), kSchemaVersion);
  auto alerts = s->load_alerts("g");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert.labels, LabelSet::from({{"alertname", "Down"}}));
  EXPECT_EQ(alerts[0].alert.state, rules::AlertState::kFiring);
  EXPECT_TRUE(s->save_silences({}));  // the latest tables are there
  EXPECT_TRUE(s->save_group_log({{"k", dispatch::LogEntry{.firing = {1}, .at_ms = 1}}}));
}

TEST_F(StoreTest, CheckinStateRoundTripsAcrossAReopen) {
  checkin::JobSnapshot job;
  job.name = "backup";
  job.configured_ms = 1767225600000;
  job.last_checkin_ms = 1767229200000;
  job.last_start_ms = 1767229100000;
  job.last_success_ms = 1767229200000;
  job.open_runs = {{"run-2", 1767229150000}};
  job.last_duration_seconds = 100.5;
  job.last_exit_status = 0;
  job.last_run_failed = false;
  job.history = {{1767229100000, checkin::PingKind::kStart, "run-1", std::nullopt, std::nullopt},
                 {1767229200000, checkin::PingKind::kSuccess, "run-1", 0, 100.5}};
  checkin::JobSnapshot fresh;
  fresh.name = "never-pinged";
  fresh.configured_ms = 5;
  {
    auto s = open();
    ASSERT_NE(s, nullptr);
    std::string error;
    ASSERT_TRUE(s->save_checkins({job, fresh}, &error)) << error;
  }
  auto s = open();
  ASSERT_NE(s, nullptr);
  std::vector<std::string> errors;
  const auto loaded = s->load_checkins(&errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded[0], job);
  EXPECT_EQ(loaded[1], fresh);
}

TEST_F(StoreTest, ADamagedCheckinRowIsSkippedAndNamed) {
  {
    auto s = open();
    ASSERT_NE(s, nullptr);
  }
  raw_exec(path_,
           "INSERT INTO checkin_jobs VALUES ('bad', '{\"configured_ms\": \"x\"}');"
           "INSERT INTO checkin_jobs VALUES ('good', '{\"configured_ms\":1,\"open_runs\":[],"
           "\"history\":[]}');");
  auto s = open();
  ASSERT_NE(s, nullptr);
  std::vector<std::string> errors;
  const auto loaded = s->load_checkins(&errors);
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].name, "good");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("\"bad\""), std::string::npos) << errors[0];
}

TEST_F(StoreTest, TheGroupNotificationLogRoundTripsAcrossAReopen) {
  std::map<std::string, dispatch::LogEntry> log = {
      {"hook\x1fwebhook/0\x1f{}:{alertname=\"Down\"}",
       {.firing = {0x298edcca598ac20bull, 1}, .resolved = {0xffffffffffffffffull}, .at_ms = 42}},
      {"pager\x1fwebhook/0\x1f{}/{severity=\"page\"}:{}",
       {.firing = {}, .resolved = {7}, .at_ms = 43}}};
  {
    auto s = open();
    std::vector<dispatch::LogChange> changes;
    for (const auto& [key, e] : log) changes.push_back({key, e});
    ASSERT_TRUE(s->save_group_log(changes));
  }
  auto s = open();
  std::vector<std::string> errors;
  auto loaded = s->load_group_log(&errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(loaded.size(), 2u);
  for (const auto& [key, e] : log) {
    ASSERT_TRUE(loaded.contains(key)) << key;
    EXPECT_EQ(loaded.at(key).firing, e.firing);
    EXPECT_EQ(loaded.at(key).resolved, e.resolved);
    EXPECT_EQ(loaded.at(key).at_ms, e.at_ms);
  }
  // A save touches only the entries it names: one replaced, one removed.
  const std::string first = log.begin()->first, second = std::next(log.begin())->first;
  ASSERT_TRUE(s->save_group_log(
      {{first, dispatch::LogEntry{.firing = {5}, .at_ms = 50}}, {second, std::nullopt}}));
  loaded = s->load_group_log();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded.at(first).firing, std::set<std::uint64_t>{5});
  EXPECT_EQ(loaded.at(first).at_ms, 50);
  ASSERT_TRUE(s->save_group_log({{first, std::nullopt}}));
  EXPECT_TRUE(s->load_group_log().empty());
}

TEST_F(StoreTest, SilencesRoundTripAcrossAReopenAndADamagedRowIsSkipped) {
  const std::vector<silence::Silence> silences = {
      {.id = "0b7c6b6a-6d5e-4c0a-9d59-2f5b8c1d0e01",
       .matchers = {{.name = "service", .value = "api"},
                    {.name = "severity", .value = "page|ticket", .is_regex = true},
                    {.name = "env", .value = "dev", .is_equal = false}},
       .starts_at_ms = 1767225600000,
       .ends_at_ms = 1767229200000,
       .updated_at_ms = 1767225600123,
       .created_by = "ops \"quoted\"",
       .comment = "deploy\nwindow"},
      {.id = "1c8d7c7b-7e6f-4d1b-8e6a-3a6c9d2e1f02",
       .matchers = {{.name = "alertname", .value = "Down", .is_regex = true, .is_equal = false}},
       .starts_at_ms = 1,
       .ends_at_ms = 2,
       .updated_at_ms = 2,
       .created_by = "",
       .comment = ""}};
  {
    auto s = open();
    ASSERT_TRUE(s->save_silences(silences));
  }
  raw_exec(path_, "INSERT INTO silences VALUES ('bad', '{\"id\": 3}');");
  auto s = open();
  std::vector<std::string> errors;
  auto loaded = s->load_silences(&errors);
  EXPECT_EQ(loaded, silences);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("bad"), std::string::npos) << errors[0];
  // A save replaces them all.
  ASSERT_TRUE(s->save_silences({silences[1]}));
  EXPECT_EQ(s->load_silences(), std::vector<silence::Silence>{silences[1]});
}

TEST_F(StoreTest, RefusesANewerSchema) {
  raw_exec(path_, "PRAGMA user_version = 99;");
  std::string error;
  EXPECT_EQ(Store::open(path_, &error), nullptr);
  EXPECT_NE(error.find("newer"), std::string::npos) << error;
}

TEST_F(StoreTest, OpenFailureIsAnError) {
  std::string error;
  EXPECT_EQ(Store::open(dir_ + "/missing/dir/watch.db", &error), nullptr);
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace watch::store
