// The linear solve inside kernel regression, behind one interface: given
// the training kernel (through its GramSource), a shift n lambda mean(diag K)
// per ridge and the labels, a RidgeSolver produces the coefficients alpha
// (a column per ridge) with, per ridge, the jitter it needed and a status.
// Each solver is one class in its own file (kernel_solver_cholesky.cpp,
// kernel_solver_eigen.cpp, kernel_solver_mixed.cpp, kernel_solver_pcg.cpp);
// make_ridge_solver is the registry. Adding one:
//   1. a KernelSolver value and its name in settings (learner.solver),
//   2. a class deriving from TypedRidgeSolver<It> with
//        template <typename T> void run(const SolveProblem&, Solution<T>&, Phases&) const;
//      and a factory function, in its own file,
//   3. one line in the registry (kernel_solver.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "neurep/dist_matrix.hpp"
#include "neurep/kernel_regression.hpp"
#include "neurep/settings.hpp"

namespace neurep {

// What every solver receives. The training kernel is K = kernel(Gram); only
// its lower triangle is ever built. Collective objects live on `grid`.
struct SolveProblem {
  const GramSource& gram;
  KernelKind kernel;
  const std::vector<double>& diag;   // inner Gram diagonal of the training samples
  const std::vector<double>& shift;  // n lambda_l mean(diag K), one per ridge
  double mean_diag;                  // mean(diag K), the scale of the ridges and the jitter
  const std::vector<double>& y;      // training labels, replicated
  const ProcessGrid& grid;
  int block;
  bool leave_one_out;  // also the exact leave-one-out residuals (solvers that can)
  // The iterative solvers (mixed, pcg): when to stop, pcg's preconditioner
  // and the seed of its landmarks.
  const IterativeSolverConfig& iterative;
  uint64_t seed;
  // Where an iterative solver (pcg) checkpoints its state and finds an
  // earlier run's, or null; `fit` tells the fits of one point apart (0: on
  // all n, 1: the refit for ridge_selection = "validation").
  PointCheckpoints* checkpoints;
  int fit;
  // Called on every rank after each iteration of an iterative solver (pcg), or empty.
  EvaluationObserver on_evaluation = {};
};

// The coefficients alpha (n x L, a column per ridge, stored as T) and what the solve found.
template <typename T>
struct Solution {
  Solution(const ProcessGrid& grid, int64_t n, int64_t nr, int nb)
      : coef(grid, n, nr, nb, nb), jitter(nr, 0.0), status(nr, "ok"), loo_sq(nr, 0.0), extra(nr) {}
  DistMatrix<T> coef;
  std::vector<double> jitter;
  std::vector<std::string> status;
  std::vector<double> loo_sq;  // sums of squared leave-one-out residuals (this rank's rows)
  std::vector<std::map<std::string, double>> extra;  // the solver's own columns per ridge (residual, iterations)
  double flops = 0;
};

// Wall-clock seconds of the phases of a point (this rank's; reduced by the caller).
struct Phases {
  double kernel = 0, factor = 0, solve = 0, predict = 0;
};

class PhaseClock {
 public:
  void start() { t_ = std::chrono::steady_clock::now(); }
  void stop(double& into) { into += std::chrono::duration<double>(std::chrono::steady_clock::now() - t_).count(); }

 private:
  std::chrono::steady_clock::time_point t_;
};

// The precision-dependent thresholds, relative to mean(diag K). Jitter grows
// tenfold per try from `first_jitter` to 1e-2 (below ten rounding units of
// the storage type it would not change a float K at all); an eigenvalue of K
// plus the shift below `eigen_floor` * n is rounding noise.
template <typename T>
struct Tolerances;
template <>
struct Tolerances<double> {
  static constexpr double first_jitter = 1e-11, eigen_floor = 1e-12;
};
template <>
struct Tolerances<float> {
  static constexpr double first_jitter = 1e-6, eigen_floor = 1.1920929e-07;  // FLT_EPSILON
};

// The status of a ridge that needed jitter, e.g. "jitter=1e-08".
std::string jitter_status(double jitter);

// K = kernel(Gram) for the training samples into k (lower triangle). Collective.
template <typename T>
void build_train_kernel(const SolveProblem& p, DistMatrix<T>& k);

class RidgeSolver {
 public:
  virtual ~RidgeSolver() = default;
  // Fills `sol` for every ridge of p.shift. Collective.
  virtual void solve(const SolveProblem& p, Solution<double>& sol, Phases& ph) const = 0;
  virtual void solve(const SolveProblem& p, Solution<float>& sol, Phases& ph) const = 0;
  // Does it work without storing K (then the test kernel is predicted in
  // blocks of at most kMatrixFreeBlockWords words per rank)?
  virtual bool matrix_free() const { return false; }
};

// The largest block of kernel rows a matrix-free solver holds, per rank (256 MB).
constexpr int64_t kMatrixFreeBlockWords = int64_t(1) << 25;

// A RidgeSolver whose two precisions are one member template of Derived,
//   template <typename T> void run(const SolveProblem&, Solution<T>&, Phases&) const;
template <typename Derived>
class TypedRidgeSolver : public RidgeSolver {
 public:
  void solve(const SolveProblem& p, Solution<double>& sol, Phases& ph) const final { self().run(p, sol, ph); }
  void solve(const SolveProblem& p, Solution<float>& sol, Phases& ph) const final { self().run(p, sol, ph); }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

// A solver that computes only a double-precision answer (mixed, pcg) asked
// for single precision: an InputError naming learner.solver (validate()
// refuses the configuration first; this serves direct callers).
[[noreturn]] void refuse_single_precision(KernelSolver kind);

// The registry: the solver of learner.solver (auto: eigen for leave-one-out,
// else Cholesky).
std::unique_ptr<RidgeSolver> make_ridge_solver(KernelSolver kind, bool leave_one_out);

// The solvers (one file each).
std::unique_ptr<RidgeSolver> make_cholesky_solver();
std::unique_ptr<RidgeSolver> make_eigen_solver();
std::unique_ptr<RidgeSolver> make_mixed_solver();
std::unique_ptr<RidgeSolver> make_pcg_solver();

}  // namespace neurep
