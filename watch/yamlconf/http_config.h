// Prometheus's http_config (prometheus/common 0.38, what Prometheus 2.42 and
// Alertmanager 0.25 use): the TLS and authentication settings of an outgoing
// HTTP client, and their loader. One loader for every place watch reads
// them: receivers' http_config (alerting/integrations.h), email's
// tls_config, and scrape targets' tls_config, authorization and basic_auth
// (config/config.h, where Prometheus's scrape_config has them inline).
//
//   std::vector<watch::yamlconf::Error> errors;
//   watch::yamlconf::Reader reader("/etc/firebreak", errors);
//   watch::yamlconf::HttpConfig http;
//   watch::yamlconf::load_http_config(reader, node, "receivers[0].webhook_configs[0].http_config",
//                                     http);
//   firebreak::HttpClientOptions options;
//   http.apply_to(options);  // tls, authorization, basic_auth
//
// What is checked, with prometheus/common's messages where it has one: the
// shapes and keys; at most one of basic_auth, authorization and
// bearer_token[_file]; at most one of a secret and its *_file; authorization
// type not "basic"; cert_file and key_file both or neither. oauth2,
// proxy_url, min_version and max_version are refused (watch's client has
// none of them); follow_redirects and enable_http2 are accepted and have no
// effect (it follows no redirect and speaks HTTP/1.1). Relative file paths
// are resolved against the Reader's base directory.
//
// With `check_files`, the files named are also checked as they are loaded,
// as Prometheus does when it builds a scrape pool and `promtool check
// config` does: each readable, the certificates and key loadable by OpenSSL
// and matching (the error is at the file's key, or at tls_config for a
// mismatch). Without it nothing is read until a request (Alertmanager's
// behaviour for receivers): a secret file is read at each request so that a
// rotated secret is picked up, in both cases.
//
// Secrets (credentials, password, and the files' contents) never appear in
// an error.
//
// Thread-safety: the loaders use the Reader given (one thread at a time).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/http_client.h"
#include "firebreak/tls.h"

namespace YAML {
class Node;
}

namespace watch::yamlconf {

class Reader;

struct HttpConfig {
  firebreak::TlsOptions tls;
  // At most one of them (bearer_token and bearer_token_file are read into
  // authorization, as Prometheus does).
  std::optional<firebreak::HttpAuthorization> authorization;
  std::optional<firebreak::HttpBasicAuth> basic_auth;

  // Sets options.tls, authorization and basic_auth.
  void apply_to(firebreak::HttpClientOptions& options) const;
  friend bool operator==(const HttpConfig&, const HttpConfig&) = default;
};

// The keys of an http_config mapping.
const std::vector<std::string_view>& http_config_keys();

// Reads an http_config mapping at `key` ("receivers[0].webhook_configs[0].http_config")
// into `out`; problems go to the reader's errors.
void load_http_config(Reader& reader, const YAML::Node& n, const std::string& key, HttpConfig& out,
                      bool check_files = false);

// Reads a tls_config mapping into `out`.
void load_tls_config(Reader& reader, const YAML::Node& n, const std::string& key,
                     firebreak::TlsOptions& out, bool check_files = false);

}  // namespace watch::yamlconf
