// SVHN cropped digits (http://ufldl.stanford.edu/housenumbers/, "Format 2"): a MATLAB file with
// X, uint8 of size 32x32x3xN, and y, Nx1 labels 1..10 where 10 stands for the digit 0.

#include <matio.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

#include "files.h"
#include "fxnn/data/readers.h"
#include "mat5_check.h"

namespace fxnn::data {
namespace {

constexpr int64_t kChannels = 3;
constexpr int64_t kNumClasses = 10;
constexpr int64_t kZeroDigitLabel = 10; // SVHN writes the digit 0 as class 10

struct MatCloser {
  void operator()(mat_t* mat) const { Mat_Close(mat); }
};
struct VarFreer {
  void operator()(matvar_t* var) const { Mat_VarFree(var); }
};
using MatVar = std::unique_ptr<matvar_t, VarFreer>;

std::string dims_string(const matvar_t& var) {
  std::string s;
  for (int d = 0; d < var.rank; ++d) s += (d ? "x" : "") + std::to_string(var.dims[d]);
  return s;
}

MatVar read_variable(mat_t* mat, const char* name, const std::string& path) {
  MatVar var(Mat_VarRead(mat, name));
  if (!var) { throw std::runtime_error(path + ": variable '" + std::string(name) + "' is missing or cannot be read"); }
  if (var->isComplex || var->data == nullptr) {
    throw std::runtime_error(path + ": variable '" + std::string(name) + "' is not a real numeric array");
  }
  return var;
}

// Mat_VarRead converts the stored data type to the variable's class, so `data` holds elements of
// the class type.
template <typename T>
double element(const matvar_t& var, size_t i) {
  return static_cast<double>(static_cast<const T*>(var.data)[i]);
}

double numeric_element(const matvar_t& var, size_t i, const std::string& path) {
  switch (var.class_type) {
    case MAT_C_DOUBLE: return element<double>(var, i);
    case MAT_C_SINGLE: return element<float>(var, i);
    case MAT_C_INT8: return element<int8_t>(var, i);
    case MAT_C_UINT8: return element<uint8_t>(var, i);
    case MAT_C_INT16: return element<int16_t>(var, i);
    case MAT_C_UINT16: return element<uint16_t>(var, i);
    case MAT_C_INT32: return element<int32_t>(var, i);
    case MAT_C_UINT32: return element<uint32_t>(var, i);
    case MAT_C_INT64: return element<int64_t>(var, i);
    case MAT_C_UINT64: return element<uint64_t>(var, i);
    default:
      throw std::runtime_error(path + ": variable '" + std::string(var.name ? var.name : "?") +
                               "' has a non-numeric class (" + std::to_string(var.class_type) + ")");
  }
}

} // namespace

ImageDataset read_svhn_mat(const std::string& file) {
  {
    // matio allocates what the headers announce: a damaged header is refused before it reads one.
    const detail::MappedFile mapped(file);
    detail::check_mat5_file(mapped.data(), mapped.size(), file);
  }
  std::unique_ptr<mat_t, MatCloser> mat(Mat_Open(file.c_str(), MAT_ACC_RDONLY));
  if (!mat) throw std::runtime_error("cannot open '" + file + "' as a MATLAB file");

  const MatVar x = read_variable(mat.get(), "X", file);
  if (x->class_type != MAT_C_UINT8 || x->rank != 4 || x->dims[2] != size_t{kChannels}) {
    throw std::runtime_error(file + ": variable 'X' must be uint8 HxWx3xN, found class " +
                             std::to_string(x->class_type) + " of size " + dims_string(*x));
  }
  const auto height = static_cast<int64_t>(x->dims[0]);
  const auto width = static_cast<int64_t>(x->dims[1]);
  const auto n = static_cast<int64_t>(x->dims[3]);
  if (height == 0 || width == 0 || n == 0) {
    throw std::runtime_error(file + ": variable 'X' is empty (" + dims_string(*x) + ")");
  }

  const MatVar y = read_variable(mat.get(), "y", file);
  // Nx1 as written by MATLAB; a 1xN row is the same list of labels.
  const bool list = y->rank == 2 && (y->dims[0] == 1 || y->dims[1] == 1);
  if (!list || static_cast<int64_t>(y->dims[0] * y->dims[1]) != n) {
    throw std::runtime_error(file + ": variable 'y' must be " + std::to_string(n) + "x1 to match X (" +
                             dims_string(*x) + "), found " + dims_string(*y));
  }

  ImageDataset out;
  out.labels = torch::empty({n}, torch::kInt64);
  auto* labels = out.labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const double v = numeric_element(*y, static_cast<size_t>(i), file);
    if (!(v >= 1 && v <= kZeroDigitLabel) || v != std::floor(v)) {
      throw std::runtime_error(file + ": variable 'y' has label " + std::to_string(v) + " at index " +
                               std::to_string(i) + " (expected 1..10)");
    }
    labels[i] = static_cast<int64_t>(v) % kZeroDigitLabel;
  }

  // MATLAB stores X column-major: X(h, w, c, n) is element h + H*(w + W*(c + 3*n)). Within one
  // (n, c) plane that is the transpose of the row-major [H, W] layout we want.
  out.images = torch::empty({n, kChannels, height, width}, torch::kUInt8);
  const auto* src = static_cast<const uint8_t*>(x->data);
  auto* dst = out.images.data_ptr<uint8_t>();
  const int64_t planes = n * kChannels;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    const uint8_t* in = src + p * height * width;
    uint8_t* o = dst + p * height * width;
    for (int64_t h = 0; h < height; ++h) {
      for (int64_t w = 0; w < width; ++w) o[h * width + w] = in[w * height + h];
    }
  }
  out.num_classes = kNumClasses;
  out.source = file;
  return out;
}

} // namespace fxnn::data
