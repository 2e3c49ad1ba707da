// Service: identity resolution, the wiring of registry/health/admin, and the
// shutdown sequence (request, drain, return).
#include "firebreak/service.h"

#include <signal.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <thread>

#include "support/http_client.h"

namespace firebreak {
namespace {

using std::chrono::milliseconds;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const ServiceOptions kCode{.name = "checkout",
                           .version = "1.4.2",
                           .environment = "staging",
                           .workload = Workload::kWorker};

std::optional<MetricPoint> find_point(const Registry& registry, std::string_view family) {
  for (const FamilySnapshot& f : registry.collect())
    if (f.name == family && !f.points.empty()) return f.points.front();
  return std::nullopt;
}

// Options for a Service in a test: ephemeral port, environment isolated.
ServiceOptions test_options(std::map<std::string, std::string> env = {}) {
  ServiceOptions o = kCode;
  o.admin.address = "127.0.0.1:0";
  o.drain_time = milliseconds(0);
  o.handle_signals = false;
  o.env = env_of(std::move(env));
  return o;
}

TEST(ResolveIdentity, TakesCodeValuesWhenTheEnvironmentIsEmpty) {
  const ServiceIdentity id = resolve_identity(kCode, env_of({}));
  EXPECT_EQ(id.name, "checkout");
  EXPECT_EQ(id.version, "1.4.2");
  EXPECT_EQ(id.environment, "staging");
  EXPECT_EQ(id.workload, Workload::kWorker);
}

TEST(ResolveIdentity, OtelResourceAttributesOverrideCode) {
  const ServiceIdentity id =
      resolve_identity(kCode, env_of({{"OTEL_RESOURCE_ATTRIBUTES",
                                       "service.name=payments, service.version=2.0.0,"
                                       "deployment.environment=prod,team=core"}}));
  EXPECT_EQ(id.name, "payments");
  EXPECT_EQ(id.version, "2.0.0");
  EXPECT_EQ(id.environment, "prod");
}

TEST(ResolveIdentity, DeploymentEnvironmentNameWinsOverTheOldKey) {
  const ServiceIdentity id = resolve_identity(
      kCode, env_of({{"OTEL_RESOURCE_ATTRIBUTES",
                      "deployment.environment=old,deployment.environment.name=new"}}));
  EXPECT_EQ(id.environment, "new");
}

TEST(ResolveIdentity, ResourceAttributeValuesArePercentDecoded) {
  const ServiceIdentity id = resolve_identity(
      kCode, env_of({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=my%20svc%2Cv2,bogus,=x"}}));
  EXPECT_EQ(id.name, "my svc,v2");
}

TEST(ResolveIdentity, OtelServiceNameOverridesResourceAttributes) {
  const ServiceIdentity id = resolve_identity(
      kCode, env_of({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=a"}, {"OTEL_SERVICE_NAME", "b"}}));
  EXPECT_EQ(id.name, "b");
}

TEST(ResolveIdentity, FirebreakVariablesOverrideOtelOnes) {
  const ServiceIdentity id = resolve_identity(
      kCode, env_of({{"OTEL_RESOURCE_ATTRIBUTES",
                      "service.name=a,service.version=1,deployment.environment.name=e1"},
                     {"OTEL_SERVICE_NAME", "b"},
                     {"FIREBREAK_SERVICE_NAME", "c"},
                     {"FIREBREAK_SERVICE_VERSION", "3"},
                     {"FIREBREAK_ENVIRONMENT", "e3"},
                     {"FIREBREAK_WORKLOAD", "job"}}));
  EXPECT_EQ(id.name, "c");
  EXPECT_EQ(id.version, "3");
  EXPECT_EQ(id.environment, "e3");
  EXPECT_EQ(id.workload, Workload::kJob);
}

TEST(ResolveIdentity, EmptyVariablesCountAsUnset) {
  const ServiceIdentity id =
      resolve_identity(kCode, env_of({{"FIREBREAK_SERVICE_NAME", ""}, {"OTEL_SERVICE_NAME", ""}}));
  EXPECT_EQ(id.name, "checkout");
}

TEST(ResolveIdentity, DefaultsWhenNothingIsSet) {
  const ServiceIdentity id = resolve_identity(ServiceOptions{}, env_of({}));
  EXPECT_EQ(id.name, "unknown_service:service_test");
  EXPECT_EQ(id.version, "unknown");
  EXPECT_EQ(id.environment, "unknown");
  EXPECT_EQ(id.workload, Workload::kApi);
}

TEST(ResolveIdentity, BadWorkloadIsAConfigurationError) {
  try {
    (void)resolve_identity(kCode, env_of({{"FIREBREAK_WORKLOAD", "cron"}}));
    FAIL() << "accepted FIREBREAK_WORKLOAD=cron";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "FIREBREAK_WORKLOAD=\"cron\" is not a workload kind: use api, worker or job");
  }
}

TEST(ResolveIdentity, ReadsTheProcessEnvironmentByDefault) {
  ::setenv("FIREBREAK_SERVICE_NAME", "from-env", 1);
  const ServiceIdentity id = resolve_identity(kCode);
  ::unsetenv("FIREBREAK_SERVICE_NAME");
  EXPECT_EQ(id.name, "from-env");
}

TEST(ResolveAdminAddress, EnvironmentOverridesCode) {
  ServiceOptions options;
  options.admin.address = "127.0.0.1:1000";
  EXPECT_EQ(resolve_admin_address(options, env_of({})), "127.0.0.1:1000");
  EXPECT_EQ(resolve_admin_address(options, env_of({{"FIREBREAK_ADMIN_ADDR", "0.0.0.0:9"}})),
            "0.0.0.0:9");
}

TEST(Workloads, RoundTripThroughText) {
  for (Workload w : {Workload::kApi, Workload::kWorker, Workload::kJob})
    EXPECT_EQ(parse_workload(to_string(w)), w);
  EXPECT_EQ(parse_workload("API"), std::nullopt);
}

TEST(Service, RegistersTargetInfoWithItsIdentity) {
  Service service(test_options({{"FIREBREAK_ENVIRONMENT", "prod"}}));
  const auto point = find_point(service.registry(), "target_info");
  ASSERT_TRUE(point);
  EXPECT_EQ(point->value, 1);
  EXPECT_EQ(*point->labels, (Labels{{"service_name", "checkout"},
                                    {"service_version", "1.4.2"},
                                    {"deployment_environment", "prod"},
                                    {"workload", "worker"}}));
}

TEST(Service, RegistersProcessMetrics) {
  Service service(test_options());
  EXPECT_TRUE(find_point(service.registry(), "process_start_time_seconds"));
}

TEST(Service, ServesProbesAndMetricsOnItsAdminAddress) {
  Service service(test_options());
  service.start();
  const auto [host, port] = test::split_address(service.admin_address());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(test::http_get(port, "/readyz").status, 503);
  service.mark_started();
  EXPECT_EQ(test::http_get(port, "/readyz").status, 200);
  EXPECT_NE(test::http_get(port, "/metrics").body.find("target_info{"), std::string::npos);
}

TEST(Service, AdminAddressComesFromTheEnvironment) {
  Service service(test_options({{"FIREBREAK_ADMIN_ADDR", "127.0.0.2:0"}}));
  service.start();
  EXPECT_EQ(test::split_address(service.admin_address()).first, "127.0.0.2");
}

TEST(Service, TimeToReadyCountsFromProcessStart) {
  Service service(test_options());
  service.mark_started();
  const auto point = find_point(service.registry(), "service_time_to_ready_seconds");
  ASSERT_TRUE(point);
  EXPECT_GT(point->value, 0);  // the process started before the Service
  EXPECT_LT(point->value, 3600);
}

TEST(Service, RequestStopMakesNotReadyAtOnceAndWaitReturnsAfterTheDrain) {
  ServiceOptions options = test_options();
  options.drain_time = milliseconds(300);
  Service service(std::move(options));
  service.start();
  service.mark_started();
  ASSERT_TRUE(service.health().ready());

  auto waited = std::async(std::launch::async, [&] { return service.wait(); });
  const auto begin = std::chrono::steady_clock::now();
  service.request_stop();
  EXPECT_FALSE(service.health().ready());
  EXPECT_TRUE(service.stop_requested());
  EXPECT_EQ(waited.wait_for(milliseconds(150)), std::future_status::timeout) << "drain skipped";
  EXPECT_EQ(waited.get(), 0);
  EXPECT_GE(std::chrono::steady_clock::now() - begin, milliseconds(300));
}

TEST(Service, AdminServerAnswers503WhileDraining) {
  ServiceOptions options = test_options();
  options.drain_time = std::chrono::seconds(30);
  Service service(std::move(options));
  service.start();
  service.mark_started();
  const std::uint16_t port = test::split_address(service.admin_address()).second;
  service.request_stop();
  EXPECT_EQ(test::http_get(port, "/readyz").status, 503);
  service.request_stop();  // a second request ends the drain
  EXPECT_EQ(service.wait(), 0);
}

TEST(Service, SecondStopRequestEndsTheDrainEarly) {
  ServiceOptions options = test_options();
  options.drain_time = std::chrono::seconds(30);
  Service service(std::move(options));
  service.start();
  auto waited = std::async(std::launch::async, [&] { return service.wait(); });
  service.request_stop();
  service.request_stop();
  ASSERT_EQ(waited.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(waited.get(), 0);
}

TEST(Service, WaitForStopReportsARequest) {
  Service service(test_options());
  EXPECT_FALSE(service.wait_for_stop(milliseconds(1)));
  service.request_stop();
  EXPECT_TRUE(service.wait_for_stop(milliseconds(1)));
}

TEST(Service, SigtermStartsTheDrain) {
  ServiceOptions options = test_options();
  options.handle_signals = true;
  options.drain_time = milliseconds(50);
  Service service(std::move(options));
  service.start();
  service.mark_started();
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  EXPECT_TRUE(service.wait_for_stop(std::chrono::seconds(5)));
  EXPECT_FALSE(service.health().ready());
  EXPECT_EQ(service.wait(), 0);
}

TEST(Service, OnlyOneServiceHandlesSignals) {
  ServiceOptions options = test_options();
  options.handle_signals = true;
  Service first(options);
  first.start();
  Service second(options);
  EXPECT_THROW(second.start(), std::logic_error);
}

TEST(Service, SignalHandlersAreRestoredAfterWait) {
  struct sigaction before {};
  ::sigaction(SIGTERM, nullptr, &before);
  {
    ServiceOptions options = test_options();
    options.handle_signals = true;
    Service service(std::move(options));
    service.start();
    struct sigaction during {};
    ::sigaction(SIGTERM, nullptr, &during);
    EXPECT_NE(during.sa_handler, before.sa_handler);
    service.request_stop();
    service.wait();
  }
  struct sigaction after {};
  ::sigaction(SIGTERM, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
}

// The quick start in service.h, as written there (the address comes from the
// environment so that the test can use an ephemeral port).
TEST(Service, QuickStartFromTheHeaderRuns) {
  ::setenv("FIREBREAK_ADMIN_ADDR", "127.0.0.1:0", 1);
  bool db_up = true;
  int exit_status = -1;
  std::thread stopper;
  {
    firebreak::Service service(
        {.name = "checkout", .version = "1.4.2", .workload = firebreak::Workload::kApi});
    auto& orders = service.registry().counter({.name = "orders_total", .help = "Orders."});
    service.health().add_readiness("db", [&] { return db_up; });
    service.start();
    orders.labels().inc();
    service.mark_started();
    const std::uint16_t port = test::split_address(service.admin_address()).second;
    ASSERT_TRUE(test::http_get(port, "/metrics").body.find("orders_total 1") != std::string::npos);
    stopper = std::thread([&] {
      ::kill(::getpid(), SIGTERM);  // as an orchestrator would; the second ends the drain
      service.wait_for_stop(std::chrono::seconds(5));
      ::kill(::getpid(), SIGTERM);
    });
    exit_status = service.wait();
  }
  stopper.join();
  ::unsetenv("FIREBREAK_ADMIN_ADDR");
  EXPECT_EQ(exit_status, 0);
}

}  // namespace
}  // namespace firebreak
