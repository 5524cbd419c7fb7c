// neurep: the command line (DESIGN 3.1), a thin layer over the library.
//   neurep run CONFIG.toml [-o FILE.h5] [--set section.key=value]... [--resume | --extend | --overwrite]
//   neurep check CONFIG.toml [--set ...]   |   neurep check --help-config
//   neurep info FILE.h5
//   neurep plan CONFIG.toml [--set ...] [--ranks P] [--rate GFLOPS] [--json]
#include <CLI/CLI.hpp>
#include <boost/mpi/environment.hpp>
#include <boost/mpi/communicator.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdlib>
#include <map>
#include <set>

#include "neurep/campaign_plan.hpp"
#include "neurep/config.hpp"
#include "neurep/errors.hpp"
#include "neurep/experiment.hpp"
#include "neurep/output.hpp"
#include "neurep/provenance.hpp"
#include "neurep/signals.hpp"

namespace {

std::string joined_command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

void print_info(const neurep::ResultsContents& c, const std::string& path) {
  fmt::print("{}: neurep results, status {}\n", path, c.status);
  for (const char* k : {"version", "git_revision", "created", "command_line", "mpi_ranks", "grid", "blas_core", "host"})
    if (auto it = c.attributes.find(k); it != c.attributes.end()) fmt::print("  {:<13} {}\n", k, it->second);
  fmt::print("  rows          {}\n  curves        {}\n", c.rows.size(), c.curves.size());
  // Median test error over seeds per (learner, input, d, n), of the row each
  // run selected on its validation split (selected = 1); a run that made no
  // choice has one row per point, or (every candidate failed) counts its first
  // row, a failure. Nothing here is chosen on the test set.
  using Point = std::tuple<std::string, std::string, int64_t, int64_t>;
  std::map<std::tuple<std::string, std::string, int64_t, int64_t, int64_t>, std::vector<const neurep::ResultRow*>> runs;
  for (const auto& r : c.rows) runs[{r.learner, r.input, r.d, r.n, r.seed}].push_back(&r);
  std::map<Point, std::vector<double>> groups;
  std::map<Point, std::set<std::string>> chosen;
  size_t undecided = 0;
  for (const auto& [k, rows] : runs) {
    const neurep::ResultRow* use = nullptr;
    for (const auto* r : rows)
      if (auto it = r->extra.find("selected"); it != r->extra.end() && it->second == 1.0) use = r;
    const bool all_failed = std::all_of(rows.begin(), rows.end(), [](const auto* r) {
      return r->status == "diverged" || !std::isfinite(r->test_error);
    });
    if (!use && (rows.size() == 1 || all_failed)) use = rows.front();
    if (!use) {
      ++undecided;
      continue;
    }
    const Point p{std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k)};
    const bool failed = use->status == "diverged" || !std::isfinite(use->test_error);
    groups[p].push_back(failed ? std::numeric_limits<double>::infinity() : use->test_error);
    const auto cand = use->extra.find("candidate");
    chosen[p].insert(cand != use->extra.end() ? fmt::format("c{}", static_cast<int64_t>(cand->second))
                                              : fmt::format("{:.2g}", use->ridge));
  }
  if (undecided)
    fmt::print("  {} run(s) with several rows and no selected one are left out\n", undecided);
  if (groups.empty()) return;
  fmt::print("\n  median test error over seeds, of the row each run selected on its validation split (or its only row)\n");
  fmt::print("  {:<20} {:<24} {:>5} {:>8} {:>6} {:>12}  {}\n", "learner", "input", "d", "n", "seeds", "median error",
             "chosen (ridge or candidate)");
  for (auto& [k, v] : groups) {
    std::sort(v.begin(), v.end());
    const size_t m = v.size();
    const double med = m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
    std::string ch;
    for (const auto& s : chosen[k]) ch += (ch.empty() ? "" : " ") + s;
    fmt::print("  {:<20} {:<24} {:>5} {:>8} {:>6} {:>12.4g}  {}\n", std::get<0>(k), std::get<1>(k), std::get<2>(k),
               std::get<3>(k), m, med, ch);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // First of all: SIGUSR1/SIGTERM only set a flag from here on. Installed
  // later (after MPI_Init, ~0.2 s), a signal in between killed the job with
  // 138 and no file, and Slurm requeues only on 75.
  neurep::install_stop_handlers();
  neurep::test_stop_at("start");
  // Open MPI's MPI-IO (OMPIO) opens a shared-file-pointer component with
  // every file (it refuses to open one without). "sm" keeps a POSIX semaphore
  // per file name in /dev/shm: a run killed while creating a file left it
  // locked, and every later run on that name hung in MPI_File_open.
  // "lockedfile" creates FILE-<id>.lock beside it and overflows a buffer on
  // names of 240 characters (hangs at 235). neurep never uses shared file
  // pointers; "individual" leaves nothing beside the file (tests/cli/cli_faults.py).
  // Set before MPI reads its parameters, unless the user chose one.
  setenv("OMPI_MCA_sharedfp", "individual", /*overwrite=*/0);
  boost::mpi::environment env(argc, argv, boost::mpi::threading::funneled, false);
  boost::mpi::communicator world;
  const bool root = world.rank() == 0;
  neurep::test_stop_at("mpi");

  CLI::App app{"neurep: sample complexity of learners on raw inputs and on random neural representations"};
  app.require_subcommand(1);
  app.set_version_flag("--version", neurep::version_line());
  std::string config_path, output, info_path;
  std::vector<std::string> overrides;
  bool resume = false, extend = false, overwrite = false, help_config = false, quiet = false;

  auto* run = app.add_subcommand("run", "run the sweep of a configuration, writing an HDF5 results file");
  run->add_option("config", config_path, "configuration file (TOML)")->required();
  run->add_option("-o,--output", output, "results file (default: the configuration's name with .h5)");
  run->add_option("--set", overrides, "override a key: section.key=value (TOML value), repeatable");
  auto* r_opt = run->add_flag("--resume", resume, "continue an earlier run of the same configuration");
  auto* e_opt = run->add_flag("--extend", extend,
                              "grow an existing results file to this configuration, which may only add values to "
                              "sweep.dims, n_train, seeds, learner.ridge, m, learning_rate or regularizer (points "
                              "done are kept; an unfinished run is continued)");
  run->add_flag("--overwrite", overwrite, "replace an existing results file")->excludes(r_opt)->excludes(e_opt);
  run->add_flag("-q,--quiet", quiet, "no progress lines");

  auto* check = app.add_subcommand("check", "validate a configuration and print it resolved");
  check->add_option("config", config_path, "configuration file (TOML)");
  check->add_option("--set", overrides, "override a key: section.key=value (TOML value), repeatable");
  check->add_flag("--help-config", help_config, "list every key with its default and description");

  auto* info = app.add_subcommand("info", "describe a results file");
  info->add_option("file", info_path, "results file (HDF5)")->required();

  neurep::PlanOptions plan_options;
  auto* plan = app.add_subcommand("plan", "sizes, points, memory per rank and time of a sweep, and the Slurm options");
  plan->add_option("config", plan_options.config_path, "configuration file (TOML)")->required();
  plan->add_option("--set", overrides, "override a key: section.key=value (TOML value), repeatable");
  plan->add_option("--ranks", plan_options.ranks, "MPI ranks of each array task (default 1)");
  plan->add_option("--rate", plan_options.gflops,
                   "DGEMM GFLOP/s per rank, the other rates scaled with it (default: measured, a few seconds)");
  plan->add_option("--rates", plan_options.rates,
                   "all rates per rank, FLOPS,ELEMENTS,ENTRIES,SECONDS_PER_CALL,SECONDS_PER_HANDOVER,"
                   "SECONDS_PER_COMMIT,PRODUCTS,CACHED_ELEMENTS,SECONDS_PER_START (plan --json's \"rates\")");
  plan->add_flag("--json", plan_options.json, "print one JSON object");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return root ? app.exit(e) : 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return root ? app.exit(e) : 0;  // --help-all, --version
    if (root) fmt::print(stderr, "neurep: error: {} (see neurep --help)\n", e.what());
    return neurep::kExitBadInput;
  }

  try {
    if (*check) {
      if (help_config) {
        if (root) fmt::print("{}", neurep::config_reference());
        return neurep::kExitOk;
      }
      if (config_path.empty()) throw neurep::InputError("check: give a configuration file, or --help-config");
      const neurep::Config c = neurep::load_config(config_path, overrides);
      if (root)
        for (const auto& note : c.notes) fmt::print(stderr, "neurep: note: {}\n", note);
      if (root) fmt::print("# {}: valid\n{}", config_path, neurep::display_toml(c));
      return neurep::kExitOk;
    }
    if (*plan) {
      // A planning tool for a login node: all its work is on rank 0, alone.
      const neurep::Config c = neurep::load_config(plan_options.config_path, overrides);
      if (root) {
        for (const auto& note : c.notes) fmt::print(stderr, "neurep: note: {}\n", note);
        neurep::print_plan(c, plan_options);
      }
      return neurep::kExitOk;
    }
    if (*info) {
      if (root) print_info(neurep::read_results_serial(info_path), info_path);
      return neurep::kExitOk;
    }
    const neurep::Config c = neurep::load_config(config_path, overrides);
    if (root)
      for (const auto& note : c.notes) fmt::print(stderr, "neurep: note: {}\n", note);
    neurep::RunOptions opt;
    opt.output = output.empty() ? neurep::default_output(config_path) : output;
    opt.resume = resume;
    opt.overwrite = overwrite;
    opt.extend = extend;
    opt.progress = !quiet;
    opt.command_line = joined_command_line(argc, argv);
    neurep::test_stop_at("configured");
    return neurep::run_experiment(c, opt, world);
  } catch (const neurep::InputError& e) {
    // Every rank meets the same bad input; one message, exit 2 everywhere.
    if (root) fmt::print(stderr, "neurep: error: {}\n", e.what());
    return neurep::kExitBadInput;
  } catch (const neurep::CollectiveError& e) {
    // Every rank saw it at the same point (agreed before any collective went on).
    if (root) fmt::print(stderr, "neurep: error: {}\n", e.what());
    return neurep::kExitRuntime;
  } catch (const std::exception& e) {
    // A failure that may be local to this rank: report it and end all ranks.
    fmt::print(stderr, "neurep: rank {}: fatal: {}\n", world.rank(), e.what());
    if (world.size() > 1) env.abort(neurep::kExitRuntime);
    return neurep::kExitRuntime;
  }
}
