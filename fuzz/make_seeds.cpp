// Writes the seed corpus of every fuzz target: the real files where the project has them
// (../shared/data/controllers, configs/, a few CIFAR-10 JPEGs, the first Fashion-MNIST images) and
// small generated inputs of each format, in the part layout of fuzz/fuzz_input.h. Never the data sets
// themselves: a handful of records per file keeps each input small and the fuzzer fast.
//
// Usage: fxnn_fuzz_seeds OUT_DIR SOURCE_DIR     (SOURCE_DIR: the repository; ../shared next to it)

#include <matio.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "fxnn/io/npy.h"
#include "fxnn/ir/network_files.h"
#include "fxnn/ir/worst_case.h"

namespace fs = std::filesystem;
using fxnn::fuzz::join_parts;

namespace {

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class SeedWriter {
 public:
  explicit SeedWriter(fs::path out) : out_(std::move(out)) {}
  void add(const std::string& target, const std::string& name, const std::string& bytes) {
    fxnn::fuzz::write_file((out_ / target / name).string(), bytes);
    ++count_;
  }
  int count() const { return count_; }

 private:
  fs::path out_;
  int count_ = 0;
};

void put_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

std::string idx_images(uint32_t n, uint32_t rows, uint32_t cols, const std::string& pixels) {
  std::string out;
  put_be32(out, 0x00000803);
  put_be32(out, n);
  put_be32(out, rows);
  put_be32(out, cols);
  return out + pixels;
}

std::string idx_labels(const std::string& labels) {
  std::string out;
  put_be32(out, 0x00000801);
  put_be32(out, static_cast<uint32_t>(labels.size()));
  return out + labels;
}

/// gzip in memory (windowBits 15 + 16 selects the gzip wrapper).
std::string gzip(const std::string& bytes) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::string out(deflateBound(&z, bytes.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

/// The first `bytes` bytes of a gzipped file, inflated.
std::string gunzip_prefix(const fs::path& path, size_t bytes) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path.string());
  std::string out(bytes, '\0');
  const int got = gzread(f, out.data(), static_cast<unsigned>(bytes));
  gzclose(f);
  if (got != static_cast<int>(bytes)) throw std::runtime_error("short read of " + path.string());
  return out;
}

void idx_seeds(SeedWriter& w, const fs::path& fashion) {
  std::string pixels;
  for (int i = 0; i < 3 * 4 * 5; ++i) pixels += static_cast<char>(i * 7);
  w.add("idx", "small", join_parts({idx_images(3, 4, 5, pixels), idx_labels(std::string("\x01\x09\x00", 3))}));
  w.add("idx", "small_gz",
        join_parts({gzip(idx_images(3, 4, 5, pixels)), gzip(idx_labels(std::string("\x01\x09\x00", 3)))}));
  const fs::path images = fashion / "t10k-images-idx3-ubyte.gz", labels = fashion / "t10k-labels-idx1-ubyte.gz";
  if (fs::exists(images) && fs::exists(labels)) {
    // The first four Fashion-MNIST test images, with the header's count set to four.
    const std::string real_pixels = gunzip_prefix(images, 16 + 4 * 784).substr(16);
    const std::string real_labels = gunzip_prefix(labels, 8 + 4).substr(8);
    w.add("idx", "fashion_mnist_4", join_parts({idx_images(4, 28, 28, real_pixels), idx_labels(real_labels)}));
  }
}

std::string cifar_records(const std::vector<std::string>& labels) {
  std::string out;
  for (size_t r = 0; r < labels.size(); ++r) {
    out += labels[r];
    for (int i = 0; i < 3072; ++i) out += static_cast<char>((i * 13 + static_cast<int>(r) * 101) % 251);
  }
  return out;
}

void cifar_seeds(SeedWriter& w) {
  w.add("cifar", "cifar10_two_files",
        std::string(1, '\0') + join_parts({cifar_records({"\x03", "\x09"}), cifar_records({"\x00"})}));
  w.add("cifar", "cifar100_fine",
        std::string(1, '\1') + cifar_records({std::string("\x13\x63", 2), std::string("\x00\x05", 2)}));
  w.add("cifar", "cifar100_coarse", std::string(1, '\2') + cifar_records({std::string("\x04\x2a", 2)}));
}

/// A .mat file written by matio (X uint8 HxWx3xN, y of `y_class` Nx1 or 1xN), read back as bytes.
std::string svhn_mat(size_t height, size_t width, size_t n, matio_classes y_class, bool row,
                     matio_compression compression) {
  const std::string path =
      (fs::temp_directory_path() / ("fxnn_fuzz_seed_" + std::to_string(::getpid()) + ".mat")).string();
  std::vector<uint8_t> x(height * width * 3 * n);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>(i * 31);
  std::vector<double> y_double(n);
  std::vector<uint8_t> y_u8(n);
  for (size_t i = 0; i < n; ++i) y_u8[i] = static_cast<uint8_t>(y_double[i] = static_cast<double>(i % 10 + 1));
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  if (mat == nullptr) throw std::runtime_error("cannot create " + path);
  size_t x_dims[4] = {height, width, 3, n};
  matvar_t* xv = Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, 4, x_dims, x.data(), MAT_F_DONT_COPY_DATA);
  Mat_VarWrite(mat, xv, compression);
  Mat_VarFree(xv);
  size_t y_dims[2] = {row ? 1 : n, row ? n : 1};
  matvar_t* yv = y_class == MAT_C_UINT8
                     ? Mat_VarCreate("y", MAT_C_UINT8, MAT_T_UINT8, 2, y_dims, y_u8.data(), MAT_F_DONT_COPY_DATA)
                     : Mat_VarCreate("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, y_dims, y_double.data(), MAT_F_DONT_COPY_DATA);
  Mat_VarWrite(mat, yv, compression);
  Mat_VarFree(yv);
  Mat_Close(mat);
  std::string bytes = read_bytes(path);
  fs::remove(path);
  return bytes;
}

void svhn_seeds(SeedWriter& w) {
  w.add("svhn_mat", "plain_32x32", svhn_mat(32, 32, 2, MAT_C_DOUBLE, false, MAT_COMPRESSION_NONE));
  w.add("svhn_mat", "uint8_row_labels", svhn_mat(4, 5, 3, MAT_C_UINT8, true, MAT_COMPRESSION_NONE));
  w.add("svhn_mat", "compressed", svhn_mat(6, 3, 2, MAT_C_DOUBLE, false, MAT_COMPRESSION_ZLIB));
}

std::string jpeg(int height, int width, int channels, int subsampling) {
  std::vector<uint8_t> pixels(static_cast<size_t>(height * width * channels));
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 17);
  tjhandle tj = tjInitCompress();
  unsigned char* data = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(tj, pixels.data(), width, 0, height, channels == 1 ? TJPF_GRAY : TJPF_RGB, &data, &size,
                             subsampling, 90, 0);
  std::string out = rc == 0 ? std::string(reinterpret_cast<char*>(data), size) : "";
  tjFree(data);
  tjDestroy(tj);
  if (rc != 0) throw std::runtime_error("tjCompress2 failed");
  return out;
}

void jpeg_seeds(SeedWriter& w, const fs::path& cifar_jpeg) {
  w.add("jpeg_folder", "rgb_444_two_classes", join_parts({jpeg(8, 8, 3, TJSAMP_444), jpeg(8, 8, 3, TJSAMP_420)}));
  w.add("jpeg_folder", "gray", join_parts({jpeg(5, 7, 1, TJSAMP_GRAY), jpeg(5, 7, 1, TJSAMP_GRAY)}));
  const fs::path a = cifar_jpeg / "train/airplane/0000.jpg", b = cifar_jpeg / "train/automobile/0000.jpg";
  if (fs::exists(a) && fs::exists(b))
    w.add("jpeg_folder", "cifar10_two_images", join_parts({read_bytes(a), read_bytes(b)}));
}

void copy_files(SeedWriter& w, const std::string& target, const fs::path& dir, const std::string& extension) {
  if (!fs::is_directory(dir)) return;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == extension)
      w.add(target, entry.path().filename().string(), read_bytes(entry.path()));
}

void text_seeds(SeedWriter& w, const fs::path& source, const fs::path& controllers) {
  copy_files(w, "nnet", controllers, ".nnet");
  copy_files(w, "onnx", controllers, ".onnx");
  copy_files(w, "onnx_layers", controllers, ".onnx");
  copy_files(w, "onnx_layers", source / "tests/floatnet/fixtures", ".onnx");
  copy_files(w, "benchmarks", controllers, ".yaml");
  copy_files(w, "experiment_config", source / "configs", ".yaml");
  copy_files(w, "precision_plan", source / "configs/plans", ".yaml");
  const fs::path config = source / "configs/fashion_mnist_mlp.yaml";
  if (fs::exists(config))
    w.add("experiment_config", "with_overrides",
          join_parts({read_bytes(config), "train.epochs=3", "model.hidden=[16, 8]", "optim.lr_milestones=[2]"}));
  w.add("precision_plan", "overrides",
        "version: 1\nrounding: floor\ndefaults:\n  W: s8.7\n  A: {format: u8.auto, rounding: stochastic}\n"
        "  acc: float\nlayers:\n  \"conv*\":\n    GW: s16.-2\n");
  w.add("input_box", "two", "-1:1,0:2.5");
  w.add("input_box", "zero_width", "0:0, -1e-3:1e-3 ,5:5");
}

fxnn::ir::Requantize requantize(const fxnn::ir::Node& node, int shift, bool relu) {
  fxnn::ir::Requantize r;
  r.multiplier = {3};
  r.multiplier_frac = 1;
  r.offset = {-2};
  r.shift = shift;
  r.rounding = relu ? fxnn::Rounding::kNearest : fxnn::Rounding::kFloor;
  r.clamp_min = relu ? 0 : node.output_format.code_min();
  r.clamp_max = node.output_format.code_max();
  return r;
}

/// input [1, 4, 4] u8.0 -> rescale -> conv2d 3x3 (2 channels, padding 1) -> maxpool 2 -> flatten -> dense 3.
fxnn::ir::Network small_network() {
  using namespace fxnn::ir;
  Network net;
  net.name = "seed";
  net.source = "fxnn_fuzz_seeds";
  net.input_shape = {1, 4, 4};
  net.input_format = fxnn::Format(8, 0, false);
  Node rescale;
  rescale.name = "norm";
  rescale.op = OpKind::kRescale;
  rescale.inputs = {net.input_name};
  rescale.output_format = fxnn::Format(8, 4, true);
  rescale.output_shape = {1, 4, 4};
  rescale.requantize = requantize(rescale, 1, false);
  Node conv;
  conv.name = "conv1";
  conv.op = OpKind::kConv2d;
  conv.inputs = {"norm"};
  conv.output_format = fxnn::Format(8, 3, false);
  conv.output_shape = {2, 4, 4};
  conv.kernel = 3;
  conv.padding = 1;
  conv.weight = IntTensor{{2, 1, 3, 3}, {}, fxnn::Format(8, 7, true)};
  for (int i = 0; i < 18; ++i) conv.weight->data.push_back((i * 37) % 255 - 127);
  conv.requantize = requantize(conv, 6, true);
  Node pool;
  pool.name = "pool";
  pool.op = OpKind::kMaxPool;
  pool.inputs = {"conv1"};
  pool.output_format = conv.output_format;
  pool.output_shape = {2, 2, 2};
  pool.kernel = 2;
  pool.stride = 2;
  Node flat;
  flat.name = "flat";
  flat.op = OpKind::kFlatten;
  flat.inputs = {"pool"};
  flat.output_format = conv.output_format;
  flat.output_shape = {8};
  Node dense;
  dense.name = "fc";
  dense.op = OpKind::kDense;
  dense.inputs = {"flat"};
  dense.output_format = fxnn::Format(16, 8, true);
  dense.output_shape = {3};
  dense.weight = IntTensor{{3, 8}, {}, fxnn::Format(6, 5, true)};
  for (int i = 0; i < 24; ++i) dense.weight->data.push_back((i * 11) % 63 - 31);
  dense.accumulator_bits = 64;
  dense.requantize = requantize(dense, 2, false);
  net.nodes = {rescale, conv, pool, flat, dense};
  net.output = "fc";
  net.validate();
  return net;
}

void network_seeds(SeedWriter& w) {
  const fs::path dir = fs::temp_directory_path() / ("fxnn_fuzz_seed_net_" + std::to_string(::getpid()));
  fxnn::ir::save_network(small_network(), dir.string());
  std::vector<std::string> parts{read_bytes(dir / fxnn::ir::kManifestFile)};
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".npy")
      parts.push_back(entry.path().filename().string() + "\n" + read_bytes(entry.path()));
  fs::remove_all(dir);
  w.add("network_folder", "small_cnn", join_parts(parts));

  using fxnn::io::NpyArray;
  using fxnn::io::NpyDType;
  w.add("npy", "int8_vector", fxnn::io::encode_npy(NpyArray{{3}, NpyDType::kInt8, {-128, 0, 127}}));
  w.add("npy", "int16_matrix", fxnn::io::encode_npy(NpyArray{{2, 3}, NpyDType::kInt16, {-32768, 1, 2, 3, 4, 32767}}));
  w.add("npy", "int32_empty", fxnn::io::encode_npy(NpyArray{{0, 4}, NpyDType::kInt32, {}}));
  w.add("npy", "int64_scalar", fxnn::io::encode_npy(NpyArray{{}, NpyDType::kInt64, {-5}}));
  // Format 2.0: a 4-byte header length.
  std::string v2 = fxnn::io::encode_npy(NpyArray{{2}, NpyDType::kInt16, {7, -7}});
  const uint16_t header_len = static_cast<uint8_t>(v2[8]) | (static_cast<uint8_t>(v2[9]) << 8);
  v2 = v2.substr(0, 6) + std::string("\x02\x00", 2) + std::string(1, static_cast<char>(header_len & 0xff)) +
       std::string(1, static_cast<char>(header_len >> 8)) + std::string(2, '\0') + v2.substr(10);
  w.add("npy", "version2", v2);
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fxnn_fuzz_seeds OUT_DIR SOURCE_DIR\n";
    return 2;
  }
  try {
    const fs::path out = argv[1], source = argv[2];
    const fs::path shared = source / "../shared/data";
    SeedWriter w(out);
    idx_seeds(w, "/usr/share/datasets/fashion-mnist");
    cifar_seeds(w);
    svhn_seeds(w);
    jpeg_seeds(w, shared / "cifar10-jpeg");
    text_seeds(w, source, shared / "controllers");
    network_seeds(w);
    std::cout << "fxnn_fuzz_seeds: wrote " << w.count() << " seeds to " << out.string() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "fxnn_fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
