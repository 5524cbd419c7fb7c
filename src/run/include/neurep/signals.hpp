// Graceful stops (DESIGN 3.3): SIGUSR1 and SIGTERM only set a flag; the sweep
// checks it at safe points, checkpoints and exits with kExitInterrupted.
#pragma once

#include <boost/mpi/communicator.hpp>

namespace neurep {

// Installs the handlers; main calls it first of all, before MPI_Init, so
// that a signal at any instant after launch ends in kExitInterrupted.
void install_stop_handlers();
// For tests of that promise, independent of timing: raises SIGUSR1 when the
// environment variable NEUREP_TEST_STOP_AT names `phase` ("start": before
// MPI_Init, "mpi": after it, "configured": after reading the configuration),
// or "phase@R" for world rank R alone.
void test_stop_at(const char* phase);
// For tests of a signal sent from outside (mpiexec forwards it), independent
// of timing: when NEUREP_TEST_WAIT_AFTER=K (or point:K), the K-th call with
// event "point" (rank 0 calls it after each committed point) waits until a stop
// signal has arrived, at most 120 s, so the run cannot end before the test's
// signal reaches it; checkpoint:K the same after the K-th checkpoint committed
// inside a point.
void test_wait_after(const char* event);
// One agreement at a safe point: stop (any rank got a signal) and
// checkpoint (any rank finds one due). Collective, one small all-reduce.
struct SafePoint {
  bool stop = false;
  bool checkpoint = false;
};
SafePoint safe_point(const boost::mpi::communicator& comm, bool checkpoint_due);

}  // namespace neurep
