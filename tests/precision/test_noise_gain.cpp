#include "fxnn/precision/noise_gain.h"

#include <gtest/gtest.h>

#include <map>

#include "fxnn/nn/model_zoo.h"
#include "fxnn/precision/precision_plan.h"

namespace fxnn {
namespace {

data::ImageDataset random_images(int64_t n, int64_t size) {
  torch::manual_seed(11);
  data::ImageDataset d;
  d.images = torch::randint(0, 256, {n, 1, size, size}, torch::kUInt8);
  d.labels = torch::randint(0, 10, {n}, torch::kLong);
  d.num_classes = 10;
  return d;
}

/// Records the activation tensor of every GA point during a forward pass.
class ActivationRecorder : public PointObserver {
 public:
  void on_forward(const QuantPoint& point, const torch::Tensor& value) override { tensors[point.layer()] = value; }
  void on_backward(const QuantPoint&, const torch::Tensor&) override {}
  std::map<std::string, torch::Tensor> tensors;
};

/// The definition of E_T evaluated literally: one sample at a time, one autograd.grad per class.
std::map<std::string, double> brute_force_gains(NetworkImpl& net, const data::ImageDataset& d,
                                                const std::vector<int64_t>& samples) {
  net.eval();
  ActivationRecorder recorder;
  std::vector<QuantPointPtr> ga_points;
  std::map<std::string, bool> has_activation;
  for (auto& p : net.quant_points()) {
    if (p->tensor_class() == TensorClass::kActivationGradient) {
      p->set_observer(&recorder);
      ga_points.push_back(p);
    }
    if (p->tensor_class() == TensorClass::kActivation) has_activation[p->layer()] = true;
  }
  std::map<std::string, double> sums;
  data::LoaderOptions loader;
  loader.augment = false;
  for (int64_t s : samples) {
    const auto batch = data::make_batch(d, {s}, 0, loader);
    recorder.tensors.clear();
    const auto z = net.forward(batch.inputs)[0];
    const int64_t yhat = z.argmax().item<int64_t>();
    for (int64_t i = 0; i < z.size(0); ++i) {
      if (i == yhat) continue;
      const auto margin = z[i] - z[yhat];
      const double weight = 1.0 / (24.0 * margin.item<double>() * margin.item<double>());
      std::vector<torch::Tensor> targets;
      std::vector<std::string> names;
      for (const auto& w : net.weight_quantizations()) {
        targets.push_back(w.weight);
        names.push_back(w.layer + ".W");
        if (has_activation[w.layer]) {
          targets.push_back(recorder.tensors.at(w.layer));
          names.push_back(w.layer + ".A");
        }
      }
      const auto grads = torch::autograd::grad({margin}, targets, {}, /*retain_graph=*/true);
      for (size_t k = 0; k < grads.size(); ++k) sums[names[k]] += weight * grads[k].to(torch::kDouble).pow(2).sum().item<double>();
    }
  }
  for (auto& p : ga_points) p->set_observer(nullptr);
  for (auto& [name, sum] : sums) sum /= static_cast<double>(samples.size());
  return sums;
}

void expect_batched_equals_brute_force(ModelOptions model, int64_t size) {
  const auto data = random_images(12, size);
  torch::manual_seed(2);
  auto net = make_network(model, InputShape{1, size, size, 10});
  clear_precision(*net);
  NoiseGainOptions options;
  options.samples = 10;
  options.batch_size = 4; // uneven last batch
  options.seed = 3;
  options.quiet = true;
  const auto batched = compute_noise_gains(*net, data, options);
  auto order = data::epoch_order(data.size(), options.seed, 0, true);
  order.resize(10);
  const auto brute = brute_force_gains(*net, data, order);
  ASSERT_EQ(batched.size(), brute.size());
  for (const auto& [name, value] : brute) {
    ASSERT_TRUE(batched.count(name)) << name;
    EXPECT_NEAR(batched.at(name), value, 1e-4 * value) << name;
    EXPECT_GT(value, 0) << name;
  }
}

TEST(NoiseGain, BatchedPerSampleGradientsEqualTheDefinitionOnAConvNet) {
  ModelOptions model;
  model.arch = "cnn";
  model.width = 0.125;
  expect_batched_equals_brute_force(model, 8);
}

TEST(NoiseGain, BatchedPerSampleGradientsEqualTheDefinitionOnAnMlp) {
  ModelOptions model;
  model.arch = "mlp";
  model.hidden = {12, 7};
  expect_batched_equals_brute_force(model, 6);
}

} // namespace
} // namespace fxnn
