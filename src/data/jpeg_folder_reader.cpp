// Class folders of JPEG images, decoded in parallel with libjpeg-turbo's TurboJPEG API.

#include <turbojpeg.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include "files.h"
#include "fxnn/data/readers.h"

namespace fxnn::data {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kRgb = 3;
/// Images above this many pixels (8192 x 8192, 192 MiB decoded) are refused: a JPEG header can claim
/// up to 65535 x 65535 in a file of a few hundred bytes, and the loader allocates from the header.
constexpr int64_t kMaxPixels = int64_t{1} << 26;

struct Sample {
  std::string path;
  int64_t label;
};

struct TjDestroyer {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TjHandle = std::unique_ptr<void, TjDestroyer>;

bool is_jpeg_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return ext == ".jpg" || ext == ".jpeg";
}

/// The JPEG files of one class folder, sorted by name so that the sample order is reproducible.
std::vector<std::string> jpeg_files(const fs::path& folder) {
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file() && is_jpeg_name(it->path())) files.push_back(it->path().string());
  }
  if (ec) throw std::runtime_error("cannot list folder '" + folder.string() + "': " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  std::vector<uint8_t> bytes(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
    throw std::runtime_error("cannot read '" + path + "'");
  }
  return bytes;
}

/// What a JPEG header says: the image size and its colour space.
struct JpegHeader {
  int width = 0;
  int height = 0;
  int colorspace = 0;
};

JpegHeader read_header(tjhandle tj, const std::vector<uint8_t>& bytes, const std::string& path) {
  JpegHeader h;
  int subsamp = 0;
  if (tjDecompressHeader3(tj, bytes.data(), bytes.size(), &h.width, &h.height, &subsamp, &h.colorspace) != 0) {
    throw std::runtime_error(path + ": not a valid JPEG file (" + tjGetErrorStr2(tj) + ")");
  }
  return h;
}

/// The size every image must have, from the first file's header.
struct Geometry {
  int height = 0;
  int width = 0;
};

Geometry geometry_of(const JpegHeader& h, const std::string& path) {
  if (int64_t{h.width} * h.height > kMaxPixels) {
    throw std::runtime_error(path + ": image is " + std::to_string(h.width) + "x" + std::to_string(h.height) +
                             ", more than the " + std::to_string(kMaxPixels) + " pixels the JPEG loader accepts");
  }
  return Geometry{h.height, h.width};
}

Geometry read_geometry(tjhandle tj, const std::string& path) {
  return geometry_of(read_header(tj, file_bytes(path), path), path);
}

/// Decodes one file into `pixels` (HWC RGB scratch) and scatters it into the CHW planes at `dst`.
/// Returns whether the JPEG is grayscale. Libjpeg warnings (a truncated file, corrupt entropy data)
/// count as errors: the decoded image would silently contain grey filler.
bool decode_into(tjhandle tj, const std::string& path, const Geometry& g, std::vector<uint8_t>& pixels, uint8_t* dst) {
  const auto bytes = file_bytes(path);
  const auto [width, height, colorspace] = read_header(tj, bytes, path);
  if (width != g.width || height != g.height) {
    throw std::runtime_error(path + ": image is " + std::to_string(width) + "x" + std::to_string(height) +
                             ", the others are " + std::to_string(g.width) + "x" + std::to_string(g.height));
  }
  if (tjDecompress2(tj, bytes.data(), bytes.size(), pixels.data(), width, 0, height, TJPF_RGB, TJFLAG_ACCURATEDCT) !=
      0) {
    throw std::runtime_error(path + ": corrupt JPEG data (" + tjGetErrorStr2(tj) + ")");
  }
  const int64_t plane = int64_t{height} * width;
  for (int64_t c = 0; c < kRgb; ++c) {
    uint8_t* out = dst + c * plane;
    for (int64_t i = 0; i < plane; ++i) out[i] = pixels[i * kRgb + c];
  }
  return colorspace == TJCS_GRAY;
}

/// The class names of `dir` (its sub-folders unless `class_names` gives them).
std::vector<std::string> folder_classes(const std::string& dir, const std::vector<std::string>& class_names) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw std::runtime_error("folder '" + dir + "' does not exist");
  auto classes = class_names.empty() ? detail::sorted_subfolders(dir) : class_names;
  if (classes.empty()) throw std::runtime_error("folder '" + dir + "' has no class sub-folders");
  return classes;
}

/// Every JPEG file of the class folders with its label: class-major order, files sorted by name
/// within a class.
std::vector<Sample> folder_samples(const std::string& dir, const std::vector<std::string>& classes) {
  std::vector<Sample> samples;
  std::error_code ec;
  for (size_t c = 0; c < classes.size(); ++c) {
    const fs::path folder = fs::path(dir) / classes[c];
    if (!fs::is_directory(folder, ec)) {
      throw std::runtime_error("class folder '" + folder.string() + "' does not exist");
    }
    for (auto& file : jpeg_files(folder)) samples.push_back({std::move(file), int64_t(c)});
  }
  if (samples.empty()) throw std::runtime_error("folder '" + dir + "' holds no .jpg/.jpeg files");
  return samples;
}

TjHandle start_decompressor() {
  TjHandle tj(tjInitDecompress());
  if (!tj) throw std::runtime_error(std::string("cannot start TurboJPEG: ") + tjGetErrorStr2(nullptr));
  return tj;
}

} // namespace

JpegFolderShape read_jpeg_folder_shape(const std::string& dir) {
  const auto classes = folder_classes(dir, {});
  const auto samples = folder_samples(dir, classes);
  TjHandle tj = start_decompressor();
  Geometry g;
  bool all_gray = true;
  for (const auto& sample : samples) {
    const JpegHeader h = read_header(tj.get(), file_bytes(sample.path), sample.path);
    if (&sample == &samples.front()) g = geometry_of(h, sample.path);
    all_gray = all_gray && h.colorspace == TJCS_GRAY;
  }
  return {all_gray ? 1 : kRgb, g.height, g.width, static_cast<int64_t>(classes.size())};
}

ImageDataset read_jpeg_folder(const std::string& dir, const std::vector<std::string>& class_names) {
  const auto classes = folder_classes(dir, class_names);
  const auto samples = folder_samples(dir, classes);
  TjHandle first = start_decompressor();
  const Geometry g = read_geometry(first.get(), samples.front().path);
  const int64_t image_bytes = kRgb * g.height * g.width;
  {
    // The first image is decoded before n images' worth of memory is taken on its header's word:
    // a header the file does not back fails here, for one image's memory.
    std::vector<uint8_t> pixels(static_cast<size_t>(image_bytes)), planes(pixels.size());
    decode_into(first.get(), samples.front().path, g, pixels, planes.data());
  }

  const auto n = static_cast<int64_t>(samples.size());
  auto images = torch::empty({n, kRgb, g.height, g.width}, torch::kUInt8);
  auto labels = torch::empty({n}, torch::kInt64);
  auto* image_data = images.data_ptr<uint8_t>();
  auto* label_data = labels.data_ptr<int64_t>();

  // Exceptions must not leave an OpenMP region: each file records its error, and the first one in
  // sample order is thrown afterwards (deterministic whatever the thread schedule).
  std::vector<std::string> errors(samples.size());
  std::vector<uint8_t> gray(samples.size(), 0);
#pragma omp parallel
  {
    TjHandle tj(tjInitDecompress()); // a TurboJPEG handle is not thread-safe: one per thread
    std::vector<uint8_t> pixels(static_cast<size_t>(image_bytes));
#pragma omp for schedule(dynamic, 64)
    for (int64_t i = 0; i < n; ++i) {
      label_data[i] = samples[i].label;
      if (!tj) {
        errors[i] = samples[i].path + ": cannot start TurboJPEG";
        continue;
      }
      try {
        gray[i] = decode_into(tj.get(), samples[i].path, g, pixels, image_data + i * image_bytes);
      } catch (const std::exception& e) {
        errors[i] = e.what(); // rethrown below, after the parallel region
      }
    }
  }
  for (const auto& e : errors) {
    if (!e.empty()) throw std::runtime_error(e);
  }

  ImageDataset out;
  // Grayscale JPEGs decode to R = G = B; keep one channel only when every image is grayscale, so a
  // data set never mixes channel counts.
  const bool all_gray = std::all_of(gray.begin(), gray.end(), [](uint8_t v) { return v != 0; });
  out.images = all_gray ? images.narrow(1, 0, 1).contiguous() : images;
  out.labels = labels;
  out.num_classes = static_cast<int64_t>(classes.size());
  out.source = dir;
  return out;
}

} // namespace fxnn::data
