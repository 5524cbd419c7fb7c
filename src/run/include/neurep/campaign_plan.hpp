// neurep plan: what a configuration's sweep needs before a cluster allocation
// is spent on it — the sizes per d, the points, the memory per rank of the
// largest point (estimate_resources, the model run checks) and the time per
// point and per (config, d) array task (each learner's cost, cost.hpp, at
// rates measured on this machine or given), with the Slurm options for
// jobs/slurm/array.sbatch.
#pragma once

#include <string>

#include "neurep/config.hpp"
#include "neurep/cost.hpp"

namespace neurep {

struct PlanOptions {
  int ranks = 1;      // the ranks of each array task
  double gflops = 0;  // --rate: DGEMM GFLOP/s per rank, the other rates scaled with it from the nominal ones
  // --rates: "FLOPS,ELEMENTS,ENTRIES,SECONDS_PER_CALL,SECONDS_PER_HANDOVER,SECONDS_PER_COMMIT,PRODUCTS,CACHED_ELEMENTS,
  // SECONDS_PER_START"
  // (plan --json's "rates")
  std::string rates;
  bool json = false;  // one JSON object instead of the table
  std::string config_path;
};

// The rates of one rank on this machine (MPI_COMM_SELF, 1 x 1 grid; a few
// seconds): DGEMM 1024, a pass over a 64 MB matrix and the same pass over
// 8 MiB (which the caches hold), the kernel map of `kernel` on 1024 x 1024
// entries, pcg's matrix-free product K X at n = 4096 (products), a small thin
// product (a call) and one followed by a threaded kernel map (a handover),
// and a commit's file write, fsync and rename in the current directory.
Rates measure_rates(KernelKind kernel);

// Prints the plan. Local to the calling rank (no collective).
void print_plan(const Config& config, const PlanOptions& options);

}  // namespace neurep
