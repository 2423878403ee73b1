#include "fxnn/core/rounding.h"

#include <stdexcept>

namespace fxnn {

Rounding parse_rounding(const std::string& text) {
  if (text == "nearest") return Rounding::kNearest;
  if (text == "stochastic") return Rounding::kStochastic;
  if (text == "floor") return Rounding::kFloor;
  throw std::invalid_argument("unknown rounding '" + text + "' (expected nearest, stochastic or floor)");
}

std::string to_string(Rounding rounding) {
  switch (rounding) {
    case Rounding::kNearest: return "nearest";
    case Rounding::kStochastic: return "stochastic";
    case Rounding::kFloor: return "floor";
  }
  return "?";
}

} // namespace fxnn
