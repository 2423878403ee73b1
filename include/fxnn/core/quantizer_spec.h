#pragma once
// What one quantization point does: a format and a rounding mode.

#include "fxnn/core/format.h"
#include "fxnn/core/rounding.h"

namespace fxnn {

struct QuantizerSpec {
  Format format;
  Rounding rounding = Rounding::kNearest;

  bool operator==(const QuantizerSpec& o) const { return format == o.format && rounding == o.rounding; }
  bool operator!=(const QuantizerSpec& o) const { return !(*this == o); }
};

} // namespace fxnn
