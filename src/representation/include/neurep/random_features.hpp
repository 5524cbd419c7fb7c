// The fixed random layer of the representation (DESIGN 1.2):
//   g(x) = phi(V x + b),  rows v_j ~ N(0, I/fan_in),  b_j ~ N(0, 1) (bias = true),
// and, for depth L > 1, the same layer applied again to the previous layer's
// output g (fan_in = D), so that layer l+1 sees the pre-activation covariance
// g.g'/D + 1: the recursion the infinite-width kernel mirrors exactly
// (representation_kernel.hpp). Whitening acts on the last layer only.
//
// Every weight is a pure function of (master seed, seed index, stream, unit,
// coordinate, layer): V_l(j, c) = gaussian(FeatureWeights, j, c, l)/sqrt(fan_in),
// b_l(j) = gaussian(FeatureBias, j, 0, l). No rank ever holds all of V: for
// the first layer a rank generates the rows of X it owns (samples along grid
// rows) and the rows of V of the units it owns (units along grid columns),
// and its block of G is one local dgemm and an elementwise map.
#pragma once

#include <cstdint>
#include <string>

#include "neurep/data.hpp"
#include "neurep/dist_matrix.hpp"
#include "neurep/random.hpp"
#include "neurep/settings.hpp"

namespace neurep {

// FeatureActivation (settings.hpp): step | relu | tanh | erf | quadratic | cubic.

// phi(t): step 1{t >= 0}, relu max(t, 0), tanh, erf, quadratic t^2, cubic t^3.
double feature_phi(FeatureActivation a, double t);

class RandomNetwork {
 public:
  // `input_dim` is d; `width` is D (every layer). Not collective.
  RandomNetwork(FeatureActivation activation, bool bias, int64_t width, int depth, int input_dim,
                const RandomStreams& streams);

  FeatureActivation activation() const { return activation_; }
  bool bias() const { return bias_; }
  int64_t width() const { return width_; }
  int depth() const { return depth_; }
  int input_dim() const { return input_dim_; }

  // V_l(unit, coord), already divided by sqrt(fan_in). Pure, local.
  double weight(int layer, int64_t unit, int64_t coord) const;
  // b_l(unit), 0 without bias. Pure, local.
  double bias_of(int layer, int64_t unit) const;

  // G = g(x_i) for the first n inputs of `split`, n x D with the given
  // blocks, samples along grid rows and units along grid columns. Local (no
  // communication) for depth 1; one pdgemm per further layer (collective).
  DistMatrix<double> features(const Dataset& data, Split split, int64_t n, const ProcessGrid& grid,
                              int block) const;

 private:
  // G <- phi(G + b_l) on the local entries.
  void activate(int layer, DistMatrix<double>& g) const;

  FeatureActivation activation_;
  bool bias_;
  int64_t width_;
  int depth_;
  int input_dim_;
  RandomStreams streams_;
};

}  // namespace neurep
