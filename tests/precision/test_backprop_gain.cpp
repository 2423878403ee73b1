// The back-propagated noise gains of eq. (13) (docs/precision-assignment.md section 3.2): the paths read
// from each layer kind of the zoo, the closed form against noise injection, and a measurement that
// leaves training untouched.

#include "fxnn/precision/backprop_gain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "fxnn/nn/model_zoo.h"
#include "fxnn/nn/residual_block.h"

namespace fxnn {
namespace {

/// Random images with a positive mean (so that batch norm's centring matters) and labels.
data::Batch random_batch(int64_t n, const InputShape& shape, uint64_t seed) {
  torch::manual_seed(seed);
  data::Batch batch;
  batch.inputs = torch::rand({n, shape.channels, shape.height, shape.width});
  batch.labels = torch::randint(0, shape.num_classes, {n}, torch::kLong);
  return batch;
}

const GradientPath& find_path(const GradientTopology& t, const std::string& ga, const std::string& weight) {
  for (const auto& p : t.paths)
    if (p.ga_layer == ga && p.weight_layer == weight) return p;
  throw std::out_of_range(ga + " -> " + weight);
}

std::vector<std::string> targets_of(const GradientTopology& t, const std::string& ga) {
  std::vector<std::string> names;
  for (const auto& p : t.paths)
    if (p.ga_layer == ga) names.push_back(p.weight_layer);
  return names;
}

/// The closed form of every path from `ga` against the measurement with `draws` draws: at the element
/// where the closed form is largest (the lambda the assignment uses) within `tolerance`, summed over
/// the elements within a third of it (the draws average over many elements there).
void expect_closed_form_matches_injection(const BackpropGains& gains, const std::string& ga, int64_t draws,
                                          double tolerance) {
  const auto measured = gains.injected(ga, draws, /*seed=*/5);
  int checked = 0;
  for (const auto& p : gains.topology().paths) {
    if (p.ga_layer != ga) continue;
    const auto closed = gains.closed_form(p).flatten();
    const auto injected = measured.at(p.weight_layer).flatten();
    const auto at = closed.argmax().item<int64_t>();
    const double lambda = closed[at].item<double>();
    ASSERT_GT(lambda, 0) << ga << " -> " << p.weight_layer;
    EXPECT_NEAR(injected[at].item<double>() / lambda, 1.0, tolerance)
        << ga << " -> " << p.weight_layer << " (" << to_string(p.kind) << "), element " << at;
    EXPECT_NEAR(injected.sum().item<double>() / closed.sum().item<double>(), 1.0, tolerance / 3)
        << ga << " -> " << p.weight_layer << " (" << to_string(p.kind) << "), all elements";
    ++checked;
  }
  EXPECT_GT(checked, 0) << ga;
}

struct LayerKindCase {
  std::string name;
  ModelOptions model;
  InputShape input;
};

void PrintTo(const LayerKindCase& c, std::ostream* os) { *os << c.name; }

class ClosedFormAgainstInjection : public testing::TestWithParam<LayerKindCase> {};

TEST_P(ClosedFormAgainstInjection, EveryPathWithinTenPercent) {
  const auto& c = GetParam();
  torch::manual_seed(3);
  auto net = make_network(c.model, c.input);
  const auto batch = random_batch(12, c.input, 4);
  const BackpropGains gains(*net, batch);
  for (const auto& a : gains.topology().activations) expect_closed_form_matches_injection(gains, a.layer, 3000, 0.1);
}

ModelOptions model(const std::string& arch, bool batch_norm, std::vector<int64_t> hidden = {}) {
  ModelOptions m;
  m.arch = arch;
  m.width = 0.125;
  m.batch_norm = batch_norm;
  m.hidden = std::move(hidden);
  m.activation_clip = 1.0; // clips a visible share of the activations, so the masks matter
  return m;
}

INSTANTIATE_TEST_SUITE_P(LayerKinds, ClosedFormAgainstInjection,
                         testing::Values(
                             // dense layers with a bias, clipped ReLU, the logits' point
                             LayerKindCase{"DenseWithBias", model("mlp", false, {96, 64}), {1, 6, 6, 5}},
                             // dense layers with batch norm in training mode (its centring and scaling)
                             LayerKindCase{"DenseWithBatchNorm", model("mlp", true, {96, 64}), {1, 6, 6, 5}},
                             // convolutions with batch norm, clipped ReLU and max-pool selection
                             LayerKindCase{"ConvolutionBatchNormMaxPool", model("cnn", true), {2, 8, 8, 4}},
                             // convolutions with a bias and max-pool selection
                             LayerKindCase{"ConvolutionWithBias", model("cnn", false), {2, 8, 8, 4}}),
                         [](const testing::TestParamInfo<LayerKindCase>& info) { return info.param.name; });

/// A ResNet-20 at width 1/32 (4, 8, 16 channels) on 8x8 images.
Network tiny_resnet() {
  ModelOptions m;
  m.arch = "resnet20";
  m.width = 1.0 / 32;
  m.dropout = 0.2;
  m.activation_clip = 1.0;
  torch::manual_seed(7);
  return make_network(m, {3, 8, 8, 4});
}

TEST(GradientPaths, PlainNetworkPairsEachPointWithTheLayerItFollows) {
  auto net = make_network(model("cnn", true), {2, 8, 8, 4});
  const auto t = gradient_topology(*net);
  ASSERT_EQ(t.paths.size(), 4u);
  for (const auto& p : t.paths) {
    EXPECT_EQ(p.ga_layer, p.weight_layer);
    EXPECT_EQ(p.kind, PathKind::kDirect);
    EXPECT_EQ(p.through, std::vector<std::string>{p.ga_layer});
  }
  EXPECT_FALSE(t.activation("fc2").clip.has_value()); // the logits: no activation function
  EXPECT_DOUBLE_EQ(*t.activation("conv1").clip, 1.0);
}

TEST(GradientPaths, ResidualBlocksHaveShortcutAndIdentityPaths) {
  auto net = tiny_resnet();
  const auto t = gradient_topology(*net);
  // A block with a projection: the block output's noise reaches conv2 and the shortcut, nothing earlier.
  EXPECT_EQ(targets_of(t, "s2b1.conv2"), (std::vector<std::string>{"s2b1.conv2", "s2b1.shortcut"}));
  EXPECT_EQ(find_path(t, "s2b1.conv2", "s2b1.shortcut").kind, PathKind::kShortcut);
  // Identity blocks: through every identity shortcut back to the stem, the masks of each block output.
  EXPECT_EQ(targets_of(t, "s1b3.conv2"), (std::vector<std::string>{"s1b3.conv2", "s1b2.conv2", "s1b1.conv2", "conv1"}));
  const auto& to_stem = find_path(t, "s1b3.conv2", "conv1");
  EXPECT_EQ(to_stem.kind, PathKind::kIdentity);
  EXPECT_EQ(to_stem.through, (std::vector<std::string>{"s1b3.conv2", "s1b2.conv2", "s1b1.conv2", "conv1"}));
  EXPECT_EQ(targets_of(t, "s2b2.conv2"), (std::vector<std::string>{"s2b2.conv2", "s2b1.conv2", "s2b1.shortcut"}));
  // The first convolution of a block only hears its own point.
  EXPECT_EQ(targets_of(t, "s1b2.conv1"), std::vector<std::string>{"s1b2.conv1"});
  // Four points share the stem's weight-gradient budget.
  EXPECT_EQ(t.paths_into("conv1"), 4);
}

TEST(BackpropGain, ProjectionShortcutMatchesInjection) {
  auto net = tiny_resnet();
  const auto batch = random_batch(8, {3, 8, 8, 4}, 9);
  const BackpropGains gains(*net, batch);
  expect_closed_form_matches_injection(gains, "s2b1.conv2", 3000, 0.1);
  expect_closed_form_matches_injection(gains, "s3b1.conv1", 3000, 0.1);
}

TEST(BackpropGain, IdentityPathMatchesInjectionWhenItIsTheOnlyPath) {
  // The noise of a block output also reaches earlier layers through the block's own convolutions; with
  // the second convolution of every stage-1 block at zero, the identity shortcuts are the only way back,
  // and the closed form must account for all of it.
  auto net = tiny_resnet();
  {
    torch::NoGradGuard no_grad;
    for (auto& m : net->body->children())
      if (auto* block = dynamic_cast<ResidualBlockImpl*>(m.get()); block && block->options.name().rfind("s1", 0) == 0)
        block->conv2()->weight.zero_();
  }
  const auto batch = random_batch(8, {3, 8, 8, 4}, 10);
  const BackpropGains gains(*net, batch);
  expect_closed_form_matches_injection(gains, "s1b3.conv2", 3000, 0.1);
}

TEST(BackpropGain, IdentityPathGainCountsTheNoiseThatCrossesTheBlocks) {
  // With every convolution live, the noise of a block output also goes back through the convolutions of
  // the blocks in between (eq. (18)): the gain the assignment uses must hold all of it, as measured by
  // 1000 draws, from the 32 draws a probe of 16 epochs pools. The elements of one weight see the same
  // noise, so a sum over them is no better than one element: the relative error of 32 draws is up
  // to sqrt(2 / 32) = 25%.
  auto net = tiny_resnet();
  const auto batch = random_batch(8, {3, 8, 8, 4}, 12);
  const BackpropGains gains(*net, batch);
  const auto used = gains.path_gains(/*crossing_draws=*/32, /*seed=*/3);
  const auto& paths = gains.topology().paths;
  ASSERT_EQ(used.size(), paths.size());
  std::map<std::string, std::map<std::string, torch::Tensor>> reference;
  double largest_crossing = 0;
  int identity_paths = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    const auto& p = paths[i];
    const auto closed = gains.closed_form(p);
    EXPECT_DOUBLE_EQ(used[i].closed_max, closed.max().item<double>());
    if (p.kind != PathKind::kIdentity) {
      EXPECT_EQ(used[i].crossing, 1.0) << p.ga_layer << " -> " << p.weight_layer;
      continue;
    }
    ++identity_paths;
    if (!reference.count(p.ga_layer)) reference[p.ga_layer] = gains.injected(p.ga_layer, 1000, /*seed=*/5);
    const double all_noise = reference[p.ga_layer].at(p.weight_layer).sum().item<double>();
    EXPECT_NEAR(used[i].crossing * closed.sum().item<double>() / all_noise, 1.0, 0.25)
        << p.ga_layer << " -> " << p.weight_layer;
    largest_crossing = std::max(largest_crossing, used[i].crossing);
  }
  EXPECT_GT(identity_paths, 3);
  EXPECT_GT(largest_crossing, 1.3); // the chain alone would miss a visible share of the noise
}

TEST(BackpropGain, MeasuringLeavesTheNetworkAsItWas) {
  auto net = tiny_resnet();
  net->eval();
  const auto batch = random_batch(8, {3, 8, 8, 4}, 11);
  std::vector<torch::Tensor> before;
  for (const auto& b : net->buffers()) before.push_back(b.clone());
  {
    const BackpropGains gains(*net, batch);
    gains.injected("s1b1.conv2", 2, 1);
    for (const auto& p : gains.topology().paths) gains.closed_form(p);
  }
  EXPECT_FALSE(net->is_training());
  const auto after = net->buffers();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(after[i].equal(before[i])) << "buffer " << i;
  for (const auto& p : net->parameters()) EXPECT_FALSE(p.grad().defined());
  for (const auto& p : net->quant_points()) EXPECT_EQ(p->observer(), nullptr);
}

TEST(BackpropGain, CheckTableCoversEveryLayerTheNoiseReaches) {
  torch::manual_seed(3);
  auto net = make_network(model("cnn", true), {2, 8, 8, 4});
  const auto checks = check_backprop_gains(*net, random_batch(12, {2, 8, 8, 4}, 4), 400, 1);
  // conv2's noise reaches conv2 directly and conv1 through conv2's weights; the logits' reaches all four.
  ASSERT_EQ(checks.at("conv2").size(), 2u);
  EXPECT_EQ(checks.at("conv2")[0].weight_layer, "conv1");
  EXPECT_EQ(checks.at("conv2")[0].kind, "weights");
  EXPECT_EQ(checks.at("conv2")[0].closed_max, 0);
  EXPECT_GT(checks.at("conv2")[0].injected_max, 0);
  EXPECT_EQ(checks.at("conv2")[1].kind, "direct");
  EXPECT_NEAR(checks.at("conv2")[1].injected_total / checks.at("conv2")[1].closed_total, 1.0, 0.05);
  EXPECT_EQ(checks.at("fc2").size(), 4u);
}

TEST(BackpropGain, UnknownModulesAreRefused) {
  torch::nn::Sequential body(torch::nn::Linear(4, 4));
  Network net(body);
  EXPECT_THROW(gradient_topology(*net), std::invalid_argument);
}

} // namespace
} // namespace fxnn
