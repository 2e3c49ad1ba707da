// HttpClient over https against a real TLS server (tests/support/tls_peer.py:
// Python's ssl module) with a test PKI made at test time: verification
// against a CA file, unknown CAs and wrong names refused with a clear error,
// insecure_skip_verify, client certificates (mTLS), and http_config's
// authorization and basic_auth headers, secrets read from files at send time
// and never shown in errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "firebreak/http_client.h"
#include "firebreak/tls.h"
#include "support/tls_peer.h"

namespace firebreak {
namespace {

using test::https_args;
using test::PeerServer;
using test::TestPki;
using namespace std::chrono_literals;

std::string pki(const std::string& name) {
  return TestPki::get().path(name);
}

std::string url(const PeerServer& s, const std::string& host = "localhost") {
  return "https://" + host + ":" + std::to_string(s.port()) + "/hook";
}

nlohmann::json next_request(PeerServer& s) {
  auto line = s.next();
  if (!line) return nullptr;
  return nlohmann::json::parse(*line);
}

TEST(HttpClientTls, VerifiesAgainstTheCaFileAndSendsSni) {
  PeerServer server(https_args());
  HttpClient client({.tls = {.ca_file = pki("ca.pem")}});
  const HttpResponse r =
      client.post(url(server), R"({"a":1})", {{"Content-Type", "application/json"}});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  const auto req = next_request(server);
  ASSERT_FALSE(req.is_null());
  EXPECT_EQ(req["method"], "POST");
  EXPECT_EQ(req["path"], "/hook");
  EXPECT_EQ(req["body"], R"({"a":1})");
  EXPECT_EQ(req["sni"], "localhost");
  EXPECT_TRUE(req["client_cn"].is_null());
  // The kept connection serves the next call too.
  EXPECT_TRUE(client.get(url(server)).ok());
}

TEST(HttpClientTls, AnIpAddressIsVerifiedAgainstTheIpSan) {
  PeerServer server(https_args());
  HttpClient client({.tls = {.ca_file = pki("ca.pem")}});
  const HttpResponse r = client.get(url(server, "127.0.0.1"));
  EXPECT_TRUE(r.ok()) << r.error;
}

TEST(HttpClientTls, AnUnknownCaIsRefusedNamingTheHost) {
  PeerServer server(https_args("other-server"));
  HttpClient client({.tls = {.ca_file = pki("ca.pem")}});
  const HttpResponse r = client.get(url(server));
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("certificate verify failed"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("localhost"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("unable to get local issuer certificate"), std::string::npos) << r.error;
}

TEST(HttpClientTls, TheSystemBundleDoesNotTrustTheTestCa) {
  PeerServer server(https_args());
  HttpClient client;
  const HttpResponse r = client.get(url(server));
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("certificate verify failed"), std::string::npos) << r.error;
}

TEST(HttpClientTls, AWrongServerNameIsRefused) {
  PeerServer server(https_args());
  HttpClient client({.tls = {.ca_file = pki("ca.pem"), .server_name = "alerts.example.com"}});
  const HttpResponse r = client.get(url(server));
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("certificate verify failed for \"alerts.example.com\""), std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find("hostname mismatch"), std::string::npos) << r.error;
}

TEST(HttpClientTls, ServerNameOverridesTheHostForVerificationAndSni) {
  PeerServer server(https_args());
  // Connect by address, verify and send SNI for "localhost".
  HttpClient client({.tls = {.ca_file = pki("ca.pem"), .server_name = "localhost"}});
  const HttpResponse r = client.get(url(server, "127.0.0.1"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(next_request(server)["sni"], "localhost");
}

TEST(HttpClientTls, InsecureSkipVerifyAcceptsAnyCertificate) {
  PeerServer server(https_args("other-server"));
  HttpClient client({.tls = {.server_name = "wrong.example", .insecure_skip_verify = true}});
  const HttpResponse r = client.get(url(server));
  EXPECT_TRUE(r.ok()) << r.error;
}

TEST(HttpClientTls, AServerRequiringAClientCertificateRefusesACallWithout) {
  PeerServer server(https_args("server", /*client_ca=*/true));
  HttpClient client({.tls = {.ca_file = pki("ca.pem")}});
  const HttpResponse r = client.get(url(server), {}, 5s);
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
}

TEST(HttpClientTls, AClientCertificateIsSent) {
  PeerServer server(https_args("server", /*client_ca=*/true));
  HttpClient client({.tls = {.ca_file = pki("ca.pem"),
                             .cert_file = pki("client.pem"),
                             .key_file = pki("client.key")}});
  const HttpResponse r = client.get(url(server));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(next_request(server)["client_cn"], "firebreak-test-client");
}

TEST(HttpClientTls, ARotatedCaFileIsLoadedAgainAtTheNextConnection) {
  PeerServer server(https_args());
  const std::string ca = TestPki::get().dir() + "/rotated-ca.pem";
  std::filesystem::copy_file(pki("other-ca.pem"), ca,
                             std::filesystem::copy_options::overwrite_existing);
  HttpClient client({.tls = {.ca_file = ca}});
  const HttpResponse before = client.get(url(server));
  EXPECT_NE(before.error.find("certificate verify failed"), std::string::npos) << before.error;
  // The file is replaced (as a secret manager does: write aside, rename).
  std::filesystem::copy_file(pki("ca.pem"), ca + ".new");
  std::filesystem::rename(ca + ".new", ca);
  const HttpResponse after = client.get(url(server));
  EXPECT_TRUE(after.ok()) << after.error;
  std::filesystem::remove(ca);
}

TEST(HttpClientTls, BadTlsFilesAreClearErrors) {
  EXPECT_EQ(check_tls_options({.ca_file = pki("ca.pem")}), "");
  EXPECT_NE(check_tls_options({.ca_file = "/nonexistent/ca.pem"}).find("cannot load ca_file"),
            std::string::npos);
  EXPECT_NE(check_tls_options({.cert_file = pki("client.pem")}).find("key_file"),
            std::string::npos);
  EXPECT_NE(check_tls_options({.cert_file = pki("client.pem"), .key_file = pki("server.key")})
                .find("mismatch"),
            std::string::npos);
  PeerServer server(https_args());
  HttpClient client({.tls = {.ca_file = "/nonexistent/ca.pem"}});
  const HttpResponse r = client.get(url(server));
  EXPECT_NE(r.error.find("cannot load ca_file \"/nonexistent/ca.pem\""), std::string::npos)
      << r.error;
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    path_ = (std::filesystem::temp_directory_path() /
             ("firebreak-secret-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++)))
                .string();
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

TEST(HttpClientAuth, AuthorizationDefaultsToBearer) {
  PeerServer server(https_args());
  HttpClient client({.tls = {.ca_file = pki("ca.pem")},
                     .authorization = HttpAuthorization{.credentials = "s3cret"}});
  ASSERT_TRUE(client.get(url(server)).ok());
  EXPECT_EQ(next_request(server)["headers"]["authorization"], "Bearer s3cret");
}

TEST(HttpClientAuth, CredentialsFileIsReadAtEachCallAndTrimmed) {
  PeerServer server(https_args());
  TempFile secret("token-1\n");
  HttpClient client(
      {.tls = {.ca_file = pki("ca.pem")},
       .authorization = HttpAuthorization{.type = "Token", .credentials_file = secret.path()}});
  ASSERT_TRUE(client.get(url(server)).ok());
  EXPECT_EQ(next_request(server)["headers"]["authorization"], "Token token-1");
  std::ofstream(secret.path()) << "  token-2  \n";
  ASSERT_TRUE(client.get(url(server)).ok());
  EXPECT_EQ(next_request(server)["headers"]["authorization"], "Token token-2");
}

TEST(HttpClientAuth, BasicAuthWithPasswordFile) {
  PeerServer server(https_args());
  TempFile password("pa55:word\n");
  HttpClient client(
      {.tls = {.ca_file = pki("ca.pem")},
       .basic_auth = HttpBasicAuth{.username = "alice", .password_file = password.path()}});
  ASSERT_TRUE(client.get(url(server)).ok());
  // base64("alice:pa55:word")
  EXPECT_EQ(next_request(server)["headers"]["authorization"], "Basic YWxpY2U6cGE1NTp3b3Jk");
}

TEST(HttpClientAuth, AnUnreadableSecretFileIsAnErrorWithoutTheSecret) {
  HttpClient client({.authorization = HttpAuthorization{.credentials = "inline-secret",
                                                        .credentials_file = "/nonexistent/tok"}});
  const HttpResponse r = client.get("http://127.0.0.1:1/");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("cannot read authorization credentials_file \"/nonexistent/tok\""),
            std::string::npos)
      << r.error;
  EXPECT_EQ(r.error.find("inline-secret"), std::string::npos);
}

TEST(HttpClientAuth, TheCallsOwnAuthorizationHeaderWins) {
  PeerServer server(https_args());
  HttpClient client({.tls = {.ca_file = pki("ca.pem")},
                     .authorization = HttpAuthorization{.credentials = "from-config"}});
  ASSERT_TRUE(client.get(url(server), {{"Authorization", "Bearer mine"}}).ok());
  EXPECT_EQ(next_request(server)["headers"]["authorization"], "Bearer mine");
}

}  // namespace
}  // namespace firebreak
