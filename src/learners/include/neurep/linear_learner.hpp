// The best linear function of the learner's input as a Learner
// (learner.kind = "linear"): alpha . u + c fitted to the training labels by an
// exact least-squares solve, QR of the distributed [u 1] (ScaLAPACK), never
// the normal equations, whose condition number is the square of [u 1]'s. On a representation h(x) its test error is
// the representation's linear floor: the share of Var f* no linear readout of
// h reaches (issue 14, "floors that are floors").
//
// The solve is QR with column pivoting (linalg::least_squares): columns that
// are numerically dependent on the others (a duplicated feature; a unit that
// is constant on every input, which zca whitening maps to a zero column) are
// dropped, so the fit on the training points is still the projection of y on
// the span of [u 1] and the row a floor. One row per point; columns rank (of
// [u 1], from the diagonal of R: |R_ii| > max(n, k) eps |R_11|), r_diagonal_ratio
// (smallest over largest |R_ii|) and output_bias (c); its status:
//   ok             n >= 10 k, k = dim u + 1 unknowns, and [u 1] of full rank:
//                  the floor up to an estimation error of order k/n;
//   rank-deficient n >= 10 k, rank < k: the same floor over the rank columns kept;
//   few-samples    k <= n < 10 k: the exact fit, but its test error still holds a
//                  large estimation error: not a floor.
// Fewer points than unknowns is bad input (config.cpp). The rank is rank 0's,
// so every rank takes the same decisions and writes the same row.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "neurep/learner.hpp"

namespace neurep {

std::unique_ptr<Learner> make_linear_learner(const Config& config);

// The status of a least-squares fit of `unknowns` coefficients on n points
// whose [u 1] has numerical rank `rank` (see above). Pure.
std::string least_squares_status(int64_t n, int64_t unknowns, int64_t rank);

}  // namespace neurep
