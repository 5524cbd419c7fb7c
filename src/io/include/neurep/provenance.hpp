// Where a result came from: software, build, machine, BLAS. Recorded as root
// attributes of every results file (DESIGN 3.2).
#pragma once

#include <string>

namespace neurep {

struct Provenance {
  std::string software = "neurep";
  std::string version;
  std::string git_revision;
  std::string created;       // ISO 8601, UTC
  std::string command_line;
  std::string host;
  std::string blas;          // library configuration string
  std::string blas_core;     // the kernel the BLAS library picked
  int mpi_ranks = 1;
  int threads_per_rank = 1;
  std::string grid;
  std::string history;  // the sweep's generations (neurep run --extend): a line each; empty for one run
};

// "neurep VERSION (git REVISION)": the version of CMake's project() and the
// commit that was built; printed by `neurep --version`.
std::string version_line();

// Fills everything but command_line, mpi_ranks, threads_per_rank and grid.
Provenance collect_provenance();

// A one-line warning if the BLAS library runs a generic kernel on a processor
// with AVX2/AVX-512 (Debian's OpenBLAS 0.3.21 on some virtualised Xeons),
// with the fix; empty if all is well.
std::string blas_kernel_warning(const Provenance& p);

}  // namespace neurep
