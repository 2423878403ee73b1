#pragma once
// A 64-byte aligned byte buffer for packed weights and per-thread scratch.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace fxnn::runtime {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t bytes) { resize(bytes); }

  /// Grows to at least `bytes` (contents lost when it grows); never shrinks.
  void resize(size_t bytes) {
    if (bytes <= size_ && data_) return;
    const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment + kAlignment; // slack for vector tails
    void* p = std::aligned_alloc(kAlignment, rounded);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, rounded);
    data_.reset(static_cast<uint8_t*>(p));
    size_ = rounded;
  }
  template <typename T>
  T* as() {
    return reinterpret_cast<T*>(data_.get());
  }
  template <typename T>
  const T* as() const {
    return reinterpret_cast<const T*>(data_.get());
  }
  size_t size() const { return size_; }

 private:
  static constexpr size_t kAlignment = 64;
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t[], Free> data_;
  size_t size_ = 0;
};

} // namespace fxnn::runtime
