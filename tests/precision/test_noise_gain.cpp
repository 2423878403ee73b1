#include "fxnn/precision/noise_gain.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <stdexcept>

#include "fxnn/nn/layers.h"
#include "fxnn/nn/model_zoo.h"
#include "fxnn/nn/precision_plan.h"

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
      for (size_t k = 0; k < grads.size(); ++k)
        sums[names[k]] += weight * grads[k].to(torch::kDouble).pow(2).sum().item<double>();
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

// ---- E_T against finite differences: the margins' derivatives by central differences of a double
// ---- copy of the network, one weight or activation element at a time.

/// Runs the body's modules [first, last) on x.
torch::Tensor run_modules(NetworkImpl& net, const torch::Tensor& x, size_t first, size_t last) {
  torch::Tensor y = x;
  size_t i = 0;
  for (auto& module : *net.body) {
    if (i >= first && i < last) y = module.forward(y);
    ++i;
  }
  return y;
}

/// Index of the activation module whose A point belongs to `layer`.
size_t activation_index(NetworkImpl& net, const std::string& layer) {
  const auto children = net.body->children();
  for (size_t i = 0; i < children.size(); ++i)
    if (const auto* act = dynamic_cast<const QActivationImpl*>(children[i].get()))
      if (act->activation_point()->layer() == layer) return i;
  throw std::logic_error("no activation of " + layer);
}

/// sum_{i != yhat} (dm_i/dT_j)^2 / (24 m_i^2) summed over the elements j of T, by central differences:
/// `logits_at(j, h)` gives the logits with element j of T moved by h.
template <typename Logits>
double fd_term(int64_t elements, const torch::Tensor& z, const Logits& logits_at) {
  constexpr double kH = 1e-6;
  const int64_t yhat = z.argmax().item<int64_t>();
  const auto margins = z - z[yhat];
  double sum = 0;
  for (int64_t j = 0; j < elements; ++j) {
    const torch::Tensor dz = (logits_at(j, kH) - logits_at(j, -kH)) / (2 * kH);
    const torch::Tensor dm = dz - dz[yhat];
    for (int64_t i = 0; i < z.size(0); ++i)
      if (i != yhat) sum += std::pow(dm[i].item<double>(), 2) / (24.0 * std::pow(margins[i].item<double>(), 2));
  }
  return sum;
}

TEST(NoiseGain, EqualsFiniteDifferencesOnATinyNetwork) {
  ModelOptions model;
  model.arch = "mlp";
  model.hidden = {6, 5};
  const int64_t size = 4;
  const auto data = random_images(10, size);
  torch::manual_seed(2);
  auto net = make_network(model, InputShape{1, size, size, 10});
  clear_precision(*net);
  torch::manual_seed(2);
  auto net64 = make_network(model, InputShape{1, size, size, 10});
  clear_precision(*net64);
  net64->to(torch::kDouble);
  net64->eval();

  NoiseGainOptions options;
  options.samples = 6;
  options.batch_size = 4;
  options.seed = 5;
  options.quiet = true;
  const auto gains = compute_noise_gains(*net, data, options);

  auto order = data::epoch_order(data.size(), options.seed, 0, true);
  order.resize(static_cast<size_t>(options.samples));
  std::map<std::string, double> fd;
  torch::NoGradGuard no_grad;
  data::LoaderOptions loader;
  loader.augment = false;
  const size_t modules = net64->body->size();
  for (int64_t s : order) {
    const auto x = data::make_batch(data, {s}, 0, loader).inputs.to(torch::kDouble);
    const auto z = net64->forward(x)[0];
    for (const auto& w : net64->weight_quantizations()) {
      auto flat = w.weight.view({-1});
      fd[w.layer + ".W"] += fd_term(flat.numel(), z, [&](int64_t j, double h) {
        const double old = flat[j].item<double>();
        flat[j] = old + h;
        const auto moved = net64->forward(x)[0];
        flat[j] = old;
        return moved;
      });
      if (w.layer == net64->weight_quantizations().back().layer) continue; // the logits have no A point
      const size_t act = activation_index(*net64, w.layer);
      const auto a = run_modules(*net64, x, 0, act + 1);
      fd[w.layer + ".A"] += fd_term(a.numel(), z, [&](int64_t j, double h) {
        auto moved = a.clone();
        moved.view({-1})[j] += h;
        return run_modules(*net64, moved, act + 1, modules)[0];
      });
    }
  }
  ASSERT_EQ(fd.size(), gains.size());
  for (auto& [name, value] : fd) {
    value /= static_cast<double>(order.size());
    ASSERT_TRUE(gains.count(name)) << name;
    // float32 autograd against double central differences: agreement to a few units of 1e-4.
    EXPECT_NEAR(gains.at(name), value, 1e-3 * value) << name;
    EXPECT_GT(value, 0) << name;
  }
}

} // namespace
} // namespace fxnn
