#include "neurep/empirical_ntk.hpp"

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

// k <- k o g, entrywise on the local blocks (same layout). Local.
void multiply_entries(DistMatrix<double>& k, const DistMatrix<double>& g) {
  for (int64_t lj = 0; lj < k.local_cols(); ++lj)
    for (int64_t li = 0; li < k.local_rows(); ++li) k.local(li, lj) *= g.local(li, lj);
}
}  // namespace

EmpiricalNtkGram::EmpiricalNtkGram(const TaylorModel& model, const DistMatrix<double>& u_train,
                                   const DistMatrix<double>& u_test)
    : m_(static_cast<double>(model.width())), u_train_(u_train), u_test_(u_test),
      s_train_(slopes(model, u_train)), s_test_(slopes(model, u_test)) {}

void EmpiricalNtkGram::train_gram(DistMatrix<double>& k) const {
  DistMatrix<double> g(k.grid(), k.rows(), k.cols(), k.row_block(), k.col_block());
  linalg::syrk_lower(1.0 / m_, s_train_, 0.0, k);
  linalg::syrk_lower(1.0, u_train_, 0.0, g);
  multiply_entries(k, g);
}

void EmpiricalNtkGram::test_gram(DistMatrix<double>& k) const {
  DistMatrix<double> g(k.grid(), k.rows(), k.cols(), k.row_block(), k.col_block());
  linalg::gemm(Op::N, Op::T, 1.0 / m_, s_test_, s_train_, 0.0, k);
  linalg::gemm(Op::N, Op::T, 1.0, u_test_, u_train_, 0.0, g);
  multiply_entries(k, g);
}

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
