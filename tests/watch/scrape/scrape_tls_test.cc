// Scrape targets over https, from firebreak.yaml to the scrape: a real TLS
// server (tests/support/tls_peer.py, Python's ssl module) with a test PKI
// made at test time. The target's tls_config (ca_file, a client certificate,
// server_name, insecure_skip_verify) and its authorization or basic_auth
// apply to the scrape and the readiness probe alike; a certificate that does
// not verify makes the target down with a lastError that says why, and no
// secret shows in the targets API.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "firebreak/admin.h"
#include "firebreak/http_client.h"
#include "support/tls_peer.h"
#include "watch/config/config.h"
#include "watch/runtime/runtime.h"
#include "watch/scrape/scraper.h"

namespace watch::scrape {
namespace {

using firebreak::test::https_args;
using firebreak::test::PeerServer;
using firebreak::test::TestPki;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr std::int64_t kT0 = 1767225600000;  // 2026-01-01T00:00:00Z

// An https scrape target: the peer answers GETs with a small exposition.
std::vector<std::string> target_args(const std::string& cert = "server", bool client_ca = false) {
  return https_args(cert, client_ca, "", /*metrics=*/true);
}

class ScrapeTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("watch_scrape_tls_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "certs");
    // The PEM files beside firebreak.yaml, named relative to it.
    const TestPki& pki = TestPki::get();
    for (const char* f : {"ca.pem", "other-ca.pem", "client.pem", "client.key"})
      std::filesystem::copy_file(pki.path(f), dir_ / "certs" / f);
    write("token", "s3cret-token\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  // firebreak.yaml with one target (its YAML lines after `- name: t`).
  config::Config load(const std::string& target) {
    const std::string yaml =
        "storage: {path: ':memory:'}\n"
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "targets:\n  - name: t\n" +
        target;
    config::LoadResult r = config::parse_config(yaml, (dir_ / "firebreak.yaml").string());
    for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
    return std::move(r.config);
  }

  // One scrape of the configuration's only target, as watch runs it.
  ScrapeReport scrape(const std::string& target) {
    const std::vector<TargetConfig> targets = runtime::scrape_targets(load(target));
    if (targets.size() != 1) {
      ADD_FAILURE() << targets.size() << " targets";
      return {};
    }
    tsdb::Head head;
    ScrapeLoop loop(targets[0], head);
    return loop.scrape_once(kT0);
  }

  // The next request the peer recorded.
  static nlohmann::json next(PeerServer& peer) {
    const auto line = peer.next(5s);
    if (!line) return nullptr;
    return nlohmann::json::parse(*line);
  }

  static std::string port(const PeerServer& peer) { return std::to_string(peer.port()); }

  std::filesystem::path dir_;
};

TEST_F(ScrapeTlsTest, SchemeHttpsWithACaFileScrapesTheTarget) {
  PeerServer peer(target_args());
  const ScrapeReport r = scrape("    scheme: https\n    targets: ['localhost:" + port(peer) +
                                "']\n    tls_config: {ca_file: certs/ca.pem}\n");
  EXPECT_TRUE(r.up) << r.error;
  EXPECT_EQ(r.samples_scraped, 1u);
  const nlohmann::json req = next(peer);
  ASSERT_FALSE(req.is_null());
  EXPECT_EQ(req["method"], "GET");
  EXPECT_EQ(req["path"], "/metrics");
  EXPECT_EQ(req["sni"], "localhost");
  EXPECT_TRUE(req["client_cn"].is_null());
  EXPECT_FALSE(req["headers"].contains("authorization"));
}

TEST_F(ScrapeTlsTest, AClientCertificateIsPresented) {
  PeerServer peer(target_args("server", /*client_ca=*/true));
  const std::string tls =
      "    tls_config:\n      ca_file: certs/ca.pem\n"
      "      cert_file: certs/client.pem\n      key_file: certs/client.key\n";
  const std::string target = "    scheme: https\n    targets: ['localhost:" + port(peer) + "']\n";
  const ScrapeReport r = scrape(target + tls);
  EXPECT_TRUE(r.up) << r.error;
  const nlohmann::json req = next(peer);
  ASSERT_FALSE(req.is_null());
  EXPECT_EQ(req["client_cn"], "firebreak-test-client");
  // Without one, the server ends the handshake: down, with the reason.
  const ScrapeReport without = scrape(target + "    tls_config: {ca_file: certs/ca.pem}\n");
  EXPECT_FALSE(without.up);
  EXPECT_THAT(without.error, HasSubstr("localhost:" + port(peer)));
}

TEST_F(ScrapeTlsTest, ServerNameIsVerifiedAndSentAsSni) {
  PeerServer peer(target_args());
  // By address, verified as localhost.
  const std::string url = "    metrics_url: https://127.0.0.1:" + port(peer) + "/metrics\n";
  const ScrapeReport r =
      scrape(url + "    tls_config: {ca_file: certs/ca.pem, server_name: localhost}\n");
  EXPECT_TRUE(r.up) << r.error;
  const nlohmann::json req = next(peer);
  ASSERT_FALSE(req.is_null());
  EXPECT_EQ(req["sni"], "localhost");
  // A name the certificate does not have.
  const ScrapeReport wrong =
      scrape(url + "    tls_config: {ca_file: certs/ca.pem, server_name: api.example.com}\n");
  EXPECT_FALSE(wrong.up);
  EXPECT_THAT(wrong.error, HasSubstr("certificate verify failed for \"api.example.com\""));
}

TEST_F(ScrapeTlsTest, InsecureSkipVerifyAcceptsAnUntrustedCertificate) {
  PeerServer peer(target_args("other-server"));
  const std::string target = "    scheme: https\n    targets: ['localhost:" + port(peer) + "']\n";
  EXPECT_FALSE(scrape(target + "    tls_config: {ca_file: certs/ca.pem}\n").up);
  const ScrapeReport r = scrape(target + "    tls_config: {insecure_skip_verify: true}\n");
  EXPECT_TRUE(r.up) << r.error;
}

TEST_F(ScrapeTlsTest, BearerCredentialsFromAFileGoToTheScrapeAndTheProbe) {
  PeerServer peer(target_args());
  const std::string base = "https://localhost:" + port(peer);
  const std::string target = "    metrics_url: " + base + "/metrics\n    ready_url: " + base +
                             "/readyz\n    tls_config: {ca_file: certs/ca.pem}\n"
                             "    authorization: {credentials_file: token}\n";
  const std::vector<TargetConfig> targets = runtime::scrape_targets(load(target));
  ASSERT_EQ(targets.size(), 1u);
  tsdb::Head head;
  ScrapeLoop loop(targets[0], head);
  ScrapeReport r = loop.scrape_once(kT0);
  EXPECT_TRUE(r.up) << r.error;
  EXPECT_TRUE(r.ready) << r.probe_error;
  for (const char* path : {"/metrics", "/readyz"}) {
    const nlohmann::json req = next(peer);
    ASSERT_FALSE(req.is_null());
    EXPECT_EQ(req["path"], path);
    EXPECT_EQ(req["headers"]["authorization"], "Bearer s3cret-token");
  }
  // A rotated secret is used at the next scrape.
  write("token", "rotated\n");
  r = loop.scrape_once(kT0 + 1000);
  EXPECT_TRUE(r.up) << r.error;
  const nlohmann::json req = next(peer);
  ASSERT_FALSE(req.is_null());
  EXPECT_EQ(req["headers"]["authorization"], "Bearer rotated");
}

TEST_F(ScrapeTlsTest, BasicAuthWithAPasswordFile) {
  PeerServer peer(target_args());
  const ScrapeReport r = scrape("    scheme: https\n    targets: ['localhost:" + port(peer) +
                                "']\n    tls_config: {ca_file: certs/ca.pem}\n"
                                "    basic_auth: {username: watch, password_file: token}\n");
  EXPECT_TRUE(r.up) << r.error;
  const nlohmann::json req = next(peer);
  ASSERT_FALSE(req.is_null());
  // base64("watch:s3cret-token")
  EXPECT_EQ(req["headers"]["authorization"], "Basic d2F0Y2g6czNjcmV0LXRva2Vu");
}

TEST_F(ScrapeTlsTest, AWrongCaMakesTheTargetDownWithTheCertificateProblemAndNoSecret) {
  PeerServer peer(target_args());
  config::Config c = load(
      "    scheme: https\n    interval: 100ms\n    timeout: 100ms\n"
      "    targets: ['localhost:" +
      port(peer) +
      "']\n    tls_config: {ca_file: certs/other-ca.pem}\n"
      "    authorization: {credentials: inline-s3cret}\n");
  runtime::Runtime rt(c);
  firebreak::AdminServer api({.address = "127.0.0.1:0"});
  rt.add_http(api);
  api.start();
  rt.start();
  firebreak::HttpClient client;
  const std::string url = "http://" + api.address() + "/api/v1/targets";
  nlohmann::json target;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::string body;
  while (std::chrono::steady_clock::now() < deadline) {
    body = client.get(url).body;
    const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_discarded() && !j["data"]["activeTargets"].empty() &&
        j["data"]["activeTargets"][0]["health"] == "down") {
      target = j["data"]["activeTargets"][0];
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  rt.stop();
  ASSERT_FALSE(target.is_null()) << body;
  EXPECT_EQ(target["scrapeUrl"], "https://localhost:" + port(peer) + "/metrics");
  const std::string error = target["lastError"];
  EXPECT_THAT(error, HasSubstr("certificate verify failed for \"localhost\""));
  EXPECT_THAT(error, HasSubstr("unable to get local issuer certificate"));
  EXPECT_THAT(body, Not(HasSubstr("inline-s3cret")));
  // The handshake failed: the peer saw no request, so no credentials left.
  EXPECT_FALSE(peer.next(200ms).has_value());
}

}  // namespace
}  // namespace watch::scrape
