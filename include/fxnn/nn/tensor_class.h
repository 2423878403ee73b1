#pragma once
// The classes of tensors a layer quantizes: plain C++, so that precision plans parse without a network.

#include <string>

namespace fxnn {

/// The five tensors of every layer (spec section 1).
enum class TensorClass { kWeight, kActivation, kWeightGradient, kActivationGradient, kAccumulator };

/// "W", "A", "GW", "GA", "acc": the suffix of point names and the keys of precision plans.
std::string to_string(TensorClass tensor_class);
/// Throws std::invalid_argument naming the text for anything else.
TensorClass parse_tensor_class(const std::string& text);
inline constexpr TensorClass kAllTensorClasses[] = {TensorClass::kWeight, TensorClass::kActivation,
                                                    TensorClass::kWeightGradient, TensorClass::kActivationGradient,
                                                    TensorClass::kAccumulator};

} // namespace fxnn
