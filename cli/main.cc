// firebreak: the operator's binary.
//
//   firebreak watch --config firebreak.yaml          run the monitor
//   firebreak watch check-config firebreak.yaml      validate, exit 0 or 1
//   firebreak watch test-rules tests/*_test.yml      promtool's rule unit tests
//   firebreak export prometheus --config firebreak.yaml DIR
//   firebreak export alertmanager --config firebreak.yaml DIR
//   firebreak alerts                                  firing and pending alerts
//   firebreak silence add service=api --comment "deploy" --duration 1h
//   firebreak version
#include <iostream>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"firebreak: observability for C++ services (and a monitor for any service)"};
  app.require_subcommand(1);
  firebreak::cli::Action action;
  firebreak::cli::add_watch_command(app, action);
  firebreak::cli::add_export_command(app, action);
  firebreak::cli::add_alerting_commands(app, action);
  app.add_subcommand("version", "Print the version")->callback([&] {
    action = [] {
      std::cout << "firebreak " << firebreak::cli::kVersion << "\n";
      return 0;
    };
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return action ? action() : 0;
}
