#include "fxnn/runtime/isa.h"

#include <cstdlib>
#include <stdexcept>

#include "fxnn/core/cpu_features.h"

namespace fxnn::runtime {

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::kPortable:
    case Isa::kAuto: return true;
    case Isa::kAvx512Vnni: return cpu_has_avx512_vnni();
  }
  return false;
}

Isa detect_isa() { return isa_supported(Isa::kAvx512Vnni) ? Isa::kAvx512Vnni : Isa::kPortable; }

Isa resolve_isa(Isa isa) {
  if (isa == Isa::kAuto) {
    const char* forced = std::getenv(kIsaVariable);
    if (forced && *forced) {
      try {
        isa = parse_isa(forced);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string(kIsaVariable) + ": " + e.what());
      }
    }
    if (isa == Isa::kAuto) return detect_isa();
  }
  if (!isa_supported(isa))
    throw std::runtime_error("instruction set " + to_string(isa) + " is not supported by this CPU");
  return isa;
}

std::string to_string(Isa isa) {
  switch (isa) {
    case Isa::kPortable: return "portable";
    case Isa::kAvx512Vnni: return "avx512vnni";
    case Isa::kAuto: return "auto";
  }
  return "?";
}

Isa parse_isa(const std::string& text) {
  if (text == "portable") return Isa::kPortable;
  if (text == "avx512vnni") return Isa::kAvx512Vnni;
  if (text == "auto") return Isa::kAuto;
  throw std::invalid_argument("unknown instruction set '" + text + "' (portable | avx512vnni | auto)");
}

} // namespace fxnn::runtime
