// The reference formats of lp and of the infeasibility diagnosis (docs/synthesis.md eq. (29a)).

#include "fxnn/synth/reference_plan.h"

#include <optional>
#include <stdexcept>

namespace fxnn::synth {

ReferencePlan reference_plan(const floatnet::FloatNetwork& net, const InputBox& box, const NetworkRanges& ranges,
                             const SynthesisBounds& bounds, Rounding rounding, const CertifyOptions& certify_options,
                             bool uniform_storage) {
  std::optional<ReferencePlan> best;
  std::optional<std::overflow_error> first_error;
  for (int traded = 0; traded <= kMaxTradedWeightBits; ++traded) {
    ReferencePlan candidate;
    candidate.traded_weight_bits = traded;
    candidate.plan = finest_plan(net, bounds, certify_options.word, certify_options.acc, {traded, uniform_storage});
    try {
      candidate.quantized = quantize_network(net, box, candidate.plan, rounding);
    } catch (const std::overflow_error& e) { // this candidate has no codes; the others may
      if (!first_error) first_error = e;
      continue;
    }
    candidate.certificate = certify(net, ranges, candidate.quantized, certify_options);
    const auto better = [&](const ReferencePlan& current) {
      const Certificate &c = candidate.certificate, &b = current.certificate;
      if (c.overflow_free != b.overflow_free) return c.overflow_free;
      return c.bound < b.bound;
    };
    if (!best || better(*best)) best = std::move(candidate);
  }
  if (!best) throw *first_error;
  return std::move(*best);
}

} // namespace fxnn::synth
