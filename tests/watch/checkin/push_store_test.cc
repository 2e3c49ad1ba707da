// The Pushgateway push API semantics: grouping-key paths (with @base64),
// PUT vs POST vs DELETE, grouping labels on every sample, push_time_seconds
// and push_failure_time_seconds, and the refusals (bad paths, conflicting
// labels, timestamps, limits).
#include "watch/checkin/push_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace watch::checkin {
namespace {

using std::chrono::seconds;

constexpr double kStart = 1767225600.0;  // ManualClock's start

std::vector<std::string> lines(const std::vector<SeriesSample>& samples) {
  std::vector<std::string> out;
  for (const auto& s : samples)
    out.push_back(s.labels.to_string() + " " + fmt::format("{}", s.sample.v));
  return out;
}

std::string path_labels(std::string_view path) {
  auto r = parse_push_path(path);
  return r.ok() ? r.value().to_string() : "error: " + r.error().to_string();
}

TEST(PushPath, JobAndLabels) {
  EXPECT_EQ(path_labels("/metrics/job/backup"), "{job=\"backup\"}");
  EXPECT_EQ(path_labels("/metrics/job/backup/instance/db1/shard/3"),
            "{instance=\"db1\", job=\"backup\", shard=\"3\"}");
  EXPECT_EQ(path_labels("/metrics/job/backup/instance/db1/"), "{instance=\"db1\", job=\"backup\"}");
  EXPECT_EQ(path_labels("/metrics/job/a%20b"), "{job=\"a b\"}");
}

TEST(PushPath, Base64Values) {
  // "a/b" in URL-safe base64 is "YS9i"; "=" is the empty value.
  EXPECT_EQ(path_labels("/metrics/job@base64/YS9i"), "{job=\"a/b\"}");
  EXPECT_EQ(path_labels("/metrics/job/x/path@base64/L3Zhci90bXA="),
            "{job=\"x\", path=\"/var/tmp\"}");
  EXPECT_EQ(path_labels("/metrics/job/x/path@base64/L3Zhci90bXA"),
            "{job=\"x\", path=\"/var/tmp\"}");
  // URL-safe alphabet: 0xfb 0xff -> "-_8".
  EXPECT_EQ(parse_push_path("/metrics/job/x/v@base64/-_8").value().get("v"), "\xfb\xff");
  EXPECT_EQ(path_labels("/metrics/job/x/instance@base64/="), "{job=\"x\"}");
}

TEST(PushPath, Errors) {
  EXPECT_EQ(path_labels("/metric/job/x"),
            "error: push: path must be /metrics/job/<job>{/<label>/<value>}");
  EXPECT_EQ(path_labels("/metrics/instance/x"),
            "error: push: the path must start with /metrics/job/, not /metrics/instance/");
  EXPECT_EQ(path_labels("/metrics/job/"), "error: push: job name must not be empty");
  EXPECT_EQ(path_labels("/metrics/job@base64/="), "error: push: job name must not be empty");
  EXPECT_EQ(path_labels("/metrics/job/x/instance"),
            "error: push: label 'instance' has no value (the path must alternate "
            "/<label>/<value>)");
  EXPECT_EQ(path_labels("/metrics/job/x/1abc/v"), "error: push: invalid label name '1abc'");
  EXPECT_EQ(path_labels("/metrics/job/x/__name__/v"),
            "error: push: label name '__name__' is reserved (starts with __)");
  EXPECT_EQ(path_labels("/metrics/job/x/a/1/a/2"),
            "error: push: label 'a' appears twice in the path");
  EXPECT_EQ(path_labels("/metrics/job/x/job/y"),
            "error: push: label 'job' appears twice in the path");
  EXPECT_EQ(path_labels("/metrics/job/x/v@base64/!!"),
            "error: push: value of label 'v' is not valid base64: '!!'");
  EXPECT_EQ(path_labels("/metrics/job/x%zz"), "error: push: bad percent-encoding in the path");
}

class PushStoreTest : public ::testing::Test {
 protected:
  firebreak::ManualClock clock;
  PushStore store{clock};
};

TEST_F(PushStoreTest, PutAddsGroupingLabelsAndPushTime) {
  auto r = store.push(PushMethod::kPut, "/metrics/job/backup/instance/db1",
                      "# TYPE job_items_processed gauge\njob_items_processed 42\n"
                      "job_last_success_timestamp_seconds{stage=\"dump\"} 1.7e9\n");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(lines(store.snapshot()),
            (std::vector<std::string>{
                "job_items_processed{instance=\"db1\", job=\"backup\"} 42",
                "job_last_success_timestamp_seconds{instance=\"db1\", job=\"backup\", "
                "stage=\"dump\"} 1700000000",
                "push_failure_time_seconds{instance=\"db1\", job=\"backup\"} 0",
                "push_time_seconds{instance=\"db1\", job=\"backup\"} 1767225600",
            }));
  for (const auto& s : store.snapshot()) {
    EXPECT_EQ(s.sample.t, static_cast<std::int64_t>(kStart * 1000));
  }
}

TEST_F(PushStoreTest, PutReplacesEverythingInTheGroup) {
  ASSERT_TRUE(store.push(PushMethod::kPut, "/metrics/job/j", "a 1\nb 2\n").ok());
  clock.advance(seconds(10));
  ASSERT_TRUE(store.push(PushMethod::kPut, "/metrics/job/j", "a 3\n").ok());
  EXPECT_EQ(lines(store.snapshot()),
            (std::vector<std::string>{"a{job=\"j\"} 3", "push_failure_time_seconds{job=\"j\"} 0",
                                      "push_time_seconds{job=\"j\"} 1767225610"}));
}

TEST_F(PushStoreTest, PutWithEmptyBodyEmptiesTheGroupButKeepsIt) {
  ASSERT_TRUE(store.push(PushMethod::kPut, "/metrics/job/j", "a 1\n").ok());
  ASSERT_TRUE(store.push(PushMethod::kPut, "/metrics/job/j", "").ok());
  EXPECT_EQ(lines(store.snapshot()),
            (std::vector<std::string>{"push_failure_time_seconds{job=\"j\"} 0",
                                      "push_time_seconds{job=\"j\"} 1767225600"}));
}

TEST_F(PushStoreTest, PostReplacesOnlyTheFamiliesInTheBody) {
  ASSERT_TRUE(store
                  .push(PushMethod::kPut, "/metrics/job/j",
                        "a{x=\"1\"} 1\na{x=\"2\"} 2\nb 2\n"
                        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                        "h_sum 3\nh_count 2\n")
                  .ok());
  // a is replaced as a whole (x="2" goes); b stays; the histogram is replaced
  // as one family (its _sum and _count go with its buckets).
  ASSERT_TRUE(store
                  .push(PushMethod::kPost, "/metrics/job/j",
                        "a{x=\"1\"} 10\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 5\nh_sum 9\n"
                        "h_count 5\n")
                  .ok());
  EXPECT_EQ(lines(store.snapshot()), (std::vector<std::string>{
                                         "a{job=\"j\", x=\"1\"} 10",
                                         "b{job=\"j\"} 2",
                                         "h_bucket{job=\"j\", le=\"+Inf\"} 5",
                                         "h_count{job=\"j\"} 5",
                                         "h_sum{job=\"j\"} 9",
                                         "push_failure_time_seconds{job=\"j\"} 0",
                                         "push_time_seconds{job=\"j\"} 1767225600",
                                     }));
}

TEST_F(PushStoreTest, GroupsAreIndependent) {
  ASSERT_TRUE(store.push(PushMethod::kPut, "/metrics/job/j/instance/a", "m 1\n").ok());
  ASSERT_TRUE(store.push(PushMethod::kPut, "/metrics/job/j/instance/b", "m 2\n").ok());
  ASSERT_TRUE(store.push(PushMethod::kPut, "/metrics/job/j/instance/a", "").ok());
  EXPECT_EQ(store.group_count(), 2u);
  int m = 0;
  for (const auto& s : store.snapshot()) {
    if (s.labels.metric_name() == "m") {
      EXPECT_EQ(s.labels.get("instance"), "b");
      ++m;
    }
  }
  EXPECT_EQ(m, 1);
}

TEST_F(PushStoreTest, DeleteRemovesTheGroup) {
  ASSERT_TRUE(store.push(PushMethod::kPut, "/metrics/job/j/instance/a", "m 1\n").ok());
  ASSERT_TRUE(store.push(PushMethod::kPut, "/metrics/job/j", "m 1\n").ok());
  auto r = store.push(PushMethod::kDelete, "/metrics/job/j/instance/a", "");
  EXPECT_EQ(r.http_status, 202);
  EXPECT_EQ(store.group_count(), 1u);
  for (const auto& s : store.snapshot()) EXPECT_EQ(s.labels.get("instance"), "");
  // Deleting what is not there is fine.
  EXPECT_TRUE(store.push(PushMethod::kDelete, "/metrics/job/none", "").ok());
}

TEST_F(PushStoreTest, BadBodyIsRefusedAndRecordsFailureTime) {
  ASSERT_TRUE(store.push(PushMethod::kPut, "/metrics/job/j", "a 1\n").ok());
  clock.advance(seconds(5));
  auto r = store.push(PushMethod::kPost, "/metrics/job/j", "a{ 1\n");
  EXPECT_EQ(r.http_status, 400);
  EXPECT_TRUE(r.error.starts_with("push: line 1, column")) << r.error;
  EXPECT_EQ(
      lines(store.snapshot()),
      (std::vector<std::string>{"a{job=\"j\"} 1", "push_failure_time_seconds{job=\"j\"} 1767225605",
                                "push_time_seconds{job=\"j\"} 1767225600"}));
  // A first push that fails creates the group with push_time_seconds 0.
  EXPECT_FALSE(store.push(PushMethod::kPut, "/metrics/job/new", "???").ok());
  bool seen = false;
  for (const auto& s : store.snapshot()) {
    if (s.labels.get("job") == "new" && s.labels.metric_name() == "push_time_seconds") {
      EXPECT_EQ(s.sample.v, 0);
      seen = true;
    }
  }
  EXPECT_TRUE(seen);
}

TEST_F(PushStoreTest, ConflictingGroupingLabelIsRefused) {
  auto r = store.push(PushMethod::kPut, "/metrics/job/j", "a{job=\"other\"} 1\n");
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.error,
            "push: sample a{job=\"other\"} has label job=\"other\", which conflicts with the "
            "grouping key's job=\"j\"");
  // The same value is fine.
  EXPECT_TRUE(store.push(PushMethod::kPut, "/metrics/job/j", "a{job=\"j\"} 1\n").ok());
}

TEST_F(PushStoreTest, TimestampsAndDuplicatesAreRefused) {
  auto r = store.push(PushMethod::kPut, "/metrics/job/j", "a 1 1700000000000\n");
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.error, "push: sample a{} has a timestamp; pushed samples must not");
  r = store.push(PushMethod::kPut, "/metrics/job/j", "a 1\na 2\n");
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.error, "push: sample a{job=\"j\"} appears twice in the body");
}

TEST_F(PushStoreTest, OpenMetricsBodiesAreRead) {
  auto r =
      store.push(PushMethod::kPut, "/metrics/job/j", "# TYPE runs counter\nruns_total 3\n# EOF\n",
                 "application/openmetrics-text; version=1.0.0");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(lines(store.snapshot()).back(), "runs_total{job=\"j\"} 3");
}

TEST(PushStoreLimits, BodySizeSamplesGroupsAndProtobuf) {
  firebreak::ManualClock clock;
  PushStore store(clock, {.body_size_limit = 32, .sample_limit = 2, .max_groups = 2});
  auto r = store.push(PushMethod::kPut, "/metrics/job/j", std::string(40, 'a'));
  EXPECT_EQ(r.http_status, 413);
  EXPECT_EQ(r.error, "push: body of 40 bytes is over the limit of 32 bytes");
  r = store.push(PushMethod::kPut, "/metrics/job/j", "a 1\nb 1\nc 1\n");
  EXPECT_EQ(r.http_status, 400);
  r = store.push(PushMethod::kPut, "/metrics/job/j", "", "application/vnd.google.protobuf");
  EXPECT_EQ(r.http_status, 415);
  ASSERT_TRUE(store.push(PushMethod::kPut, "/metrics/job/k", "a 1\n").ok());
  r = store.push(PushMethod::kPut, "/metrics/job/l", "a 1\n");
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.error, "push: the store holds its limit of 2 groups; delete some first");
  EXPECT_EQ(store.push(PushMethod::kPut, "/bad", "").http_status, 400);
}

}  // namespace
}  // namespace watch::checkin
