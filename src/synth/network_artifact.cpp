// The synthesized network as a fixed-point network artifact (docs/synthesis.md section 13).

#include "fxnn/synth/network_artifact.h"

#include <algorithm>
#include <stdexcept>

#include "fxnn/ir/worst_case.h"

namespace fxnn::synth {

namespace {

/// Codes of the artifact stay within Format::kMaxBits signed bits.
const __int128 kCodeLimit = static_cast<__int128>(1) << (Format::kMaxBits - 1);

std::string layer_name(size_t l) { return "layer" + std::to_string(l + 1); }

/// The one fractional bit count of a stored tensor (eq. (48)), or a refusal naming it.
int common_frac(const std::vector<int>& fracs, const std::string& what) {
  const auto [lo, hi] = std::minmax_element(fracs.begin(), fracs.end());
  if (*lo != *hi)
    throw std::invalid_argument(what + " are stored at " + std::to_string(*lo) + " to " + std::to_string(*hi) +
                                " fractional bits, but a fixed-point network stores one format per tensor: no exact "
                                "encoding exists (synthesis for the artifact, `fxnn synth --out`, chooses one)");
  return *lo;
}

/// The narrowest signed format of `frac` fractional bits that holds every code of [lo, hi].
Format signed_format(__int128 lo, __int128 hi, int frac) {
  return Format(std::max(2, signed_bits(lo, hi)), frac, true);
}

int64_t checked_code(__int128 v, const std::string& what) {
  if (v >= kCodeLimit || v < -kCodeLimit)
    throw std::invalid_argument(what + " exceeds the " + std::to_string(Format::kMaxBits) +
                                "-bit codes of a fixed-point network");
  return static_cast<int64_t>(v);
}

/// eq. (49)-(51) for one layer whose input codes have `in_format`.
ir::Node dense_node(const QuantizedLayer& ql, const LayerCertificate& lc, const Format& in_format, Rounding rounding,
                    size_t l) {
  const std::string name = layer_name(l);
  std::vector<int> out_fracs, weight_fracs, acc_fracs;
  for (const NeuronFormat& f : ql.formats) {
    out_fracs.push_back(f.frac_out);
    weight_fracs.push_back(f.frac_weight);
    acc_fracs.push_back(f.frac_acc);
  }
  const int frac_out = common_frac(out_fracs, "the outputs of layer " + std::to_string(l + 1));
  const int frac_weight = *std::max_element(weight_fracs.begin(), weight_fracs.end()); // Fw*
  const int frac_sum = *std::max_element(acc_fracs.begin(), acc_fracs.end());          // A*
  const int multiplier_frac = frac_sum - frac_weight - in_format.frac;                 // c >= 0 by check_plan
  if (multiplier_frac < 0 || multiplier_frac > ir::kMaxShift)
    throw std::invalid_argument(name + ": the accumulator alignment 2^" + std::to_string(multiplier_frac) +
                                " is outside [1, 2^" + std::to_string(ir::kMaxShift) + "]");

  ir::Node node;
  node.name = name;
  node.op = ir::OpKind::kDense;
  node.output_shape = {ql.outputs};
  ir::IntTensor w;
  w.shape = {ql.outputs, ql.inputs};
  __int128 w_lo = 0, w_hi = 0;
  ir::Requantize r;
  r.multiplier = {int64_t{1} << multiplier_frac};
  r.multiplier_frac = multiplier_frac;
  r.shift = frac_sum - frac_out;
  r.rounding = rounding;
  for (int64_t i = 0; i < ql.outputs; ++i) {
    const NeuronFormat& f = ql.formats[static_cast<size_t>(i)];
    const std::string where = name + " neuron " + std::to_string(i + 1);
    for (int64_t j = 0; j < ql.inputs; ++j) {
      // eq. (49): the row's codes at the layer's finest weight format (exact).
      const __int128 code = static_cast<__int128>(ql.weight[static_cast<size_t>(i * ql.inputs + j)])
                            << (frac_weight - f.frac_weight);
      w.data.push_back(checked_code(code, where + ": a weight code"));
      w_lo = std::min(w_lo, code);
      w_hi = std::max(w_hi, code);
    }
    // eq. (50): the bias at A* fractional bits (exact).
    r.offset.push_back(checked_code(static_cast<__int128>(ql.bias[static_cast<size_t>(i)]) << (frac_sum - f.frac_acc),
                                    where + ": the bias code"));
  }
  w.format = signed_format(w_lo, w_hi, frac_weight);
  node.weight = std::move(w);

  // The stored codes of the certificate (and the clip code) fit the output format, so the clamp
  // changes nothing on the box except the activation itself (eq. (8)).
  __int128 lo = *std::min_element(lc.code_lo.begin(), lc.code_lo.end());
  __int128 hi = *std::max_element(lc.code_hi.begin(), lc.code_hi.end());
  if (ql.activation != floatnet::Activation::kLinear) lo = std::min<__int128>(lo, 0);
  if (ql.activation == floatnet::Activation::kClippedRelu) hi = std::max<__int128>(hi, ql.clip[0]);
  node.output_format = signed_format(lo, hi, frac_out);
  r.clamp_min = ql.activation == floatnet::Activation::kLinear ? node.output_format.code_min() : 0;
  r.clamp_max = ql.activation == floatnet::Activation::kClippedRelu ? ql.clip[0] : node.output_format.code_max();
  node.requantize = std::move(r);

  const ir::WorstCase worst = ir::worst_case_accumulator(node, {in_format});
  if (!worst.fits(64))
    throw std::invalid_argument(name + ": the worst case of the accumulator over the input format, " + worst.max_str() +
                                ", does not fit 64 bits");
  node.accumulator_bits = worst.fits(32) ? 32 : 64;
  return node;
}

} // namespace

ir::Network to_fixed_point_network(const QuantizedNetwork& q, const Certificate& cert, const std::string& name,
                                   const std::string& source) {
  if (!cert.certified) throw std::invalid_argument("a fixed-point network is written only for certified formats");
  ir::Network net;
  net.name = name;
  net.source = source;
  net.input_shape = {q.inputs()};
  const __int128 in_lo = *std::min_element(q.input_code_lo.begin(), q.input_code_lo.end());
  const __int128 in_hi = *std::max_element(q.input_code_hi.begin(), q.input_code_hi.end());
  net.input_format = signed_format(in_lo, in_hi, common_frac(q.input_frac, "the inputs"));
  Format in_format = net.input_format;
  for (size_t l = 0; l < q.layers.size(); ++l) {
    ir::Node node = dense_node(q.layers[l], cert.layers[l], in_format, q.rounding, l);
    node.inputs = {l == 0 ? net.input_name : net.nodes.back().name};
    in_format = node.output_format;
    net.nodes.push_back(std::move(node));
  }
  net.output = net.nodes.back().name;
  net.validate();
  return net;
}

} // namespace fxnn::synth
