// Small helpers shared by the Catch2 tests.
#pragma once

#include <boost/mpi/communicator.hpp>
#include <cmath>
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

}  // namespace neurep::test
