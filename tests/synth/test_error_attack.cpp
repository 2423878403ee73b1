// The attack on certificates (docs/synthesis.md section 16): it climbs above its starting points,
// never above a sound bound, and breaks an unsound claim.

#include <gtest/gtest.h>

#include <random>

#include "fxnn/synth/error_attack.h"
#include "fxnn/synth/synthesize.h"
#include "synth_test_util.h"

namespace fxnn::synth {
namespace {

std::vector<AttackStart> random_starts(const floatnet::FloatNetwork& net, const InputBox& box,
                                       const QuantizedNetwork& q, int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<AttackStart> starts;
  for (int k = 0; k < count; ++k) {
    std::vector<double> x;
    for (const auto& d : box.dims) x.push_back(std::uniform_real_distribution<double>(d.lo, d.hi)(rng));
    starts.push_back({x, fixed_point_error(net, q, x), "random"});
  }
  return starts;
}

class AttackOnSoundMethods : public ::testing::TestWithParam<std::tuple<Method, Rounding>> {};

TEST_P(AttackOnSoundMethods, ClimbsAboveItsStartsAndStaysWithinTheCertifiedBound) {
  const auto [method, rounding] = GetParam();
  for (uint64_t seed : {1, 2, 3}) {
    const floatnet::FloatNetwork net = synth_testing::random_network({3, 8, 6, 2}, seed);
    const InputBox box = synth_testing::uniform_box(3, -1.0, 1.0);
    SynthesisOptions o;
    o.method = method;
    o.rounding = rounding;
    o.eps = 1e-2; // coarse formats: errors large enough for the search to see its slope
    const SynthesisReport r = synthesize(net, box, o);
    ASSERT_EQ(r.status, SynthesisStatus::kCertified) << r.message;
    const auto starts = random_starts(net, box, *r.quantized, 20, seed);
    double best_start = 0;
    for (const auto& s : starts) best_start = std::max(best_start, s.error);
    const AttackResult a = attack_error_bound(net, box, *r.quantized, starts, AttackOptions{4000, 4});
    EXPECT_LE(a.evaluations, 4000);
    EXPECT_GT(a.error, best_start) << "seed " << seed << ": the search found nothing above its best start";
    EXPECT_NE(a.found_by, "random");
    EXPECT_DOUBLE_EQ(a.error, fixed_point_error(net, *r.quantized, a.input)); // the input it reports
    for (size_t d = 0; d < box.size(); ++d) {
      EXPECT_GE(a.input[d], box.dims[d].lo);
      EXPECT_LE(a.input[d], box.dims[d].hi);
    }
    EXPECT_LE(a.error, r.certificate->bound) << "seed " << seed << ": the certificate is broken";
  }
}

INSTANTIATE_TEST_SUITE_P(LpAndMilp, AttackOnSoundMethods,
                         ::testing::Combine(::testing::Values(Method::kLp, Method::kMilp),
                                            ::testing::Values(Rounding::kNearest, Rounding::kFloor)),
                         [](const auto& info) {
                           return to_string(std::get<0>(info.param)) + "_" + to_string(std::get<1>(info.param));
                         });

TEST(ErrorAttack, IsDeterministicAndSpendsAtMostItsBudget) {
  const floatnet::FloatNetwork net = synth_testing::random_network({4, 10, 1}, 7);
  const InputBox box = synth_testing::uniform_box(4, -1.0, 1.0);
  SynthesisOptions o;
  o.eps = 1e-3;
  const SynthesisReport r = synthesize(net, box, o);
  ASSERT_EQ(r.status, SynthesisStatus::kCertified) << r.message;
  const auto starts = random_starts(net, box, *r.quantized, 50, 3);
  const AttackResult a = attack_error_bound(net, box, *r.quantized, starts, AttackOptions{3000, 8});
  const AttackResult b = attack_error_bound(net, box, *r.quantized, starts, AttackOptions{3000, 8});
  EXPECT_EQ(a.input, b.input);
  EXPECT_EQ(a.error, b.error);
  EXPECT_LE(a.evaluations, 3000);
  EXPECT_GT(a.evaluations, 3000 / 2); // the searches after the first 8 use what those leave
  // No budget: the best start is the answer.
  const AttackResult none = attack_error_bound(net, box, *r.quantized, starts, AttackOptions{0, 8});
  EXPECT_EQ(none.evaluations, 0);
  double best = 0;
  for (const auto& s : starts) best = std::max(best, s.error);
  EXPECT_EQ(none.error, best);
}

// The kicks start after the climb and keep only higher points: never below the climb alone, and
// above it where the roundings leave room (fine formats, a 12-16-16-2 network, one start).
TEST(ErrorAttack, KicksNeverLoseAndFindMoreThanTheClimbAlone) {
  int higher = 0;
  for (uint64_t seed : {1, 2, 3, 4}) {
    const floatnet::FloatNetwork net = synth_testing::random_network({12, 16, 16, 2}, seed);
    const InputBox box = synth_testing::uniform_box(12, -1.0, 1.0);
    SynthesisOptions o;
    o.eps = 1e-3;
    const SynthesisReport r = synthesize(net, box, o);
    ASSERT_EQ(r.status, SynthesisStatus::kCertified) << r.message;
    const auto starts = random_starts(net, box, *r.quantized, 1, seed);
    AttackOptions plain{6000, 1};
    plain.kicks = false;
    const AttackResult climb = attack_error_bound(net, box, *r.quantized, starts, plain);
    const AttackResult kicked = attack_error_bound(net, box, *r.quantized, starts, AttackOptions{6000, 1});
    EXPECT_GE(kicked.error, climb.error) << "seed " << seed;
    EXPECT_LE(kicked.error, r.certificate->bound) << "seed " << seed;
    EXPECT_EQ(kicked.evaluations, 6000); // the kicks spend the start's whole share
    higher += kicked.error > climb.error;
  }
  EXPECT_GE(higher, 2);
}

// The network of Methods.AsterClaimsABoundThatTheCertificateAndTheNetworkRefute: Aster's claim is
// wrong, and the attack finds an input beyond it.
TEST(ErrorAttack, BreaksAstersUnsoundClaim) {
  const floatnet::FloatNetwork net = synth_testing::aster_pitfall_network();
  const InputBox box = parse_input_box("0.5:1");
  SynthesisOptions o;
  o.method = Method::kAster;
  o.eps = 1e-3;
  const SynthesisReport r = synthesize(net, box, o);
  ASSERT_TRUE(r.quantized.has_value()) << r.message;
  ASSERT_GT(r.method.claimed_bound, 0);
  const auto starts = random_starts(net, box, *r.quantized, 10, 1);
  const AttackResult attack = attack_error_bound(net, box, *r.quantized, starts, AttackOptions{5000, 4});
  EXPECT_GT(attack.error, r.method.claimed_bound) << "the claim " << r.method.claimed_bound << " held";
  EXPECT_LE(attack.error, r.certificate->bound); // the sound bound of the same formats still holds
}

} // namespace
} // namespace fxnn::synth
