#include "neurep/data.hpp"

#include <fmt/core.h>

#include <cmath>
#include <numeric>

#include "neurep/errors.hpp"

namespace neurep {
namespace {

Stream stream_of(Split split) {
  switch (split) {
    case Split::Train: return Stream::TrainInput;
    case Split::Test: return Stream::TestInput;
    case Split::Unlabeled: return Stream::UnlabeledInput;
  }
  return Stream::TrainInput;
}

double double_factorial_odd(int k) {  // (k-1)!! for even k >= 0
  double v = 1;
  for (int j = k - 1; j > 1; j -= 2) v *= j;
  return v;
}

}  // namespace

double projection_moment(const std::vector<int>& exponents, int d, bool sphere) {
  int total = 0;
  double v = 1;
  for (int k : exponents) {
    if (k % 2) return 0.0;
    v *= double_factorial_odd(k);
    total += k;
  }
  if (sphere)  // E prod u_s^{2a_s} on the unit sphere times d^{K/2}
    for (int i = 0; i < total / 2; ++i) v *= d / (d + 2.0 * i);
  return v;
}

Dataset::Dataset(const DataConfig& config, int d, const RandomStreams& streams)
    : config_(config), d_(d), streams_(streams), normalize_(config.normalize) {
  const size_t r = config.degrees.size();
  if (r > static_cast<size_t>(d))
    throw InputError(fmt::format("data.degrees: {} directions do not fit in d = {}", r, d));
  // Orthonormal directions: Gram-Schmidt (twice, for stability) of Gaussians.
  beta_.assign(r, std::vector<double>(static_cast<size_t>(d)));
  for (size_t s = 0; s < r; ++s) {
    auto& b = beta_[s];
    for (int j = 0; j < d; ++j) b[j] = streams_.gaussian(Stream::TargetDirections, s, j);
    for (int pass = 0; pass < 2; ++pass)
      for (size_t t = 0; t < s; ++t) {
        const double dot = std::inner_product(b.begin(), b.end(), beta_[t].begin(), 0.0);
        for (int j = 0; j < d; ++j) b[j] -= dot * beta_[t][j];
      }
    const double norm = std::sqrt(std::inner_product(b.begin(), b.end(), b.begin(), 0.0));
    for (double& v : b) v /= norm;
  }
  // Exact mean and variance of f* = sum_s alpha_s t_s^{p_s}.
  const bool sphere = config.input == InputDistribution::Sphere;
  double m1 = 0, m2 = 0;
  for (size_t s = 0; s < r; ++s) {
    std::vector<int> e(r, 0);
    e[s] = config.degrees[s];
    m1 += config.coefficients[s] * projection_moment(e, d, sphere);
    for (size_t t = 0; t < r; ++t) {
      std::vector<int> e2(r, 0);
      e2[s] += config.degrees[s];
      e2[t] += config.degrees[t];
      m2 += config.coefficients[s] * config.coefficients[t] * projection_moment(e2, d, sphere);
    }
  }
  mean_ = m1;
  const double var = m2 - m1 * m1;
  sd_ = var > 0 ? std::sqrt(var) : 0.0;
  if (normalize_ && !(sd_ > 1e-300))
    throw InputError("data.normalize: the target is constant (variance 0), so it cannot be normalised");
}

std::string Dataset::normalization_note() const {
  return fmt::format("exact moments of beta.x under the {} distribution (mean {:.17g}, sd {:.17g})",
                     name_of(config_.input), mean_, sd_);
}

void Dataset::input(Split split, int64_t i, double* x) const {
  const Stream s = stream_of(split);
  double sq = 0;
  for (int j = 0; j < d_; ++j) {
    x[j] = streams_.gaussian(s, static_cast<uint64_t>(i), static_cast<uint64_t>(j));
    sq += x[j] * x[j];
  }
  if (config_.input == InputDistribution::Sphere) {
    const double scale = std::sqrt(static_cast<double>(d_) / sq);
    for (int j = 0; j < d_; ++j) x[j] *= scale;
  }
}

double Dataset::target(const double* x) const {
  double f = 0;
  for (size_t s = 0; s < beta_.size(); ++s) {
    double t = 0;
    for (int j = 0; j < d_; ++j) t += beta_[s][j] * x[j];
    f += config_.coefficients[s] * std::pow(t, config_.degrees[s]);
  }
  return normalize_ ? (f - mean_) / sd_ : f;
}

double Dataset::label(int64_t i) const {
  std::vector<double> x(static_cast<size_t>(d_));
  input(Split::Train, i, x.data());
  double y = target(x.data());
  if (config_.noise > 0) y += config_.noise * streams_.gaussian(Stream::LabelNoise, static_cast<uint64_t>(i), 0);
  return y;
}

std::vector<double> Dataset::labels(int64_t n) const {
  std::vector<double> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[static_cast<size_t>(i)] = label(i);
  return y;
}

std::vector<double> Dataset::test_labels(int64_t n) const {
  std::vector<double> y = targets(Split::Test, n);
  if (config_.noise > 0)
    for (int64_t i = 0; i < n; ++i)
      y[static_cast<size_t>(i)] += config_.noise * streams_.gaussian(Stream::LabelNoise, static_cast<uint64_t>(i), 0, 1);
  return y;
}

std::vector<double> Dataset::targets(Split split, int64_t n) const {
  std::vector<double> f(static_cast<size_t>(n)), x(static_cast<size_t>(d_));
  for (int64_t i = 0; i < n; ++i) {
    input(split, i, x.data());
    f[static_cast<size_t>(i)] = target(x.data());
  }
  return f;
}

void Dataset::fill_inputs(Split split, DistMatrix<double>& x, bool constant_column) const {
  const int64_t q = d_ + (constant_column ? 1 : 0);
  if (x.cols() != q)
    throw RuntimeError(fmt::format("fill_inputs: matrix has {} columns, expected {}", x.cols(), q));
  std::vector<double> row(static_cast<size_t>(d_));
  for (int64_t li = 0; li < x.local_rows(); ++li) {
    input(split, x.global_row(li), row.data());
    for (int64_t lj = 0; lj < x.local_cols(); ++lj) {
      const int64_t j = x.global_col(lj);
      x.local(li, lj) = j < d_ ? row[static_cast<size_t>(j)] : 1.0;
    }
  }
}

}  // namespace neurep
