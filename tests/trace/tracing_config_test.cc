// init_tracing(): off by default, one variable turns it on, the OTEL_*
// variables it honours, the resource's precedence, and configuration errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "firebreak/metrics.h"
#include "firebreak/trace.h"

namespace firebreak {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(TracingConfig, OffWithoutAnExporter) {
  Tracing t = init_tracing({.env = env_of({})});
  EXPECT_FALSE(t.enabled());
  EXPECT_EQ(t.status().exporter, "none");
  ScopedSpan span("propagates anyway");
  EXPECT_TRUE(span.context().valid());
  EXPECT_FALSE(span->is_recording());
}

TEST(TracingConfig, OneEndpointVariableTurnsItOn) {
  // Port 1 refuses at once; the short export timeout bounds the final flush.
  Tracing t = init_tracing({.env = env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"},
                                           {"OTEL_BSP_EXPORT_TIMEOUT", "200"}})});
  EXPECT_TRUE(t.enabled());
  EXPECT_EQ(t.status().exporter, "otlp");
  EXPECT_EQ(t.status().destination, "http://127.0.0.1:1/v1/traces");
  ScopedSpan span("recorded");
  EXPECT_TRUE(span->is_recording());
}

TEST(TracingConfig, BaseEndpointGetsTheSignalPath) {
  auto dest = [](std::string base) {
    return init_tracing({.env = env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", base}})})
        .status()
        .destination;
  };
  EXPECT_EQ(dest("http://c:4318"), "http://c:4318/v1/traces");
  EXPECT_EQ(dest("http://c:4318/"), "http://c:4318/v1/traces");
  EXPECT_EQ(dest("http://c:4318/otlp"), "http://c:4318/otlp/v1/traces");
  EXPECT_EQ(dest("http://c:4318/otlp/"), "http://c:4318/otlp/v1/traces");
}

TEST(TracingConfig, TracesEndpointIsUsedAsIs) {
  Tracing t = init_tracing(
      {.env = env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"},
                      {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9999/custom/path"}})});
  EXPECT_EQ(t.status().destination, "http://traces:9999/custom/path");
  Tracing u =
      init_tracing({.env = env_of({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9999"}})});
  EXPECT_EQ(u.status().destination, "http://traces:9999");
}

TEST(TracingConfig, OtlpWithoutAnEndpointUsesTheDefault) {
  Tracing t = init_tracing({.env = env_of({{"OTEL_TRACES_EXPORTER", "otlp"}})});
  EXPECT_TRUE(t.enabled());
  EXPECT_EQ(t.status().destination, "http://localhost:4318/v1/traces");
}

TEST(TracingConfig, ExporterNoneAndSdkDisabledWin) {
  EXPECT_FALSE(init_tracing({.env = env_of({{"OTEL_TRACES_EXPORTER", "none"},
                                            {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}})})
                   .enabled());
  EXPECT_FALSE(init_tracing({.env = env_of({{"OTEL_SDK_DISABLED", "true"},
                                            {"FIREBREAK_TRACES_FILE", "/dev/null"}})})
                   .enabled());
}

TEST(TracingConfig, ConsoleWritesToStderr) {
  Tracing t = init_tracing({.env = env_of({{"OTEL_TRACES_EXPORTER", "console"}})});
  EXPECT_TRUE(t.enabled());
  EXPECT_EQ(t.status().destination, "stderr");
}

TEST(TracingConfig, TheFileExporterWritesOneOtlpRequestALine) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("firebreak_traces_" + std::to_string(::getpid()) + ".jsonl");
  std::filesystem::remove(path);
  Registry registry;
  {
    Tracing t = init_tracing({.service_name = "file-test",
                              .registry = &registry,
                              .env = env_of({{"FIREBREAK_TRACES_FILE", path.string()}})});
    EXPECT_EQ(t.status().exporter, "file");
    {
      ScopedSpan parent("parent");
      ScopedSpan child("child");
    }
    ASSERT_TRUE(t.flush());
    { ScopedSpan later("second batch"); }
  }  // shutdown flushes
  std::ifstream in(path);
  std::string line;
  std::vector<nlohmann::json> lines;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  std::filesystem::remove(path);
  ASSERT_EQ(lines.size(), 2u);
  const auto spans = lines[0]["resourceSpans"][0]["scopeSpans"][0]["spans"];
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0]["name"], "child");
  EXPECT_EQ(spans[0]["parentSpanId"], spans[1]["spanId"]);
  EXPECT_EQ(lines[0]["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "file-test");
  EXPECT_EQ(lines[1]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"], "second batch");
  // After shutdown the default tracer is back: not recording.
  ScopedSpan after("after");
  EXPECT_FALSE(after->is_recording());
  for (const auto& f : registry.collect()) {
    if (f.name == "trace_spans_exported") {
      EXPECT_EQ(f.points.at(0).value, 3);
    }
  }
}

TEST(TracingConfig, FileWinsOverAnEndpointUnlessTheExporterIsNamed) {
  EXPECT_EQ(init_tracing({.env = env_of({{"FIREBREAK_TRACES_FILE", "/dev/null"},
                                         {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}})})
                .status()
                .exporter,
            "file");
  EXPECT_EQ(init_tracing({.env = env_of({{"FIREBREAK_TRACES_FILE", "/dev/null"},
                                         {"OTEL_TRACES_EXPORTER", "otlp"},
                                         {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}})})
                .status()
                .exporter,
            "otlp");
}

TEST(TracingConfig, SamplerComesFromTheEnvironment) {
  Tracing t = init_tracing({.env = env_of({{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"},
                                           {"OTEL_TRACES_SAMPLER_ARG", "0.1"}})});
  EXPECT_EQ(t.status().sampler, "ParentBased{root=TraceIdRatioBased{0.100000}}");
  EXPECT_EQ(global_tracer().sampler().ratio(), 0.1);
  Tracing d = init_tracing({.env = env_of({})});
  EXPECT_EQ(d.status().sampler, "ParentBased{root=AlwaysOnSampler}");
  Tracing off = init_tracing({.env = env_of({{"OTEL_TRACES_SAMPLER", "always_off"}})});
  ScopedSpan span("x");
  EXPECT_FALSE(span.context().sampled());
}

TEST(TracingConfig, ResourcePrecedence) {
  // Options, then OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME, then FIREBREAK_*.
  auto attrs = [](const ResourceAttributes& r) {
    std::map<std::string, std::string> m(r.begin(), r.end());
    return m;
  };
  auto r = attrs(resolve_resource(
      {.service_name = "code", .service_version = "1.0", .environment = "dev", .env = env_of({})}));
  EXPECT_EQ(r["service.name"], "code");
  EXPECT_EQ(r["service.version"], "1.0");
  EXPECT_EQ(r["deployment.environment.name"], "dev");
  EXPECT_EQ(r["telemetry.sdk.name"], "firebreak");
  EXPECT_EQ(r["telemetry.sdk.language"], "cpp");

  r = attrs(resolve_resource(
      {.service_name = "code",
       .env = env_of({{"OTEL_RESOURCE_ATTRIBUTES",
                       "service.name=from-attrs,service.version=2.0,deployment.environment=staging,"
                       "host.name=box%201,team=payments"}})}));
  EXPECT_EQ(r["service.name"], "from-attrs");
  EXPECT_EQ(r["service.version"], "2.0");
  EXPECT_EQ(r["deployment.environment.name"], "staging");
  EXPECT_EQ(r["host.name"], "box 1");  // percent-decoded
  EXPECT_EQ(r["team"], "payments");

  r = attrs(
      resolve_resource({.service_name = "code",
                        .env = env_of({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"},
                                       {"OTEL_SERVICE_NAME", "from-otel"}})}));
  EXPECT_EQ(r["service.name"], "from-otel");

  r = attrs(resolve_resource({.service_name = "code",
                              .env = env_of({{"OTEL_SERVICE_NAME", "from-otel"},
                                             {"FIREBREAK_SERVICE_NAME", "from-firebreak"},
                                             {"FIREBREAK_ENVIRONMENT", "prod"}})}));
  EXPECT_EQ(r["service.name"], "from-firebreak");
  EXPECT_EQ(r["deployment.environment.name"], "prod");
}

TEST(TracingConfig, UnknownServiceNamesTheExecutable) {
  const auto r = resolve_resource({.env = env_of({})});
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0].first, "service.name");
  EXPECT_EQ(r[0].second.rfind("unknown_service:", 0), 0u);
  EXPECT_GT(r[0].second.size(), std::string("unknown_service:").size());
}

TEST(TracingConfig, BadConfigurationIsAnErrorNamingTheVariable) {
  auto error_of = [](std::map<std::string, std::string> vars) -> std::string {
    try {
      Tracing t = init_tracing({.env = env_of(std::move(vars))});
    } catch (const TraceConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of({{"OTEL_TRACES_SAMPLER", "sometimes"}}).find("OTEL_TRACES_SAMPLER"),
            std::string::npos);
  EXPECT_NE(error_of({{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "x"}})
                .find("OTEL_TRACES_SAMPLER_ARG"),
            std::string::npos);
  EXPECT_NE(error_of({{"OTEL_TRACES_EXPORTER", "zipkin"}}).find("OTEL_TRACES_EXPORTER"),
            std::string::npos);
  EXPECT_NE(error_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://secure:4318"}}).find("https"),
            std::string::npos);
  EXPECT_NE(error_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
                      {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}})
                .find("OTEL_EXPORTER_OTLP_PROTOCOL"),
            std::string::npos);
  EXPECT_NE(error_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
                      {"OTEL_EXPORTER_OTLP_HEADERS", "novalue"}})
                .find("OTEL_EXPORTER_OTLP_HEADERS"),
            std::string::npos);
  EXPECT_NE(error_of({{"OTEL_BSP_MAX_QUEUE_SIZE", "lots"}}).find("OTEL_BSP_MAX_QUEUE_SIZE"),
            std::string::npos);
  EXPECT_NE(error_of({{"OTEL_RESOURCE_ATTRIBUTES", "a=%zz"}}).find("OTEL_RESOURCE_ATTRIBUTES"),
            std::string::npos);
  EXPECT_NE(error_of({{"FIREBREAK_TRACES_FILE", "/nonexistent-dir/x/traces.jsonl"}})
                .find("/nonexistent-dir/x/traces.jsonl"),
            std::string::npos);
}

TEST(TracingConfig, AFailedInitLeavesTheCurrentTracerInPlace) {
  Tracing t = init_tracing({.env = env_of({{"OTEL_TRACES_EXPORTER", "console"},
                                           {"OTEL_TRACES_SAMPLER", "always_off"}})});
  EXPECT_THROW(init_tracing({.env = env_of({{"OTEL_TRACES_SAMPLER", "bogus"}})}), TraceConfigError);
  EXPECT_EQ(global_tracer().sampler().description(), "AlwaysOffSampler");
}

TEST(TracingConfig, ACustomExporterIsUsed) {
  auto exporter = std::make_shared<InMemorySpanExporter>();
  {
    Tracing t = init_tracing({.env = env_of({}), .exporter = exporter});
    EXPECT_EQ(t.status().exporter, "custom");
    { ScopedSpan s("custom"); }
  }
  ASSERT_EQ(exporter->spans().size(), 1u);
  EXPECT_EQ(exporter->spans()[0].name(), "custom");
}

}  // namespace
}  // namespace firebreak
