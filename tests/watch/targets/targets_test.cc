#include "watch/targets/targets.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "watch/config/config.h"

namespace watch::targets {
namespace {

config::Config load(const std::string& yaml) {
  config::LoadResult r = config::parse_config(yaml, "firebreak.yaml");
  std::string errors;
  for (const auto& e : r.errors) errors += e.to_string() + "\n";
  EXPECT_TRUE(r.ok()) << errors;
  return std::move(r.config);
}

Built build_all(const config::Config& c) {
  Built out;
  for (const config::Target& t : c.targets) build(t, static_groups(t), out);
  return out;
}

TEST(Targets, TheSingleUrlFormIsScrapedAsWritten) {
  const Built b = build_all(load(R"(targets:
  - name: api
    metrics_url: http://127.0.0.1:9464/custom/metrics?format=text
    ready_url: http://127.0.0.1:9465/readyz
    labels: {team: shop}
)"));
  ASSERT_EQ(b.active.size(), 1u);
  const scrape::TargetConfig& t = b.active[0];
  EXPECT_EQ(t.name, "api");
  EXPECT_EQ(t.metrics_url, "http://127.0.0.1:9464/custom/metrics?format=text");
  EXPECT_EQ(t.ready_url, "http://127.0.0.1:9465/readyz");
  EXPECT_EQ(scrape::target_labels(t),
            LabelSet::from({{"job", "api"}, {"instance", "127.0.0.1:9464"}, {"team", "shop"}}));
  EXPECT_EQ(t.discovered_labels.get("__address__"), "127.0.0.1:9464");
  EXPECT_EQ(t.discovered_labels.get("__metrics_path__"), "/custom/metrics?format=text");
  EXPECT_TRUE(b.dropped.empty());
}

TEST(Targets, SchemeHttpsBuildsHttpsUrlsWithTheTargetsTlsAndAuth) {
  const Built b = build_all(load(R"(targets:
  - name: api
    scheme: https
    metrics_path: /m
    ready_path: /readyz
    targets: ['10.0.0.1:8443', api.internal]
    tls_config: {server_name: api.internal, insecure_skip_verify: true}
    authorization: {type: Token, credentials: abc}
  - name: one
    metrics_url: https://one.internal/metrics
    ready_url: https://one.internal/readyz
    basic_auth: {username: u, password: p}
)"));
  ASSERT_EQ(b.active.size(), 3u);
  EXPECT_EQ(b.active[0].metrics_url, "https://10.0.0.1:8443/m");
  EXPECT_EQ(b.active[0].ready_url, "https://10.0.0.1:8443/readyz");
  EXPECT_EQ(b.active[1].metrics_url, "https://api.internal:443/m");
  EXPECT_EQ(b.active[1].discovered_labels.get("__scheme__"), "https");
  EXPECT_EQ(scrape::target_labels(b.active[1]).get("instance"), "api.internal:443");
  for (const scrape::TargetConfig* t : {&b.active[0], &b.active[1]}) {
    EXPECT_EQ(t->http.tls.server_name, "api.internal");
    EXPECT_TRUE(t->http.tls.insecure_skip_verify);
    ASSERT_TRUE(t->http.authorization.has_value());
    EXPECT_EQ(t->http.authorization->type, "Token");
    EXPECT_EQ(t->http.authorization->credentials, "abc");
  }
  // The single-URL form over https keeps its URLs as written.
  EXPECT_EQ(b.active[2].metrics_url, "https://one.internal/metrics");
  EXPECT_EQ(b.active[2].ready_url, "https://one.internal/readyz");
  EXPECT_EQ(b.active[2].discovered_labels.get("__scheme__"), "https");
  EXPECT_EQ(scrape::target_labels(b.active[2]).get("instance"), "one.internal:443");
  ASSERT_TRUE(b.active[2].http.basic_auth.has_value());
  EXPECT_EQ(b.active[2].http.basic_auth->username, "u");
}

TEST(Targets, AServiceHasManyInstancesUnderOneJob) {
  const Built b = build_all(load(R"(targets:
  - name: api
    workload: api
    metrics_path: /m
    ready_path: /readyz
    labels: {team: shop}
    targets:
      - 10.0.0.1:9464
      - {address: '10.0.0.2:9464', labels: {zone: b, team: payments}}
      - 10.0.0.3
    static_configs:
      - targets: ['10.0.1.1:9464', '10.0.1.2:9464']
        labels: {zone: c}
)"));
  ASSERT_EQ(b.active.size(), 5u);
  std::vector<std::string> urls, ready, instances;
  for (const auto& t : b.active) {
    EXPECT_EQ(t.name, "api");
    urls.push_back(t.metrics_url);
    ready.push_back(t.ready_url);
    const LabelSet labels = scrape::target_labels(t);
    EXPECT_EQ(labels.get("job"), "api");
    instances.push_back(std::string(labels.get("instance")));
  }
  EXPECT_THAT(urls, ::testing::ElementsAre("http://10.0.0.1:9464/m", "http://10.0.0.2:9464/m",
                                           "http://10.0.0.3:80/m", "http://10.0.1.1:9464/m",
                                           "http://10.0.1.2:9464/m"));
  EXPECT_EQ(ready[1], "http://10.0.0.2:9464/readyz");
  EXPECT_THAT(instances, ::testing::ElementsAre("10.0.0.1:9464", "10.0.0.2:9464", "10.0.0.3:80",
                                                "10.0.1.1:9464", "10.0.1.2:9464"));
  // An instance's own labels win over the target's.
  EXPECT_EQ(scrape::target_labels(b.active[0]).get("team"), "shop");
  EXPECT_EQ(scrape::target_labels(b.active[1]).get("team"), "payments");
  EXPECT_EQ(scrape::target_labels(b.active[1]).get("zone"), "b");
  EXPECT_EQ(scrape::target_labels(b.active[4]).get("zone"), "c");
}

TEST(Targets, RelabelingDropsRewritesAndRoutesInstances) {
  const Built b = build_all(load(R"(targets:
  - name: workers
    workload: worker
    static_configs:
      - targets: ['w1.internal:9000', 'w2.internal:9000', 'canary.internal:9000']
        labels: {env: prod}
      - targets: ['w3.internal:9000']
        labels: {env: staging}
    relabel_configs:
      - {source_labels: [env], regex: staging, action: drop}
      - {source_labels: [__address__], regex: '([^.]+)\..*', target_label: instance, replacement: '$1'}
      - {source_labels: [__address__], regex: 'canary.*', target_label: __param_module, replacement: canary}
      - {source_labels: [__address__], modulus: 4, target_label: shard, action: hashmod}
)"));
  ASSERT_EQ(b.active.size(), 3u);
  EXPECT_EQ(scrape::target_labels(b.active[0]).get("instance"), "w1");
  EXPECT_EQ(b.active[0].metrics_url, "http://w1.internal:9000/metrics");
  EXPECT_EQ(b.active[2].metrics_url, "http://canary.internal:9000/metrics?module=canary");
  for (const auto& t : b.active) {
    EXPECT_FALSE(scrape::target_labels(t).get("shard").empty());
    EXPECT_EQ(scrape::target_labels(t).get("env"), "prod");
  }
  ASSERT_EQ(b.dropped.size(), 1u);
  EXPECT_EQ(b.dropped[0].job, "workers");
  EXPECT_EQ(b.dropped[0].discovered_labels.get("__address__"), "w3.internal:9000");
  EXPECT_EQ(b.dropped[0].reason, "");  // relabeling, not an error
}

TEST(Targets, AnUnusableInstanceIsListedWithItsReasonAndTheSameOneTwiceIsScrapedOnce) {
  const Built b = build_all(load(R"(targets:
  - name: api
    targets: ['a:1', 'a:1', 'b:2']
    relabel_configs:
      - {source_labels: [__address__], regex: 'b:2', target_label: __address__, replacement: ''}
)"));
  ASSERT_EQ(b.active.size(), 1u);
  EXPECT_EQ(b.active[0].metrics_url, "http://a:1/metrics");
  ASSERT_EQ(b.dropped.size(), 1u);
  EXPECT_EQ(b.dropped[0].reason, "no address");
}

TEST(Targets, MetricRelabelingIsSharedAndComparedByItsRulesAsWritten) {
  const std::string yaml = R"(targets:
  - name: api
    targets: ['a:1', 'b:2']
    metric_relabel_configs:
      - {source_labels: [__name__], regex: 'go_.*', action: drop}
)";
  const Built first = build_all(load(yaml));
  const Built again = build_all(load(yaml));
  ASSERT_EQ(first.active.size(), 2u);
  ASSERT_TRUE(first.active[0].metric_relabel.rules);
  EXPECT_EQ(first.active[0].metric_relabel.rules, first.active[1].metric_relabel.rules);
  // A reload with the same rules changes no target (no restart of its loop).
  EXPECT_EQ(first.active, again.active);
  const Built other = build_all(load(yaml + "      - {regex: 'pod', action: labeldrop}\n"));
  EXPECT_NE(first.active[0], other.active[0]);
}

TEST(Targets, DiscoveryJobsCarryStaticGroupsFilesAndNames) {
  const config::Config c = load(R"(targets:
  - {name: one, metrics_url: 'http://127.0.0.1:1/metrics'}
  - name: many
    file_sd_configs: [{files: [targets/*.json], refresh_interval: 1m}]
    dns_sd_configs: [{names: [_api._tcp.example.com]}, {names: [api.example.com], type: A, port: 9464}]
)");
  const auto jobs = discovery_jobs(c);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].job, "one");
  ASSERT_EQ(jobs[0].static_groups.size(), 1u);
  EXPECT_EQ(jobs[0].static_groups[0].targets[0].get("__address__"), "127.0.0.1:1");
  ASSERT_EQ(jobs[1].files.size(), 1u);
  EXPECT_THAT(jobs[1].files[0].files[0], ::testing::EndsWith("/targets/*.json"));
  EXPECT_EQ(jobs[1].files[0].refresh_interval_ms, 60'000);
  ASSERT_EQ(jobs[1].dns.size(), 2u);
  EXPECT_EQ(jobs[1].dns[0].type, discovery::DnsSdConfig::Type::kSrv);
  EXPECT_EQ(jobs[1].dns[1].type, discovery::DnsSdConfig::Type::kA);
  EXPECT_EQ(jobs[1].dns[1].port, 9464);
}

}  // namespace
}  // namespace watch::targets
