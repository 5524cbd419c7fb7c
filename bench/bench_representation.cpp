// The random representation h(x) = S^{-1/2}(phi(Vx + b) - mu) (SPEC 1.2) in
// its phases, as Representation builds it (representation.cpp):
//   features_unlabeled  G_unl = phi(X_unl V^T + b), N x D (local dgemm + map)
//   whitening_estimate  mu, Sigma = Gc^T Gc / N (pdgemm), pdsyevd, S^{-1/2} = Z diag Z^T (pdgemm)
//   features_train      G = phi(X V^T + b), n x D
//   whitening_apply     h = (G - mu) S^{-1/2} (pdgemm)
// with the machine's DGEMM rate for an (n/P x D)(D x D) product on this rank
// in the same run. One JSON object per phase on rank 0.
//   mpirun -np P bench_representation [--d 32] [--width 2048] [--n 8192] [--unlabeled 0 (= 4 D)]
//        [--activation step] [--repeats 3] [--block 128] [--grid auto]
#include <boost/mpi/collectives.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/environment.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "neurep/data.hpp"
#include "neurep/detail/scalapack_imports.hpp"
#include "timing.hpp"
#include "neurep/provenance.hpp"
#include "neurep/random_features.hpp"
#include "neurep/threads.hpp"
#include "neurep/whitening.hpp"

using namespace neurep;

namespace {

using bench::timed;

}  // namespace

int main(int argc, char** argv) {
  boost::mpi::environment env(argc, argv, boost::mpi::threading::funneled);
  boost::mpi::communicator world;
  int d = 32, block = 128, repeats = 3;
  int64_t width = 2048, n = 8192, n_unl = 0;
  std::string activation = "step", grid_spec = "auto";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--d") d = std::atoi(argv[i + 1]);
    else if (key == "--width") width = std::atoll(argv[i + 1]);
    else if (key == "--n") n = std::atoll(argv[i + 1]);
    else if (key == "--unlabeled") n_unl = std::atoll(argv[i + 1]);
    else if (key == "--activation") activation = argv[i + 1];
    else if (key == "--repeats") repeats = std::atoi(argv[i + 1]);
    else if (key == "--block") block = std::atoi(argv[i + 1]);
    else if (key == "--grid") grid_spec = argv[i + 1];
    else {
      if (world.rank() == 0) std::fprintf(stderr, "bench_representation: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (n_unl == 0) n_unl = 4 * width;
  const int threads = balance_threads(world);
  ProcessGrid grid(world, parse_grid_shape(grid_spec, world.size()));
  const bool root = world.rank() == 0;
  const Provenance prov = collect_provenance();

  DataConfig dc;
  dc.dim = d;
  const RandomStreams streams(2020, 0);
  const Dataset data(dc, d, streams);
  const RandomNetwork net(parse_feature_activation(activation), true, width, 1, d, streams);
  const double D = static_cast<double>(width), N = static_cast<double>(n_unl), nn = static_cast<double>(n);

  std::unique_ptr<DistMatrix<double>> g_unl, g;
  std::unique_ptr<Whitening> white;
  std::unique_ptr<DistMatrix<double>> h;
  struct Phase {
    const char* name;
    double seconds, flops;
  };
  std::vector<Phase> phases;
  phases.push_back({"features_unlabeled", timed(world, repeats, [&] {
                      g_unl = std::make_unique<DistMatrix<double>>(net.features(data, Split::Unlabeled, n_unl, grid, block));
                    }), 2.0 * N * d * D});
  // Sigma (2 N D^2), pdsyevd (model: 4/3 D^3 tridiagonalisation + 2 D^3 back-transformation), S^{-1/2} (2 D^3).
  phases.push_back({"whitening_estimate", timed(world, repeats, [&] {
                      white = std::make_unique<Whitening>(WhitenKind::Zca, *g_unl, 1e-3);
                    }), 2.0 * N * D * D + (4.0 / 3.0 + 2.0 + 2.0) * D * D * D});
  phases.push_back({"features_train", timed(world, repeats, [&] {
                      g = std::make_unique<DistMatrix<double>>(net.features(data, Split::Train, n, grid, block));
                    }), 2.0 * nn * d * D});
  phases.push_back({"whitening_apply", timed(world, repeats, [&] {
                      h = std::make_unique<DistMatrix<double>>(white->apply(*g));
                    }), 2.0 * nn * D * D});

  // The machine's rate: this rank's share of the apply product with plain dgemm_.
  const int ml = static_cast<int>((n + world.size() - 1) / world.size()), wi = static_cast<int>(width);
  std::vector<double> a(size_t(ml) * wi), b(size_t(wi) * wi), c(size_t(ml) * wi);
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::sin(0.1 * static_cast<double>(i));
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::cos(0.07 * static_cast<double>(i));
  const double one = 1, zero = 0;
  const double t_gemm = timed(world, repeats, [&] {
    dgemm_("N", "N", &ml, &wi, &wi, &one, a.data(), &ml, b.data(), &wi, &zero, c.data(), &ml);
  });
  const double gemm_rate = 2.0 * ml * D * D * world.size() / t_gemm;

  if (root)
    for (const Phase& p : phases)
      std::printf("{\"bench\": \"representation\", \"phase\": \"%s\", \"d\": %d, \"D\": %lld, \"n\": %lld, "
                  "\"n_unlabeled\": %lld, \"activation\": \"%s\", \"ranks\": %d, \"grid\": \"%s\", "
                  "\"threads_per_rank\": %d, \"block\": %d, \"repeats\": %d, \"seconds\": %.4f, \"flops\": %.6g, "
                  "\"gflops\": %.2f, \"gemm_gflops\": %.2f, \"fraction_of_gemm\": %.3f, \"blas_core\": \"%s\"}\n",
                  p.name, d, static_cast<long long>(width), static_cast<long long>(n), static_cast<long long>(n_unl),
                  activation.c_str(), world.size(), grid.shape_string().c_str(), threads, block, repeats, p.seconds,
                  p.flops, p.flops / p.seconds * 1e-9, gemm_rate * 1e-9, p.flops / p.seconds / gemm_rate,
                  prov.blas_core.c_str());
  return 0;
}
