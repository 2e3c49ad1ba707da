// `firebreak watch`: the monitor, its config check and its rule unit tests.
#include <malloc.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "firebreak/log.h"
#include "firebreak/service.h"
#include "watch/config/config.h"
#include "watch/rules/unit_test_runner.h"
#include "watch/runtime/runtime.h"

namespace firebreak::cli {
namespace {

std::atomic<bool> g_reload{false};

extern "C" void on_sighup(int) {
  g_reload.store(true);
}

void install_sighup() {
  struct sigaction sa {};
  sa.sa_handler = on_sighup;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &sa, nullptr);
}

void log_warnings(const watch::config::LoadResult& loaded) {
  for (const auto& w : loaded.warnings)
    FB_LOG_WARN("config_warning", "a valid but noisy configuration choice",
                {"warning", w.to_string()});
}

// Loads and validates; prints each error on stderr. nullopt on errors.
std::optional<watch::config::Config> load(const std::string& path) {
  watch::config::LoadResult loaded = watch::config::load_config(path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    return std::nullopt;
  }
  log_warnings(loaded);
  return std::move(loaded.config);
}

int check_config(const std::string& path) {
  watch::config::LoadResult loaded = watch::config::load_config(path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    std::cerr << path << ": " << loaded.errors.size() << " error"
              << (loaded.errors.size() == 1 ? "" : "s") << "\n";
    return 1;
  }
  // The rule pack and rule files must also build into groups.
  const watch::runtime::RuleSet rules = watch::runtime::rule_groups(loaded.config);
  if (!rules.errors.empty()) {
    for (const auto& e : rules.errors) std::cerr << e << "\n";
    return 1;
  }
  std::cout << watch::config::summary(loaded.config);
  std::cout << rules.groups.size() << " rule groups\n";
  for (const auto& w : loaded.warnings) std::cout << "warning: " << w.to_string() << "\n";
  std::cout << path << ": ok";
  if (!loaded.warnings.empty())
    std::cout << " (" << loaded.warnings.size() << " warning"
              << (loaded.warnings.size() == 1 ? "" : "s") << ")";
  std::cout << "\n";
  return 0;
}

void reload(watch::runtime::Runtime& runtime, const std::string& path) {
  FB_LOG_INFO("config_reload_started", "", {"config", path});
  watch::config::LoadResult loaded = watch::config::load_config(path);
  std::vector<std::string> errors;
  for (const auto& e : loaded.errors) errors.push_back(e.to_string());
  if (loaded.ok()) {
    log_warnings(loaded);
    errors = runtime.reload(std::move(loaded.config));
  }
  if (errors.empty()) {
    FB_LOG_INFO("config_reloaded", "new configuration applied", {"config", path});
    return;
  }
  std::string all;
  for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
  FB_LOG_ERROR("config_reload_failed", "kept the running configuration", {"config", path},
               {"errors", static_cast<std::int64_t>(errors.size())}, {"error", all});
}

int run_watch(const std::string& path) {
  auto config = load(path);
  if (!config) return 1;
  // A fixed threshold: buffers of a megabyte and more (a scrape's scratch, a
  // query's samples) are mapped and unmapped, so memory they free goes back
  // to the system. glibc's default raises the threshold as such buffers are
  // freed, after which they stay in the heap and RSS stays at its peak.
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
  firebreak::ServiceOptions options{
      .name = "firebreak-watch",
      .version = kVersion,
      .workload = firebreak::Workload::kApi,
      .drain_time = std::chrono::milliseconds(500),
  };
  options.admin.address = config->listen;
  options.admin.max_body_bytes = 16u << 20;  // Pushgateway pushes
  options.admin.threads = 2;
  firebreak::Service service(options);
  std::unique_ptr<watch::runtime::Runtime> runtime;
  try {
    // dns_sd_configs ask the system's resolver; FIREBREAK_DNS_SERVERS
    // ("host:port,host:port") points them at other servers (tests, a
    // resolver watch alone should use).
    std::vector<std::string> dns_servers;
    if (const char* env = std::getenv("FIREBREAK_DNS_SERVERS")) {
      std::string_view list = env;
      while (!list.empty()) {
        const auto comma = list.find(',');
        if (comma != 0) dns_servers.emplace_back(list.substr(0, comma));
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
    }
    runtime = std::make_unique<watch::runtime::Runtime>(
        *config, watch::runtime::RuntimeOptions{.registry = &service.registry(),
                                                .version = kVersion,
                                                .dns_servers = std::move(dns_servers)});
  } catch (const std::exception& e) {
    std::cerr << "firebreak watch: " << e.what() << "\n";
    return 1;
  }
  runtime->add_http(service.admin());
  try {
    service.start();
  } catch (const std::exception& e) {
    std::cerr << "firebreak watch: " << e.what() << "\n";
    return 1;
  }
  install_sighup();
  runtime->start();
  service.mark_started();
  FB_LOG_INFO("listening", "", {"server", "watch"}, {"address", service.admin_address()});
  firebreak::flush_logs();
  while (!service.wait_for_stop(std::chrono::milliseconds(200))) {
    if (g_reload.exchange(false)) reload(*runtime, path);
  }
  runtime->stop();
  return service.wait();
}

struct WatchArgs {
  std::string config;
  std::string check_file;
  std::vector<std::string> test_files;
};

}  // namespace

void add_watch_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<WatchArgs>();
  CLI::App* watch = app.add_subcommand(
      "watch", "Run the monitor: scrape, evaluate the rule pack, deliver alerts, take check-ins");
  watch->add_option("--config", args->config, "Configuration file (see docs/config.md)");
  watch->require_subcommand(0, 1);
  watch->footer(
      "Examples:\n"
      "  firebreak watch --config firebreak.yaml      # run; SIGHUP reloads the file\n"
      "  firebreak watch check-config firebreak.yaml\n"
      "  firebreak watch test-rules tests/*_test.yml");

  // The file as an argument or as --config (as the other subcommands take it).
  CLI::App* check = watch->add_subcommand("check-config", "Validate a configuration file");
  check->add_option("file", args->check_file, "Configuration file");
  check->add_option("--config", args->config, "Configuration file (instead of the argument)");
  check->footer(
      "Exit status: 0 valid (warnings are printed), 1 errors (file:line:column: key: why), "
      "2 usage error.\n"
      "\n"
      "Examples:\n"
      "  firebreak watch check-config firebreak.yaml\n"
      "  firebreak watch check-config --config /etc/firebreak/firebreak.yaml");
  check->callback([&action, args] {
    if (args->check_file.empty() && args->config.empty())
      throw CLI::RequiredError("a configuration file (as an argument or with --config)");
    if (!args->check_file.empty() && !args->config.empty() && args->check_file != args->config)
      throw CLI::ValidationError("check-config",
                                 "two configuration files given (an argument and --config)");
    action = [args] {
      return check_config(args->check_file.empty() ? args->config : args->check_file);
    };
  });

  CLI::App* test =
      watch->add_subcommand("test-rules", "Run rule unit tests in promtool's `test rules` format");
  test->add_option("files", args->test_files, "Test files")->required();
  test->footer(
      "Exit status: 0 every test passed, 1 a test failed or a file is invalid, 2 usage error.\n"
      "\n"
      "Example:\n"
      "  firebreak watch test-rules tests/rules/*_test.yml");
  test->callback([&action, args] {
    action = [args] { return watch::rules::run_rule_unit_tests(args->test_files, std::cout); };
  });

  watch->callback([&action, args, watch] {
    if (!watch->get_subcommands().empty()) return;
    if (args->config.empty()) throw CLI::RequiredError("--config");
    action = [args] { return run_watch(args->config); };
  });
}

}  // namespace firebreak::cli
