// The two kinds of failure neurep distinguishes (DESIGN 5): bad input, which
// ends the program with status 2 before anything is written, and runtime
// failures. Numerical trouble is not an exception: it is recorded per point.
#pragma once

#include <stdexcept>
#include <string>

namespace neurep {

// A problem with what the user gave: configuration, command line, files.
// The message is one line naming the key and the accepted values.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failure of the environment or the library (I/O, MPI, ScaLAPACK argument).
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A runtime failure that every rank saw at the same point (an I/O error
// agreed over the ranks before a collective call went on): rank 0 reports
// it, and every rank ends normally with kExitRuntime, no MPI_Abort needed.
class CollectiveError : public RuntimeError {
 public:
  using RuntimeError::RuntimeError;
};

// Exit statuses, documented in the README and used by the job scripts.
enum ExitStatus : int {
  kExitOk = 0,
  kExitFailure = 1,
  kExitBadInput = 2,
  kExitRuntime = 3,
  kExitInterrupted = 75,  // checkpointed after SIGUSR1/SIGTERM: rerun with --resume
};

}  // namespace neurep
