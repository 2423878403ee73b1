// The LP, MILP and Aster formulations on tiny networks, and infeasibility as a value.

#include <gtest/gtest.h>

#include <random>

#include "fxnn/synth/error_model.h"
#include "fxnn/synth/linear_program.h"
#include "fxnn/synth/synthesize.h"
#include "synth_test_util.h"

namespace fxnn::synth {
namespace {

TEST(LinearProgram, SolvesAndReportsInfeasibility) {
  LinearProgram lp;
  const int x = lp.add_variable(0, 10, -1, true, "x");
  const int y = lp.add_variable(0, 10, -1, false, "y");
  lp.add_constraint({{x, 2}, {y, 1}}, LinearProgram::Sense::kLessEqual, 7.5);
  lp.add_constraint({{x, 1}, {y, -1}}, LinearProgram::Sense::kGreaterEqual, 0);
  const auto s = lp.solve(10);
  ASSERT_EQ(s.status, LinearProgram::Status::kOptimal);
  EXPECT_NEAR(s.values[0], 3.0, 1e-9); // x = 3, y = 1.5: max x + y over 2x + y <= 7.5, y <= x, x integer
  EXPECT_NEAR(s.values[1], 1.5, 1e-9);
  // The relaxation lets x be fractional: x = y = 2.5.
  const auto relaxed = lp.solve_relaxation(10);
  ASSERT_EQ(relaxed.status, LinearProgram::Status::kOptimal);
  EXPECT_NEAR(relaxed.values[0], 2.5, 1e-9);
  EXPECT_NEAR(relaxed.objective, -5.0, 1e-9);
  EXPECT_EQ(lp.name(x), "x");
  // Relaxation first: fractional here, so the branch and bound decides (x = 3, y = 1.5).
  const auto mixed = lp.solve_relaxation_first(10);
  ASSERT_EQ(mixed.status, LinearProgram::Status::kOptimal);
  EXPECT_NEAR(mixed.values[0], 3.0, 1e-9);
  lp.add_constraint({{x, 1}}, LinearProgram::Sense::kGreaterEqual, 4);
  lp.add_constraint({{y, 1}}, LinearProgram::Sense::kGreaterEqual, 0.5);
  EXPECT_EQ(lp.solve(10).status, LinearProgram::Status::kInfeasible);
  EXPECT_EQ(lp.solve_relaxation(10).status, LinearProgram::Status::kInfeasible);
}

TEST(LinearProgram, AnIntegralRelaxationIsTheSolution) {
  // min x + y over x - y >= 2, y >= 1 (differences: an integral vertex): x = 3, y = 1.
  LinearProgram lp;
  const int x = lp.add_variable(-10, 10, 1, true, "x");
  const int y = lp.add_variable(-10, 10, 1, true, "y");
  lp.add_constraint({{x, 1}, {y, -1}}, LinearProgram::Sense::kGreaterEqual, 2);
  lp.add_constraint({{y, 1}}, LinearProgram::Sense::kGreaterEqual, 1);
  const auto s = lp.solve_relaxation_first(10);
  ASSERT_EQ(s.status, LinearProgram::Status::kOptimal);
  EXPECT_EQ(s.values[0], 3.0); // rounded exactly
  EXPECT_EQ(s.values[1], 1.0);
  EXPECT_NEAR(s.objective, lp.solve(10).objective, 1e-9);
}

TEST(LinearProgram, StartsFromANamedSolutionOfARelatedProblem) {
  // max x + y over x + y <= b, x, y integer in [0, 10]: the solution for b = 7 starts the one for b = 9.
  const auto problem = [](double b) {
    LinearProgram lp;
    const int x = lp.add_variable(0, 10, -1, true, "x");
    const int y = lp.add_variable(0, 10, -1, true, "y");
    lp.add_constraint({{x, 1}, {y, 1}}, LinearProgram::Sense::kLessEqual, b);
    return lp;
  };
  const LinearProgram tight = problem(7);
  const auto first = tight.solve(10);
  ASSERT_EQ(first.status, LinearProgram::Status::kOptimal);
  std::vector<LinearProgram::NamedValue> start = tight.named_integers(first);
  ASSERT_EQ(start.size(), 2u);
  EXPECT_EQ(start[0].name, "x");
  EXPECT_NEAR(start[0].value + start[1].value, 7.0, 1e-9);
  start.push_back({"not_a_variable", 1.0}); // ignored
  const auto relaxed = problem(9).solve(10, 0.0, start);
  ASSERT_EQ(relaxed.status, LinearProgram::Status::kOptimal);
  EXPECT_NEAR(relaxed.objective, -9.0, 1e-9);
}

TEST(ErrorGains, StableNeuronsPropagateSignedAndCancel) {
  // y = relu(x + 2) - relu(x + 2) with x in [0, 1]: both neurons stably active, so a rounding of
  // the input cancels exactly, while each neuron's own rounding reaches the output with gain 1.
  floatnet::FloatNetwork net;
  floatnet::DenseLayer a, b;
  a.weight = Eigen::MatrixXd::Ones(2, 1);
  a.bias = Eigen::VectorXd::Constant(2, 2.0);
  a.activation = floatnet::Activation::kRelu;
  b.weight = Eigen::MatrixXd(1, 2);
  b.weight << 1.0, -1.0;
  b.bias = Eigen::VectorXd::Zero(1);
  net.layers = {a, b};
  const NetworkRanges r = analyze_ranges(net, parse_input_box("0:1"), RangeMode::kInterval);
  const ErrorGains g = error_gains(net, r, 1e-3);
  EXPECT_EQ(g.gain[1](0, 0), 0.0);              // the input
  EXPECT_EQ(g.gain[1](0, g.source(0, 0)), 1.0); // neuron 1 of layer 1
  EXPECT_EQ(g.gain[1](0, g.source(0, 1)), 1.0);
  EXPECT_EQ(g.gain[1](0, g.source(1, 0)), 1.0); // the output's own rounding
  EXPECT_FALSE(g.dead[0][0]);
  EXPECT_NEAR(g.stable_slack[0][0], 1.0, 1e-9); // half the distance of z >= 2 from 0
}

class Methods : public ::testing::TestWithParam<std::tuple<Method, Rounding>> {};

TEST_P(Methods, TinyNetworksAreSolvedAndCertified) {
  const auto [method, rounding] = GetParam();
  for (uint64_t seed : {1, 2}) {
    const floatnet::FloatNetwork net = synth_testing::random_network({3, 6, 5, 2}, seed);
    const InputBox box = synth_testing::uniform_box(3, -1.0, 1.0);
    SynthesisOptions o;
    o.eps = 1e-3;
    o.method = method;
    o.rounding = rounding;
    o.word = 24;
    const SynthesisReport r = synthesize(net, box, o);
    ASSERT_EQ(r.status, SynthesisStatus::kCertified) << r.message;
    EXPECT_LE(r.certificate->bound, o.eps);
    EXPECT_GT(r.size.total_bits, 0);
    EXPECT_GT(r.size.cost, 0);
    for (const auto& layer : r.certificate->layers) EXPECT_LE(layer.storage_bits, 24);
    if (method == Method::kMilp) // per-layer formats
      for (const auto& layer : r.method.plan.layers)
        for (const auto& f : layer) EXPECT_EQ(f.frac_out, layer[0].frac_out);
    // A tighter eps needs at least as many bits.
    o.eps = 1e-4;
    const SynthesisReport tight = synthesize(net, box, o);
    ASSERT_EQ(tight.status, SynthesisStatus::kCertified) << tight.message;
    EXPECT_GE(tight.size.frac_bits, r.size.frac_bits);
  }
}

INSTANTIATE_TEST_SUITE_P(LpAndMilp, Methods,
                         ::testing::Combine(::testing::Values(Method::kLp, Method::kMilp),
                                            ::testing::Values(Rounding::kNearest, Rounding::kFloor)));

TEST(Methods, InfeasibleIsAValueNamingTheLayerAndTheBound) {
  const floatnet::FloatNetwork net = synth_testing::random_network({3, 6, 2}, 5, 4.0);
  const InputBox box = synth_testing::uniform_box(3, -8.0, 8.0);
  for (Method method : {Method::kLp, Method::kMilp}) {
    SynthesisOptions o;
    o.eps = 1e-6;
    o.method = method;
    o.word = 12;
    o.acc = 24;
    const SynthesisReport r = synthesize(net, box, o);
    EXPECT_EQ(r.status, SynthesisStatus::kInfeasible);
    EXPECT_NE(r.message.find("infeasible"), std::string::npos);
    EXPECT_NE(r.message.find("layer"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("W = 12"), std::string::npos) << r.message;
  }
}

TEST(Methods, OptionsAreValidated) {
  const floatnet::FloatNetwork net = synth_testing::random_network({2, 3, 1}, 1);
  const InputBox box = synth_testing::uniform_box(2, 0.0, 1.0);
  SynthesisOptions o;
  o.eps = 0.0;
  EXPECT_THROW(synthesize(net, box, o), std::invalid_argument);
  o.eps = -1e-3;
  EXPECT_THROW(synthesize(net, box, o), std::invalid_argument);
  o.eps = 1e-3;
  o.word = 40;
  EXPECT_THROW(synthesize(net, box, o), std::invalid_argument);
  o.word = 32;
  EXPECT_THROW(synthesize(net, synth_testing::uniform_box(3, 0.0, 1.0), o), std::invalid_argument);
  EXPECT_THROW(parse_method("simplex"), std::invalid_argument);
}

// Aster's pitfall 2 in action: the errors of layer 1 are amplified by layer 1's small weights in its
// model, by layer 2's large ones in reality; floor rounding makes them add up coherently.
TEST(Methods, AsterClaimsABoundThatTheCertificateAndTheNetworkRefute) {
  const floatnet::FloatNetwork net = synth_testing::aster_pitfall_network();
  const InputBox box = parse_input_box("0.5:1");
  SynthesisOptions o;
  o.eps = 1e-3;
  o.method = Method::kAster;
  const SynthesisReport r = synthesize(net, box, o);
  ASSERT_TRUE(r.method.solved) << r.message;
  EXPECT_FALSE(r.sound_method());
  EXPECT_LE(r.method.claimed_bound, o.eps);
  EXPECT_GT(r.certificate->bound, r.method.claimed_bound);
  double worst = 0;
  for (int k = 0; k <= 2000; ++k) {
    const double x = 0.5 + 0.5 * k / 2000.0;
    worst =
        std::max(worst, std::fabs(evaluate_fixed_real(*r.quantized, {x})[0] - net.evaluate(std::vector<double>{x})[0]));
  }
  EXPECT_GT(worst, r.method.claimed_bound);
  EXPECT_LE(worst, r.certificate->bound);
  EXPECT_NE(to_json(r).dump().find("UNSOUND"), std::string::npos);
}

} // namespace
} // namespace fxnn::synth
