// prometheus/common 0.38's config/http_config.go (HTTPClientConfig.Validate,
// TLSConfig.Validate), and promtool's checks of the files they name.
#include "watch/yamlconf/http_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>

#include "watch/yamlconf/reader.h"

namespace watch::yamlconf {

namespace {

const std::vector<std::string_view> kHttpConfigKeys{
    "basic_auth", "authorization", "oauth2",           "bearer_token", "bearer_token_file",
    "proxy_url",  "tls_config",    "follow_redirects", "enable_http2"};
const std::vector<std::string_view> kTlsKeys{
    "ca_file",     "cert_file",  "key_file", "server_name", "insecure_skip_verify",
    "min_version", "max_version"};
const std::vector<std::string_view> kBasicAuthKeys{"username", "password", "password_file"};
const std::vector<std::string_view> kAuthorizationKeys{"type", "credentials", "credentials_file"};

// "" when `path` is a file this process can open for reading, else why not.
std::string unreadable(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::strerror(errno);
  struct stat st {};
  const bool dir = ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  ::close(fd);
  return dir ? "is a directory" : "";
}

// Reads a file key (a path, resolved) and, with `check`, checks the file.
// True when the key held a path that is fine to use.
bool file_value(Reader& r, const Entries& f, std::string_view name, const std::string& key,
                std::string& out, bool check) {
  const YAML::Node* v = f.get(name);
  std::string s;
  if (!v || !r.string_value(*v, join_key(key, name), s) || s.empty()) return false;
  out = r.path(s);
  if (!check) return true;
  if (const std::string why = unreadable(out); !why.empty()) {
    r.error(pos_of(*v), join_key(key, name), fmt::format("cannot read {}: {}", quote(out), why));
    return false;
  }
  return true;
}

}  // namespace

void HttpConfig::apply_to(firebreak::HttpClientOptions& options) const {
  options.tls = tls;
  options.authorization = authorization;
  options.basic_auth = basic_auth;
}

const std::vector<std::string_view>& http_config_keys() {
  return kHttpConfigKeys;
}

void load_tls_config(Reader& r, const YAML::Node& n, const std::string& key,
                     firebreak::TlsOptions& out, bool check_files) {
  Entries f;
  if (!r.entries(n, key, &kTlsKeys, f)) return;
  const std::size_t errors_at = r.error_count();
  for (auto [name, field] : {std::pair<const char*, std::string*>{"ca_file", &out.ca_file},
                             {"cert_file", &out.cert_file},
                             {"key_file", &out.key_file}})
    file_value(r, f, name, key, *field, check_files);
  if (const YAML::Node* v = f.get("server_name"))
    r.string_value(*v, join_key(key, "server_name"), out.server_name);
  if (const YAML::Node* v = f.get("insecure_skip_verify"))
    r.bool_value(*v, join_key(key, "insecure_skip_verify"), out.insecure_skip_verify);
  r.refuse(f, key, "min_version",
           "min_version is not supported by watch (TLS 1.2 or later is used)");
  r.refuse(f, key, "max_version", "max_version is not supported by watch");
  if (out.cert_file.empty() != out.key_file.empty()) {
    // prometheus/common's wording.
    r.error(pos_of(n), key,
            out.cert_file.empty()
                ? fmt::format("client key file {} specified without client cert file",
                              quote(out.key_file))
                : fmt::format("client cert file {} specified without client key file",
                              quote(out.cert_file)));
    return;
  }
  // Every file is readable: do the certificates and the key load, and match?
  if (check_files && r.error_count() == errors_at &&
      !(out.ca_file.empty() && out.cert_file.empty())) {
    if (const std::string why = firebreak::check_tls_options(out); !why.empty())
      r.error(pos_of(n), key, why);
  }
}

void load_http_config(Reader& r, const YAML::Node& n, const std::string& key, HttpConfig& out,
                      bool check_files) {
  Entries f;
  if (!r.entries(n, key, &kHttpConfigKeys, f)) return;
  r.refuse(f, key, "oauth2", "oauth2 is not supported by watch");
  r.refuse(f, key, "proxy_url", "proxy_url is not supported by watch");
  bool ignored = false;
  if (const YAML::Node* v = f.get("follow_redirects"))
    r.bool_value(*v, join_key(key, "follow_redirects"), ignored);
  if (const YAML::Node* v = f.get("enable_http2"))
    r.bool_value(*v, join_key(key, "enable_http2"), ignored);
  if (const YAML::Node* v = f.get("tls_config"))
    load_tls_config(r, *v, join_key(key, "tls_config"), out.tls, check_files);

  std::string bearer, bearer_file;
  if (const YAML::Node* v = f.get("bearer_token"))
    r.string_value(*v, join_key(key, "bearer_token"), bearer);
  file_value(r, f, "bearer_token_file", key, bearer_file, check_files);

  if (const YAML::Node* v = f.get("basic_auth")) {
    const std::string k = join_key(key, "basic_auth");
    Entries b;
    if (r.entries(*v, k, &kBasicAuthKeys, b)) {
      firebreak::HttpBasicAuth auth;
      if (const YAML::Node* u = b.get("username"))
        r.string_value(*u, join_key(k, "username"), auth.username);
      if (const YAML::Node* p = b.get("password"))
        r.string_value(*p, join_key(k, "password"), auth.password);
      file_value(r, b, "password_file", k, auth.password_file, check_files);
      if (!auth.password.empty() && !auth.password_file.empty())
        r.error(pos_of(*v), k,
                "at most one of basic_auth password & password_file must be configured");
      out.basic_auth = std::move(auth);
    }
  }
  if (const YAML::Node* v = f.get("authorization")) {
    const std::string k = join_key(key, "authorization");
    Entries a;
    if (r.entries(*v, k, &kAuthorizationKeys, a)) {
      firebreak::HttpAuthorization auth;
      std::string type;
      if (const YAML::Node* t = a.get("type")) r.string_value(*t, join_key(k, "type"), type);
      type = trim(type);
      auth.type = type.empty() ? "Bearer" : type;
      if (const YAML::Node* c = a.get("credentials"))
        r.string_value(*c, join_key(k, "credentials"), auth.credentials);
      file_value(r, a, "credentials_file", k, auth.credentials_file, check_files);
      if (!auth.credentials.empty() && !auth.credentials_file.empty())
        r.error(pos_of(*v), k,
                "at most one of authorization credentials & credentials_file must be configured");
      std::string lower = auth.type;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (lower == "basic")
        r.error(pos_of(*v), join_key(k, "type"),
                "authorization type cannot be set to \"basic\", use \"basic_auth\" instead");
      if (!bearer.empty() || !bearer_file.empty())
        r.error(pos_of(*v), k,
                "authorization is not compatible with bearer_token & bearer_token_file");
      if (out.basic_auth)
        r.error(pos_of(*v), k,
                "at most one of basic_auth, oauth2 & authorization must be configured");
      out.authorization = std::move(auth);
    }
  }
  if (!bearer.empty() && !bearer_file.empty())
    r.error(pos_of(n), key, "at most one of bearer_token & bearer_token_file must be configured");
  if ((!bearer.empty() || !bearer_file.empty()) && out.basic_auth)
    r.error(
        pos_of(n), key,
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured");
  if (!out.authorization && (!bearer.empty() || !bearer_file.empty()))
    out.authorization = firebreak::HttpAuthorization{
        .type = "Bearer", .credentials = bearer, .credentials_file = bearer_file};
}

}  // namespace watch::yamlconf
