// fxnn bench train --config C.yaml [--precision PLAN] [--batch 128]
// fxnn bench infer --model OUT [--batch 256] [--config C.yaml]
// fxnn bench quantize [--numel N] [--format s8.7] [--rounding nearest]
// fxnn bench narrow [--bits 3] [--batch 256] [--steps 20]

#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "fxnn/bench/benchmarks.h"
#include "fxnn/core/blas_kernels.h"
#include "fxnn/train/trainer.h"

namespace fxnn::cli {

namespace {

struct BenchTrainArgs {
  std::string config;
  std::string precision = "configs/plans/uniform8.yaml";
  std::vector<std::string> overrides;
  int64_t batch = 128;
  int64_t steps = 20;
  int64_t threads = -1;
};

struct BenchInferArgs {
  BenchInferOptions options;
  int64_t threads = -1;
};

struct BenchQuantizeArgs {
  BenchQuantizeOptions options;
  int64_t threads = -1;
};

/// Prints a benchmark's JSON with the BLAS kernels it ran with (LibTorch's float64 and some float32
/// paths go through them; see docs/performance.md).
void print(nlohmann::ordered_json result) {
  result["blas_kernels"] = blas_core_in_use();
  std::printf("%s\n", result.dump(2).c_str());
}

} // namespace

void add_bench_command(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmarks that print ratios measured in one process (JSON)");
  bench->require_subcommand(1);

  auto train = std::make_shared<BenchTrainArgs>();
  auto* train_cmd = bench->add_subcommand("train", "FL and FX training steps of the same network, alternated");
  train_cmd->add_option("--config", train->config, "Experiment config (YAML)")->required()->check(CLI::ExistingFile);
  train_cmd->add_option("--precision", train->precision, "Precision plan of the FX side")
      ->capture_default_str()
      ->check(CLI::ExistingFile);
  train_cmd->add_option("--batch", train->batch, "Batch size")->capture_default_str();
  train_cmd->add_option("--steps", train->steps, "Timed steps per side")->capture_default_str();
  train_cmd->add_option("--set", train->overrides, "Override a config key (repeatable)");
  train_cmd->add_option("--threads", train->threads, "Threads (default: the config's; 0 = all hardware threads)");
  train_cmd->callback([train] {
    BenchTrainOptions options;
    options.config = ExperimentConfig::load(train->config, train->overrides);
    options.plan = PrecisionPlan::load(train->precision);
    options.batch_size = train->batch;
    options.steps = train->steps;
    configure_threads(train->threads >= 0 ? train->threads : options.config.train.threads);
    print(bench_train(options));
  });

  auto infer = std::make_shared<BenchInferArgs>();
  auto* infer_cmd = bench->add_subcommand(
      "infer", "One network folder run by LibTorch float, LibTorch int8 and the fxnn integer runtime, alternated");
  infer_cmd->add_option("--model", infer->options.model, "Network folder (model.json)")
      ->required()
      ->check(CLI::ExistingDirectory);
  infer_cmd->add_option("--batch", infer->options.batch_size, "Batch size")->capture_default_str();
  infer_cmd->add_option("--steps", infer->options.steps, "Timed batches per side (0: 20, or 2000 at batch 1)")
      ->capture_default_str();
  infer_cmd
      ->add_option("--config", infer->options.config, "Use the test images of this config (default: random pixels)")
      ->check(CLI::ExistingFile);
  infer_cmd
      ->add_option(
          "--isa", infer->options.isa,
          "fxnn kernels: portable (no AVX-512) | avx512vnni | avx512amx | auto ($FXNN_ISA when set, else the best)")
      ->capture_default_str();
  infer_cmd->add_option("--threads", infer->threads, "Threads of all three (0 or absent: all hardware threads)");
  infer_cmd->callback([infer] {
    configure_threads(std::max<int64_t>(infer->threads, 0));
    print(bench_infer(infer->options));
  });

  auto quantize = std::make_shared<BenchQuantizeArgs>();
  auto* quantize_cmd = bench->add_subcommand("quantize", "The fused quantization kernel against a tensor copy");
  quantize_cmd->add_option("--numel", quantize->options.numel, "Elements")->capture_default_str();
  quantize_cmd->add_option("--format", quantize->options.format, "Format")->capture_default_str();
  quantize_cmd->add_option("--rounding", quantize->options.rounding, "nearest | stochastic | floor")
      ->capture_default_str();
  quantize_cmd->add_option("--repeats", quantize->options.repeats, "Timed repetitions")->capture_default_str();
  quantize_cmd->add_option("--threads", quantize->threads, "Threads (0 or absent: all hardware threads)");
  quantize_cmd->callback([quantize] {
    configure_threads(std::max<int64_t>(quantize->threads, 0));
    print(bench_quantize(quantize->options));
  });

  auto narrow = std::make_shared<BenchNarrowOptions>();
  auto* narrow_cmd = bench->add_subcommand(
      "narrow", "The runtime's u8s8 product with 32-bit and 16-bit accumulators on low-bit codes, one thread");
  narrow_cmd->add_option("--bits", narrow->bits, "Bits of the weight and activation codes (2..8)")
      ->capture_default_str()
      ->check(CLI::Range(2, 8));
  narrow_cmd->add_option("--batch", narrow->batch, "Images per product")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  narrow_cmd->add_option("--steps", narrow->steps, "Timed calls per kernel")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  narrow_cmd->add_option("--warmup", narrow->warmup, "Untimed calls per kernel first")->capture_default_str();
  narrow_cmd->callback([narrow] { print(bench_narrow(*narrow)); });
}

} // namespace fxnn::cli
