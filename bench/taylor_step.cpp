// Time per gradient-descent step of a Taylor model (taylor.hpp) and its
// GFLOP/s, next to the machine's DGEMM rate measured in the same run with the
// same ranks and threads (SPEC 4: a step is 4 n m q flops).
//   mpirun -np P bench_taylor_step [--n 8192] [--q 1024] [--m 1024] [--order 2]
//                                  [--steps 10] [--block 128] [--grid auto]
// Prints one line per measurement on rank 0.
#include <boost/mpi/collectives.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/environment.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "neurep/data.hpp"
#include "neurep/detail/scalapack_imports.hpp"
#include "neurep/linalg.hpp"
#include "neurep/taylor.hpp"

using namespace neurep;

namespace {

// Seconds of f() on the slowest rank, best of `repeats`. Collective.
template <typename F>
double timed(const boost::mpi::communicator& comm, int repeats, F&& f) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    comm.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    double local = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), slowest = 0;
    boost::mpi::all_reduce(comm, local, slowest, boost::mpi::maximum<double>());
    best = std::min(best, slowest);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  boost::mpi::environment env(argc, argv, boost::mpi::threading::funneled);
  boost::mpi::communicator world;
  int64_t n = 8192, q = 1024, m = 1024, steps = 10;
  int block = 128;
  std::string order = "2", grid_spec = "auto";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--n") n = std::atoll(argv[i + 1]);
    else if (key == "--q") q = std::atoll(argv[i + 1]);
    else if (key == "--m") m = std::atoll(argv[i + 1]);
    else if (key == "--steps") steps = std::atoll(argv[i + 1]);
    else if (key == "--block") block = std::atoi(argv[i + 1]);
    else if (key == "--order") order = argv[i + 1];
    else if (key == "--grid") grid_spec = argv[i + 1];
    else {
      if (world.rank() == 0) std::fprintf(stderr, "bench_taylor_step: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  ProcessGrid grid(world, parse_grid_shape(grid_spec, world.size()));
  const bool root = world.rank() == 0;
  const char* threads = std::getenv("OPENBLAS_NUM_THREADS");
  const char* core = std::getenv("OPENBLAS_CORETYPE");
  if (root)
    std::printf("ranks %d (grid %s), OPENBLAS_NUM_THREADS=%s, OPENBLAS_CORETYPE=%s; n = %lld, q = %lld, m = %lld, "
                "order %s, block %d\n",
                world.size(), grid.shape_string().c_str(), threads ? threads : "unset", core ? core : "unset",
                static_cast<long long>(n), static_cast<long long>(q), static_cast<long long>(m), order.c_str(), block);

  // Inputs on the sphere in R^q, labels of a degree-2 target: the data of a real run.
  DataConfig dc;
  dc.dim = static_cast<int>(q);
  dc.degrees = {2};
  const RandomStreams streams(2020, 0);
  const Dataset data(dc, dc.dim, streams);
  DistMatrix<double> u(grid, n, q, block, block);
  data.fill_inputs(Split::Train, u);
  const std::vector<double> y = data.labels(n);

  LearnerConfig lc;
  lc.order = order;
  lc.width = std::to_string(m);
  lc.activation = order == "1" ? "softplus" : "quadratic";
  const TaylorOptions opt = taylor_options(lc, dc.dim, block);
  const TaylorModel model(opt, q, streams, grid);
  TaylorBatch batch(model, u);
  DistMatrix<double> w = model.initial_movement(), grad = model.zero_movement();

  // One step: forward (pdgemm), loss, backward (pdgemm), update.
  auto step = [&](int64_t t) {
    taylor_objective(batch, y, n, w, t, &grad);
    for (int64_t lj = 0; lj < w.local_cols(); ++lj)
      for (int64_t li = 0; li < w.local_rows(); ++li) w.local(li, lj) -= 1e-3 * grad.local(li, lj);
  };
  step(0);  // warm-up
  const double t_step = timed(world, 1, [&] {
                          for (int64_t t = 1; t <= steps; ++t) step(t);
                        }) / static_cast<double>(steps);
  const double flops = 4.0 * static_cast<double>(n) * static_cast<double>(m) * static_cast<double>(q);

  // The two products alone, same shapes and layout.
  DistMatrix<double> z(grid, n, m, block, block);
  const double t_gemms = timed(world, 3, [&] {
    linalg::gemm(linalg::Op::N, linalg::Op::T, 1.0, u, w, 0.0, z);
    linalg::gemm(linalg::Op::T, linalg::Op::N, 1.0, z, u, 0.0, grad);
  });

  // The machine's DGEMM rate: every rank multiplies its share of the same
  // product, (n/P x q) (q x m), with the BLAS threads it has.
  const int mm = static_cast<int>((n + world.size() - 1) / world.size()), nn = static_cast<int>(m),
            kk = static_cast<int>(q);
  std::vector<double> a(size_t(mm) * kk), b(size_t(kk) * nn), c(size_t(mm) * nn);
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::sin(0.1 * static_cast<double>(i));
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::cos(0.07 * static_cast<double>(i));
  const double one = 1, zero = 0;
  const double t_dgemm = timed(world, 3, [&] {
    dgemm_("N", "N", &mm, &nn, &kk, &one, a.data(), &mm, b.data(), &kk, &zero, c.data(), &mm);
  });
  const double dgemm_flops = 2.0 * mm * static_cast<double>(nn) * kk * world.size();

  if (root) {
    std::printf("taylor step        %8.4f s  %7.1f GFLOP/s  (4 n m q = %.3g flop, mean of %lld steps)\n", t_step,
                flops / t_step * 1e-9, flops, static_cast<long long>(steps));
    std::printf("the two pdgemm     %8.4f s  %7.1f GFLOP/s  (%.0f%% of the step)\n", t_gemms,
                flops / t_gemms * 1e-9, 100.0 * t_gemms / t_step);
    std::printf("dgemm_ (machine)   %8.4f s  %7.1f GFLOP/s  (%d x %d x %d on each of %d ranks)\n", t_dgemm,
                dgemm_flops / t_dgemm * 1e-9, mm, nn, kk, world.size());
    std::printf("step / dgemm rate  %.0f%%\n", 100.0 * (flops / t_step) / (dgemm_flops / t_dgemm));
  }
  return 0;
}
