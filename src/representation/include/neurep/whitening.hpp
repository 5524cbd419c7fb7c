// The whitening of the random features (DESIGN 1.2), a fixed affine map
// estimated once from fresh unlabelled inputs and then applied unchanged to
// training, test and any later inputs:
//   zca:    h = S^{-1/2} (g - mu),   S = Sigma + r I,  r = eps tr(Sigma)/D,
//   center: h = (g - mu)/sqrt(D),
//   none:   h = g/sqrt(D),
// with mu and Sigma the sample mean and covariance (divisor N) of g over the
// N unlabelled inputs. Sigma is one pdsyrk of the centred features, S^{-1/2}
// comes from one pdsyevd, and applying it is one pdgemm; all matrices keep
// samples along grid rows and units along grid columns.
//
// Precision (run.precision): the statistics mu, Sigma, its eigendecomposition
// and S^{-1/2} are always estimated in double: a float Sigma would shift its
// small eigenvalues by the rounding of the large ones, ~eps_float l_max, which
// at the default eps = 1e-3 and D in the thousands is of the order of the
// ridge r that bounds S^{-1/2}, and the pdsyevd rather than the pdsyrk
// dominates the estimate's time anyway. In single precision the
// application, an n x D by D x D product for every set of inputs, is one
// psgemm on float copies of g - mu and S^{-1/2} (centred in double first).
// h is returned widened to double either way: the learners round their
// inputs to float themselves (linalg::Rounded), so the representation keeps
// one interface and h holds float-accurate values in single precision.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "neurep/dist_matrix.hpp"
#include "neurep/settings.hpp"

namespace neurep {

// WhitenKind (settings.hpp): zca | center | none.

class Whitening {
 public:
  // `none`: no statistics (width D only). Not collective.
  explicit Whitening(int64_t width);
  // `center` or `zca` from the N x D unlabelled features g_unl (N >= 2);
  // `ridge_eps` is eps above. Collective over g_unl's grid.
  Whitening(WhitenKind kind, const DistMatrix<double>& g_unl, double ridge_eps);

  WhitenKind kind() const { return kind_; }
  int64_t width() const { return width_; }
  // mu, replicated (empty for none).
  const std::vector<double>& mean() const { return mean_; }
  // S^{-1/2} (D x D, symmetric up to rounding); null unless zca.
  const DistMatrix<double>* matrix() const { return matrix_.get(); }
  // Eigenvalues of Sigma, ascending, and the absolute ridge r (zca only).
  const std::vector<double>& eigenvalues() const { return eigenvalues_; }
  double ridge() const { return ridge_; }

  // h for the rows of g (n x D); g is consumed. Collective (zca: one pdgemm,
  // or with single_precision one psgemm, see above; center and none are a
  // shift and a scale in double in either precision).
  DistMatrix<double> apply(DistMatrix<double> g, bool single_precision = false) const;

 private:
  WhitenKind kind_;
  int64_t width_;
  std::vector<double> mean_;
  std::unique_ptr<DistMatrix<double>> matrix_;
  std::vector<double> eigenvalues_;
  double ridge_ = 0;
};

// Column means of a distributed matrix, replicated. Collective.
std::vector<double> column_means(const DistMatrix<double>& a);

}  // namespace neurep
