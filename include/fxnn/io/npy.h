#pragma once
// NumPy .npy files of signed integers (format 1.0 written; 1.0 and 2.0 read), the arrays of the
// fixed-point network folder (docs/fixed-point-network.md, section 3). Plain C++.

#include <cstdint>
#include <string>
#include <vector>

namespace fxnn::io {

/// The element types fxnn writes and reads: little-endian signed integers.
enum class NpyDType { kInt8, kInt16, kInt32, kInt64 };

std::string npy_descr(NpyDType dtype); // "|i1", "<i2", "<i4", "<i8"
int npy_itemsize(NpyDType dtype);      // 1, 2, 4, 8
/// The narrowest of int8/int16/int32/int64 whose range holds [lo, hi].
NpyDType narrowest_npy_dtype(int64_t lo, int64_t hi);

/// An array read from or written to a .npy file; values widened to int64, C order.
struct NpyArray {
  std::vector<int64_t> shape; // () for a scalar
  NpyDType dtype = NpyDType::kInt64;
  std::vector<int64_t> data;
};

/// The bytes of a .npy file (format 1.0, C order). Throws std::invalid_argument when a value does
/// not fit the dtype or the data size disagrees with the shape.
std::string encode_npy(const NpyArray& array);

/// Parses the bytes of a .npy file. Strict: magic, version 1.0 or 2.0, a header dict with exactly
/// 'descr' (one of '|i1', '<i1', '<i2', '<i4', '<i8'), 'fortran_order': False and 'shape', and
/// exactly the data the shape needs. Throws std::runtime_error starting with `what` (the file name).
NpyArray decode_npy(const std::string& bytes, const std::string& what);

/// Atomic write (io/atomic_file.h) and read of a file; errors name the path.
void save_npy(const std::string& path, const NpyArray& array);
NpyArray load_npy(const std::string& path);

} // namespace fxnn::io
