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

double FeatureGram::flops() const {
  const double n = static_cast<double>(u_train_.rows()), q = static_cast<double>(u_train_.cols());
  return n * n * q + 2.0 * static_cast<double>(u_test_.rows()) * n * q;
}

KernelSolver parse_solver(const std::string& name) {
  if (name == "auto") return KernelSolver::Auto;
  if (name == "cholesky") return KernelSolver::Cholesky;
  if (name == "eigen") return KernelSolver::Eigen;
  throw InputError(fmt::format("learner.solver: unknown solver \"{}\"; accepted: auto, cholesky, eigen", name));
}

namespace {

// The outer kernel applied to the inner Gram of the training samples (lower triangle).
template <typename T>
void build_train_kernel(const GramSource& gram, KernelKind kind, const std::vector<double>& diag,
                        DistMatrix<T>& k) {
  gram.train_gram(k);
  apply_kernel(kind, k, diag, diag, /*lower_only=*/true);
}

std::string jitter_status(double jitter) { return fmt::format("jitter={:.3g}", jitter); }

// Wall-clock seconds of the phases of a point, the slowest rank's.
class PhaseClock {
 public:
  void start() { t_ = std::chrono::steady_clock::now(); }
  void stop(double& into) { into += std::chrono::duration<double>(std::chrono::steady_clock::now() - t_).count(); }

 private:
  std::chrono::steady_clock::time_point t_;
};

struct Phases {
  double kernel = 0, factor = 0, solve = 0, predict = 0;
};

// The coefficients alpha (n x L, a column per ridge, in the storage type T)
// and what the solve found.
template <typename T>
struct Solution {
  Solution(const ProcessGrid& grid, int64_t n, int64_t nr, int nb)
      : coef(grid, n, nr, nb, nb), jitter(nr, 0.0), status(nr, "ok"), loo_sq(nr, 0.0) {}
  DistMatrix<T> coef;
  std::vector<double> jitter;
  std::vector<std::string> status;
  std::vector<double> loo_sq;  // sums of squared leave-one-out residuals
  double flops = 0;
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

// A Cholesky factorisation per ridge, with jitter in growing steps when one
// breaks down. K is rebuilt for each try (cheaper in memory than a copy, and
// cheap next to the factorisation) and freed on return.
template <typename T>
void solve_cholesky(const GramSource& gram, const KernelRegressionOptions& opt, const std::vector<double>& diag,
                    const std::vector<double>& shift, double mean_diag, const std::vector<double>& y,
                    const ProcessGrid& grid, Solution<T>& sol, Phases& ph) {
  const int64_t n = gram.n_train(), nr = static_cast<int64_t>(shift.size());
  const int nb = opt.block;
  // Only K's lower triangle is ever written or read: the upper one is never touched.
  DistMatrix<T> k = DistMatrix<T>::uninitialized(grid, n, n, nb, nb), rhs(grid, n, 1, nb, nb);
  const int tries = static_cast<int>(std::lround(std::log10(1e-2 / Tolerances<T>::first_jitter))) + 1;
  PhaseClock clock;
  for (int64_t l = 0; l < nr; ++l) {
    int info = 1;
    for (int attempt = 0; attempt <= tries && info != 0; ++attempt) {
      sol.jitter[l] = attempt == 0 ? 0.0 : mean_diag * (Tolerances<T>::first_jitter / 10) * std::pow(10.0, attempt);
      if (l > 0 || attempt > 0) sol.flops += gram.flops();
      clock.start();
      build_train_kernel(gram, opt.kernel, diag, k);
      linalg::add_to_diagonal(k, shift[l] + sol.jitter[l]);
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
    linalg::fill_columns(rhs, y);
    linalg::potrs_lower(k, rhs);
    sol.flops += 2.0 * static_cast<double>(n) * static_cast<double>(n);
    const std::vector<double> alpha = linalg::gather_column(rhs, 0);
    sol.coef.for_each_local([&](int64_t i, int64_t j, T& v) { if (j == l) v = static_cast<T>(alpha[i]); });
    clock.stop(ph.solve);
  }
}

// One eigendecomposition K = Q diag(w) Q^T serves every ridge:
// alpha = Q diag(1/(w + shift)) Q^T y, and the exact leave-one-out residuals
// alpha_i / [(K + shift I)^{-1}]_ii. K and Q are freed on return.
template <typename T>
void solve_eigen(const GramSource& gram, const KernelRegressionOptions& opt, const std::vector<double>& diag,
                 const std::vector<double>& shift, double mean_diag, const std::vector<double>& y_train,
                 const ProcessGrid& grid, Solution<T>& sol, Phases& ph) {
  const int64_t n = gram.n_train(), nr = static_cast<int64_t>(shift.size());
  const int nb = opt.block;
  PhaseClock clock;
  std::vector<double> w;
  DistMatrix<T> q = DistMatrix<T>::uninitialized(grid, n, n, nb, nb);
  {
    DistMatrix<T> k = DistMatrix<T>::uninitialized(grid, n, n, nb, nb);
    clock.start();
    build_train_kernel(gram, opt.kernel, diag, k);
    clock.stop(ph.kernel);
    clock.start();
    const int info = linalg::syevd_lower(k, w, q);
    clock.stop(ph.factor);
    sol.flops += 4.0 * std::pow(static_cast<double>(n), 3);  // tridiagonalisation + back-transformation (model)
    if (info != 0) {  // numerical trouble (info is agreed over the ranks): recorded, and the sweep goes on
      for (int64_t l = 0; l < nr; ++l) sol.status[l] = fmt::format("eigensolver-failed(info={})", info);
      sol.coef.fill(std::numeric_limits<T>::quiet_NaN());
      return;
    }
  }
  clock.start();
  DistMatrix<T> y(grid, n, 1, nb, nb), c(grid, n, 1, nb, nb);
  linalg::fill_columns(y, y_train);
  linalg::gemm(Op::T, Op::N, T(1), q, y, T(0), c);
  const std::vector<double> qty = linalg::gather_column(c, 0);
  // Eigenvalues below this floor (relative to the kernel's scale) are noise.
  const double floor = mean_diag * Tolerances<T>::eigen_floor * static_cast<double>(n);
  for (int64_t l = 0; l < nr; ++l)
    if (w.front() + shift[l] < floor) {
      sol.jitter[l] = floor - w.front() - shift[l];
      sol.status[l] = jitter_status(sol.jitter[l]);
    }
  DistMatrix<T> scaled(grid, n, nr, nb, nb);
  scaled.for_each_local([&](int64_t i, int64_t l, T& v) { v = static_cast<T>(qty[i] / (w[i] + shift[l] + sol.jitter[l])); });
  linalg::gemm(Op::N, Op::N, T(1), q, scaled, T(0), sol.coef);
  sol.flops += 4.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(nr);
  if (opt.leave_one_out) {
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
  const bool eigen = opt.solver == KernelSolver::Eigen || opt.leave_one_out;
  if (eigen) solve_eigen(gram, opt, a_train, shift, mean_diag, y_train, grid, sol, ph);
  else solve_cholesky(gram, opt, a_train, shift, mean_diag, y_train, grid, sol, ph);

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
  const int64_t chunk = std::min(nt, std::max(unit, n / unit * unit));
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
    if (sol.status[l] == "not-positive-definite") r.train_error = r.test_error = std::nan("");
  }
  if (opt.leave_one_out) {
    int64_t best = 0;
    for (int64_t l = 0; l < nr; ++l) {
      rows[l].extra["validation_error"] = total[2 * nr + l] / static_cast<double>(n) / target_variance;
      if (rows[l].extra["validation_error"] < rows[best].extra["validation_error"]) best = l;
    }
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
