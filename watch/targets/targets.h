// From a configured target (a scrape job: one service, many instances) and
// the groups its discovery found, to the scrape targets watch runs: each
// instance's labels populated and relabeled as Prometheus does
// (relabel::populate_target), its URLs built, its metric relabeling
// attached. Also the discovery each configured target needs.
//
//   discovery::Manager sd({.on_change = ...});
//   sd.apply(targets::discovery_jobs(config));
//   targets::Built built;
//   for (const config::Target& t : config.targets) targets::build(t, sd.groups(t.name), built);
//   scrape_manager.apply(built.active);
//
// The single-URL form (metrics_url) is one static instance whose address
// and path come from the URL; when relabeling leaves them alone the URL is
// scraped exactly as written.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "watch/config/config.h"
#include "watch/discovery/discovery.h"
#include "watch/model/model.h"
#include "watch/scrape/scraper.h"

namespace watch::targets {

// An instance that is not scraped: relabeling dropped it (reason ""), or its
// labels are unusable (reason says why, e.g. "no address").
struct DroppedTarget {
  std::string job;
  LabelSet discovered_labels;
  std::string reason;
};

struct Built {
  std::vector<scrape::TargetConfig> active;  // unique by (name, metrics_url)
  std::vector<DroppedTarget> dropped;
};

// Appends `target`'s instances from `groups` (its static groups and what
// discovery found) to `out`.
void build(const config::Target& target, const std::vector<discovery::TargetGroup>& groups,
           Built& out);

// What discovery::Manager needs for every configured target: its static
// groups (the single-URL form's one instance included), files and DNS names.
std::vector<discovery::JobDiscovery> discovery_jobs(const config::Config& config);

// The static groups of one target (no discovery needed): what build() takes
// for a target without file_sd_configs and dns_sd_configs.
std::vector<discovery::TargetGroup> static_groups(const config::Target& target);

}  // namespace watch::targets
