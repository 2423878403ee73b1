#include <torch/torch.h>

#include <algorithm>

#include "fxnn/bench/benchmarks.h"
#include "fxnn/bench/torch_peers.h"
#include "fxnn/config/experiment_config.h"
#include "fxnn/data/dataset.h"
#include "fxnn/deploy/inference.h"
#include "fxnn/ir/network_files.h"
#include "fxnn/runtime/engine.h"
#include "timing.h"

namespace fxnn {

namespace {

using bench_timing::median;
using bench_timing::milliseconds;
using bench_timing::percentile;

/// Median and 99th percentile of one side's call times, in milliseconds.
nlohmann::ordered_json latency(const std::vector<double>& ms) {
  return {{"median_ms", median(ms)}, {"p99_ms", percentile(ms, 0.99)}, {"calls", ms.size()}};
}

torch::Tensor benchmark_pixels(const ir::Network& net, const BenchInferOptions& o) {
  if (!o.config.empty()) {
    const auto test = data::load_dataset(ExperimentConfig::load(o.config).data).test;
    const int64_t n = std::min(o.batch_size, test.size());
    auto images = test.images.narrow(0, 0, n);
    if (n < o.batch_size) images = images.repeat({(o.batch_size + n - 1) / n, 1, 1, 1}).narrow(0, 0, o.batch_size);
    return images.contiguous();
  }
  std::vector<int64_t> shape{o.batch_size};
  shape.insert(shape.end(), net.input_shape.begin(), net.input_shape.end());
  torch::manual_seed(1);
  return torch::randint(0, 256, shape, torch::kUInt8);
}

double agreement(const torch::Tensor& logits, const std::vector<int64_t>& predictions) {
  return logits.argmax(1).eq(torch::tensor(predictions, torch::kLong)).to(torch::kDouble).mean().item<double>();
}

} // namespace

nlohmann::ordered_json bench_infer(const BenchInferOptions& o) {
  const ir::Network net = ir::load_network(o.model);
  const torch::Tensor pixels = benchmark_pixels(net, o);
  const runtime::Codes input = image_input_codes(net, pixels);
  // Batch 1 is a latency measurement: enough calls for a 99th percentile.
  const int64_t steps = o.steps > 0 ? o.steps : (o.batch_size == 1 ? 2000 : 20);
  const int64_t warmup = o.batch_size == 1 ? std::max<int64_t>(o.warmup, 50) : o.warmup;
  runtime::Engine engine(
      net, runtime::EngineOptions().with_isa(runtime::parse_isa(o.isa)).with_threads(at::get_num_threads()));
  const TorchFloatNetwork float_nchw(net, false), float_nhwc(net, true);
  const TorchInt8Network int8(net, pixels);

  // The engine writes into the same output every call: after the first, it allocates nothing.
  runtime::Codes output;
  engine.run(input, output);
  const auto predictions = runtime::argmax_rows(output);
  std::vector<double> nchw_ms, nhwc_ms, int8_ms, fxnn_ms;
  for (int64_t step = 0; step < warmup + steps; ++step) {
    const bool timed = step >= warmup;
    const double a = milliseconds([&] { float_nchw.forward(pixels); });
    const double a2 = milliseconds([&] { float_nhwc.forward(pixels); });
    const double b = milliseconds([&] { int8.forward(pixels); });
    const double c = milliseconds([&] { engine.run(input, output); });
    if (timed) nchw_ms.push_back(a), nhwc_ms.push_back(a2), int8_ms.push_back(b), fxnn_ms.push_back(c);
  }
  runtime::Engine profiled(net, runtime::EngineOptions()
                                    .with_isa(runtime::parse_isa(o.isa))
                                    .with_threads(at::get_num_threads())
                                    .with_profile(true));
  for (int64_t step = 0; step < std::min<int64_t>(steps, 200); ++step) profiled.run(input, output);

  const double float_ms = std::min(median(nchw_ms), median(nhwc_ms));
  const double images = static_cast<double>(o.batch_size);
  nlohmann::ordered_json j;
  j["model"] = o.model;
  j["batch"] = o.batch_size;
  j["threads"] = at::get_num_threads();
  j["steps"] = steps;
  j["float_ms"] = float_ms;
  j["float_layout"] = median(nchw_ms) <= median(nhwc_ms) ? "nchw" : "channels_last";
  j["float_nchw_ms"] = median(nchw_ms);
  j["float_channels_last_ms"] = median(nhwc_ms);
  j["int8_ms"] = median(int8_ms);
  j["int8_engine"] = TorchInt8Network::engine();
  j["fxnn_ms"] = median(fxnn_ms);
  j["fxnn_isa"] = runtime::to_string(engine.isa());
  j["float_images_per_s"] = images / float_ms * 1e3;
  j["int8_images_per_s"] = images / median(int8_ms) * 1e3;
  j["fxnn_images_per_s"] = images / median(fxnn_ms) * 1e3;
  j["fxnn_over_float"] = float_ms / median(fxnn_ms);
  j["fxnn_over_int8"] = median(int8_ms) / median(fxnn_ms);
  j["int8_over_float"] = float_ms / median(int8_ms);
  // Per-call times of each side (the float side in its faster layout): at batch 1, the latency.
  j["latency"] = {{"float", latency(median(nchw_ms) <= median(nhwc_ms) ? nchw_ms : nhwc_ms)},
                  {"int8", latency(int8_ms)},
                  {"fxnn", latency(fxnn_ms)}};
  // Sanity: the three compute the same network (float and int8 round differently from fxnn).
  j["float_agrees_with_fxnn"] = agreement(float_nchw.forward(pixels), predictions);
  j["int8_agrees_with_fxnn"] = agreement(int8.forward(pixels), predictions);
  auto profile = nlohmann::ordered_json::array();
  double total = 0;
  for (const auto& p : profiled.profile()) total += p.seconds;
  for (const auto& p : profiled.profile())
    profile.push_back({{"node", p.node},
                       {"kernel", p.kernel},
                       {"ms", p.seconds * 1e3 / static_cast<double>(std::max<int64_t>(1, p.calls))},
                       {"share", total > 0 ? p.seconds / total : 0.0}});
  j["fxnn_profile"] = profile;
  return j;
}

} // namespace fxnn
