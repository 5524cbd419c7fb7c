#include "neurep/kernel_regression.hpp"

#include <boost/mpi/collectives.hpp>
#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <numeric>

#include "neurep/errors.hpp"
#include "neurep/linalg.hpp"

namespace neurep {

using linalg::Op;

void FeatureGram::train_gram(DistMatrix<double>& k) const {
  linalg::syrk_lower(1.0, u_train_, 0.0, k);
}

void FeatureGram::test_gram(DistMatrix<double>& k) const {
  linalg::gemm(Op::N, Op::T, 1.0, u_test_, u_train_, 0.0, k);
}

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
void build_train_kernel(const GramSource& gram, KernelKind kind, const std::vector<double>& diag,
                        DistMatrix<double>& k) {
  gram.train_gram(k);
  apply_kernel(kind, k, diag, diag, /*lower_only=*/true);
}

std::string jitter_status(double jitter) { return fmt::format("jitter={:.3g}", jitter); }

}  // namespace

std::vector<FitResult> kernel_regression(const GramSource& gram, const std::vector<double>& y_train,
                                         const std::vector<double>& f_test, double target_variance,
                                         const KernelRegressionOptions& opt, const ProcessGrid& grid) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = gram.n_train(), nt = gram.n_test();
  const int64_t nr = static_cast<int64_t>(opt.ridges.size());
  const int nb = opt.block;
  double flops = gram.flops();

  // Kernel diagonals and the scale the ridges are relative to.
  const std::vector<double> a_train = gram.train_diagonal(), a_test = gram.test_diagonal();
  double mean_diag = 0;
  for (double a : a_train) mean_diag += kernel_value(opt.kernel, a, a, a);
  mean_diag /= static_cast<double>(n);
  if (!(mean_diag > 0)) mean_diag = 1.0;

  DistMatrix<double> k(grid, n, n, nb, nb);
  DistMatrix<double> coef(grid, n, nr, nb, nb);  // alpha, one column per ridge
  std::vector<double> shift(static_cast<size_t>(nr)), jitter(static_cast<size_t>(nr), 0.0);
  std::vector<std::string> status(static_cast<size_t>(nr), "ok");
  for (int64_t l = 0; l < nr; ++l) shift[l] = static_cast<double>(n) * opt.ridges[l] * mean_diag;

  const bool eigen = opt.solver == KernelSolver::Eigen || opt.leave_one_out ||
                     (opt.solver == KernelSolver::Auto && nr > 1);
  if (opt.leave_one_out && opt.solver == KernelSolver::Cholesky)
    throw InputError("learner.ridge_selection: leave-one-out needs the eigendecomposition; set learner.solver = \"eigen\" or \"auto\"");
  std::vector<double> loo_sq(static_cast<size_t>(nr), 0.0);
  if (!eigen) {
    DistMatrix<double> rhs(grid, n, 1, nb, nb);
    for (int64_t l = 0; l < nr; ++l) {
      // Jitter in growing steps if the factorisation breaks down; K is rebuilt
      // each try (cheaper in memory than a copy, and cheap next to potrf).
      int info = 1;
      for (int attempt = 0; attempt <= 10 && info != 0; ++attempt) {
        jitter[l] = attempt == 0 ? 0.0 : mean_diag * 1e-12 * std::pow(10.0, attempt);
        if (l > 0 || attempt > 0) flops += gram.flops();
        build_train_kernel(gram, opt.kernel, a_train, k);
        linalg::add_to_diagonal(k, shift[l] + jitter[l]);
        info = linalg::potrf_lower(k);
        flops += std::pow(static_cast<double>(n), 3) / 3.0;
      }
      if (info != 0) {
        status[l] = "not-positive-definite";
        coef.for_each_local([&](int64_t, int64_t j, double& v) { if (j == l) v = std::nan(""); });
        continue;
      }
      if (jitter[l] > 0) status[l] = jitter_status(jitter[l]);
      linalg::fill_columns(rhs, y_train);
      linalg::potrs_lower(k, rhs);
      flops += 2.0 * static_cast<double>(n) * static_cast<double>(n);
      const std::vector<double> alpha = linalg::gather_column(rhs, 0);
      coef.for_each_local([&](int64_t i, int64_t j, double& v) { if (j == l) v = alpha[i]; });
    }
  } else {
    build_train_kernel(gram, opt.kernel, a_train, k);
    std::vector<double> w;
    DistMatrix<double> q(grid, n, n, nb, nb);
    const int info = linalg::syevd_lower(k, w, q);
    flops += 4.0 * std::pow(static_cast<double>(n), 3);  // tridiagonalisation + back-transformation (model)
    if (info != 0) throw RuntimeError(fmt::format("pdsyevd did not converge (info = {})", info));
    DistMatrix<double> y(grid, n, 1, nb, nb), c(grid, n, 1, nb, nb);
    linalg::fill_columns(y, y_train);
    linalg::gemm(Op::T, Op::N, 1.0, q, y, 0.0, c);
    const std::vector<double> qty = linalg::gather_column(c, 0);
    // Eigenvalues below this floor (relative to the kernel's scale) are noise.
    const double floor = mean_diag * 1e-12 * static_cast<double>(n);
    DistMatrix<double> scaled(grid, n, nr, nb, nb);
    for (int64_t l = 0; l < nr; ++l) {
      if (w.front() + shift[l] < floor) {
        jitter[l] = floor - w.front() - shift[l];
        status[l] = jitter_status(jitter[l]);
      }
    }
    scaled.for_each_local([&](int64_t i, int64_t l, double& v) {
      v = qty[i] / (w[i] + shift[l] + jitter[l]);
    });
    linalg::gemm(Op::N, Op::N, 1.0, q, scaled, 0.0, coef);
    flops += 4.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(nr);
    if (opt.leave_one_out) {
      // LOO residual_i = alpha_i / [(K + s I)^{-1}]_ii, with the diagonal of the
      // inverse sum_k Q_ik^2 / (w_k + s): one product of Q∘Q with the n x L weights.
      q.for_each_local([](int64_t, int64_t, double& v) { v *= v; });
      scaled.for_each_local([&](int64_t k, int64_t l, double& v) { v = 1.0 / (w[k] + shift[l] + jitter[l]); });
      DistMatrix<double> inv_diag(grid, n, nr, nb, nb);
      linalg::gemm(Op::N, Op::N, 1.0, q, scaled, 0.0, inv_diag);
      flops += 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(nr);
      for (int64_t lj = 0; lj < coef.local_cols(); ++lj)
        for (int64_t li = 0; li < coef.local_rows(); ++li) {
          const double r = coef.local(li, lj) / inv_diag.local(li, lj);
          loo_sq[coef.global_col(lj)] += r * r;
        }
    }
  }

  // Training residuals are free: K alpha - y = -(shift + jitter) alpha.
  std::vector<double> train_sq(static_cast<size_t>(nr), 0.0), test_sq(static_cast<size_t>(nr), 0.0);
  coef.for_each_local([&](int64_t, int64_t l, double& v) {
    const double r = (shift[l] + jitter[l]) * v;
    train_sq[l] += r * r;
  });

  // Test predictions for every ridge in one product.
  DistMatrix<double> kt(grid, nt, n, nb, nb), pred(grid, nt, nr, nb, nb);
  gram.test_gram(kt);
  apply_kernel(opt.kernel, kt, a_test, a_train, /*lower_only=*/false);
  linalg::gemm(Op::N, Op::N, 1.0, kt, coef, 0.0, pred);
  flops += 2.0 * static_cast<double>(nt) * static_cast<double>(n) * static_cast<double>(nr);
  pred.for_each_local([&](int64_t i, int64_t l, double& v) {
    const double r = v - f_test[i];
    test_sq[l] += r * r;
  });

  std::vector<double> sums(3 * static_cast<size_t>(nr)), total(sums.size());
  for (int64_t l = 0; l < nr; ++l) sums[l] = train_sq[l], sums[nr + l] = test_sq[l], sums[2 * nr + l] = loo_sq[l];
  boost::mpi::all_reduce(grid.comm(), sums.data(), static_cast<int>(sums.size()), total.data(),
                         std::plus<double>());

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double max_seconds = 0;
  boost::mpi::all_reduce(grid.comm(), seconds, max_seconds, boost::mpi::maximum<double>());

  std::vector<FitResult> rows(static_cast<size_t>(nr));
  for (int64_t l = 0; l < nr; ++l) {
    auto& r = rows[l];
    r.ridge = opt.ridges[l];
    r.train_error = total[l] / static_cast<double>(n) / target_variance;
    r.test_error = total[nr + l] / static_cast<double>(nt) / target_variance;
    r.seconds = max_seconds;
    r.flops = flops;
    r.status = status[l];
    r.extra["jitter"] = jitter[l];
    if (status[l] == "not-positive-definite") r.train_error = r.test_error = std::nan("");
  }
  if (opt.leave_one_out) {
    int64_t best = 0;
    for (int64_t l = 0; l < nr; ++l) {
      rows[l].extra["val_error"] = total[2 * nr + l] / static_cast<double>(n) / target_variance;
      if (rows[l].extra["val_error"] < rows[best].extra["val_error"]) best = l;
    }
    for (int64_t l = 0; l < nr; ++l) rows[l].extra["selected"] = l == best ? 1.0 : 0.0;
  }
  return rows;
}

}  // namespace neurep
