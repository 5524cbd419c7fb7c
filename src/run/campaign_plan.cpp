#include "neurep/campaign_plan.hpp"

#include <fmt/core.h>
#include <mpi.h>
#include <boost/mpi/communicator.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "neurep/dist_matrix.hpp"
#include "neurep/errors.hpp"
#include "neurep/grid.hpp"
#include "neurep/linalg.hpp"
#include "neurep/search.hpp"
#include "neurep/sweep.hpp"

namespace neurep {

double measure_gemm_gflops() {
  const boost::mpi::communicator self(MPI_COMM_SELF, boost::mpi::comm_attach);
  const ProcessGrid grid(self, GridShape{1, 1});
  const int64_t n = 1024;
  DistMatrix<double> a(grid, n, n, 64, 64), b(grid, n, n, 64, 64), c(grid, n, n, 64, 64);
  linalg::add_to_diagonal(a, 1.0);
  linalg::add_to_diagonal(b, 0.5);
  using clock = std::chrono::steady_clock;
  linalg::gemm(linalg::Op::N, linalg::Op::N, 1.0, a, b, 0.0, c);  // warm-up: threads, pages
  double best = 0, total = 0;
  for (int i = 0; i < 50 && total < 1.0; ++i) {
    const auto t0 = clock::now();
    linalg::gemm(linalg::Op::N, linalg::Op::N, 1.0, a, b, 0.0, c);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    total += s;
    best = std::max(best, 2.0 * n * n * n / s / 1e9);
  }
  return best;
}

namespace {

std::string slurm_time(double seconds) {
  const int64_t minutes = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(seconds / 60.0)));
  const int64_t days = minutes / 1440, h = minutes % 1440 / 60, m = minutes % 60;
  return days ? fmt::format("{}-{:02}:{:02}:00", days, h, m) : fmt::format("{:02}:{:02}:00", h, m);
}

std::string json_list(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
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

}  // namespace

void print_plan(const Config& config, const PlanOptions& o) {
  if (o.ranks < 1) throw InputError(fmt::format("--ranks: {} is not a positive number of ranks", o.ranks));
  if (!(o.gflops >= 0) || !std::isfinite(o.gflops))
    throw InputError(fmt::format("--rate: {} is not a positive GFLOP/s rate", o.gflops));
  const Learners learners = make_learners(config);
  const SweepPlan plan(config, learners, {});
  const ResourceEstimate mem = estimate_resources(config, learners, o.ranks);
  const bool measured = o.gflops == 0;
  const double gflops = measured ? measure_gemm_gflops() : o.gflops;
  // Time on P ranks: the flops over P ranks at the per-rank rate (perfect scaling: a lower bound).
  const double rate = gflops * 1e9 * o.ranks;
  const RandomRepresentationConfig* r = config.representation.random();
  const TaylorLearnerConfig* t = config.learner.taylor();
  // A search: its ladder (sweep.n_train) and at most search_bisections points per target, each
  // costing at most a point at n_max: upper bounds (the search may stop early).
  const int64_t bisections =
      config.sweep.searches() ? search_bisections(config.sweep.search) * static_cast<int64_t>(config.sweep.search.targets.size()) : 0;
  const int64_t per_d_points = static_cast<int64_t>(config.sweep.seeds.size() * plan.points().size()) *
                               (static_cast<int64_t>(config.sweep.n_train.size()) + bisections);
  const int64_t n_max = *std::max_element(config.sweep.n_train.begin(), config.sweep.n_train.end());

  struct PerD {
    int d;
    int64_t width;  // D, 0 without a random representation (or infinite)
    std::vector<int64_t> m;
    int64_t dim_u;
    double point_seconds, task_seconds;
  };
  std::vector<PerD> rows;
  double max_task = 0;
  for (int d : config.dims()) {
    PerD p{d, 0, {}, d, 0, 0};
    if (r && !r->infinite) p.width = p.dim_u = r->width.at(d);
    if (t)
      for (const auto& w : t->network.widths) p.m.push_back(w.at(d));
    for (int64_t c : plan.points()) p.point_seconds = std::max(p.point_seconds, plan.cost(d, n_max, c) / rate);
    for (size_t s = 0; s < config.sweep.seeds.size(); ++s)
      for (int64_t c : plan.points()) {
        for (int64_t n : config.sweep.n_train) p.task_seconds += plan.cost(d, n, c) / rate;
        p.task_seconds += static_cast<double>(bisections) * plan.cost(d, n_max, c) / rate;
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
  const std::string array = fmt::format("0-{}", rows.size() - 1);

  if (o.json) {
    std::string dims;
    for (size_t i = 0; i < rows.size(); ++i) {
      const PerD& p = rows[i];
      dims += fmt::format(
          "{}{{\"d\": {}, \"width\": {}, \"m\": {}, \"dim_u\": {}, \"points\": {}, "
          "\"seconds_per_point\": {}, \"seconds_per_task\": {}}}",
          i ? ", " : "", p.d, p.width ? std::to_string(p.width) : "null", json_list(p.m), p.dim_u, per_d_points,
          p.point_seconds, p.task_seconds);
    }
    fmt::print(
        "{{\"config\": {}, \"ranks\": {}, \"gflops_per_rank\": {}, \"rate_measured\": {}, "
        "\"candidates\": {}, \"points_per_d\": {}, \"points\": {}, \"points_upper_bound\": {}, \"memory_per_rank_bytes\": {}, "
        "\"whitening_memory_per_rank_bytes\": {}, \"memory_key\": \"{}\", \"dims\": [{}], "
        "\"slurm\": {{\"time\": \"{}\", \"mem_per_cpu\": \"{}M\", \"array\": \"{}\", \"ntasks\": {}}}}}\n",
        json_string(o.config_path), o.ranks, gflops, measured ? "true" : "false", plan.candidates(), per_d_points,
        plan.total(), config.sweep.searches() ? "true" : "false", mem.bytes_per_rank, mem.whitening_bytes_per_rank, mem.key, dims, time, mem_mib, array, o.ranks);
    return;
  }
  fmt::print("# {}: plan for {} rank(s) per array task\n", o.config_path, o.ranks);
  fmt::print("rate          {:.1f} GFLOP/s per rank ({})\n", gflops,
             measured ? "measured: DGEMM 1024 on this machine" : "given with --rate");
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
  fmt::print("  (--time: twice the longest task's estimate + 10 min; --mem-per-cpu: the model + 25% + 512 MiB)\n");
}

}  // namespace neurep
