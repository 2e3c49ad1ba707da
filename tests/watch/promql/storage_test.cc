#include "watch/promql/storage.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace watch::promql {
namespace {

using Op = Matcher::Op;

struct Got {
  std::string labels;
  std::vector<Sample> samples;
};

std::vector<Got> select(const Queryable& q, std::vector<Matcher> ms, std::int64_t mint,
                        std::int64_t maxt) {
  std::vector<Got> out;
  q.select(ms, mint, maxt, [&](const LabelSet& l, std::span<const Sample> s) {
    out.push_back({l.to_string(), {s.begin(), s.end()}});
    return true;
  });
  return out;
}

TEST(PromqlMemoryStorage, SelectsMatchingSeriesInTheWindowBothEndsIncluded) {
  MemoryStorage st;
  const auto a = LabelSet::from({{"__name__", "x"}, {"job", "a"}});
  const auto b = LabelSet::from({{"__name__", "x"}, {"job", "b"}});
  st.add(a, std::vector<Sample>{{0, 1}, {10, 2}, {20, 3}, {30, 4}});
  st.add(b, std::vector<Sample>{{100, 5}});
  auto got = select(st, {{"__name__", Op::kEqual, "x"}}, 10, 30);
  ASSERT_EQ(got.size(), 1u);  // b has nothing in the window
  EXPECT_EQ(got[0].labels, "x{job=\"a\"}");
  EXPECT_EQ(got[0].samples, (std::vector<Sample>{{10, 2}, {20, 3}, {30, 4}}));
  EXPECT_EQ(select(st, {{"job", Op::kRegexMatch, "a|b"}}, 0, 1000).size(), 2u);
  EXPECT_EQ(select(st, {{"job", Op::kNotEqual, "a"}}, 0, 1000).size(), 1u);
}

TEST(PromqlMemoryStorage, OutOfOrderSamplesAreDropped) {
  MemoryStorage st;
  const auto a = LabelSet::from({{"__name__", "x"}});
  EXPECT_TRUE(st.add(a, Sample{10, 1}));
  EXPECT_FALSE(st.add(a, Sample{10, 2}));
  EXPECT_FALSE(st.add(a, Sample{5, 2}));
  EXPECT_EQ(st.add(a, std::vector<Sample>{{5, 0}, {20, 1}, {30, 1}}), 2u);
  EXPECT_EQ(st.sample_count(), 3u);
  EXPECT_EQ(st.series_count(), 1u);
}

TEST(PromqlMemoryStorage, VisitorStopsTheSelection) {
  MemoryStorage st;
  for (int i = 0; i < 10; ++i)
    st.add(LabelSet::from({{"__name__", "x"}, {"i", std::to_string(i)}}), Sample{0, 1});
  int visited = 0;
  st.select({{"__name__", Op::kEqual, "x"}}, 0, 0,
            [&](const LabelSet&, std::span<const Sample>) { return ++visited < 3; });
  EXPECT_EQ(visited, 3);
}

}  // namespace
}  // namespace watch::promql
