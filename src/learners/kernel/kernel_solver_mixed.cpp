#include "neurep/kernel_solver_mixed.hpp"

#include <boost/mpi/collectives.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "neurep/errors.hpp"
#include "neurep/kernel_solver.hpp"
#include "neurep/linalg.hpp"

namespace neurep {

namespace {

// Sums of `part` over the grid, reduced on rank 0 and broadcast: the same bits on every rank.
std::vector<double> shared_sums(const boost::mpi::communicator& comm, std::vector<double> part) {
  std::vector<double> total(part.size());
  boost::mpi::reduce(comm, part.data(), static_cast<int>(part.size()), total.data(), std::plus<double>(), 0);
  boost::mpi::broadcast(comm, total.data(), static_cast<int>(total.size()), 0);
  return total;
}

double local_sum_squares(const DistMatrix<double>& a) {
  double s = 0;
  for (int64_t lj = 0; lj < a.local_cols(); ++lj)
    for (int64_t li = 0; li < a.local_rows(); ++li) s += a.local(li, lj) * a.local(li, lj);
  return s;
}

}  // namespace

RefinementResult refine_mixed(const DistMatrix<double>& k, double shift, const DistMatrix<float>& factor,
                              const DistMatrix<double>& b, DistMatrix<double>& x, double tolerance,
                              int64_t max_iterations) {
  const ProcessGrid& grid = k.grid();
  const int64_t n = k.rows(), nrhs = b.cols();
  const int nb = b.row_block();
  // |A|_F^2 from the lower triangle (off-diagonal entries count twice).
  double a_sq = 0;
  for (int64_t lj = 0; lj < k.local_cols(); ++lj) {
    const int64_t j = k.global_col(lj);
    for (int64_t li = 0; li < k.local_rows(); ++li) {
      const int64_t i = k.global_row(li);
      if (i > j)
        a_sq += 2 * k.local(li, lj) * k.local(li, lj);
      else if (i == j)
        a_sq += (k.local(li, lj) + shift) * (k.local(li, lj) + shift);
    }
  }
  const auto norms0 = shared_sums(grid.comm(), {a_sq, local_sum_squares(b)});
  const double a_norm = std::sqrt(norms0[0]), b_norm = std::sqrt(norms0[1]);

  DistMatrix<float> c(grid, n, nrhs, nb, nb);
  DistMatrix<double> r(grid, n, nrhs, nb, nb), x_prev(grid, n, nrhs, nb, nb);
  // x_0 from the float factor.
  linalg::convert(b, c);
  linalg::potrs_lower(factor, c);
  linalg::convert(c, x);

  RefinementResult res;
  double prev = std::numeric_limits<double>::infinity();
  for (int64_t step = 0;; ++step) {
    // r = b - (K + shift I) x, in double.
    std::copy(b.data(), b.data() + b.lld() * b.local_cols(), r.data());
    linalg::symm_lower(-1.0, k, x, 1.0, r);
    for (int64_t lj = 0; lj < r.local_cols(); ++lj)
      for (int64_t li = 0; li < r.local_rows(); ++li) r.local(li, lj) -= shift * x.local(li, lj);
    const auto s = shared_sums(grid.comm(), {local_sum_squares(r), local_sum_squares(x)});
    const double rel = b_norm > 0 ? std::sqrt(s[0]) / b_norm : std::sqrt(s[0]);
    if (!(rel <= 0.5 * prev)) {                        // stalled (or NaN)
      const bool revert = step > 0 && !(rel <= prev);  // the previous iterate was better: keep it
      if (revert) std::copy(x_prev.data(), x_prev.data() + x.lld() * x.local_cols(), x.data());
      res.residual = revert ? prev : rel;
      res.iterations = static_cast<int>(revert ? step - 1 : step);
      // Normwise backward error (|x| of the current iterate; the kept one
      // differs from it by one correction).
      const double eta = res.residual * b_norm / (a_norm * std::sqrt(s[1]) + b_norm);
      res.converged = eta <= 1e-12;
      return res;
    }
    res.residual = rel;
    res.iterations = static_cast<int>(step);
    if (rel <= tolerance) {
      res.converged = true;
      return res;
    }
    if (step >= max_iterations) return res;  // not converged within the allowed steps
    prev = rel;
    std::copy(x.data(), x.data() + x.lld() * x.local_cols(), x_prev.data());
    linalg::convert(r, c);
    linalg::potrs_lower(factor, c);
    for (int64_t lj = 0; lj < x.local_cols(); ++lj)
      for (int64_t li = 0; li < x.local_rows(); ++li) x.local(li, lj) += static_cast<double>(c.local(li, lj));
  }
}

namespace {

// Column l of `coef` set from the replicated vector v. Local.
void set_column(DistMatrix<double>& coef, int64_t l, const double* v) {
  coef.for_each_local([&](int64_t i, int64_t j, double& c) {
    if (j == l) c = v[i];
  });
}

// Per ridge: K + shift I factored in float, the answer refined in double
// against K kept in double; a ridge whose refinement does not converge is
// solved again by double Cholesky (status "fallback-cholesky"). Memory: K's
// lower triangle in double (pages of the upper one are never touched) and
// the factor in float.
class MixedSolver : public TypedRidgeSolver<MixedSolver> {
 public:
  template <typename T>
  void run(const SolveProblem& p, Solution<T>& sol, Phases& ph) const {
    if constexpr (!std::is_same_v<T, double>) {
      refuse_single_precision(KernelSolver::Mixed);
    } else {
      solve_double(p, sol, ph);
    }
  }

 private:
  void solve_double(const SolveProblem& p, Solution<double>& sol, Phases& ph) const {
    const int64_t n = p.gram.n_train(), nr = static_cast<int64_t>(p.shift.size());
    const int nb = p.block;
    const double nd = static_cast<double>(n);
    std::vector<int64_t> failed;
    PhaseClock clock;
    {
      auto k = DistMatrix<double>::uninitialized(p.grid, n, n, nb, nb);
      auto f = DistMatrix<float>::uninitialized(p.grid, n, n, nb, nb);
      DistMatrix<double> b(p.grid, n, 1, nb, nb), x(p.grid, n, 1, nb, nb);
      linalg::fill_columns(b, p.y);
      clock.start();
      build_train_kernel(p, k);
      clock.stop(ph.kernel);
      for (int64_t l = 0; l < nr; ++l) {
        clock.start();
#pragma omp parallel for schedule(dynamic, 8)
        for (int64_t lj = 0; lj < k.local_cols(); ++lj) {  // the lower triangle, rounded to float
          const int64_t j = k.global_col(lj);
          for (int64_t li = 0; li < k.local_rows(); ++li)
            if (k.global_row(li) >= j) f.local(li, lj) = static_cast<float>(k.local(li, lj));
        }
        linalg::add_to_diagonal(f, p.shift[l]);
        const int info = linalg::potrf_lower(f);
        clock.stop(ph.factor);
        sol.flops += nd * nd * nd / 3.0;
        RefinementResult res;
        res.residual = std::nan("");
        if (info == 0) {
          clock.start();
          res = refine_mixed(k, p.shift[l], f, b, x, p.iterative.tolerance, p.iterative.max_iterations);
          clock.stop(ph.solve);
          sol.flops += (res.iterations + 1.0) * 4.0 * nd * nd;  // a triangular solve pair and a product each
        }
        sol.extra[l]["residual"] = res.residual;
        sol.extra[l]["iterations"] = res.iterations;
        if (info != 0 || !res.converged) {
          failed.push_back(l);
          continue;
        }
        const std::vector<double> alpha = linalg::gather_column(x, 0);
        set_column(sol.coef, l, alpha.data());
      }
    }
    if (failed.empty()) return;
    // The float factorisation broke down or refinement did not converge (kappa eps_float >= 1): double Cholesky.
    std::vector<double> fshift;
    for (int64_t l : failed) fshift.push_back(p.shift[l]);
    const SolveProblem sub_problem{p.gram,  p.kernel,        p.diag,      fshift, p.mean_diag,   p.y,  p.grid,
                                   p.block, p.leave_one_out, p.iterative, p.seed, p.checkpoints, p.fit};
    Solution<double> sub(p.grid, n, static_cast<int64_t>(failed.size()), nb);
    make_cholesky_solver()->solve(sub_problem, sub, ph);
    sol.flops += sub.flops + p.gram.flops();
    for (size_t t = 0; t < failed.size(); ++t) {
      const int64_t l = failed[t];
      const std::vector<double> alpha = linalg::gather_column(sub.coef, static_cast<int64_t>(t));
      set_column(sol.coef, l, alpha.data());
      sol.jitter[l] = sub.jitter[t];
      sol.status[l] = sub.status[t] == "ok"                      ? "fallback-cholesky"
                      : sub.status[t] == "not-positive-definite" ? sub.status[t]
                                                                 : "fallback-cholesky," + sub.status[t];
    }
  }
};

}  // namespace

std::unique_ptr<RidgeSolver> make_mixed_solver() {
  return std::make_unique<MixedSolver>();
}

}  // namespace neurep
