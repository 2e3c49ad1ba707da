#include "watch/targets/targets.h"

#include <cctype>
#include <set>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "watch/relabel/relabel.h"

namespace watch::targets {

namespace {

// The path (with its query) of an http URL: "http://h:1/m?x=1" -> "/m?x=1".
std::string path_of(std::string_view url) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return "/";
  const auto slash = url.find_first_of("/?#", sep + 3);
  if (slash == std::string_view::npos) return "/";
  std::string out(url.substr(slash, url.find('#', slash) - slash));
  if (out.front() != '/') out.insert(0, "/");
  return out;
}

// The scheme of a URL, lower case: "HTTPS://h/m" -> "https".
std::string scheme_of(std::string_view url) {
  std::string out(url.substr(0, url.find("://")));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void percent_encode(std::string_view s, std::string& out) {
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
}

// scheme://address<metrics_path>[?__param_* ...], as Prometheus's
// Target.URL(): params from the labels, added to any query the path has.
std::string url_from(const LabelSet& labels, std::string_view path_label, bool with_params) {
  std::string url = std::string(labels.get("__scheme__"));
  if (url.empty()) url = "http";
  url += "://";
  url += labels.get("__address__");
  std::string_view path = labels.get(path_label);
  if (path.empty() || path.front() != '/') url += '/';
  url += path;
  bool query = path.find('?') != std::string_view::npos;
  for (const Label& l : labels) {
    if (!with_params || !l.name.starts_with("__param_")) continue;
    url += query ? '&' : '?';
    query = true;
    percent_encode(std::string_view(l.name).substr(8), url);
    url += '=';
    percent_encode(l.value, url);
  }
  return url;
}

}  // namespace

std::vector<discovery::TargetGroup> static_groups(const config::Target& target) {
  if (target.metrics_url.empty()) return target.static_groups;
  return {{.source = target.name,
           .targets = {LabelSet::from(
               {{discovery::kAddressLabel, scrape::instance_of(target.metrics_url)}})}}};
}

std::vector<discovery::JobDiscovery> discovery_jobs(const config::Config& config) {
  std::vector<discovery::JobDiscovery> out;
  out.reserve(config.targets.size());
  for (const config::Target& t : config.targets)
    out.push_back(
        {.job = t.name, .static_groups = static_groups(t), .files = t.file_sd, .dns = t.dns_sd});
  return out;
}

void build(const config::Target& target, const std::vector<discovery::TargetGroup>& groups,
           Built& out) {
  const bool single = !target.metrics_url.empty();
  relabel::JobDefaults job{
      .job = target.name,
      .scheme = single ? scheme_of(target.metrics_url) : target.scheme,
      .metrics_path = single ? path_of(target.metrics_url) : target.metrics_path,
      .scrape_interval_ms = target.interval_ms,
      .scrape_timeout_ms = target.timeout_ms};
  const scrape::MetricRelabel metric_relabel =
      scrape::metric_relabel(target.metric_relabel_configs);
  std::set<std::string> seen;  // this target's URLs so far
  for (const scrape::TargetConfig& t : out.active)
    if (t.name == target.name) seen.insert(t.metrics_url);
  for (const discovery::TargetGroup& g : groups) {
    for (const LabelSet& instance : g.targets) {
      // Group labels, then the target's own (which win), then the
      // configured target labels where neither set them.
      std::vector<Label> labels(target.labels.begin(), target.labels.end());
      labels.insert(labels.end(), g.labels.begin(), g.labels.end());
      labels.insert(labels.end(), instance.begin(), instance.end());
      const LabelSet discovered = LabelSet::from(std::move(labels));
      relabel::PopulateResult r = relabel::populate_target(discovered, job, target.relabel_configs);
      if (r.dropped || !r.error.empty()) {
        out.dropped.push_back(
            {.job = target.name,
             .discovered_labels = r.discovered_labels.empty() ? discovered : r.discovered_labels,
             .reason = r.error});
        continue;
      }
      // The single-URL form keeps its URLs as written unless relabeling
      // moved the target.
      const bool as_written =
          single && r.labels.get("__address__") == scrape::instance_of(target.metrics_url) &&
          r.labels.get("__metrics_path__") == job.metrics_path &&
          r.labels.get("__scheme__") == job.scheme;
      bool has_params = false;
      for (const Label& l : r.labels) has_params |= l.name.starts_with("__param_");
      scrape::TargetConfig c{.name = target.name,
                             .metrics_url = as_written && !has_params
                                                ? target.metrics_url
                                                : url_from(r.labels, "__metrics_path__", true),
                             .ready_url = single ? target.ready_url : std::string(),
                             .interval_ms = r.scrape_interval_ms,
                             .timeout_ms = r.scrape_timeout_ms,
                             .body_size_limit = target.body_size_limit,
                             .sample_limit = target.sample_limit,
                             .honor_labels = target.honor_labels,
                             .honor_timestamps = true,
                             .http = target.http,
                             .labels = r.public_labels().labels(),
                             .discovered_labels = r.discovered_labels,
                             .metric_relabel = metric_relabel};
      if (!single && !target.ready_path.empty()) {
        c.ready_url =
            url_from(r.labels.with("__ready_path__", target.ready_path), "__ready_path__", false);
      }
      if (!seen.insert(c.metrics_url).second) continue;  // the same instance twice
      out.active.push_back(std::move(c));
    }
  }
}

}  // namespace watch::targets
