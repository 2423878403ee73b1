#pragma once
// Rounding modes shared by the simulation, the integer runtime and generated code.

#include <string>

namespace fxnn {

/// How a real value is mapped onto the grid of a Format (docs/number-system.md section 2).
enum class Rounding {
  kNearest,    // round half up: q = floor(y + 1/2); the ONE tie rule of fxnn, eq. (5)
  kStochastic, // q = floor(y) + [u < y - floor(y)], u uniform in [0,1) from a seeded hash, eq. (7)
  kFloor,      // truncation toward minus infinity: q = floor(y), eq. (6)
};

Rounding parse_rounding(const std::string& text); // "nearest" | "stochastic" | "floor"
std::string to_string(Rounding rounding);

} // namespace fxnn
