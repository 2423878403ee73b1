#pragma once
// Writes small data files in the official formats, for the reader and load_dataset tests.

#include <gtest/gtest.h>
#include <matio.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fxnn/data/dataset.h"
#include "temp_dir.h"

namespace fxnn::data::testing {

/// A fresh folder per test, removed at the end.
using ScratchDir = fxnn::testing_support::TempDir;

using Bytes = std::vector<uint8_t>;

/// The options that load `dataset` from the folder `path`, everything else at its default.
inline DataOptions data_options(const std::string& dataset, const std::string& path) {
  DataOptions o;
  o.dataset = dataset;
  o.path = path;
  return o;
}

inline void write_bytes(const std::string& path, const Bytes& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline void write_gzip(const std::string& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  const int written = gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  if (written != static_cast<int>(bytes.size())) throw std::runtime_error("gzwrite failed: " + path);
}

inline void put_be32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

/// A pixel value that differs between images, rows, columns and channels, so that a transposed,
/// mirrored, channel-swapped or misaligned image cannot compare equal.
inline uint8_t pattern(int64_t n, int64_t c, int64_t h, int64_t w) {
  return static_cast<uint8_t>((n * 37 + c * 101 + h * 11 + w * 3 + h * w) % 251);
}

/// IDX3 images [n, rows, cols] with pattern(i, 0, h, w).
inline Bytes idx_images(uint32_t n, uint32_t rows = 28, uint32_t cols = 28) {
  Bytes out;
  put_be32(out, 0x00000803);
  put_be32(out, n);
  put_be32(out, rows);
  put_be32(out, cols);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t h = 0; h < rows; ++h)
      for (uint32_t w = 0; w < cols; ++w) out.push_back(pattern(i, 0, h, w));
  return out;
}

/// IDX1 labels: label of sample i is (i * 3) % classes.
inline Bytes idx_labels(uint32_t n, uint32_t classes = 10) {
  Bytes out;
  put_be32(out, 0x00000801);
  put_be32(out, n);
  for (uint32_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>((i * 3) % classes));
  return out;
}

/// CIFAR records with pattern(first + i, c, h, w) pixels; `labels` gives each record's label
/// byte(s) (1 for CIFAR-10, 2 for CIFAR-100: coarse, fine).
inline Bytes cifar_records(const std::vector<std::vector<uint8_t>>& labels, int64_t first = 0) {
  Bytes out;
  for (size_t i = 0; i < labels.size(); ++i) {
    out.insert(out.end(), labels[i].begin(), labels[i].end());
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t h = 0; h < 32; ++h)
        for (int64_t w = 0; w < 32; ++w) out.push_back(pattern(first + int64_t(i), c, h, w));
  }
  return out;
}

/// An SVHN-style .mat (MATLAB v5): X uint8 [h, w, 3, n] column-major with pattern(i, c, y, x) at
/// X(y, x, c, i), and y as `y_class` holding `labels` (n x 1).
inline void write_svhn_mat(const std::string& path, size_t n, const std::vector<double>& labels, size_t height = 32,
                           size_t width = 32, matio_classes y_class = MAT_C_DOUBLE) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::vector<uint8_t> x(height * width * 3 * n);
  for (size_t i = 0; i < n; ++i)
    for (size_t c = 0; c < 3; ++c)
      for (size_t w = 0; w < width; ++w)
        for (size_t h = 0; h < height; ++h)
          x[h + height * (w + width * (c + 3 * i))] = pattern(int64_t(i), int64_t(c), int64_t(h), int64_t(w));
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  if (mat == nullptr) throw std::runtime_error("cannot create " + path);
  size_t x_dims[4] = {height, width, 3, n};
  matvar_t* xv = Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, 4, x_dims, x.data(), MAT_F_DONT_COPY_DATA);
  Mat_VarWrite(mat, xv, MAT_COMPRESSION_NONE);
  Mat_VarFree(xv);
  size_t y_dims[2] = {labels.size(), 1};
  std::vector<uint8_t> y_u8(labels.begin(), labels.end());
  matvar_t* yv = y_class == MAT_C_UINT8
                     ? Mat_VarCreate("y", MAT_C_UINT8, MAT_T_UINT8, 2, y_dims, y_u8.data(), MAT_F_DONT_COPY_DATA)
                     : Mat_VarCreate("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, y_dims, const_cast<double*>(labels.data()),
                                     MAT_F_DONT_COPY_DATA);
  Mat_VarWrite(mat, yv, MAT_COMPRESSION_NONE);
  Mat_VarFree(yv);
  Mat_Close(mat);
}

/// Encodes an interleaved image (channels 1 or 3, HWC) as a JPEG file (4:4:4, or gray).
inline void write_jpeg(const std::string& path, const std::vector<uint8_t>& hwc, int height, int width, int channels,
                       int quality = 100) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  tjhandle tj = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(tj, hwc.data(), width, 0, height, channels == 1 ? TJPF_GRAY : TJPF_RGB, &jpeg, &size,
                             channels == 1 ? TJSAMP_GRAY : TJSAMP_444, quality, TJFLAG_ACCURATEDCT);
  if (rc != 0) throw std::runtime_error(std::string("tjCompress2: ") + tjGetErrorStr2(tj));
  write_bytes(path, Bytes(jpeg, jpeg + size));
  tjFree(jpeg);
  tjDestroy(tj);
}

/// A flat-colour RGB image (JPEG keeps flat colours almost exactly at quality 100).
inline std::vector<uint8_t> flat_rgb(int height, int width, uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> out;
  for (int i = 0; i < height * width; ++i) out.insert(out.end(), {r, g, b});
  return out;
}

/// Runs `f` and returns the message of the std::runtime_error it throws ("" if none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) { return e.what(); }
  return "";
}

} // namespace fxnn::data::testing
