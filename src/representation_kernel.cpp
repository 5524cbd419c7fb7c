#include "neurep/representation_kernel.hpp"

#include <boost/mpi/collectives.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>

#include "neurep/errors.hpp"
#include "neurep/kernels.hpp"
#include "neurep/linalg.hpp"

namespace neurep {

using linalg::Op;

double gaussian_product_expectation(FeatureActivation activation, double s, double a, double c) {
  const double nn = std::sqrt(a * c);  // sqrt(a*a) == a exactly, so rho = 1 on the diagonal
  const double rho = nn > 0 ? s / nn : 0.0;
  switch (activation) {
    case FeatureActivation::Step: return 0.5 * kappa0(rho);
    case FeatureActivation::Relu: return 0.5 * nn * kappa1(rho);
    case FeatureActivation::Erf:
      return (2.0 / M_PI) * std::asin(std::clamp(2.0 * s / std::sqrt((1.0 + 2.0 * a) * (1.0 + 2.0 * c)), -1.0, 1.0));
    case FeatureActivation::Quadratic: return a * c + 2.0 * s * s;
    case FeatureActivation::Tanh: break;
  }
  throw InputError(fmt::format("representation.activation: no closed-form infinite-width kernel for \"{}\"; "
                               "accepted with infinite = true: step, relu, erf, quadratic",
                               feature_activation_name(activation)));
}

InfiniteKernel::InfiniteKernel(FeatureActivation activation, bool bias, int depth, int input_dim)
    : activation_(activation), beta_(bias ? 1.0 : 0.0), depth_(depth), d_(input_dim) {
  gaussian_product_expectation(activation, 0.0, 1.0, 1.0);  // throws for tanh
  if (depth < 1) throw InputError(fmt::format("representation.depth: {} must be at least 1", depth));
}

double InfiniteKernel::uncentred(double xy, double xx, double yy) const {
  const double d = static_cast<double>(d_);
  double s = xy / d + beta_, a = xx / d + beta_, c = yy / d + beta_;
  for (int layer = 1;; ++layer) {
    const double k = gaussian_product_expectation(activation_, s, a, c);
    if (layer == depth_) return k;
    const double ka = gaussian_product_expectation(activation_, a, a, a);
    const double kc = gaussian_product_expectation(activation_, c, c, c);
    s = k + beta_, a = ka + beta_, c = kc + beta_;
  }
}

namespace {

// Nodes and weights of the 16-point Gauss-Legendre rule on [-1, 1] (Newton on P_16).
const std::array<std::array<double, 2>, 16>& gauss_legendre16() {
  static const auto rule = [] {
    constexpr int n = 16;
    std::array<std::array<double, 2>, 16> r{};
    for (int i = 0; i < n; ++i) {
      double x = std::cos(M_PI * (i + 0.75) / (n + 0.5)), dp = 0;
      for (int it = 0; it < 100; ++it) {
        double p0 = 1, p1 = x;
        for (int k = 2; k <= n; ++k) {
          const double p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
          p0 = p1, p1 = p2;
        }
        dp = n * (x * p1 - p0) / (x * x - 1);
        const double dx = p1 / dp;
        x -= dx;
        if (std::abs(dx) < 1e-16) break;
      }
      r[static_cast<size_t>(i)] = {x, 2.0 / ((1 - x * x) * dp * dp)};
    }
    return r;
  }();
  return rule;
}

}  // namespace

double InfiniteKernel::sphere_mean() const {
  // x.x'/d = cos(theta), |x|^2 = d, and theta has density proportional to sin^{d-2} on [0, pi].
  const double d = static_cast<double>(d_);
  auto k_of = [&](double t) { return uncentred(d * t, d, d); };
  if (d_ == 1) return 0.5 * (k_of(1.0) + k_of(-1.0));
  // The weight is below exp(-800) more than 40/sqrt(d-2) away from pi/2:
  // integrate there only, with 64 panels of 16 Gauss-Legendre nodes. The
  // integrand is analytic in theta, so the rule converges geometrically.
  const double half = d_ > 2 ? std::min(M_PI / 2, 40.0 / std::sqrt(d - 2)) : M_PI / 2;
  const double lo = M_PI / 2 - half, width = 2 * half / 64;
  double num = 0, den = 0;
  for (int p = 0; p < 64; ++p)
    for (const auto& [x, w] : gauss_legendre16()) {
      const double theta = lo + width * (p + 0.5 * (x + 1));
      const double wt = w * std::exp((d - 2) * std::log(std::sin(theta)));
      num += wt * k_of(std::cos(theta));
      den += wt;
    }
  return num / den;
}

void InfiniteKernel::centre_on_sphere() {
  centring_ = Centring::Sphere;
  grand_mean_ = sphere_mean();
}

namespace {

// (1/M) sum_k K(x_i, x_k) over the rows x_k of `sample`; when x is the sample
// itself the diagonal uses |x_k|^2 exactly (t = 1 without rounding). Collective.
std::vector<double> sample_means(const InfiniteKernel& kernel, const DistMatrix<double>& x,
                                 const DistMatrix<double>& sample, const std::vector<double>& sq_sample,
                                 bool x_is_sample) {
  DistMatrix<double> p(x.grid(), x.rows(), sample.rows(), x.row_block(), sample.row_block());
  linalg::gemm(Op::N, Op::T, 1.0, x, sample, 0.0, p);
  const std::vector<double> sq = row_norms_squared(x);
  std::vector<double> part(static_cast<size_t>(x.rows()), 0.0), all(part.size());
  p.for_each_local([&](int64_t i, int64_t k, double& v) {
    const double xy = x_is_sample && i == k ? sq[static_cast<size_t>(i)] : v;
    part[static_cast<size_t>(i)] += kernel.uncentred(xy, sq[static_cast<size_t>(i)], sq_sample[static_cast<size_t>(k)]);
  });
  boost::mpi::all_reduce(x.grid().comm(), part.data(), static_cast<int>(part.size()), all.data(), std::plus<double>());
  for (double& v : all) v /= static_cast<double>(sample.rows());
  return all;
}

}  // namespace

void InfiniteKernel::centre_on_sample(DistMatrix<double> x_unl) {
  if (x_unl.rows() < 1)
    throw InputError("representation.n_unlabeled: centring needs at least one unlabelled input");
  x_unl_ = std::make_unique<DistMatrix<double>>(std::move(x_unl));
  sq_unl_ = row_norms_squared(*x_unl_);
  const std::vector<double> m = sample_means(*this, *x_unl_, *x_unl_, sq_unl_, true);
  double s = 0;
  for (double v : m) s += v;
  grand_mean_ = s / static_cast<double>(m.size());
  centring_ = Centring::Sample;
}

std::vector<double> InfiniteKernel::row_means(const DistMatrix<double>& x) const {
  switch (centring_) {
    case Centring::None: return std::vector<double>(static_cast<size_t>(x.rows()), 0.0);
    case Centring::Sphere: return std::vector<double>(static_cast<size_t>(x.rows()), grand_mean_);
    case Centring::Sample: return sample_means(*this, x, *x_unl_, sq_unl_, false);
  }
  return {};
}

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
