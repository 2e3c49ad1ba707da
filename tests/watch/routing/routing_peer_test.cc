// Peer test: watch's routing against the real amtool 0.25 (Debian's
// prometheus-alertmanager, installed by scripts/setup). amtool builds its
// routing tree with Alertmanager's own config.LoadFile and dispatch.NewRoute,
// so it is the reference for:
// - which receivers an alert goes to (`amtool config routes test`, which
//   prints Route.Match's receivers in order), for every combination of a few
//   labels on routing trees with nesting, `continue`, the three matcher forms
//   and inherited receivers: must agree with match_routes();
// - the tree as Alertmanager holds it (`amtool config routes show`: each
//   route's sorted matchers, `continue` and receiver): must agree with the
//   loaded Route tree;
// - how matcher strings are parsed: each string of a corpus (0.25's test
//   cases, quoting, escapes, whitespace, Unicode, regex corners) is put in a
//   route's `matchers`; amtool must refuse exactly those load_routing()
//   refuses, and print the same matchers for the others;
// - which whole configurations are valid (`amtool check-config`): must agree
//   with load_routing() on a set of valid and invalid files.
// About 750 amtool runs, ~12 s. ROUTING_PEER_VERBOSE=1 prints amtool's
// verdicts; ROUTING_PEER_GENERATED=N sets how many generated matcher texts
// are tried (300).
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "support/child_process.h"
#include "watch/routing/routing.h"

namespace watch::routing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct AmtoolRun {
  int exit_code = -1;
  std::vector<std::string> lines;  // stdout
};

AmtoolRun amtool(std::vector<std::string> args) {
  args.insert(args.begin(), FIREBREAK_AMTOOL);
  firebreak::test::ChildProcess child(args);
  AmtoolRun run;
  while (auto line = child.read_line(10s)) run.lines.push_back(*std::move(line));
  child.read_stderr(1s);
  const std::optional<int> status = child.wait_exit(10s);
  if (status && WIFEXITED(*status)) run.exit_code = WEXITSTATUS(*status);
  return run;
}

// A YAML double-quoted scalar holding `s` exactly (ASCII controls escaped;
// the corpus holds only valid UTF-8).
std::string yaml_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const unsigned char b = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (b < 0x20 || b == 0x7F) {
      out += fmt::format("\\x{:02x}", b);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// A label as an amtool argument: name="value", escaped as a matcher.
std::string label_arg(const std::string& name, const std::string& value) {
  std::string escaped;
  for (char c : value) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return fmt::format("{}=\"{}\"", name, escaped);
}

class RoutingPeerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = (fs::temp_directory_path() / "firebreak-routing-peer-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    dir_ = new fs::path(pattern);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*dir_, ec);
    delete dir_;
    dir_ = nullptr;
  }

  static fs::path write(const std::string& name, const std::string& yaml) {
    const fs::path path = *dir_ / name;
    std::ofstream(path) << yaml;
    return path;
  }

  // load_routing() on the file, with the receivers its `receivers` list names.
  static RoutingConfig load_file(const fs::path& path, std::vector<Error>& errors) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(path.string());
    } catch (const std::exception& e) {
      errors.push_back({0, 0, "", std::string("yaml: ") + e.what()});
      return {};
    }
    std::vector<std::string> receivers;
    if (root.IsMap() && root["receivers"] && root["receivers"].IsSequence()) {
      for (const YAML::Node& r : root["receivers"]) {
        if (r.IsMap() && r["name"] && r["name"].IsScalar()) receivers.push_back(r["name"].Scalar());
      }
    }
    return load_routing(root, receivers, errors);
  }

  inline static fs::path* dir_ = nullptr;
};

// `amtool config routes show`'s tree as (depth, text) lines; treeprint
// indents each level by four columns of box-drawing characters or spaces.
std::vector<std::pair<int, std::string>> amtool_tree(const std::vector<std::string>& lines) {
  std::vector<std::pair<int, std::string>> out;
  for (const std::string& line : lines) {
    if (line == "Routing tree:" || line == "." || line.empty()) continue;
    std::size_t i = 0;
    int columns = 0;
    while (i < line.size()) {
      if (line[i] == ' ') {
        ++i;
      } else if (line.compare(i, 2, "\xC2\xA0") == 0) {
        i += 2;  // treeprint indents with no-break spaces
      } else if (static_cast<unsigned char>(line[i]) == 0xE2 && i + 2 < line.size()) {
        i += 3;  // │ ├ └ ─ are three bytes each
      } else {
        break;
      }
      ++columns;
    }
    out.emplace_back(columns / 4 - 1, line.substr(i));
  }
  return out;
}

// The same lines for our tree, as amtool writes a route.
void our_tree(const Route& route, int depth, std::vector<std::pair<int, std::string>>& out) {
  std::string text = route.matchers.empty() ? "default-route" : to_string(route.matchers);
  if (route.continue_matching) text += "  continue: true";
  text += "  receiver: " + route.options.receiver;
  out.emplace_back(depth, std::move(text));
  for (const Route& child : route.routes) our_tree(child, depth + 1, out);
}

std::string our_receivers(const Route& root, const LabelSet& alert) {
  std::string out;
  for (const Route* r : match_routes(root, alert)) {
    if (!out.empty()) out += ",";
    out += r->options.receiver;
  }
  return out;
}

// Every combination of the values (one of them "", meaning absent) of the
// given labels.
std::vector<std::vector<std::pair<std::string, std::string>>> combinations(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& vocabulary) {
  std::vector<std::vector<std::pair<std::string, std::string>>> out{{}};
  for (const auto& [name, values] : vocabulary) {
    std::vector<std::vector<std::pair<std::string, std::string>>> next;
    for (const auto& partial : out) {
      for (const std::string& value : values) {
        auto extended = partial;
        if (!value.empty()) extended.emplace_back(name, value);
        next.push_back(std::move(extended));
      }
    }
    out = std::move(next);
  }
  return out;
}

struct RoutingCase {
  std::string name;
  std::string yaml;
  std::vector<std::pair<std::string, std::vector<std::string>>> vocabulary;
};

std::vector<RoutingCase> routing_cases() {
  return {
      {"nested_continue",
       R"(
route:
  receiver: root
  group_by: [alertname]
  routes:
    - matchers: ['service="db"']
      receiver: db
      continue: true
      routes:
        - match: {severity: page}
          receiver: db-page
          continue: true
        - match_re: {severity: 'page|crit.*'}
          receiver: db-crit
        - matchers: ['env!~"dev|qa"']
          receiver: db-not-dev
    - match_re: {service: 'db|web'}
      receiver: db-or-web
      routes:
        - matchers: [severity=warning, env=prod]
          receiver: web-warn-prod
    - matchers: ['{env="dev", service!="db"}']
      receiver: dev
      continue: true
    - matchers: ['severity=~""']
      receiver: no-severity
receivers:
  - name: root
  - name: db
  - name: db-page
  - name: db-crit
  - name: db-not-dev
  - name: db-or-web
  - name: web-warn-prod
  - name: dev
  - name: no-severity
)",
       {{"service", {"db", "web", "api", ""}},
        {"severity", {"page", "critical", "warning", ""}},
        {"env", {"prod", "dev", ""}}}},
      {"inherited_receivers",
       R"(
route:
  receiver: fallback
  routes:
    - matchers: [team=~"a.*"]
      routes:
        - matchers: [team=alpha]
          receiver: alpha
          routes:
            - matchers: [tier=front]
            - matchers: [tier!=front]
              continue: true
            - matchers: [tier=~"back|db"]
              receiver: alpha-back
        - matchers: [team!=alpha]
    - matchers: [tier=front]
      continue: true
      receiver: front
    - matchers: [tier=front]
      receiver: front-again
    - receiver: catch-all
      matchers: ['tier=~".*"']
receivers: [{name: fallback}, {name: alpha}, {name: alpha-back}, {name: front},
            {name: front-again}, {name: catch-all}]
)",
       {{"team", {"alpha", "amber", "beta", ""}}, {"tier", {"front", "back", "db", ""}}}},
      {"values_and_regexes",
       R"(
route:
  receiver: root
  routes:
    - matchers: ['msg="a \"quoted\" value, with comma"']
      receiver: quoted
    - matchers: ['msg=~"(?i)DISK.*full"']
      receiver: disk
    - match_re: {msg: '.*é.*'}
      receiver: accent
    - match: {msg: 'back\slash'}
      receiver: backslash
    - matchers: ['msg=~"a)|(b"']
      receiver: odd-anchor
    - matchers: ['msg!~".+"', 'other=~".+"']
      receiver: empty-msg
receivers: [{name: root}, {name: quoted}, {name: disk}, {name: accent}, {name: backslash},
            {name: odd-anchor}, {name: empty-msg}]
)",
       {{"msg",
         {"a \"quoted\" value, with comma", "Disk is FULL", "disk full", "café", "back\\slash", "a",
          "b", "ab", "axx", "xxb", "xax", "line\nbreak", ""}},
        {"other", {"x", ""}}}},
  };
}

TEST_F(RoutingPeerTest, RoutesAgreeWithAmtool) {
  int compared = 0;
  for (const RoutingCase& c : routing_cases()) {
    SCOPED_TRACE(c.name);
    const fs::path file = write(c.name + ".yml", c.yaml);
    std::vector<Error> errors;
    const RoutingConfig config = load_file(file, errors);
    ASSERT_TRUE(errors.empty()) << errors[0].to_string();

    const AmtoolRun show = amtool({"config", "routes", "show", "--config.file=" + file.string()});
    ASSERT_EQ(show.exit_code, 0);
    std::vector<std::pair<int, std::string>> ours;
    our_tree(config.route, 0, ours);
    EXPECT_EQ(amtool_tree(show.lines), ours);

    for (const auto& labels : combinations(c.vocabulary)) {
      std::vector<std::string> args{"config", "routes", "test", "--config.file=" + file.string()};
      std::vector<Label> set;
      std::string described;
      for (const auto& [name, value] : labels) {
        args.push_back(label_arg(name, value));
        set.push_back({name, value});
        described += " " + args.back();
      }
      const AmtoolRun test = amtool(args);
      ASSERT_EQ(test.exit_code, 0) << described;
      ASSERT_FALSE(test.lines.empty()) << described;
      EXPECT_EQ(our_receivers(config.route, LabelSet::from(set)), test.lines.back())
          << "labels:" << described;
      ++compared;
    }
  }
  EXPECT_GE(compared, 80);
}

// Random routing trees (fixed seed): up to three levels of up to three
// children, each with a matcher on one of three labels (or none), `continue`
// on about half, a receiver on about two thirds; every label combination.
std::string generated_tree(std::uint64_t seed) {
  static const std::vector<std::string> kMatchers{
      "matchers: [x=1]",          "matchers: ['x!=1']",
      "matchers: ['x=~\"1|2\"']", "match: {y: a}",
      "match_re: {y: 'a|b'}",     "matchers: ['y!~\"a\"']",
      "matchers: ['z=~\".+\"']",  "matchers: ['z=\"\"']",
      "matchers: [x=2, y=b]",     "matchers: []"};
  std::uint64_t state = seed;
  const auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::size_t>(state >> 33);
  };
  int receiver_count = 0;
  std::string receivers = "receivers: [{name: root}";
  std::string yaml = "route:\n  receiver: root\n";
  const auto children = [&](auto& self, int depth, const std::string& indent) -> void {
    const std::size_t n = depth > 3 ? 0 : next() % 4;
    if (n == 0) return;
    yaml += indent + "routes:\n";
    for (std::size_t i = 0; i < n; ++i) {
      yaml += indent + "  - " + kMatchers[next() % kMatchers.size()] + "\n";
      if (next() % 2) yaml += indent + "    continue: true\n";
      if (next() % 3) {
        const std::string name = fmt::format("r{}", ++receiver_count);
        yaml += indent + "    receiver: " + name + "\n";
        receivers += ", {name: " + name + "}";
      }
      self(self, depth + 1, indent + "    ");
    }
  };
  children(children, 1, "  ");
  return yaml + receivers + "]\n";
}

TEST_F(RoutingPeerTest, GeneratedTreesAgreeWithAmtool) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> vocabulary{
      {"x", {"1", "2", ""}}, {"y", {"a", "b", ""}}, {"z", {"q", ""}}};
  int compared = 0;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const std::string yaml = generated_tree(seed * 0x9E3779B97F4A7C15ULL);
    SCOPED_TRACE(yaml);
    const fs::path file = write(fmt::format("tree_{}.yml", seed), yaml);
    std::vector<Error> errors;
    const RoutingConfig config = load_file(file, errors);
    ASSERT_TRUE(errors.empty()) << errors[0].to_string();
    const AmtoolRun show = amtool({"config", "routes", "show", "--config.file=" + file.string()});
    ASSERT_EQ(show.exit_code, 0);
    std::vector<std::pair<int, std::string>> ours;
    our_tree(config.route, 0, ours);
    EXPECT_EQ(amtool_tree(show.lines), ours);
    if (std::getenv("ROUTING_PEER_VERBOSE")) {
      for (const std::string& line : show.lines) std::fprintf(stderr, "%s\n", line.c_str());
    }
    for (const auto& labels : combinations(vocabulary)) {
      std::vector<std::string> args{"config", "routes", "test", "--config.file=" + file.string()};
      std::vector<Label> set;
      for (const auto& [name, value] : labels) {
        args.push_back(label_arg(name, value));
        set.push_back({name, value});
      }
      const AmtoolRun test = amtool(args);
      ASSERT_FALSE(test.lines.empty());
      EXPECT_EQ(our_receivers(config.route, LabelSet::from(set)), test.lines.back())
          << LabelSet::from(set).braces();
      ++compared;
    }
  }
  EXPECT_EQ(compared, 10 * 18);
}

// Matcher strings as a route's `matchers` item.
const std::vector<std::string> kMatcherCorpus{
    // 0.25's parse_test.go.
    R"({foo="bar"})",
    R"({foo=~"bar.*"})",
    R"({foo!="bar"})",
    R"({foo!~"bar.*"})",
    R"({foo="bar", baz!="quux"})",
    R"({foo="bar",baz!~".*quux", derp="wat"})",
    R"({foo=""})",
    R"({foo="bar,quux", job="job1"})",
    R"({foo = "bar", dings != "bums", })",
    R"(foo=bar,dings!=bums)",
    R"({quote="She said: \"Hi, ladies! That's gender-neutral…\""})",
    R"(statuscode=~"5..")",
    R"(tricky=~~~)",
    R"(trickier==\\=\=\")",
    R"(contains_quote != "\"" , contains_comma !~ "foo,bar" , )",
    R"(job=)",
    R"(job="value)",
    R"(job=value")",
    R"(trickier==\\=\=\"")",
    R"(contains_unescaped_quote = foo"bar)",
    R"({invalid-name = "valid label"})",
    R"({foo=~"invalid[regexp"})",
    R"("{foo=\"bar"})",
    R"("foo=\"bar")",
    R"("foo=\"bar\"")",
    R"("{foo=\"bar\"}")",
    R"("foo="bar"")",
    // Lists, braces, commas.
    "",
    "{}",
    "{,}",
    "a=1,,b=2",
    "{{a=1}}",
    " {a=1}",
    "{a=1} ",
    "a=1}",
    "{a=1",
    "a=1,",
    ",a=1",
    R"(a="x,y",b=\"c,d=e)",
    R"(a="x\",y")",
    R"(a=x\,y)",
    R"(a="\,",b=c)",
    // Names and operators.
    "a:b=~c",
    ":a=b",
    "_=x",
    "a = =b",
    "a=!~b",
    "a!==b",
    "1a=b",
    "a b=c",
    "a~=b",
    "a==b",
    "a=~=b",
    "a",
    "=b",
    "a!b",
    // Whitespace: ASCII, vertical tab, no-break space, newlines.
    "\ta =\n\" x \" \r",
    " a=b \t",
    "a=b\v",
    "\va=b",
    "a=\vb",
    "a=b\u00a0",
    "a=b\u00a0,c=d",
    "\u00a0a=b",
    "a=b\u2003",
    "a=\"b\nc\"",
    "a=b\n,c=d",
    // Quotes and escapes.
    R"(a="x\ny\tz\\")",
    R"(a=x\)",
    R"(a="x\")",
    R"(a="")",
    R"(a=""")",
    R"(a="\"")",
    R"(a=\\)",
    R"(a="\\\"")",
    R"(a=x"y")",
    R"(a="x"y")",
    R"(a= "x" )",
    R"(a="x" ,b="y")",
    R"(a=x\\\)",
    R"(a="é\é")",
    R"(a=\")",
    "a=\"",
    "a=\"\"\"\"",
    // Unicode values.
    "a=日本語",
    "a=\"日本語, 中文\"",
    "a=~\"\\p{Han}+\"",
    "emoji=🔥",
    // Regex corners (Go's syntax, through RE2).
    "a=~(",
    "a=~)",
    "a=~a)|(b",
    "a=~\\C",
    "a=~\\\\C",
    "a=~(?P<n>x)(?P<n>y)",
    "a=~(?P<名>x)",
    "a=~(?<n>x)",
    "a=~x{1001}",
    "a=~(a{501}){2}",
    "a=~x**",
    "a=~[[:alpha:]]",
    "a=~[[:foo:]]",
    "a=~\\pL",
    "a=~\\p{Foo}",
    "a=~(?i)k",
    "a=~(?x)a",
    "a=~\\Z",
    "a=~\\z",
    "a=~\\Q*\\E",
    "a=~\\Q",
    "a=~\\",
    "a=~[]a]",
    "a=~[z-a]",
    "a=~\\x{110000}",
    "a=~\\8",
    "a=~(?#c)",
    "a=~\\e",
    "a!~.*",
    "a=~\\x{D800}",
    "a=~[\\Q]\\E]",
};

// Strings of the characters that matter to the parser, from a fixed seed:
// half shaped like matcher lists (names, operators, values of those
// characters), half anything.
std::vector<std::string> generated_matcher_texts(std::size_t count) {
  static const std::vector<std::string> kPieces{
      "a",  "b",      "_", ":", "1", "=", "!", "~", "\"", "\\", ",",  "{",  "}",  " ",   "\t",
      "\n", "\u00a0", "é", ".", "*", "(", ")", "|", "[",  "]",  "=~", "!=", "a=", "b!~", "\\\""};
  static const std::vector<std::string> kNames{"a", "b_1", ":x", "a:b", "1a", "", "a-b"};
  static const std::vector<std::string> kOps{"=", "!=", "=~", "!~", "==", "~", " = "};
  static const std::vector<std::string> kSpace{"", "", " ", "\t", "\n", "\u00a0"};
  std::uint64_t state = 0x2545F4914F6CDD1DULL;
  const auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::size_t>(state >> 33);
  };
  const auto pick = [&](const std::vector<std::string>& from) {
    return from[next() % from.size()];
  };
  const auto pieces = [&](std::size_t max) {
    std::string text;
    const std::size_t length = next() % (max + 1);
    for (std::size_t k = 0; k < length; ++k) text += pick(kPieces);
    return text;
  };
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i) {
    if (i % 2 == 1) {
      out.push_back(pieces(10));
      continue;
    }
    std::string text = next() % 2 ? "{" : "";
    const std::size_t items = 1 + next() % 3;
    for (std::size_t k = 0; k < items; ++k) {
      if (k > 0) text += pick(kSpace) + ",";
      text += pick(kSpace) + pick(kNames) + pick(kSpace) + pick(kOps) + pick(kSpace);
      const bool quoted = next() % 2;
      if (quoted) text += "\"";
      text += pieces(4);
      if (quoted && next() % 4 != 0) text += "\"";
    }
    if (next() % 3 == 0) text += pick(kSpace) + ",";
    if (next() % 2) text += "}";
    out.push_back(std::move(text));
  }
  return out;
}

TEST_F(RoutingPeerTest, MatcherParsingAgreesWithAmtool) {
  std::vector<std::string> corpus = kMatcherCorpus;
  const char* generated = std::getenv("ROUTING_PEER_GENERATED");
  for (std::string& text : generated_matcher_texts(generated ? std::atoi(generated) : 300)) {
    corpus.push_back(std::move(text));
  }
  int accepted = 0, refused = 0;
  for (std::size_t i = 0; i < corpus.size(); ++i) {
    const std::string& text = corpus[i];
    SCOPED_TRACE("matcher text: " + text);
    const fs::path file =
        write(fmt::format("matchers_{}.yml", i),
              "route:\n  receiver: default\n  routes:\n"
              "    - receiver: child\n      matchers: [" +
                  yaml_quote(text) + "]\nreceivers: [{name: default}, {name: child}]\n");
    const AmtoolRun show = amtool({"config", "routes", "show", "--config.file=" + file.string()});
    std::vector<Error> errors;
    const RoutingConfig config = load_file(file, errors);
    std::string error;
    const auto parsed = parse_matchers(text, &error);

    if (show.exit_code != 0) {
      ++refused;
      EXPECT_FALSE(errors.empty()) << "amtool refuses it, load_routing() does not";
      EXPECT_FALSE(parsed.has_value()) << "amtool refuses it, parse_matchers() does not";
      continue;
    }
    ++accepted;
    ASSERT_TRUE(errors.empty()) << "amtool accepts it; load_routing(): " << errors[0].to_string();
    ASSERT_TRUE(parsed.has_value()) << "amtool accepts it; parse_matchers(): " << error;
    std::vector<std::pair<int, std::string>> ours;
    our_tree(config.route, 0, ours);
    EXPECT_EQ(amtool_tree(show.lines), ours);
    std::vector<Matcher> sorted = *parsed;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, config.route.routes.at(0).matchers);
  }
  if (std::getenv("ROUTING_PEER_VERBOSE")) {
    std::fprintf(stderr, "matcher texts: %d accepted, %d refused by both\n", accepted, refused);
  }
  EXPECT_GT(accepted, 80);
  EXPECT_GT(refused, 100);
}

struct ConfigCase {
  std::string name;
  std::string yaml;
};

const char* const kReceivers = "\nreceivers: [{name: d}, {name: x}]\n";

std::vector<ConfigCase> config_cases() {
  const auto route = [](const std::string& child) {
    return "route:\n  receiver: d\n  routes:\n    - " + child + kReceivers;
  };
  const auto interval = [](const std::string& entry) {
    return std::string("route: {receiver: d}") + kReceivers +
           "time_intervals: [{name: t, time_intervals: [" + entry + "]}]\n";
  };
  const auto inhibit = [](const std::string& rule) {
    return std::string("route: {receiver: d}") + kReceivers + "inhibit_rules: [" + rule + "]\n";
  };
  return {
      // Valid.
      {"minimal", std::string("route: {receiver: d}") + kReceivers},
      {"everything", R"(
route:
  receiver: d
  group_by: ['...']
  group_wait: 1m
  group_interval: 1h30m
  repeat_interval: 1d
  routes:
    - receiver: x
      group_by: [a, b]
      match: {a: "1"}
      match_re: {b: "x|y"}
      matchers: ['c=~"z"', '{d!="1", e!~"2"}']
      mute_time_intervals: [old]
      active_time_intervals: [new]
      continue: yes
      routes: [{matchers: [f=1]}, {group_wait: 0}]
inhibit_rules:
  - source_match: {severity: critical}
    source_match_re: {alertname: 'Node.*'}
    source_matchers: [team=a]
    target_match: {severity: warning}
    target_match_re: {alertname: '.+'}
    target_matchers: ['team=~"a|b"']
    equal: [cluster, cluster, ~]
mute_time_intervals:
  - name: old
    time_intervals:
      - times: [{start_time: '00:00', end_time: '24:00'}]
        weekdays: ['Monday:FRIDAY', sunday]
        days_of_month: ['1:5', '-3:-1', '+7', 31]
        months: ['january:March', '12', '13', '0:1']
        years: ['2020:2030', '-5']
        location: Europe/Berlin
time_intervals:
  - name: new
    time_intervals: [~, {times: []}, {location: Local}, {location: ''}, {weekdays: [~]}]
  - name: other
)" + std::string(kReceivers)},
      {"merge_keys", R"(
route:
  receiver: d
  routes:
    - &base {receiver: x, group_wait: 1m}
    - <<: *base
      group_wait: 2m
    - <<: [*base, {matchers: [a=b]}]
)" + std::string(kReceivers)},
      {"null_interval_entry",
       std::string("route: {receiver: d}") + kReceivers + "time_intervals: [~]\n"},
      {"empty_matchers_item", route("{matchers: [~, '', '{}']}")},
      {"group_by_empty", route("{group_by: []}")},
      {"continue_null", route("{continue: ~}")},
      {"match_null_value", route("{match: {a: ~}}")},
      {"quoted_receiver_number",
       std::string("route: {receiver: 12}") + "\nreceivers: [{name: '12'}]\n"},
      // Invalid.
      {"no_route", "receivers: [{name: d}]\n"},
      {"null_route", std::string("route:") + kReceivers},
      {"root_without_receiver", std::string("route: {group_wait: 1m}") + kReceivers},
      {"root_matchers", std::string("route: {receiver: d, matchers: [a=b]}") + kReceivers},
      {"root_match_re", std::string("route: {receiver: d, match_re: {a: b}}") + kReceivers},
      {"root_continue", std::string("route: {receiver: d, continue: true}") + kReceivers},
      {"root_mute", std::string("route: {receiver: d, mute_time_intervals: [t]}") + kReceivers +
                        "time_intervals: [{name: t}]\n"},
      {"undefined_receiver", route("{receiver: nobody}")},
      {"unknown_route_key", route("{recevier: x}")},
      {"repeated_key", route("{receiver: x, receiver: x}")},
      {"bad_duration", route("{group_wait: 1.5h}")},
      {"zero_group_interval", route("{group_interval: 0s}")},
      {"zero_repeat_interval", route("{repeat_interval: 0}")},
      {"group_by_duplicate", route("{group_by: [a, a]}")},
      {"group_by_bad_name", route("{group_by: ['a:b']}")},
      {"group_by_all_and_names", route("{group_by: ['...', a]}")},
      {"group_by_scalar", route("{group_by: a}")},
      {"match_bad_name", route("{match: {'a-b': c}}")},
      {"match_re_bad_regex", route("{match_re: {a: '('}}")},
      {"match_re_null", route("{match_re: {a: }}")},
      {"matchers_bad", route("{matchers: ['a=\"b']}")},
      {"matchers_bad_regex", route("{matchers: ['a=~\\C']}")},
      {"matchers_scalar", route("{matchers: a=b}")},
      {"continue_quoted", route("{continue: 'true'}")},
      {"continue_number", route("{continue: 1}")},
      {"undefined_interval", route("{mute_time_intervals: [t]}")},
      {"routes_mapping", route("{routes: {receiver: x}}")},
      {"merge_unknown_key", route("{<<: {bogus: 1}}")},
      {"interval_missing_name", std::string("route: {receiver: d}") + kReceivers +
                                    "time_intervals: [{time_intervals: []}]\n"},
      {"interval_not_unique", std::string("route: {receiver: d}") + kReceivers +
                                  "mute_time_intervals: [{name: t}]\n"
                                  "time_intervals: [{name: t}]\n"},
      {"interval_bad_time", interval("{times: [{start_time: '9:00', end_time: '17:00'}]}")},
      {"interval_time_order", interval("{times: [{start_time: '17:00', end_time: '09:00'}]}")},
      {"interval_time_missing", interval("{times: [{start_time: '09:00'}]}")},
      {"interval_time_24_30", interval("{times: [{start_time: '00:00', end_time: '24:30'}]}")},
      {"interval_weekday_number", interval("{weekdays: ['1']}")},
      {"interval_weekday_order", interval("{weekdays: ['friday:monday']}")},
      {"interval_day_zero", interval("{days_of_month: ['0']}")},
      {"interval_day_mixed_signs", interval("{days_of_month: ['-1:5']}")},
      {"interval_day_order", interval("{days_of_month: ['10:5']}")},
      {"interval_day_space", interval("{days_of_month: [' 1']}")},
      {"interval_month_name", interval("{months: ['jan']}")},
      {"interval_month_order", interval("{months: ['december:january']}")},
      {"interval_year_order", interval("{years: ['2020:2019']}")},
      {"interval_year_overflow", interval("{years: ['99999999999999999999']}")},
      {"interval_range_format", interval("{weekdays: ['monday:tuesday:friday']}")},
      {"interval_location", interval("{location: 'Mars/Base'}")},
      {"interval_location_case", interval("{location: 'europe/berlin'}")},
      {"interval_unknown_key", interval("{weekday: [monday]}")},
      {"inhibit_bad_equal", inhibit("{equal: ['a:b']}")},
      {"inhibit_bad_match_name", inhibit("{source_match: {'1a': b}}")},
      {"inhibit_bad_regex", inhibit("{target_match_re: {a: '[z-a]'}}")},
      {"inhibit_unknown_key", inhibit("{target: [a=b]}")},
      {"inhibit_repeated_key", inhibit("{equal: [a], equal: [b]}")},
  };
}

TEST_F(RoutingPeerTest, CheckConfigAgreesWithAmtool) {
  int valid = 0, invalid = 0;
  for (const ConfigCase& c : config_cases()) {
    SCOPED_TRACE(c.name);
    const fs::path file = write(c.name + ".yml", c.yaml);
    const AmtoolRun check = amtool({"check-config", file.string()});
    std::vector<Error> errors;
    load_file(file, errors);
    std::string amtool_says;
    for (const std::string& line : check.lines) amtool_says += line + "\n";
    if (std::getenv("ROUTING_PEER_VERBOSE")) {
      std::fprintf(stderr, "%s: amtool %d, ours %zu errors: %s / %s\n", c.name.c_str(),
                   check.exit_code, errors.size(),
                   check.lines.empty() ? "" : check.lines[0].c_str(),
                   errors.empty() ? "" : errors[0].to_string().c_str());
    }
    if (check.exit_code == 0) {
      ++valid;
      EXPECT_TRUE(errors.empty()) << "amtool accepts it; load_routing(): " << errors[0].to_string();
    } else {
      ++invalid;
      EXPECT_FALSE(errors.empty()) << "amtool refuses it, load_routing() does not:\n"
                                   << amtool_says;
    }
  }
  EXPECT_GE(valid, 9);
  EXPECT_GE(invalid, 50);
}

}  // namespace
}  // namespace watch::routing
