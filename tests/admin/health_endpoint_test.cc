// The health endpoints' bodies and status codes, through AdminServer::handle()
// (routing included, no network).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "firebreak/admin.h"
#include "firebreak/health.h"

namespace firebreak {
namespace {

using std::chrono::milliseconds;

AdminRequest get(std::string path, std::vector<std::pair<std::string, std::string>> query = {}) {
  AdminRequest r;
  r.method = "GET";
  r.path = std::move(path);
  r.query = std::move(query);
  return r;
}

class HealthEndpointTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  Registry registry_;
  Health health_{registry_, {.clock = &clock_}};
  AdminServer admin_{{.registry = &registry_, .health = &health_}};
};

TEST_F(HealthEndpointTest, ReadyzIs503WithFailedBodyBeforeStart) {
  const AdminResponse res = admin_.handle(get("/readyz"));
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.body, "failed");
}

TEST_F(HealthEndpointTest, ReadyzIs200WithOkBodyWhenReady) {
  health_.mark_started();
  const AdminResponse res = admin_.handle(get("/readyz"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "ok");
}

TEST_F(HealthEndpointTest, HealthzAnswersAsReadyz) {
  EXPECT_EQ(admin_.handle(get("/healthz")).status, 503);
  health_.mark_started();
  EXPECT_EQ(admin_.handle(get("/healthz")).status, 200);
}

TEST_F(HealthEndpointTest, LivezIgnoresTheStartupGate) {
  EXPECT_EQ(admin_.handle(get("/livez")).status, 200);
}

TEST_F(HealthEndpointTest, LivezIs503WhenALivenessCheckFails) {
  health_.add_liveness("event-loop", [] { return CheckResult::failure("blocked for 30s"); });
  health_.run_due_checks();
  const AdminResponse res = admin_.handle(get("/livez"));
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.body, "failed");
}

TEST_F(HealthEndpointTest, VerboseReadyzListsChecksAsKubernetesDoes) {
  health_.add_readiness("db", [] { return CheckResult::failure("connection refused"); });
  health_.add_readiness("cache", [] { return true; });
  health_.mark_started();
  health_.run_due_checks();
  const AdminResponse res = admin_.handle(get("/readyz", {{"verbose", ""}}));
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.body,
            "[+]startup ok\n"
            "[+]shutdown ok\n"
            "[-]db failed: connection refused\n"
            "[+]cache ok\n"
            "readyz check failed\n");
}

TEST_F(HealthEndpointTest, VerboseLivezEndsWithPassed) {
  health_.add_liveness("loop", [] { return true; });
  health_.run_due_checks();
  const AdminResponse res = admin_.handle(get("/livez", {{"verbose", ""}}));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "[+]loop ok\nlivez check passed\n");
}

TEST_F(HealthEndpointTest, VerboseHealthzNamesItself) {
  health_.mark_started();
  const AdminResponse res = admin_.handle(get("/healthz", {{"verbose", ""}}));
  EXPECT_EQ(res.body, "[+]startup ok\n[+]shutdown ok\nhealthz check passed\n");
}

TEST_F(HealthEndpointTest, VerboseShowsDrainingAndStartupReasons) {
  health_.start_draining();
  const AdminResponse res = admin_.handle(get("/readyz", {{"verbose", ""}}));
  EXPECT_EQ(res.body,
            "[-]startup failed: start-up not finished\n"
            "[-]shutdown failed: draining\n"
            "readyz check failed\n");
}

TEST_F(HealthEndpointTest, VerboseKeepsOneLineACheckWhenTheReasonHasNewlines) {
  health_.add_readiness("db", [] { return CheckResult::failure("line one\nline two\r"); });
  health_.mark_started();
  health_.run_due_checks();
  const AdminResponse res = admin_.handle(get("/readyz", {{"verbose", ""}}));
  EXPECT_NE(res.body.find("[-]db failed: line one\\nline two\\x0d\n"), std::string::npos)
      << res.body;
}

TEST_F(HealthEndpointTest, JsonFormatGivesStatusAndEveryCheck) {
  health_.add_readiness("db", [&] {
    clock_.advance(milliseconds(250));
    return CheckResult::failure("refused \"x\"");
  });
  health_.mark_started();
  health_.run_due_checks();
  const AdminResponse res = admin_.handle(get("/readyz", {{"format", "json"}}));
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.content_type, "application/json");
  const auto json = nlohmann::json::parse(res.body);
  EXPECT_EQ(json["status"], "failed");
  ASSERT_EQ(json["checks"].size(), 3u);
  const auto& db = json["checks"][2];
  EXPECT_EQ(db["name"], "db");
  EXPECT_EQ(db["kind"], "readiness");
  EXPECT_EQ(db["ok"], false);
  EXPECT_EQ(db["reason"], "refused \"x\"");
  EXPECT_DOUBLE_EQ(db["duration_seconds"].get<double>(), 0.25);
  EXPECT_EQ(db["last_run"], "2026-01-01T00:00:00.000000Z");
}

TEST_F(HealthEndpointTest, JsonLastRunIsNullBeforeTheFirstRun) {
  health_.add_readiness("db", [] { return true; });
  const auto json = nlohmann::json::parse(admin_.handle(get("/readyz", {{"format", "json"}})).body);
  EXPECT_TRUE(json["checks"][2]["last_run"].is_null());
  EXPECT_EQ(json["checks"][2]["reason"], "not run yet");
}

TEST_F(HealthEndpointTest, JsonOkWhenReady) {
  health_.mark_started();
  const auto json = nlohmann::json::parse(admin_.handle(get("/readyz", {{"format", "json"}})).body);
  EXPECT_EQ(json["status"], "ok");
}

TEST_F(HealthEndpointTest, ProbesAreNotCached) {
  EXPECT_EQ(admin_.handle(get("/readyz")).headers,
            (std::vector<std::pair<std::string, std::string>>{{"Cache-Control", "no-store"}}));
}

TEST_F(HealthEndpointTest, JsonStaysValidWhenAReasonHoldsControlCharactersOrBadUtf8) {
  health_.add_readiness("db", [] { return CheckResult::failure("caf\xc3\xa9\n\x01 \xff"); });
  health_.run_due_checks();
  const std::string body = admin_.handle(get("/readyz", {{"format", "json"}})).body;
  ASSERT_TRUE(nlohmann::json::accept(body)) << body;
  const std::string reason = nlohmann::json::parse(body)["checks"][2]["reason"];
  EXPECT_EQ(reason, "caf\xc3\xa9\n\x01 \xef\xbf\xbd");  // U+FFFD for the bad byte
}

}  // namespace
}  // namespace firebreak
