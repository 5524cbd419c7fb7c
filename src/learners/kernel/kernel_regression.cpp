#include "neurep/kernel_regression.hpp"

#include <boost/mpi/collectives.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "neurep/agreement.hpp"
#include "neurep/errors.hpp"
#include "neurep/kernel_solver.hpp"
#include "neurep/linalg.hpp"

namespace neurep {

using linalg::Op;

template <typename T>
void FeatureGram::train(DistMatrix<T>& k) const {
  linalg::syrk_lower(T(1), *linalg::Rounded<T>(u_train_), T(0), k);
}

template <typename T>
void FeatureGram::test_rows(DistMatrix<T>& k, int64_t first) const {
  const DistMatrix<double> rows = linalg::copy_rows(u_test_, first, k.rows());
  linalg::gemm(Op::N, Op::T, T(1), *linalg::Rounded<T>(rows), *linalg::Rounded<T>(u_train_), T(0), k);
}

template void FeatureGram::train(DistMatrix<double>&) const;
template void FeatureGram::train(DistMatrix<float>&) const;
template void FeatureGram::test_rows(DistMatrix<double>&, int64_t) const;
template void FeatureGram::test_rows(DistMatrix<float>&, int64_t) const;

std::vector<double> FeatureGram::train_diagonal() const { return row_norms_squared(u_train_); }
std::vector<double> FeatureGram::test_diagonal() const { return row_norms_squared(u_test_); }

void GramSource::train_gram_rows(DistMatrix<double>&, const std::vector<int64_t>&) const {
  throw InputError("learner.solver: \"pcg\" needs kernel rows on demand, which this kernel does not provide; use cholesky or mixed");
}

void FeatureGram::train_gram_rows(DistMatrix<double>& k, const std::vector<int64_t>& rows) const {
  const DistMatrix<double> u = linalg::select_rows(u_train_, rows);
  if (k.cols() == u_train_.rows()) linalg::gemm(Op::N, Op::T, 1.0, u, u_train_, 0.0, k);
  else linalg::gemm(Op::N, Op::T, 1.0, u, linalg::copy_rows(u_train_, 0, k.cols()), 0.0, k);
}

double FeatureGram::flops() const {
  const double n = static_cast<double>(u_train_.rows()), q = static_cast<double>(u_train_.cols());
  return n * n * q + 2.0 * static_cast<double>(u_test_.rows()) * n * q;
}

namespace {

// kernel_regression with K, its factor, the coefficients and the test kernel
// stored as T.
template <typename T>
std::vector<FitResult> fit(const GramSource& gram, const std::vector<double>& y_train,
                           const std::vector<double>& f_test, double target_variance,
                           const KernelRegressionOptions& opt, const ProcessGrid& grid) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = gram.n_train(), nt = gram.n_test();
  const int64_t nr = static_cast<int64_t>(opt.ridges.size());
  const int nb = opt.block;
  if (opt.leave_one_out && opt.solver == KernelSolver::Cholesky)
    throw InputError("learner.ridge_selection: leave-one-out needs the eigendecomposition; set learner.solver = \"eigen\" or \"auto\"");
  if (opt.leave_one_out && (opt.solver == KernelSolver::Mixed || opt.solver == KernelSolver::Pcg))
    throw InputError(fmt::format("learner.ridge_selection: leave-one-out needs the eigendecomposition, not learner.solver = \"{}\"",
                                 name_of(opt.solver)));
  Phases ph;
  PhaseClock clock;

  // Kernel diagonals and the scale the ridges are relative to.
  clock.start();
  const std::vector<double> a_train = gram.train_diagonal(), a_test = gram.test_diagonal();
  double mean_diag = 0;
  for (double a : a_train) mean_diag += kernel_value(opt.kernel, a, a, a);
  mean_diag /= static_cast<double>(n);
  if (!(mean_diag > 0)) mean_diag = 1.0;
  // The scale of the shifts and of the eigenvalue floor that decides jitter: one value for all ranks.
  mean_diag = from_rank0(grid.comm(), mean_diag);
  clock.stop(ph.kernel);
  std::vector<double> shift(static_cast<size_t>(nr));
  for (int64_t l = 0; l < nr; ++l) shift[l] = static_cast<double>(n) * opt.ridges[l] * mean_diag;

  Solution<T> sol(grid, n, nr, nb);
  sol.flops = gram.flops();
  const SolveProblem problem{gram,   opt.kernel,          a_train,  shift,           mean_diag, y_train, grid, nb,
                             opt.leave_one_out, opt.iterative, opt.seed, opt.checkpoints, opt.fit, opt.on_evaluation};
  const std::unique_ptr<RidgeSolver> solver = make_ridge_solver(opt.solver, opt.leave_one_out);
  solver->solve(problem, sol, ph);

  // Training residuals are free: K alpha - y = -(shift + jitter) alpha.
  std::vector<double> train_sq(static_cast<size_t>(nr), 0.0), test_sq(static_cast<size_t>(nr), 0.0);
  sol.coef.for_each_local([&](int64_t, int64_t l, T& v) {
    const double r = (shift[l] + sol.jitter[l]) * static_cast<double>(v);
    train_sq[l] += r * r;
  });

  // Test predictions for every ridge, one product per block of at most n
  // test rows (K is freed by now, so the test kernel never needs more).
  clock.start();
  const int64_t unit = static_cast<int64_t>(nb) * grid.rows();
  int64_t chunk = std::min(nt, std::max(unit, n / unit * unit));
  if (solver->matrix_free())  // K was never stored: keep to the solver's block of rows
    chunk = std::min(chunk, std::max(unit, kMatrixFreeBlockWords * grid.size() / n / unit * unit));
  for (int64_t first = 0; first < nt; first += chunk) {
    const int64_t rows = std::min(chunk, nt - first);
    DistMatrix<T> kt = DistMatrix<T>::uninitialized(grid, rows, n, nb, nb), pred(grid, rows, nr, nb, nb);
    gram.test_gram_rows(kt, first);
    const std::vector<double> a_rows(a_test.begin() + first, a_test.begin() + first + rows);
    apply_kernel(opt.kernel, kt, a_rows, a_train, /*lower_only=*/false);
    linalg::gemm(Op::N, Op::N, T(1), kt, sol.coef, T(0), pred);
    pred.for_each_local([&](int64_t i, int64_t l, T& v) {
      const double r = static_cast<double>(v) - f_test[static_cast<size_t>(first + i)];
      test_sq[l] += r * r;
    });
  }
  sol.flops += 2.0 * static_cast<double>(nt) * static_cast<double>(n) * static_cast<double>(nr);
  clock.stop(ph.predict);

  std::vector<double> sums(3 * static_cast<size_t>(nr)), total(sums.size());
  for (int64_t l = 0; l < nr; ++l) sums[l] = train_sq[l], sums[nr + l] = test_sq[l], sums[2 * nr + l] = sol.loo_sq[l];
  boost::mpi::all_reduce(grid.comm(), sums.data(), static_cast<int>(sums.size()), total.data(),
                         std::plus<double>());
  const double local_times[5] = {
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), ph.kernel, ph.factor,
      ph.solve, ph.predict};
  double times[5];
  boost::mpi::all_reduce(grid.comm(), local_times, 5, times, boost::mpi::maximum<double>());

  std::vector<FitResult> rows(static_cast<size_t>(nr));
  for (int64_t l = 0; l < nr; ++l) {
    auto& r = rows[l];
    r.ridge = opt.ridges[l];
    r.train_error = total[l] / static_cast<double>(n) / target_variance;
    r.test_error = total[nr + l] / static_cast<double>(nt) / target_variance;
    r.seconds = times[0];
    r.flops = sol.flops;
    r.status = sol.status[l];
    r.extra["jitter"] = sol.jitter[l];
    r.extra["seconds_kernel"] = times[1];
    r.extra["seconds_factor"] = times[2];
    r.extra["seconds_solve"] = times[3];
    r.extra["seconds_predict"] = times[4];
    for (const auto& [key, value] : sol.extra[l]) r.extra[key] = value;
    if (sol.status[l] == "not-positive-definite") r.train_error = r.test_error = std::nan("");
  }
  if (opt.leave_one_out) {
    std::vector<double> loo(static_cast<size_t>(nr));
    for (int64_t l = 0; l < nr; ++l)
      rows[l].extra["validation_error"] = loo[l] = total[2 * nr + l] / static_cast<double>(n) / target_variance;
    const int64_t best = smallest_finite(loo);
    for (int64_t l = 0; l < nr; ++l) rows[l].extra["selected"] = l == best ? 1.0 : 0.0;
  }
  return rows;
}

}  // namespace

std::vector<FitResult> kernel_regression(const GramSource& gram, const std::vector<double>& y_train,
                                         const std::vector<double>& f_test, double target_variance,
                                         const KernelRegressionOptions& opt, const ProcessGrid& grid) {
  return opt.single_precision ? fit<float>(gram, y_train, f_test, target_variance, opt, grid)
                              : fit<double>(gram, y_train, f_test, target_variance, opt, grid);
}

}  // namespace neurep
