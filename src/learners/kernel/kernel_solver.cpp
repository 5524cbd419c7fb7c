#include "neurep/kernel_solver.hpp"

#include <fmt/core.h>

#include <functional>
#include <stdexcept>
#include <utility>

#include "neurep/errors.hpp"
#include "neurep/kernels.hpp"

namespace neurep {

std::string jitter_status(double jitter) { return fmt::format("jitter={:.3g}", jitter); }

template <typename T>
void build_train_kernel(const SolveProblem& p, DistMatrix<T>& k) {
  p.gram.train_gram(k);
  apply_kernel(p.kernel, k, p.diag, p.diag, /*lower_only=*/true);
}
template void build_train_kernel(const SolveProblem&, DistMatrix<double>&);
template void build_train_kernel(const SolveProblem&, DistMatrix<float>&);

void refuse_single_precision(KernelSolver kind) {
  throw InputError(fmt::format(
      "learner.solver: \"{}\" computes a double-precision answer; it needs run.precision = \"double\"", name_of(kind)));
}

std::unique_ptr<RidgeSolver> make_ridge_solver(KernelSolver kind, bool leave_one_out) {
  if (kind == KernelSolver::Auto) kind = leave_one_out ? KernelSolver::Eigen : KernelSolver::Cholesky;
  static const std::vector<std::pair<KernelSolver, std::function<std::unique_ptr<RidgeSolver>()>>> registry = {
      {KernelSolver::Cholesky, make_cholesky_solver},
      {KernelSolver::Eigen, make_eigen_solver},
      {KernelSolver::Mixed, make_mixed_solver},
      {KernelSolver::Pcg, make_pcg_solver},
  };
  for (const auto& [k, make] : registry)
    if (k == kind) return make();
  throw std::logic_error("make_ridge_solver: no solver registered for learner.solver = " + name_of(kind));
}

}  // namespace neurep
