// Peer test (label "peer"): an https target that wants a client certificate
// and a bearer token, described once in firebreak.yaml. watch scrapes it;
// `firebreak export prometheus` writes a prometheus.yml that `promtool check
// config` accepts and with which the real Prometheus 2.42 scrapes the same
// target, presenting the same certificate and token.
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "firebreak/http_client.h"
#include "support/child_process.h"
#include "support/tls_peer.h"
#include "watch/config/config.h"
#include "watch/runtime/runtime.h"
#include "watch/scrape/scraper.h"

namespace watch::scrape {
namespace {

using firebreak::test::ChildProcess;
using firebreak::test::free_port;
using firebreak::test::https_args;
using firebreak::test::PeerServer;
using firebreak::test::TestPki;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Runs a program to its end: exit status and what it wrote.
std::pair<int, std::string> run(const std::vector<std::string>& argv) {
  ChildProcess p(argv);
  std::string out;
  while (auto line = p.read_line(20s)) out += *line + "\n";
  out += p.read_stderr(5s);
  const auto status = p.wait_exit(20s);
  return {status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1, out};
}

TEST(ScrapeTlsPeer, PrometheusScrapesTheExportedHttpsTargetAsWatchDoes) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("watch_scrape_tls_peer_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "certs");
  const TestPki& pki = TestPki::get();
  for (const char* f : {"ca.pem", "client.pem", "client.key"})
    std::filesystem::copy_file(pki.path(f), dir / "certs" / f);
  std::ofstream(dir / "token") << "peer-token\n";

  PeerServer target(https_args("server", /*client_ca=*/true, "", /*metrics=*/true));
  const std::string config = (dir / "firebreak.yaml").string();
  std::ofstream(config) << "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
                           "targets:\n"
                           "  - name: secure\n"
                           "    scheme: https\n"
                           "    targets: ['localhost:"
                        << target.port()
                        << "']\n"
                           "    tls_config:\n"
                           "      ca_file: certs/ca.pem\n"
                           "      cert_file: certs/client.pem\n"
                           "      key_file: certs/client.key\n"
                           "    authorization: {credentials_file: token}\n";

  // watch scrapes it.
  const config::LoadResult loaded = config::load_config(config);
  ASSERT_TRUE(loaded.ok()) << loaded.errors.at(0).to_string();
  const std::vector<TargetConfig> targets = runtime::scrape_targets(loaded.config);
  ASSERT_EQ(targets.size(), 1u);
  tsdb::Head head;
  ScrapeLoop loop(targets[0], head);
  const ScrapeReport r = loop.scrape_once(1767225600000);
  EXPECT_TRUE(r.up) << r.error;

  // The export, checked by promtool.
  const auto [exported, export_out] =
      run({FIREBREAK_PATH, "export", "prometheus", "--config", config, (dir / "out").string()});
  ASSERT_EQ(exported, 0) << export_out;
  const std::string prometheus_yml = (dir / "out" / "prometheus.yml").string();
  std::ifstream in(prometheus_yml);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("ca_file: '" + (dir / "certs/ca.pem").string() + "'"));
  const auto [checked, check_out] = run({FIREBREAK_PROMTOOL, "check", "config", prometheus_yml});
  EXPECT_EQ(checked, 0) << check_out << "\n" << text.str();

  // Prometheus scrapes it with that file.
  const std::uint16_t port = free_port();
  ChildProcess prometheus({FIREBREAK_PROMETHEUS, "--config.file=" + prometheus_yml,
                           "--storage.tsdb.path=" + (dir / "data").string(),
                           "--web.listen-address=127.0.0.1:" + std::to_string(port),
                           "--log.level=warn"});
  firebreak::HttpClient client;
  const std::string api = "http://127.0.0.1:" + std::to_string(port) + "/api/v1/targets";
  nlohmann::json seen;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline && prometheus.running()) {
    const firebreak::HttpResponse res = client.get(api, {}, 1s);
    if (res.ok()) {
      seen = nlohmann::json::parse(res.body, nullptr, false);
      const auto& active = seen["data"]["activeTargets"];
      if (!active.empty() && active[0]["health"] == "up") break;
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_FALSE(seen.is_discarded());
  const auto& active = seen["data"]["activeTargets"];
  ASSERT_EQ(active.size(), 1u) << seen.dump() << prometheus.read_stderr(1s);
  EXPECT_EQ(active[0]["health"], "up") << seen.dump();
  EXPECT_EQ(active[0]["scrapeUrl"],
            "https://localhost:" + std::to_string(target.port()) + "/metrics");
  EXPECT_EQ(active[0]["labels"]["job"], "secure");

  // Both presented the client certificate and the token.
  bool watch_seen = false, prometheus_seen = false;
  while (auto line = target.next(1s)) {
    const nlohmann::json req = nlohmann::json::parse(*line);
    const std::string agent = req["headers"].value("user-agent", "");
    EXPECT_EQ(req["client_cn"], "firebreak-test-client") << agent;
    EXPECT_EQ(req["headers"].value("authorization", ""), "Bearer peer-token") << agent;
    watch_seen |= agent.starts_with("firebreak-watch/");
    prometheus_seen |= agent.starts_with("Prometheus/");
    if (watch_seen && prometheus_seen) break;
  }
  EXPECT_TRUE(watch_seen);
  EXPECT_TRUE(prometheus_seen);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace watch::scrape
