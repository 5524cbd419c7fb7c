// Inputs, targets and labels (DESIGN 1.1).
//
// A Dataset is the same object on every rank: a pure function of the data
// configuration, d and the random streams. Sample i of a split is generated
// on demand from the counter-based streams, so the training set for n is the
// first n points of one stream (sets are nested) and the test set is fixed
// per seed. Not collective; cheap to construct.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "neurep/settings.hpp"
#include "neurep/dist_matrix.hpp"
#include "neurep/random.hpp"

namespace neurep {

enum class Split { Train, Test, Unlabeled };

// E[prod_s t_s^{k_s}] for t_s = beta_s . x, orthonormal beta_s, x uniform on
// the sphere of radius sqrt(d) (sphere = true) or x ~ N(0, I_d).
double projection_moment(const std::vector<int>& exponents, int d, bool sphere);

class Dataset {
 public:
  Dataset(const DataConfig& config, int d, const RandomStreams& streams);

  int dim() const { return d_; }
  const DataConfig& config() const { return config_; }
  // Row i of the inputs of a split, x (length d).
  void input(Split split, int64_t i, double* x) const;
  // The (normalised) noise-free target f*(x).
  double target(const double* x) const;
  // The training label y_i = f*(x_i) + tau * noise_i.
  double label(int64_t i) const;

  // Labels y_0..y_{n-1} of the training split (replicated, every rank).
  std::vector<double> labels(int64_t n) const;
  // Test labels (f* plus noise of the same tau, an independent stream).
  std::vector<double> test_labels(int64_t n) const;
  // Noise-free targets of the first n points of a split.
  std::vector<double> targets(Split split, int64_t n) const;

  // Fills the n x d matrix of the first n inputs of `split`, each rank its
  // own blocks (no communication). With `constant_column`, the matrix is
  // n x (d + 1) and its last column is 1.
  void fill_inputs(Split split, DistMatrix<double>& x, bool constant_column = false) const;

  // Mean and standard deviation of the raw f* under the input distribution.
  double raw_mean() const { return mean_; }
  double raw_sd() const { return sd_; }
  // Variance of the target the errors are divided by (1 after normalisation).
  double target_variance() const { return normalize_ ? 1.0 : sd_ * sd_; }
  // How the normalisation constants were obtained (recorded in the output).
  std::string normalization_note() const;
  const std::vector<std::vector<double>>& directions() const { return beta_; }

 private:
  DataConfig config_;
  int d_;
  RandomStreams streams_;
  std::vector<std::vector<double>> beta_;
  double mean_ = 0, sd_ = 1;
  bool normalize_ = true;
};

}  // namespace neurep
