#include "fxnn/core/blas_kernels.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>

#include "fxnn/core/cpu_features.h"

namespace fxnn {

std::optional<std::string> faster_blas_core(const BlasCpu& cpu) {
  // OpenBLAS's DYNAMIC_ARCH dispatch falls back to Prescott when it does not know the CPU model.
  if (cpu.detected_core != "Prescott") return std::nullopt;
  if (cpu.avx512) return std::string("SkylakeX");
  if (cpu.avx2_fma) return std::string("Haswell");
  return std::nullopt;
}

BlasCpu current_blas_cpu() {
  BlasCpu cpu;
  using CoreName = char* (*)();
  // Looked up at run time: the BLAS is whatever libblas.so.3 points to (reference BLAS has no such symbol).
  if (auto name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename")))
    if (const char* core = name()) cpu.detected_core = core;
  cpu.avx512 = cpu_has_avx512_core();
  cpu.avx2_fma = cpu_has_avx2_fma();
  return cpu;
}

std::string blas_core_in_use() {
  const std::string core = current_blas_cpu().detected_core;
  return core.empty() ? "not OpenBLAS" : core;
}

void reexec_with_faster_blas(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("FXNN_KEEP_BLAS_CORE")) return;
  const auto core = faster_blas_core(current_blas_cpu());
  if (!core) return;
  setenv("OPENBLAS_CORETYPE", core->c_str(), 1);
  execv("/proc/self/exe", argv);
  // exec failed (no /proc): keep running with the slow kernels rather than not at all.
}

} // namespace fxnn
