// The status page from a source of known data: cards by workload with
// states that follow the alerts, figures from queries, every value escaped,
// only http(s) links, the security headers, the embedded files, and the
// silence forms (token, validation, redirect), over a real socket.
#include "watch/web/status_page.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "firebreak/http_client.h"

namespace watch::web {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::int64_t kNow = 1'800'000'000'000;

class FakeSource final : public StatusSource {
 public:
  std::int64_t now_ms() const override { return kNow; }
  std::vector<StatusTarget> targets() const override { return targets_; }
  std::vector<StatusAlert> alerts() const override { return alerts_; }
  std::vector<StatusSilence> silences() const override { return silences_; }
  std::vector<StatusRule> rules() const override { return rules_; }
  std::vector<StatusJob> jobs() const override { return jobs_; }
  StatusQueryResult query(const std::string& expr, std::int64_t) const override {
    queries_.push_back(expr);
    for (const auto& [prefix, result] : answers_)
      if (expr.starts_with(prefix)) return result;
    return {.type = "vector"};
  }
  std::string create_silence(const std::vector<std::pair<std::string, std::string>>& equal,
                             std::int64_t duration_ms, const std::string& created_by,
                             const std::string& comment) override {
    created_.push_back({equal, duration_ms, created_by, comment});
    return "4a1c0ffe-0000-4000-8000-000000000001";
  }
  std::string expire_silence(const std::string& id) override {
    expired_.push_back(id);
    return {};
  }

  struct Created {
    std::vector<std::pair<std::string, std::string>> equal;
    std::int64_t duration_ms;
    std::string created_by, comment;
  };
  std::vector<StatusTarget> targets_;
  std::vector<StatusAlert> alerts_;
  std::vector<StatusSilence> silences_;
  std::vector<StatusRule> rules_;
  std::vector<StatusJob> jobs_;
  std::vector<std::pair<std::string, StatusQueryResult>> answers_;
  mutable std::vector<std::string> queries_;
  std::vector<Created> created_;
  std::vector<std::string> expired_;
};

StatusTarget target(std::string job, std::string workload, std::string instance,
                    std::string health = "up") {
  return {.job = std::move(job),
          .workload = std::move(workload),
          .instance = std::move(instance),
          .url = "http://" + instance + "/metrics",
          .health = std::move(health),
          .last_scrape_ms = kNow - 2000};
}

StatusAlert alert(std::string name, std::string job, std::string state,
                  std::string severity = "page") {
  return {.labels = LabelSet::from(
              {{"alertname", std::move(name)}, {"job", std::move(job)}, {"severity", severity}}),
          .annotations = {{"summary", "something is wrong"}},
          .state = std::move(state),
          .active_at_ms = kNow - 300'000,
          .value = 1};
}

// The <article> of a service's card.
std::string card(const std::string& html, const std::string& name) {
  const auto start = html.find("id=\"service-" + name + "\"");
  if (start == std::string::npos) return "";
  const auto open = html.rfind("<article", start);
  return html.substr(open, html.find("</article>", start) - open);
}

TEST(StatusPage, CardsAreLaidOutByWorkloadWithStatesThatFollowTheAlerts) {
  FakeSource s;
  s.targets_ = {target("shop-api", "api", "a:1"), target("shop-api", "api", "a:2"),
                target("shop-worker", "worker", "w:1"), target("cache", "", "c:1", "unknown")};
  s.targets_[1].ready = false;
  s.jobs_ = {{.name = "nightly", .schedule = "0 2 * * *", .state = "down"}};
  s.alerts_ = {alert("WorkerStalled", "shop-worker", "firing"),
               alert("ApiLatencyHigh", "shop-api", "pending")};
  const std::string html = render_overview(s, {});
  // Sections in the checklist's order.
  const auto apis = html.find("<h2>APIs</h2>"), workers = html.find("<h2>Workers</h2>"),
             jobs = html.find("<h2>Scheduled jobs</h2>"), other = html.find("<h2>Other services");
  ASSERT_NE(apis, std::string::npos);
  EXPECT_LT(apis, workers);
  EXPECT_LT(workers, jobs);
  EXPECT_LT(jobs, other);
  // A firing page is red; a pending alert or an unready instance amber; a
  // missed job red; nothing scraped yet grey.
  EXPECT_THAT(card(html, "shop-worker"), HasSubstr("state-critical"));
  EXPECT_THAT(card(html, "shop-worker"), HasSubstr("WorkerStalled"));
  EXPECT_THAT(card(html, "shop-api"), HasSubstr("state-warning"));
  EXPECT_THAT(card(html, "shop-api"), HasSubstr("ApiLatencyHigh (pending)"));
  EXPECT_THAT(card(html, "shop-api"), HasSubstr("<dt>up</dt><dd>2/2</dd>"));
  EXPECT_THAT(card(html, "shop-api"), HasSubstr("<dt>ready</dt><dd>0/1</dd>"));
  EXPECT_THAT(card(html, "nightly"), HasSubstr("state-critical"));
  EXPECT_THAT(card(html, "cache"), HasSubstr("state-unknown"));
  // A silenced page is amber, not red.
  s.alerts_[0].silenced_by = {"id"};
  EXPECT_THAT(card(render_overview(s, {}), "shop-worker"), HasSubstr("state-warning"));
}

TEST(StatusPage, FiguresComeFromOneQueryPerFigureForAllServices) {
  FakeSource s;
  s.targets_ = {target("shop-api", "api", "a:1")};
  s.targets_[0].latency_objective_seconds = 0.25;
  s.answers_ = {
      {"sum by (job) (rate(http_server_request_duration_seconds_count[5m]))",
       {.type = "vector", .series = {{LabelSet::from({{"job", "shop-api"}}), {{kNow, 12.5}}}}}},
      {"histogram_quantile(0.95",
       {.type = "vector",
        .series = {
            {LabelSet::from({{"job", "shop-api"}, {"http_route", "/orders"}}), {{kNow, 0.5}}},
            {LabelSet::from({{"job", "shop-api"}, {"http_route", "/health"}}), {{kNow, 0.01}}}}}}};
  const std::string html = render_overview(s, {});
  const std::string api = card(html, "shop-api");
  EXPECT_THAT(api, HasSubstr("<dt>requests/s</dt><dd>12.5</dd>"));
  EXPECT_THAT(api, HasSubstr("p95 (objective 250 ms)"));
  EXPECT_THAT(api, HasSubstr("<tr class=\"over\"><td>/orders</td><td>500 ms</td></tr>"));
  EXPECT_THAT(api, HasSubstr("<tr><td>/health</td><td>10 ms</td></tr>"));
  // No worker: no worker queries.
  for (const std::string& q : s.queries_) EXPECT_THAT(q, Not(HasSubstr("messaging_")));
}

// Hostile values from scraped labels, annotations, job names: only text.
TEST(StatusPage, EveryValueIsEscapedAndOnlyHttpLinksAreLinks) {
  FakeSource s;
  const std::string script = "<script>alert(1)</script>";
  const std::string attr = "\"><img src=x onerror=alert(2)>";
  const std::string big(10 * 1024, 'x');
  s.targets_ = {target(script, "api", attr)};
  s.targets_[0].last_error = script;
  StatusAlert a = alert(script, script, "firing");
  a.labels = LabelSet::from({{"alertname", script}, {"job", script}, {"evil", attr}, {"big", big}});
  a.annotations = {{"summary", attr}, {"runbook_url", "javascript:alert(3)"}};
  s.alerts_ = {a};
  s.jobs_ = {{.name = attr, .schedule = script, .state = "up"}};
  s.rules_ = {{.group = script, .name = attr, .type = "alerting", .query = script}};
  const std::string overview = render_overview(s, {});
  EXPECT_THAT(overview, Not(HasSubstr("<script>alert")));
  EXPECT_THAT(overview, Not(HasSubstr("<img")));
  EXPECT_THAT(overview, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  firebreak::AdminServer server({.address = "127.0.0.1:0"});
  add_status_page(server, s, {.form_token = "t0ken"});
  server.start();
  firebreak::HttpClient client;
  const std::string base = "http://" + server.address();
  for (const char* path : {"/", "/alerts", "/targets", "/rules", "/jobs"}) {
    const auto r = client.get(base + path);
    ASSERT_EQ(r.status, 200) << path;
    EXPECT_THAT(r.body, Not(HasSubstr("<script>alert"))) << path;
    EXPECT_THAT(r.body, Not(HasSubstr("<img"))) << path;
    EXPECT_THAT(r.body, Not(HasSubstr("href=\"javascript:"))) << path;
  }
  const auto alerts = client.get(base + "/alerts");
  EXPECT_THAT(alerts.body, HasSubstr("Runbook: javascript:alert(3)"));  // as text
  EXPECT_THAT(alerts.body, HasSubstr(big));
  // An http(s) runbook is a link.
  s.alerts_[0].annotations = {{"runbook_url", "https://runbooks.example.com/a?b=1&c=2"}};
  EXPECT_THAT(client.get(base + "/alerts").body,
              HasSubstr("href=\"https://runbooks.example.com/a?b=1&amp;c=2\">Runbook</a>"));
  server.stop();
}

TEST(StatusPage, PagesCarryTheSecurityHeadersAndTheFilesAreBuiltIn) {
  FakeSource s;
  firebreak::AdminServer server({.address = "127.0.0.1:0"});
  add_status_page(server, s, {});
  server.start();
  firebreak::HttpClient client;
  const std::string base = "http://" + server.address();
  const auto page = client.get(base + "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
  const std::string csp(page.header("Content-Security-Policy"));
  EXPECT_THAT(csp, HasSubstr("script-src 'self'"));
  EXPECT_THAT(csp, Not(HasSubstr("unsafe-inline")));
  EXPECT_EQ(page.header("X-Content-Type-Options"), "nosniff");
  // No inline script or style in the page itself.
  EXPECT_THAT(page.body, Not(HasSubstr("<script>")));
  EXPECT_THAT(page.body, Not(HasSubstr("style=")));
  EXPECT_THAT(page.body, Not(HasSubstr(" on")));  // no onclick= and the like
  for (const char* file : {"status.js", "status.css", "uPlot.iife.min.js", "uPlot.min.css"}) {
    const auto r = client.get(base + "/static/" + file);
    EXPECT_EQ(r.status, 200) << file;
    EXPECT_GT(r.body.size(), 500u) << file;
    EXPECT_THAT(page.body, HasSubstr(std::string("/static/") + file)) << file;
  }
  EXPECT_THAT(client.get(base + "/static/uPlot.iife.min.js").body, HasSubstr("uPlot"));
  EXPECT_EQ(client.get(base + "/static/../status.js").status, 404);
  EXPECT_EQ(client.get(base + "/static/nope.js").status, 404);
  server.stop();
}

TEST(StatusPage, TheSilenceFormsNeedThePagesTokenAndSaneValues) {
  FakeSource s;
  s.alerts_ = {alert("WorkerStalled", "shop-worker", "firing")};
  firebreak::AdminServer server({.address = "127.0.0.1:0"});
  add_status_page(server, s, {.form_token = "t0ken"});
  server.start();
  firebreak::HttpClient client;
  const std::string base = "http://" + server.address();
  // The alerts page carries the token and the alert's labels.
  const auto page = client.get(base + "/alerts");
  EXPECT_THAT(page.body, HasSubstr("name=\"token\" value=\"t0ken\""));
  EXPECT_THAT(page.body, HasSubstr("name=\"name0\" value=\"alertname\""));
  EXPECT_THAT(page.body, HasSubstr("name=\"value0\" value=\"WorkerStalled\""));
  const firebreak::HttpHeaders form = {{"Content-Type", "application/x-www-form-urlencoded"}};
  const std::string fields =
      "name0=alertname&value0=WorkerStalled&name1=job&value1=shop-worker&duration=2h&"
      "created_by=ops&comment=deploy+in+progress";
  // Without the token (another site's form): refused, nothing created.
  auto r = client.post(base + "/silences", fields, form);
  EXPECT_EQ(r.status, 403);
  r = client.post(base + "/silences", "token=wrong&" + fields, form);
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(s.created_.empty());
  // Missing reason, bad duration: 400, nothing created.
  r = client.post(base + "/silences",
                  "token=t0ken&name0=alertname&value0=X&duration=2h&created_by=ops", form);
  EXPECT_EQ(r.status, 400);
  r = client.post(base + "/silences",
                  "token=t0ken&name0=a&value0=b&duration=forever&created_by=o&"
                  "comment=c",
                  form);
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(s.created_.empty());
  // With it: created, then back to the alerts page.
  r = client.post(base + "/silences", "token=t0ken&" + fields, form);
  EXPECT_EQ(r.status, 303);
  EXPECT_THAT(std::string(r.header("Location")), HasSubstr("/alerts?silenced="));
  ASSERT_EQ(s.created_.size(), 1u);
  EXPECT_EQ(s.created_[0].equal, (std::vector<std::pair<std::string, std::string>>{
                                     {"alertname", "WorkerStalled"}, {"job", "shop-worker"}}));
  EXPECT_EQ(s.created_[0].duration_ms, 2 * 3'600'000);
  EXPECT_EQ(s.created_[0].comment, "deploy in progress");
  // Expire: the token again, and an id that is one.
  r = client.post(base + "/silences/expire", "token=t0ken&id=abc%0d%0aSet-Cookie:x", form);
  EXPECT_EQ(r.status, 400);
  r = client.post(base + "/silences/expire", "token=t0ken&id=4a1c0ffe-0000-4000-8000-000000000001",
                  form);
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(s.expired_, std::vector<std::string>{"4a1c0ffe-0000-4000-8000-000000000001"});
  server.stop();
}

TEST(StatusPage, TheQueryPageShowsAResultTableOrTheError) {
  FakeSource s;
  s.answers_ = {{"up",
                 {.type = "vector",
                  .series = {{LabelSet::from({{"__name__", "up"}, {"job", "a<b"}}), {{kNow, 1}}}}}},
                {"bad(", {.error = "1:5: parse error: unexpected end of input"}}};
  firebreak::AdminServer server({.address = "127.0.0.1:0"});
  add_status_page(server, s, {});
  server.start();
  firebreak::HttpClient client;
  const std::string base = "http://" + server.address();
  auto r = client.get(base + "/query?expr=up");
  EXPECT_THAT(r.body, HasSubstr("{__name__=&quot;up&quot;, job=&quot;a&lt;b&quot;}"));
  EXPECT_THAT(r.body, HasSubstr("class=\"chart large\""));
  r = client.get(base + "/query?expr=bad(");
  EXPECT_THAT(r.body, HasSubstr("parse error: unexpected end of input"));
  r = client.get(base + "/query?expr=up&time=yesterday");
  EXPECT_THAT(r.body, HasSubstr("time: not a Unix time or RFC 3339 time"));
  server.stop();
}

}  // namespace
}  // namespace watch::web
