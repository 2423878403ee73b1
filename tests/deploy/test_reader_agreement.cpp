// The two readers of a fixed-point network folder, `fxnn infer` (C++) and scripts/fxnn_infer.py
// (numpy), check the same rules: every damaged folder of the shared list tests/deploy/damaged_folders.json
// is refused by both with exit status 1 and one line on stderr that names the file at fault, and the
// undamaged folder gives both the same output codes (docs/fixed-point-network.md, "What a reader checks").

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../runtime/random_network.h"
#include "../support/fixtures.h"
#include "../support/run_command.h"
#include "../support/temp_dir.h"
#include "fxnn/io/npy.h"
#include "fxnn/ir/network_files.h"

namespace fxnn {
namespace {

using testing_support::count_lines;
using testing_support::run_command;
using testing_support::TempDir;
using Json = nlohmann::json;
namespace fs = std::filesystem;

const std::string kPython = "/usr/bin/python3";
constexpr int64_t kSamples = 16;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

/// Single quotes for the shell.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// Every op of the IR, input [3, 32, 32] u8.0 (CIFAR-10 images): the folder the cases damage. The node
/// names and tensor types are those damaged_folders.json describes.
void save_valid_folder(const std::string& dir) {
  runtime_testing::NetworkBuilder b(21, {3, 32, 32}, Format(8, 0, false));
  b.rescale(Format(12, 8, true)).conv(4, 3, 2, 1, runtime_testing::medium(), true).pool(ir::OpKind::kMaxPool, 2, 2);
  const std::string skip = b.current();
  b.conv(4, 3, 1, 1, runtime_testing::medium(), true)
      .add(skip, Format(12, 8, true), true)
      .pool(ir::OpKind::kAvgPool, 2, 2)
      .flatten()
      .dense(10, runtime_testing::wide(), false);
  ir::save_network(b.build(), dir);
}

/// The command lines of the two readers on `model`.
std::string cpp_reader(const std::string& model, const std::string& data) {
  return testing_support::kFxnnBinary + " infer --model " + quoted(model) + " --config " +
         quoted(testing_support::kSourceDir + "/configs/cifar10_convnet.yaml") + " --set data.path=" + quoted(data) +
         " --limit " + std::to_string(kSamples) + " --quiet";
}
std::string python_reader(const std::string& model, const std::string& input) {
  return kPython + " " + quoted(testing_support::kSourceDir + "/scripts/fxnn_infer.py") + " --model " + quoted(model) +
         " --input " + quoted(input);
}

/// The header dict and the data of a .npy file (format 1.0 or 2.0).
struct NpyParts {
  std::string header, data;
};
NpyParts split_npy(const std::string& bytes) {
  const auto byte = [&](size_t i) { return static_cast<size_t>(static_cast<uint8_t>(bytes.at(i))); };
  const bool v2 = byte(6) == 2;
  const size_t len = byte(8) | byte(9) << 8 | (v2 ? byte(10) << 16 | byte(11) << 24 : 0);
  const size_t start = v2 ? 12 : 10;
  return {bytes.substr(start, len), bytes.substr(start + len)};
}
std::string join_npy(const NpyParts& parts) {
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(parts.header.size() & 0xff);
  out += static_cast<char>((parts.header.size() >> 8) & 0xff);
  return out + parts.header + parts.data;
}

void replace_once(std::string& text, const std::string& from, const std::string& to, const std::string& what) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error(what + ": no \"" + from + "\" to replace");
  text.replace(at, from.size(), to);
}

/// Applies one case's edits to the folder `dir` (a copy of the valid one).
void apply_edits(const std::string& dir, const Json& edits) {
  const std::string manifest_path = dir + "/model.json";
  Json manifest = Json::parse(slurp(manifest_path));
  std::vector<std::pair<std::string, std::string>> text_edits;
  const std::string nest_mark = "\"@NEST@\"";
  int64_t nest_depth = 0;
  for (const Json& e : edits) {
    if (e.contains("npy")) {
      const std::string path = dir + "/" + e.at("npy").get<std::string>();
      std::string bytes = slurp(path);
      if (e.contains("header_replace")) {
        NpyParts parts = split_npy(bytes);
        const auto& r = e["header_replace"];
        replace_once(parts.header, r[0].get<std::string>(), r[1].get<std::string>(), path);
        bytes = join_npy(parts);
      } else if (e.contains("drop_bytes")) {
        bytes.resize(bytes.size() - e["drop_bytes"].get<size_t>());
      } else if (e.contains("keep_bytes")) {
        bytes.resize(e["keep_bytes"].get<size_t>());
      } else if (e.contains("patch")) {
        size_t at = e["patch"]["offset"].get<size_t>();
        for (const auto& b : e["patch"]["bytes"]) bytes.at(at++) = static_cast<char>(b.get<int>());
      } else if (e.contains("set_element")) {
        io::NpyArray a = io::decode_npy(bytes, path);
        a.data.at(e["set_element"]["index"].get<size_t>()) = e["set_element"]["value"].get<int64_t>();
        const auto [lo, hi] = std::minmax_element(a.data.begin(), a.data.end());
        const io::NpyDType wider = io::narrowest_npy_dtype(*lo, *hi);
        if (io::npy_itemsize(wider) > io::npy_itemsize(a.dtype)) a.dtype = wider;
        bytes = io::encode_npy(a);
      } else {
        throw std::runtime_error("unknown .npy edit " + e.dump());
      }
      write(path, bytes);
    } else if (e.contains("set")) {
      manifest[Json::json_pointer(e["set"].get<std::string>())] = e.at("value");
    } else if (e.contains("remove")) {
      const Json::json_pointer p(e["remove"].get<std::string>());
      Json& parent = manifest.at(p.parent_pointer());
      if (parent.is_array())
        parent.erase(std::stoul(p.back()));
      else
        parent.erase(p.back());
    } else if (e.contains("keep_nodes")) {
      Json& nodes = manifest.at("nodes");
      nodes.erase(nodes.begin() + e["keep_nodes"].get<int64_t>(), nodes.end());
    } else if (e.contains("nest")) {
      manifest[Json::json_pointer(e["nest"].get<std::string>())] = "@NEST@";
      nest_depth = e.at("depth").get<int64_t>();
    } else if (e.contains("text_replace")) {
      text_edits.emplace_back(e["text_replace"][0].get<std::string>(), e["text_replace"][1].get<std::string>());
    } else {
      throw std::runtime_error("unknown edit " + e.dump());
    }
  }
  std::string text = manifest.dump(2);
  // Built as text: the nested value itself would be printed by a recursive dump().
  if (nest_depth > 0) {
    const auto depth = static_cast<size_t>(nest_depth);
    replace_once(text, nest_mark, std::string(depth, '[') + std::string(depth, ']'), manifest_path);
  }
  for (const auto& [from, to] : text_edits) replace_once(text, from, to, manifest_path);
  write(manifest_path, text);
}

/// The valid folder, and a few CIFAR-10-format test images: `fxnn infer` evaluates a data set.
class ReaderAgreement : public ::testing::Test {
 protected:
  void SetUp() override {
    save_valid_folder(tmp_ / "valid");
    const auto r = run_command(testing_support::kFxnnBinary + " make-data --dataset cifar10 --out " +
                                   quoted(tmp_ / "data") + " --train 5 --test " + std::to_string(kSamples),
                               tmp_.str());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  TempDir tmp_;
};

TEST_F(ReaderAgreement, ValidFolderGivesTheSameCodes) {
  auto r = run_command(cpp_reader(tmp_ / "valid", tmp_ / "data") + " --save-inputs " + quoted(tmp_ / "x.npy") +
                           " --save-output " + quoted(tmp_ / "cpp.npy"),
                       tmp_.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run_command(python_reader(tmp_ / "valid", tmp_ / "x.npy") + " --output " + quoted(tmp_ / "py.npy"), tmp_.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "samples " + std::to_string(kSamples) + "\n");
  const auto cpp = io::load_npy(tmp_ / "cpp.npy"), py = io::load_npy(tmp_ / "py.npy");
  EXPECT_EQ(cpp.shape, (std::vector<int64_t>{kSamples, 10}));
  EXPECT_EQ(py.shape, cpp.shape);
  EXPECT_EQ(py.data, cpp.data);
  // Not a network whose outputs are all alike: the codes differ between samples.
  EXPECT_NE(std::vector<int64_t>(cpp.data.begin(), cpp.data.begin() + 10),
            std::vector<int64_t>(cpp.data.begin() + 10, cpp.data.begin() + 20));
}

TEST_F(ReaderAgreement, EveryDamagedFolderIsRefusedByBoth) {
  const Json cases = Json::parse(slurp(testing_support::kSourceDir + "/tests/deploy/damaged_folders.json")).at("cases");
  ASSERT_GE(cases.size(), 14u);
  // Input codes of the network's shape and format, for the numpy program.
  io::save_npy(tmp_ / "x.npy",
               io::NpyArray{{2, 3, 32, 32}, io::NpyDType::kInt16, std::vector<int64_t>(2 * 3 * 32 * 32, 7)});
  const std::string valid = tmp_ / "valid";
  ASSERT_NO_THROW(ir::load_network(valid));

  // One shell script per case (both readers, their streams and exit statuses into the case's folder),
  // run a few at a time: most of the time is the start of the two programs.
  std::string list;
  for (const Json& c : cases) {
    const std::string name = c.at("name").get<std::string>(), dir = tmp_ / ("case_" + name);
    fs::create_directories(dir);
    fs::copy(valid, dir + "/model", fs::copy_options::recursive);
    ASSERT_NO_THROW(apply_edits(dir + "/model", c.at("edits"))) << name;
    write(dir + "/run.sh", cpp_reader(dir + "/model", tmp_ / "data") + " >" + quoted(dir + "/cpp.out") + " 2>" +
                               quoted(dir + "/cpp.err") + "; echo $? >" + quoted(dir + "/cpp.rc") + "\n" +
                               python_reader(dir + "/model", tmp_ / "x.npy") + " >" + quoted(dir + "/py.out") + " 2>" +
                               quoted(dir + "/py.err") + "; echo $? >" + quoted(dir + "/py.rc") + "\n");
    list += dir + "/run.sh\n";
  }
  write(tmp_ / "cases.txt", list);
  const unsigned jobs = std::max(2u, std::min(8u, std::thread::hardware_concurrency()));
  const auto r =
      run_command("xargs -P " + std::to_string(jobs) + " -n 1 sh <" + quoted(tmp_ / "cases.txt"), tmp_.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  for (const Json& c : cases) {
    const std::string name = c.at("name").get<std::string>(), dir = tmp_ / ("case_" + name);
    const std::string file = c.at("file").get<std::string>(), says = c.at("says").get<std::string>();
    for (const auto& [reader, prefix] : {std::pair<std::string, std::string>{"cpp", "fxnn: error: "},
                                         std::pair<std::string, std::string>{"py", "fxnn_infer.py: error: "}}) {
      const std::string err = slurp(dir + "/" + reader + ".err"), rc = slurp(dir + "/" + reader + ".rc");
      SCOPED_TRACE(name + ", " + reader + ": " + err + slurp(dir + "/" + reader + ".out"));
      EXPECT_EQ(rc, "1\n");
      EXPECT_EQ(count_lines(err), 1);
      EXPECT_EQ(err.rfind(prefix, 0), 0u);
      EXPECT_NE(err.find(file), std::string::npos) << "the line must name " << file;
      EXPECT_NE(err.find(says), std::string::npos) << "the line must say " << says;
      EXPECT_EQ(err.find("internal error"), std::string::npos) << "refused by the safety net, not by a rule";
    }
  }
}

/// One random damage of the folder `dir`, drawn from `rng`: a character of model.json replaced or
/// removed, or a byte of a .npy file changed, or a .npy file cut short. Returns what was done.
std::string damage_at_random(const std::string& dir, std::mt19937_64& rng) {
  std::vector<std::string> arrays;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".npy") arrays.push_back(e.path().string());
  std::sort(arrays.begin(), arrays.end());
  const auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const char* kChars = "0123456789-.,:\"[]{}aeiosxu ";
  switch (pick(4)) {
    case 0: { // a character of the manifest replaced: mostly numbers (shifts, formats, shapes) and names
      std::string text = slurp(dir + "/model.json");
      const size_t at = pick(text.size());
      const char c = kChars[pick(std::string(kChars).size())];
      write(dir + "/model.json", text.replace(at, 1, 1, c));
      return "model.json: byte " + std::to_string(at) + " := '" + std::string(1, c) + "'";
    }
    case 1: { // a character of the manifest removed
      std::string text = slurp(dir + "/model.json");
      const size_t at = pick(text.size());
      write(dir + "/model.json", text.erase(at, 1));
      return "model.json: byte " + std::to_string(at) + " removed";
    }
    case 2: { // a byte of an array changed: the header (first 128 bytes) as often as the data
      const std::string path = arrays.at(pick(arrays.size()));
      std::string bytes = slurp(path);
      const size_t at = pick(2) == 0 ? pick(std::min<size_t>(128, bytes.size())) : pick(bytes.size());
      bytes[at] = static_cast<char>(rng() & 0xff);
      write(path, bytes);
      return fs::path(path).filename().string() + ": byte " + std::to_string(at) + " changed";
    }
    default: { // an array cut short
      const std::string path = arrays.at(pick(arrays.size()));
      std::string bytes = slurp(path);
      bytes.resize(pick(bytes.size()));
      write(path, bytes);
      return fs::path(path).filename().string() + ": cut to " + std::to_string(bytes.size()) + " bytes";
    }
  }
}

// Differential fuzzing of the two readers: on folders damaged at random (not only the cases of the
// list), both accept and give the same output codes, or both refuse with exit status 1 and one line.
TEST_F(ReaderAgreement, RandomDamageIsJudgedAlikeByBoth) {
  constexpr int kCases = 64;
  const std::string valid = tmp_ / "valid";
  auto r = run_command(cpp_reader(valid, tmp_ / "data") + " --save-inputs " + quoted(tmp_ / "x.npy"), tmp_.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::mt19937_64 rng(20261202);
  std::vector<std::string> what(kCases);
  std::string list;
  for (int i = 0; i < kCases; ++i) {
    const std::string dir = tmp_ / ("random_" + std::to_string(i));
    fs::create_directories(dir);
    fs::copy(valid, dir + "/model", fs::copy_options::recursive);
    what[i] = damage_at_random(dir + "/model", rng);
    // The numpy program reads the input codes `fxnn infer` saved; where it refused, those of the valid folder.
    write(dir + "/run.sh", cpp_reader(dir + "/model", tmp_ / "data") + " --save-inputs " + quoted(dir + "/x.npy") +
                               " --save-output " + quoted(dir + "/cpp.npy") + " >/dev/null 2>" +
                               quoted(dir + "/cpp.err") + "; echo $? >" + quoted(dir + "/cpp.rc") + "\n" + "[ -f " +
                               quoted(dir + "/x.npy") + " ] || cp " + quoted(tmp_ / "x.npy") + " " +
                               quoted(dir + "/x.npy") + "\n" + python_reader(dir + "/model", dir + "/x.npy") +
                               " --output " + quoted(dir + "/py.npy") + " >/dev/null 2>" + quoted(dir + "/py.err") +
                               "; echo $? >" + quoted(dir + "/py.rc") + "\n");
    list += dir + "/run.sh\n";
  }
  write(tmp_ / "random.txt", list);
  const unsigned jobs = std::max(2u, std::min(8u, std::thread::hardware_concurrency()));
  r = run_command("xargs -P " + std::to_string(jobs) + " -n 1 sh <" + quoted(tmp_ / "random.txt"), tmp_.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  int refused = 0;
  for (int i = 0; i < kCases; ++i) {
    const std::string dir = tmp_ / ("random_" + std::to_string(i));
    const std::string cpp_rc = slurp(dir + "/cpp.rc"), py_rc = slurp(dir + "/py.rc");
    const std::string cpp_err = slurp(dir + "/cpp.err"), py_err = slurp(dir + "/py.err");
    SCOPED_TRACE(what[i] + "\n  fxnn infer: " + cpp_rc + cpp_err + "  fxnn_infer.py: " + py_rc + py_err);
    EXPECT_EQ(cpp_rc, py_rc) << "the readers disagree";
    if (cpp_rc == "0\n" && py_rc == "0\n") {
      EXPECT_EQ(io::load_npy(dir + "/cpp.npy").data, io::load_npy(dir + "/py.npy").data);
    } else {
      ++refused;
      for (const auto* err : {&cpp_err, &py_err}) {
        EXPECT_EQ(count_lines(*err), 1);
        EXPECT_EQ(err->find("internal error"), std::string::npos) << "refused by the safety net, not by a rule";
        EXPECT_EQ(err->find("Traceback"), std::string::npos);
      }
    }
  }
  // Most random damage breaks a rule: the draw is not a list of harmless edits.
  EXPECT_GE(refused, kCases / 4);
}

} // namespace
} // namespace fxnn
