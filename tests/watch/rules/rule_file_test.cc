#include "watch/rules/rule_file.h"

#include <gtest/gtest.h>

namespace watch::rules {
namespace {

bool has_error(const LoadResult& r, std::string_view key, std::string_view text, int line = 0) {
  for (const auto& e : r.errors)
    if (e.key == key && e.message.find(text) != std::string::npos &&
        (line == 0 || e.pos.line == line))
      return true;
  return false;
}

std::string all(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.to_string() + "\n";
  return out;
}

TEST(RuleFile, LoadsGroupsAndRules) {
  auto r = parse_rule_file(R"(groups:
  - name: a
    interval: 30s
    limit: 10
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {tier: "1"}
      - alert: Down
        expr: up == 0
        for: 2m
        keep_firing_for: 5m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.job }} down"}
)",
                           "pack.yml");
  ASSERT_TRUE(r.ok()) << all(r);
  ASSERT_EQ(r.file.groups.size(), 1u);
  const auto& g = r.file.groups[0];
  EXPECT_EQ(g.name, "a");
  EXPECT_EQ(g.file, "pack.yml");
  EXPECT_EQ(g.interval_ms, 30000);
  EXPECT_EQ(g.limit, 10);
  ASSERT_EQ(g.rules.size(), 2u);
  EXPECT_EQ(g.rules[0].kind, RuleSpec::Kind::kRecording);
  EXPECT_EQ(g.rules[0].name, "job:up:sum");
  EXPECT_EQ(g.rules[1].kind, RuleSpec::Kind::kAlerting);
  EXPECT_EQ(g.rules[1].for_ms, 120000);
  EXPECT_EQ(g.rules[1].keep_firing_for_ms, 300000);
  EXPECT_EQ(g.rules[1].pos.line, 9);
  ASSERT_EQ(g.rules[1].annotations.size(), 1u);
  EXPECT_EQ(g.rules[1].annotations[0].value, "{{ $labels.job }} down");
}

TEST(RuleFile, ValidatesAsPromtool) {
  auto r = parse_rule_file(R"(groups:
  - name: a
    rules:
      - record: "bad name"
        expr: up
      - alert: X
        expr: "sum(up"
      - alert: Y
        expr: up
        for: 5 minutes
      - record: r
        expr: up
        for: 1m
        annotations: {a: b}
      - alert: Z
        record: z
        expr: up
      - alert: W
        expr: up
        labels: {"bad-label": x}
        annotations: {s: "{{ nosuch }}"}
        colour: red
      - alert: V
  - name: a
    rules: []
)",
                           "f.yml");
  EXPECT_FALSE(r.ok());
  const std::string text = all(r);
  EXPECT_TRUE(has_error(r, "groups[0].rules[0].record", "invalid recording rule name", 4)) << text;
  EXPECT_TRUE(has_error(r, "groups[0].rules[1].expr", "could not parse expression", 7)) << text;
  EXPECT_TRUE(has_error(r, "groups[0].rules[2].for", "not a valid duration string", 10)) << text;
  EXPECT_TRUE(has_error(r, "groups[0].rules[3].for", "invalid field 'for' in recording rule"))
      << text;
  EXPECT_TRUE(has_error(r, "groups[0].rules[3].annotations", "invalid field 'annotations'"))
      << text;
  EXPECT_TRUE(has_error(r, "groups[0].rules[4]", "only one of 'record' and 'alert'")) << text;
  EXPECT_TRUE(has_error(r, "groups[0].rules[5].labels.bad-label", "invalid label name")) << text;
  EXPECT_TRUE(has_error(r, "groups[0].rules[5].annotations.s", "not defined")) << text;
  EXPECT_TRUE(has_error(r, "groups[0].rules[5].colour", "field colour not found", 22)) << text;
  EXPECT_TRUE(has_error(r, "groups[0].rules[6].expr", "field 'expr' must be set")) << text;
  EXPECT_TRUE(has_error(r, "groups[1].name", "repeated in the same file")) << text;
  EXPECT_NE(text.find("f.yml:22:9: groups[0].rules[5].colour"), std::string::npos) << text;
}

TEST(RuleFile, YamlSyntaxErrorHasPosition) {
  auto r = parse_rule_file("groups:\n  - name: [\n", "x.yml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_GT(r.errors[0].pos.line, 0);
  EXPECT_EQ(r.errors[0].file, "x.yml");
}

TEST(RuleFile, EmptyAndMissingFiles) {
  EXPECT_TRUE(parse_rule_file("", "e.yml").ok());
  EXPECT_TRUE(parse_rule_file("groups: []", "e.yml").ok());
  EXPECT_FALSE(load_rule_file("/nonexistent/rules.yml").ok());
  EXPECT_FALSE(parse_rule_file("groups: 3", "e.yml").ok());
  EXPECT_FALSE(parse_rule_file("grops: []", "e.yml").ok());
}

TEST(RuleFile, Durations) {
  std::int64_t ms = -1;
  EXPECT_TRUE(parse_prom_duration("0", ms));
  EXPECT_EQ(ms, 0);
  EXPECT_TRUE(parse_prom_duration("1h30m", ms));
  EXPECT_EQ(ms, 5400000);
  EXPECT_FALSE(parse_prom_duration("1x", ms));
  EXPECT_TRUE(valid_metric_name("job:up:sum"));
  EXPECT_FALSE(valid_label_name("job:x"));
  EXPECT_FALSE(valid_metric_name("1abc"));
}

}  // namespace
}  // namespace watch::rules
