#pragma once
// What the CPU (and the OS) supports, for the kernels chosen at run time: the integer runtime's GEMMs
// and OpenBLAS's kernel family. __builtin_cpu_supports also checks that the OS saves the wide
// registers (XCR0).

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif

namespace fxnn {

/// AVX-512 F, BW, DQ and VL (the Skylake-server set).
inline bool cpu_has_avx512_core() {
#if defined(__x86_64__) && defined(__GNUC__)
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

/// The AVX-512 core set plus VNNI (vpdpbusd).
inline bool cpu_has_avx512_vnni() {
#if defined(__x86_64__) && defined(__GNUC__)
  return cpu_has_avx512_core() && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

/// AMX tiles with the int8 dot products (CPUID leaf 7: AMX-TILE, EDX bit 24; AMX-INT8, EDX bit 25) and
/// the OS saving the tile configuration (XCR0 bit 17). The tile data (bit 18) is enabled per process
/// on request: runtime::isa_supported(Isa::kAvx512Amx) asks for it.
inline bool cpu_has_amx_int8() {
#if defined(__x86_64__) && defined(__GNUC__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  constexpr unsigned kAmxTile = 1u << 24, kAmxInt8 = 1u << 25;
  if ((edx & kAmxTile) == 0 || (edx & kAmxInt8) == 0) return false;
  __cpuid(1, eax, ebx, ecx, edx);
  constexpr unsigned kOsxsave = 1u << 27;
  if ((ecx & kOsxsave) == 0) return false;
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  constexpr unsigned kXtilecfg = 1u << 17;
  return (xcr0_lo & kXtilecfg) != 0;
#else
  return false;
#endif
}

/// AVX2 with FMA (the Haswell set).
inline bool cpu_has_avx2_fma() {
#if defined(__x86_64__) && defined(__GNUC__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

} // namespace fxnn
