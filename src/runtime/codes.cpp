#include "fxnn/runtime/codes.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "dtype_dispatch.h"

namespace fxnn::runtime {

namespace {

// Cache-line alignment: the kernels' vector loads never straddle a line at the start of a tensor.
constexpr size_t kAlignment = 64;

int64_t product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("Codes: negative dimension " + std::to_string(d));
    n *= d;
  }
  return n;
}

} // namespace

DType storage_type(const Format& format) {
  const int64_t lo = format.code_min(), hi = format.code_max();
  if (lo >= 0 && hi <= 255) return DType::kU8;
  if (lo >= -128 && hi <= 127) return DType::kI8;
  if (lo >= INT16_MIN && hi <= INT16_MAX) return DType::kI16;
  if (lo >= INT32_MIN && hi <= INT32_MAX) return DType::kI32;
  return DType::kI64;
}

int element_size(DType dtype) {
  return visit(dtype, [](auto tag) { return static_cast<int>(sizeof(tag)); });
}

std::string to_string(DType dtype) {
  switch (dtype) {
    case DType::kU8: return "u8";
    case DType::kI8: return "i8";
    case DType::kI16: return "i16";
    case DType::kI32: return "i32";
    case DType::kI64: return "i64";
  }
  return "?";
}

void Codes::Free::operator()(void* p) const { std::free(p); }

Codes::Codes(const Format& format, std::vector<int64_t> shape, Layout layout) {
  reset(format, std::move(shape), layout);
}

void Codes::reset(const Format& format, std::vector<int64_t> shape, Layout layout) {
  format_ = format;
  dtype_ = storage_type(format);
  numel_ = product(shape);
  shape_ = std::move(shape);
  layout_ = layout;
  const size_t bytes = static_cast<size_t>(numel_) * static_cast<size_t>(element_size(dtype_));
  if (bytes > capacity_ || !storage_) {
    const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment + kAlignment; // slack for vector tails
    void* p = std::aligned_alloc(kAlignment, rounded);
    if (!p) throw std::bad_alloc();
    storage_.reset(static_cast<uint8_t*>(p));
    capacity_ = rounded;
  }
}

Codes::Codes(const Codes& other) { *this = other; }

Codes& Codes::operator=(const Codes& other) {
  if (this == &other) return *this;
  reset(other.format_, other.shape_, other.layout_);
  std::memcpy(raw(), other.raw(), static_cast<size_t>(numel_) * static_cast<size_t>(element_size(dtype_)));
  return *this;
}

template <typename T>
T* Codes::data() {
  if (dtype_of<T>() != dtype_)
    throw std::logic_error("Codes::data: stored as " + to_string(dtype_) + ", asked as " + to_string(dtype_of<T>()));
  return reinterpret_cast<T*>(storage_.get());
}

template <typename T>
const T* Codes::data() const {
  return const_cast<Codes*>(this)->data<T>();
}

int64_t Codes::get(int64_t i) const {
  return visit(dtype_, [&](auto tag) { return static_cast<int64_t>(data<decltype(tag)>()[i]); });
}

void Codes::set(int64_t i, int64_t value) {
  visit(dtype_, [&](auto tag) { data<decltype(tag)>()[i] = static_cast<decltype(tag)>(value); });
}

Codes Codes::with_layout(Layout layout) const {
  if (shape_.size() != 4 || layout == layout_) {
    Codes copy(*this);
    copy.layout_ = layout;
    return copy;
  }
  Codes out(format_, shape_, layout);
  const int64_t n = shape_[0], c = shape_[1], hw = shape_[2] * shape_[3];
  visit(dtype_, [&](auto tag) {
    using T = decltype(tag);
    const T* src = data<T>();
    T* dst = out.data<T>();
    for (int64_t s = 0; s < n; ++s)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t p = 0; p < hw; ++p) {
          const int64_t first = (s * c + ch) * hw + p, last = (s * hw + p) * c + ch;
          if (layout == Layout::kChannelsLast)
            dst[last] = src[first];
          else
            dst[first] = src[last];
        }
  });
  return out;
}

std::vector<int64_t> Codes::to_int64() const {
  const Codes canonical = channels_last() ? with_layout(Layout::kChannelsFirst) : Codes();
  const Codes& src = channels_last() ? canonical : *this;
  std::vector<int64_t> out(static_cast<size_t>(numel_));
  visit(dtype_, [&](auto tag) {
    const auto* p = src.data<decltype(tag)>();
    for (int64_t i = 0; i < numel_; ++i) out[static_cast<size_t>(i)] = p[i];
  });
  return out;
}

template <typename V>
Codes Codes::from_values(const Format& format, std::vector<int64_t> shape, const V* values) {
  Codes out(format, std::move(shape));
  const int64_t lo = format.code_min(), hi = format.code_max();
  for (int64_t i = 0; i < out.numel_; ++i) {
    const auto v = static_cast<int64_t>(values[i]);
    if (v < lo || v > hi)
      throw std::out_of_range("code " + std::to_string(v) + " at index " + std::to_string(i) +
                              " is outside the format " + format.str() + " [" + std::to_string(lo) + ", " +
                              std::to_string(hi) + "]");
  }
  visit(out.dtype_, [&](auto tag) {
    using T = decltype(tag);
    T* p = out.data<T>();
    for (int64_t i = 0; i < out.numel_; ++i) p[i] = static_cast<T>(values[i]);
  });
  return out;
}

#define FXNN_CODES_INSTANTIATE(T)           \
  template T* Codes::data<T>();             \
  template const T* Codes::data<T>() const; \
  template Codes Codes::from_values<T>(const Format&, std::vector<int64_t>, const T*);
FXNN_CODES_INSTANTIATE(uint8_t)
FXNN_CODES_INSTANTIATE(int8_t)
FXNN_CODES_INSTANTIATE(int16_t)
FXNN_CODES_INSTANTIATE(int32_t)
FXNN_CODES_INSTANTIATE(int64_t)
#undef FXNN_CODES_INSTANTIATE

} // namespace fxnn::runtime
