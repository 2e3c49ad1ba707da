// Integration: the OTLP/HTTP exporter to an https endpoint, configured with
// the OpenTelemetry environment variables (OTEL_EXPORTER_OTLP_CERTIFICATE,
// _CLIENT_CERTIFICATE, _CLIENT_KEY, and their TRACES_ forms) or with
// OtlpHttpOptions::tls, against a real TLS sink (tests/support/tls_peer.py)
// with a test PKI made at test time; bad files are start-up errors naming
// the variable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "firebreak/trace.h"
#include "support/tls_peer.h"

namespace firebreak {
namespace {

using test::https_args;
using test::PeerServer;
using test::TestPki;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::string pki(const std::string& name) {
  return TestPki::get().path(name);
}

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string endpoint(const PeerServer& sink) {
  return "https://localhost:" + std::to_string(sink.port()) + "/v1/traces";
}

// Records one span through a tracer built from `env`, flushes it, and
// returns the request the sink got (null when none came).
nlohmann::json export_one_span(PeerServer& sink, std::map<std::string, std::string> env) {
  Tracing tracing = init_tracing({.service_name = "tls-test", .env = env_of(std::move(env))});
  EXPECT_TRUE(tracing.enabled());
  { ScopedSpan span("GET /orders", {.kind = SpanKind::kServer}); }
  EXPECT_TRUE(tracing.flush(10s));
  tracing.shutdown();
  const auto line = sink.next(5s);
  if (!line) return nullptr;
  return nlohmann::json::parse(*line);
}

TEST(OtlpTls, TheCertificateVariableVerifiesAnHttpsEndpoint) {
  PeerServer sink(https_args());
  const nlohmann::json req =
      export_one_span(sink, {{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint(sink)},
                             {"OTEL_EXPORTER_OTLP_CERTIFICATE", pki("ca.pem")}});
  ASSERT_FALSE(req.is_null()) << sink.stderr_text();
  EXPECT_EQ(req["method"], "POST");
  EXPECT_EQ(req["path"], "/v1/traces");
  EXPECT_EQ(req["sni"], "localhost");
  EXPECT_THAT(req["body"].get<std::string>(), HasSubstr("\"name\":\"GET /orders\""));
}

TEST(OtlpTls, TheTracesVariablesWinAndPresentAClientCertificate) {
  PeerServer sink(https_args("server", /*client_ca=*/true));
  const nlohmann::json req = export_one_span(
      sink, {{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://localhost:" + std::to_string(sink.port())},
             {"OTEL_EXPORTER_OTLP_CERTIFICATE", pki("other-ca.pem")},
             {"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", pki("ca.pem")},
             {"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", pki("client.pem")},
             {"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", pki("client.key")}});
  ASSERT_FALSE(req.is_null()) << sink.stderr_text();
  EXPECT_EQ(req["path"], "/v1/traces");
  EXPECT_EQ(req["client_cn"], "firebreak-test-client");
}

TEST(OtlpTls, TheGeneralClientVariablesApplyToTraces) {
  PeerServer sink(https_args("server", /*client_ca=*/true));
  const nlohmann::json req =
      export_one_span(sink, {{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint(sink)},
                             {"OTEL_EXPORTER_OTLP_CERTIFICATE", pki("ca.pem")},
                             {"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", pki("client.pem")},
                             {"OTEL_EXPORTER_OTLP_CLIENT_KEY", pki("client.key")}});
  ASSERT_FALSE(req.is_null()) << sink.stderr_text();
  EXPECT_EQ(req["client_cn"], "firebreak-test-client");
}

TEST(OtlpTls, OtlpHttpOptionsTlsConfiguresTheExporterInCode) {
  PeerServer sink(https_args());
  auto exporter = std::make_shared<OtlpHttpExporter>(
      OtlpHttpOptions{.endpoint = endpoint(sink), .tls = {.ca_file = pki("ca.pem")}});
  Tracing tracing = init_tracing({.service_name = "tls-test", .exporter = exporter});
  { ScopedSpan span("in code"); }
  ASSERT_TRUE(tracing.flush(10s));
  const auto line = sink.next(5s);
  ASSERT_TRUE(line.has_value());
  EXPECT_THAT(*line, HasSubstr("in code"));
}

TEST(OtlpTls, AnUntrustedEndpointGetsNothing) {
  PeerServer sink(https_args("other-server"));
  Tracing tracing =
      init_tracing({.service_name = "tls-test",
                    .env = env_of({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint(sink)},
                                   {"OTEL_EXPORTER_OTLP_CERTIFICATE", pki("ca.pem")},
                                   {"OTEL_BSP_EXPORT_TIMEOUT", "2000"}})});
  { ScopedSpan span("refused"); }
  tracing.flush(3s);
  tracing.shutdown();
  EXPECT_FALSE(sink.next(300ms).has_value());
}

// The message of the TraceConfigError init_tracing() throws for `env`.
std::string config_error(std::map<std::string, std::string> env) {
  env.emplace("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://localhost:4318/v1/traces");
  try {
    Tracing tracing = init_tracing({.service_name = "tls-test", .env = env_of(std::move(env))});
  } catch (const TraceConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(OtlpTls, BadFilesAreStartUpErrorsNamingTheVariable) {
  const std::string dir =
      std::filesystem::temp_directory_path() / ("firebreak-otlp-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/junk.pem") << "not a certificate\n";

  EXPECT_THAT(config_error({{"OTEL_EXPORTER_OTLP_CERTIFICATE", dir + "/missing.pem"}}),
              HasSubstr("OTEL_EXPORTER_OTLP_CERTIFICATE=\"" + dir +
                        "/missing.pem\": cannot read it: No such file or directory"));
  EXPECT_THAT(config_error({{"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", dir + "/junk.pem"}}),
              HasSubstr("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=\"" + dir +
                        "/junk.pem\": not a PEM file of CA certificates"));
  EXPECT_THAT(config_error({{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", pki("client.pem")}}),
              HasSubstr("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE is set but "
                        "OTEL_EXPORTER_OTLP_CLIENT_KEY is not"));
  EXPECT_THAT(config_error({{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", dir + "/junk.pem"},
                            {"OTEL_EXPORTER_OTLP_CLIENT_KEY", pki("client.key")}}),
              HasSubstr("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=\"" + dir +
                        "/junk.pem\": not a PEM certificate file"));
  EXPECT_THAT(config_error({{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", pki("client.pem")},
                            {"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", dir + "/junk.pem"}}),
              HasSubstr("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY=\"" + dir +
                        "/junk.pem\": not a PEM private key file"));
  EXPECT_THAT(config_error({{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", pki("client.pem")},
                            {"OTEL_EXPORTER_OTLP_CLIENT_KEY", pki("server.key")}}),
              HasSubstr("OTEL_EXPORTER_OTLP_CLIENT_KEY=\"" + pki("server.key") +
                        "\" does not match OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"));
  try {
    OtlpHttpExporter bad(
        {.endpoint = "https://localhost:4318/v1/traces", .tls = {.ca_file = dir + "/junk.pem"}});
    ADD_FAILURE() << "no error";
  } catch (const TraceConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot load ca_file \"" + dir + "/junk.pem\""));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace firebreak
