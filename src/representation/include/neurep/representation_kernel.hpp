// The infinite-width limit of the representation (DESIGN 1.2, infinite = true).
//
// With h = g/sqrt(D) (whiten = none), h.h' = (1/D) sum_j g_j(x) g_j(x') tends
// to K_h(x, x') = E[phi(u) phi(u')], where u = v.x + b, v ~ N(0, I/d) and
// b ~ N(0, beta) (beta = 1 with bias, else 0): (u, u') is a centred Gaussian
// pair with
//   Var u = |x|^2/d + beta,  Var u' = |x'|^2/d + beta,  Cov = x.x'/d + beta,
// i.e. the arc-cosine kernels on the bias-augmented input (x/sqrt(d), sqrt(beta)).
// With rho the correlation, for the activations that have a closed form:
//   step:      kappa0(rho)/2                        (arc-cosine, degree 0)
//   relu:      sqrt(Var u Var u') kappa1(rho)/2     (arc-cosine, degree 1)
//   erf:       (2/pi) asin(2 Cov / sqrt((1 + 2 Var u)(1 + 2 Var u')))
//   quadratic: Var u Var u' + 2 Cov^2
//   cubic:     9 Var u Var u' Cov + 6 Cov^3           (Isserlis on E[u^3 u'^3])
// tanh has none (InputError). A deeper network (depth L) repeats the layer on
// g with v ~ N(0, I/D), so layer l+1 sees Cov = K_l(x, x') + beta: the same
// formulas applied recursively.
//
// whiten = center subtracts the mean feature: h = (g - E_x g)/sqrt(D) tends to
//   K(x, x') - m(x) - m(x') + mbar,  m(x) = E_x'' K(x, x''),  mbar = E_x m(x).
// On the sphere m(x) is one constant, computed by composite Gauss-Legendre
// quadrature over the angle (relative accuracy ~1e-13, see sphere_mean). For
// Gaussian inputs the means are taken over a fixed sample of unlabelled
// inputs instead; this is exactly the D -> infinity limit of the finite
// `center` map estimated on that sample, and differs from the population
// centring by O(sd/sqrt(M)) for M unlabelled inputs. zca has no closed form.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "neurep/dist_matrix.hpp"
#include "neurep/random_features.hpp"

namespace neurep {

// E[phi(u) phi(u')] for a centred Gaussian pair with Var u = a, Var u' = c,
// Cov = s. InputError (representation.activation) where no closed form exists.
double gaussian_product_expectation(FeatureActivation activation, double s, double a, double c);

class InfiniteKernel {
 public:
  // Uncentred K_h of the depth-L random network on R^d. Throws InputError
  // naming representation.activation without a closed form. Not collective.
  InfiniteKernel(FeatureActivation activation, bool bias, int depth, int input_dim);

  // K_h(x, x') from x.x', |x|^2 and |x'|^2 of the raw inputs (uncentred). Pure.
  double uncentred(double xy, double xx, double yy) const;

  // E_{x, x'} K_h(x, x') for x, x' uniform on the sphere of radius sqrt(d),
  // where it is also m(x) for every x: an integral over the angle, by 64
  // panels of 16-point Gauss-Legendre where the weight sin^{d-2} is above
  // exp(-800) (the tests check 1e-13 against exact values for d = 1..2000). Pure.
  double sphere_mean() const;

  // Centre under the sphere: m(x) = mbar = sphere_mean(). Not collective.
  void centre_on_sphere();
  // Centre over the rows of x_unl (M x d): m(x) = (1/M) sum_k K(x, x_k),
  // mbar = (1/M^2) sum_kl K(x_k, x_l). Collective over x_unl's grid.
  void centre_on_sample(DistMatrix<double> x_unl);

  bool centred() const { return centring_ != Centring::None; }
  // m(x_i) for the rows of x (n x d), replicated; zeros when not centred.
  // Collective when centred on a sample.
  std::vector<double> row_means(const DistMatrix<double>& x) const;
  double grand_mean() const { return grand_mean_; }

  int input_dim() const { return d_; }
  int64_t n_unlabeled() const { return x_unl_ ? x_unl_->rows() : 0; }

 private:
  enum class Centring { None, Sphere, Sample };
  FeatureActivation activation_;
  double beta_;
  int depth_;
  int d_;
  Centring centring_ = Centring::None;
  double grand_mean_ = 0;
  std::unique_ptr<DistMatrix<double>> x_unl_;
  std::vector<double> sq_unl_;
};

}  // namespace neurep
