// The search for n_eps (sweep.target_error; DESIGN 1.4): per (d, seed) the
// next training-set size is a pure function of the points computed so far,
// so a resumed run rebuilds the search from the rows in the file and takes
// the same decisions, and every rank takes them from the same (rank 0's) rows.
//
// For each target, largest first: while no computed point is below it, n
// doubles along the ladder n_min, 2 n_min, ..., n_max; once one is, the
// bracket (n_lo, n_hi) - n_hi the smallest computed n below the target,
// n_lo the largest computed n under n_hi at or above it - is bisected in
// log n, at round(sqrt(n_lo n_hi)), until n_hi / n_lo <= n_resolution up to
// the rounding of n to integers, (n_hi - 1/2) / (n_lo + 1/2) <= n_resolution,
// or n_hi - n_lo <= 1 (within_resolution). The search stops early with status "floor" when the
// last ladder point's error is not 10 % below the error two doublings
// before, and with "n_max" when n_max is computed and still not below.
// Training sets are nested prefixes, as on a grid.
#pragma once

#include <cstdint>
#include <vector>

#include "neurep/output.hpp"
#include "neurep/settings.hpp"

namespace neurep {

// A computed point of one search: n and the test error of the row its run
// selected (a non-finite error, or a failed fit, counts as +infinity).
struct SearchPoint {
  int64_t n = 0;
  double error = 0;
};

// What a search does next: compute `next_n`, or (done) its result, a row
// per target (d, seed, learner and input left for the caller).
struct SearchStep {
  bool done = false;
  int64_t next_n = 0;
  std::vector<ComplexityRow> results;
};

// The next step of the search at input dimension d over `points` (any order, distinct n).
SearchStep next_search_step(const SearchConfig& search, int d, const std::vector<SearchPoint>& points);

// The doublings over which a search's error must stay flat (fall by at most
// 10 %) to be a floor at input dimension d: ceil(log2 d), at least 2.
int floor_doublings(int d);

// Is the bracket (n_lo, n_hi) fine enough? (n_hi - 1/2) / (n_lo + 1/2) <= resolution
// (the ratio up to the rounding of n to integers) or n_hi - n_lo <= 1.
bool within_resolution(int64_t n_lo, int64_t n_hi, double resolution);

// An upper bound of the bisection points per target: the halvings of log n
// from a doubling bracket down to the resolution.
int64_t search_bisections(const SearchConfig& search);

}  // namespace neurep
