// The mixed-precision kernel solver (learner.solver = "mixed", issue 17),
// a RidgeSolver of kernel_solver.hpp: per ridge K + shift I factored in float (pspotrf, about the time of single
// precision), the answer refined in double by classical iterative refinement
//   x_0 = A_f^{-1} b,   x_{k+1} = x_k + A_f^{-1} (b - A x_k),
// with the residual computed from K in double (kept beside its float copy,
// 1.5x the memory of double). It converges when kappa(A) eps_float < 1, to the
// accuracy of a double solve (backward error O(eps_double)); a ridge whose
// refinement does not converge is solved again by double Cholesky (status
// "fallback-cholesky"). Rows get the residual and the refinement steps.
#pragma once

#include <cstdint>

#include "neurep/dist_matrix.hpp"

namespace neurep {

struct RefinementResult {
  double residual = 0;     // |b - A x| / |b| of the returned x
  int iterations = 0;      // refinement steps (corrections) applied after x_0
  bool converged = false;  // tolerance reached, or stalled at double-precision backward error
};

// b, x: n x 1 with k's blocks; k: K's lower triangle in double (not changed);
// factor: the float Cholesky factor of K + shift I (potrf_lower). Refines
// until |b - A x| / |b| <= tolerance, or until a step no longer halves the
// residual (then x is the best iterate, and it converged if the normwise
// backward error |r| / (|A|_F |x| + |b|) is at most 1e-12), or max_iterations.
// Every decision is taken from norms reduced to rank 0 and broadcast, so all
// ranks take the same. Collective.
RefinementResult refine_mixed(const DistMatrix<double>& k, double shift, const DistMatrix<float>& factor,
                              const DistMatrix<double>& b, DistMatrix<double>& x, double tolerance,
                              int64_t max_iterations);

}  // namespace neurep
