// The distributed Cholesky against LAPACK on the same machine and threads:
// neurep's potrf_lower (pdpotrf, or dpotrf on a 1 x 1 grid) and potrs_lower
// for n x n at the given block sizes, beside dpotrf_ on rank 0 with all the
// BLAS threads of the run (ranks x threads), in the same run. Block size
// tuning (bench/RESULTS.md) and the factorisation rate of bench/run.sh.
// With --syevd N, also the eigendecomposition (pdsyevd, syevd_lower) of an
// N x N matrix at the first block size, against a Cholesky of the same N:
// the price of kernel regression's leave-one-out path.
//   mpirun -np P bench_factor [--n 8192] [--blocks 64,128,256] [--grid auto] [--repeats 3] [--syevd 0]
// Prints one JSON object per measurement on rank 0.
#include <boost/mpi/collectives.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/environment.hpp>

#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "neurep/detail/scalapack_imports.hpp"
#include "timing.hpp"
#include "neurep/linalg.hpp"
#include "neurep/threads.hpp"

using namespace neurep;

namespace {

using bench::timed;

// A barrier that sleeps between polls instead of spinning. Collective.
void idle_barrier(const boost::mpi::communicator& comm) {
  MPI_Request request;
  MPI_Ibarrier(comm, &request);
  for (int done = 0;;) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    usleep(1000);
  }
}

// A well-conditioned SPD matrix: n on the diagonal plus a smooth symmetric term.
double spd_entry(int64_t i, int64_t j, int64_t n) {
  return (i == j ? static_cast<double>(n) : 0.0) + std::sin(0.3 * static_cast<double>(i + j));
}

}  // namespace

int main(int argc, char** argv) {
  boost::mpi::environment env(argc, argv, boost::mpi::threading::funneled);
  boost::mpi::communicator world;
  int64_t n = 8192;
  int repeats = 3;
  int64_t n_eigen = 0;
  std::string grid_spec = "auto", blocks_spec = "64,128,256";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--n") n = std::atoll(argv[i + 1]);
    else if (key == "--blocks") blocks_spec = argv[i + 1];
    else if (key == "--grid") grid_spec = argv[i + 1];
    else if (key == "--repeats") repeats = std::atoi(argv[i + 1]);
    else if (key == "--syevd") n_eigen = std::atoll(argv[i + 1]);
    else {
      if (world.rank() == 0) std::fprintf(stderr, "bench_factor: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  const int threads = balance_threads(world);
  ProcessGrid grid(world, parse_grid_shape(grid_spec, world.size()));
  const bool root = world.rank() == 0;
  const double flops = std::pow(static_cast<double>(n), 3) / 3.0;

  // LAPACK on rank 0 with every thread of the run; the other ranks wait
  // without spinning (Open MPI's blocking calls poll a core), so that the
  // reference has the whole machine.
  double t_lapack = 1e300;
  {
    const int ni = static_cast<int>(n);
    using set_fn = void (*)(int);
    auto set_threads = reinterpret_cast<set_fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    std::vector<double> a;
    for (int r = 0; r < repeats; ++r) {
      idle_barrier(world);
      if (root) {
        a.resize(static_cast<size_t>(n * n));
        for (int64_t j = 0; j < n; ++j)
          for (int64_t i = 0; i < n; ++i) a[static_cast<size_t>(i + j * n)] = spd_entry(i, j, n);
        if (set_threads) set_threads(threads * world.size());
        const auto t0 = std::chrono::steady_clock::now();
        int info = 0;
        dpotrf_("L", &ni, a.data(), &ni, &info);
        t_lapack = std::min(t_lapack, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        if (set_threads) set_threads(threads);
      }
      idle_barrier(world);
    }
  }
  if (root)
    std::printf("{\"op\": \"dpotrf\", \"n\": %lld, \"threads\": %d, \"seconds\": %.4f, \"gflops\": %.2f}\n",
                static_cast<long long>(n), threads * world.size(), t_lapack, flops / t_lapack * 1e-9);

  std::stringstream ss(blocks_spec);
  for (std::string item; std::getline(ss, item, ',');) {
    const int nb = std::atoi(item.c_str());
    DistMatrix<double> a(grid, n, n, nb, nb), b(grid, n, 1, nb, nb);
    const double t_potrf = timed(
        world, repeats, [&] { a.for_each_local([&](int64_t i, int64_t j, double& v) { v = spd_entry(i, j, n); }); },
        [&] { linalg::potrf_lower(a); });
    const double t_potrs = timed(
        world, repeats, [&] { b.fill(1.0); }, [&] { linalg::potrs_lower(a, b); });
    if (root)
      std::printf("{\"op\": \"potrf_lower\", \"n\": %lld, \"block\": %d, \"ranks\": %d, \"grid\": \"%s\", "
                  "\"threads_per_rank\": %d, \"seconds\": %.4f, \"gflops\": %.2f, \"fraction_of_dpotrf\": %.3f, "
                  "\"potrs_seconds\": %.4f}\n",
                  static_cast<long long>(n), nb, world.size(), grid.shape_string().c_str(), threads, t_potrf,
                  flops / t_potrf * 1e-9, t_lapack / t_potrf, t_potrs);
  }

  if (n_eigen > 0) {
    const int nb = std::atoi(blocks_spec.c_str());
    DistMatrix<double> a(grid, n_eigen, n_eigen, nb, nb), z(grid, n_eigen, n_eigen, nb, nb);
    const auto fill = [&] { a.for_each_local([&](int64_t i, int64_t j, double& v) { v = spd_entry(i, j, n_eigen); }); };
    std::vector<double> w;
    const double t_potrf = timed(world, 1, fill, [&] { linalg::potrf_lower(a); });
    const double t_syevd = timed(world, 1, fill, [&] { linalg::syevd_lower(a, w, z); });
    if (root)
      std::printf("{\"op\": \"syevd_lower\", \"n\": %lld, \"block\": %d, \"ranks\": %d, \"grid\": \"%s\", "
                  "\"threads_per_rank\": %d, \"seconds\": %.4f, \"potrf_seconds\": %.4f, \"ratio_to_potrf\": %.1f}\n",
                  static_cast<long long>(n_eigen), nb, world.size(), grid.shape_string().c_str(), threads, t_syevd,
                  t_potrf, t_syevd / t_potrf);
  }
  return 0;
}
