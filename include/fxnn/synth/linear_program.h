#pragma once
// A small builder for (mixed-integer) linear programs, solved by COIN-OR CBC (with CLP for the
// relaxations). Infeasibility is a result, not an exception.

#include <string>
#include <utility>
#include <vector>

namespace fxnn::synth {

class LinearProgram {
 public:
  struct Term {
    int variable;
    double coefficient;
  };
  enum class Sense { kLessEqual, kGreaterEqual, kEqual };

  /// A new variable with bounds and objective coefficient (minimized); returns its index.
  int add_variable(double lo, double hi, double objective, bool integer, const std::string& name = "");
  /// sum(terms) sense rhs; returns its index. Names appear in solver messages and debugging dumps.
  int add_constraint(const std::vector<Term>& terms, Sense sense, double rhs, const std::string& name = "");

  int variables() const { return static_cast<int>(lo_.size()); }
  int constraints() const { return static_cast<int>(rows_.size()); }
  int integers() const;
  const std::string& name(int variable) const { return names_[static_cast<size_t>(variable)]; }

  enum class Status { kOptimal, kFeasible /* time limit, a solution known */, kInfeasible, kNoSolution };
  struct Solution {
    Status status = Status::kNoSolution;
    std::vector<double> values;
    double objective = 0.0;
    double seconds = 0.0; // wall time of the solver
  };

  /// A variable's value by name: solutions carried from one problem to a related one.
  struct NamedValue {
    std::string name;
    double value;
  };
  /// The integer variables of a solution of this problem, by name.
  std::vector<NamedValue> named_integers(const Solution& solution) const;

  /// Solves with CBC; `time_limit` in seconds bounds the branch and bound, which also stops once
  /// the best solution is within `relative_gap` of the best bound. `start`: a solution to begin the
  /// branch and bound from (a warm start; names this problem lacks are ignored).
  Solution solve(double time_limit, double relative_gap = 0.0, const std::vector<NamedValue>& start = {}) const;

  /// The linear relaxation (every variable continuous), solved by CBC's LP solver.
  Solution solve_relaxation(double time_limit) const;

  /// The relaxation first: where it puts every integer variable on an integer (within 1e-6), that
  /// vertex, rounded, is optimal for the integer program too and is returned; else solve(...), the
  /// relaxation's time added. For programs whose relaxations are usually integral.
  Solution solve_relaxation_first(double time_limit, double relative_gap = 0.0,
                                  const std::vector<NamedValue>& start = {}) const;

  /// The LP file of the problem (for debugging), written by CBC.
  void write_lp(const std::string& path) const;

 private:
  /// A new CBC model of this problem (a Cbc_Model*, owned by the caller); `relaxed`: no variable
  /// is marked integer.
  void* new_solver_model(bool relaxed = false) const;

  struct Row {
    std::vector<Term> terms;
    Sense sense;
    double rhs;
    std::string name;
  };
  std::vector<double> lo_, hi_, objective_;
  std::vector<char> integer_;
  std::vector<std::string> names_;
  std::vector<Row> rows_;
};

std::string to_string(LinearProgram::Status status);

} // namespace fxnn::synth
