#include "neurep/whitening.hpp"

#include <boost/mpi/collectives.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "neurep/errors.hpp"
#include "neurep/linalg.hpp"

namespace neurep {

using linalg::Op;

std::vector<double> column_means(const DistMatrix<double>& a) {
  std::vector<double> part(static_cast<size_t>(a.cols()), 0.0), all(part.size());
  for (int64_t lj = 0; lj < a.local_cols(); ++lj) {
    double s = 0;
    for (int64_t li = 0; li < a.local_rows(); ++li) s += a.local(li, lj);
    part[static_cast<size_t>(a.global_col(lj))] = s;
  }
  boost::mpi::all_reduce(a.grid().comm(), part.data(), static_cast<int>(part.size()), all.data(),
                         std::plus<double>());
  for (double& v : all) v /= static_cast<double>(a.rows());
  return all;
}

namespace {

void subtract_row_vector(DistMatrix<double>& g, const std::vector<double>& mu) {
  for (int64_t lj = 0; lj < g.local_cols(); ++lj) {
    const double m = mu[static_cast<size_t>(g.global_col(lj))];
    for (int64_t li = 0; li < g.local_rows(); ++li) g.local(li, lj) -= m;
  }
}

void scale(DistMatrix<double>& g, double s) {
  g.for_each_local([s](int64_t, int64_t, double& v) { v *= s; });
}

// h = gc S^{-1/2} computed in precision T, returned in double. For float gc
// is rounded and released before the product, so the peak memory is below
// the double path's (g and h).
template <typename T>
DistMatrix<double> whiten_product(DistMatrix<double> gc, const DistMatrix<double>& s_inv_half) {
  const DistMatrix<T> g = linalg::converted<T>(std::move(gc));
  DistMatrix<T> h(g.grid(), g.rows(), g.cols(), g.row_block(), g.col_block());
  linalg::gemm(Op::N, Op::N, T(1), g, *linalg::Rounded<T>(s_inv_half), T(0), h);
  return linalg::converted<double>(std::move(h));
}

}  // namespace

Whitening::Whitening(int64_t width) : kind_(WhitenKind::None), width_(width) {}

Whitening::Whitening(WhitenKind kind, const DistMatrix<double>& g_unl, double ridge_eps)
    : kind_(kind), width_(g_unl.cols()) {
  if (kind == WhitenKind::None) return;
  const int64_t nu = g_unl.rows(), dd = width_;
  if (nu < 2)
    throw InputError(fmt::format("representation.n_unlabeled: {} unlabelled inputs cannot estimate a mean and "
                                 "covariance; give at least 2 (0 means 4*width)", nu));
  mean_ = column_means(g_unl);
  if (kind == WhitenKind::Center) return;

  // Sigma = Gc^T Gc / N (lower triangle, which is what pdsyevd reads).
  const ProcessGrid& grid = g_unl.grid();
  const int nb = g_unl.col_block();
  DistMatrix<double> gc = g_unl;
  subtract_row_vector(gc, mean_);
  DistMatrix<double> sigma(grid, dd, dd, nb, nb), z(grid, dd, dd, nb, nb);
  linalg::syrk_lower(1.0 / static_cast<double>(nu), gc, 0.0, sigma, Op::T);
  gc = DistMatrix<double>(grid, 0, 0, 1, 1);  // release before the eigensolver's workspace

  const int info = linalg::syevd_lower(sigma, eigenvalues_, z);
  if (info != 0) throw CollectiveError(fmt::format("whitening: pdsyevd did not converge (info = {}, the same on every rank)", info));
  const double trace = std::accumulate(eigenvalues_.begin(), eigenvalues_.end(), 0.0);
  ridge_ = ridge_eps * trace / static_cast<double>(dd);
  // With eps = 0 a rank-deficient Sigma has eigenvalues at rounding level
  // (possibly negative): floor them where rounding could not tell them apart.
  const double floor = std::max(eigenvalues_.back(), std::numeric_limits<double>::min()) *
                       std::numeric_limits<double>::epsilon() * static_cast<double>(dd);
  std::vector<double> s(eigenvalues_.size());
  for (size_t i = 0; i < s.size(); ++i) s[i] = 1.0 / std::sqrt(std::max(eigenvalues_[i] + ridge_, floor));

  // S^{-1/2} = Z diag(s) Z^T.
  DistMatrix<double> zs = z;
  zs.for_each_local([&](int64_t, int64_t j, double& v) { v *= s[static_cast<size_t>(j)]; });
  matrix_ = std::make_unique<DistMatrix<double>>(grid, dd, dd, nb, nb);
  linalg::gemm(Op::N, Op::T, 1.0, zs, z, 0.0, *matrix_);
}

DistMatrix<double> Whitening::apply(DistMatrix<double> g, bool single_precision) const {
  if (g.cols() != width_)
    throw RuntimeError(fmt::format("Whitening::apply: {} columns, expected D = {}", g.cols(), width_));
  if (kind_ != WhitenKind::None) subtract_row_vector(g, mean_);
  if (kind_ != WhitenKind::Zca) {
    scale(g, 1.0 / std::sqrt(static_cast<double>(width_)));
    return g;
  }
  return single_precision ? whiten_product<float>(std::move(g), *matrix_)
                          : whiten_product<double>(std::move(g), *matrix_);
}

}  // namespace neurep
