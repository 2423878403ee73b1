// Classifies one image with a fixed-point network folder (fxnn export, fxnn lowbit, fxnn synth ...)
// and the integer runtime: integer operations only, no LibTorch, no floating point in the network.
//
//   classify_with_runtime NETWORK_DIR IMAGE.pgm
//
// The image is a binary PGM (P5) whose size is the network's input (e.g. 28 x 28 for Fashion-MNIST);
// its pixels are the network's input codes (u8.0), which the network normalizes itself.
#include <fxnn/ir/network_files.h>
#include <fxnn/runtime/engine.h>
#include <fxnn/version.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::vector<uint8_t> read_pgm(const std::string& path, int64_t width, int64_t height) {
  std::ifstream in(path, std::ios::binary);
  std::string magic;
  int64_t w = 0, h = 0, max = 0;
  if (!(in >> magic >> w >> h >> max) || magic != "P5" || max != 255)
    throw std::runtime_error(path + ": not a binary 8-bit PGM (P5)");
  if (w != width || h != height)
    throw std::runtime_error(path + ": the image is " + std::to_string(w) + " x " + std::to_string(h) +
                             ", the network takes " + std::to_string(width) + " x " + std::to_string(height));
  in.get(); // the one whitespace byte after the header
  std::vector<uint8_t> pixels(static_cast<size_t>(w * h));
  if (!in.read(reinterpret_cast<char*>(pixels.data()), static_cast<std::streamsize>(pixels.size())))
    throw std::runtime_error(path + ": the file ends before its pixels do");
  return pixels;
}

} // namespace

int main(int argc, char** argv) try {
  if (argc != 3) {
    std::cerr << "usage: classify_with_runtime NETWORK_DIR IMAGE.pgm\n";
    return 2;
  }
  const fxnn::ir::Network network = fxnn::ir::load_network(argv[1]); // validated: a damaged folder throws
  const auto& shape = network.input_shape;                           // [C, H, W]
  if (shape.size() != 3 || shape[0] != 1) throw std::runtime_error("the example takes networks of one-channel images");
  const auto pixels = read_pgm(argv[2], shape[2], shape[1]);

  fxnn::runtime::Engine engine(network);
  const auto input =
      fxnn::runtime::Codes::from_values(network.input_format, {1, shape[0], shape[1], shape[2]}, pixels.data());
  const std::vector<int64_t> logits = engine.run(input).to_int64(); // integer codes of the last node
  size_t best = 0;
  for (size_t c = 1; c < logits.size(); ++c)
    if (logits[c] > logits[best]) best = c;
  std::printf("class %zu (fxnn %s, %s, kernels %s)\n", best, fxnn::kVersion, network.name.c_str(),
              fxnn::runtime::to_string(engine.isa()).c_str());
  return 0;
} catch (const std::exception& e) {
  std::cerr << "classify_with_runtime: " << e.what() << "\n";
  return 1;
}
