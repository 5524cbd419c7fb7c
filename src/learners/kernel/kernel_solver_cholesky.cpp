// A Cholesky factorisation per ridge (pdpotrf/pdpotrs), with jitter in
// growing steps when one breaks down. K is rebuilt for each try (cheaper in
// memory than a copy, and cheap next to the factorisation) and freed on return.
#include <cmath>
#include <limits>

#include "neurep/kernel_solver.hpp"
#include "neurep/linalg.hpp"

namespace neurep {
namespace {

class CholeskySolver : public TypedRidgeSolver<CholeskySolver> {
 public:
  template <typename T>
  void run(const SolveProblem& p, Solution<T>& sol, Phases& ph) const {
    const int64_t n = p.gram.n_train(), nr = static_cast<int64_t>(p.shift.size());
    const int nb = p.block;
    // Only K's lower triangle is ever written or read: the upper one is never touched.
    DistMatrix<T> k = DistMatrix<T>::uninitialized(p.grid, n, n, nb, nb), rhs(p.grid, n, 1, nb, nb);
    const int tries = static_cast<int>(std::lround(std::log10(1e-2 / Tolerances<T>::first_jitter))) + 1;
    PhaseClock clock;
    for (int64_t l = 0; l < nr; ++l) {
      int info = 1;
      for (int attempt = 0; attempt <= tries && info != 0; ++attempt) {
        sol.jitter[l] = attempt == 0 ? 0.0 : p.mean_diag * (Tolerances<T>::first_jitter / 10) * std::pow(10.0, attempt);
        if (l > 0 || attempt > 0) sol.flops += p.gram.flops();
        clock.start();
        build_train_kernel(p, k);
        linalg::add_to_diagonal(k, p.shift[l] + sol.jitter[l]);
        clock.stop(ph.kernel);
        clock.start();
        info = linalg::potrf_lower(k);
        clock.stop(ph.factor);
        sol.flops += std::pow(static_cast<double>(n), 3) / 3.0;
      }
      if (info != 0) {
        sol.status[l] = "not-positive-definite";
        sol.coef.for_each_local([&](int64_t, int64_t j, T& v) { if (j == l) v = std::numeric_limits<T>::quiet_NaN(); });
        continue;
      }
      if (sol.jitter[l] > 0) sol.status[l] = jitter_status(sol.jitter[l]);
      clock.start();
      linalg::fill_columns(rhs, p.y);
      linalg::potrs_lower(k, rhs);
      sol.flops += 2.0 * static_cast<double>(n) * static_cast<double>(n);
      const std::vector<double> alpha = linalg::gather_column(rhs, 0);
      sol.coef.for_each_local([&](int64_t i, int64_t j, T& v) { if (j == l) v = static_cast<T>(alpha[i]); });
      clock.stop(ph.solve);
    }
  }
};

}  // namespace

std::unique_ptr<RidgeSolver> make_cholesky_solver() { return std::make_unique<CholeskySolver>(); }

}  // namespace neurep
