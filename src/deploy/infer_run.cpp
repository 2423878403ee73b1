#include "fxnn/deploy/infer_run.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "fxnn/config/experiment_config.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/io/npy.h"
#include "fxnn/io/text_table.h"
#include "fxnn/ir/network_files.h"
#include "fxnn/train/trained_run.h"

namespace fxnn {

namespace {

/// Integer codes as .npy in the narrowest dtype that holds them.
void save_codes(const std::string& path, std::vector<int64_t> shape, std::vector<int64_t> values) {
  int64_t lo = 0, hi = 0;
  for (int64_t v : values) lo = std::min(lo, v), hi = std::max(hi, v);
  io::save_npy(path, io::NpyArray{std::move(shape), io::narrowest_npy_dtype(lo, hi), std::move(values)});
}

void save_tensor_codes(const std::string& path, const torch::Tensor& t, std::vector<int64_t> shape) {
  const auto codes = t.to(torch::kLong).contiguous();
  save_codes(path, std::move(shape),
             std::vector<int64_t>(codes.data_ptr<int64_t>(), codes.data_ptr<int64_t>() + codes.numel()));
}

} // namespace

void run_infer(const InferRunOptions& o, std::ostream& out) {
  const ir::Network net = ir::load_network(o.model);
  const auto config = ExperimentConfig::load(o.config, o.overrides);
  const data::ImageDataset test = data::first_samples(data::load_dataset(config.data).test, o.limit);
  InferenceOptions options = o.inference;
  std::optional<TrainedRun> source;
  if (!o.run.empty()) {
    source = load_trained_run(o.run);
    options.source_model = eval_forward(*source->network);
    options.source_transform = source->config.transform;
  }
  const InferenceReport r = run_inference(net, test, options);

  const bool reference = options.engine.reference;
  nlohmann::ordered_json j;
  j["model"] = o.model;
  j["samples"] = r.samples;
  j["accuracy"] = r.accuracy();
  j["runtime"] = reference ? "reference" : "optimized";
  j["runtime_seconds"] = r.runtime_seconds;
  out << format_printf("integer runtime (%s): accuracy %.2f%% on %lld test samples (%.2f s)\n",
                       reference ? "reference kernels" : "optimized kernels", 100.0 * r.accuracy(),
                       static_cast<long long>(r.samples), r.runtime_seconds);
  if (r.prediction_mismatches >= 0) {
    out << format_printf("LibTorch simulation: %lld prediction mismatches, %lld of %lld output codes differ\n",
                         static_cast<long long>(r.prediction_mismatches), static_cast<long long>(r.code_mismatches),
                         static_cast<long long>(r.samples * r.outputs));
    j["prediction_mismatches"] = r.prediction_mismatches;
    j["code_mismatches"] = r.code_mismatches;
  }
  if (r.source_correct >= 0) {
    const double n = static_cast<double>(r.samples);
    out << format_printf(
        "trained LibTorch model (batch norm in float): accuracy %.2f%%, same prediction as the runtime on "
        "%.2f%%\n",
        100.0 * static_cast<double>(r.source_correct) / n, 100.0 * static_cast<double>(r.source_agreement) / n);
    j["source_accuracy"] = static_cast<double>(r.source_correct) / n;
    j["source_agreement"] = static_cast<double>(r.source_agreement) / n;
  }
  out << std::flush;
  if (!o.save_inputs.empty()) save_tensor_codes(o.save_inputs, test.images, test.images.sizes().vec());
  if (!o.save_labels.empty()) save_tensor_codes(o.save_labels, test.labels, {r.samples});
  if (!o.save_output.empty()) save_codes(o.save_output, {r.samples, r.outputs}, r.output_codes);
  if (!o.json.empty()) write_file_atomic(o.json, j.dump(2) + "\n");
  if (r.prediction_mismatches > 0 || r.code_mismatches > 0)
    throw std::runtime_error("the integer runtime disagrees with the LibTorch simulation");
}

} // namespace fxnn
