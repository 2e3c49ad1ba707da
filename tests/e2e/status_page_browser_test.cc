// watch's status page in a real browser (headless Chromium through
// ChromeDriver), against watch watching the reference shop:
//   - the overview's cards show, charts are drawn, no console errors (a CSP
//     refusal or a script error would be one);
//   - a stalled worker turns its card red and lists WorkerStalled;
//   - the Silence form on the alerts page creates a silence that the page
//     then lists (and that Alertmanager's API shows);
//   - the query page draws a chart and a table;
//   - a target whose labels, and alerts whose annotations, carry markup and
//     javascript: links: the DOM holds them only as text, nothing runs;
//   - the shop's exporters pointed at watch: an order's trace is listed on
//     the Traces page and opens as a waterfall across shop-api and
//     shop-worker; hostile span names and attributes stay text.
// Screenshots of each page go to FIREBREAK_TEST_OUTPUT_DIR/status_page/.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "e2e/browser.h"
#include "e2e/shop_system.h"
#include "e2e/watch_harness.h"
#include "support/http_client.h"

namespace firebreak::e2e {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string output_dir() {
  const std::string dir = std::string(FIREBREAK_TEST_OUTPUT_DIR) + "/status_page";
  std::filesystem::create_directories(dir);
  return dir;
}

bool firing(const WatchProcess& watch, const std::string& alert) {
  for (const std::string& a : watch.alerts("firing"))
    if (a == alert) return true;
  return false;
}

std::string config(std::uint16_t api_admin, std::uint16_t worker_admin) {
  const std::string api = "127.0.0.1:" + std::to_string(api_admin);
  const std::string worker = "127.0.0.1:" + std::to_string(worker_admin);
  return "listen: 127.0.0.1:0\n"
         "storage: {path: watch.db}\n"
         "global: {scrape_interval: 1s, scrape_timeout: 800ms, evaluation_interval: 1s}\n"
         "targets:\n"
         "  - name: shop-api\n"
         "    workload: api\n"
         "    metrics_url: http://" +
         api + "/metrics\n    ready_url: http://" + api +
         "/readyz\n"
         "  - name: shop-worker\n"
         "    workload: worker\n"
         "    metrics_url: http://" +
         worker + "/metrics\n    ready_url: http://" + worker +
         "/readyz\n"
         "    thresholds: {stall_for: 3s, heartbeat_max_age: 3s}\n"
         "jobs:\n"
         "  - {name: shop-daily, schedule: 1h}\n";
}

class StatusPageBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!browser_available()) GTEST_SKIP() << "chromium / chromedriver not installed";
  }
};

TEST_F(StatusPageBrowserTest, ShowsTheShopFollowsAStallSilencesAndQueries) {
  ShopSystem shop;
  Service api = shop.start_api();
  Service worker = shop.start_worker();
  WatchProcess watch(config(api.admin, worker.admin), shop.dir().path());
  // Orders keep the worker busy, so a stall leaves messages waiting.
  std::atomic<bool> loading{true};
  std::thread load([&] {
    while (loading) {
      try {
        ShopSystem::post_order(api, R"({"item":"book","quantity":1})");
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(100ms);
    }
  });
  struct Stop {
    std::atomic<bool>& flag;
    std::thread& t;
    ~Stop() {
      flag = false;
      if (t.joinable()) t.join();
    }
  } stop{loading, load};

  Browser browser;
  const std::string out = output_dir();
  std::this_thread::sleep_for(3s);  // a few scrapes, so there is something to chart
  browser.go(watch.url() + "/");
  ASSERT_TRUE(
      browser.wait_for("return !!document.querySelector('#service-shop-api') && "
                       "!!document.querySelector('#service-shop-worker') && "
                       "!!document.querySelector('#service-shop-daily')"));
  EXPECT_TRUE(browser.wait_for("return document.querySelectorAll('.chart canvas').length >= 2"))
      << "charts not drawn";
  EXPECT_EQ(browser.run("return document.querySelector('#service-shop-worker').className")
                .get<std::string>(),
            "card state-ok");
  browser.screenshot(out + "/overview.png");
  EXPECT_EQ(browser.console_errors(), std::vector<std::string>{});

  // A stall: the worker's card turns red and names the alert.
  ASSERT_EQ(worker.set_fault(R"({"stall": true})"), 200);
  const auto deadline = std::chrono::steady_clock::now() + 40s;
  while (!firing(watch, "WorkerStalled") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(250ms);
  ASSERT_TRUE(firing(watch, "WorkerStalled")) << watch.process().stdout_text();
  browser.go(watch.url() + "/");
  ASSERT_TRUE(browser.wait_for("return !!document.querySelector('#service-shop-worker')"));
  EXPECT_EQ(browser.run("return document.querySelector('#service-shop-worker').className")
                .get<std::string>(),
            "card state-critical");
  EXPECT_NE(browser.run("return document.querySelector('#service-shop-worker').textContent")
                .get<std::string>()
                .find("WorkerStalled"),
            std::string::npos);
  browser.screenshot(out + "/overview-stalled.png");

  // Silence it from the alerts page.
  browser.go(watch.url() + "/alerts");
  ASSERT_TRUE(browser.wait_for("return !!document.querySelector('article.alert')"));
  browser.run(
      "for (const a of document.querySelectorAll('article.alert'))"
      "  if (a.querySelector('h2').textContent.startsWith('WorkerStalled'))"
      "    a.querySelector('details.silence').open = true;");
  browser.screenshot(out + "/alerts.png");
  const std::string form = "article.alert:has(details.silence[open]) form[action='/silences'] ";
  browser.type(browser.find(form + "input[name=created_by]"), "on-call");
  browser.type(browser.find(form + "input[name=comment]"), "worker maintenance");
  browser.click(browser.find(form + "button[type=submit]"));
  ASSERT_TRUE(browser.wait_for("return location.search.startsWith('?silenced=')")) << browser.url();
  const std::string silences =
      browser.run("return document.querySelector('table.silences').textContent").get<std::string>();
  EXPECT_NE(silences.find("WorkerStalled"), std::string::npos) << silences;
  EXPECT_NE(silences.find("worker maintenance"), std::string::npos) << silences;
  browser.screenshot(out + "/alerts-silenced.png");
  const json api_silences =
      json::parse(test::http_get(watch.port(), "/api/v2/silences").body, nullptr, false);
  ASSERT_TRUE(api_silences.is_array());
  ASSERT_EQ(api_silences.size(), 1u);
  EXPECT_EQ(api_silences[0]["createdBy"], "on-call");
  EXPECT_EQ(api_silences[0]["status"]["state"], "active");
  // The card now says silenced, and is amber.
  browser.go(watch.url() + "/");
  ASSERT_TRUE(browser.wait_for("return !!document.querySelector('#service-shop-worker')"));
  EXPECT_EQ(browser.run("return document.querySelector('#service-shop-worker').className")
                .get<std::string>(),
            "card state-warning");

  // The query page: a chart and a table.
  browser.go(watch.url() + "/query?expr=up");
  EXPECT_TRUE(browser.wait_for("return !!document.querySelector('.chart.large canvas')"));
  EXPECT_GE(
      browser.run("return document.querySelectorAll('table.result tbody tr').length").get<int>(),
      2);
  browser.screenshot(out + "/query.png");
  for (const char* page : {"/targets", "/rules", "/jobs"}) {
    browser.go(watch.url() + page);
    ASSERT_TRUE(browser.wait_for("return document.readyState === 'complete'"));
    browser.screenshot(out + std::string(page) + ".png");
  }
  EXPECT_EQ(browser.console_errors(), std::vector<std::string>{});
}

// A target that serves hostile label values, and a rule whose annotations
// carry them: every page holds them as text; no script of theirs runs.
TEST_F(StatusPageBrowserTest, HostileLabelsAndAnnotationsStayText) {
  const std::string script = "<script>window.__xss=1</script>";
  const std::string img = "\"><img src=x onerror=\"window.__xss=2\">";
  const std::string big(10 * 1024, 'x');
  AdminServer target({.address = "127.0.0.1:0"});
  target.add_handler("GET", "/hostile", [&](const AdminRequest&) {
    auto label = [](const std::string& v) {
      std::string out;
      for (char c : v) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      return out;
    };
    return AdminResponse{.content_type = "text/plain; version=0.0.4",
                         .body = "evil_metric{a=\"" + label(script) + "\",b=\"" + label(img) +
                                 "\",c=\"javascript:window.__xss=3\",d=\"" + big + "\"} 1\n"};
  });
  target.start();
  TempDir dir;
  std::ofstream(dir.file("hostile.rules.yml"))
      << "groups:\n"
         "  - name: hostile\n"
         "    rules:\n"
         "      - alert: Hostile\n"
         "        expr: evil_metric > 0\n"
         "        labels: {severity: page}\n"
         "        annotations:\n"
         "          summary: 'summary {{ $labels.a }} {{ $labels.b }}'\n"
         "          runbook_url: 'javascript:window.__xss=4'\n";
  WatchProcess watch(
      "listen: 127.0.0.1:0\n"
      "storage: {path: watch.db}\n"
      "global: {scrape_interval: 1s, scrape_timeout: 800ms, evaluation_interval: 1s}\n"
      "rule_files: [hostile.rules.yml]\n"
      "targets:\n"
      "  - name: hostile\n"
      "    metrics_url: http://" +
          target.address() + "/hostile\n",
      dir.path());
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!firing(watch, "Hostile") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(250ms);
  ASSERT_TRUE(firing(watch, "Hostile")) << watch.process().stdout_text();

  Browser browser;
  const std::string out = output_dir();
  for (const std::string page : {"/", "/alerts", "/targets", "/rules", "/query?expr=evil_metric"}) {
    browser.go(watch.url() + page);
    ASSERT_TRUE(browser.wait_for("return document.readyState === 'complete'")) << page;
    std::this_thread::sleep_for(300ms);  // let any injected handler fire
    EXPECT_TRUE(browser.run("return window.__xss === undefined").get<bool>()) << page;
    EXPECT_EQ(browser.run("return document.querySelectorAll('img').length").get<int>(), 0) << page;
    EXPECT_EQ(
        browser.run("return document.querySelectorAll('script:not([src])').length").get<int>(), 0)
        << page;
    EXPECT_EQ(browser.run("return document.querySelectorAll('a[href^=\"javascript:\" i]').length")
                  .get<int>(),
              0)
        << page;
  }
  // The values are there, as text.
  browser.go(watch.url() + "/alerts");
  ASSERT_TRUE(browser.wait_for("return document.readyState === 'complete'"));
  const std::string text = browser.run("return document.body.textContent").get<std::string>();
  EXPECT_NE(text.find(script), std::string::npos);
  EXPECT_NE(text.find(img), std::string::npos);
  EXPECT_NE(text.find("javascript:window.__xss=4"), std::string::npos);  // the runbook, as text
  EXPECT_NE(text.find(big), std::string::npos);
  browser.screenshot(out + "/hostile-alerts.png");
  EXPECT_EQ(browser.console_errors(), std::vector<std::string>{});
  target.stop();
}

// The shop sends its traces to watch: one order, listed and opened as a
// waterfall across the API, the queue and the worker.
TEST_F(StatusPageBrowserTest, TracesShowAnOrderAcrossTheShopAndHostileSpansStayText) {
  ShopSystem shop;
  WatchProcess watch(
      "listen: 127.0.0.1:0\n"
      "storage: {path: ':memory:'}\n"
      "targets: []\n",
      shop.dir().path());
  const std::vector<std::string> env = {"OTEL_EXPORTER_OTLP_ENDPOINT=" + watch.url(),
                                        "OTEL_BSP_SCHEDULE_DELAY=100"};
  Service api = shop.start_api({}, env);
  Service worker = shop.start_worker("shop-worker", {}, env);
  ASSERT_EQ(ShopSystem::post_order(api, R"({"item":"book","quantity":1})").status, 201);
  // Until the worker's span of that order has arrived.
  std::string trace;
  ASSERT_TRUE(eventually(
      [&] {
        const json list =
            json::parse(test::http_get(watch.port(), "/api/v1/traces?service=shop-worker").body,
                        nullptr, false);
        if (!list.is_object() || list["data"]["traces"].empty()) return false;
        trace = list["data"]["traces"][0].value("traceId", "");
        return list["data"]["traces"][0]["services"].size() == 2;
      },
      20s));
  // A sender of hostile span data.
  const std::string hostile =
      json{{"resourceSpans",
            json::array(
                {{{"resource",
                   {{"attributes", json::array({{{"key", "service.name"},
                                                 {"value",
                                                  {{"stringValue",
                                                    "<img src=x onerror=\"window."
                                                    "__xss=1\">"}}}}})}}},
                  {"scopeSpans",
                   json::array(
                       {{{"spans",
                          json::array({{{"traceId", "0af7651916cd43dd8448eb211c80319c"},
                                        {"spanId", "00f067aa0ba902b7"},
                                        {"name", "<script>window.__xss=2</script>"},
                                        {"kind", 2},
                                        {"startTimeUnixNano", "1700000000000000000"},
                                        {"endTimeUnixNano", "1700000000010000000"},
                                        {"attributes", json::array({{{"key", "url.full"},
                                                                     {"value",
                                                                      {{"stringValue",
                                                                        "javascript:window.__xss="
                                                                        "3"}}}}})}}})}}})}}})}}
          .dump();
  ASSERT_EQ(test::http_request(watch.port(), "POST", "/v1/traces",
                               {{"Content-Type", "application/json"}}, hostile)
                .status,
            200);

  Browser browser;
  const std::string out = output_dir();
  browser.go(watch.url() + "/traces");
  ASSERT_TRUE(browser.wait_for("return !!document.querySelector('table.traces')"));
  browser.screenshot(out + "/traces.png");
  const std::string link = "a[href='/traces/" + trace + "']";
  ASSERT_TRUE(browser.wait_for("return !!document.querySelector(\"" + link + "\")"));
  browser.click(browser.find(link));
  ASSERT_TRUE(browser.wait_for("return !!document.querySelector('table.waterfall')"))
      << browser.url();
  const json services = browser.run(
      "return [...document.querySelectorAll('table.waterfall tbody tr td:first-child')]"
      ".map(td => td.textContent)");
  std::set<std::string> seen;
  for (const auto& s : services) seen.insert(s.get<std::string>());
  EXPECT_EQ(seen, (std::set<std::string>{"shop-api", "shop-worker"}));
  EXPECT_EQ(
      browser.run("return document.querySelectorAll('table.waterfall svg.bar rect.ok').length")
          .get<int>(),
      static_cast<int>(services.size()));
  // A span's details open without script.
  browser.click(browser.find("table.waterfall details summary"));
  EXPECT_TRUE(
      browser.run("return document.querySelector('table.waterfall details').open").get<bool>());
  browser.screenshot(out + "/trace.png");

  for (const std::string page : {"/traces", "/traces/0af7651916cd43dd8448eb211c80319c"}) {
    browser.go(watch.url() + page);
    ASSERT_TRUE(browser.wait_for("return document.readyState === 'complete'")) << page;
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(browser.run("return window.__xss === undefined").get<bool>()) << page;
    EXPECT_EQ(browser.run("return document.querySelectorAll('img').length").get<int>(), 0) << page;
    EXPECT_EQ(browser.run("return document.querySelectorAll('a[href^=\"javascript:\" i]').length")
                  .get<int>(),
              0)
        << page;
    const std::string text = browser.run("return document.body.textContent").get<std::string>();
    EXPECT_NE(text.find("<script>window.__xss=2</script>"), std::string::npos) << page;
  }
  EXPECT_EQ(browser.console_errors(), std::vector<std::string>{});
}

}  // namespace
}  // namespace firebreak::e2e
