#pragma once
// Calls a generic lambda with a value of the C++ type of a storage DType, so that one template
// serves every storage type: visit(dtype, [&](auto tag) { using T = decltype(tag); ... }).

#include <cstdint>

#include "fxnn/runtime/codes.h"

namespace fxnn::runtime {

template <typename F>
decltype(auto) visit(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kU8: return f(uint8_t{});
    case DType::kI8: return f(int8_t{});
    case DType::kI16: return f(int16_t{});
    case DType::kI32: return f(int32_t{});
    case DType::kI64: break;
  }
  return f(int64_t{});
}

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::kU8;
}
template <>
constexpr DType dtype_of<int8_t>() {
  return DType::kI8;
}
template <>
constexpr DType dtype_of<int16_t>() {
  return DType::kI16;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::kI32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::kI64;
}

} // namespace fxnn::runtime
