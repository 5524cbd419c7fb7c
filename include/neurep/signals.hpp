// Graceful stops (SPEC 3.3): SIGUSR1 and SIGTERM only set a flag; the sweep
// checks it at safe points, checkpoints and exits with kExitInterrupted.
#pragma once

#include <boost/mpi/communicator.hpp>

namespace neurep {

void install_stop_handlers();
// True if any rank has received a stop signal. Collective.
bool stop_requested(const boost::mpi::communicator& comm);
// For tests: raise the flag as a signal would.
void request_stop();

}  // namespace neurep
