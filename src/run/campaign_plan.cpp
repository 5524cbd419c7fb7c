#include "neurep/campaign_plan.hpp"

#include <fmt/core.h>
#include <fcntl.h>
#include <mpi.h>
#include <unistd.h>
#include <boost/mpi/communicator.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "neurep/dist_matrix.hpp"
#include "neurep/errors.hpp"
#include "neurep/grid.hpp"
#include "neurep/kernel_regression.hpp"
#include "neurep/kernel_solver_pcg.hpp"
#include "neurep/kernels.hpp"
#include "neurep/linalg.hpp"
#include "neurep/search.hpp"
#include "neurep/sweep.hpp"

namespace neurep {

namespace {

// The median rate of `work` units per call of f over at least 5 repeats and
// about `budget` seconds (the median: on a shared machine the best repeat
// is what the run will rarely see, and a fixed overhead's best is ~0).
template <typename F>
double median_rate(double work, double budget, F&& f) {
  using clock = std::chrono::steady_clock;
  f();  // warm-up: threads, pages
  std::vector<double> rates;
  double total = 0;
  while (rates.size() < 200 && (rates.size() < 5 || total < budget)) {
    const auto t0 = clock::now();
    f();
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    total += s;
    rates.push_back(work / std::max(s, 1e-9));
  }
  std::nth_element(rates.begin(), rates.begin() + static_cast<std::ptrdiff_t>(rates.size() / 2), rates.end());
  return rates[rates.size() / 2];
}

// Seconds since this process started (/proc/self/stat's start time against
// /proc/uptime, in clock ticks of 10 ms), or -1 where /proc does not tell.
double seconds_since_start() {
  std::ifstream stat("/proc/self/stat"), uptime("/proc/uptime");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  double up = -1;
  const size_t paren = text.rfind(')');
  if (!(uptime >> up) || paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 1));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i)  // field 22: starttime, in ticks since boot
    if (i == 22) return up - std::strtod(field.c_str(), nullptr) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return -1;
}

}  // namespace

Rates measure_rates(KernelKind kernel) {
  Rates r;
  {  // a start: this process's, to here (the loader, MPI_Init, the configuration), as a run's
    const double s = seconds_since_start();
    if (s > 0 && std::isfinite(s)) r.seconds_per_start = s;
  }
  const boost::mpi::communicator self(MPI_COMM_SELF, boost::mpi::comm_attach);
  const ProcessGrid grid(self, GridShape{1, 1});
  {
    const int64_t n = 1024;
    DistMatrix<double> a(grid, n, n, 64, 64), b(grid, n, n, 64, 64), c(grid, n, n, 64, 64);
    linalg::add_to_diagonal(a, 1.0);
    linalg::add_to_diagonal(b, 0.5);
    r.flops_per_second = median_rate(2.0 * n * n * n, 0.5, [&] { linalg::gemm(linalg::Op::N, linalg::Op::N, 1.0, a, b, 0.0, c); });
  }
  // E = c_i s_j Z in place, as a Taylor step's backward terms, over a 4096 x cols matrix.
  const auto pass_rate = [&](int64_t cols, double budget) {
    const int64_t rows = 4096;
    DistMatrix<double> z(grid, rows, cols, 128, 128);
    z.fill(1.0);
    std::vector<double> c(rows, 0.999999);
    return median_rate(static_cast<double>(rows * cols), budget, [&] {
      for (int64_t lj = 0; lj < z.local_cols(); ++lj) {
        double* zc = &z.local(0, lj);
        const double s = 1.0 + 1e-9 * static_cast<double>(lj);
        for (int64_t li = 0; li < z.local_rows(); ++li) zc[li] *= c[li] * s;
      }
    });
  };
  r.elements_per_second = pass_rate(2048, 0.3);        // 64 MB: beyond the caches
  r.cached_elements_per_second = pass_rate(256, 0.2);  // 8 MiB, which the caches hold
  {
    const int64_t n = 1024;
    DistMatrix<double> src(grid, n, n, 128, 128), g(grid, n, n, 128, 128);
    src.for_each_local([](int64_t i, int64_t j, double& v) { v = 0.9 * std::sin(static_cast<double>(i * 7 + j)); });
    const std::vector<double> sq(n, 1.0);
    r.entries_per_second = median_rate(static_cast<double>(n * n), 0.3, [&] {
      for (int64_t lj = 0; lj < g.local_cols(); ++lj)
        std::copy_n(&src.local(0, lj), g.local_rows(), &g.local(0, lj));
      apply_kernel(kernel == KernelKind::EmpiricalNtk ? KernelKind::Linear : kernel, g, sq, sq, false);
    });
  }
  {  // products: pcg's product K X (X: two columns, two ridges) with K built
     // on the fly in blocks of rows (KernelOperator::apply) at n = 4096, q = 16:
     // four blocks of 1024 rows (8 to 32 MB each, at and above the L3 of the
     // development machine), its ~0.63 n^2 entries each written by the
     // product of the inputs, mapped and read twice; the rate of what is not
     // the flops (2 q + 4 per entry, at the DGEMM rate: a few per cent here).
    const int64_t n = 4096, q = 16, ncols = 2;
    DistMatrix<double> u(grid, n, q, 128, 128), u_test(grid, 1, q, 128, 128);
    u.for_each_local([](int64_t i, int64_t j, double& v) { v = 0.25 * std::sin(static_cast<double>(i * 31 + j * 7)); });
    u_test.fill(0.25);
    const FeatureGram gram(u, u_test);
    const KernelOperator op(gram, kernel == KernelKind::EmpiricalNtk ? KernelKind::Linear : kernel,
                            gram.train_diagonal(), grid, 128);
    const std::vector<double> x(static_cast<size_t>(n * ncols), 1.0);
    const double entries = KernelOperator::product_entries(n, op.rows_per_block());
    const double t = 1.0 / median_rate(1.0, 0.5, [&] { op.apply(x, ncols); });
    const double flops = entries * (2.0 * q + 4.0 * ncols) / r.flops_per_second;
    r.products_per_second = entries / std::max(t - flops, 0.5 * t);
  }
  {  // calls: a threaded thin product of a Taylor step's shape (Z = U W^T,
     // 1024 x 91 by 91 x 8: above BLAS's threading threshold) beyond its
     // flops; handovers: the same alternated with a threaded kernel map on a
     // 128 x 128 block, as a block of test predictions does
    DistMatrix<double> u(grid, 1024, 91, 1024, 91), w(grid, 8, 91, 8, 91), z(grid, 1024, 8, 1024, 8);
    DistMatrix<double> k(grid, 128, 128, 128, 128);
    u.fill(0.5), w.fill(0.25), k.fill(0.3);
    const std::vector<double> sq(128, 1.0);
    const auto product = [&] { linalg::gemm(linalg::Op::N, linalg::Op::T, 1.0, u, w, 0.0, z); };
    const double work = 2.0 * 1024 * 91 * 8 / r.flops_per_second;
    const double call = 1.0 / median_rate(1.0, 0.2, [&] {
      for (int i = 0; i < 10; ++i) product();
    }) / 10.0;
    r.seconds_per_call = std::max(call - work, 1e-7);
    // A block of test predictions' shape: 256 x 16 by 16 x 256, then the map.
    DistMatrix<double> a(grid, 256, 16, 256, 16), g(grid, 256, 256, 256, 256);
    a.fill(0.2);
    const std::vector<double> sq256(256, 1.0);
    const auto gram = [&] { linalg::gemm(linalg::Op::N, linalg::Op::T, 1.0, a, a, 0.0, g); };
    const auto map = [&] { apply_kernel(KernelKind::Ntk, g, sq256, sq256, false); };
    const double t_gram = 1.0 / median_rate(1.0, 0.2, [&] { for (int i = 0; i < 10; ++i) gram(); }) / 10.0;
    gram();
    DistMatrix<double> g0 = g;  // the map alone, on fresh copies (it works in place)
    const double t_map = 1.0 / median_rate(1.0, 0.2, [&] {
      for (int i = 0; i < 10; ++i) {
        for (int64_t lj = 0; lj < g.local_cols(); ++lj) std::copy_n(&g0.local(0, lj), g.local_rows(), &g.local(0, lj));
        map();
      }
    }) / 10.0;
    const double pair = 1.0 / median_rate(1.0, 1.0, [&] {
      for (int i = 0; i < 10; ++i) gram(), map(), product();
    }) / 10.0;
    r.seconds_per_handover = std::max((pair - t_gram - t_map - call) / 2.0, 1e-7);
  }
  {  // a point's commit: a new file of 64 KiB, fsync, rename, fsync of the directory (here: the current one)
    std::string error;
    const std::vector<char> bytes(1 << 16, 'x');
    r.seconds_per_commit = 1.0 / median_rate(1.0, 0.3, [&] {
      char name[] = "neurep-plan-XXXXXX";
      const int fd = ::mkstemp(name);
      if (fd < 0) return;  // not writable: the nominal figure is as good a guess
      const bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && ::fsync(fd) == 0;
      ::close(fd);
      const std::string moved = std::string(name) + ".h5";
      if (ok && std::rename(name, moved.c_str()) == 0) {
        const int dir = ::open(".", O_RDONLY);
        if (dir >= 0) ::fsync(dir), ::close(dir);
        std::remove(moved.c_str());
      } else {
        std::remove(name);
      }
    });
    if (!std::isfinite(r.seconds_per_commit) || r.seconds_per_commit <= 0) r.seconds_per_commit = Rates{}.seconds_per_commit;
  }
  return r;
}

namespace {

std::string slurm_time(double seconds) {
  const int64_t minutes = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(seconds / 60.0)));
  const int64_t days = minutes / 1440, h = minutes % 1440 / 60, m = minutes % 60;
  return days ? fmt::format("{}-{:02}:{:02}:00", days, h, m) : fmt::format("{:02}:{:02}:00", h, m);
}

template <typename V>
std::string json_list(const std::vector<V>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{}", i ? ", " : "", v[i]);
  return s + "]";
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(ch));
      continue;
    }
    out += ch;
  }
  return out + "\"";
}

// The seconds of each kind of work of `c` (cost.hpp), as Rates::seconds sums them.
std::string json_by_kind(const Rates& r, const Cost& c, int ranks) {
  const double p = ranks;
  return fmt::format(
      "{{\"flops\": {}, \"elements\": {}, \"cached\": {}, \"entries\": {}, \"products\": {}, "
      "\"calls\": {}, \"handovers\": {}, \"commits\": {}}}",
      c.flops / r.flops_per_second / p, c.elements / r.elements_per_second / p,
      c.cached / r.cached_elements_per_second / p, c.entries / r.entries_per_second / p,
      c.products / r.products_per_second / p, c.calls * r.seconds_per_call, c.handovers * r.seconds_per_handover,
      c.commits * r.seconds_per_commit);
}

}  // namespace

namespace {

constexpr const char* kRatesList =
    "FLOPS,ELEMENTS,ENTRIES,SECONDS_PER_CALL,SECONDS_PER_HANDOVER,SECONDS_PER_COMMIT,PRODUCTS,CACHED_ELEMENTS,"
    "SECONDS_PER_START";

// --rates "F,E,K,C,H,S,P,A,T" (plan --json's "rates"), or --rate G (the nominal rates scaled to G GFLOP/s), or measured.
Rates plan_rates(const Config& config, const PlanOptions& o, std::string& how) {
  if (!o.rates.empty()) {
    std::vector<double> v;
    size_t pos = 0;
    while (pos <= o.rates.size()) {
      const size_t comma = std::min(o.rates.find(',', pos), o.rates.size());
      const std::string part = o.rates.substr(pos, comma - pos);
      char* end = nullptr;
      const double x = std::strtod(part.c_str(), &end);
      if (part.empty() || *end || !(x > 0) || !std::isfinite(x))
        throw InputError(fmt::format("--rates: '{}' is not nine positive numbers {}", o.rates, kRatesList));
      v.push_back(x);
      pos = comma + 1;
    }
    if (v.size() != 9)
      throw InputError(fmt::format("--rates: '{}' is not nine positive numbers {}", o.rates, kRatesList));
    how = "given with --rates";
    return Rates{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]};
  }
  if (o.gflops > 0) {
    const Rates nominal;
    const double s = o.gflops * 1e9 / nominal.flops_per_second;
    how = "given with --rate; the others scaled from the nominal ones";
    return Rates{o.gflops * 1e9,
                 nominal.elements_per_second * s,
                 nominal.entries_per_second * s,
                 nominal.seconds_per_call / s,
                 nominal.seconds_per_handover / s,
                 nominal.seconds_per_commit,
                 nominal.products_per_second * s,
                 nominal.cached_elements_per_second * s,
                 nominal.seconds_per_start};
  }
  how = "measured on this machine";
  const KernelLearnerConfig* k = config.learner.kernel();
  return measure_rates(k ? k->kernel : KernelKind::Ntk);
}

}  // namespace

void print_plan(const Config& config, const PlanOptions& o) {
  if (o.ranks < 1) throw InputError(fmt::format("--ranks: {} is not a positive number of ranks", o.ranks));
  if (!(o.gflops >= 0) || !std::isfinite(o.gflops))
    throw InputError(fmt::format("--rate: {} is not a positive GFLOP/s rate", o.gflops));
  const Learners learners = make_learners(config);
  const SweepPlan plan(config, learners, {});
  const ResourceEstimate mem = estimate_resources(config, learners, o.ranks);
  std::string how;
  const Rates rates = plan_rates(config, o, how);
  const RandomRepresentationConfig* r = config.representation.random();
  const TaylorLearnerConfig* t = config.learner.taylor();
  // A search: its ladder (sweep.n_train) and at most search_bisections points per target, each
  // costing at most a point at n_max: upper bounds (the search may stop early).
  const int64_t bisections =
      config.sweep.searches() ? search_bisections(config.sweep.search) * static_cast<int64_t>(config.sweep.search.targets.size()) : 0;
  const int64_t per_d_points = static_cast<int64_t>(config.sweep.seeds.size() * plan.points().size()) *
                               (static_cast<int64_t>(config.sweep.n_train.size()) + bisections);
  const int64_t n_max = *std::max_element(config.sweep.n_train.begin(), config.sweep.n_train.end());
  const auto seconds = [&](const Cost& c) { return rates.seconds(c, o.ranks); };

  struct PerD {
    int d;
    int64_t width;  // D, 0 without a random representation (or infinite)
    std::vector<int64_t> m;
    int64_t dim_u;
    double point_seconds, task_seconds;
    Cost point;                // the largest point's work (point_seconds)
    std::vector<double> by_n;  // the points of one (n, seed), each n of sweep.n_train
  };
  std::vector<PerD> rows;
  double max_task = 0;
  Cost start;  // one process per array task
  start.starts = 1;
  for (int d : config.dims()) {
    PerD p{d, 0, {}, d, 0, 0, {}, {}};
    p.task_seconds = seconds(start);
    if (r && !r->infinite) p.width = p.dim_u = r->width.at(d);
    if (t)
      for (const auto& w : t->network.widths) p.m.push_back(w.at(d));
    for (int64_t c : plan.points()) {
      const Cost point = plan.cost(d, n_max, c);
      if (seconds(point) > p.point_seconds) p.point_seconds = seconds(point), p.point = point;
    }
    for (int64_t n : config.sweep.n_train) {
      double sum = 0;
      for (int64_t c : plan.points()) sum += seconds(plan.cost(d, n, c));
      p.by_n.push_back(sum);
    }
    for (size_t s = 0; s < config.sweep.seeds.size(); ++s) {
      p.task_seconds += seconds(plan.setup_cost(d));
      for (int64_t c : plan.points()) {
        for (int64_t n : config.sweep.n_train) p.task_seconds += seconds(plan.cost(d, n, c));
        p.task_seconds += static_cast<double>(bisections) * seconds(plan.cost(d, n_max, c));
      }
    }
    max_task = std::max(max_task, p.task_seconds);
    rows.push_back(p);
  }
  // Slurm: twice the estimate plus 10 minutes (start-up, I/O, the model's error);
  // memory: the model's per rank + 25% + 512 MiB (MPI, BLAS buffers, the program).
  const std::string time = slurm_time(2.0 * max_task + 600.0);
  const int64_t mem_mib =
      static_cast<int64_t>(std::ceil((1.25 * std::max(mem.bytes_per_rank, mem.whitening_bytes_per_rank)) / (1 << 20))) +
      512;
  const bool measured = o.rates.empty() && o.gflops == 0;
  const std::string array = fmt::format("0-{}", rows.size() - 1);

  if (o.json) {
    std::string dims;
    for (size_t i = 0; i < rows.size(); ++i) {
      const PerD& p = rows[i];
      dims += fmt::format(
          "{}{{\"d\": {}, \"width\": {}, \"m\": {}, \"dim_u\": {}, \"points\": {}, "
          "\"seconds_per_point\": {}, \"point_seconds_by_kind\": {}, \"seconds_per_task\": {}, \"seconds_per_n\": {}}}",
          i ? ", " : "", p.d, p.width ? std::to_string(p.width) : "null", json_list(p.m), p.dim_u, per_d_points,
          p.point_seconds, json_by_kind(rates, p.point, o.ranks), p.task_seconds, json_list(p.by_n));
    }
    fmt::print(
        "{{\"config\": {}, \"ranks\": {}, \"gflops_per_rank\": {}, \"rate_measured\": {}, "
        "\"rates\": {{\"flops_per_second\": {}, \"elements_per_second\": {}, \"entries_per_second\": {}, "
        "\"seconds_per_call\": {}, \"seconds_per_handover\": {}, \"seconds_per_commit\": {}, "
        "\"products_per_second\": {}, \"cached_elements_per_second\": {}, \"seconds_per_start\": {}}}, "
        "\"candidates\": {}, \"points_per_d\": {}, \"points\": {}, \"points_upper_bound\": {}, "
        "\"memory_per_rank_bytes\": {}, \"whitening_memory_per_rank_bytes\": {}, \"memory_key\": \"{}\", "
        "\"dims\": [{}], "
        "\"slurm\": {{\"time\": \"{}\", \"mem_per_cpu\": \"{}M\", \"array\": \"{}\", \"ntasks\": {}}}}}\n",
        json_string(o.config_path), o.ranks, rates.flops_per_second / 1e9, measured ? "true" : "false",
        rates.flops_per_second, rates.elements_per_second, rates.entries_per_second, rates.seconds_per_call,
        rates.seconds_per_handover, rates.seconds_per_commit, rates.products_per_second,
        rates.cached_elements_per_second, rates.seconds_per_start, plan.candidates(), per_d_points, plan.total(),
        config.sweep.searches() ? "true" : "false", mem.bytes_per_rank, mem.whitening_bytes_per_rank, mem.key, dims,
        time, mem_mib, array, o.ranks);
    return;
  }
  fmt::print("# {}: plan for {} rank(s) per array task\n", o.config_path, o.ranks);
  fmt::print(
      "rates         per rank ({}): DGEMM {:.1f} GFLOP/s, element passes {:.2f} G/s ({:.2f} G/s in the caches),\n"
      "              kernel map {:.0f} M entries/s, {:.1f} us per call, {:.2f} ms per handover,\n"
      "              {:.1f} ms per commit, matrix-free kernel products {:.0f} M entries/s, {:.2f} s per start\n",
      how, rates.flops_per_second / 1e9, rates.elements_per_second / 1e9, rates.cached_elements_per_second / 1e9,
      rates.entries_per_second / 1e6, rates.seconds_per_call * 1e6, rates.seconds_per_handover * 1e3,
      rates.seconds_per_commit * 1e3, rates.products_per_second / 1e6, rates.seconds_per_start);
  fmt::print("candidates    {} ({} point(s) per (d, n, seed){})\n", plan.candidates(), plan.points().size(),
             plan.points().size() > static_cast<size_t>(plan.candidates()) ? ", with the refit" : "");
  if (config.sweep.searches())
    fmt::print("points        at most {} ({} per d: {} seed(s) x ({} n of the doubling ladder {}..{} + {} bisection(s)) x {}; "
               "a search: points and times are upper bounds)\n", plan.total(), per_d_points, config.sweep.seeds.size(),
               config.sweep.n_train.size(), config.sweep.n_train.front(), n_max, bisections, plan.points().size());
  else
    fmt::print("points        {} ({} per d: {} seed(s) x {} n x {})\n", plan.total(), per_d_points,
               config.sweep.seeds.size(), config.sweep.n_train.size(), plan.points().size());
  fmt::print("memory        {:.3f} GiB per rank at the largest point (n = {:.0f}, n_test = {:.0f}; dominated by {})\n",
             mem.bytes_per_rank / (1 << 30), mem.n, mem.n_test, mem.key);
  if (mem.whitening_bytes_per_rank > 0)
    fmt::print("              {:.3f} GiB per rank for the zca whitening (D = {:.0f})\n",
               mem.whitening_bytes_per_rank / (1 << 30), mem.whiten_width);
  fmt::print("\n{:>6} {:>8} {:>14} {:>8} {:>14} {:>14}\n", "d", "D", "m", "dim u", "s/point (max)", "s/task (d)");
  for (const PerD& p : rows) {
    std::string m;
    for (int64_t v : p.m) m += (m.empty() ? "" : ",") + std::to_string(v);
    fmt::print("{:>6} {:>8} {:>14} {:>8} {:>14.3g} {:>14.3g}\n", p.d, p.width ? std::to_string(p.width) : "-",
               m.empty() ? "-" : m, p.dim_u, p.point_seconds, p.task_seconds);
  }
  fmt::print("\nslurm (one array task per d, the lines of jobs/slurm/make_manifest.sh CONFIG_DIR DIMS...):\n");
  fmt::print(
      "  sbatch --array={} --ntasks={} --time={} --mem-per-cpu={}M jobs/slurm/array.sbatch MANIFEST RESULTS_DIR\n",
      array, o.ranks, time, mem_mib);
  fmt::print("  (--time: twice the longest task's estimate + 10 min; --mem-per-cpu: the model + 25% + 512 MiB;\n"
             "  jobs/slurm/submit_array.sh MANIFEST RESULTS_DIR sizes each task of a manifest this way)\n");
}

}  // namespace neurep
