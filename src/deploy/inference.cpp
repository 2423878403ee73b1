#include "fxnn/deploy/inference.h"

#include <chrono>
#include <cstdio>
#include <stdexcept>

#include "fxnn/deploy/torch_simulation.h"

namespace fxnn {

runtime::Codes image_input_codes(const ir::Network& network, const torch::Tensor& images) {
  if (network.input_format != Format(8, 0, false))
    throw std::runtime_error("network '" + network.name + "' takes input codes of format " +
                             network.input_format.str() + ", not raw u8.0 pixels");
  const auto pixels = images.to(torch::kUInt8).contiguous();
  return runtime::Codes::from_values(network.input_format, pixels.sizes().vec(), pixels.data_ptr<uint8_t>());
}

std::function<torch::Tensor(const torch::Tensor&)> eval_forward(NetworkImpl& network) {
  network.eval();
  return [&network](const torch::Tensor& x) { return network.forward(x); };
}

InferenceReport run_inference(const ir::Network& network, const data::ImageDataset& dataset,
                              const InferenceOptions& options) {
  runtime::Engine engine(network, options.engine);
  InferenceReport report;
  report.samples = dataset.size();
  const auto labels = dataset.labels.contiguous();
  data::LoaderOptions source_loader;
  source_loader.shuffle = false;
  source_loader.augment = false;
  source_loader.transform = options.source_transform;
  for (int64_t start = 0; start < report.samples; start += options.batch_size) {
    const int64_t count = std::min(options.batch_size, report.samples - start);
    const auto images = dataset.images.narrow(0, start, count);
    const auto t0 = std::chrono::steady_clock::now();
    const runtime::Codes out = engine.run(image_input_codes(network, images));
    report.runtime_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto predicted = runtime::argmax_rows(out);
    const auto codes = out.to_int64();
    report.outputs = count ? out.numel() / count : 0;
    for (int64_t i = 0; i < count; ++i) {
      report.correct += predicted[static_cast<size_t>(i)] == labels[start + i].item<int64_t>();
      report.predictions.push_back(predicted[static_cast<size_t>(i)]);
    }
    report.output_codes.insert(report.output_codes.end(), codes.begin(), codes.end());
    if (options.check) {
      if (report.code_mismatches < 0) report.code_mismatches = report.prediction_mismatches = 0;
      const auto sim = simulate_network(network, image_codes(images)).reshape({count, -1}).contiguous();
      const auto sim_pred = sim.argmax(1);
      const auto mine = torch::tensor(codes, torch::kLong).reshape({count, -1});
      report.code_mismatches += sim.ne(mine).sum().item<int64_t>();
      report.prediction_mismatches += sim_pred.ne(torch::tensor(predicted, torch::kLong)).sum().item<int64_t>();
    }
    if (options.source_model) {
      if (report.source_correct < 0) report.source_correct = report.source_agreement = 0;
      torch::NoGradGuard no_grad;
      std::vector<int64_t> indices(static_cast<size_t>(count));
      for (int64_t i = 0; i < count; ++i) indices[static_cast<size_t>(i)] = start + i;
      const auto batch = data::make_batch(dataset, indices, 0, source_loader);
      const auto source_pred = options.source_model(batch.inputs).argmax(1);
      report.source_correct += source_pred.eq(batch.labels).sum().item<int64_t>();
      report.source_agreement += source_pred.eq(torch::tensor(predicted, torch::kLong)).sum().item<int64_t>();
    }
    if (!options.quiet)
      std::fprintf(stderr, "\r  %lld / %lld samples", static_cast<long long>(start + count),
                   static_cast<long long>(report.samples));
  }
  if (!options.quiet) std::fprintf(stderr, "\n");
  return report;
}

} // namespace fxnn
