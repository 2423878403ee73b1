#include "fxnn/nn/tensor_class.h"

#include <stdexcept>

namespace fxnn {

std::string to_string(TensorClass tensor_class) {
  switch (tensor_class) {
    case TensorClass::kWeight: return "W";
    case TensorClass::kActivation: return "A";
    case TensorClass::kWeightGradient: return "GW";
    case TensorClass::kActivationGradient: return "GA";
    case TensorClass::kAccumulator: return "acc";
  }
  return "?";
}

TensorClass parse_tensor_class(const std::string& text) {
  for (TensorClass c : kAllTensorClasses)
    if (to_string(c) == text) return c;
  throw std::invalid_argument("unknown tensor class '" + text + "' (expected W, A, GW, GA or acc)");
}

} // namespace fxnn
