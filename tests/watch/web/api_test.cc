// watch's HTTP API over a real socket: Prometheus's query API answers and
// errors, check-ins and Pushgateway pushes.
#include "watch/web/api.h"

#include <gtest/gtest.h>

#include <chrono>

#include "firebreak/http_client.h"
#include "watch/checkin/schedule.h"
#include "watch/tsdb/queryable.h"

namespace watch::web {
namespace {

using namespace std::chrono_literals;

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() : storage_(*db_), engine_(storage_), tracker_(clock_), pushes_(clock_) {}

  void SetUp() override {
    // 2026-01-01T00:00:00Z is the ManualClock's start: samples every 15 s before it.
    for (int i = 0; i <= 20; ++i) {
      const std::int64_t t = kNow - (20 - i) * 15'000;
      head_.append(LabelSet::from({{"__name__", "up"}, {"job", "api"}, {"instance", "a:1"}}), t, 1);
      head_.append(LabelSet::from({{"__name__", "up"}, {"job", "worker"}, {"instance", "b:1"}}), t,
                   i < 10 ? 1 : 0);
    }
    tracker_.configure({{.name = "backup",
                         .schedule = checkin::Schedule::every(std::chrono::hours(1)).value(),
                         .grace = std::chrono::minutes(5)}});
    add_query_api(server_, engine_, *db_, clock_, {.version = "9.9.9"});
    add_checkin_api(server_, tracker_, pushes_, [this] { ++changes_; });
    server_.start();
    base_ = "http://" + server_.address();
  }

  firebreak::HttpResponse get(const std::string& path_and_query) {
    return client_.get(base_ + path_and_query);
  }

  static constexpr std::int64_t kNow = 1767225600000;
  firebreak::ManualClock clock_;
  std::unique_ptr<tsdb::Db> db_ = tsdb::Db::open({}, kNow);  // in memory
  tsdb::Head& head_ = db_->head();
  tsdb::DbQueryable storage_;
  promql::Engine engine_;
  checkin::Tracker tracker_;
  checkin::PushStore pushes_;
  firebreak::AdminServer server_{{.address = "127.0.0.1:0", .max_body_bytes = 1 << 20}};
  firebreak::HttpClient client_;
  std::string base_;
  int changes_ = 0;
};

TEST_F(ApiTest, InstantQueryDefaultsToNowAndAnswersPrometheusJson) {
  const auto r = get("/api/v1/query?query=sum%20by%20(job)%20(up)");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_NE(r.body.find(R"("resultType":"vector")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"({"metric":{"job":"api"},"value":[1767225600,"1"]})"), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"({"metric":{"job":"worker"},"value":[1767225600,"0"]})"),
            std::string::npos)
      << r.body;
}

TEST_F(ApiTest, InstantQueryByFormPostAndRfc3339Time) {
  const auto r = client_.post(base_ + "/api/v1/query",
                              "query=up%7Bjob%3D%22worker%22%7D&time=2025-12-31T23:56:00Z",
                              {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("value":[1767225360,"1"])"), std::string::npos) << r.body;
}

TEST_F(ApiTest, ParseErrorsComeBackAsBadDataWithTheirPosition) {
  const auto r = get("/api/v1/query?query=sum(up");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(R"("errorType":"bad_data")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("1:"), std::string::npos) << r.body;
  EXPECT_EQ(get("/api/v1/query").status, 400);
  const auto t = get("/api/v1/query?query=up&time=yesterday");
  EXPECT_EQ(t.status, 400);
  EXPECT_NE(t.body.find("invalid parameter \\\"time\\\""), std::string::npos) << t.body;
}

TEST_F(ApiTest, RangeQueryReturnsAMatrixAndChecksItsParameters) {
  const auto r = get("/api/v1/query_range?query=up%7Bjob%3D%22worker%22%7D&start=1767225360&end=" +
                     std::to_string(kNow / 1000) + "&step=60");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("resultType":"matrix")"), std::string::npos);
  EXPECT_NE(r.body.find(R"([[1767225360,"1"],[1767225420,"1"],[1767225480,"0"])"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(get("/api/v1/query_range?query=up&start=10&end=5&step=1").status, 400);
  EXPECT_EQ(get("/api/v1/query_range?query=up&start=0&end=5&step=0").status, 400);
  EXPECT_EQ(get("/api/v1/query_range?query=up&start=0&end=100000&step=1").status, 400);
  EXPECT_EQ(get("/api/v1/query_range?query=up&start=0&end=5").status, 400);
}

TEST_F(ApiTest, SeriesLabelsAndLabelValues) {
  auto r = get("/api/v1/series?match%5B%5D=up%7Bjob%3D%22api%22%7D");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            R"({"status":"success","data":[{"__name__":"up","instance":"a:1","job":"api"}]})");
  EXPECT_EQ(get("/api/v1/series").status, 400);
  EXPECT_EQ(get("/api/v1/series?match%5B%5D=up%7B").status, 400);
  r = get("/api/v1/labels");
  EXPECT_EQ(r.body, R"({"status":"success","data":["__name__","instance","job"]})");
  r = get("/api/v1/label/job/values");
  EXPECT_EQ(r.body, R"({"status":"success","data":["api","worker"]})");
  r = get("/api/v1/label/job/values?match%5B%5D=up%7Binstance%3D%22b:1%22%7D");
  EXPECT_EQ(r.body, R"({"status":"success","data":["worker"]})");
  EXPECT_EQ(get("/api/v1/label/1bad/values").status, 400);
  EXPECT_NE(get("/api/v1/status/buildinfo").body.find(R"("version":"9.9.9")"), std::string::npos);
}

TEST_F(ApiTest, PingsReachTheTrackerAndUnknownJobsAre404) {
  EXPECT_EQ(get("/ping/backup/start?rid=r1").status, 200);
  clock_.advance(30s);
  auto r = client_.post(base_ + "/ping/backup?rid=r1", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "OK\n");
  EXPECT_EQ(get("/ping/backup/1").status, 200);
  const auto history = tracker_.history("backup");
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].kind, checkin::PingKind::kStart);
  EXPECT_EQ(history[1].rid, "r1");
  ASSERT_TRUE(history[1].duration_seconds.has_value());
  EXPECT_DOUBLE_EQ(*history[1].duration_seconds, 30.0);
  EXPECT_EQ(history[2].kind, checkin::PingKind::kFail);
  EXPECT_EQ(changes_, 3);
  EXPECT_EQ(get("/ping/unknown").status, 404);
  EXPECT_EQ(get("/ping/backup/999").status, 400);
  EXPECT_EQ(get("/ping/bad%20name").status, 400);
  EXPECT_EQ(changes_, 3);
}

TEST_F(ApiTest, PushgatewayApiStoresAndDeletesGroups) {
  auto r = client_.put(base_ + "/metrics/job/backup/instance/db1", "# TYPE items gauge\nitems 42\n",
                       {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(pushes_.group_count(), 1u);
  bool found = false;
  for (const auto& s : pushes_.snapshot())
    if (s.labels.metric_name() == "items") {
      found = true;
      EXPECT_EQ(s.labels.get("job"), "backup");
      EXPECT_EQ(s.labels.get("instance"), "db1");
      EXPECT_EQ(s.sample.v, 42);
    }
  EXPECT_TRUE(found);
  r = client_.put(base_ + "/metrics/job/backup", "items{ 42\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(r.body.empty());
  r = client_.request("DELETE", base_ + "/metrics/job/backup/instance/db1");
  EXPECT_EQ(r.status, 202);
  for (const auto& s : pushes_.snapshot()) EXPECT_NE(s.labels.get("instance"), "db1");
  // Every push changes the store, a refused one too (its push_failure_time).
  EXPECT_EQ(changes_, 3);
}

}  // namespace
}  // namespace watch::web
