#pragma once
// The small seeded generator behind shuffling, subsets and augmentation (private to src/data).
// Its output is fully specified here (unlike std::uniform_int_distribution, whose algorithm is up
// to the standard library), so epochs, subsets and augmentations are the same on every platform and
// every rank, and it never touches torch's global generator.

#include <cstdint>

namespace fxnn::data::detail {

/// SplitMix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators", OOPSLA 2014),
/// the generator that seeds xoshiro; good enough for shuffling and three draws per image.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, bound), bound > 0, without modulo bias (Lemire's multiply-and-reject, 2019).
  uint64_t uniform_below(uint64_t bound) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * bound;
    auto low = static_cast<uint64_t>(m);
    if (low < bound) {
      const uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * bound;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  uint64_t state_;
};

/// A seed for one stream out of several inputs (seed, epoch, sample): each input goes through a
/// full SplitMix64 round so that neighbouring epochs or samples give unrelated streams.
inline uint64_t mix_seed(uint64_t a, uint64_t b) { return SplitMix64(SplitMix64(a).next() ^ b).next(); }
inline uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) { return mix_seed(mix_seed(a, b), c); }

} // namespace fxnn::data::detail
