#include "fxnn/bench/benchmarks.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "fxnn/core/quantize_kernels.h"
#include "fxnn/data/dataset.h"
#include "fxnn/train/train_step.h"
#include "fxnn/train/trainer.h"
#include "timing.h"

namespace fxnn {

using bench_timing::median;
using bench_timing::milliseconds;

nlohmann::ordered_json bench_train(const BenchTrainOptions& options) {
  ExperimentConfig config = options.config;
  config.data.train_limit = std::max<int64_t>(options.batch_size, 1);
  config.data.test_limit = 1;
  const auto data = data::load_dataset(config.data);
  data::LoaderOptions loader;
  loader.batch_size = options.batch_size;
  loader.transform = config.transform;
  loader.seed = config.seed;
  std::vector<int64_t> indices(static_cast<size_t>(std::min(options.batch_size, data.train.size())));
  for (size_t i = 0; i < indices.size(); ++i) indices[i] = static_cast<int64_t>(i);
  const auto batch = data::make_batch(data.train, indices, 1, loader);

  auto fl = build_network(config, std::nullopt);
  auto fx = build_network(config, options.plan);
  auto fl_optimizer = build_optimizer(config, *fl);
  auto fx_optimizer = build_optimizer(config, *fx);
  fl->train();
  fx->train();

  std::vector<double> fl_ms, fx_ms;
  for (int64_t i = 0; i < options.warmup + options.steps; ++i) {
    // Alternating keeps slow drifts of the machine (frequency, other load) out of the ratio.
    const double a = milliseconds([&] { train_step(*fl, *fl_optimizer, batch); });
    const double b = milliseconds([&] { train_step(*fx, *fx_optimizer, batch); });
    if (i >= options.warmup) {
      fl_ms.push_back(a);
      fx_ms.push_back(b);
    }
  }
  nlohmann::ordered_json j;
  j["benchmark"] = "train";
  j["config"] = config.name;
  j["arch"] = config.model.arch;
  j["plan"] = options.plan.source;
  j["batch"] = indices.size();
  j["steps"] = options.steps;
  j["threads"] = torch::get_num_threads();
  j["fl_ms"] = median(fl_ms);
  j["fx_ms"] = median(fx_ms);
  j["ratio"] = median(fx_ms) / median(fl_ms);
  return j;
}

nlohmann::ordered_json bench_quantize(const BenchQuantizeOptions& options) {
  const Format format = Format::parse(options.format);
  const Rounding rounding = parse_rounding(options.rounding);
  torch::manual_seed(0);
  const auto x = torch::randn({options.numel});
  auto y = torch::empty_like(x);
  auto copy = torch::empty_like(x);
  const double bytes = 2.0 * 4.0 * static_cast<double>(options.numel); // one read and one write per element
  std::vector<double> quantize_ms, copy_ms;
  for (int64_t i = 0; i < options.repeats + 1; ++i) {
    const double q = milliseconds([&] { // an auto range costs its max|x| pass too
      const Format resolved = format.auto_range ? format.resolve_auto(max_abs(x.data_ptr<float>(), x.numel())) : format;
      quantize(x.data_ptr<float>(), y.data_ptr<float>(), x.numel(), resolved, rounding, static_cast<uint64_t>(i));
    });
    const double c = milliseconds([&] { copy.copy_(x); });
    if (i > 0) { // the first round pays for page faults of the fresh outputs
      quantize_ms.push_back(q);
      copy_ms.push_back(c);
    }
  }
  const double quantize_gbps = bytes / (median(quantize_ms) * 1e-3) / 1e9;
  const double copy_gbps = bytes / (median(copy_ms) * 1e-3) / 1e9;
  nlohmann::ordered_json j;
  j["benchmark"] = "quantize";
  j["numel"] = options.numel;
  j["format"] = format.str();
  j["rounding"] = to_string(rounding);
  j["threads"] = torch::get_num_threads();
  j["quantize_ms"] = median(quantize_ms);
  j["copy_ms"] = median(copy_ms);
  j["quantize_gbps"] = quantize_gbps;
  j["copy_gbps"] = copy_gbps;
  j["ratio"] = quantize_gbps / copy_gbps;
  return j;
}

} // namespace fxnn
