// neurep plan: what a configuration's sweep needs before a cluster allocation
// is spent on it — the sizes per d, the points, the memory per rank of the
// largest point (estimate_resources, the model run checks) and the time per
// point and per (config, d) array task (each learner's cost in flops over a
// GEMM rate), with the Slurm options for jobs/slurm/array.sbatch.
#pragma once

#include <string>

#include "neurep/config.hpp"

namespace neurep {

struct PlanOptions {
  int ranks = 1;      // the ranks of each array task
  double gflops = 0;  // per rank; 0: measure a DGEMM on this rank
  bool json = false;  // one JSON object instead of the table
  std::string config_path;
};

// The DGEMM rate of one rank in GFLOP/s (about a second of 1 x 1 grid GEMMs, MPI_COMM_SELF).
double measure_gemm_gflops();

// Prints the plan. Local to the calling rank (no collective).
void print_plan(const Config& config, const PlanOptions& options);

}  // namespace neurep
