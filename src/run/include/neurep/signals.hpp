// Graceful stops (DESIGN 3.3): SIGUSR1 and SIGTERM only set a flag; the sweep
// checks it at safe points, checkpoints and exits with kExitInterrupted.
#pragma once

#include <boost/mpi/communicator.hpp>

namespace neurep {

void install_stop_handlers();
// One agreement at a safe point: stop (any rank got a signal) and
// checkpoint (any rank finds one due). Collective, one small all-reduce.
struct SafePoint {
  bool stop = false;
  bool checkpoint = false;
};
SafePoint safe_point(const boost::mpi::communicator& comm, bool checkpoint_due);

}  // namespace neurep
