// One eigendecomposition K = Q diag(w) Q^T (pdsyevd) serves every ridge:
// alpha = Q diag(1/(w + shift)) Q^T y, and the exact leave-one-out residuals
// alpha_i / [(K + shift I)^{-1}]_ii. K and Q are freed on return.
#include <fmt/core.h>

#include <cmath>
#include <limits>

#include "neurep/kernel_solver.hpp"
#include "neurep/linalg.hpp"

namespace neurep {
namespace {

using linalg::Op;

class EigenSolver : public TypedRidgeSolver<EigenSolver> {
 public:
  template <typename T>
  void run(const SolveProblem& p, Solution<T>& sol, Phases& ph) const {
    const int64_t n = p.gram.n_train(), nr = static_cast<int64_t>(p.shift.size());
    const int nb = p.block;
    const ProcessGrid& grid = p.grid;
    PhaseClock clock;
    std::vector<double> w;
    DistMatrix<T> q = DistMatrix<T>::uninitialized(grid, n, n, nb, nb);
    {
      DistMatrix<T> k = DistMatrix<T>::uninitialized(grid, n, n, nb, nb);
      clock.start();
      build_train_kernel(p, k);
      clock.stop(ph.kernel);
      clock.start();
      const int info = linalg::syevd_lower(k, w, q);
      clock.stop(ph.factor);
      sol.flops += 4.0 * std::pow(static_cast<double>(n), 3);  // tridiagonalisation + back-transformation (model)
      if (info != 0) {  // numerical trouble (info is agreed over the ranks): recorded, and the sweep goes on
        for (int64_t l = 0; l < nr; ++l) {
          sol.status[l] = fmt::format("eigensolver-failed(info={})", info);
          sol.loo_sq[l] = std::numeric_limits<double>::quiet_NaN();  // never selected
        }
        sol.coef.fill(std::numeric_limits<T>::quiet_NaN());
        return;
      }
    }
    clock.start();
    DistMatrix<T> y(grid, n, 1, nb, nb), c(grid, n, 1, nb, nb);
    linalg::fill_columns(y, p.y);
    linalg::gemm(Op::T, Op::N, T(1), q, y, T(0), c);
    const std::vector<double> qty = linalg::gather_column(c, 0);
    // Eigenvalues below this floor (relative to the kernel's scale) are noise.
    const double floor = p.mean_diag * Tolerances<T>::eigen_floor * static_cast<double>(n);
    const std::vector<double>& shift = p.shift;
    for (int64_t l = 0; l < nr; ++l)
      if (w.front() + shift[l] < floor) {
        sol.jitter[l] = floor - w.front() - shift[l];
        sol.status[l] = jitter_status(sol.jitter[l]);
      }
    DistMatrix<T> scaled(grid, n, nr, nb, nb);
    scaled.for_each_local([&](int64_t i, int64_t l, T& v) { v = static_cast<T>(qty[i] / (w[i] + shift[l] + sol.jitter[l])); });
    linalg::gemm(Op::N, Op::N, T(1), q, scaled, T(0), sol.coef);
    sol.flops += 4.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(nr);
    if (p.leave_one_out) {
      // The diagonal of the inverse is sum_k Q_ik^2 / (w_k + s): one product of Q∘Q with the n x L weights.
      q.for_each_local([](int64_t, int64_t, T& v) { v *= v; });
      scaled.for_each_local([&](int64_t k, int64_t l, T& v) { v = static_cast<T>(1.0 / (w[k] + shift[l] + sol.jitter[l])); });
      DistMatrix<T> inv_diag(grid, n, nr, nb, nb);
      linalg::gemm(Op::N, Op::N, T(1), q, scaled, T(0), inv_diag);
      sol.flops += 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(nr);
      for (int64_t lj = 0; lj < sol.coef.local_cols(); ++lj)
        for (int64_t li = 0; li < sol.coef.local_rows(); ++li) {
          const double r = static_cast<double>(sol.coef.local(li, lj)) / static_cast<double>(inv_diag.local(li, lj));
          sol.loo_sq[sol.coef.global_col(lj)] += r * r;
        }
    }
    clock.stop(ph.solve);
  }
};

}  // namespace

std::unique_ptr<RidgeSolver> make_eigen_solver() { return std::make_unique<EigenSolver>(); }

}  // namespace neurep
