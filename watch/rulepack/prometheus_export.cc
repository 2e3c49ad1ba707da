#include "watch/rulepack/prometheus_export.h"
#include "watch/rulepack/yaml_text.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace watch::rulepack {

namespace {

constexpr const char* kPackFile = "firebreak.rules.yml";

struct ParsedUrl {
  std::string scheme;  // http | https
  std::string host_port;
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> params;
};

std::optional<ParsedUrl> parse_url(std::string_view url, std::string* error) {
  ParsedUrl u;
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    *error = "URL without a scheme: " + std::string(url);
    return std::nullopt;
  }
  u.scheme = std::string(url.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https") {
    *error = "URL scheme must be http or https: " + std::string(url);
    return std::nullopt;
  }
  std::string_view rest = url.substr(sep + 3);
  if (const auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  const auto slash = rest.find_first_of("/?");
  u.host_port = std::string(rest.substr(0, slash));
  if (u.host_port.empty() || u.host_port.find('@') != std::string::npos) {
    *error = "URL needs a host (and no user info): " + std::string(url);
    return std::nullopt;
  }
  if (slash == std::string_view::npos) return u;
  rest = rest.substr(slash);
  const auto q = rest.find('?');
  if (q != 0) u.path = std::string(rest.substr(0, q));
  if (q != std::string_view::npos) {
    std::string_view query = rest.substr(q + 1);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const std::string_view kv = query.substr(0, amp);
      const auto eq = kv.find('=');
      if (!kv.empty()) {
        u.params.emplace_back(std::string(kv.substr(0, eq)),
                              eq == std::string_view::npos ? "" : std::string(kv.substr(eq + 1)));
      }
      if (amp == std::string_view::npos) break;
      query = query.substr(amp + 1);
    }
  }
  return u;
}

bool write_file(const std::filesystem::path& path, const std::string& text, std::string* error) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) {
    *error = "cannot write " + path.string();
    return false;
  }
  return true;
}

std::vector<std::string> rule_file_names(const ExportInput& in) {
  std::vector<std::string> out = {std::string("rules/") + kPackFile};
  for (const auto& f : in.extra_rule_files) {
    out.push_back("rules/" + std::filesystem::path(f).filename().string());
  }
  return out;
}

void render_labels(const std::vector<std::pair<std::string, std::string>>& labels,
                   std::string_view indent, std::ostringstream& y) {
  if (labels.empty()) return;
  y << indent << "labels:\n";
  for (const auto& [k, v] : labels) y << indent << "  " << k << ": " << yaml_quote(v) << "\n";
}

void render_relabel(std::string_view key, const std::vector<relabel::RelabelSpec>& rules,
                    std::ostringstream& y) {
  if (rules.empty()) return;
  y << "    " << key << ":\n";
  for (const relabel::RelabelSpec& r : rules) {
    y << "      - action: " << yaml_quote(r.action) << "\n";
    if (!r.source_labels.empty()) {
      y << "        source_labels: [";
      for (std::size_t i = 0; i < r.source_labels.size(); ++i)
        y << (i ? ", " : "") << yaml_quote(r.source_labels[i]);
      y << "]\n";
    }
    if (r.separator != ";") y << "        separator: " << yaml_quote(r.separator) << "\n";
    if (r.regex) y << "        regex: " << yaml_quote(*r.regex) << "\n";
    if (r.modulus) y << "        modulus: " << r.modulus << "\n";
    if (r.target_label) y << "        target_label: " << yaml_quote(*r.target_label) << "\n";
    if (r.replacement) y << "        replacement: " << yaml_quote(*r.replacement) << "\n";
  }
}

std::string_view dns_type(discovery::DnsSdConfig::Type type) {
  switch (type) {
    case discovery::DnsSdConfig::Type::kSrv:
      return "SRV";
    case discovery::DnsSdConfig::Type::kA:
      return "A";
    case discovery::DnsSdConfig::Type::kAaaa:
      return "AAAA";
    case discovery::DnsSdConfig::Type::kMx:
      return "MX";
    case discovery::DnsSdConfig::Type::kNs:
      return "NS";
  }
  return "SRV";
}

// A target with many instances: its static groups, file and DNS discovery
// and relabeling, in Prometheus's own keys.
void render_instances(const ExportTarget& t, std::ostringstream& y) {
  if (!t.static_groups.empty()) y << "    static_configs:\n";
  for (const discovery::TargetGroup& g : t.static_groups) {
    y << "      - targets: [";
    for (std::size_t i = 0; i < g.targets.size(); ++i)
      y << (i ? ", " : "") << yaml_quote(g.targets[i].get(discovery::kAddressLabel));
    y << "]\n";
    // The target's own labels, then the group's (which win), as watch.
    std::map<std::string, std::string> labels(t.labels.begin(), t.labels.end());
    for (const Label& l : g.labels) labels[l.name] = l.value;
    render_labels({labels.begin(), labels.end()}, "        ", y);
  }
  if (!t.file_sd.empty()) y << "    file_sd_configs:\n";
  for (const discovery::FileSdConfig& f : t.file_sd) {
    y << "      - files: [";
    for (std::size_t i = 0; i < f.files.size(); ++i) y << (i ? ", " : "") << yaml_quote(f.files[i]);
    y << "]\n        refresh_interval: " << prom_duration(f.refresh_interval_ms) << "\n";
  }
  if (!t.dns_sd.empty()) y << "    dns_sd_configs:\n";
  for (const discovery::DnsSdConfig& d : t.dns_sd) {
    y << "      - names: [";
    for (std::size_t i = 0; i < d.names.size(); ++i) y << (i ? ", " : "") << yaml_quote(d.names[i]);
    y << "]\n        type: " << dns_type(d.type) << "\n";
    if (d.port) y << "        port: " << d.port << "\n";
    y << "        refresh_interval: " << prom_duration(d.refresh_interval_ms) << "\n";
  }
  std::vector<relabel::RelabelSpec> relabel = t.relabel_configs;
  if (t.static_groups.empty()) {
    // Discovered instances get the target's labels first (watch adds them
    // before relabeling, where discovery did not set them).
    std::vector<relabel::RelabelSpec> first;
    for (const auto& [k, v] : t.labels)
      first.push_back({.source_labels = {k}, .regex = "", .target_label = k, .replacement = v});
    relabel.insert(relabel.begin(), first.begin(), first.end());
  }
  render_relabel("relabel_configs", relabel, y);
  render_relabel("metric_relabel_configs", t.metric_relabel_configs, y);
}

// tls_config, authorization, basic_auth, with "<secret>" for inline secrets
// (what Prometheus writes for a Secret).
void render_http(const yamlconf::HttpConfig& http, std::ostringstream& y) {
  constexpr const char* kSecret = "'<secret>'  # not exported: keep it in a file (";
  const firebreak::TlsOptions& tls = http.tls;
  if (tls != firebreak::TlsOptions{}) {
    y << "    tls_config:\n";
    if (!tls.ca_file.empty()) y << "      ca_file: " << yaml_quote(tls.ca_file) << "\n";
    if (!tls.cert_file.empty()) y << "      cert_file: " << yaml_quote(tls.cert_file) << "\n";
    if (!tls.key_file.empty()) y << "      key_file: " << yaml_quote(tls.key_file) << "\n";
    if (!tls.server_name.empty()) y << "      server_name: " << yaml_quote(tls.server_name) << "\n";
    if (tls.insecure_skip_verify) y << "      insecure_skip_verify: true\n";
  }
  if (const auto& a = http.authorization) {
    y << "    authorization:\n"
      << "      type: " << yaml_quote(a->type) << "\n";
    if (!a->credentials_file.empty())
      y << "      credentials_file: " << yaml_quote(a->credentials_file) << "\n";
    if (!a->credentials.empty()) y << "      credentials: " << kSecret << "credentials_file)\n";
  }
  if (const auto& b = http.basic_auth) {
    y << "    basic_auth:\n";
    if (!b->username.empty()) y << "      username: " << yaml_quote(b->username) << "\n";
    if (!b->password_file.empty())
      y << "      password_file: " << yaml_quote(b->password_file) << "\n";
    if (!b->password.empty()) y << "      password: " << kSecret << "password_file)\n";
  }
}

bool render_config(const ExportInput& in, std::string& out, std::string* error) {
  const std::int64_t global_interval = in.scrape_interval_ms;
  const std::int64_t global_timeout = std::min(in.scrape_timeout_ms, in.scrape_interval_ms);
  std::ostringstream y;
  y << "# Prometheus configuration exported by `firebreak export`: the targets\n"
       "# watch scrapes, with the same job and instance labels, and the same rule\n"
       "# pack, so the alerts of docs/alerts.md work unchanged.\n"
       "global:\n"
    << "  scrape_interval: " << prom_duration(in.scrape_interval_ms) << "\n"
    << "  scrape_timeout: " << prom_duration(global_timeout) << "\n"
    << "  evaluation_interval: " << prom_duration(in.rules.evaluation_interval_ms) << "\n"
    << "\n"
       "rule_files:\n";
  for (const auto& f : rule_file_names(in)) y << "  - " << yaml_quote(f) << "\n";
  y << "\n"
       "alerting:\n"
       "  alertmanagers:\n"
       "    # A placeholder: point it at your Alertmanager (or at watch, which\n"
       "    # accepts alerts on Alertmanager's v2 API).\n"
       "    - static_configs:\n"
    << "        - targets: [" << yaml_quote(in.alertmanager) << "]\n"
    << "\n"
       "scrape_configs:\n";
  if (in.targets.empty()) y << "  []\n";
  std::vector<const ExportTarget*> targets;
  for (const auto& t : in.targets) targets.push_back(&t);
  std::stable_sort(targets.begin(), targets.end(),
                   [](const auto* a, const auto* b) { return a->spec.name < b->spec.name; });
  std::set<std::string> names;
  std::string probes;
  for (const ExportTarget* t : targets) {
    if (!names.insert(t->spec.name).second) {
      *error = "two targets named " + t->spec.name;
      return false;
    }
    const bool many = t->metrics_url.empty();
    std::optional<ParsedUrl> u;
    if (!many) {
      u = parse_url(t->metrics_url, error);
      if (!u) {
        *error = "target " + t->spec.name + ": " + *error;
        return false;
      }
    }
    y << "  - job_name: " << yaml_quote(t->spec.name)
      << "  # workload: " << to_string(t->spec.workload) << "\n";
    if (t->scrape_interval_ms > 0) {
      y << "    scrape_interval: " << prom_duration(t->scrape_interval_ms) << "\n";
    }
    // Prometheus refuses a timeout longer than the interval: cap it, as
    // watch does.
    const std::int64_t interval =
        t->scrape_interval_ms > 0 ? t->scrape_interval_ms : global_interval;
    const std::int64_t timeout = t->scrape_timeout_ms > 0 ? t->scrape_timeout_ms : global_timeout;
    if (t->scrape_timeout_ms > 0 || timeout > interval) {
      y << "    scrape_timeout: " << prom_duration(std::min(timeout, interval)) << "\n";
    }
    y << "    scheme: " << (many ? t->scheme : u->scheme) << "\n"
      << "    metrics_path: " << yaml_quote(many ? t->metrics_path : u->path) << "\n"
      << "    honor_labels: " << (t->honor_labels ? "true" : "false") << "\n";
    render_http(t->http, y);
    if (u && !u->params.empty()) {
      std::map<std::string, std::vector<std::string>> params;
      for (const auto& [k, v] : u->params) params[k].push_back(v);
      y << "    params:\n";
      for (const auto& [k, vs] : params) {
        y << "      " << yaml_quote(k) << ": [";
        for (std::size_t i = 0; i < vs.size(); ++i) y << (i ? ", " : "") << yaml_quote(vs[i]);
        y << "]\n";
      }
    }
    if (!many) {
      y << "    static_configs:\n"
        << "      - targets: [" << yaml_quote(u->host_port) << "]\n";
      if (!t->labels.empty()) {
        y << "        labels:\n";
        for (const auto& [k, v] : t->labels)
          y << "          " << k << ": " << yaml_quote(v) << "\n";
      }
    } else {
      render_instances(*t, y);
    }
    if (!t->ready_url.empty()) {
      const auto r = parse_url(t->ready_url, error);
      if (!r) {
        *error = "target " + t->spec.name + " ready_url: " + *error;
        return false;
      }
      std::ostringstream p;
      p << "  # Readiness of " << t->spec.name << " (" << t->ready_url << "): probe_success\n"
        << "  # with job=" << t->spec.name << ", instance=" << u->host_port
        << " as watch writes it.\n"
        << "  # - job_name: " << yaml_quote(t->spec.name + "-ready") << "\n"
        << "  #   metrics_path: /probe\n"
        << "  #   params: {module: [http_2xx]}\n"
        << "  #   static_configs:\n"
        << "  #     - targets: [" << yaml_quote(t->ready_url) << "]\n";
      if (!t->labels.empty()) {
        p << "  #       labels: {";
        for (std::size_t i = 0; i < t->labels.size(); ++i) {
          p << (i ? ", " : "") << t->labels[i].first << ": " << yaml_quote(t->labels[i].second);
        }
        p << "}\n";
      }
      p << "  #   relabel_configs:\n"
        << "  #     - {source_labels: [__address__], target_label: __param_target}\n"
        << "  #     - {target_label: instance, replacement: " << yaml_quote(u->host_port) << "}\n"
        << "  #     - {target_label: job, replacement: " << yaml_quote(t->spec.name) << "}\n"
        << "  #     - {target_label: __address__, replacement: " << yaml_quote(in.blackbox_exporter)
        << "}\n";
      probes += p.str();
    }
  }
  if (!probes.empty()) {
    y << "\n"
         "  # Readiness probes. Prometheus cannot probe a URL by itself: these jobs\n"
         "  # need a blackbox_exporter (module http_2xx) at "
      << in.blackbox_exporter
      << ";\n"
         "  # uncomment them once it runs. Without them, ServiceNeverReady and\n"
         "  # ServiceNotReady work only for services that expose service_ready.\n"
      << probes;
  }
  out = y.str();
  return true;
}

}  // namespace

bool has_inline_secret(const ExportTarget& target) {
  return (target.http.authorization && !target.http.authorization->credentials.empty()) ||
         (target.http.basic_auth && !target.http.basic_auth->password.empty());
}

bool render_prometheus_config(const ExportInput& input, std::string* text, std::string* error) {
  std::string scratch;
  return render_config(input, *text, error ? error : &scratch);
}

bool export_prometheus(const ExportInput& input, const std::string& dir, std::string* error) {
  std::string scratch;
  if (!error) error = &scratch;
  namespace fs = std::filesystem;
  std::string config;
  if (!render_config(input, config, error)) return false;
  std::set<std::string> seen = {kPackFile};
  for (const auto& f : input.extra_rule_files) {
    const std::string name = fs::path(f).filename().string();
    if (!seen.insert(name).second) {
      *error = "two rule files named " + name + " (" + f + ")";
      return false;
    }
  }
  std::error_code ec;
  const fs::path root(dir);
  fs::create_directories(root / "rules", ec);
  if (ec) {
    *error = "cannot create " + (root / "rules").string() + ": " + ec.message();
    return false;
  }
  std::vector<TargetSpec> specs;
  for (const auto& t : input.targets) specs.push_back(t.spec);
  if (!write_file(root / "rules" / kPackFile, render_rule_pack(specs, input.rules), error)) {
    return false;
  }
  for (const auto& f : input.extra_rule_files) {
    fs::copy_file(f, root / "rules" / fs::path(f).filename(), fs::copy_options::overwrite_existing,
                  ec);
    if (ec) {
      *error = "cannot copy rule file " + f + ": " + ec.message();
      return false;
    }
  }
  return write_file(root / "prometheus.yml", config, error);
}

}  // namespace watch::rulepack
