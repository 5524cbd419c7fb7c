// The machine's reference rates, measured in the same run as the workloads
// they are compared with: DGEMM, SGEMM and LAPACK DPOTRF on this process's
// BLAS threads. Prints one JSON object.
//   bench_blas [--gemm N] [--potrf N] [--repeats R]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "neurep/detail/scalapack_imports.hpp"
#include "neurep/provenance.hpp"

namespace {

template <typename F>
double best_seconds(int repeats, F&& f) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int ng = 4096, np = 8192, repeats = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--gemm")) ng = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--potrf")) np = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
  }
  std::vector<double> a(size_t(ng) * ng), b(a.size()), c(a.size());
  std::vector<float> af(a.size()), bf(a.size()), cf(a.size());
  for (size_t i = 0; i < a.size(); ++i) a[i] = af[i] = std::sin(0.1 * i), b[i] = bf[i] = std::cos(0.07 * i);
  const double one = 1, zero = 0;
  const float onef = 1, zerof = 0;
  const double tg = best_seconds(repeats, [&] {
    dgemm_("N", "N", &ng, &ng, &ng, &one, a.data(), &ng, b.data(), &ng, &zero, c.data(), &ng);
  });
  const double ts = best_seconds(repeats, [&] {
    sgemm_("N", "N", &ng, &ng, &ng, &onef, af.data(), &ng, bf.data(), &ng, &zerof, cf.data(), &ng);
  });
  // A well-conditioned SPD matrix for the Cholesky: I * np + small symmetric noise.
  std::vector<double> spd(size_t(np) * np), work(spd.size());
  for (int j = 0; j < np; ++j)
    for (int i = 0; i < np; ++i) spd[size_t(i) + size_t(j) * np] = (i == j ? np : 0.0) + std::sin(0.3 * (i + j));
  double tp = 1e300;
  for (int r = 0; r < repeats; ++r) {
    work = spd;  // the copy is not timed
    int info = 0;
    tp = std::min(tp, best_seconds(1, [&] { dpotrf_("L", &np, work.data(), &np, &info); }));
  }
  const neurep::Provenance p = neurep::collect_provenance();
  const double g3 = 2.0 * std::pow(double(ng), 3);
  std::printf("{\"dgemm_n\": %d, \"dgemm_gflops\": %.2f, \"sgemm_gflops\": %.2f, \"dpotrf_n\": %d, "
              "\"dpotrf_gflops\": %.2f, \"blas\": \"%s\", \"blas_core\": \"%s\"}\n",
              ng, g3 / tg * 1e-9, g3 / ts * 1e-9, np, std::pow(double(np), 3) / 3.0 / tp * 1e-9,
              p.blas.c_str(), p.blas_core.c_str());
  return 0;
}
