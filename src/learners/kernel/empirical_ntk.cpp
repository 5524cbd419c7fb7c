#include "neurep/empirical_ntk.hpp"

#include <algorithm>
#include <numeric>

#include "neurep/kernels.hpp"
#include "neurep/linalg.hpp"

namespace neurep {

using linalg::Op;

namespace {
// sigma'(U W_0^T), samples along grid rows, units along grid columns. Collective.
DistMatrix<double> slopes(const TaylorModel& model, const DistMatrix<double>& u) {
  DistMatrix<double> s(u.grid(), u.rows(), model.width(), u.row_block(), model.w0().row_block());
  linalg::gemm(Op::N, Op::T, 1.0, u, model.w0(), 0.0, s);
  const Activation sigma = model.options().activation;
  s.for_each_local([&](int64_t, int64_t, double& v) { v = activation(sigma, 1, v); });
  return s;
}

// k <- k o (A B^T), restricted to the lower triangle when `lower` (then A = B,
// the training inputs), a panel of columns at a time, so that no second
// matrix of k's size is needed: for the columns [j0, j0 + w) the product of
// the rows of A (from j0 when lower) with rows [j0, j0 + w) of B, whose local
// entries are k's at a fixed offset when j0 is a multiple of the blocks times
// the grid (linalg::copy_rows). Collective.
template <typename T>
void multiply_by_gram(DistMatrix<T>& k, const DistMatrix<T>& a, const DistMatrix<T>& b, bool lower) {
  const ProcessGrid& grid = k.grid();
  const int64_t n = k.cols();
  int64_t unit = std::lcm(int64_t(b.row_block()) * grid.rows(), int64_t(k.col_block()) * grid.cols());
  if (lower) unit = std::lcm(unit, std::lcm(int64_t(a.row_block()), int64_t(k.row_block())) * grid.rows());
  const int64_t width = unit >= n ? n : std::max(unit, (n / 8) / unit * unit);
  for (int64_t j0 = 0; j0 < n; j0 += width) {
    const int64_t w = std::min(width, n - j0), r0 = lower ? j0 : 0;
    const DistMatrix<T> rows = lower && j0 > 0 ? linalg::copy_rows(a, j0, a.rows() - j0) : DistMatrix<T>(grid, 0, 0, 1, 1);
    const DistMatrix<T> panel = w < n ? linalg::copy_rows(b, j0, w) : DistMatrix<T>(grid, 0, 0, 1, 1);
    DistMatrix<T> g(grid, k.rows() - r0, w, k.row_block(), k.col_block());
    linalg::gemm(Op::N, Op::T, T(1), lower && j0 > 0 ? rows : a, w < n ? panel : b, T(0), g);
    const int64_t ro = r0 / grid.rows(), co = j0 / grid.cols();
    for (int64_t lj = 0; lj < g.local_cols(); ++lj)
      for (int64_t li = 0; li < g.local_rows(); ++li) k.local(li + ro, lj + co) *= g.local(li, lj);
  }
}
}  // namespace

EmpiricalNtkGram::EmpiricalNtkGram(const TaylorModel& model, const DistMatrix<double>& u_train,
                                   const DistMatrix<double>& u_test)
    : m_(static_cast<double>(model.width())), u_train_(u_train), u_test_(u_test),
      s_train_(slopes(model, u_train)), s_test_(slopes(model, u_test)) {}

template <typename T>
void EmpiricalNtkGram::train(DistMatrix<T>& k) const {
  linalg::syrk_lower(static_cast<T>(1.0 / m_), *linalg::Rounded<T>(s_train_), T(0), k);
  const linalg::Rounded<T> u(u_train_);
  multiply_by_gram(k, *u, *u, /*lower=*/true);
}

template <typename T>
void EmpiricalNtkGram::test_rows(DistMatrix<T>& k, int64_t first) const {
  const DistMatrix<double> s = linalg::copy_rows(s_test_, first, k.rows());
  const DistMatrix<double> u = linalg::copy_rows(u_test_, first, k.rows());
  linalg::gemm(Op::N, Op::T, static_cast<T>(1.0 / m_), *linalg::Rounded<T>(s), *linalg::Rounded<T>(s_train_), T(0), k);
  multiply_by_gram(k, *linalg::Rounded<T>(u), *linalg::Rounded<T>(u_train_), /*lower=*/false);
}

template void EmpiricalNtkGram::train(DistMatrix<double>&) const;
template void EmpiricalNtkGram::train(DistMatrix<float>&) const;
template void EmpiricalNtkGram::test_rows(DistMatrix<double>&, int64_t) const;
template void EmpiricalNtkGram::test_rows(DistMatrix<float>&, int64_t) const;

std::vector<double> EmpiricalNtkGram::diagonal(const DistMatrix<double>& s, const DistMatrix<double>& u) const {
  std::vector<double> d = row_norms_squared(s);
  const std::vector<double> uu = row_norms_squared(u);
  for (size_t i = 0; i < d.size(); ++i) d[i] *= uu[i] / m_;
  return d;
}

std::vector<double> EmpiricalNtkGram::train_diagonal() const { return diagonal(s_train_, u_train_); }
std::vector<double> EmpiricalNtkGram::test_diagonal() const { return diagonal(s_test_, u_test_); }

double EmpiricalNtkGram::flops() const {
  const double n = static_cast<double>(u_train_.rows()), nt = static_cast<double>(u_test_.rows());
  const double q = static_cast<double>(u_train_.cols());
  return (n * n + 2.0 * nt * n) * (m_ + q);
}

}  // namespace neurep
