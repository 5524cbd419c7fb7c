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
    case FeatureActivation::Cubic: return 9.0 * a * c * s + 6.0 * s * s * s;  // Isserlis: 9 E[uu] E[u'u'] E[uu'] + 6 E[uu']^3
    case FeatureActivation::Tanh: break;
  }
  throw InputError(fmt::format("representation.activation: no closed-form infinite-width kernel for \"{}\"; "
                               "accepted with infinite = true: step, relu, erf, quadratic, cubic",
                               name_of(activation)));
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

}  // namespace neurep
