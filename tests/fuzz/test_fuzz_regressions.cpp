// The inputs the fuzzers found crashing a parser (fuzz/regressions/<target>/, kept after each fix),
// replayed through the fuzz targets' own code in the normal build: the parser must keep the contract
// of fuzz/fuzz_contract.h on each (return, or a std::runtime_error / std::invalid_argument naming
// the file). scripts/fuzz.sh replays them as well, under AddressSanitizer and UBSan. The tests
// after the first check what each fix now reports.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "../../fuzz/targets/config_targets.h"
#include "../../fuzz/targets/data_targets.h"
#include "../../fuzz/targets/model_targets.h"
#include "../../fuzz/targets/network_targets.h"
#include "../support/error_message.h"
#include "../support/temp_dir.h"

namespace fxnn::fuzz {
namespace {

namespace fs = std::filesystem;
using testing_support::error_message;
using testing_support::TempDir;

const fs::path kRegressions = fs::path(FXNN_SOURCE_DIR) / "fuzz/regressions";

std::string bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::map<std::string, Target> all_targets() {
  std::map<std::string, Target> targets;
  for (Target t : {idx_target(), cifar_target(), svhn_mat_target(), jpeg_folder_target(), nnet_target(), onnx_target(),
                   onnx_layers_target(), benchmarks_target(), input_box_target(), experiment_config_target(),
                   precision_plan_target(), network_folder_target(), npy_target()})
    targets.emplace(t.name, t);
  return targets;
}

TEST(FuzzRegressions, EveryKeptInputKeepsTheParserContract) {
  const auto targets = all_targets();
  TempDir tmp;
  int replayed = 0;
  for (const auto& folder : fs::directory_iterator(kRegressions)) {
    const std::string name = folder.path().filename().string();
    const auto target = targets.find(name);
    ASSERT_NE(target, targets.end()) << kRegressions / name << " names no fuzz target: nothing would replay it";
    for (const auto& file : fs::directory_iterator(folder.path())) {
      const std::string scratch = tmp / (name + "_" + std::to_string(replayed));
      reset_dir(scratch);
      EXPECT_EQ(contract_violation(target->second, bytes_of(file.path()), scratch), "") << file.path();
      ++replayed;
    }
  }
  EXPECT_GT(replayed, 0) << "no inputs under " << kRegressions;
}

TEST(FuzzRegressions, NpyShapeWhoseByteCountWrapsAroundIsRefused) {
  // shape (2^61,) of <i8 and no data: 2^61 * 8 bytes is 0 in 64 bits; the decoder allocated 2^61 values.
  const std::string file = bytes_of(kRegressions / "npy/shape_product_wraps_to_zero_bytes");
  const std::string message = error_message([&] { io::decode_npy(file, "wrap.npy"); });
  EXPECT_NE(message.find("wrap.npy: shape (2305843009213693952,) needs more data than the file holds"),
            std::string::npos)
      << message;
}

TEST(FuzzRegressions, NpyEmptyShapeWithHugeDimensionsRoundTrips) {
  // shape (804612862890, 21212050, 2, 0, ...): empty and valid; the encoder multiplied the dimensions
  // in order and overflowed int64 before reaching the 0.
  const std::string file = bytes_of(kRegressions / "npy/empty_shape_whose_leading_dims_overflow");
  const io::NpyArray array = io::decode_npy(file, "empty.npy");
  EXPECT_TRUE(array.data.empty());
  EXPECT_EQ(array.shape.at(0), 804612862890);
  EXPECT_EQ(io::decode_npy(io::encode_npy(array), "again.npy").shape, array.shape);
}

TEST(FuzzRegressions, SuiteWithoutItsListOfBenchmarksNamesTheKey) {
  // The lookup of a missing key returned yaml-cpp's zombie node, whose IsSequence() threw InvalidNode.
  TempDir tmp;
  const std::string suite = tmp / "suite.yaml";
  fs::copy_file(kRegressions / "benchmarks/missing_benchmarks_key", suite);
  const std::string message = error_message([&] { synth::load_benchmarks(suite); });
  EXPECT_EQ(message, suite + ": benchmarks: expected a list of benchmarks");
}

TEST(FuzzRegressions, MatFileWithDamagedHeaderIsRefusedBeforeMatioAllocates) {
  // matio allocated 3.8 GB for a 440-byte file whose variable header was damaged.
  TempDir tmp;
  const std::string mat = tmp / "damaged.mat";
  fs::copy_file(kRegressions / "svhn_mat/matio_allocates_from_a_damaged_header", mat);
  const std::string message = error_message([&] { data::read_svhn_mat(mat); });
  EXPECT_NE(message.find(mat + ": not a valid MATLAB v5 file: at byte "), std::string::npos) << message;
}

TEST(FuzzRegressions, OverrideOfADocumentThatIsNoMapNamesTheFile) {
  // A document that is a scalar: --set walked it with operator[], which threw YAML::BadSubscript.
  const auto parts = split_parts(bytes_of(kRegressions / "experiment_config/override_of_a_scalar_document"));
  const std::string message = error_message([&] {
    ExperimentConfig::parse(parts[0], "scalar.yaml", {parts.begin() + 1, parts.end()});
  });
  EXPECT_EQ(message, "scalar.yaml: --set train.epochs: the document is not a map of keys");
}

TEST(FuzzRegressions, KeyThatIsNoNameNamesTheFileAndTheMap) {
  // `? [W, A]`: a list as a key, converted with as<std::string>(), which threw YAML::BadConversion.
  const std::string text = bytes_of(kRegressions / "precision_plan/key_that_is_a_list");
  const std::string message = error_message([&] { PrecisionPlan::parse(text, "plan.yaml"); });
  EXPECT_EQ(message, "plan.yaml: defaults: a key is a list, not a name");
}

TEST(FuzzRegressions, OnnxSizesAreCheckedBeforeTheyAreUsed) {
  const auto message = [](const char* file) {
    return error_message([&] { floatnet::parse_onnx(bytes_of(kRegressions / "onnx" / file), "m.onnx"); });
  };
  // An input of 65536 features: a 65536 x 65536 identity of long doubles (64 GiB) was allocated.
  EXPECT_NE(message("input_too_wide_for_dense_folding")
                .find("m.onnx: input 'x' of shape [1,65536]: 65536 features; "
                      "the importer takes at most 4096"),
            std::string::npos);
  // A Reshape to 1e30: converted to int64 (undefined).
  EXPECT_NE(
      message("reshape_target_beyond_int64").find("Reshape node 'reshape': target dimension 1e+30 is not a dimension"),
      std::string::npos);
  // An initializer of shape [2^62, 4]: the product of its dimensions overflowed.
  EXPECT_NE(message("initializer_shape_product_overflows")
                .find("m.onnx: initializer 'W': shape [4611686018427387904,4] "
                      "is negative or too large"),
            std::string::npos);
}

TEST(FuzzRegressions, ManifestNestedDeeplyIsRefusedBeforeItIsParsed) {
  // {"format": [[[...]]]} 100000 deep: the error message printed the value with nlohmann's recursive
  // dump(), which overflowed the stack (also `fxnn infer`, a segmentation fault).
  TempDir tmp;
  fs::create_directories(tmp / "net");
  fs::copy_file(kRegressions / "network_folder/manifest_nested_100000_deep", tmp / "net/model.json");
  EXPECT_EQ(error_message([&] { ir::load_network(tmp / "net"); }),
            tmp / "net/model.json" + ": nested deeper than 16 levels (a manifest has 5)");
}

TEST(FuzzRegressions, NnetMatrixIsAllocatedForTheRowsTheFileHolds) {
  // The header announced 10^7 x 10^7 weights and the matrix was allocated before any row was read.
  const std::string huge = bytes_of(kRegressions / "nnet/header_announces_a_huge_matrix");
  EXPECT_EQ(error_message([&] { floatnet::parse_nnet(huge, "h.nnet"); }),
            "h.nnet:1: numInputs must be a positive integer, got 10000000.000000");
  const std::string large = bytes_of(kRegressions / "nnet/header_announces_a_large_matrix");
  EXPECT_EQ(error_message([&] { floatnet::parse_nnet(large, "l.nnet"); }),
            "l.nnet:8: layer 1 weight row 1: expected 1000000 values, found 1");
}

} // namespace
} // namespace fxnn::fuzz
