// LabelSet::from: sorted by name, the last of a repeated name wins, empty
// values dropped; the same for small sets (insertion sort) and large ones.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "watch/model/model.h"

namespace watch {
namespace {

std::vector<Label> labels_of(const LabelSet& s) {
  return s.labels();
}

TEST(LabelSetFrom, SortsByName) {
  const auto s = LabelSet::from({{"job", "a"}, {"__name__", "up"}, {"instance", "x"}});
  EXPECT_EQ(labels_of(s),
            (std::vector<Label>{{"__name__", "up"}, {"instance", "x"}, {"job", "a"}}));
}

TEST(LabelSetFrom, LastOfARepeatedNameWins) {
  EXPECT_EQ(labels_of(LabelSet::from({{"a", "1"}, {"b", "x"}, {"a", "2"}, {"a", "3"}})),
            (std::vector<Label>{{"a", "3"}, {"b", "x"}}));
}

TEST(LabelSetFrom, EmptyValuesAreDroppedAndAnEmptyLastValueRemovesTheName) {
  EXPECT_EQ(labels_of(LabelSet::from({{"a", ""}, {"b", "1"}})), (std::vector<Label>{{"b", "1"}}));
  EXPECT_TRUE(LabelSet::from({{"a", "1"}, {"a", ""}}).empty());
  EXPECT_EQ(labels_of(LabelSet::from({{"a", ""}, {"a", "2"}})), (std::vector<Label>{{"a", "2"}}));
}

TEST(LabelSetFrom, LargeSetsBehaveTheSame) {
  std::vector<Label> in;
  for (int i = 39; i >= 0; --i) in.push_back({"l" + std::to_string(i % 20), std::to_string(i)});
  in.push_back({"l3", ""});
  const auto s = LabelSet::from(in);
  // 20 names; for each the last in input order (i < 20), l3 removed by its empty last value.
  EXPECT_EQ(s.size(), 19u);
  EXPECT_EQ(s.get("l0"), "0");
  EXPECT_EQ(s.get("l19"), "19");
  EXPECT_FALSE(s.has("l3"));
  for (std::size_t i = 1; i < s.size(); ++i) EXPECT_LT(s.labels()[i - 1].name, s.labels()[i].name);
}

}  // namespace
}  // namespace watch
