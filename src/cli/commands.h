#pragma once
// The subcommands of `fxnn`: each registers its options on the app and runs the library.

#include <CLI/CLI.hpp>

namespace fxnn::cli {

void add_train_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_precision_commands(CLI::App& app); // probe, assign, run, report, sweep, cost
void add_data_command(CLI::App& app);       // make-data
void add_inspect_command(CLI::App& app);    // inspect
void add_launch_command(CLI::App& app);     // launch
void add_synth_command(CLI::App& app);      // synth
void add_deploy_commands(CLI::App& app);    // export, infer
void add_lowbit_command(CLI::App& app);     // lowbit
void add_codegen_command(CLI::App& app);    // codegen

} // namespace fxnn::cli
