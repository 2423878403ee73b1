#pragma once
// `fxnn inspect`: the weights of a run against their initialization, or two runs of one network
// against each other (which weights and buffers differ, and by how much). The command prints these.

#include <string>

namespace fxnn {

/// Per layer: the W format, how many weights changed since the initialization training started from
/// (W = Q_W(Q_acc(W)) of the run's seed), their range. "DIR after epoch E:" and a table.
std::string inspect_run(const std::string& dir);

/// Per parameter and buffer of two runs of the same network: elements, how many differ, the largest
/// difference; the last line says "bitwise identical" or "the runs differ". Throws
/// std::runtime_error naming the tensor when the shapes differ.
std::string compare_runs(const std::string& a_dir, const std::string& b_dir);

} // namespace fxnn
