#pragma once
// OpenBLAS chooses its kernels from the CPU's model number. Virtual machines that mask the model
// (CPUID "Intel(R) Xeon(R) Processor") make its runtime dispatch fall back to the Prescott (SSE3)
// kernels although AVX-512 is there: dgemm then runs 4.8x slower here (15 vs 72 GFLOPS, see
// docs/performance.md). The choice is read from OPENBLAS_CORETYPE once, when the library loads,
// before main(); so the CLI re-executes itself once with the variable set.

#include <optional>
#include <string>

namespace fxnn {

/// What the kernel choice depends on: OpenBLAS's own pick and what the CPU (and the OS) supports.
struct BlasCpu {
  std::string detected_core; ///< openblas_get_corename(); empty when the BLAS is not OpenBLAS
  bool avx512 = false;       ///< AVX-512 F, BW, DQ and VL, with the OS saving the registers
  bool avx2_fma = false;
};

/// The OpenBLAS core type to ask for, or nothing when OpenBLAS's own choice should stay: only its
/// generic fallback (Prescott) is replaced, never a model it recognised.
std::optional<std::string> faster_blas_core(const BlasCpu& cpu);

/// The running process's BLAS and CPU.
BlasCpu current_blas_cpu();

/// OpenBLAS's kernel family in use ("SkylakeX", "Prescott"), or "not OpenBLAS".
std::string blas_core_in_use();

/// When faster_blas_core() names a better core and OPENBLAS_CORETYPE is unset, sets it and replaces
/// the process by a fresh run of the same executable with the same arguments (returns only when
/// nothing is to be done or exec failed). FXNN_KEEP_BLAS_CORE=1 turns this off.
void reexec_with_faster_blas(char** argv);

} // namespace fxnn
