// The random representation h(x) = S^{-1/2}(phi(Vx + b) - mu) (DESIGN 1.2) in
// its phases, as Representation builds it (representation.cpp):
//   features_unlabeled  G_unl = phi(X_unl V^T + b), N x D (local dgemm + map)
//   whitening_estimate  mu, Sigma = Gc^T Gc / N (pdgemm), pdsyevd, S^{-1/2} = Z diag Z^T (pdgemm)
//   features_train      G = phi(X V^T + b), n x D
//   whitening_apply     h = (G - mu) S^{-1/2} (pdgemm; psgemm with --precision single)
// with the machine's GEMM rate (dgemm, or sgemm in single precision) for an
// (n/P x D)(D x D) product on this rank in the same run. --precision single
// is run.precision = "single": only the apply changes (whitening.hpp), the
// other phases are the double ones. One JSON object per phase on rank 0.
//   mpirun -np P bench_representation [--d 32] [--width 2048] [--n 8192] [--unlabeled 0 (= 4 D)]
//        [--activation step] [--repeats 3] [--block 128] [--grid auto] [--precision double|single]
#include <boost/mpi/collectives.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/environment.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "neurep/config.hpp"
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
  std::string activation = "step", grid_spec = "auto", precision = "double";
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
    else if (key == "--precision") precision = argv[i + 1];
    else {
      if (world.rank() == 0) std::fprintf(stderr, "bench_representation: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (precision != "double" && precision != "single") {
    if (world.rank() == 0) std::fprintf(stderr, "bench_representation: --precision double|single\n");
    return 2;
  }
  const bool single = precision == "single";
  if (n_unl == 0) n_unl = 4 * width;
  const int threads = balance_threads(world);
  ProcessGrid grid(world, parse_grid_shape(grid_spec, world.size()));
  const bool root = world.rank() == 0;
  const Provenance prov = collect_provenance();

  DataConfig dc = default_config().data;
  dc.dim = d;
  const RandomStreams streams(2020, 0);
  const Dataset data(dc, d, streams);
  const RandomNetwork net(parse_enum<FeatureActivation>("--activation", activation), true, width, 1, d, streams);
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
                      h = std::make_unique<DistMatrix<double>>(white->apply(*g, single));
                    }), 2.0 * nn * D * D});

  // The machine's rate: this rank's share of the apply product with plain
  // dgemm_ (sgemm_ in single precision).
  const int ml = static_cast<int>((n + world.size() - 1) / world.size()), wi = static_cast<int>(width);
  auto local_gemm_seconds = [&](auto zero) {
    using T = decltype(zero);
    std::vector<T> a(size_t(ml) * wi), b(size_t(wi) * wi), c(size_t(ml) * wi);
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<T>(std::sin(0.1 * static_cast<double>(i)));
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<T>(std::cos(0.07 * static_cast<double>(i)));
    const T one = 1;
    return timed(world, repeats, [&] {
      if constexpr (std::is_same_v<T, float>)
        sgemm_("N", "N", &ml, &wi, &wi, &one, a.data(), &ml, b.data(), &wi, &zero, c.data(), &ml);
      else
        dgemm_("N", "N", &ml, &wi, &wi, &one, a.data(), &ml, b.data(), &wi, &zero, c.data(), &ml);
    });
  };
  const double t_gemm = single ? local_gemm_seconds(0.0f) : local_gemm_seconds(0.0);
  const double gemm_rate = 2.0 * ml * D * D * world.size() / t_gemm;

  if (root)
    for (const Phase& p : phases)
      std::printf("{\"bench\": \"representation\", \"phase\": \"%s\", \"d\": %d, \"D\": %lld, \"n\": %lld, "
                  "\"n_unlabeled\": %lld, \"activation\": \"%s\", \"precision\": \"%s\", \"ranks\": %d, \"grid\": \"%s\", "
                  "\"threads_per_rank\": %d, \"block\": %d, \"repeats\": %d, \"seconds\": %.4f, \"flops\": %.6g, "
                  "\"gflops\": %.2f, \"gemm_gflops\": %.2f, \"fraction_of_gemm\": %.3f, \"blas_core\": \"%s\"}\n",
                  p.name, d, static_cast<long long>(width), static_cast<long long>(n), static_cast<long long>(n_unl),
                  activation.c_str(), precision.c_str(), world.size(), grid.shape_string().c_str(), threads, block, repeats, p.seconds,
                  p.flops, p.flops / p.seconds * 1e-9, gemm_rate * 1e-9, p.flops / p.seconds / gemm_rate,
                  prov.blas_core.c_str());
  return 0;
}
