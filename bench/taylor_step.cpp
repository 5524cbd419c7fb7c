// Time per gradient-descent step of the Taylor models (taylor.hpp) in double
// and single precision, next to the machine's GEMM rate for the same two
// products measured in the same run with the same ranks and threads
// (DESIGN 4: a step is 4 n m q flops).
//   mpirun -np P bench_taylor_step [--n 8192] [--q 1024] [--m 1024] [--orders 1,2,full]
//        [--precisions double,single] [--steps 5] [--repeats 3] [--block 128] [--grid auto]
// Prints one JSON object per (order, precision) on rank 0:
//   step_seconds       best over `repeats` of the mean of `steps` steps (forward,
//                      loss, backward, update: taylor_objective and the update of the trainer)
//   products_seconds   the step's two products alone (linalg::gemm, same shapes and layout)
//   gemm_seconds       the same two products as plain dgemm_/sgemm_ on this rank's
//                      share, (n/P x q)(q x m) and (m x n/P)(n/P x q): the machine's
//                      rate for these shapes, without communication
//   fraction_of_gemm   step rate / that rate
#include <boost/mpi/collectives.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/environment.hpp>
#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "neurep/config.hpp"
#include "neurep/data.hpp"
#include "neurep/detail/scalapack_imports.hpp"
#include "timing.hpp"
#include "neurep/linalg.hpp"
#include "neurep/provenance.hpp"
#include "neurep/taylor.hpp"
#include "neurep/threads.hpp"

using namespace neurep;

namespace {

using bench::timed;

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

// The two products of a step with plain BLAS on this rank's share of the samples.
template <typename T>
void local_products(int nl, int m, int q, const std::vector<T>& u, const std::vector<T>& w, std::vector<T>& z,
                    std::vector<T>& g) {
  const T one = 1, zero = 0;
  if constexpr (std::is_same_v<T, double>) {
    dgemm_("N", "T", &nl, &m, &q, &one, u.data(), &nl, w.data(), &m, &zero, z.data(), &nl);
    dgemm_("T", "N", &m, &q, &nl, &one, z.data(), &nl, u.data(), &nl, &zero, g.data(), &m);
  } else {
    sgemm_("N", "T", &nl, &m, &q, &one, u.data(), &nl, w.data(), &m, &zero, z.data(), &nl);
    sgemm_("T", "N", &m, &q, &nl, &one, z.data(), &nl, u.data(), &nl, &zero, g.data(), &m);
  }
}

// The two products of a step with plain BLAS on this rank's share of the samples.
class MachineProducts {
 public:
  MachineProducts(const boost::mpi::communicator& comm, int64_t n, int64_t m, int64_t q, bool single)
      : nl_(static_cast<int>((n + comm.size() - 1) / comm.size())), m_(static_cast<int>(m)), q_(static_cast<int>(q)),
        single_(single) {
    const size_t nu = size_t(nl_) * q_, nw = size_t(m_) * q_, nz = size_t(nl_) * m_;
    if (single) fill(u32_, nu, 0.1), fill(w32_, nw, 0.07), z32_.resize(nz), g32_.resize(nw);
    else fill(u_, nu, 0.1), fill(w_, nw, 0.07), z_.resize(nz), g_.resize(nw);
    run();  // warm-up
  }
  void run() {
    if (single_) local_products(nl_, m_, q_, u32_, w32_, z32_, g32_);
    else local_products(nl_, m_, q_, u_, w_, z_, g_);
  }

 private:
  template <typename T>
  static void fill(std::vector<T>& v, size_t size, double f) {
    v.resize(size);
    for (size_t i = 0; i < size; ++i) v[i] = static_cast<T>(std::sin(f * static_cast<double>(i)));
  }
  int nl_, m_, q_;
  bool single_;
  std::vector<double> u_, w_, z_, g_;
  std::vector<float> u32_, w32_, z32_, g32_;
};

}  // namespace

int main(int argc, char** argv) {
  boost::mpi::environment env(argc, argv, boost::mpi::threading::funneled);
  boost::mpi::communicator world;
  int64_t n = 8192, q = 1024, m = 1024, steps = 5;
  int block = 128, repeats = 3;
  std::string orders = "1,2,full", precisions = "double,single", grid_spec = "auto";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--n") n = std::atoll(argv[i + 1]);
    else if (key == "--q") q = std::atoll(argv[i + 1]);
    else if (key == "--m") m = std::atoll(argv[i + 1]);
    else if (key == "--steps") steps = std::atoll(argv[i + 1]);
    else if (key == "--repeats") repeats = std::atoi(argv[i + 1]);
    else if (key == "--block") block = std::atoi(argv[i + 1]);
    else if (key == "--orders") orders = argv[i + 1];
    else if (key == "--precisions") precisions = argv[i + 1];
    else if (key == "--grid") grid_spec = argv[i + 1];
    else {
      if (world.rank() == 0) std::fprintf(stderr, "bench_taylor_step: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  const int threads = balance_threads(world);
  ProcessGrid grid(world, parse_grid_shape(grid_spec, world.size(), GridWork::Tall));
  const bool root = world.rank() == 0;
  const Provenance prov = collect_provenance();
  if (root) {
    const std::string warning = blas_kernel_warning(prov);
    if (!warning.empty()) std::fprintf(stderr, "%s\n", warning.c_str());
  }

  // Inputs on the sphere in R^q, labels of a degree-2 target: the data of a real run.
  DataConfig dc = default_config().data;
  dc.dim = static_cast<int>(q);
  dc.degrees = {2};
  const RandomStreams streams(2020, 0);
  const Dataset data(dc, dc.dim, streams);
  DistMatrix<double> u(grid, n, q, block, block);
  data.fill_inputs(Split::Train, u);
  const std::vector<double> y = data.labels(n);
  const double flops = 4.0 * static_cast<double>(n) * static_cast<double>(m) * static_cast<double>(q);

  for (const std::string& precision : split(precisions)) {
    const bool single = parse_enum<Precision>("--precision", precision) == Precision::Single;
    for (const std::string& order : split(orders)) {
      const TaylorOrder o = parse_enum<TaylorOrder>("--orders", order);
      const Activation sigma = o == TaylorOrder::Linear ? Activation::Softplus
                               : o == TaylorOrder::Quadratic ? Activation::Quadratic : Activation::Tanh;
      const std::string order_value = order == "full" ? "\"full\"" : order;  // 1 and 2 are TOML integers
      const LearnerConfig lc = parse_config("[learner]\nkind = \"taylor\"\n",
                                            {"learner.order=" + order_value, fmt::format("learner.m={}", m),
                                             "learner.activation=\"" + name_of(sigma) + "\""}).learner;
      TaylorOptions opt = taylor_options(lc, dc.dim, block);
      opt.single_precision = single;
      const TaylorModel model(opt, q, streams, grid);
      // The batch in the step's storage type (float for single precision).
      std::unique_ptr<TaylorBatch<double>> batch64;
      std::unique_ptr<TaylorBatch<float>> batch32;
      if (single) batch32 = std::make_unique<TaylorBatch<float>>(model, u);
      else batch64 = std::make_unique<TaylorBatch<double>>(model, u);
      DistMatrix<double> w = model.initial_movement(), grad = model.zero_movement();

      // One step as the trainer takes it: forward, loss, backward (taylor_objective), update.
      auto step = [&](int64_t t) {
        if (batch32) taylor_objective(*batch32, y, n, w, t, &grad);
        else taylor_objective(*batch64, y, n, w, t, &grad);
        const int64_t lr = w.local_rows(), lcn = w.local_cols();
#pragma omp parallel for schedule(static)
        for (int64_t lj = 0; lj < lcn; ++lj)
          for (int64_t li = 0; li < lr; ++li) w.local(li, lj) -= 1e-3 * grad.local(li, lj);
      };
      step(0);  // warm-up
      int64_t t = 1;

      // The two products alone, same shapes and layout, in the step's precision.
      DistMatrix<float> u32(grid, single ? n : 0, q, block, block), w32(grid, single ? m : 0, q, block, block),
          z32(grid, single ? n : 0, m, block, block);
      DistMatrix<double> z(grid, single ? 0 : n, m, block, block);
      if (single) linalg::convert(u, u32), linalg::convert(w, w32);
      auto products = [&] {
        if (single) {
          linalg::gemm(linalg::Op::N, linalg::Op::T, 1.0f, u32, w32, 0.0f, z32);
          linalg::gemm(linalg::Op::T, linalg::Op::N, 1.0f, z32, u32, 0.0f, w32);
        } else {
          linalg::gemm(linalg::Op::N, linalg::Op::T, 1.0, u, w, 0.0, z);
          linalg::gemm(linalg::Op::T, linalg::Op::N, 1.0, z, u, 0.0, grad);
        }
      };
      MachineProducts machine(world, n, m, q, single);
      // The machine's rate drifts by +-20 % over tens of seconds on a shared
      // VM: the three measurements are interleaved, round by round, and each
      // keeps its best round.
      double t_step = 1e300, t_products = 1e300, t_machine = 1e300;
      for (int r = 0; r < repeats; ++r) {
        t_step = std::min(t_step, timed(world, 1, [&] {
                            for (int64_t k = 0; k < steps; ++k) step(t++);
                          }) / static_cast<double>(steps));
        t_products = std::min(t_products, timed(world, 1, products));
        t_machine = std::min(t_machine, timed(world, 1, [&] { machine.run(); }));
      }
      if (root)
        std::printf("{\"bench\": \"taylor_step\", \"order\": \"%s\", \"precision\": \"%s\", \"n\": %lld, \"q\": %lld, "
                    "\"m\": %lld, \"ranks\": %d, \"grid\": \"%s\", \"threads_per_rank\": %d, \"block\": %d, "
                    "\"steps\": %lld, \"repeats\": %d, \"flops\": %.6g, \"step_seconds\": %.5f, \"step_gflops\": %.2f, "
                    "\"products_seconds\": %.5f, \"products_gflops\": %.2f, \"gemm_seconds\": %.5f, \"gemm_gflops\": %.2f, "
                    "\"fraction_of_gemm\": %.3f, \"blas_core\": \"%s\"}\n",
                    order.c_str(), precision.c_str(), static_cast<long long>(n), static_cast<long long>(q),
                    static_cast<long long>(m), world.size(), grid.shape_string().c_str(), threads, block,
                    static_cast<long long>(steps), repeats, flops, t_step, flops / t_step * 1e-9, t_products,
                    flops / t_products * 1e-9, t_machine, flops / t_machine * 1e-9, t_machine / t_step,
                    prov.blas_core.c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
