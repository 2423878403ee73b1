#pragma once
// The subcommands of `fxnn`: each registers its options on the app and runs the library.

#include <CLI/CLI.hpp>

#include <cstdint>

namespace fxnn::cli {

void add_train_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_precision_commands(CLI::App& app);  // probe, assign, run, report, sweep, cost
void add_data_command(CLI::App& app);        // make-data
void add_inspect_command(CLI::App& app);     // inspect
void add_launch_command(CLI::App& app);      // launch
void add_synth_command(CLI::App& app);       // synth
void add_deploy_commands(CLI::App& app);     // export, infer
void add_lowbit_command(CLI::App& app);      // lowbit
void add_codegen_command(CLI::App& app);     // codegen
void add_onnx_export_command(CLI::App& app); // export-onnx

/// --limit N of the commands that evaluate a network on a test split (data::first_samples).
inline CLI::Option* add_limit_option(CLI::App* command, int64_t& limit) {
  return command->add_option("--limit", limit, "Only the first N test samples");
}

} // namespace fxnn::cli
