// The one timer of the benchmarks: seconds of f() on the slowest rank, best
// of `repeats`, with setup() (untimed) before each repetition. Collective.
#pragma once

#include <algorithm>
#include <chrono>

#include <boost/mpi/collectives.hpp>
#include <boost/mpi/communicator.hpp>

namespace neurep::bench {

template <typename S, typename F>
double timed(const boost::mpi::communicator& comm, int repeats, S&& setup, F&& f) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    setup();
    comm.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    double local = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), slowest = 0;
    boost::mpi::all_reduce(comm, local, slowest, boost::mpi::maximum<double>());
    best = std::min(best, slowest);
  }
  return best;
}

template <typename F>
double timed(const boost::mpi::communicator& comm, int repeats, F&& f) {
  return timed(comm, repeats, [] {}, f);
}

}  // namespace neurep::bench
