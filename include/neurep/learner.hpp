// What every learner receives and returns: the learner's input u (raw x or
// a representation h(x), samples along grid rows) with replicated labels,
// and one results row per fitted model.
#pragma once

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "neurep/dist_matrix.hpp"

namespace neurep {

struct LearnerData {
  const DistMatrix<double>& u_train;  // n x q
  const std::vector<double>& y_train;  // n labels, replicated
  const DistMatrix<double>& u_test;   // n_test x q
  const std::vector<double>& f_test;   // noise-free test targets, replicated
  double target_variance;              // errors are MSE / target_variance
};

// One row of /results (the sweep driver adds d, n, seed, learner, input).
struct FitResult {
  double ridge = std::nan("");
  double test_error = std::nan("");
  double train_error = std::nan("");
  double seconds = 0;
  double flops = 0;
  std::string status = "ok";
  // Further numeric columns (e.g. chosen hyperparameters); every row of a
  // run carries the same extra keys.
  std::map<std::string, double> extra;
};

}  // namespace neurep
