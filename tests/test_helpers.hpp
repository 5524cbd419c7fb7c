// Small helpers shared by the Catch2 tests.
#pragma once

#include <boost/mpi/collectives.hpp>
#include <boost/mpi/communicator.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "neurep/grid.hpp"

namespace neurep::test {

// Every Pr x Pc shape of the communicator's ranks (1x4, 2x2, 4x1 for 4).
inline std::vector<GridShape> all_shapes(int p) {
  std::vector<GridShape> out;
  for (int r = 1; r <= p; ++r)
    if (p % r == 0) out.push_back({r, p / r});
  return out;
}

// A smooth deterministic matrix entry, the same on every rank.
inline double entry(int64_t i, int64_t j, double salt = 0.0) {
  return std::sin(0.37 * static_cast<double>(i) + 1.3 * static_cast<double>(j) + salt) +
         0.1 * std::cos(0.11 * static_cast<double>(i * j) + salt);
}

// The larger of `acc` and `x`, NaN as soon as either is NaN: accumulate
// errors as `err = test::worst(err, |a - b|)`, so that a NaN anywhere fails
// every `err <= tol` (std::max(err, NaN) returns err and hides it).
inline double worst(double acc, double x) {
  return std::isnan(acc) || std::isnan(x) ? std::numeric_limits<double>::quiet_NaN() : std::max(acc, x);
}

// max_i |a_i - b_i|, NaN if any entry is NaN or the sizes differ.
inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::quiet_NaN();
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = worst(m, std::abs(a[i] - b[i]));
  return m;
}

// max_i |a_i|, NaN if any entry is NaN.
inline double max_abs(const std::vector<double>& a) {
  double m = 0;
  for (double v : a) m = worst(m, std::abs(v));
  return m;
}

// True on every rank iff `ok` holds on every rank (collective). A REQUIRE on
// a rank-local value that precedes a collective goes through this, so that a
// failure on one rank ends the test case on all of them at once instead of
// leaving the others waiting in the collective until the CTest timeout:
//   REQUIRE(test::on_every_rank(world, info == 0));
inline bool on_every_rank(const boost::mpi::communicator& comm, bool ok) {
  int all = 0;
  boost::mpi::all_reduce(comm, ok ? 1 : 0, all, boost::mpi::minimum<int>());
  return all != 0;
}

}  // namespace neurep::test
