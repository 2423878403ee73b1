// The feedforward bound of eq. (1) of docs/precision-assignment.md holds as measured: on a trained
// network, quantizing every weight and activation to B bits changes the prediction of at most
// p_m <= sum_T Delta_T^2 E_T of the test samples.

#include <gtest/gtest.h>

#include <cmath>

#include "../support/fixtures.h"
#include "../support/temp_dir.h"
#include "fxnn/autograd/tensor_quantizer.h"
#include "fxnn/nn/precision_plan.h"
#include "fxnn/precision/noise_gain.h"
#include "fxnn/train/trainer.h"

namespace fxnn {
namespace {

torch::Tensor predictions(NetworkImpl& net, const data::ImageDataset& test, const data::TransformOptions& transform) {
  torch::NoGradGuard no_grad;
  net.eval();
  data::LoaderOptions loader;
  loader.augment = false;
  loader.transform = transform;
  std::vector<int64_t> all(static_cast<size_t>(test.size()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  return net.forward(data::make_batch(test, all, 0, loader).inputs).argmax(1);
}

TEST(MismatchBound, MeasuredMismatchRateIsBelowTheBound) {
  if (!testing_support::have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  testing_support::TempDir tmp;
  TrainerOptions o;
  o.config = ExperimentConfig::parse("name: tiny\nseed: 4\n", "tiny.yaml",
                                     {"data.train_limit=3000", "data.test_limit=3000", "model.arch=mlp",
                                      "model.hidden=[48]", "train.batch_size=100", "train.epochs=2"});
  o.out_dir = tmp / "run";
  o.quiet = true;
  Trainer trainer(o);
  trainer.run();
  NetworkImpl& net = trainer.network();
  const auto& transform = o.config.transform;

  // E_T over the very samples whose predictions are compared: the bound is then a statement about
  // them, not an estimate from another sample (near-ties, which dominate both, differ between samples).
  const auto& test = trainer.data().test;
  NoiseGainOptions options;
  options.samples = test.size();
  options.transform = transform;
  options.quiet = true;
  const auto gains = compute_noise_gains(net, test, options);
  const auto reference = predictions(net, test, transform);

  std::vector<torch::Tensor> float_weights;
  for (const auto& w : net.weight_quantizations()) float_weights.push_back(w.weight.detach().clone());
  double worst_ratio = 0;
  // Below 8 bits the weights' fixed range [-1, 1) rounds most of this network's small weights to zero;
  // from 12 bits on the bound is below 1, so it says something.
  for (int bits : {8, 9, 10, 12, 16, 20}) {
    // Weights in [-1, 1) (the weight clip) and activations in [0, 2) (the clipped ReLU), step 2^-(B-1).
    const double step = std::ldexp(1.0, -(bits - 1));
    const auto plan = PrecisionPlan::parse(
        "defaults:\n  A: u" + std::to_string(bits) + "." + std::to_string(bits - 1) + "\n", "plan.yaml");
    plan.apply(net);
    {
      torch::NoGradGuard no_grad;
      const auto ws = net.weight_quantizations();
      for (size_t i = 0; i < ws.size(); ++i)
        ws[i].weight.copy_(quantize_tensor(float_weights[i], {Format(bits, bits - 1, true)}, 0).values);
    }
    double bound = 0;
    for (const auto& [name, e] : gains) bound += step * step * e;
    const double measured = predictions(net, test, transform).ne(reference).to(torch::kDouble).mean().item<double>();
    if (bits >= 12) EXPECT_LT(bound, 1.0) << bits << " bits";
    EXPECT_LE(measured, bound) << bits << " bits";
    if (bits == 8) EXPECT_GT(measured, 0.0) << "8-bit quantization should change some predictions";
    worst_ratio = std::max(worst_ratio, measured / bound);
    RecordProperty("bits_" + std::to_string(bits), std::to_string(measured) + " <= " + std::to_string(bound));
  }
  RecordProperty("worst_measured_over_bound", std::to_string(worst_ratio));
}

} // namespace
} // namespace fxnn
