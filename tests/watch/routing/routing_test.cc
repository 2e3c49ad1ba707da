// Alert routing, case by case, with the semantics of Alertmanager 0.25:
// matchers (pkg/labels, its parse_test.go cases among them), the routing
// tree (dispatch/route.go), inhibition (inhibit/inhibit.go), time intervals
// (timeinterval/) and loading with config/config.go's checks. Expected
// values are worked out from that source; routing_peer_test.cc checks the
// same ground against the real amtool.
#include "watch/routing/routing.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <date/date.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace watch::routing {
namespace {

using std::chrono::system_clock;

LabelSet ls(std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  return LabelSet::from(labels);
}

// The matchers as Alertmanager prints a list, or "error: <message>".
std::string parsed(std::string_view text) {
  std::string error;
  const auto matchers = parse_matchers(text, &error);
  return matchers ? to_string(*matchers) : "error: " + error;
}

std::string parsed_one(std::string_view text) {
  std::string error;
  const auto m = parse_matcher(text, &error);
  return m ? m->to_string() : "error: " + error;
}

Matcher must_make(std::string name, MatchType type, std::string value) {
  std::string error;
  auto m = Matcher::make(std::move(name), type, std::move(value), &error);
  EXPECT_TRUE(m.has_value()) << error;
  if (!m) return *Matcher::make("x", MatchType::kEqual, "");
  return *std::move(m);
}

std::string regex_error(std::string_view re) {
  std::string error;
  return Matcher::make("a", MatchType::kRegex, std::string(re), &error) ? "" : error;
}

// Loads `yaml` with receivers `receivers`; the errors as "line:col: key: message".
struct Loaded {
  RoutingConfig config;
  std::vector<std::string> errors;
};

Loaded load(const std::string& yaml,
            const std::vector<std::string>& receivers = {"default", "a", "b", "c", "d"}) {
  Loaded out;
  std::vector<Error> errors;
  out.config = load_routing(YAML::Load(yaml), receivers, errors);
  for (const Error& e : errors) out.errors.push_back(e.to_string());
  return out;
}

// The one error of loading `yaml` ("" if none, "<n> errors" if more).
std::string load_error(const std::string& yaml) {
  const Loaded l = load(yaml);
  if (l.errors.empty()) return "";
  if (l.errors.size() > 1) {
    std::string all = std::to_string(l.errors.size()) + " errors:";
    for (const auto& e : l.errors) all += " | " + e;
    return all;
  }
  return l.errors[0];
}

std::vector<std::string> receivers_of(const Route& root, const LabelSet& alert) {
  std::vector<std::string> out;
  for (const Route* r : match_routes(root, alert)) out.push_back(r->options.receiver);
  return out;
}

system_clock::time_point utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0) {
  return date::sys_days(date::year(y) / date::month(m) / date::day(d)) + std::chrono::hours(hh) +
         std::chrono::minutes(mm);
}

// --- matcher parsing: 0.25's parse_test.go ---------------------------------

TEST(ParseMatchersTest, AlertmanagerCases) {
  EXPECT_EQ(parsed(R"({foo="bar"})"), R"({foo="bar"})");
  EXPECT_EQ(parsed(R"({foo=~"bar.*"})"), R"({foo=~"bar.*"})");
  EXPECT_EQ(parsed(R"({foo!="bar"})"), R"({foo!="bar"})");
  EXPECT_EQ(parsed(R"({foo!~"bar.*"})"), R"({foo!~"bar.*"})");
  EXPECT_EQ(parsed(R"({foo="bar", baz!="quux"})"), R"({foo="bar",baz!="quux"})");
  EXPECT_EQ(parsed(R"({foo="bar",baz!~".*quux", derp="wat"})"),
            R"({foo="bar",baz!~".*quux",derp="wat"})");
  EXPECT_EQ(parsed(R"({foo="bar", instance=~"some-api.*"})"),
            R"({foo="bar",instance=~"some-api.*"})");
  EXPECT_EQ(parsed(R"({foo=""})"), R"({foo=""})");
  EXPECT_EQ(parsed(R"({foo="bar,quux", job="job1"})"), R"({foo="bar,quux",job="job1"})");
  EXPECT_EQ(parsed(R"({foo = "bar", dings != "bums", })"), R"({foo="bar",dings!="bums"})");
  EXPECT_EQ(parsed(R"(foo=bar,dings!=bums)"), R"({foo="bar",dings!="bums"})");
  EXPECT_EQ(parsed(R"({quote="She said: \"Hi, ladies! That's gender-neutral…\""})"),
            R"({quote="She said: \"Hi, ladies! That's gender-neutral…\""})");
  EXPECT_EQ(parsed(R"(statuscode=~"5..")"), R"({statuscode=~"5.."})");
  EXPECT_EQ(parsed(R"(tricky=~~~)"), R"({tricky=~"~~"})");
  EXPECT_EQ(parsed(R"(trickier==\\=\=\")"), R"({trickier="=\\=\\=\""})");
  EXPECT_EQ(parsed(R"(contains_quote != "\"" , contains_comma !~ "foo,bar" , )"),
            R"({contains_quote!="\"",contains_comma!~"foo,bar"})");
  EXPECT_EQ(parsed(R"(job=)"), R"({job=""})");

  EXPECT_EQ(parsed(R"(job="value)"),
            R"(error: matcher value contains unescaped double quote: "value)");
  EXPECT_EQ(parsed(R"(job=value")"),
            R"(error: matcher value contains unescaped double quote: value")");
  EXPECT_EQ(parsed(R"(trickier==\\=\=\"")"),
            R"(error: matcher value contains unescaped double quote: =\\=\=\"")");
  EXPECT_EQ(parsed(R"(contains_unescaped_quote = foo"bar)"),
            R"(error: matcher value contains unescaped double quote: foo"bar)");
  EXPECT_EQ(parsed(R"({invalid-name = "valid label"})"),
            R"(error: bad matcher format: invalid-name = "valid label")");
  EXPECT_EQ(parsed(R"({foo=~"invalid[regexp"})"),
            "error: error parsing regexp: missing closing ]: `[regexp)$`");
  EXPECT_EQ(parsed(R"("{foo=\"bar"})"), R"(error: bad matcher format: "{foo=\"bar")");
  EXPECT_EQ(parsed(R"("foo=\"bar")"), R"(error: bad matcher format: "foo=\"bar")");
  EXPECT_EQ(parsed(R"("foo=\"bar\"")"), R"(error: bad matcher format: "foo=\"bar\"")");
  EXPECT_EQ(parsed(R"("foo=\"bar\")"), R"(error: bad matcher format: "foo=\"bar\")");
  EXPECT_EQ(parsed(R"("{foo=\"bar\"}")"), R"(error: bad matcher format: "{foo=\"bar\"}")");
  EXPECT_EQ(parsed(R"("foo="bar"")"), R"(error: bad matcher format: "foo="bar"")");
}

TEST(ParseMatchersTest, ListCorners) {
  EXPECT_EQ(parsed(""), "{}");
  EXPECT_EQ(parsed("{}"), "{}");
  EXPECT_EQ(parsed("  "), "{}");
  EXPECT_EQ(parsed("{,}"), "error: bad matcher format: ");
  EXPECT_EQ(parsed("a=1,,b=2"), "error: bad matcher format: ");
  // Only one brace is taken off each end, and only at the very ends.
  EXPECT_EQ(parsed("{{a=1}}"), "error: bad matcher format: {a=1}");
  EXPECT_EQ(parsed(" {a=1}"), "error: bad matcher format: {a=1");
  // A quoted comma does not split; an escaped quote does not open or close.
  EXPECT_EQ(parsed(R"(a="x,y",b=\"c,d=e)"), R"({a="x,y",b="\"c",d="e"})");
  // Names may hold colons; `=~` wins over `=`.
  EXPECT_EQ(parsed("a:b=~c"), R"({a:b=~"c"})");
  EXPECT_EQ(parsed("a = =b"), R"({a="=b"})");
  EXPECT_EQ(parsed("a=!~b"), R"({a="!~b"})");
  EXPECT_EQ(parsed("1a=b"), "error: bad matcher format: 1a=b");
  EXPECT_EQ(parsed("a b=c"), "error: bad matcher format: a b=c");
  EXPECT_EQ(parsed("a~=b"), "error: bad matcher format: a~=b");
  // Whitespace around the value goes; inside a quoted value it stays.
  EXPECT_EQ(parsed("\ta =\n\" x \" \r"), R"({a=" x "})");
  // Escapes: \n, \", \\; any other backslash is literal; a backslash last is literal.
  EXPECT_EQ(parsed(R"(a="x\ny\tz\\")"), R"({a="x\ny\\tz\\"})");
  EXPECT_EQ(parsed(R"(a=x\)"), R"({a="x\\"})");
  EXPECT_EQ(parsed(R"(a="x\")"), R"(error: matcher value contains unescaped double quote: "x\")");
  // Only the last item is trimmed of Unicode spaces (strings.TrimSpace);
  // the pattern trims ASCII spaces of every item.
  EXPECT_EQ(parsed("a=b\u00a0"), R"({a="b"})");
  EXPECT_EQ(parsed("a=b\u00a0,c=d"), "{a=\"b\u00a0\",c=\"d\"}");
  EXPECT_EQ(parsed_one("a=b\u00a0"), "a=\"b\u00a0\"");
}

TEST(ParseMatchersTest, Utf8) {
  // A list reads its text as runes: a bad byte becomes U+FFFD.
  EXPECT_EQ(parsed("a=x\xff"), "{a=\"x\uFFFD\"}");
  // One matcher refuses it.
  EXPECT_EQ(parsed_one("a=x\xff"), "error: matcher value not valid UTF-8: x\uFFFD");
  EXPECT_EQ(parsed_one("a=\"é\""), "a=\"é\"");
}

TEST(ParseMatcherTest, SingleMatchers) {
  EXPECT_EQ(parsed_one(R"(foo="bar")"), R"(foo="bar")");
  EXPECT_EQ(parsed_one(" foo != bar "), R"(foo!="bar")");
  EXPECT_EQ(parsed_one("foo!~"), R"(foo!~"")");
  // One matcher: a comma is part of the value, braces are not taken off.
  EXPECT_EQ(parsed_one("foo=a,b"), R"(foo="a,b")");
  EXPECT_EQ(parsed_one("{foo=a}"), "error: bad matcher format: {foo=a}");
  EXPECT_EQ(parsed_one(""), "error: bad matcher format: ");
}

// --- matching ---------------------------------------------------------------

TEST(MatcherTest, Types) {
  const LabelSet alert = ls({{"severity", "critical"}, {"team", "db"}});
  EXPECT_TRUE(must_make("team", MatchType::kEqual, "db").matches(alert));
  EXPECT_FALSE(must_make("team", MatchType::kNotEqual, "db").matches(alert));
  EXPECT_TRUE(must_make("severity", MatchType::kRegex, "crit.*").matches(alert));
  EXPECT_FALSE(must_make("severity", MatchType::kRegex, "crit").matches(alert));  // anchored
  EXPECT_TRUE(must_make("severity", MatchType::kNotRegex, "warning|info").matches(alert));
  // A missing label is "".
  EXPECT_TRUE(must_make("region", MatchType::kEqual, "").matches(alert));
  EXPECT_TRUE(must_make("region", MatchType::kRegex, ".*").matches(alert));
  EXPECT_FALSE(must_make("region", MatchType::kRegex, ".+").matches(alert));
  EXPECT_TRUE(must_make("region", MatchType::kNotEqual, "eu").matches(alert));
  // ^(?:a)|(b)$: as Alertmanager anchors it, "a)|(b" is "starts with a" or
  // "ends with b" (Go's MatchString searches).
  const Matcher odd = must_make("x", MatchType::kRegex, "a)|(b");
  EXPECT_TRUE(odd.matches("a"));
  EXPECT_TRUE(odd.matches("b"));
  EXPECT_TRUE(odd.matches("axx"));
  EXPECT_TRUE(odd.matches("xxb"));
  EXPECT_FALSE(odd.matches("xax"));
  // Text that is not UTF-8: each bad byte is one character, as in Go.
  EXPECT_FALSE(must_make("x", MatchType::kRegex, "a.b")
                   .matches("a\xff"
                            "z\x80"
                            "b"));
  EXPECT_TRUE(must_make("x", MatchType::kRegex, "a..b")
                  .matches("a\xff\x80"
                           "b"));
  EXPECT_TRUE(must_make("x", MatchType::kRegex, "a\uFFFDb")
                  .matches("a\xff"
                           "b"));
  EXPECT_TRUE(must_make("x", MatchType::kRegex, "(?s).*").matches("\xff\n"));
}

TEST(MatcherTest, StringsAndOrder) {
  EXPECT_EQ(must_make("a", MatchType::kEqual, "x\"y\\z\nw").to_string(), R"(a="x\"y\\z\nw")");
  EXPECT_EQ(must_make("a", MatchType::kNotRegex, "b|c").to_string(), R"(a!~"b|c")");
  // By name, then value, then type (= before != before =~ before !~).
  std::vector<Matcher> ms{
      must_make("b", MatchType::kEqual, "1"), must_make("a", MatchType::kNotRegex, "2"),
      must_make("a", MatchType::kRegex, "2"), must_make("a", MatchType::kEqual, "3")};
  std::sort(ms.begin(), ms.end());
  EXPECT_EQ(to_string(ms), R"({a=~"2",a!~"2",a="3",b="1"})");
  EXPECT_EQ(to_string(std::vector<Matcher>{}), "{}");
  EXPECT_TRUE(matches_all({}, ls({})));
}

TEST(MatcherTest, RegexErrorsInGoWords) {
  EXPECT_EQ(regex_error("("), "error parsing regexp: missing closing ): `^(?:()$`");
  EXPECT_EQ(regex_error(")"), "error parsing regexp: unexpected ): `^(?:))$`");
  EXPECT_EQ(regex_error("[a"), "error parsing regexp: missing closing ]: `[a)$`");
  EXPECT_EQ(regex_error("a**"), "error parsing regexp: invalid nested repetition operator: `**`");
  EXPECT_EQ(regex_error("*"), "error parsing regexp: missing argument to repetition operator: `*`");
  EXPECT_EQ(regex_error("x{1001}"), "error parsing regexp: invalid repeat count: `{1001}`");
  EXPECT_EQ(regex_error("(a{501}){2}"), "error parsing regexp: invalid repeat count: `{2}`");
  EXPECT_EQ(regex_error("(?x)a"),
            "error parsing regexp: invalid or unsupported Perl syntax: `(?x`");
  EXPECT_EQ(regex_error("\\p{Foo}"),
            "error parsing regexp: invalid character class range: `\\p{Foo}`");
  EXPECT_EQ(regex_error("\\8"), "error parsing regexp: invalid escape sequence: `\\8`");
  // What Go refuses and RE2 takes.
  EXPECT_EQ(regex_error("\\C"), "error parsing regexp: invalid escape sequence: `\\C`");
  EXPECT_EQ(regex_error("(?P<名>x)"), "error parsing regexp: invalid named capture: `(?P<名>`");
  EXPECT_EQ(regex_error("(?<n>x)"),
            "error parsing regexp: invalid or unsupported Perl syntax: `(?<`");
  // What Go takes: two groups of one name, \C quoted or escaped, \Q..\E.
  EXPECT_EQ(regex_error("(?P<n>x)(?P<n>y)"), "");
  EXPECT_EQ(regex_error("\\\\C|\\QC\\E|[\\\\C]"), "");
  EXPECT_EQ(regex_error("[[:alpha:]](?i)k\\pL\\z"), "");
  EXPECT_TRUE(must_make("a", MatchType::kRegex, "(?P<n>x)(?P<n>y)").matches("xy"));
}

TEST(MatcherTest, SharedAcrossThreads) {
  const Matcher m = must_make("a", MatchType::kRegex, "x[0-9]+y");
  const Matcher copy = m;  // shares the compiled regex
  std::atomic<int> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (copy.matches("x" + std::to_string(i) + "y")) hits.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(hits.load(), 4000);
}

// --- routing tree -------------------------------------------------------------

constexpr const char* kTree = R"(
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: ['service="db"']
      receiver: a
      group_by: [cluster, alertname]
      continue: true
      routes:
        - match: {severity: page}
          receiver: b
          repeat_interval: 1h
        - match_re: {severity: 'warn.*'}
          group_by: ['...']
    - matchers: ['service=~"db|web"', 'env!="dev"']
      receiver: c
      group_by: []
      mute_time_intervals: [offhours]
    - receiver: d
time_intervals:
  - name: offhours
    time_intervals: [{times: [{start_time: '18:00', end_time: '24:00'}]}]
)";

TEST(RouteTest, MatchDepthFirstWithContinue) {
  const Loaded l = load(kTree);
  ASSERT_TRUE(l.errors.empty()) << l.errors[0];
  const Route& root = l.config.route;
  // service=db: the first child (continue) and its first matching child,
  // then the second child.
  EXPECT_EQ(receivers_of(root, ls({{"service", "db"}, {"severity", "page"}})),
            (std::vector<std::string>{"b", "c"}));
  // No grandchild matches: the child itself.
  EXPECT_EQ(receivers_of(root, ls({{"service", "db"}, {"severity", "info"}})),
            (std::vector<std::string>{"a", "c"}));
  // The grandchild inherits its receiver.
  EXPECT_EQ(receivers_of(root, ls({{"service", "db"}, {"severity", "warning"}})),
            (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(receivers_of(root, ls({{"service", "db"}, {"env", "dev"}})),
            (std::vector<std::string>{"a", "d"}));
  EXPECT_EQ(receivers_of(root, ls({{"service", "web"}})), (std::vector<std::string>{"c"}));
  // The catch-all child stops the search before the root.
  EXPECT_EQ(receivers_of(root, ls({{"service", "mail"}})), (std::vector<std::string>{"d"}));
  // A route whose matchers fail matches nothing, not even itself.
  EXPECT_TRUE(match_routes(root.routes[0], ls({{"service", "web"}})).empty());
}

TEST(RouteTest, InheritanceAndKeys) {
  const Loaded l = load(kTree);
  ASSERT_TRUE(l.errors.empty()) << l.errors[0];
  const Route& root = l.config.route;
  EXPECT_EQ(root.key, "{}");
  EXPECT_EQ(root.options.receiver, "default");
  EXPECT_EQ(root.options.group_by, (std::vector<std::string>{"alertname"}));
  EXPECT_EQ(root.options.group_wait_ms, 10'000);
  EXPECT_EQ(root.options.group_interval_ms, 300'000);
  EXPECT_EQ(root.options.repeat_interval_ms, 4 * 3'600'000);

  const Route& db = root.routes[0];
  EXPECT_EQ(db.key, R"({}/{service="db"})");
  EXPECT_TRUE(db.continue_matching);
  EXPECT_EQ(db.options.group_by, (std::vector<std::string>{"alertname", "cluster"}));  // sorted
  EXPECT_EQ(db.options.group_wait_ms, 10'000);

  const Route& page = db.routes[0];
  EXPECT_EQ(page.key, R"({}/{service="db"}/{severity="page"})");
  EXPECT_EQ(page.options.receiver, "b");
  EXPECT_EQ(page.options.repeat_interval_ms, 3'600'000);
  EXPECT_EQ(page.options.group_by, db.options.group_by);

  // match_re keeps 0.25's anchored value; '...' keeps the parent's names.
  const Route& warn = db.routes[1];
  EXPECT_EQ(warn.key, R"({}/{service="db"}/{severity=~"^(?:warn.*)$"})");
  EXPECT_EQ(warn.matchers[0].value(), "^(?:warn.*)$");
  EXPECT_EQ(warn.options.receiver, "a");
  EXPECT_TRUE(warn.options.group_by_all);
  EXPECT_EQ(warn.options.group_by, db.options.group_by);

  // group_by: [] inherits; matchers sorted; time intervals are the route's own.
  const Route& web = root.routes[1];
  EXPECT_EQ(web.key, R"({}/{env!="dev",service=~"db|web"})");
  EXPECT_EQ(web.options.group_by, (std::vector<std::string>{"alertname"}));
  EXPECT_EQ(web.options.mute_time_intervals, (std::vector<std::string>{"offhours"}));
  EXPECT_TRUE(root.routes[2].options.mute_time_intervals.empty());
  EXPECT_EQ(root.routes[2].key, "{}/{}");
}

TEST(RouteTest, TimeIntervalsAreNotInherited) {
  const Loaded l = load(R"(
route:
  receiver: default
  routes:
    - matchers: [a=1]
      mute_time_intervals: [x]
      active_time_intervals: [y]
      routes: [{matchers: [b=2]}]
time_intervals: [{name: x}, {name: y}]
)");
  ASSERT_TRUE(l.errors.empty()) << l.errors[0];
  const Route& child = l.config.route.routes[0];
  EXPECT_EQ(child.options.mute_time_intervals, (std::vector<std::string>{"x"}));
  EXPECT_EQ(child.options.active_time_intervals, (std::vector<std::string>{"y"}));
  EXPECT_TRUE(child.routes[0].options.mute_time_intervals.empty());
  EXPECT_TRUE(child.routes[0].options.active_time_intervals.empty());
}

TEST(RouteTest, MatchFormsCombine) {
  const Loaded l = load(R"(
route:
  receiver: default
  routes:
    - match: {b: "1", a: "2"}
      match_re: {c: "x|y"}
      matchers: ['{d="4", a!="5"}', e=~f.*]
      receiver: a
)");
  ASSERT_TRUE(l.errors.empty()) << l.errors[0];
  EXPECT_EQ(to_string(l.config.route.routes[0].matchers),
            R"({a="2",a!="5",b="1",c=~"^(?:x|y)$",d="4",e=~"f.*"})");
}

TEST(RouteTest, GroupByAllThenNames) {
  const Loaded l = load(R"(
route:
  receiver: default
  group_by: ['...']
  routes:
    - {matchers: [a=1], group_by: [x]}
    - {matchers: [a=2]}
)");
  ASSERT_TRUE(l.errors.empty()) << l.errors[0];
  EXPECT_TRUE(l.config.route.options.group_by_all);
  EXPECT_FALSE(l.config.route.routes[0].options.group_by_all);
  EXPECT_EQ(l.config.route.routes[0].options.group_by, (std::vector<std::string>{"x"}));
  EXPECT_TRUE(l.config.route.routes[1].options.group_by_all);
}

TEST(RouteTest, MergeKeysAndAliases) {
  const Loaded l = load(R"(
route:
  receiver: default
  routes:
    - &base
      receiver: a
      group_wait: 1m
      matchers: [team=x]
    - <<: *base
      group_wait: 2m
    - <<: [{receiver: b}, {receiver: c, repeat_interval: 2h}]
      matchers: [team=y]
    - *base
)");
  ASSERT_TRUE(l.errors.empty()) << l.errors[0];
  const auto& routes = l.config.route.routes;
  ASSERT_EQ(routes.size(), 4u);
  EXPECT_EQ(routes[1].options.receiver, "a");
  EXPECT_EQ(routes[1].options.group_wait_ms, 120'000);
  EXPECT_EQ(to_string(routes[1].matchers), R"({team="x"})");
  EXPECT_EQ(routes[2].options.receiver, "b");  // the earlier merged mapping wins
  EXPECT_EQ(routes[2].options.repeat_interval_ms, 7'200'000);
  EXPECT_EQ(routes[3].options.group_wait_ms, 60'000);
}

// --- loading errors -----------------------------------------------------------

TEST(LoadRoutingTest, RootRoute) {
  EXPECT_EQ(load_error(""), "no route provided in config");
  EXPECT_EQ(load_error("receivers: []"), "no routes provided");
  EXPECT_EQ(load_error("route:"), "1:1: route: no routes provided");
  EXPECT_EQ(load_error("- a"), "1:1: expected a mapping, got a list");
  EXPECT_EQ(load_error("route: {group_wait: 1m}"),
            "1:8: route: root route must specify a default receiver");
  EXPECT_EQ(load_error("route: {receiver: default, matchers: [a=b]}"),
            "1:28: route.matchers: root route must not have any matchers");
  EXPECT_EQ(load_error("route: {receiver: default, match: {a: b}}"),
            "1:28: route.match: root route must not have any matchers");
  EXPECT_EQ(load_error("route: {receiver: default, continue: true}"),
            "1:28: route.continue: cannot have continue in root route");
  EXPECT_EQ(load_error("route: {receiver: default, mute_time_intervals: [x]}\n"
                       "time_intervals: [{name: x}]"),
            "1:28: route.mute_time_intervals: root route must not have any mute time intervals");
  EXPECT_EQ(load_error("route: {receiver: default, active_time_intervals: [x]}\n"
                       "time_intervals: [{name: x}]"),
            "1:28: route.active_time_intervals: root route must not have any active time "
            "intervals");
  // Other top-level keys are not ours to judge.
  EXPECT_EQ(load_error("route: {receiver: default}\nglobal: {x: 1}\nreceivers: 5"), "");
}

TEST(LoadRoutingTest, RouteFields) {
  const std::string head = "route:\n  receiver: default\n  routes:\n    - ";
  EXPECT_EQ(load_error(head + "receiver: nobody"),
            "4:17: route.routes[0].receiver: undefined receiver \"nobody\" used in route");
  EXPECT_EQ(load_error(head + "recevier: a"),
            "4:7: route.routes[0].recevier: unknown key \"recevier\" (did you mean \"receiver\"?)");
  EXPECT_EQ(load_error(head + "{receiver: a, receiver: b}"),
            "4:21: route.routes[0].receiver: key repeated");
  EXPECT_EQ(load_error(head + "group_wait: 5x"),
            "4:19: route.routes[0].group_wait: not a valid duration string: \"5x\"");
  EXPECT_EQ(load_error(head + "group_wait: 0"), "");
  EXPECT_EQ(load_error(head + "group_interval: 0s"),
            "4:23: route.routes[0].group_interval: group_interval cannot be zero");
  EXPECT_EQ(load_error(head + "repeat_interval: 0ms"),
            "4:24: route.routes[0].repeat_interval: repeat_interval cannot be zero");
  EXPECT_EQ(load_error(head + "group_by: [a, a]"),
            "4:21: route.routes[0].group_by[1]: duplicated label \"a\" in group_by");
  EXPECT_EQ(load_error(head + "group_by: ['a:b']"),
            "4:18: route.routes[0].group_by[0]: invalid label name \"a:b\" in group_by list");
  EXPECT_EQ(load_error(head + "group_by: [a, '...']"),
            "4:17: route.routes[0].group_by: cannot have wildcard group_by (`...`) and other "
            "labels at the same time");
  EXPECT_EQ(load_error(head + "group_by: a"),
            "4:17: route.routes[0].group_by: expected a list, got a string");
  EXPECT_EQ(load_error(head + "match: {1a: b}"),
            "4:15: route.routes[0].match.1a: invalid label name \"1a\"");
  EXPECT_EQ(load_error(head + "match: {a: b, a: c}"),
            "4:21: route.routes[0].match.a: key repeated");
  EXPECT_EQ(load_error(head + "match: {a: [b]}"),
            "4:18: route.routes[0].match.a: expected a string, got a list");
  EXPECT_EQ(load_error(head + "match_re: {a: '('}"),
            "4:21: route.routes[0].match_re.a: error parsing regexp: missing closing ): "
            "`^(?:()$`");
  EXPECT_EQ(load_error(head + "match_re: {a: }"),
            "4:18: route.routes[0].match_re.a: invalid regexp value for \"a\"");
  EXPECT_EQ(load_error(head + "matchers: ['a=\"b']"),
            "4:18: route.routes[0].matchers[0]: matcher value contains unescaped double quote: "
            "\"b");
  EXPECT_EQ(load_error(head + "matchers: 'a=b'"),
            "4:17: route.routes[0].matchers: expected a list, got a string");
  EXPECT_EQ(load_error(head + "matchers: [~, '']"), "");  // no matchers
  EXPECT_EQ(load_error(head + "continue: 'true'"),
            "4:17: route.routes[0].continue: expected true or false, got \"true\"");
  EXPECT_EQ(load_error(head + "continue: yes"), "");  // YAML 1.1, as yaml.v2
  EXPECT_EQ(load_error(head + "mute_time_intervals: [x]"),
            "4:29: route.routes[0].mute_time_intervals[0]: undefined time interval \"x\" used in "
            "route");
  EXPECT_EQ(load_error(head + "routes: [~]"),
            "4:16: route.routes[0].routes[0]: expected a mapping, got null");
  EXPECT_EQ(load_error(head + "routes: {receiver: a}"),
            "4:15: route.routes[0].routes: expected a list, got a mapping");
  EXPECT_EQ(load_error(head + "<<: {bogus: 1}"),
            "4:12: route.routes[0].bogus: unknown key \"bogus\" (expected one of: receiver, "
            "group_by, match, match_re, matchers, continue, routes, group_wait, group_interval, "
            "repeat_interval, mute_time_intervals, active_time_intervals)");
}

TEST(LoadRoutingTest, CollectsEveryError) {
  const Loaded l = load(R"(
route:
  receiver: nobody
  routes:
    - {group_wait: x, receiver: a}
    - {matchers: ['a="'], receiver: also_nobody}
)");
  ASSERT_EQ(l.errors.size(), 4u);
  EXPECT_EQ(l.errors[0], "3:13: route.receiver: undefined receiver \"nobody\" used in route");
  EXPECT_EQ(l.errors[1], "5:20: route.routes[0].group_wait: not a valid duration string: \"x\"");
  EXPECT_EQ(l.errors[2],
            "6:37: route.routes[1].receiver: undefined receiver \"also_nobody\" used in route");
  EXPECT_EQ(l.errors[3],
            "6:19: route.routes[1].matchers[0]: matcher value contains unescaped double quote: "
            "\"");
}

TEST(LoadRoutingTest, HostileInputsEnd) {
  // Aliases that loop, or explode, are cut off.
  const Loaded cycle = load("route: &r {receiver: default, routes: [*r, *r]}");
  ASSERT_FALSE(cycle.errors.empty());
  const Loaded deep = load("route: &r {receiver: default, routes: [{routes: [*r]}]}");
  ASSERT_FALSE(deep.errors.empty());
  // Errors stop at the limit.
  std::string many = "route:\n  receiver: default\n  routes:\n";
  for (int i = 0; i < 300; ++i) many += "    - {receiver: nobody}\n";
  const Loaded capped = load(many);
  EXPECT_EQ(capped.errors.size(), kMaxRoutingErrors + 1);
  EXPECT_EQ(capped.errors.back(), "104:18: too many errors (more than 100); stopping");
  // The caller's own errors do not count against the limit.
  std::vector<Error> errors(5);
  load_routing(YAML::Load(many), {"default"}, errors);
  EXPECT_EQ(errors.size(), 5 + kMaxRoutingErrors + 1);
}

// --- inhibition ---------------------------------------------------------------

TEST(InhibitTest, SourceTargetEqual) {
  const Loaded l = load(R"(
route: {receiver: default}
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
    equal: [cluster, service]
)");
  ASSERT_TRUE(l.errors.empty()) << l.errors[0];
  const auto& rules = l.config.inhibit_rules;
  const LabelSet warning = ls({{"severity", "warning"}, {"cluster", "eu"}, {"service", "db"}});
  const LabelSet critical = ls({{"severity", "critical"}, {"cluster", "eu"}, {"service", "db"}});
  const LabelSet other_cluster =
      ls({{"severity", "critical"}, {"cluster", "us"}, {"service", "db"}});
  EXPECT_TRUE(inhibited(rules, warning, {critical}));
  const std::vector<LabelSet> firing{other_cluster, critical};
  EXPECT_EQ(find_inhibitor(rules, warning, firing), &firing[1]);
  EXPECT_FALSE(inhibited(rules, warning, {other_cluster}));
  EXPECT_FALSE(inhibited(rules, critical, {critical}));  // not a target
  EXPECT_FALSE(inhibited(rules, warning, {}));
  // Missing equal labels are "" on both sides: they are equal.
  EXPECT_TRUE(inhibited(rules, ls({{"severity", "warning"}}), {ls({{"severity", "critical"}})}));
  EXPECT_FALSE(inhibited(rules, ls({{"severity", "warning"}}),
                         {ls({{"severity", "critical"}, {"cluster", "eu"}})}));
}

TEST(InhibitTest, FindsTheInhibitingAlert) {
  InhibitRule rule;
  rule.source = {must_make("alertname", MatchType::kEqual, "NodeDown")};
  rule.target = {must_make("alertname", MatchType::kNotEqual, "NodeDown")};
  rule.equal = {"node"};
  const std::vector<LabelSet> firing{ls({{"alertname", "NodeDown"}, {"node", "n1"}}),
                                     ls({{"alertname", "NodeDown"}, {"node", "n2"}})};
  const LabelSet target = ls({{"alertname", "DiskFull"}, {"node", "n2"}});
  EXPECT_EQ(find_inhibitor({rule}, target, firing), &firing[1]);
}

TEST(InhibitTest, AlertOnBothSidesDoesNotInhibitItself) {
  // Every alert with severity=page inhibits every other alert of its service.
  InhibitRule rule;
  rule.source = {must_make("severity", MatchType::kEqual, "page")};
  rule.target = {must_make("service", MatchType::kRegex, ".+")};
  rule.equal = {"service"};
  const LabelSet page = ls({{"severity", "page"}, {"service", "db"}});
  const LabelSet page2 = ls({{"severity", "page"}, {"service", "db"}, {"x", "2"}});
  const LabelSet ticket = ls({{"severity", "ticket"}, {"service", "db"}});
  EXPECT_TRUE(inhibited({rule}, ticket, {page, ticket}));
  // `page` is on both sides: alerts on both sides (itself, page2) are ignored.
  EXPECT_FALSE(inhibited({rule}, page, {page, page2, ticket}));
  // A source that is not a target still inhibits it.
  const LabelSet page_no_service = ls({{"severity", "page"}});
  InhibitRule no_equal = rule;
  no_equal.equal.clear();
  EXPECT_TRUE(inhibited({no_equal}, page, {page_no_service}));
}

TEST(InhibitTest, LoadsOldForms) {
  const Loaded l = load(R"(
route: {receiver: default}
inhibit_rules:
  - source_match: {severity: critical}
    source_match_re: {alertname: 'Node.*'}
    target_match: {severity: warning}
    target_matchers: ['team!=infra']
    equal: [a, a]
)");
  ASSERT_TRUE(l.errors.empty()) << l.errors[0];
  const InhibitRule& rule = l.config.inhibit_rules.at(0);
  EXPECT_EQ(to_string(rule.source), R"({alertname=~"^(?:Node.*)$",severity="critical"})");
  EXPECT_EQ(to_string(rule.target), R"({severity="warning",team!="infra"})");
  EXPECT_EQ(rule.equal, (std::vector<std::string>{"a"}));

  EXPECT_EQ(load_error("route: {receiver: default}\ninhibit_rules: [{equal: ['a:b']}]"),
            "2:26: inhibit_rules[0].equal[0]: \"a:b\" is not a valid label name");
  EXPECT_EQ(load_error("route: {receiver: default}\ninhibit_rules: [{source_match: {1a: b}}]"),
            "2:33: inhibit_rules[0].source_match.1a: invalid label name \"1a\"");
  EXPECT_EQ(load_error("route: {receiver: default}\ninhibit_rules: [{target: [a=b]}]"),
            "2:18: inhibit_rules[0].target: unknown key \"target\" (expected one of: "
            "source_match, source_match_re, source_matchers, target_match, target_match_re, "
            "target_matchers, equal)");
  EXPECT_EQ(load_error("route: {receiver: default}\ninhibit_rules: [~]"),
            "2:17: inhibit_rules[0]: expected a mapping, got null");
}

// --- time intervals -----------------------------------------------------------

std::vector<TimeInterval> intervals_of(const std::string& yaml_list) {
  const Loaded l = load(
      "route: {receiver: default}\ntime_intervals: [{name: t, time_intervals: " + yaml_list + "}]");
  EXPECT_TRUE(l.errors.empty()) << (l.errors.empty() ? "" : l.errors[0]);
  const auto it = l.config.time_intervals.find("t");
  return it == l.config.time_intervals.end() ? std::vector<TimeInterval>{} : it->second;
}

std::string interval_error(const std::string& entry) {
  const Loaded l = load("route: {receiver: default}\ntime_intervals: [{name: t, time_intervals: [" +
                        entry + "]}]");
  return l.errors.empty() ? "" : l.errors[0];
}

TEST(TimeIntervalTest, BusinessHours) {
  const auto business = intervals_of(
      "[{times: [{start_time: '09:00', end_time: '17:00'}], weekdays: ['monday:friday']}]");
  // 2024-03-04 is a Monday.
  EXPECT_FALSE(contains(business, utc(2024, 3, 4, 8, 59)));
  EXPECT_TRUE(contains(business, utc(2024, 3, 4, 9, 0)));
  EXPECT_TRUE(contains(business, utc(2024, 3, 4, 16, 59)));
  EXPECT_FALSE(contains(business, utc(2024, 3, 4, 17, 0)));  // end is exclusive
  EXPECT_TRUE(contains(business, utc(2024, 3, 8, 12)));      // Friday
  EXPECT_FALSE(contains(business, utc(2024, 3, 9, 12)));     // Saturday
  EXPECT_FALSE(contains(business, utc(2024, 3, 10, 12)));    // Sunday
}

TEST(TimeIntervalTest, Fields) {
  const auto end_of_day = intervals_of("[{times: [{start_time: '23:00', end_time: '24:00'}]}]");
  EXPECT_TRUE(contains(end_of_day, utc(2024, 1, 1, 23, 59)));
  EXPECT_FALSE(contains(end_of_day, utc(2024, 1, 2, 0, 0)));

  const auto last_days = intervals_of("[{days_of_month: ['-3:-1']}]");
  EXPECT_FALSE(contains(last_days, utc(2024, 2, 26)));
  EXPECT_TRUE(contains(last_days, utc(2024, 2, 27)));  // 2024 is a leap year
  EXPECT_TRUE(contains(last_days, utc(2024, 2, 29)));
  EXPECT_FALSE(contains(last_days, utc(2023, 2, 25)));
  EXPECT_TRUE(contains(last_days, utc(2023, 2, 26)));

  // Day 31 in a 30-day month: clamped to the month's last day.
  const auto up_to_31 = intervals_of("[{days_of_month: ['25:31']}]");
  EXPECT_TRUE(contains(up_to_31, utc(2024, 4, 30)));
  // A range starting after the month's end is skipped.
  const auto day_31 = intervals_of("[{days_of_month: ['31']}]");
  EXPECT_FALSE(contains(day_31, utc(2024, 4, 30)));
  EXPECT_TRUE(contains(day_31, utc(2024, 5, 31)));
  // -31 in February: clamped to -28 of a 28-day month, every day is in.
  const auto from_minus_31 = intervals_of("[{days_of_month: ['-31:-27']}]");
  EXPECT_TRUE(contains(from_minus_31, utc(2023, 2, 1)));
  EXPECT_TRUE(contains(from_minus_31, utc(2023, 2, 2)));
  EXPECT_FALSE(contains(from_minus_31, utc(2023, 2, 3)));

  const auto summer = intervals_of("[{months: ['June:august', '12'], years: ['2024:2025']}]");
  EXPECT_TRUE(contains(summer, utc(2024, 7, 1)));
  EXPECT_TRUE(contains(summer, utc(2025, 12, 31, 23, 59)));
  EXPECT_FALSE(contains(summer, utc(2026, 7, 1)));
  EXPECT_FALSE(contains(summer, utc(2024, 9, 1)));

  // Several entries: any of them.
  const auto either = intervals_of("[{weekdays: [saturday]}, {weekdays: [sunday]}]");
  EXPECT_TRUE(contains(either, utc(2024, 3, 9, 1)));
  EXPECT_TRUE(contains(either, utc(2024, 3, 10, 1)));
  EXPECT_FALSE(contains(either, utc(2024, 3, 11, 1)));
}

TEST(TimeIntervalTest, Location) {
  const auto berlin_morning = intervals_of(
      "[{times: [{start_time: '08:00', end_time: '09:00'}], location: 'Europe/Berlin'}]");
  ASSERT_EQ(berlin_morning.size(), 1u);
  EXPECT_EQ(berlin_morning[0].location, "Europe/Berlin");
  EXPECT_TRUE(contains(berlin_morning, utc(2024, 1, 15, 7, 30)));  // CET: UTC+1
  EXPECT_FALSE(contains(berlin_morning, utc(2024, 1, 15, 8, 30)));
  EXPECT_TRUE(contains(berlin_morning, utc(2024, 7, 15, 6, 30)));  // CEST: UTC+2
  // The weekday is Berlin's: Sunday 23:30 UTC is Monday there.
  const auto berlin_monday = intervals_of("[{weekdays: [monday], location: 'Europe/Berlin'}]");
  EXPECT_TRUE(contains(berlin_monday, utc(2024, 3, 10, 23, 30)));
  // The last day of March in a zone that springs forward in March is the
  // 31st (0.25 took it for the 30th).
  const auto last_day = intervals_of("[{days_of_month: ['-1'], location: 'America/New_York'}]");
  EXPECT_TRUE(contains(last_day, utc(2024, 3, 31, 16)));
  EXPECT_FALSE(contains(last_day, utc(2024, 3, 30, 16)));

  TimeInterval interval;
  std::string error;
  EXPECT_FALSE(set_location(interval, "Mars/Base", &error));
  EXPECT_EQ(error, "unknown time zone Mars/Base");
  EXPECT_FALSE(set_location(interval, "../etc/passwd", &error));
  EXPECT_EQ(error, "time: invalid location name");
  EXPECT_TRUE(set_location(interval, "", &error));
  EXPECT_EQ(interval.location, "UTC");
  EXPECT_TRUE(set_location(interval, "Local", &error));
}

TEST(TimeIntervalTest, QuirksOf025) {
  // An empty list restricts to nothing at all; a null one does not restrict.
  EXPECT_FALSE(contains(intervals_of("[{times: []}]"), utc(2024, 1, 1, 12)));
  EXPECT_FALSE(contains(intervals_of("[{weekdays: []}]"), utc(2024, 1, 1, 12)));
  EXPECT_TRUE(contains(intervals_of("[{weekdays: ~}]"), utc(2024, 1, 1, 12)));
  // A null entry restricts nothing; a null weekday is Sunday.
  EXPECT_TRUE(contains(intervals_of("[~]"), utc(2024, 1, 1, 12)));
  const auto sunday = intervals_of("[{weekdays: [~]}]");
  EXPECT_TRUE(contains(sunday, utc(2024, 3, 10, 12)));
  EXPECT_FALSE(contains(sunday, utc(2024, 3, 11, 12)));
  // Months are not range-checked: 13 never comes.
  EXPECT_FALSE(contains(intervals_of("[{months: ['13']}]"), utc(2024, 12, 1)));
  // Names are case-insensitive, as Go's strings.ToLower reads them.
  EXPECT_TRUE(contains(intervals_of("[{weekdays: ['FR\u0130DAY']}]"), utc(2024, 3, 8, 12)));
  // An interval with no entries contains nothing.
  EXPECT_FALSE(contains(intervals_of("[]"), utc(2024, 1, 1)));
}

TEST(TimeIntervalTest, Errors) {
  const std::string at = "2:46: time_intervals[0].time_intervals[0]";
  EXPECT_EQ(interval_error("{times: [{start_time: '9:00', end_time: '17:00'}]}"),
            "2:67: time_intervals[0].time_intervals[0].times[0].start_time: couldn't parse "
            "timestamp 9:00, invalid format");
  EXPECT_EQ(interval_error("{times: [{start_time: '10:00', end_time: '10:00'}]}"),
            "2:54: time_intervals[0].time_intervals[0].times[0]: start time cannot be equal or "
            "greater than end time");
  EXPECT_EQ(interval_error("{times: [{start_time: '10:00'}]}"),
            "2:54: time_intervals[0].time_intervals[0].times[0]: both start and end times must "
            "be provided");
  EXPECT_EQ(interval_error("{times: [{start: '10:00'}]}"),
            "2:55: time_intervals[0].time_intervals[0].times[0].start: unknown key \"start\" "
            "(expected one of: start_time, end_time)");
  EXPECT_EQ(interval_error("{weekdays: ['Mon']}"),
            "2:57: time_intervals[0].time_intervals[0].weekdays[0]: mon is not a valid weekday");
  EXPECT_EQ(interval_error("{weekdays: ['friday:monday']}"),
            "2:57: time_intervals[0].time_intervals[0].weekdays[0]: start day cannot be before "
            "end day");
  EXPECT_EQ(interval_error("{weekdays: ['a:b:c']}"),
            "2:57: time_intervals[0].time_intervals[0].weekdays[0]: couldn't parse range a:b:c, "
            "invalid format");
  EXPECT_EQ(interval_error("{days_of_month: ['0']}"),
            "2:62: time_intervals[0].time_intervals[0].days_of_month[0]: 0 is not a valid day of "
            "the month: out of range");
  EXPECT_EQ(interval_error("{days_of_month: ['-1:5']}"),
            "2:62: time_intervals[0].time_intervals[0].days_of_month[0]: end day must be "
            "negative if start day is negative");
  EXPECT_EQ(interval_error("{days_of_month: ['10:5']}"),
            "2:62: time_intervals[0].time_intervals[0].days_of_month[0]: end day 5 is always "
            "before start day 10");
  EXPECT_EQ(interval_error("{days_of_month: [' 1']}"),
            "2:62: time_intervals[0].time_intervals[0].days_of_month[0]: strconv.Atoi: parsing "
            "\" 1\": invalid syntax");
  EXPECT_EQ(interval_error("{years: ['99999999999999999999']}"),
            "2:54: time_intervals[0].time_intervals[0].years[0]: strconv.Atoi: parsing "
            "\"99999999999999999999\": value out of range");
  EXPECT_EQ(interval_error("{months: ['jan']}"),
            "2:55: time_intervals[0].time_intervals[0].months[0]: jan is not a valid month");
  EXPECT_EQ(interval_error("{months: ['december:january']}"),
            "2:55: time_intervals[0].time_intervals[0].months[0]: end month january is before "
            "start month december");
  EXPECT_EQ(interval_error("{years: ['2020:2019']}"),
            "2:54: time_intervals[0].time_intervals[0].years[0]: end year 2019 is before start "
            "year 2020");
  EXPECT_EQ(interval_error("{location: 'europe/berlin'}"),
            "2:56: time_intervals[0].time_intervals[0].location: unknown time zone europe/berlin");
  EXPECT_EQ(interval_error("{weekday: [monday]}"),
            at + ".weekday: unknown key \"weekday\" (did you mean \"weekdays\"?)");

  EXPECT_EQ(load_error("route: {receiver: default}\ntime_intervals: [{time_intervals: []}]"),
            "2:18: time_intervals[0]: missing name in time interval");
  EXPECT_EQ(load_error("route: {receiver: default}\nmute_time_intervals: [{name: ''}]"),
            "2:23: mute_time_intervals[0]: missing name in mute time interval");
  EXPECT_EQ(load_error("route: {receiver: default}\nmute_time_intervals: [{name: x}]\n"
                       "time_intervals: [{name: x}]"),
            "3:18: time_intervals[0]: time interval \"x\" is not unique");
  EXPECT_EQ(load_error("route: {receiver: default}\nmute_time_intervals: [{name: x}, {name: x}]"),
            "2:34: mute_time_intervals[1]: mute time interval \"x\" is not unique");
}

TEST(TimeIntervalTest, BothListsDefineNames) {
  const Loaded l = load(R"(
route:
  receiver: default
  routes: [{matchers: [a=1], mute_time_intervals: [old], active_time_intervals: [new]}]
mute_time_intervals: [{name: old, time_intervals: [{weekdays: [saturday]}]}]
time_intervals: [{name: new, time_intervals: [{weekdays: [sunday]}]}]
)");
  ASSERT_TRUE(l.errors.empty()) << l.errors[0];
  EXPECT_EQ(l.config.time_intervals.size(), 2u);
  EXPECT_TRUE(contains(l.config.time_intervals.at("old"), utc(2024, 3, 9, 12)));
  EXPECT_TRUE(contains(l.config.time_intervals.at("new"), utc(2024, 3, 10, 12)));
}

}  // namespace
}  // namespace watch::routing
