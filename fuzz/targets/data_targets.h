#pragma once
// Fuzz targets of the data set readers (include/fxnn/data/readers.h). The readers take paths, so
// each input is written to files in the scratch folder first.

#include <string>
#include <vector>

#include "../fuzz_contract.h"
#include "../fuzz_input.h"
#include "fxnn/data/readers.h"

namespace fxnn::fuzz {

/// Parts: the idx3 images file, the idx1 labels file (either may be gzipped).
inline Target idx_target() {
  return {"idx",
          [](const std::string& input, const std::string& scratch) {
            const auto parts = split_parts(input);
            const std::string images = scratch + "/images-idx3-ubyte", labels = scratch + "/labels-idx1-ubyte";
            write_file(images, part(parts, 0));
            write_file(labels, part(parts, 1));
            data::read_idx(images, labels);
          },
          scratch_is_source};
}

/// The first byte picks the layout: 0 CIFAR-10 (every part is one batch file), 1 CIFAR-100 fine
/// labels, 2 CIFAR-100 coarse labels (the first part is the file).
inline Target cifar_target() {
  return {"cifar",
          [](const std::string& input, const std::string& scratch) {
            if (input.empty()) return;
            const int layout = static_cast<unsigned char>(input[0]) % 3;
            const auto parts = split_parts(input.substr(1));
            std::vector<std::string> files;
            for (size_t i = 0; i < parts.size(); ++i) {
              files.push_back(scratch + "/data_batch_" + std::to_string(i + 1) + ".bin");
              write_file(files.back(), parts[i]);
            }
            if (layout == 0)
              data::read_cifar10_binary(files);
            else
              data::read_cifar100_binary(files.front(), layout == 1);
          },
          scratch_is_source};
}

/// The input is the .mat file.
inline Target svhn_mat_target() {
  return {"svhn_mat",
          [](const std::string& input, const std::string& scratch) {
            const std::string file = scratch + "/train_32x32.mat";
            write_file(file, input);
            data::read_svhn_mat(file);
          },
          scratch_is_source};
}

/// Parts: JPEG files, alternately in the class folders a/ and b/.
inline Target jpeg_folder_target() {
  return {"jpeg_folder",
          [](const std::string& input, const std::string& scratch) {
            const auto parts = split_parts(input);
            const std::string dir = scratch + "/images";
            for (size_t i = 0; i < parts.size(); ++i)
              write_file(dir + (i % 2 ? "/b/" : "/a/") + std::to_string(i) + ".jpg", parts[i]);
            data::read_jpeg_folder(dir);
          },
          scratch_is_source};
}

} // namespace fxnn::fuzz
