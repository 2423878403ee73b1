#pragma once
// What one quantization point does: a format, a rounding mode and, for grids that are not powers of
// two, a scale.

#include "fxnn/core/format.h"
#include "fxnn/core/rounding.h"

namespace fxnn {

struct QuantizerSpec {
  Format format;
  Rounding rounding = Rounding::kNearest;
  /// The grid is `scale` times the format's: Q(x) = scale * Q_format(x / scale) (docs/number-system.md
  /// section 5). 1 for fixed point; another positive value for the float-step grids of low-bit
  /// fine-tuning (weights and activations only, see docs/precision-plan.md).
  double scale = 1.0;
  /// The scale is trained (learned step size, docs/lowbit.md section 7): `scale` is where it starts,
  /// the optimizer moves it (W and A points only).
  bool learned = false;

  bool scaled() const { return scale != 1.0 || learned; }
  bool operator==(const QuantizerSpec& o) const {
    return format == o.format && rounding == o.rounding && scale == o.scale && learned == o.learned;
  }
  bool operator!=(const QuantizerSpec& o) const { return !(*this == o); }
};

} // namespace fxnn
