// The synthesized network written as a fixed-point network artifact: read back from its files and
// evaluated by the integer runtime (reference and optimized kernels), it must give the integers of
// the synthesized network (evaluate_fixed, which the generated C equals bit for bit) on the box.

#include <gtest/gtest.h>

#include <random>

#include "../support/temp_dir.h"
#include "fxnn/floatnet/network_file.h"
#include "fxnn/ir/network_files.h"
#include "fxnn/runtime/engine.h"
#include "fxnn/synth/network_artifact.h"
#include "fxnn/synth/synthesize.h"
#include "synth_test_util.h"

namespace fxnn::synth {
namespace {

using testing_support::TempDir;

/// Input codes of the box: its corners, then uniform random points, quantized as the C wrapper does.
std::vector<std::vector<int64_t>> box_codes(const QuantizedNetwork& q, const InputBox& box, int count) {
  std::mt19937_64 rng(17);
  std::vector<std::vector<int64_t>> codes;
  for (int k = 0; k < count; ++k) {
    std::vector<double> x;
    for (size_t d = 0; d < box.size(); ++d)
      x.push_back(k < (1 << box.size()) ? ((k >> d) & 1 ? box.dims[d].hi : box.dims[d].lo)
                                        : std::uniform_real_distribution<double>(box.dims[d].lo, box.dims[d].hi)(rng));
    codes.push_back(quantize_inputs(q, x));
  }
  return codes;
}

/// Saves the artifact, reads it back and checks every output code of both runtimes against the
/// integer reference of the synthesized network. Returns the artifact that was read.
ir::Network expect_same_integers(const QuantizedNetwork& q, const Certificate& cert, const InputBox& box) {
  TempDir dir;
  ir::save_network(to_fixed_point_network(q, cert, "tiny", "a test"), dir.str());
  const ir::Network net = ir::load_network(dir.str());
  const auto codes = box_codes(q, box, 400);
  std::vector<int64_t> flat;
  for (const auto& x : codes) flat.insert(flat.end(), x.begin(), x.end());
  const runtime::Codes input =
      runtime::Codes::from_values(net.input_format, {static_cast<int64_t>(codes.size()), q.inputs()}, flat.data());
  for (const bool reference : {true, false}) {
    runtime::Engine engine(net, runtime::EngineOptions().with_reference(reference).with_threads(1));
    const std::vector<int64_t> y = engine.run(input).to_int64();
    EXPECT_EQ(y.size(), codes.size() * static_cast<size_t>(q.outputs()));
    if (y.size() != codes.size() * static_cast<size_t>(q.outputs())) continue;
    int differences = 0;
    for (size_t k = 0; k < codes.size(); ++k) {
      const std::vector<int64_t> expected = evaluate_fixed(q, codes[k]);
      for (int64_t o = 0; o < q.outputs(); ++o)
        differences +=
            y[k * static_cast<size_t>(q.outputs()) + static_cast<size_t>(o)] != expected[static_cast<size_t>(o)];
    }
    EXPECT_EQ(differences, 0) << (reference ? "reference" : "optimized") << " kernels";
  }
  return net;
}

class ArtifactCases : public ::testing::TestWithParam<std::tuple<floatnet::Activation, Rounding, Method>> {};

TEST_P(ArtifactCases, RuntimeOfTheWrittenNetworkEqualsTheSynthesizedIntegers) {
  const auto [act, rounding, method] = GetParam();
  const floatnet::FloatNetwork net = synth_testing::random_network({3, 7, 5, 2}, 8, 1.0, act);
  const InputBox box = synth_testing::uniform_box(3, -1.0, 2.0);
  SynthesisOptions o;
  o.eps = 1e-3;
  o.method = method;
  o.rounding = rounding;
  o.artifact = true;
  const SynthesisReport r = synthesize(net, box, o);
  ASSERT_EQ(r.status, SynthesisStatus::kCertified) << r.message;
  const ir::Network artifact = expect_same_integers(*r.quantized, *r.certificate, box);
  ASSERT_EQ(artifact.nodes.size(), 3u);
  EXPECT_EQ(artifact.input_format.frac, r.quantized->input_frac[0]);
  EXPECT_EQ(artifact.output, "layer3");
  EXPECT_EQ(artifact.nodes.back().output_format.frac, r.quantized->output_frac()[0]);
  EXPECT_EQ(artifact.nodes[0].requantize->rounding, rounding);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ArtifactCases,
    ::testing::Values(std::make_tuple(floatnet::Activation::kRelu, Rounding::kNearest, Method::kMilp),
                      std::make_tuple(floatnet::Activation::kRelu, Rounding::kFloor, Method::kMilp),
                      std::make_tuple(floatnet::Activation::kClippedRelu, Rounding::kNearest, Method::kLp),
                      std::make_tuple(floatnet::Activation::kRelu, Rounding::kFloor, Method::kLp)));

/// A plan by hand: per-neuron weight and accumulator formats that differ, one output format (12
/// fractional bits) per layer; neuron 1 of every layer has a shift of 0.
constexpr int kPlanFrac = 12;
FormatPlan mixed_plan(const floatnet::FloatNetwork& net) {
  FormatPlan plan;
  plan.input_frac.assign(static_cast<size_t>(net.inputs()), 9);
  int in_frac = 9;
  for (size_t l = 0; l < net.layers.size(); ++l) {
    std::vector<NeuronFormat> formats;
    for (int64_t i = 0; i < net.layers[l].outputs(); ++i) {
      const int fw = kPlanFrac - in_frac + static_cast<int>(i % 4);
      // Fa from the smallest exact one (Fw + F_in) up to 2 bits above it.
      formats.push_back({kPlanFrac, fw, fw + in_frac + static_cast<int>(i % 3)});
    }
    in_frac = kPlanFrac;
    plan.layers.push_back(formats);
  }
  return plan;
}

TEST(NetworkArtifact, PerNeuronWeightAndAccumulatorFormatsAreEncodedExactly) {
  for (const Rounding rounding : {Rounding::kNearest, Rounding::kFloor}) {
    const floatnet::FloatNetwork net =
        synth_testing::random_network({4, 6, 5, 3}, 12, 1.0, floatnet::Activation::kClippedRelu);
    const InputBox box = synth_testing::uniform_box(4, -1.5, 1.0);
    const FormatPlan plan = mixed_plan(net);
    const QuantizedNetwork q = quantize_network(net, box, plan, rounding);
    const NetworkRanges ranges = analyze_ranges(net, box, RangeMode::kInterval);
    // Coarse weights: eps is large, the certificate only has to exclude overflow.
    const Certificate cert = certify(net, ranges, q, CertifyOptions{100.0, 32, 64, {}});
    ASSERT_TRUE(cert.certified) << cert.failure;
    const ir::Network artifact = expect_same_integers(q, cert, box);
    // Layer 1: weights at the finest row format, the sum at the largest accumulator format.
    const ir::Node& first = artifact.nodes[0];
    // Fw = 3 + i % 4 and Fa = Fw + 9 + i % 3 over neurons i = 0..5: Fw* = 6, A* = 16 (neuron 2).
    EXPECT_EQ(first.weight->format.frac, 6);
    EXPECT_EQ(first.requantize->shift, 16 - kPlanFrac);
    EXPECT_EQ(first.requantize->multiplier_frac, 16 - 6 - 9);
    EXPECT_EQ(first.requantize->multiplier, std::vector<int64_t>{2});
    EXPECT_EQ(first.requantize->offset[2], q.layers[0].bias[2]);
    EXPECT_EQ(first.requantize->offset[0], q.layers[0].bias[0] * 16); // Fa = 12: 4 bits below A*
    EXPECT_EQ(first.requantize->clamp_min, 0);
    EXPECT_EQ(first.requantize->clamp_max, q.layers[0].clip[0]);
  }
}

TEST(NetworkArtifact, RefusesPerNeuronStorageFormatsNamingTheTensor) {
  const floatnet::FloatNetwork net = synth_testing::random_network({3, 4, 2}, 5);
  const InputBox box = synth_testing::uniform_box(3, -1.0, 1.0);
  const NetworkRanges ranges = analyze_ranges(net, box, RangeMode::kInterval);
  const auto refusal = [&](const FormatPlan& plan) {
    const QuantizedNetwork q = quantize_network(net, box, plan, Rounding::kNearest);
    const Certificate cert = certify(net, ranges, q, CertifyOptions{100.0, 32, 64, {}});
    EXPECT_TRUE(cert.certified) << cert.failure;
    try {
      to_fixed_point_network(q, cert, "tiny", "a test");
    } catch (const std::invalid_argument& e) { return std::string(e.what()); }
    return std::string("no error");
  };
  FormatPlan plan = mixed_plan(net);
  plan.layers[0][2].frac_out -= 1;
  EXPECT_NE(refusal(plan).find("the outputs of layer 1 are stored at 11 to 12 fractional bits"), std::string::npos)
      << refusal(plan);
  plan = mixed_plan(net);
  plan.input_frac[1] = 8;
  EXPECT_NE(refusal(plan).find("the inputs are stored at 8 to 9 fractional bits"), std::string::npos) << refusal(plan);
}

TEST(NetworkArtifact, LpPerNeuronStorageIsRefusedAndArtifactFormatsAreWritten) {
  const floatnet::FloatNetwork net = synth_testing::random_network({3, 7, 5, 2}, 8);
  const InputBox box = synth_testing::uniform_box(3, -1.0, 2.0);
  SynthesisOptions o;
  o.eps = 1e-3;
  o.method = Method::kLp;
  const SynthesisReport per_neuron = synthesize(net, box, o);
  ASSERT_EQ(per_neuron.status, SynthesisStatus::kCertified) << per_neuron.message;
  bool uniform = true;
  for (const auto& layer : per_neuron.quantized->layers)
    for (const auto& f : layer.formats) uniform = uniform && f.frac_out == layer.formats[0].frac_out;
  EXPECT_FALSE(uniform) << "lp now stores each layer at one format: this test needs another network";
  EXPECT_THROW(to_fixed_point_network(*per_neuron.quantized, *per_neuron.certificate, "tiny", ""),
               std::invalid_argument);
  o.artifact = true;
  const SynthesisReport r = synthesize(net, box, o);
  ASSERT_EQ(r.status, SynthesisStatus::kCertified) << r.message;
  for (const auto& layer : r.quantized->layers)
    for (const auto& f : layer.formats) EXPECT_EQ(f.frac_out, layer.formats[0].frac_out);
  EXPECT_NO_THROW(to_fixed_point_network(*r.quantized, *r.certificate, "tiny", ""));
}

// The real controllers: ACC5 (6 layers, 31-bit codes) and the Unicycle (500 neurons, ONNX) need the
// uniform storage formats of lp (eq. (53)), and then the accumulator limit of eq. (52) holds as well.
TEST(NetworkArtifact, RealControllersNeedTheArtifactFormatsAndThenGiveTheSameIntegers) {
  const std::string dir = synth_testing::controllers_dir();
  if (dir.empty()) GTEST_SKIP() << "no shared controllers in this checkout";
  struct Case {
    std::string benchmark;
    Method method;
  };
  for (const Case& c : {Case{"ACC5NN", Method::kLp}, Case{"unicycle_controllerB", Method::kLp}}) {
    const Benchmark b = load_benchmark(dir + "/benchmarks.yaml", c.benchmark);
    const floatnet::FloatNetwork net = floatnet::read_network_file(b.model);
    SynthesisOptions o;
    o.eps = b.error_bound;
    o.method = c.method;
    const SynthesisReport plain = synthesize(net, b.box, o);
    ASSERT_EQ(plain.status, SynthesisStatus::kCertified) << c.benchmark << ": " << plain.message;
    EXPECT_THROW(to_fixed_point_network(*plain.quantized, *plain.certificate, "net", ""), std::invalid_argument)
        << c.benchmark << ": the plain formats became encodable; this case no longer tests eq. (52)/(53)";
    o.artifact = true;
    const SynthesisReport r = synthesize(net, b.box, o);
    ASSERT_EQ(r.status, SynthesisStatus::kCertified) << c.benchmark << ": " << r.message;
    EXPECT_LE(r.certificate->bound, b.error_bound);
    expect_same_integers(*r.quantized, *r.certificate, b.box);
  }
}

} // namespace
} // namespace fxnn::synth
