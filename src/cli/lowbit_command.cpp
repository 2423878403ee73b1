// fxnn lowbit --checkpoint FLOAT_CKPT | --onnx FLOAT.onnx --config C.yaml --mode float-scale|shift-clip --bits B
//             [--steps mse|maxabs] [--granularity layer|channel] [--calib N] [--input-bits N]
//             [--rounding nearest|floor] [--limit N] [--json FILE] --out OUT
//             [--finetune EPOCHS [--finetune-lr LR] [--finetune-momentum M] [--finetune-learn-steps] [--seed N]
//             [--finetune-run DIR] [--resume]]

#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>

#include "commands.h"
#include "fxnn/deploy/lowbit_run.h"
#include "fxnn/train/trainer.h"

namespace fxnn::cli {

namespace {

struct LowbitArgs {
  std::string checkpoint, onnx, config, out, json;
  std::string mode, steps = "mse", granularity = "layer", rounding = "nearest", correction = "bias";
  int bits = 0, input_bits = 8, edge_bits = 0;
  int64_t calib = 1000, limit = 0, batch = 256, threads = 0;
  int64_t finetune = 0;
  double finetune_lr = 0.03;
  double finetune_momentum = 0;
  std::optional<uint64_t> seed;
  bool finetune_learn_steps = false;
  std::string finetune_run; // default: OUT.finetune
  bool resume = false;
  bool quiet = false;
  bool force = false;
};

lowbit::LowbitOptions options_of(const LowbitArgs& a) {
  if (a.mode.empty()) throw std::invalid_argument("lowbit: give --mode float-scale or --mode shift-clip");
  lowbit::LowbitOptions o;
  o.with_mode(lowbit::parse_lowbit_mode(a.mode))
      .with_bits(a.bits)
      .with_input_bits(a.input_bits)
      .with_edge_bits(a.edge_bits)
      .with_steps(lowbit::parse_step_rule(a.steps))
      .with_granularity(lowbit::parse_granularity(a.granularity))
      .with_calibration_images(a.calib)
      .with_rounding(parse_rounding(a.rounding))
      .with_correction(lowbit::parse_correction(a.correction));
  return o;
}

void run_lowbit(const LowbitArgs& a) {
  lowbit::LowbitRunOptions o;
  o.conversion = options_of(a);
  o.checkpoint = a.checkpoint;
  o.onnx = a.onnx;
  o.config = a.config;
  o.out = a.out;
  o.json = a.json;
  o.limit = a.limit;
  o.batch = a.batch;
  o.quiet = a.quiet;
  o.force = a.force;
  o.finetune.epochs = a.finetune;
  o.finetune.lr = a.finetune_lr;
  o.finetune.momentum = a.finetune_momentum;
  o.finetune.seed = a.seed;
  o.finetune.learn_steps = a.finetune_learn_steps;
  o.finetune.run_dir = a.finetune_run.empty() ? a.out + ".finetune" : a.finetune_run;
  o.finetune.resume = a.resume;
  o.finetune.quiet = a.quiet;
  configure_threads(a.threads); // LibTorch's calibration and simulation, and the integer runtime
  lowbit::run_lowbit(o, std::cout);
}

} // namespace

void add_lowbit_command(CLI::App& app) {
  auto a = std::make_shared<LowbitArgs>();
  auto* cmd =
      app.add_subcommand("lowbit",
                         "Float-trained network (fxnn checkpoint or ONNX) -> low-bit integer network folder (2-8 bits; "
                         "float-scale or shift-clip), with its accuracy next to the float one");
  auto* checkpoint = cmd->add_option("--checkpoint", a->checkpoint, "checkpoint.pt of a float run");
  auto* onnx = cmd->add_option("--onnx", a->onnx,
                               "A float CNN or MLP in ONNX (Conv, Gemm/MatMul, Add, BatchNormalization, Relu, Clip, "
                               "MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape)");
  checkpoint->excludes(onnx);
  onnx->excludes(checkpoint);
  cmd->add_option("--config", a->config,
                  "Experiment config of the checkpoint (with --onnx: the data set and its normalization)")
      ->required();
  cmd->add_option("--mode", a->mode, "float-scale | shift-clip")->required();
  cmd->add_option("--bits", a->bits, "Bits of weight and activation codes (2..8)")->required();
  cmd->add_option("--steps", a->steps, "Step rule: mse | maxabs")->capture_default_str();
  cmd->add_option("--granularity", a->granularity, "Steps per layer or per output channel: layer | channel")
      ->capture_default_str();
  cmd->add_option("--calib", a->calib, "Calibration images (from the training set)")->capture_default_str();
  cmd->add_option("--input-bits", a->input_bits, "Bits of the normalized input codes (2..8)")->capture_default_str();
  cmd->add_option("--edge-bits", a->edge_bits, "Bits of the first and the last layer's weights (default: --bits)");
  cmd->add_option("--rounding", a->rounding, "Shifts: nearest | floor (truncation)")->capture_default_str();
  cmd->add_option("--correction", a->correction, "Fit on the calibration images: none | bias | affine (float-scale)")
      ->capture_default_str();
  add_limit_option(cmd, a->limit);
  cmd->add_option("--batch", a->batch, "Samples per batch of the evaluation")->capture_default_str();
  cmd->add_option("--threads", a->threads, "Threads (0: all hardware threads)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--json", a->json, "Write the results as JSON");
  cmd->add_flag("--quiet", a->quiet, "No progress line");
  cmd->add_option("--out", a->out, "Output folder (model.json, .npy, model.h)")->required();
  cmd->add_option("--finetune", a->finetune,
                  "Train EPOCHS epochs on the integer network's grids before converting (docs/lowbit.md section 7)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--finetune-lr", a->finetune_lr, "Learning rate of the fine-tuning (its last epoch: a tenth)")
      ->capture_default_str();
  cmd->add_option("--finetune-momentum", a->finetune_momentum, "SGD momentum of the fine-tuning (0: plain SGD)")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the fine-tuning run (default: the float run's config)");
  cmd->add_flag(
      "--finetune-learn-steps", a->finetune_learn_steps,
      "float-scale: learn the steps in training (LSQ, docs/lowbit.md eq. (11)) instead of keeping the converter's");
  cmd->add_option("--finetune-run", a->finetune_run, "Run directory of the fine-tuning (default: OUT.finetune)");
  cmd->add_flag("--resume", a->resume, "Continue the fine-tuning run from its last checkpoint");
  cmd->add_flag("--force", a->force,
                "Replace a fixed-point network folder already at --out (anything else is refused)");
  cmd->callback([a] { run_lowbit(*a); });
}

} // namespace fxnn::cli
