#include "neurep/threads.hpp"

#include <dlfcn.h>
#include <mpi.h>
#include <omp.h>

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
  const int threads = std::max(1, cores / ranks_here);
  using set_fn = void (*)(int);
  if (auto blas_set = reinterpret_cast<set_fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) blas_set(threads);
  omp_set_num_threads(threads);
  return threads;
}

}  // namespace neurep
