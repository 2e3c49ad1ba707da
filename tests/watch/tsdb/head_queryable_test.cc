// The head as the PromQL engine's storage: the same data in a Head and in
// promql::MemoryStorage gives the same answers, query for query, byte for
// byte of the API's JSON. MemoryStorage is what the engine's own tests use;
// this ties the head to them.
#include "watch/tsdb/queryable.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "watch/promql/api_json.h"
#include "watch/promql/engine.h"

namespace watch::tsdb {
namespace {

using Op = Matcher::Op;

class HeadAsStorage : public ::testing::Test {
 protected:
  HeadAsStorage() : queryable_(head_) {
    std::mt19937_64 rng(5);
    // Same series, same order (the engine keeps storage order), same samples.
    auto add = [&](const LabelSet& ls, const std::vector<Sample>& samples) {
      for (const auto& s : samples) {
        ASSERT_EQ(head_.append(ls, s.t, s.v).status, AppendStatus::kOk) << ls.to_string();
        ASSERT_TRUE(memory_.add(ls, s));
      }
    };
    for (const char* job : {"api", "web", "worker"}) {
      for (const char* code : {"200", "500"}) {
        std::vector<Sample> samples;
        double v = 0;
        for (int i = 0; i < 240; ++i) {
          v += static_cast<double>(rng() % 20);
          if (i == 120) v = 3;  // a counter reset
          samples.push_back({i * 15000, v});
        }
        add(LabelSet::from({{"__name__", "http_requests_total"}, {"job", job}, {"code", code}}),
            samples);
      }
      std::vector<Sample> up;
      for (int i = 0; i < 240; ++i) up.push_back({i * 15000, i < 200 ? 1.0 : 0.0});
      if (std::string(job) == "worker") up.push_back({240 * 15000, stale_nan()});
      add(job == std::string("api")
              ? LabelSet::from({{"__name__", "up"}, {"job", job}, {"env", "prod"}})
              : LabelSet::from({{"__name__", "up"}, {"job", job}}),
          up);
    }
    for (const char* le : {"0.1", "0.5", "1.0", "+Inf"}) {
      std::vector<Sample> samples;
      double v = 0;
      for (int i = 0; i < 240; ++i) {
        v += static_cast<double>(rng() % 10) * (std::string(le) == "+Inf" ? 4 : 1);
        samples.push_back({i * 15000, v});
      }
      add(LabelSet::from({{"__name__", "latency_seconds_bucket"}, {"le", le}, {"job", "api"}}),
          samples);
    }
  }

  std::string instant(promql::Engine& e, const char* q, std::int64_t t) {
    return promql::render_query_result(e.instant_query(q, t));
  }

  Head head_;
  HeadQueryable queryable_;
  promql::MemoryStorage memory_;
};

TEST_F(HeadAsStorage, InstantAndRangeQueriesAgreeWithMemoryStorage) {
  promql::Engine on_head(queryable_);
  promql::Engine on_memory(memory_);
  const char* queries[] = {
      "up",
      "up{env=\"\"}",
      "up{env!~\".+\"}",
      "up{job=~\"w.*\"}",
      "up{job!=\"api\"}",
      "rate(http_requests_total[5m])",
      "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m]))",
      "increase(http_requests_total{job=\"api\"}[10m])",
      "histogram_quantile(0.9, sum by (le) (rate(latency_seconds_bucket[5m])))",
      "count(up == 1)",
      "absent(nope)",
      "http_requests_total{code=~\"(?i)5\\\\d\\\\d\"}",
      "up[2m]",
  };
  for (std::int64_t t : {std::int64_t{0}, std::int64_t{1800000}, std::int64_t{3000000},
                         std::int64_t{3599000}, std::int64_t{3700000}, std::int64_t{4000000}}) {
    for (const char* q : queries) {
      const std::string a = instant(on_head, q, t);
      const std::string b = instant(on_memory, q, t);
      EXPECT_EQ(a, b) << q << " at " << t;
    }
  }
  const auto a = on_head.range_query("sum(rate(http_requests_total[5m]))", 0, 3600000, 60000);
  const auto b = on_memory.range_query("sum(rate(http_requests_total[5m]))", 0, 3600000, 60000);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(promql::render_query_result(a), promql::render_query_result(b));
}

TEST_F(HeadAsStorage, SelectsTheSameSeriesAsMemoryStorageForManyMatchers) {
  const std::vector<std::vector<Matcher>> cases = {
      {{"__name__", Op::kEqual, "up"}},
      {{"job", Op::kNotEqual, "api"}},
      {{"env", Op::kEqual, ""}},
      {{"env", Op::kNotEqual, ""}},
      {{"code", Op::kRegexMatch, "2..|"}},
      {{"code", Op::kRegexNoMatch, "2.."}, {"job", Op::kRegexMatch, "a.*|w.*"}},
      {{"le", Op::kRegexMatch, "\\+Inf|0\\.1"}},
      {{"__name__", Op::kRegexMatch, ".+_total"}, {"code", Op::kEqual, "500"}},
      {{"nope", Op::kRegexMatch, ".*"}},
      {{"nope", Op::kRegexMatch, ".+"}},
  };
  for (const auto& matchers : cases) {
    std::vector<std::string> a, b;
    queryable_.select(matchers, INT64_MIN, INT64_MAX,
                      [&](const LabelSet& ls, std::span<const Sample>) {
                        a.push_back(ls.to_string());
                        return true;
                      });
    memory_.select(matchers, INT64_MIN, INT64_MAX,
                   [&](const LabelSet& ls, std::span<const Sample>) {
                     b.push_back(ls.to_string());
                     return true;
                   });
    EXPECT_EQ(a, b) << matchers.front().name << " " << matchers.front().value;
  }
}

TEST_F(HeadAsStorage, InvalidMatchersSelectNothing) {
  int visits = 0;
  queryable_.select({{"job", Op::kRegexMatch, "(a"}}, INT64_MIN, INT64_MAX,
                    [&](const LabelSet&, std::span<const Sample>) {
                      ++visits;
                      return true;
                    });
  EXPECT_EQ(visits, 0);
}

}  // namespace
}  // namespace watch::tsdb
