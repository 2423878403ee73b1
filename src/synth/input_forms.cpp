#include "input_forms.h"

#include "zonotope.h"

namespace fxnn::synth::detail {

std::vector<AffineForms> layer_input_forms(const floatnet::FloatNetwork& net, const NetworkRanges& ranges) {
  std::vector<AffineForms> forms;
  forms.reserve(net.layers.size());
  Zonotope z = input_zonotope(ranges.input_lo, ranges.input_hi);
  for (size_t l = 0; l < net.layers.size(); ++l) {
    // The private radii become shared symbols exactly as the affine map below numbers them.
    forms.push_back(AffineForms{z.center, shared_generators(z)});
    const floatnet::DenseLayer& layer = net.layers[l];
    z = affine(layer.weight, layer.bias, z);
    activate_zonotope(layer, ranges.layers[l].pre_lo, ranges.layers[l].pre_hi, z);
  }
  return forms;
}

Eigen::Index symbol_count(const std::vector<AffineForms>& forms) {
  return forms.empty() ? 0 : forms.back().generators.cols();
}

} // namespace fxnn::synth::detail
