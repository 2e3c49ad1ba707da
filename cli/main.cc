// firebreak: the operator's binary.
//
//   firebreak watch --config firebreak.yaml          run the monitor
//   firebreak watch check-config firebreak.yaml      validate, exit 0 or 1
//   firebreak watch test-rules tests/*_test.yml      promtool's rule unit tests
//   firebreak export prometheus --config firebreak.yaml DIR
//   firebreak export alertmanager --config firebreak.yaml DIR
//   firebreak status                                  targets, alerts, jobs; exit 1 when paging
//   firebreak alerts                                  firing and pending alerts
//   firebreak silence add service=api --comment "deploy" --duration 1h
//   firebreak demo [--break NAME]                     the shop and watch; break things
//   firebreak version, firebreak --version
//
// Usage errors (an unknown option, a missing argument) print the
// subcommand's usage on stderr and exit 2.
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace {

constexpr int kUsageError = 2;

// The error, then the usage of the (sub)command it was made in.
std::string usage_error(const CLI::App* app, const CLI::Error& e) {
  std::string message = e.what();
  // CLI11 reports a misspelt subcommand as a missing one.
  const std::vector<std::string> rest = app->remaining(true);
  if (e.get_name() == "RequiredError" && message == "A subcommand is required" && !rest.empty())
    message = "unknown subcommand \"" + rest.front() + "\"";
  return "firebreak: " + message + "\n\n" + app->help();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"firebreak: observability for C++ services (and a monitor for any service)",
               "firebreak"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("firebreak ") + firebreak::cli::kVersion,
                       "Print the version and exit");
  app.failure_message(usage_error);
  app.footer(
      "Examples:\n"
      "  firebreak watch --config firebreak.yaml\n"
      "  firebreak watch check-config --config firebreak.yaml\n"
      "  firebreak status\n"
      "  firebreak export prometheus --config firebreak.yaml out/\n"
      "  firebreak demo\n"
      "Run `firebreak SUBCOMMAND --help` for a subcommand's options.");
  firebreak::cli::Action action;
  firebreak::cli::add_watch_command(app, action);
  firebreak::cli::add_export_command(app, action);
  firebreak::cli::add_status_command(app, action);
  firebreak::cli::add_alerting_commands(app, action);
  firebreak::cli::add_demo_command(app, action);
  app.add_subcommand("version", "Print the version")
      ->footer("Example:\n  firebreak version   # the same as firebreak --version")
      ->callback([&] {
        action = [] {
          std::cout << "firebreak " << firebreak::cli::kVersion << "\n";
          return 0;
        };
      });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);  // --help and --version: 0
    return status == 0 ? 0 : kUsageError;
  }
  return action ? action() : 0;
}
