#pragma once
// What the CPU (and the OS) supports, for the kernels chosen at run time: the integer runtime's GEMMs
// and OpenBLAS's kernel family. __builtin_cpu_supports also checks that the OS saves the wide
// registers (XCR0).

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

/// AVX2 with FMA (the Haswell set).
inline bool cpu_has_avx2_fma() {
#if defined(__x86_64__) && defined(__GNUC__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

} // namespace fxnn
