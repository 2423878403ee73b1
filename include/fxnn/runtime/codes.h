#pragma once
// A batch of integer codes of one format, stored in the narrowest integer type that holds the
// format: the tensors that flow between the kernels of the integer runtime.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fxnn/core/format.h"

namespace fxnn::runtime {

/// Storage types: uint8 for formats within [0, 255], int8 within [-128, 127], then int16/32/64.
enum class DType : uint8_t { kU8, kI8, kI16, kI32, kI64 };

DType storage_type(const Format& format);
int element_size(DType dtype);
std::string to_string(DType dtype);

/// Memory order of a 4-D batch [N, C, H, W]: channels first (NCHW, the order of the IR and of the
/// files) or channels last (NHWC, the order the optimized convolutions read and write). Tensors of
/// another rank are always in their canonical row-major order.
enum class Layout : uint8_t { kChannelsFirst, kChannelsLast };

class Codes {
 public:
  Codes() = default;
  /// Shape includes the batch: [N, ...per-sample shape], always listed in canonical (NCHW) order.
  Codes(const Format& format, std::vector<int64_t> shape, Layout layout = Layout::kChannelsFirst);

  /// Re-describes the tensor, reusing the allocation when it is large enough (contents undefined).
  void reset(const Format& format, std::vector<int64_t> shape, Layout layout = Layout::kChannelsFirst);

  /// Codes in canonical order (any integer type), range-checked against the format: throws
  /// std::out_of_range naming the first bad index.
  template <typename T>
  static Codes from_values(const Format& format, std::vector<int64_t> shape, const T* values);

  const Format& format() const { return format_; }
  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  Layout layout() const { return layout_; }
  bool channels_last() const { return layout_ == Layout::kChannelsLast && shape_.size() == 4; }
  int64_t numel() const { return numel_; }
  int64_t batch() const { return shape_.empty() ? 0 : shape_[0]; }

  /// Typed access; T must be the storage type (checked).
  template <typename T>
  T* data();
  template <typename T>
  const T* data() const;
  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }

  /// Element i in memory order, widened (slow; for reference kernels and tests).
  int64_t get(int64_t i) const;
  void set(int64_t i, int64_t value);

  /// All codes in canonical (channels-first) order.
  std::vector<int64_t> to_int64() const;
  /// The same codes in the other memory order (a copy; the same tensor when already in `layout`).
  Codes with_layout(Layout layout) const;

  Codes(const Codes& other);
  Codes& operator=(const Codes& other);
  Codes(Codes&&) noexcept = default;
  Codes& operator=(Codes&&) noexcept = default;

 private:
  struct Free {
    void operator()(void* p) const;
  };
  Format format_;
  DType dtype_ = DType::kI64;
  std::vector<int64_t> shape_;
  Layout layout_ = Layout::kChannelsFirst;
  int64_t numel_ = 0;
  size_t capacity_ = 0; // bytes
  std::unique_ptr<uint8_t[], Free> storage_;
};

} // namespace fxnn::runtime
