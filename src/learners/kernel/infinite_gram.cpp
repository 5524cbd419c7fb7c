#include "neurep/infinite_gram.hpp"

#include <fmt/core.h>

#include "neurep/errors.hpp"
#include "neurep/kernels.hpp"
#include "neurep/linalg.hpp"

namespace neurep {

using linalg::Op;

InfiniteGram::InfiniteGram(const InfiniteKernel& kernel, const DistMatrix<double>& u_train,
                           const DistMatrix<double>& u_test)
    : kernel_(kernel),
      x_train_(u_train.grid(), u_train.rows(), kernel.input_dim(), u_train.row_block(), u_train.col_block()),
      x_test_(u_test.grid(), u_test.rows(), kernel.input_dim(), u_test.row_block(), u_test.col_block()) {
  const int64_t d = kernel.input_dim();
  if ((u_train.cols() != d && u_train.cols() != d + 1) || u_test.cols() != u_train.cols())
    throw RuntimeError(fmt::format("InfiniteGram: inputs with {} and {} columns for d = {}", u_train.cols(),
                                   u_test.cols(), d));
  constant_ = u_train.cols() == d + 1 ? 1.0 : 0.0;
  linalg::copy_leading_columns(u_train, x_train_);
  linalg::copy_leading_columns(u_test, x_test_);
  sq_train_ = row_norms_squared(x_train_);
  sq_test_ = row_norms_squared(x_test_);
  m_train_ = kernel.row_means(x_train_);
  m_test_ = kernel.row_means(x_test_);
}

template <typename T>
void InfiniteGram::map(DistMatrix<T>& g, const std::vector<double>& sq_row, const std::vector<double>& m_row,
                       const std::vector<double>& sq_col, const std::vector<double>& m_col, bool lower_only) const {
  const double mbar = kernel_.grand_mean();
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t lj = 0; lj < g.local_cols(); ++lj) {
    const auto j = static_cast<size_t>(g.global_col(lj));
    for (int64_t li = 0; li < g.local_rows(); ++li) {
      const auto i = static_cast<size_t>(g.global_row(li));
      if (lower_only && i < j) continue;
      T& v = g.local(li, lj);
      const double xy = lower_only && i == j ? sq_row[i] : static_cast<double>(v);  // t = 1 exactly on the diagonal
      v = static_cast<T>(kernel_.uncentred(xy, sq_row[i], sq_col[j]) - m_row[i] - m_col[j] + mbar + constant_);
    }
  }
}

template <typename T>
void InfiniteGram::train(DistMatrix<T>& k) const {
  linalg::syrk_lower(T(1), *linalg::Rounded<T>(x_train_), T(0), k);
  map(k, sq_train_, m_train_, sq_train_, m_train_, /*lower_only=*/true);
}

template <typename T>
void InfiniteGram::test_rows(DistMatrix<T>& k, int64_t first) const {
  const DistMatrix<double> rows = linalg::copy_rows(x_test_, first, k.rows());
  linalg::gemm(Op::N, Op::T, T(1), *linalg::Rounded<T>(rows), *linalg::Rounded<T>(x_train_), T(0), k);
  const auto part = [&](const std::vector<double>& v) {
    return std::vector<double>(v.begin() + first, v.begin() + first + k.rows());
  };
  map(k, part(sq_test_), part(m_test_), sq_train_, m_train_, /*lower_only=*/false);
}

void InfiniteGram::train_gram_rows(DistMatrix<double>& k, const std::vector<int64_t>& rows) const {
  const DistMatrix<double> x = linalg::select_rows(x_train_, rows);
  if (k.cols() == x_train_.rows()) linalg::gemm(Op::N, Op::T, 1.0, x, x_train_, 0.0, k);
  else linalg::gemm(Op::N, Op::T, 1.0, x, linalg::copy_rows(x_train_, 0, k.cols()), 0.0, k);  // map reads sq, m by column index
  std::vector<double> sq(rows.size()), m(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) sq[i] = sq_train_[static_cast<size_t>(rows[i])], m[i] = m_train_[static_cast<size_t>(rows[i])];
  map(k, sq, m, sq_train_, m_train_, /*lower_only=*/false);
}

template void InfiniteGram::train(DistMatrix<double>&) const;
template void InfiniteGram::train(DistMatrix<float>&) const;
template void InfiniteGram::test_rows(DistMatrix<double>&, int64_t) const;
template void InfiniteGram::test_rows(DistMatrix<float>&, int64_t) const;

std::vector<double> InfiniteGram::diagonal(const std::vector<double>& sq, const std::vector<double>& m) const {
  std::vector<double> out(sq.size());
  for (size_t i = 0; i < sq.size(); ++i)
    out[i] = kernel_.uncentred(sq[i], sq[i], sq[i]) - 2 * m[i] + kernel_.grand_mean() + constant_;
  return out;
}

std::vector<double> InfiniteGram::train_diagonal() const { return diagonal(sq_train_, m_train_); }
std::vector<double> InfiniteGram::test_diagonal() const { return diagonal(sq_test_, m_test_); }

double InfiniteGram::flops() const {
  const double n = static_cast<double>(x_train_.rows()), nt = static_cast<double>(x_test_.rows());
  const double d = static_cast<double>(kernel_.input_dim());
  const double m = static_cast<double>(kernel_.n_unlabeled());  // sample centring: the n x M products
  return n * n * d + 2.0 * nt * n * d + 2.0 * (n + nt) * m * d;
}

}  // namespace neurep
