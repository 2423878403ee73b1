#pragma once
// Benchmarks that print ratios measured in one process (never timed tests).

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "fxnn/config/experiment_config.h"
#include "fxnn/nn/precision_plan.h"

namespace fxnn {

struct BenchTrainOptions {
  ExperimentConfig config;
  PrecisionPlan plan; // the FX side
  int64_t batch_size = 128;
  int64_t steps = 20; // timed steps per side
  int64_t warmup = 3; // untimed steps per side first
};

/// Alternates FL and FX training steps of the same network on the same real batch and reports the
/// median step times: {"fl_ms", "fx_ms", "ratio" = fx/fl, ...}.
nlohmann::ordered_json bench_train(const BenchTrainOptions& options);

struct BenchQuantizeOptions {
  int64_t numel = 16777216;
  std::string format = "s8.7";
  std::string rounding = "nearest";
  int64_t repeats = 20;
};

/// The fused quantization kernel against a plain tensor copy of the same size, both reading and writing
/// 4 bytes per element: {"quantize_gbps", "copy_gbps", "ratio" = quantize/copy, ...}.
nlohmann::ordered_json bench_quantize(const BenchQuantizeOptions& options);

struct BenchInferOptions {
  std::string model; // network folder (model.json)
  int64_t batch_size = 256;
  int64_t steps = 0;        // timed batches per side (0: 20, or 2000 at batch 1)
  int64_t warmup = 3;       // untimed batches per side first (at least 50 at batch 1)
  std::string config;       // optional: real test images of this config instead of random pixels
  std::string isa = "auto"; // portable | avx512vnni | auto (auto: $FXNN_ISA when set, else the best)
};

/// The same network and batch run, alternately, by (a) LibTorch float (the faster of NCHW and
/// channels-last), (b) LibTorch's int8 quantized operators and (c) the fxnn integer runtime, in one
/// process with the same threads: {"float_images_per_s", "int8_images_per_s", "fxnn_images_per_s",
/// "fxnn_over_float", "fxnn_over_int8" (ratios of median call times), "latency": per side the median
/// and 99th percentile of the call times, "profile": per node of (c), ...}. The runtime runs
/// Engine::run(input, output) into the same output each call (its latency mode: no allocation).
nlohmann::ordered_json bench_infer(const BenchInferOptions& options);

struct BenchNarrowOptions {
  int bits = 3;        // B of the weight and activation codes (2..8)
  int64_t batch = 256; // images per product
  int64_t steps = 20;  // timed calls per kernel
  int64_t warmup = 3;  // untimed calls per kernel first
  uint64_t seed = 1;
};

/// The u8s8 product of the runtime with 32-bit and with 16-bit accumulators (docs/lowbit.md,
/// section 6), in the portable and the VNNI packing, on the GEMM shapes of the Fashion-MNIST
/// networks with random B-bit codes, alternated on one thread: per shape {"kernels": [{"kernel",
/// "gmacs"}], "narrow_over_wide_<packing>" = 32-bit time / 16-bit time, "outputs_equal"}; a shape whose
/// bound k q_hi(w) q_hi(a) exceeds 16 bits is listed with "narrow": false and not timed.
nlohmann::ordered_json bench_narrow(const BenchNarrowOptions& options);

} // namespace fxnn
