// Inner-product kernels of DESIGN 1.3 and their elementwise application.
//
// With t = <u,u'>/(|u||u'|), the arc-cosine functions are
//   kappa0(t) = (pi - arccos t)/pi,   kappa1(t) = (sqrt(1-t^2) + t(pi - arccos t))/pi,
// and every kernel is a function of (<u,u'>, |u|^2, |u'|^2), so the same code
// serves raw inputs and the infinite-width representation, whose kernel
// enters through (K_h(x,x'), K_h(x,x), K_h(x',x')).
#pragma once

#include <string>
#include <vector>

#include "neurep/dist_matrix.hpp"
#include "neurep/settings.hpp"

namespace neurep {

// KernelKind (settings.hpp): ntk | ntk-full | nngp | linear | empirical-ntk.

double kappa0(double t);
double kappa1(double t);

// The kernel value from the inner product g and the squared norms a, b.
//   ntk:      g kappa0(t)              (first layer trained)
//   ntk-full: sqrt(ab) (t kappa0(t) + kappa1(t))
//   nngp:     sqrt(ab) kappa1(t)
//   linear:   g
double kernel_value(KernelKind kind, double g, double a, double b);

// In place: G(i, j) <- kernel_value(kind, G(i, j), row_sq[i], col_sq[j]) for
// the locally owned entries (only i >= j when lower_only: a square training
// kernel, whose diagonal is taken from row_sq so that t = 1 exactly). Local, threaded.
// T = double or float: every entry is computed in double and stored as T.
template <typename T>
void apply_kernel(KernelKind kind, DistMatrix<T>& g, const std::vector<double>& row_sq,
                  const std::vector<double>& col_sq, bool lower_only);

// Squared Euclidean norms of the rows of U (T = double or float), summed in
// double, on every rank. Collective.
template <typename T>
std::vector<double> row_norms_squared(const DistMatrix<T>& u);

}  // namespace neurep
