#include "neurep/threads.hpp"

#include <dlfcn.h>
#include <mpi.h>
#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace neurep {

int balance_threads(const boost::mpi::communicator& comm) {
  MPI_Comm shared;
  MPI_Comm_split_type(MPI_Comm(comm), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &shared);
  int ranks_here = 1;
  MPI_Comm_size(shared, &ranks_here);
  MPI_Comm_free(&shared);
  using get_fn = int (*)();
  auto blas_get = reinterpret_cast<get_fn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (std::getenv("OPENBLAS_NUM_THREADS") || std::getenv("OMP_NUM_THREADS"))
    return blas_get ? blas_get() : omp_get_max_threads();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // A rank bound to fewer cores (Open MPI binds each of up to 2 ranks to one
  // core by default) must not run more threads than it has cores: two BLAS
  // threads sharing a core run slower than one.
  cpu_set_t mask;
  const int allowed = sched_getaffinity(0, sizeof mask, &mask) == 0 ? CPU_COUNT(&mask) : cores;
  const int threads = std::max(1, std::min(cores / ranks_here, allowed));
  using set_fn = void (*)(int);
  if (auto blas_set = reinterpret_cast<set_fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) blas_set(threads);
  omp_set_num_threads(threads);
  return threads;
}

}  // namespace neurep
