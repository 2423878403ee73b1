#pragma once
// Independent, reproducible random streams from one seed.

#include <cstdint>
#include <string_view>

namespace fxnn {

/// splitmix64 of seed + (stream + 1) * golden ratio: a different well-mixed 64-bit seed for every
/// stream (epoch, step, micro-batch, quantization point, ...) of one run seed.
constexpr uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + (stream + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// FNV-1a of a name: a stream index that is the same on every compiler and platform.
constexpr uint64_t hash_name(std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return h;
}

} // namespace fxnn
