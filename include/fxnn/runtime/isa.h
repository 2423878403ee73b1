#pragma once
// Instruction sets of the optimized kernels, chosen at run time: the binary itself is built for
// baseline x86-64 (docs/fixed-point-network.md, section 5).

#include <string>

namespace fxnn::runtime {

enum class Isa {
  kPortable,   // plain C++ loops compiled for AVX2 and baseline x86-64 (target_clones), no AVX-512
  kAvx512Vnni, // AVX-512 F/BW/DQ/VL + VNNI intrinsics: u8 x s8 -> s32 (vpdpbusd), s16 x s16 -> s32 (vpdpwssd)
  kAvx512Amx,  // kAvx512Vnni, and the u8s8 direct convolutions on AMX tiles (tdpbusd: 16 x 16 x 64 per instruction)
  kAuto,       // the environment variable FXNN_ISA when set, else the best this CPU supports
};

/// The environment variable that chooses the instruction set of kAuto: portable | avx512vnni | avx512amx | auto.
inline constexpr const char* kIsaVariable = "FXNN_ISA";

/// The best instruction set of this CPU (and operating system).
Isa detect_isa();
/// True when this CPU can run kernels built for `isa`. For kAvx512Amx this asks Linux, once per
/// process, for the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM), without which a tile
/// instruction faults.
bool isa_supported(Isa isa);
/// The instruction set of every kernel but the direct convolution: kAvx512Amx runs as kAvx512Vnni.
Isa vector_isa(Isa isa);
/// `isa`, with kAuto replaced by $FXNN_ISA when set (and not "auto"), else by detect_isa(); throws
/// std::invalid_argument for an unknown $FXNN_ISA and std::runtime_error when unsupported.
Isa resolve_isa(Isa isa);
std::string to_string(Isa isa);
/// portable | avx512vnni | avx512amx | auto; throws std::invalid_argument naming the text.
Isa parse_isa(const std::string& text);

} // namespace fxnn::runtime
