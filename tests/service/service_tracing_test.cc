#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "firebreak/service.h"
#include "firebreak/trace.h"

namespace firebreak {
namespace {

namespace fs = std::filesystem;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ServiceTracing, OffWithoutAnExporter) {
  Service service({.name = "quiet",
                   .admin = {.address = "127.0.0.1:0"},
                   .handle_signals = false,
                   .env = env_of({})});
  EXPECT_FALSE(service.tracing().enabled());
}

// One env var turns tracing on; spans then carry the service's identity as
// their resource and are counted on its registry.
TEST(ServiceTracing, OneVariableTurnsItOnWithTheServiceIdentity) {
  const fs::path file =
      fs::temp_directory_path() / ("firebreak-svc-trace-" + std::to_string(::getpid()));
  {
    Service service({.name = "shop-api",
                     .version = "1.2.0",
                     .environment = "test",
                     .admin = {.address = "127.0.0.1:0"},
                     .handle_signals = false,
                     .env = env_of({{"FIREBREAK_TRACES_FILE", file.string()}})});
    ASSERT_TRUE(service.tracing().enabled());
    { ScopedSpan span("work", {.kind = SpanKind::kInternal}); }
    ASSERT_TRUE(service.tracing().flush());
    double exported = -1;
    for (const auto& f : service.registry().collect())
      if (f.name == "trace_spans_exported") exported = f.points.at(0).value;
    EXPECT_EQ(exported, 1);
  }
  std::ifstream in(file);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const auto j = nlohmann::json::parse(line);
  std::map<std::string, std::string> resource;
  for (const auto& a : j["resourceSpans"][0]["resource"]["attributes"])
    resource[a["key"]] = a["value"]["stringValue"];
  EXPECT_EQ(resource["service.name"], "shop-api");
  EXPECT_EQ(resource["service.version"], "1.2.0");
  EXPECT_EQ(resource["deployment.environment.name"], "test");
  EXPECT_EQ(j["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"], "work");
  fs::remove(file);
}

}  // namespace
}  // namespace firebreak
