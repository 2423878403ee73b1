// End-to-end checks of the `fxnn` binary: bad input gives one clear line, a non-zero exit and no
// output files; a tiny run succeeds.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "../support/data_files.h"
#include "../support/fixtures.h"
#include "../support/run_command.h"
#include "../support/temp_dir.h"
#include "fxnn/core/blas_kernels.h"

namespace fxnn {
namespace {

using testing_support::CommandResult;
using testing_support::count_lines;
using testing_support::run_command;
using testing_support::TempDir;
namespace fs = std::filesystem;

const std::string& kFxnn = testing_support::kFxnnBinary;
const std::string& kSource = testing_support::kSourceDir;

std::string train_command(const std::string& out, const std::string& extra) {
  return kFxnn + " train --config " + kSource + "/configs/fashion_mnist_mlp.yaml --out " + out + " --quiet " + extra;
}

void expect_one_line_error(const CommandResult& r, const std::string& fragment) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
}

/// A CIFAR-10 batch of `records` records, the last one cut to `keep_of_last` bytes when >= 0.
void write_cifar10_batch(const std::string& path, int records, int keep_of_last = -1) {
  std::vector<std::vector<uint8_t>> labels;
  for (int r = 0; r < records; ++r) labels.push_back({static_cast<uint8_t>(r % 10)});
  auto bytes = data::testing::cifar_records(labels);
  if (keep_of_last >= 0) bytes.resize(bytes.size() - 3073 + static_cast<size_t>(keep_of_last));
  data::testing::write_bytes(path, bytes);
}

TEST(Cli, MissingDataDirectory) {
  TempDir tmp;
  const auto r = run_command(train_command(tmp / "run", "--set data.path=" + tmp / "no_such_dir"), tmp.str());
  expect_one_line_error(r, tmp / "no_such_dir");
  EXPECT_FALSE(fs::exists(tmp / "run"));
}

TEST(Cli, TruncatedCifarFileNamesTheFileAndRecord) {
  TempDir tmp;
  fs::create_directories(tmp / "cifar");
  for (int i = 1; i <= 5; ++i)
    write_cifar10_batch(tmp / ("cifar/data_batch_" + std::to_string(i) + ".bin"), 20, i == 3 ? 1000 : -1);
  write_cifar10_batch(tmp / "cifar/test_batch.bin", 20);
  const auto r = run_command(kFxnn + " train --config " + kSource + "/configs/cifar10_convnet.yaml --quiet --out " +
                                 tmp / "run" + " --set data.path=" + tmp / "cifar",
                             tmp.str());
  expect_one_line_error(r, "data_batch_3.bin");
  EXPECT_NE(r.err.find("record 19"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "run"));
}

TEST(Cli, UnknownConfigKey) {
  TempDir tmp;
  const auto r = run_command(train_command(tmp / "run", "--set train.epoch=3"), tmp.str());
  expect_one_line_error(r, "train.epoch: unknown key");
  EXPECT_FALSE(fs::exists(tmp / "run"));
}

TEST(Cli, MalformedPlan) {
  TempDir tmp;
  std::ofstream(tmp / "plan.yaml") << "defaults:\n  W: s8.seven\n";
  const auto r = run_command(train_command(tmp / "run", "--precision " + tmp / "plan.yaml"), tmp.str());
  expect_one_line_error(r, "plan.yaml: defaults.W: bad fixed-point format 's8.seven'");
  EXPECT_FALSE(fs::exists(tmp / "run"));
}

TEST(Cli, TinyFixedPointRunSucceeds) {
  if (!testing_support::have_fashion_mnist()) GTEST_SKIP();
  TempDir tmp;
  const auto r = run_command(train_command(tmp / "run", "--precision " + kSource +
                                                            "/configs/plans/uniform8.yaml --threads 1 "
                                                            "--set train.epochs=1 --set data.train_limit=300 "
                                                            "--set data.test_limit=100 --set model.hidden=[16]"),
                             tmp.str());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(testing_support::slurp(tmp / "run/metrics.jsonl")), 1);
}

// A user's own 8x8 digits in IDX files (5 classes): `data.dataset: idx` trains on them and exports
// the network; the named `mnist` refuses them in one line, as before.
TEST(Cli, TrainsOnAUsersOwnIdxFiles) {
  TempDir tmp;
  const std::string data_dir = tmp / "digits";
  data::testing::write_bytes(data_dir + "/train-images-idx3-ubyte", data::testing::idx_images(200, 8, 8));
  data::testing::write_bytes(data_dir + "/train-labels-idx1-ubyte", data::testing::idx_labels(200, 5));
  data::testing::write_bytes(data_dir + "/t10k-images-idx3-ubyte", data::testing::idx_images(50, 8, 8));
  data::testing::write_bytes(data_dir + "/t10k-labels-idx1-ubyte", data::testing::idx_labels(50, 5));
  const std::string small = " --threads 1 --set train.epochs=1 --set model.hidden=[16] --set data.path=" + data_dir;
  auto r = run_command(train_command(tmp / "run", "--precision " + kSource + "/configs/plans/uniform8.yaml" + small +
                                                      " --set data.dataset=idx"),
                       tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(testing_support::slurp(tmp / "run/metrics.jsonl")), 1);
  r = run_command(kFxnn + " export --run " + tmp / "run" + " --out " + tmp / "net", tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto manifest = nlohmann::json::parse(testing_support::slurp(tmp / "net/model.json"));
  EXPECT_EQ(manifest["input"]["shape"], nlohmann::json({1, 8, 8}));

  r = run_command(train_command(tmp / "named", small + " --set data.dataset=mnist"), tmp.str());
  expect_one_line_error(r, "images of 1x8x8 in 10 classes, not what data.dataset 'mnist' has");
  EXPECT_FALSE(fs::exists(tmp / "named"));
}

TEST(Cli, ExportNeverReplacesWhatFxnnDidNotWrite) {
  if (!testing_support::have_fashion_mnist()) GTEST_SKIP();
  TempDir tmp;
  const std::string run = tmp / "run";
  ASSERT_EQ(run_command(train_command(run, "--precision " + kSource +
                                               "/configs/plans/uniform8.yaml --threads 1 "
                                               "--set train.epochs=1 --set data.train_limit=300 "
                                               "--set data.test_limit=100 --set model.hidden=[16]"),
                        tmp.str())
                .exit_code,
            0);
  const auto do_export = [&](const std::string& out, const std::string& extra = "") {
    return run_command(kFxnn + " export --run " + run + " --out " + out + extra, tmp.str());
  };
  // Into its own run (the run's checkpoint and metrics must survive), with or without --force.
  for (const char* force : {"", " --force"}) {
    expect_one_line_error(do_export(run, force), run + ": not a fixed-point network folder written by fxnn (it holds ");
    EXPECT_TRUE(fs::exists(run + "/checkpoint.pt"));
    EXPECT_TRUE(fs::exists(run + "/metrics.jsonl"));
  }
  // Onto a plain file.
  std::ofstream(tmp / "file.txt") << "keep";
  expect_one_line_error(do_export(tmp / "file.txt", " --force"), tmp / "file.txt" + ": exists and is not a folder");
  EXPECT_EQ(testing_support::slurp(tmp / "file.txt"), "keep");
  // A network folder it wrote: replaced only with --force; no staging folders left behind.
  EXPECT_EQ(do_export(tmp / "net").exit_code, 0);
  expect_one_line_error(do_export(tmp / "net"), "add --force to replace it");
  EXPECT_EQ(do_export(tmp / "net", " --force").exit_code, 0);
  for (const auto& e : fs::directory_iterator(tmp.str()))
    EXPECT_EQ(e.path().filename().string().find(".partial."), std::string::npos) << e.path();
}

/// The BLAS kernels `fxnn --version` reports, run with `env_options` (arguments of env(1)).
std::string blas_kernels_of_version(const std::string& env_options) {
  const auto r =
      run_command("env -u OPENBLAS_CORETYPE -u FXNN_KEEP_BLAS_CORE " + env_options + " " + kFxnn + " --version", ".");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto from = r.out.find("BLAS kernels: ");
  const auto to = r.out.find(')', from);
  if (from == std::string::npos || to == std::string::npos) return "(no BLAS kernels in: " + r.out + ")";
  return r.out.substr(from + 14, to - from - 14);
}

TEST(Cli, ReexecutesWithFasterBlasKernelsWhereOpenBlasFallsBack) {
  const std::string detected = blas_kernels_of_version("FXNN_KEEP_BLAS_CORE=1");
  if (detected == "not OpenBLAS") GTEST_SKIP() << "the BLAS is not OpenBLAS";
  BlasCpu cpu = current_blas_cpu();
  cpu.detected_core = detected;
  EXPECT_EQ(blas_kernels_of_version(""), faster_blas_core(cpu).value_or(detected));
  // A core the user asks for is kept.
  EXPECT_EQ(blas_kernels_of_version("OPENBLAS_CORETYPE=Prescott"), "Prescott");
}

} // namespace
} // namespace fxnn
