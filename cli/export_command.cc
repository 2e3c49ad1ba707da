// `firebreak export prometheus --config firebreak.yaml DIR`: the same rule
// pack and scrape targets as watch, for Prometheus to take over unchanged;
// `firebreak export alertmanager --config firebreak.yaml DIR`: the same
// routing for Alertmanager.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "watch/config/config.h"
#include "watch/rulepack/prometheus_export.h"

namespace firebreak::cli {
namespace {

struct ExportArgs {
  std::string config;
  std::string dir;
};

int run_export(const ExportArgs& args) {
  const watch::config::LoadResult loaded = watch::config::load_config(args.config);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    return 1;
  }
  const watch::config::Config& config = loaded.config;
  watch::rulepack::ExportInput in;
  in.scrape_interval_ms = config.scrape_interval_ms;
  in.scrape_timeout_ms = config.scrape_timeout_ms;
  in.rules = watch::config::rule_pack_options(config);
  const auto specs = watch::config::rule_pack_targets(config);
  for (std::size_t i = 0; i < config.targets.size(); ++i) {
    const watch::config::Target& t = config.targets[i];
    watch::rulepack::ExportTarget out{.spec = specs[i],
                                      .metrics_url = t.metrics_url,
                                      .ready_url = t.ready_url,
                                      .scrape_interval_ms = t.interval_ms,
                                      .scrape_timeout_ms = t.timeout_ms,
                                      .honor_labels = t.honor_labels};
    for (const auto& l : t.labels) out.labels.emplace_back(l.name, l.value);
    out.scheme = t.scheme;
    out.http = t.http;
    if (watch::rulepack::has_inline_secret(out))
      std::cerr << "firebreak export: note: target " << t.name
                << " has a secret written inline; prometheus.yml has '<secret>' in its place "
                   "(use credentials_file or password_file to carry it over)\n";
    out.metrics_path = t.metrics_path;
    out.static_groups = t.static_groups;
    out.file_sd = t.file_sd;
    out.dns_sd = t.dns_sd;
    for (const auto& r : t.relabel_configs) out.relabel_configs.push_back(r.spec());
    for (const auto& r : t.metric_relabel_configs) out.metric_relabel_configs.push_back(r.spec());
    in.targets.push_back(std::move(out));
  }
  in.extra_rule_files = config.rule_files;
  std::string error;
  if (!watch::rulepack::export_prometheus(in, args.dir, &error)) {
    std::cerr << "firebreak export: " << error << "\n";
    return 1;
  }
  std::cout << "wrote " << args.dir << "/prometheus.yml and " << args.dir
            << "/rules/firebreak.rules.yml (" << config.targets.size() << " targets, "
            << config.rule_files.size() << " extra rule files)\n";
  return 0;
}

int run_export_alertmanager(const ExportArgs& args) {
  const watch::config::LoadResult loaded = watch::config::load_config(args.config);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(args.dir, ec);
  const std::string path = args.dir + "/alertmanager.yml";
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << watch::config::alertmanager_yaml(loaded.config);
  if (!out.flush()) {
    std::cerr << "firebreak export: cannot write " << path << "\n";
    return 1;
  }
  std::cout << "wrote " << path << " (" << loaded.config.receivers.size() << " receivers)\n";
  return 0;
}

}  // namespace

void add_export_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* exp = app.add_subcommand("export", "Write configuration for the scale-out path");
  exp->require_subcommand(1);
  exp->footer(
      "Examples:\n"
      "  firebreak export prometheus --config firebreak.yaml out/\n"
      "  firebreak export alertmanager --config firebreak.yaml out/");
  CLI::App* prom = exp->add_subcommand(
      "prometheus", "Write DIR/prometheus.yml and DIR/rules/ with watch's targets and rule pack");
  prom->add_option("--config", args->config, "watch's configuration file")->required();
  prom->add_option("dir", args->dir, "Output directory (created when missing)")->required();
  prom->footer(
      "Example:\n"
      "  firebreak export prometheus --config firebreak.yaml out/\n"
      "  promtool check config out/prometheus.yml");
  prom->callback([&action, args] { action = [args] { return run_export(*args); }; });
  CLI::App* am = exp->add_subcommand(
      "alertmanager",
      "Write DIR/alertmanager.yml with watch's routing, inhibit rules and receivers");
  am->add_option("--config", args->config, "watch's configuration file")->required();
  am->add_option("dir", args->dir, "Output directory (created when missing)")->required();
  am->footer(
      "Example:\n"
      "  firebreak export alertmanager --config firebreak.yaml out/\n"
      "  amtool check-config out/alertmanager.yml");
  am->callback([&action, args] { action = [args] { return run_export_alertmanager(*args); }; });
}

}  // namespace firebreak::cli
