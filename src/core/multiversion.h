#pragma once
// Function multiversioning for hot loops: each marked function is compiled for AVX-512, AVX2 and the
// baseline ISA, and the best is picked at load time, so the binary stays portable (no -march=native)
// while the loop vectorizes on the machine it runs on.

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FXNN_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FXNN_MULTIVERSION
#endif

// The per-element helpers of a multiversioned loop must be inlined into each clone: a call would
// both block vectorization and run at the baseline ISA.
#if defined(__GNUC__)
#define FXNN_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define FXNN_ALWAYS_INLINE inline
#endif
