#pragma once
// The contract every parser keeps on hostile input (docs/fuzzing.md): it returns, or it throws
// std::runtime_error or std::invalid_argument whose message names where the input came from (the
// file, or the option). Anything else is a defect: another exception type (a yaml-cpp, nlohmann or
// c10 exception, std::bad_alloc, std::out_of_range escaping), a message that does not say which
// file is bad, and, caught by the sanitizers, crashes, leaks and undefined behaviour.
// Shared by the libFuzzer targets (fuzz_target.cpp) and the GoogleTest replaying fuzz/regressions.

#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

namespace fxnn::fuzz {

/// One parser under test.
struct Target {
  std::string name; // the binary fuzz_<name>, the folders corpus/<name>, fuzz/regressions/<name>
  /// Parses one input; `scratch` is an empty folder for the files the input becomes.
  std::function<void(const std::string& input, const std::string& scratch)> parse;
  /// What an error message must contain (any one of them): the paths or options the input fed.
  std::function<std::vector<std::string>(const std::string& scratch)> sources;
};

inline std::vector<std::string> scratch_is_source(const std::string& scratch) { return {scratch}; }

inline std::string unnamed_source(const std::string& type, const std::string& message,
                                  const std::vector<std::string>& sources) {
  for (const auto& s : sources)
    if (message.find(s) != std::string::npos) return "";
  return type + " whose message names no source ('" + sources.front() + "'...): " + message;
}

/// "" when the parser keeps the contract on `input`, else what went wrong.
inline std::string contract_violation(const Target& target, const std::string& input, const std::string& scratch) {
  const auto sources = target.sources(scratch);
  try {
    target.parse(input, scratch);
  } catch (const std::runtime_error& e) {
    return unnamed_source(std::string("std::runtime_error (") + typeid(e).name() + ")", e.what(), sources);
  } catch (const std::invalid_argument& e) {
    return unnamed_source("std::invalid_argument", e.what(), sources);
  } catch (const std::exception& e) {
    return std::string("an exception of type ") + typeid(e).name() + " escaped: " + e.what();
  }
  return "";
}

} // namespace fxnn::fuzz
