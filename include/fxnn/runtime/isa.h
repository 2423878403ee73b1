#pragma once
// Instruction sets of the optimized kernels, chosen at run time (the binary itself is built for
// baseline x86-64, docs/fixed-point-network.md section 5).

#include <string>

namespace fxnn::runtime {

enum class Isa {
  kPortable,   // plain C++ (baseline x86-64 or any other CPU)
  kAvx2,       // AVX2: 16-bit products with vpmaddwd
  kAvx512,     // AVX-512 F/BW/DQ/VL: the same on 512-bit registers
  kAvx512Vnni, // + VNNI: u8 x s8 -> s32 with vpdpbusd, s16 x s16 -> s32 with vpdpwssd
  kAuto,       // the best this CPU supports
};

/// The best instruction set of this CPU (and operating system).
Isa detect_isa();
/// True when this CPU can run kernels built for `isa`.
bool isa_supported(Isa isa);
/// `isa`, with kAuto replaced by detect_isa(); throws std::runtime_error when unsupported.
Isa resolve_isa(Isa isa);
std::string to_string(Isa isa);
Isa parse_isa(const std::string& text); // portable | avx2 | avx512 | avx512vnni | auto

} // namespace fxnn::runtime
