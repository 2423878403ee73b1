// fxnn make-data --dataset cifar10|cifar100|svhn --out DIR [--train N] [--test N] [--seed S]

#include <cstdio>
#include <string>

#include "commands.h"
#include "fxnn/data/writers.h"

namespace fxnn::cli {

namespace {

struct MakeDataArgs {
  std::string dataset;
  std::string out;
  int64_t train = 1000;
  int64_t test = 200;
  uint64_t seed = 1;
};

} // namespace

void add_data_command(CLI::App& app) {
  auto args = std::make_shared<MakeDataArgs>();
  auto* cmd = app.add_subcommand(
      "make-data",
      "Write a small synthetic data set in an official file format (to run a pipeline without the real data)");
  cmd->add_option("--dataset", args->dataset, "cifar10 | cifar100 | svhn")->required();
  cmd->add_option("--out", args->out, "Folder to write the files into (the config's data.path)")->required();
  cmd->add_option("--train", args->train, "Training images")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--test", args->test, "Test images")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->seed, "Seed")->capture_default_str();
  cmd->callback([args] {
    data::write_sample_dataset(args->dataset, args->out, args->train, args->test, args->seed);
    std::printf("wrote %lld + %lld synthetic %s images to %s\n", static_cast<long long>(args->train),
                static_cast<long long>(args->test), args->dataset.c_str(), args->out.c_str());
  });
}

} // namespace fxnn::cli
