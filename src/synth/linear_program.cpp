#include "fxnn/synth/linear_program.h"

#include <coin/Cbc_C_Interface.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <unordered_set>

namespace fxnn::synth {

namespace {

struct CbcDeleter {
  void operator()(Cbc_Model* model) const { Cbc_deleteModel(model); }
};
using CbcModel = std::unique_ptr<Cbc_Model, CbcDeleter>;

constexpr double kInfinity = std::numeric_limits<double>::infinity();
/// A relaxed value this close to an integer counts as that integer (CLP's tolerances are 1e-7).
constexpr double kIntegralTolerance = 1e-6;

} // namespace

int LinearProgram::add_variable(double lo, double hi, double objective, bool integer, const std::string& name) {
  lo_.push_back(lo);
  hi_.push_back(hi);
  objective_.push_back(objective);
  integer_.push_back(integer ? 1 : 0);
  names_.push_back(name.empty() ? "x" + std::to_string(lo_.size() - 1) : name);
  return static_cast<int>(lo_.size()) - 1;
}

int LinearProgram::add_constraint(const std::vector<Term>& terms, Sense sense, double rhs, const std::string& name) {
  for (const Term& t : terms)
    if (t.variable < 0 || t.variable >= variables())
      throw std::logic_error("LinearProgram: constraint on an unknown variable");
  rows_.push_back(Row{terms, sense, rhs, name.empty() ? "c" + std::to_string(rows_.size()) : name});
  return static_cast<int>(rows_.size()) - 1;
}

int LinearProgram::integers() const {
  int n = 0;
  for (char c : integer_) n += c;
  return n;
}

void* LinearProgram::new_solver_model(bool relaxed) const {
  const int n = variables();
  // Compressed sparse columns.
  std::vector<CoinBigIndex> start(static_cast<size_t>(n) + 1, 0);
  for (const Row& row : rows_)
    for (const Term& t : row.terms) ++start[static_cast<size_t>(t.variable) + 1];
  for (int c = 0; c < n; ++c) start[static_cast<size_t>(c) + 1] += start[static_cast<size_t>(c)];
  std::vector<int> index(static_cast<size_t>(start.back()));
  std::vector<double> value(index.size());
  std::vector<CoinBigIndex> fill(start.begin(), start.end() - 1);
  std::vector<double> row_lo, row_hi;
  for (size_t r = 0; r < rows_.size(); ++r) {
    for (const Term& t : rows_[r].terms) {
      const auto k = static_cast<size_t>(fill[static_cast<size_t>(t.variable)]++);
      index[k] = static_cast<int>(r);
      value[k] = t.coefficient;
    }
    row_lo.push_back(rows_[r].sense == Sense::kLessEqual ? -kInfinity : rows_[r].rhs);
    row_hi.push_back(rows_[r].sense == Sense::kGreaterEqual ? kInfinity : rows_[r].rhs);
  }
  Cbc_Model* model = Cbc_newModel();
  Cbc_loadProblem(model, n, constraints(), start.data(), index.data(), value.data(), lo_.data(), hi_.data(),
                  objective_.data(), row_lo.data(), row_hi.data());
  for (int c = 0; c < n; ++c) {
    if (integer_[static_cast<size_t>(c)] && !relaxed) Cbc_setInteger(model, c);
    Cbc_setColName(model, c, names_[static_cast<size_t>(c)].c_str());
  }
  for (size_t r = 0; r < rows_.size(); ++r) Cbc_setRowName(model, static_cast<int>(r), rows_[r].name.c_str());
  Cbc_setObjSense(model, 1.0);
  return model;
}

std::vector<LinearProgram::NamedValue> LinearProgram::named_integers(const Solution& solution) const {
  std::vector<NamedValue> values;
  for (size_t c = 0; c < solution.values.size() && c < names_.size(); ++c)
    if (integer_[c]) values.push_back({names_[c], solution.values[c]});
  return values;
}

LinearProgram::Solution LinearProgram::solve(double time_limit, double relative_gap,
                                             const std::vector<NamedValue>& start) const {
  CbcModel model(static_cast<Cbc_Model*>(new_solver_model()));
  if (!start.empty()) {
    const std::unordered_set<std::string> known(names_.begin(), names_.end());
    std::vector<const char*> names;
    std::vector<double> values;
    for (const NamedValue& v : start)
      if (known.count(v.name)) {
        names.push_back(v.name.c_str());
        values.push_back(v.value);
      }
    Cbc_setMIPStart(model.get(), static_cast<int>(names.size()), names.data(), values.data());
  }
  Cbc_setLogLevel(model.get(), 0);
  Cbc_setMaximumSeconds(model.get(), time_limit);
  Cbc_setAllowableFractionGap(model.get(), relative_gap);
  // CBC's integer preprocessing declared feasible format problems infeasible (ACC5NN with the
  // milp method); without it the branch and bound is also fast here.
  Cbc_setParameter(model.get(), "preprocess", "off");
  const auto began = std::chrono::steady_clock::now();
  Cbc_solve(model.get());
  Solution solution;
  solution.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  const int n = variables();
  const double* values = nullptr;
  if (Cbc_isProvenOptimal(model.get())) {
    solution.status = Status::kOptimal;
    values = integers() > 0 && Cbc_bestSolution(model.get()) ? Cbc_bestSolution(model.get())
                                                             : Cbc_getColSolution(model.get());
  } else if (Cbc_isProvenInfeasible(model.get())) {
    solution.status = Status::kInfeasible;
  } else if (integers() > 0 && Cbc_bestSolution(model.get())) {
    solution.status = Status::kFeasible;
    values = Cbc_bestSolution(model.get());
  }
  if (values) {
    solution.values.assign(values, values + n);
    solution.objective = Cbc_getObjValue(model.get());
  }
  return solution;
}

LinearProgram::Solution LinearProgram::solve_relaxation(double time_limit) const {
  CbcModel model(static_cast<Cbc_Model*>(new_solver_model(true)));
  Cbc_setLogLevel(model.get(), 0);
  Cbc_setMaximumSeconds(model.get(), time_limit);
  const auto began = std::chrono::steady_clock::now();
  Cbc_solve(model.get());
  Solution solution;
  solution.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  if (Cbc_isProvenOptimal(model.get())) {
    solution.status = Status::kOptimal;
    const double* values = Cbc_getColSolution(model.get());
    solution.values.assign(values, values + variables());
    solution.objective = Cbc_getObjValue(model.get());
  } else if (Cbc_isProvenInfeasible(model.get())) {
    solution.status = Status::kInfeasible;
  }
  return solution;
}

LinearProgram::Solution LinearProgram::solve_relaxation_first(double time_limit, double relative_gap,
                                                              const std::vector<NamedValue>& start) const {
  Solution relaxed = solve_relaxation(time_limit);
  bool integral = relaxed.status == Status::kOptimal;
  for (size_t c = 0; integral && c < relaxed.values.size(); ++c)
    if (integer_[c]) {
      const double rounded = std::round(relaxed.values[c]);
      integral = std::fabs(relaxed.values[c] - rounded) <= kIntegralTolerance;
      relaxed.values[c] = rounded;
    }
  if (integral) return relaxed;
  Solution solution = solve(time_limit, relative_gap, start);
  solution.seconds += relaxed.seconds;
  return solution;
}

void LinearProgram::write_lp(const std::string& path) const {
  CbcModel model(static_cast<Cbc_Model*>(new_solver_model()));
  std::string base = path;
  if (base.size() > 3 && base.compare(base.size() - 3, 3, ".lp") == 0) base.resize(base.size() - 3);
  Cbc_writeLp(model.get(), base.c_str());
}

std::string to_string(LinearProgram::Status status) {
  switch (status) {
    case LinearProgram::Status::kOptimal: return "optimal";
    case LinearProgram::Status::kFeasible: return "feasible (time limit)";
    case LinearProgram::Status::kInfeasible: return "infeasible";
    case LinearProgram::Status::kNoSolution: return "no solution (time limit or solver failure)";
  }
  return "?";
}

} // namespace fxnn::synth
