// Threads per rank. With several ranks on a node, each rank's BLAS and
// OpenMP threads must share the node's cores, or they oversubscribe them.
#pragma once

#include <boost/mpi/communicator.hpp>

namespace neurep {

// Unless OPENBLAS_NUM_THREADS or OMP_NUM_THREADS is set, gives each rank
// cores / (ranks on this node) threads (at least 1, at most the cores the
// rank is bound to). Returns the number of
// threads per rank in use. Collective.
int balance_threads(const boost::mpi::communicator& comm);

}  // namespace neurep
