// Decisions that shape a collective or the results file (jitter, divergence,
// early stopping, an error, a string's length) are taken once and shared, never
// from values each rank computed on its own: two ranks that decide differently
// wait in different collectives (a hang) or create different datasets (a
// corrupt file). Numbers that went through an all-reduce or came from ScaLAPACK
// may still differ in the last bit between ranks, so even those are shared.
#pragma once

#include <boost/mpi/collectives.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>

namespace neurep {

// Rank 0's value on every rank. Collective.
template <typename T>
T from_rank0(const boost::mpi::communicator& comm, T value) {
  if (comm.size() > 1) boost::mpi::broadcast(comm, value, 0);
  return value;
}

// True on every rank iff `local` is true on some rank. Collective.
inline bool on_any_rank(const boost::mpi::communicator& comm, bool local) {
  if (comm.size() == 1) return local;
  int any = 0;
  boost::mpi::all_reduce(comm, local ? 1 : 0, any, boost::mpi::maximum<int>());
  return any != 0;
}

}  // namespace neurep
