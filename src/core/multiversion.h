#pragma once
// Function multiversioning for hot loops: each marked function is compiled for AVX-512, AVX2 and the
// baseline ISA, and the best is picked at load time, so the binary stays portable (no -march=native)
// while the loop vectorizes on the machine it runs on.

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FXNN_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FXNN_MULTIVERSION
#endif
