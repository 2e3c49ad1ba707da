// Peer test: watch/silence against the real Alertmanager 0.25. Both get the
// same POST bodies (valid ones, and invalid ones of every kind Alertmanager
// answers differently), then the same updates, expiries and alerts:
// - every answer must agree: status and the exact body of each error;
// - GET /api/v2/silences must list the same silences in the same order,
//   with the same fields (ids mapped; times set to "now" compared within a
//   few seconds, explicit times exactly);
// - each alert must be silenced by the same silences.
// Where we differ on purpose (see silence.h) the test checks the difference.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "firebreak/http_client.h"
#include "support/child_process.h"
#include "watch/silence/silence.h"

namespace watch::silence {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr std::int64_t kHourMs = 3'600'000;

using firebreak::test::free_port;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// 2026-01-01T00:00:00.000Z
std::string rfc3339(std::int64_t ms) {
  const std::time_t seconds = ms / 1000;
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

std::int64_t parse_rfc3339(const std::string& text) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    throw std::runtime_error("not a UTC RFC 3339 time: " + text);
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(::timegm(&tm)) * 1000 + millis;
}

// One answer, from either side.
struct Answer {
  int status = 0;
  std::string body;
  std::string error;  // no answer at all
};

class SilencePeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("firebreak-silence-peer-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "alertmanager.yml") << "route:\n  receiver: default\n"
                                                "receivers:\n  - name: default\n";
    port_ = free_port();
    alertmanager_.emplace(std::vector<std::string>{
        FIREBREAK_ALERTMANAGER, "--config.file=" + (dir_ / "alertmanager.yml").string(),
        "--storage.path=" + (dir_ / "data").string(),
        "--web.listen-address=127.0.0.1:" + std::to_string(port_),
        "--cluster.listen-address=", "--log.level=error"});
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!alertmanager_->running()) {
        FAIL() << "alertmanager exited: " << alertmanager_->read_stderr(1s);
      }
      if (client_.get(url("/-/ready"), {}, 1s).ok()) return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "alertmanager did not get ready";
  }
  void TearDown() override {
    alertmanager_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string url(std::string_view path) const {
    return fmt::format("http://127.0.0.1:{}{}", port_, path);
  }

  Answer alertmanager(std::string_view method, std::string_view path, std::string_view body = {}) {
    // A fresh connection each time: a request that makes Alertmanager panic
    // closes the connection.
    firebreak::HttpClient client({.keep_alive = false});
    const firebreak::HttpResponse r =
        client.request(method, url(path), body, {{"Content-Type", "application/json"}}, 5s);
    return {r.status, r.body, r.error};
  }

  // POST /api/v2/silences, as the server will wire watch/silence.
  Answer ours_post(std::string_view body) {
    ParseResult posted = parse_postable_silence(body, silences_.now_ms());
    if (!posted.ok()) return {posted.http_status, posted.error_body, {}};
    const SetResult set = silences_.set(std::move(posted.silence));
    if (!set.ok()) return {set.http_status, handler_error_body(set.error), {}};
    return {200, R"({"silenceID":")" + set.id + "\"}\n", {}};
  }
  // DELETE /api/v2/silence/{id}.
  Answer ours_delete(std::string_view id) {
    if (std::optional<std::string> body = path_id_error_body(id)) return {422, *body, {}};
    if (std::optional<std::string> error = silences_.expire(id)) {
      return {500, handler_error_body(*error), {}};
    }
    return {200, "", {}};
  }

  // Posts to both; on success records the pair of ids and returns ours.
  std::string post_both(const std::string& body_ours, const std::string& body_alertmanager,
                        const std::string& what) {
    SCOPED_TRACE(what);
    const Answer theirs = alertmanager("POST", "/api/v2/silences", body_alertmanager);
    const Answer ours = ours_post(body_ours);
    EXPECT_EQ(theirs.error, "");
    EXPECT_EQ(ours.status, theirs.status) << "ours: " << ours.body << "\ntheirs: " << theirs.body;
    if (ours.status != 200 || theirs.status != 200) {
      EXPECT_EQ(ours.body, theirs.body);
      return {};
    }
    const std::string their_id = json::parse(theirs.body).at("silenceID");
    const std::string our_id = json::parse(ours.body).at("silenceID");
    ours_of_[their_id] = our_id;
    return our_id;
  }
  std::string post_both(const std::string& body, const std::string& what) {
    return post_both(body, body, what);
  }

  std::string their_id(const std::string& ours) const {
    for (const auto& [theirs, mine] : ours_of_) {
      if (mine == ours) return theirs;
    }
    ADD_FAILURE() << "no Alertmanager id for " << ours;
    return "";
  }

  // A postableSilence with the given matchers (JSON) and times.
  static std::string body(std::string_view matchers, std::int64_t starts, std::int64_t ends,
                          std::string_view id = "", std::string_view comment = "c") {
    json b = {{"matchers", json::parse(matchers)},
              {"startsAt", rfc3339(starts)},
              {"endsAt", rfc3339(ends)},
              {"createdBy", "peer-test"},
              {"comment", comment}};
    if (!id.empty()) b["id"] = id;
    return b.dump();
  }

  // Compares GET /api/v2/silences (or ?filter=...) with our list.
  void compare_lists(std::string_view query, const std::vector<Silence>& ours_list) {
    const Answer theirs = alertmanager("GET", "/api/v2/silences" + std::string(query));
    ASSERT_EQ(theirs.status, 200) << theirs.body << theirs.error;
    const json their_list = json::parse(theirs.body);
    const json our_list = json::parse(to_json(ours_list, silences_.now_ms()));
    ASSERT_EQ(our_list.size(), their_list.size()) << "theirs: " << theirs.body;
    for (std::size_t i = 0; i < our_list.size(); ++i) {
      const json& o = our_list[i];
      const json& t = their_list[i];
      SCOPED_TRACE(fmt::format("#{} ours {}\ntheirs {}", i, o.dump(), t.dump()));
      const auto it = ours_of_.find(t.at("id"));
      ASSERT_NE(it, ours_of_.end());
      EXPECT_EQ(o.at("id"), it->second);  // same order
      EXPECT_EQ(o.at("status"), t.at("status"));
      EXPECT_EQ(o.at("matchers"), t.at("matchers"));
      EXPECT_EQ(o.at("comment"), t.at("comment"));
      EXPECT_EQ(o.at("createdBy"), t.at("createdBy"));
      // Same key order too: the objects print alike once ids and times match.
      std::vector<std::string> our_keys, their_keys;
      for (const auto& [k, v] : o.items()) our_keys.push_back(k);
      for (const auto& [k, v] : t.items()) their_keys.push_back(k);
      EXPECT_EQ(our_keys, their_keys);
      for (const char* field : {"startsAt", "endsAt", "updatedAt"}) {
        const std::int64_t ours_ms = parse_rfc3339(o.at(field));
        const std::int64_t theirs_ms = parse_rfc3339(t.at(field));
        EXPECT_NEAR(static_cast<double>(ours_ms), static_cast<double>(theirs_ms), 5000.0) << field;
      }
      // An end that nobody moved to "now" is the posted one, on both sides.
      if (t.at("status").at("state") != "expired") {
        EXPECT_EQ(o.at("endsAt"), t.at("endsAt"));
      }
    }
  }

  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  std::optional<firebreak::test::ChildProcess> alertmanager_;
  firebreak::HttpClient client_;
  Silences silences_{{}};
  std::map<std::string, std::string> ours_of_;  // Alertmanager's id -> ours
};

// Every kind of body Alertmanager refuses, and some it takes.
TEST_F(SilencePeerTest, PostAnswersAgree) {
  const std::int64_t now = wall_ms();
  const std::string S = rfc3339(now - kHourMs);
  const std::string E = rfc3339(now + 2 * kHourMs);
  const std::string F = rfc3339(now + kHourMs);
  const std::string P = rfc3339(now - 2 * kHourMs);
  const std::string M = R"([{"name":"job","value":"api","isRegex":false}])";
  // Every accepted silence ends at its own millisecond, so that both lists
  // have one order (Alertmanager leaves ties in random order).
  std::int64_t next_end = now + 2 * kHourMs;
  const auto with = [&](std::string_view matchers, std::string_view extra = "",
                        std::string_view starts = {}, std::string_view ends = {}) {
    const std::string end = rfc3339(next_end += 1000);
    return fmt::format(
        R"({{"matchers":{},"startsAt":"{}","endsAt":"{}","createdBy":"me","comment":"c"{}}})",
        matchers, starts.empty() ? S : starts, ends.empty() ? std::string_view(end) : ends, extra);
  };
  const auto regex = [&](std::string_view pattern) {
    return with(fmt::format(R"([{{"name":"a","value":{},"isRegex":true}}])",
                            json(std::string(pattern)).dump()));
  };
  const auto time = [&](std::string_view starts) { return with(M, "", starts); };
  const auto repeated = [](std::string_view s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };

  const std::vector<std::pair<std::string, std::string>> cases = {
      // Accepted.
      {"plain", with(M)},
      {"every matcher type",
       with(
           R"([{"name":"a","value":"1","isRegex":false},{"name":"b","value":"2","isRegex":false,"isEqual":false},)"
           R"({"name":"c","value":"3|4","isRegex":true},{"name":"d","value":"5.*","isRegex":true,"isEqual":false}])")},
      {"pending", with(M, "", F)},
      {"empty createdBy and comment",
       fmt::format(R"({{"matchers":{},"startsAt":"{}","endsAt":"{}","createdBy":"","comment":""}})",
                   M, S, rfc3339(now + kHourMs + 1))},
      {"folded keys",
       fmt::format(R"({{"MATCHERS":[{{"NAME":"a","Value":"b","isregex":false}}],)"
                   R"("\u017ftartsAt":"{}","endsAt":"{}","createdby":"me","Comment":"c"}})",
                   S, rfc3339(now + kHourMs + 2))},
      {"trailing garbage", with(M) + " trailing {garbage"},
      {"repeated matchers",
       with(
           R"([{"name":"a","value":"x","isRegex":false},{"name":"c","value":"y","isRegex":false}])",
           R"(,"matchers":[{"name":"b"}],"matchers":[{"name":"d"},{"name":"e"}])")},
      {"!= empty alone", with(R"([{"name":"a","value":"","isRegex":false,"isEqual":false}])")},
      {"!~ alone", with(R"([{"name":"a","value":"x","isRegex":true,"isEqual":false}])")},
      {"unicode and escapes",
       with(R"([{"name":"a","value":"\u00e9\ud83d\ude00\ud800<&>\u2028","isRegex":false}])",
            R"(,"comment":"a<b&c>\u2028\u0001\b\f\t")")},
      {"empty startsAt",
       fmt::format(
           R"({{"matchers":{},"startsAt":"","endsAt":"{}","createdBy":"me","comment":"c"}})", M,
           rfc3339(now + kHourMs + 7))},
      {"id null", with(M, R"(,"id":null)")},
      {"deep regex ok", regex(std::string(999, '(') + "a" + std::string(999, ')'))},
      {"regex syntax Go has", regex("(?P<name>a)(?i)b\\pL[[:word:]]\\Q(\\E\\x{10FFFF}a{2,5}")},
      // 422: the schema.
      {"empty body", ""},
      {"whitespace body", " \n "},
      {"empty object", "{}"},
      {"null", "null"},
      {"no createdBy", R"({"comment":"c"})"},
      {"no endsAt", R"({"comment":"c","createdBy":"me"})"},
      {"matchers null", with("null")},
      {"matchers empty", with("[]")},
      {"matcher without isRegex", with(R"([{"name":"a","value":"b"}])")},
      {"second matcher empty", with(R"([{"name":"a","value":"b","isRegex":false},{}])")},
      {"matcher without name", with(R"([{"isRegex":false,"value":"b"}])")},
      {"matcher without value", with(R"([{"isRegex":false,"name":"b"}])")},
      {"no startsAt",
       fmt::format(R"({{"matchers":{},"endsAt":"{}","createdBy":"me","comment":"c"}})", M, E)},
      {"endsAt null later", with(M, R"(,"endsAt":null)")},
      // 400: decoding.
      {"unexpected EOF", "{"},
      {"literal EOF", "tru"},
      {"bad literal", R"({"a":tx})"},
      {"bad escape", R"({"a":"\x"})"},
      {"bad unicode escape", R"({"a":"\u12x4"})"},
      {"bad fraction", R"({"a":1.x})"},
      {"bad exponent", R"({"a":1e})"},
      {"bad minus", R"({"a":-})"},
      {"no colon", R"({"a" 1})"},
      {"no comma", R"({"a":1 "b":2})"},
      {"single quotes", R"({'a':1})"},
      {"trailing comma", R"({"a":1,})"},
      {"array element", "[1 2]"},
      {"control character", "{\"a\":\"\x01\"}"},
      {"html character", "<html>"},
      {"byte order mark", "\xef\xbb\xbf{}"},
      {"high byte", "\x80"},
      {"too deep", std::string(10'001, '[')},
      {"array", "[]"},
      {"string", R"("str")"},
      {"number", "123abc"},
      {"id number", with(M, R"(,"id":5)")},
      {"isRegex string", with(R"([{"name":"a","value":"b","isRegex":"x"}])")},
      {"name number", with(R"([{"name":5,"value":"b","isRegex":false}])")},
      {"isEqual number", with(R"([{"name":"a","value":"b","isRegex":false,"isEqual":0}])")},
      {"matcher string", with(R"(["x"])")},
      {"matcher array", with(R"([[]])")},
      {"matchers object", with("{}")},
      {"matchers number", with("5")},
      {"comment bool", R"({"comment":true})"},
      {"endsAt number", R"({"endsAt":5})"},
      {"startsAt array", R"({"startsAt":[]})"},
      {"time error wins", R"({"comment":5,"endsAt":"x"})"},
      {"id first", R"({"comment":5,"id":5})"},
      {"first mismatch", R"({"comment":5,"createdBy":true})"},
      // 400: times.
      {"time x", time("x")},
      {"time year", time("20a6-12-07 00:00:00")},
      {"time slash", time("2026/12/07")},
      {"time separator", time("2020-12-07x00:00:00")},
      {"time short", time("2020-12-07 00:00")},
      {"time second digit", time("2020-12-07 00:00:0")},
      {"time month", time("2026-13-01 00:00:00")},
      {"time day", time("2026-02-29 00:00:00")},
      {"time hour", time("2020-12-07 24:00:00")},
      {"time minute", time("2020-12-07 23:60:00")},
      {"time second", time("2020-12-07 23:59:60")},
      {"time extra", time("2020-12-07 00:00:00xyz")},
      {"time extra unicode", time("2020-12-07 00:00:00\xc3\xa9")},
      {"time no colon offset", time("2020-12-07T00:00:00+0200")},
      {"time lowercase", time("2020-12-07t00:00:00z")},
      {"time space forms", time("2020-12-07   1:00:00.250")},
      {"time signed fraction", time("2020-12-07T00:00:00.+12Z")},
      {"time offsets", time("2020-12-07T00:00:00.000+0100")},
      {"time odd offsets", time("2020-12-07T00:00:00+92:70")},
      {"time signed offsets", time("2020-12-07T00:00:00-+1:-5")},
      {"time bad offset", time("2020-12-07T00:00:00+1a:00")},
      {"time local", time("2020-12-07T00:00")},
      {"time reduced", time("2020-12-07T00:00Z")},
      {"time long fraction", time("2020-12-07T00:00:00.1234567891234Z")},
      {"time leap day", time("2028-02-29 00:00:00")},
      {"time year zero", time("0000-02-29 00:00:00")},
      // 400: the handler.
      {"start after end", with(M, "", E, S)},
      {"start equals end", with(M, "", E, E)},
      {"end in the past", with(M, "", P, rfc3339(now - kHourMs))},
      {"empty name", with(R"([{"name":"","value":"b","isRegex":false}])")},
      {"bad name",
       with(
           R"([{"name":"a","value":"b","isRegex":false},{"name":"1a","value":"b","isRegex":false}])")},
      {"quoted name",
       with(R"([{"name":"\u00e4\u2028\u0001\u00ad\u00a0<&>","value":"b","isRegex":false}])")},
      {"all match empty", with(R"([{"name":"a","value":"","isRegex":false}])")},
      {"all match empty regex", with(R"([{"name":"a","value":".*","isRegex":true}])")},
      {"all match empty mixed",
       with(
           R"([{"name":"a","value":"x|","isRegex":true},{"name":"b","value":"","isRegex":false}])")},
      {"regex (", regex("(")},
      {"regex a)", regex("a)")},
      {"regex a)|(b", regex("a)|(b")},
      {"regex a(b", regex("a(b")},
      {"regex x(y)(z", regex("x(y)(z")},
      {"regex [a", regex("[a")},
      {"regex [z-a]", regex("[z-a]")},
      {"regex a**", regex("a**")},
      {"regex a{1001}", regex("a{1001}")},
      {"regex a{2,1}", regex("a{2,1}")},
      {"regex x{1000}{1000}", regex("x{1000}{1000}")},
      {"regex (a{1000}){1000}", regex("(a{1000}){1000}")},
      {"regex *", regex("*")},
      {"regex +a", regex("+a")},
      {"regex a|*", regex("a|*")},
      {"regex \\", regex("\\")},
      {"regex \\8", regex("\\8")},
      {"regex \\C", regex("a\\C")},
      {"regex \\Z", regex("\\Z")},
      {"regex named non-ASCII", regex("(?P<n\xc3\xa4m>a)")},
      {"regex named empty", regex("(?P<>a)")},
      {"regex (?<", regex("(?<name>a)")},
      {"regex (?z", regex("(?z)a")},
      {"regex (?P=", regex("(?P=n)")},
      {"regex [[:foo:]]", regex("[[:foo:]]")},
      {"regex \\pX", regex("\\pX")},
      {"regex \\p{Foo}", regex("\\p{Foo}")},
      {"regex [a-\\d]", regex("[a-\\d]")},
      {"regex \\x{110000}", regex("\\x{110000}")},
      {"regex too deep", regex(std::string(1000, '(') + "a" + std::string(1000, ')'))},
      {"regex too deep by a concatenation",
       regex(std::string(999, '(') + "a" + std::string(67, ')') + "[:word:]" +
             std::string(932, ')'))},
      {"regex deep concatenation", regex(std::string(998, '(') + "a" + std::string(67, ')') +
                                         "[:word:]" + std::string(931, ')'))},
      {"regex deep shapes",
       regex(std::string(998, '(') + "abc(?:x|y)(?:de)" + std::string(998, ')'))},
      {"regex deep and unclosed", regex(std::string(999, '(') + "a" + std::string(917, ')'))},
      {"regex deep repetitions", regex(std::string(499, '(') + "a*" + repeated(")+", 499))},
      {"regex too deep repetitions", regex(std::string(500, '(') + "a*" + repeated(")+", 500))},
      {"regex NUL", regex(std::string("\0(", 2))},
      {"regex error before \\C", regex("\\8\\C")},
      // 404.
      {"unknown id", with(M, R"(,"id":"00000000-0000-4000-8000-000000000000")")},
      {"id not a UUID", with(M, R"(,"id":"nope")")},
      {"unknown id first", with(R"([{"name":"a","value":"","isRegex":false}])", R"(,"id":"nope")")},
  };
  for (const auto& [what, text] : cases) post_both(text, what);

  // The deliberate differences. A null matcher: 0.25 panics, the connection
  // closes without an answer; we refuse it.
  const std::string null_matcher = with(R"([{"name":"a","value":"b","isRegex":false},null])");
  EXPECT_NE(alertmanager("POST", "/api/v2/silences", null_matcher).error, "");
  EXPECT_EQ(ours_post(null_matcher).body,
            R"({"code":602,"message":"matchers.1 in body is required"})");

  // Everything accepted is listed alike (the "end in the past" case aside,
  // nothing has ended).
  compare_lists("", silences_.query());
}

// Updates in place, replacements, expiries, the list and its filter.
TEST_F(SilencePeerTest, LifecycleAgrees) {
  const std::int64_t now = wall_ms();
  const auto matchers = [](std::string_view job) {
    return fmt::format(R"([{{"name":"job","value":"{}","isRegex":false}}])", job);
  };
  // Distinct ends and starts, so that both orders are fully determined.
  const std::string a = post_both(body(matchers("a"), now - kHourMs, now + 3 * kHourMs), "a");
  const std::string b = post_both(body(matchers("b"), now - kHourMs, now + 4 * kHourMs), "b");
  const std::string c = post_both(body(matchers("c"), now - kHourMs, now + 5 * kHourMs), "c");
  const std::string d = post_both(body(matchers("d"), now - kHourMs, now + 6 * kHourMs), "d");
  const std::string p = post_both(body(matchers("p"), now + kHourMs, now + 7 * kHourMs), "p");
  const std::string q = post_both(body(matchers("q"), now + 2 * kHourMs, now + 8 * kHourMs), "q");
  const std::string r = post_both(body(matchers("r"), now + 3 * kHourMs, now + 9 * kHourMs), "r");
  ASSERT_FALSE(a.empty() || b.empty() || c.empty() || d.empty() || p.empty() || q.empty() ||
               r.empty());

  // The startsAt each side stored (creation time, moved up to now).
  const auto their_silence = [&](const std::string& ours) {
    const Answer got = alertmanager("GET", "/api/v2/silence/" + their_id(ours));
    EXPECT_EQ(got.status, 200) << got.body;
    return json::parse(got.body);
  };
  const auto stored_starts = [&](const std::string& ours) {
    return std::pair{silences_.get(ours)->starts_at_ms,
                     parse_rfc3339(their_silence(ours).at("startsAt"))};
  };

  // a: in place (same matchers, same startsAt second, a later end).
  {
    const auto [ours_starts, their_starts] = stored_starts(a);
    const std::string id = post_both(
        body(matchers("a"), ours_starts, now + 10 * kHourMs, a, "longer"),
        body(matchers("a"), their_starts, now + 10 * kHourMs, their_id(a), "longer"), "a in place");
    EXPECT_EQ(id, a);
  }
  std::this_thread::sleep_for(20ms);
  // b: other matchers: b expires, a new silence replaces it.
  {
    const auto [ours_starts, their_starts] = stored_starts(b);
    const std::string id = post_both(
        body(matchers("b2"), ours_starts, now + 11 * kHourMs, b),
        body(matchers("b2"), their_starts, now + 11 * kHourMs, their_id(b)), "b replaced");
    EXPECT_NE(id, b);
  }
  std::this_thread::sleep_for(20ms);
  // c: startsAt moved to another second: replaced too.
  {
    const auto [ours_starts, their_starts] = stored_starts(c);
    post_both(body(matchers("c"), ours_starts - 5000, now + 12 * kHourMs, c),
              body(matchers("c"), their_starts - 5000, now + 12 * kHourMs, their_id(c)), "c moved");
  }
  std::this_thread::sleep_for(20ms);
  // p: pending, startsAt still in the future: in place.
  EXPECT_EQ(post_both(body(matchers("p"), now + 90 * 60'000, now + 13 * kHourMs, p),
                      body(matchers("p"), now + 90 * 60'000, now + 13 * kHourMs, their_id(p)),
                      "p in place"),
            p);
  // q: pending, startsAt now in the past: replaced, q expires.
  post_both(body(matchers("q"), now - 1000, now + 14 * kHourMs, q),
            body(matchers("q"), now - 1000, now + 14 * kHourMs, their_id(q)), "q replaced");
  std::this_thread::sleep_for(20ms);
  // d and r expired by DELETE; the second DELETE changes nothing.
  for (const std::string& id : {d, r}) {
    const Answer theirs = alertmanager("DELETE", "/api/v2/silence/" + their_id(id));
    const Answer ours = ours_delete(id);
    EXPECT_EQ(ours.status, theirs.status);
    EXPECT_EQ(ours.body, theirs.body);
    std::this_thread::sleep_for(20ms);
  }
  for (const std::string& id : {d, r}) {
    const Answer theirs = alertmanager("DELETE", "/api/v2/silence/" + their_id(id));
    EXPECT_EQ(theirs.status, 200);
    EXPECT_EQ(ours_delete(id).status, 200);
  }
  // Unknown and malformed ids.
  for (const std::string id : {"00000000-0000-4000-8000-000000000000", "nope"}) {
    const Answer theirs = alertmanager("DELETE", "/api/v2/silence/" + id);
    const Answer ours = ours_delete(id);
    EXPECT_EQ(ours.status, theirs.status) << id;
    EXPECT_EQ(ours.body, theirs.body) << id;
  }
  // d is expired now: posting it again creates a new silence, d stays as is.
  const Silence d_before = *silences_.get(d);
  post_both(body(matchers("d"), now, now + 15 * kHourMs, d),
            body(matchers("d"), now, now + 15 * kHourMs, their_id(d)), "d again");
  EXPECT_EQ(*silences_.get(d), d_before);
  // An update whose end is in the past is refused by the handler.
  post_both(body(matchers("a"), now - 2 * kHourMs, now - kHourMs, a),
            body(matchers("a"), now - 2 * kHourMs, now - kHourMs, their_id(a)), "a in the past");

  compare_lists("", silences_.query());
  const std::vector<SilenceMatcher> filter{{.name = "job", .value = "c"}};
  compare_lists("?filter=job%3D%22c%22", silences_.query(std::nullopt, filter));

  // One silence by id.
  const json theirs = their_silence(a);
  const json ours = json::parse(to_json(*silences_.get(a), silences_.now_ms()));
  EXPECT_EQ(ours.at("status"), theirs.at("status"));
  EXPECT_EQ(ours.at("comment"), "longer");
  EXPECT_EQ(ours.at("endsAt"), theirs.at("endsAt"));
  EXPECT_EQ(alertmanager("GET", "/api/v2/silence/nope").body, *path_id_error_body("nope"));
}

// Which silences mute which alerts.
TEST_F(SilencePeerTest, MutingAgrees) {
  const std::int64_t now = wall_ms();
  const std::vector<std::string> silence_matchers = {
      R"([{"name":"job","value":"api","isRegex":false}])",
      R"([{"name":"env","value":"prod|qa","isRegex":true}])",
      R"([{"name":"env","value":"pro","isRegex":true}])",
      R"([{"name":"job","value":"api","isRegex":false},{"name":"team","value":"db","isRegex":false,"isEqual":false}])",
      R"([{"name":"job","value":"api","isRegex":true,"isEqual":false}])",
      R"([{"name":"team","value":"","isRegex":false,"isEqual":false}])",
      R"([{"name":"job","value":"web","isRegex":false},{"name":"team","value":"","isRegex":false}])",
      R"([{"name":"instance","value":"host-[0-9]+:9100","isRegex":true}])",
      R"([{"name":"alertname","value":"(?i)disk.*","isRegex":true}])",
      R"([{"name":"msg","value":"caf\u00e9.","isRegex":true}])",
  };
  for (std::size_t i = 0; i < silence_matchers.size(); ++i) {
    post_both(
        body(silence_matchers[i], now - kHourMs, now + kHourMs + static_cast<std::int64_t>(i)),
        fmt::format("silence {}", i));
  }
  // Pending: mutes nothing yet.
  post_both(
      body(R"([{"name":"job","value":"api","isRegex":false}])", now + kHourMs, now + 2 * kHourMs),
      "pending");

  const std::vector<std::map<std::string, std::string>> alerts = {
      {{"alertname", "Down"}, {"job", "api"}, {"env", "prod"}},
      {{"alertname", "Down"}, {"job", "api"}, {"team", "db"}},
      {{"alertname", "Down"}, {"job", "web"}},
      {{"alertname", "Down"}, {"job", "web"}, {"team", "ops"}},
      {{"alertname", "DiskFull"}, {"instance", "host-12:9100"}},
      {{"alertname", "diskfull"}, {"instance", "host-12:91000"}},
      {{"alertname", "Slow"}, {"env", "pro"}, {"msg", "caf\xc3\xa9!"}},
      {{"alertname", "Slow"}, {"env", "production"}},
  };
  json posted = json::array();
  for (const auto& labels : alerts) {
    posted.push_back({{"labels", labels}, {"startsAt", rfc3339(now - 60'000)}});
  }
  const Answer sent = alertmanager("POST", "/api/v2/alerts", posted.dump());
  ASSERT_EQ(sent.status, 200) << sent.body << sent.error;

  const Answer got = alertmanager("GET", "/api/v2/alerts");
  ASSERT_EQ(got.status, 200) << got.body;
  const json their_alerts = json::parse(got.body);
  ASSERT_EQ(their_alerts.size(), alerts.size());
  for (const json& alert : their_alerts) {
    std::vector<Label> labels;
    for (const auto& [name, value] : alert.at("labels").items()) {
      labels.push_back({name, value.get<std::string>()});
    }
    const LabelSet set = LabelSet::from(std::move(labels));
    SCOPED_TRACE(set.braces());
    std::set<std::string> theirs;
    for (const json& id : alert.at("status").at("silencedBy")) theirs.insert(ours_of_.at(id));
    const std::vector<std::string> ours = silences_.mutes(set);
    EXPECT_EQ(std::set<std::string>(ours.begin(), ours.end()), theirs);
    EXPECT_EQ(alert.at("status").at("state"), theirs.empty() ? "active" : "suppressed");
  }
}

// A deliberate difference: 0.25 refuses an update with invalid matchers
// (same answer here) but has already expired the silence; we keep it.
TEST_F(SilencePeerTest, RefusedUpdateExpiresTheSilenceInAlertmanagerOnly) {
  const std::int64_t now = wall_ms();
  const std::string valid = R"([{"name":"job","value":"api","isRegex":false}])";
  const std::string invalid = R"([{"name":"job","value":"","isRegex":false}])";
  const std::string id = post_both(body(valid, now, now + kHourMs), "create");
  ASSERT_FALSE(id.empty());
  post_both(body(invalid, now, now + kHourMs, id), body(invalid, now, now + kHourMs, their_id(id)),
            "refused update");
  const Answer theirs = alertmanager("GET", "/api/v2/silence/" + their_id(id));
  ASSERT_EQ(theirs.status, 200) << theirs.body;
  EXPECT_EQ(json::parse(theirs.body).at("status").at("state"), "expired");
  EXPECT_EQ(state_of(*silences_.get(id), silences_.now_ms()), SilenceState::kActive);
}

// A deliberate difference: a regex 0.25 accepts but cannot run anchored
// (here an unclosed \Q) stops all muting in 0.25; with us only that silence
// mutes nothing.
TEST_F(SilencePeerTest, UnrunnableRegexStopsAllMutingInAlertmanagerOnly) {
  const std::int64_t now = wall_ms();
  const std::string plain = post_both(
      body(R"([{"name":"job","value":"api","isRegex":false}])", now, now + kHourMs), "plain");
  const std::string quote = post_both(
      body(R"([{"name":"job","value":"a\\Qpi","isRegex":true}])", now, now + kHourMs + 1), "\\Q");
  ASSERT_FALSE(plain.empty() || quote.empty());
  json alerts = json::array();
  alerts.push_back({{"labels", {{"job", "api"}}}, {"startsAt", rfc3339(now - 60'000)}});
  ASSERT_EQ(alertmanager("POST", "/api/v2/alerts", alerts.dump()).status, 200);
  const Answer got = alertmanager("GET", "/api/v2/alerts");
  ASSERT_EQ(got.status, 200) << got.body;
  const json their_alerts = json::parse(got.body);
  ASSERT_EQ(their_alerts.size(), 1u);
  EXPECT_TRUE(their_alerts[0].at("status").at("silencedBy").empty()) << got.body;
  EXPECT_EQ(silences_.mutes(LabelSet::from({{"job", "api"}})), std::vector<std::string>{plain});
}

}  // namespace
}  // namespace watch::silence
