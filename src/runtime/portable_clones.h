#pragma once
// The runtime's portable kernels (Isa::kPortable): plain loops compiled for x86-64-v3 (AVX2, FMA)
// and for baseline x86-64, the better picked at load time (GCC target_clones). No AVX-512 clone:
// the portable path is what a CPU without AVX-512 runs, and an AVX-512 machine measures that path
// by forcing it (EngineOptions::isa, FXNN_ISA=portable, `fxnn bench infer --isa portable`).

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FXNN_PORTABLE_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define FXNN_PORTABLE_CLONES
#endif
