// The `firebreak` CLI's subcommands. Each registers its options on the
// parent CLI11 app and returns the process exit status when run.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace firebreak::cli {

// A subcommand's action, run after parsing; returns the exit status.
using Action = std::function<int()>;

// `firebreak watch --config FILE`, `firebreak watch check-config FILE`,
// `firebreak watch test-rules FILE...`.
void add_watch_command(CLI::App& app, Action& action);

// `firebreak export prometheus|alertmanager --config FILE DIR`.
void add_export_command(CLI::App& app, Action& action);

// `firebreak status [--url URL] [--color auto|always|never]`.
void add_status_command(CLI::App& app, Action& action);

// `firebreak alerts [--url URL] [MATCHER...]`,
// `firebreak silence add|query|expire ...` against a running watch.
void add_alerting_commands(CLI::App& app, Action& action);

// `firebreak demo [--break NAME] [--heal] [--rate N] ...`: the reference shop
// and watch on it at demo scale, with faults to break on purpose.
void add_demo_command(CLI::App& app, Action& action);

inline constexpr const char* kVersion = FIREBREAK_VERSION;

}  // namespace firebreak::cli
