#include "fxnn/runtime/isa.h"

#include <cstdlib>
#include <stdexcept>

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "fxnn/core/cpu_features.h"

namespace fxnn::runtime {
namespace {

/// Linux enables the AMX tile data state per process on request (the kernel's
/// Documentation/arch/x86/xstate.rst): arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA).
bool amx_permitted() {
#if defined(__linux__) && defined(__x86_64__)
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  static const bool permitted = syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  return permitted;
#else
  return false;
#endif
}

} // namespace

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::kPortable:
    case Isa::kAuto: return true;
    case Isa::kAvx512Vnni: return cpu_has_avx512_vnni();
    case Isa::kAvx512Amx: return cpu_has_avx512_vnni() && cpu_has_amx_int8() && amx_permitted();
  }
  return false;
}

Isa detect_isa() {
  if (isa_supported(Isa::kAvx512Amx)) return Isa::kAvx512Amx;
  return isa_supported(Isa::kAvx512Vnni) ? Isa::kAvx512Vnni : Isa::kPortable;
}

Isa vector_isa(Isa isa) { return isa == Isa::kAvx512Amx ? Isa::kAvx512Vnni : isa; }

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
    case Isa::kAvx512Amx: return "avx512amx";
    case Isa::kAuto: return "auto";
  }
  return "?";
}

Isa parse_isa(const std::string& text) {
  if (text == "portable") return Isa::kPortable;
  if (text == "avx512vnni") return Isa::kAvx512Vnni;
  if (text == "avx512amx") return Isa::kAvx512Amx;
  if (text == "auto") return Isa::kAuto;
  throw std::invalid_argument("unknown instruction set '" + text + "' (portable | avx512vnni | avx512amx | auto)");
}

} // namespace fxnn::runtime
