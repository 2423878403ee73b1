// fxnn synth --model FILE (--input-box "lo:hi,..." | --benchmarks YAML --benchmark NAME) --error EPS
//            --method lp|milp|aster [--rounding floor|nearest] [--ranges interval|symbolic] [--partition N] [--threads
//            T] [--word W]
//            [--acc A] [--emit-c DIR --name NAME] [--emit-hls DIR] [--out DIR]
//            [--validate N] [--attack N] [--json REPORT]

#include <iostream>
#include <memory>

#include "commands.h"
#include "fxnn/deploy/checkpoint_mlp_import.h"
#include "fxnn/synth/synth_run.h"

namespace fxnn::cli {

namespace {

struct SynthArgs {
  synth::SynthRunOptions options;
  double eps = 0.0;
  std::string method = "lp";
  std::string rounding;
  std::string ranges = "symbolic";
  std::string input_box;
};

} // namespace

void add_synth_command(CLI::App& app) {
  auto args = std::make_shared<SynthArgs>();
  auto* cmd = app.add_subcommand("synth", "Sound fixed-point synthesis of a trained network (docs/synthesis.md)");
  auto& o = args->options;
  cmd->add_option("--model", o.model, ".nnet, .onnx, or an fxnn MLP run directory / checkpoint.pt");
  auto* box = cmd->add_option("--input-box", args->input_box, "Input box \"lo:hi,lo:hi,...\"");
  cmd->add_option("--benchmarks", o.benchmarks, "Benchmark suite (YAML), with --benchmark");
  cmd->add_option("--benchmark", o.benchmark, "Benchmark name in the suite (box, eps and model)");
  auto* error = cmd->add_option("--error", args->eps, "Absolute error bound eps of every output");
  cmd->add_option("--method", args->method, "lp | milp | aster (aster: Aster's unsound formulation, a baseline)")
      ->capture_default_str();
  cmd->add_option("--rounding", args->rounding, "nearest | floor (default: nearest; floor for aster)");
  cmd->add_option("--ranges", args->ranges, "symbolic (zonotopes met with intervals) | interval")
      ->capture_default_str();
  cmd->add_option("--partition", o.synthesis.partition,
                  "Cut the input box into at most N parts for the error analysis (docs/synthesis.md section 5.1; "
                  "0: 256 for networks of up to about 200 neurons and 10 inputs, fewer for larger ones, more for more "
                  "inputs)")
      ->capture_default_str();
  cmd->add_option("--threads", o.synthesis.threads,
                  "Threads of the per-part error analyses (0: all hardware threads; the result does not depend on it)")
      ->capture_default_str();
  cmd->add_option("--word", o.synthesis.word, "Word size W of inputs, weights and stored values (<= 32)")
      ->capture_default_str();
  cmd->add_option("--acc", o.synthesis.acc, "Accumulator size A (<= 64)")->capture_default_str();
  cmd->add_option("--time-limit", o.synthesis.time_limit, "Seconds per solver call")->capture_default_str();
  cmd->add_option("--emit-c", o.emit_c_dir, "Write DIR/NAME.c and DIR/NAME.h");
  cmd->add_option("--emit-hls", o.emit_hls_dir, "Write DIR/NAME_hls.cpp and DIR/NAME_hls.h (ap_fixed)");
  cmd->add_option("--out", o.out_dir,
                  "Write the fixed-point network (model.json, .npy, model.h) to DIR; lp then stores each tensor "
                  "at one format");
  cmd->add_flag("--force", o.force, "Replace a fixed-point network folder already at --out (anything else is refused)");
  cmd->add_option("--name", o.name, "Name of the generated functions and of the network")->capture_default_str();
  cmd->add_option("--validate", o.validate, "Compile and run the C on N random inputs plus corners and centre");
  cmd->add_option("--attack", o.attack,
                  "With --validate: evaluations of the local search for an input breaking the bound (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed of the validation inputs")->capture_default_str();
  cmd->add_option("--json", o.json, "Write the JSON report here");
  cmd->callback([args, error, box] {
    auto& o = args->options;
    if (*error) o.eps = args->eps;
    if (*box) o.input_box = args->input_box; // an empty box that was given is an error, not an absent box
    o.synthesis.method = synth::parse_method(args->method);
    if (!args->rounding.empty()) o.synthesis.rounding = parse_rounding(args->rounding);
    o.synthesis.ranges = synth::parse_range_mode(args->ranges);
    const synth::ResolvedProblem problem = synth::resolve_problem(o);
    const floatnet::FloatNetwork net = load_float_network(problem.model);
    problem.box.check_dimension(net.inputs(), problem.model);
    synth::run_synthesis(net, problem, o, std::cout);
  });
}

} // namespace fxnn::cli
