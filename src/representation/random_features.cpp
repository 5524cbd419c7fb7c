#include "neurep/random_features.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "neurep/detail/scalapack_imports.hpp"
#include "neurep/errors.hpp"
#include "neurep/linalg.hpp"

namespace neurep {

double feature_phi(FeatureActivation a, double t) {
  switch (a) {
    case FeatureActivation::Step: return t >= 0 ? 1.0 : 0.0;
    case FeatureActivation::Relu: return t > 0 ? t : 0.0;
    case FeatureActivation::Tanh: return std::tanh(t);
    case FeatureActivation::Erf: return std::erf(t);
    case FeatureActivation::Quadratic: return t * t;
    case FeatureActivation::Cubic: return t * t * t;
  }
  return 0.0;
}

RandomNetwork::RandomNetwork(FeatureActivation activation, bool bias, int64_t width, int depth,
                             int input_dim, const RandomStreams& streams)
    : activation_(activation), bias_(bias), width_(width), depth_(depth), input_dim_(input_dim),
      streams_(streams) {
  if (width < 1) throw InputError(fmt::format("representation.width: D = {} must be at least 1", width));
  if (depth < 1) throw InputError(fmt::format("representation.depth: {} must be at least 1", depth));
}

double RandomNetwork::weight(int layer, int64_t unit, int64_t coord) const {
  const double fan_in = layer == 0 ? static_cast<double>(input_dim_) : static_cast<double>(width_);
  return streams_.gaussian(Stream::FeatureWeights, static_cast<uint64_t>(unit), static_cast<uint64_t>(coord),
                           static_cast<uint64_t>(layer)) /
         std::sqrt(fan_in);
}

double RandomNetwork::bias_of(int layer, int64_t unit) const {
  if (!bias_) return 0.0;
  return streams_.gaussian(Stream::FeatureBias, static_cast<uint64_t>(unit), 0, static_cast<uint64_t>(layer));
}

void RandomNetwork::activate(int layer, DistMatrix<double>& g) const {
#pragma omp parallel for schedule(static)
  for (int64_t lj = 0; lj < g.local_cols(); ++lj) {
    const double b = bias_of(layer, g.global_col(lj));
    double* col = g.data() + lj * g.lld();
    for (int64_t li = 0; li < g.local_rows(); ++li) col[li] = feature_phi(activation_, col[li] + b);
  }
}

DistMatrix<double> RandomNetwork::features(const Dataset& data, Split split, int64_t n,
                                           const ProcessGrid& grid, int block) const {
  DistMatrix<double> g(grid, n, width_, block, block);
  const int64_t lr = g.local_rows(), lc = g.local_cols(), d = input_dim_;
  if (data.dim() != input_dim_)
    throw RuntimeError(fmt::format("RandomNetwork: built for d = {}, data has d = {}", input_dim_, data.dim()));

  // Layer 0: the local rows of X and the local rows of V, one local dgemm.
  if (lr > 0 && lc > 0) {
    std::vector<double> x(static_cast<size_t>(lr * d)), v(static_cast<size_t>(lc * d)), row(static_cast<size_t>(d));
    for (int64_t li = 0; li < lr; ++li) {
      data.input(split, g.global_row(li), row.data());
      for (int64_t c = 0; c < d; ++c) x[static_cast<size_t>(li + c * lr)] = row[static_cast<size_t>(c)];
    }
    for (int64_t lj = 0; lj < lc; ++lj) {
      const int64_t j = g.global_col(lj);
      for (int64_t c = 0; c < d; ++c) v[static_cast<size_t>(lj + c * lc)] = weight(0, j, c);
    }
    const int m = static_cast<int>(lr), nn = static_cast<int>(lc), k = static_cast<int>(d);
    const int ldg = static_cast<int>(g.lld());
    const double one = 1.0, zero = 0.0;
    dgemm_("N", "T", &m, &nn, &k, &one, x.data(), &m, v.data(), &nn, &zero, g.data(), &ldg);
  }
  activate(0, g);

  // Deeper layers need whole rows of the previous output: one pdgemm each,
  // with V_l (D x D) generated block by block where the grid keeps it.
  if (depth_ > 1) {
    DistMatrix<double> v(grid, width_, width_, block, block);
    for (int layer = 1; layer < depth_; ++layer) {
      v.for_each_local([&](int64_t j, int64_t c, double& w) { w = weight(layer, j, c); });
      DistMatrix<double> z(grid, n, width_, block, block);
      linalg::gemm(linalg::Op::N, linalg::Op::T, 1.0, g, v, 0.0, z);
      activate(layer, z);
      g = std::move(z);
    }
  }
  return g;
}

}  // namespace neurep
