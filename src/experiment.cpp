#include "neurep/experiment.hpp"

#include <boost/mpi/collectives.hpp>
#include <fmt/core.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <set>
#include <tuple>

#include "neurep/data.hpp"
#include "neurep/empirical_ntk.hpp"
#include "neurep/errors.hpp"
#include "neurep/expression.hpp"
#include "neurep/grid.hpp"
#include "neurep/hdf5.hpp"
#include "neurep/kernel_regression.hpp"
#include "neurep/linalg.hpp"
#include "neurep/output.hpp"
#include "neurep/progress.hpp"
#include "neurep/provenance.hpp"
#include "neurep/representation.hpp"
#include "neurep/signals.hpp"
#include "neurep/taylor.hpp"
#include "neurep/threads.hpp"

namespace neurep {
namespace fs = std::filesystem;

std::string default_output(const std::string& config_path) {
  return fs::path(config_path).stem().string() + ".h5";
}

namespace {

using PointKey = std::tuple<int64_t, int64_t, int64_t, int64_t>;  // (d, n, seed, candidate)

// The network of a taylor learner, or the order-1 network whose empirical
// NTK a kernel learner uses (learner.width, learner.activation).
TaylorOptions network_options(const Config& c, int d) {
  LearnerConfig l = c.learner;
  if (l.kind == "kernel") l.order = "1", l.sign_randomization = false;
  TaylorOptions o = taylor_options(l, d, c.run.block);
  o.single_precision = l.kind == "taylor" && c.run.precision == "single";
  return o;
}

// Rejects what the code cannot run yet, with the key named (SPEC 5).
void check_supported(const Config& c) {
  if (c.learner.kind == "kernel" && c.learner.kernel == "empirical-ntk" && c.representation.kind != "none" &&
      c.representation.infinite)
    throw InputError("learner.kernel: \"empirical-ntk\" needs finite inputs; set representation.infinite = false or use ntk, ntk-full, nngp, linear");
  // run.precision = "single" is supported by every learner (taylor: float
  // products; kernel: float K, factorisation and predictions) and
  // representation (the zca product in float).
}

// Refuses, before allocating anything, a sweep whose largest point needs more
// memory per rank than this node has (SPEC 5). A model of the dominant arrays.
void check_memory(const Config& c, const boost::mpi::communicator& comm) {
  MPI_Comm shared;
  MPI_Comm_split_type(MPI_Comm(comm), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &shared);
  int ranks_here = 1;
  MPI_Comm_size(shared, &ranks_here);
  MPI_Comm_free(&shared);
  const double node_bytes = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  const double n = static_cast<double>(*std::max_element(c.sweep.n_train.begin(), c.sweep.n_train.end()));
  const double nt = static_cast<double>(c.data.n_test);
  // Bytes per entry of the learner's big matrices: K and K_test (kernel),
  // Z and the sigma terms (taylor) are float in single precision.
  const double learner_bytes = c.run.precision == "single" ? 4.0 : 8.0;
  double words = 0, m = 0;
  if (c.learner.kind == "kernel") {
    const bool eigen = c.learner.solver == "eigen" || c.learner.ridge_selection == "loo";
    // K; or for the eigendecomposition K, its eigenvectors and pdsyevd's
    // workspace (2 local n x n blocks: LWORK >= 1 + 6n + 2 np nq). The test
    // kernel (at most min(n_test, n) x n) only lives once K has been freed.
    words = n * n * (eigen ? 4.0 : 1.0) + std::min(nt, n) * n;
  } else {
    // Z_0 terms and Z for the training and test sets (taylor.hpp)
    for (int d : c.dims()) m = std::max(m, static_cast<double>(evaluate_size(c.learner.width, d, "learner.width")));
    words = 2.0 * (n + nt) * m;
  }
  words *= learner_bytes / 8.0;  // in 8-byte words from here on
  const auto& r = c.representation;
  if (r.kind == "random" && !r.infinite) {  // H_train, H_test next to the learner; before them the whitening
    double rep_words = 0, features = 0, worst_w = 0, worst_nu = 0;  // estimate: G_unl and its centred copy, Sigma, Z, Z s, S^{-1/2}
    for (int d : c.dims()) {
      const double w = static_cast<double>(evaluate_size(r.width, d, "representation.width"));
      const double nu_given = static_cast<double>(evaluate_size(r.n_unlabeled, d, "representation.n_unlabeled", 0));
      const double nu = nu_given > 0 ? nu_given : 4 * w;
      features = std::max(features, (n + nt) * w);
      if (r.whiten == "zca" && 2 * nu * w + 4 * w * w > rep_words)
        rep_words = 2 * nu * w + 4 * w * w, worst_w = w, worst_nu = nu;
    }
    words += features;
    const double available = node_bytes / ranks_here, need = 8.0 * rep_words / comm.size();
    if (need > 0.9 * available)
      throw InputError(fmt::format("representation.width: zca whitening of D = {:.0f} features on {:.0f} unlabelled inputs "
                                   "needs about {:.1f} GiB per rank, but this node has {:.1f} GiB for each of its {} "
                                   "ranks; use more ranks, a smaller width or n_unlabeled", worst_w, worst_nu,
                                   need / (1 << 30), available / (1 << 30), ranks_here));
  }
  // The inputs (n + n_test) x (d + 1), distributed, and the labels and targets, on every rank.
  const auto dims = c.dims();
  words += (n + nt) * (*std::max_element(dims.begin(), dims.end()) + 1);
  const double per_rank = 8.0 * (words / comm.size() + 2.0 * (n + nt));
  const double available = node_bytes / ranks_here;
  if (per_rank > 0.9 * available) {
    // Name the size that dominates: the training set, the test set or the network's width.
    const char* key = m > std::max(n, nt) ? "learner.width" : nt > n ? "data.n_test" : "sweep.n_train";
    throw InputError(fmt::format("{}: the largest point (n = {:.0f}, n_test = {:.0f}{}) needs about {:.1f} GiB of memory "
                                 "per rank, but this node has {:.1f} GiB for each of its {} ranks; use more ranks on "
                                 "more nodes or a smaller {}", key, n, nt, m > 0 ? fmt::format(", m = {:.0f}", m) : "",
                                 per_rank / (1 << 30), available / (1 << 30), ranks_here, key));
  }
}

// Decides on rank 0 whether the output may be written, so every rank agrees.
void check_output(const RunOptions& opt, const boost::mpi::communicator& comm) {
  std::string error;
  if (comm.rank() == 0) try {
    const fs::path dir = fs::absolute(opt.output).parent_path();
    const std::string name = fs::path(opt.output).filename().string();
    // FILE.prev, FILE.lock and FILE.data/ sit beside it: the longest suffix must fit.
    const long name_max = fs::is_directory(dir) ? ::pathconf(dir.c_str(), _PC_NAME_MAX) : 255;
    const bool exists = fs::exists(opt.output);
    if (opt.resume && opt.overwrite)
      error = "--resume and --overwrite exclude each other";
    else if (name.empty() || fs::is_directory(opt.output))
      error = fmt::format("{}: the output is a folder; give a file name (-o FOLDER/NAME.h5)", opt.output);
    else if (name_max > 0 && static_cast<long>(name.size() + std::string(".prev").size()) > name_max)
      error = fmt::format("{}: the output's file name has {} bytes; with \".prev\" added it must fit the file "
                          "system's limit of {} bytes", opt.output, name.size(), name_max);
    else if (exists && !opt.resume && !opt.overwrite)
      error = fmt::format("{}: the output exists; pass --resume to continue it or --overwrite to replace it", opt.output);
    else if (!fs::is_directory(dir))
      error = fmt::format("{}: the output folder {} does not exist", opt.output, dir.string());
  } catch (const fs::filesystem_error& e) {
    error = fmt::format("{}: unusable output path: {}", opt.output, e.code().message());
  }
  boost::mpi::broadcast(comm, error, 0);
  if (!error.empty()) throw InputError(error);
}

std::string learner_label(const Config& c) {
  if (c.learner.kind == "kernel") return "kernel:" + c.learner.kernel;
  return "taylor:order=" + c.learner.order;
}

// Expected cost of a point, for the ETA only.
double point_cost(const Config& c, int d, int64_t n) {
  if (c.learner.kind == "taylor") {  // 4 n m q a step, q ~ d for the ETA
    const double m = static_cast<double>(evaluate_size(c.learner.width, d, "learner.width"));
    return 4.0 * static_cast<double>(c.learner.steps) * static_cast<double>(n) * m * d;
  }
  return std::pow(static_cast<double>(n), 3) / 3.0 + 2.0 * static_cast<double>(n * c.data.n_test) * 64;
}

std::string data_file_name(const std::string& output, int d, int64_t seed) {
  return fmt::format("{}.data/d{}_seed{}.h5", fs::path(output).filename().string(), d, seed);
}

// Writes the inputs, labels and features of one (d, seed) to a file of its own
// (tmp + rename, so it is whole or absent). Collective.
void save_data(const std::string& output, int d, int64_t seed, const Dataset& data,
               const Representation& rep, int64_t n_max, int64_t n_test, const ProcessGrid& grid,
               int block) {
  const fs::path folder = fs::absolute(output).parent_path();
  const std::string rel = data_file_name(output, d, seed);
  const std::string path = (folder / rel).string();
  if (grid.rank() == 0) fs::create_directories(fs::path(path).parent_path());
  grid.comm().barrier();
  try {
    h5::File file = h5::File::create(path + ".tmp", grid.comm());
    {
    h5::Group root = file.root();
    root.set_attribute("d", int64_t(d));
    root.set_attribute("seed", seed);
    // h_train and h_test are the learner's inputs as computed: with "single"
    // the zca product ran in float (Whitening::apply), mu and S^{-1/2} are double.
    root.set_attribute("precision", std::string(rep.single_precision() ? "single" : "double"));
    DistMatrix<double> x(grid, n_max, d, block, block), xt(grid, n_test, d, block, block);
    data.fill_inputs(Split::Train, x);
    data.fill_inputs(Split::Test, xt);
    root.write_matrix("x_train", x);
    root.write_matrix("x_test", xt);
    root.write_column("y_train", data.labels(n_max));
    const std::vector<double> f = data.targets(Split::Test, n_test);
    root.write_column("f_test", f);
    root.write_column("y_test", data.test_labels(n_test));
    if (rep.width() > 0) {
      root.write_matrix("h_train", rep.inputs(Split::Train, n_max, false));
      root.write_matrix("h_test", rep.inputs(Split::Test, n_test, false));
      // The whitening is part of the representation: h = (g - mu) S^{-1/2} (zca), (g - mu)/sqrt(D) (center).
      if (const Whitening* w = rep.whitening(); w && !w->mean().empty()) root.write_column("mu", w->mean());
      if (const Whitening* w = rep.whitening(); w && w->matrix()) root.write_matrix("whitening", *w->matrix());
    }
    }
    file.close();  // a failure to flush (a full disk) shows here, on every rank
  } catch (const CollectiveError& e) {
    // Every rank is here; the partial file goes, and the message says how much room there was.
    std::string free;
    if (grid.rank() == 0) {
      ::unlink((path + ".tmp").c_str());
      std::error_code ec;
      const auto space = fs::space(folder, ec);
      if (!ec) free = fmt::format("; {:.1f} MiB free on its file system", static_cast<double>(space.available) / (1 << 20));
    }
    boost::mpi::broadcast(grid.comm(), free, 0);
    throw CollectiveError(fmt::format("cannot write the data file {} ({}){}", path, e.what(), free));
  }
  grid.comm().barrier();
  if (grid.rank() == 0) fs::rename(path + ".tmp", path);
  grid.comm().barrier();
}

PointKey point_key(const ResultRow& r) {
  const auto it = r.extra.find("candidate");
  return {r.d, r.n, r.seed, it == r.extra.end() || !std::isfinite(it->second) ? 0 : std::llround(it->second)};
}

// Among the candidate settings of (d, n, seed) trained so far, the one with
// the smallest validation error gets selected = 1, the others 0; a candidate
// without a finite validation error is never selected.
void mark_selected_candidate(std::vector<ResultRow>& rows, int64_t d, int64_t n, int64_t seed) {
  ResultRow* best = nullptr;
  for (auto& r : rows) {
    if (r.d != d || r.n != n || r.seed != seed) continue;
    r.extra["selected"] = 0.0;
    const auto it = r.extra.find("validation_error");
    if (it == r.extra.end() || !std::isfinite(it->second)) continue;
    if (!best || it->second < best->extra.at("validation_error")) best = &r;
  }
  if (best) best->extra["selected"] = 1.0;
}

// Thrown on every rank at once when a stop signal arrives inside a point,
// after the point's state has been committed.
struct Interrupted {};

// How a sweep point of an iterative learner saves its state (SPEC 3.2
// /checkpoint) and where an earlier run left it.
struct Checkpointing {
  std::string point;                    // the point's name, e.g. d16_n1024_s0
  const Checkpoint* resume = nullptr;   // the state an earlier run saved, if it is this point's
  ResultsFile* results = nullptr;       // commits the state
  int64_t every_steps = 0;
  double every_seconds = 0;
};

// The state of a trainer as a Checkpoint (pointing into `s`) and back.
Checkpoint pack_state(const std::string& point, const TrainerState& s, double seconds) {
  Checkpoint c;
  c.point = point;
  c.scalars = {{"step", double(s.step)}, {"best_evaluation", double(s.best_evaluation)},
               {"evaluations_since_best", double(s.evaluations_since_best)}, {"finished", double(s.finished)},
               {"diverged", double(s.diverged)}, {"stopped_early", double(s.stopped_early)},
               {"seconds", seconds}, {"flops", s.flops}};
  const TrainingCurve& k = s.curve;
  c.vectors = {{"curve_step", k.step}, {"curve_train_loss", k.train_loss}, {"curve_train_error", k.train_error},
               {"curve_validation_error", k.validation_error}, {"curve_test_error", k.test_error},
               {"curve_weight_norm", k.weight_norm}};
  c.matrices = {{"w", &s.w}, {"velocity", &s.velocity}, {"best_w", &s.best_w}};
  return c;
}

void restore_state(const Checkpoint& c, const std::string& path, TrainerState& s) {
  auto num = [&](const char* k) { return c.scalars.at(k); };
  s.step = static_cast<int64_t>(num("step"));
  s.best_evaluation = static_cast<int64_t>(num("best_evaluation"));
  s.evaluations_since_best = static_cast<int64_t>(num("evaluations_since_best"));
  s.finished = num("finished") != 0, s.diverged = num("diverged") != 0, s.stopped_early = num("stopped_early") != 0;
  s.seconds = num("seconds"), s.flops = num("flops");
  TrainingCurve& k = s.curve;
  k.step = c.vectors.at("curve_step"), k.train_loss = c.vectors.at("curve_train_loss");
  k.train_error = c.vectors.at("curve_train_error"), k.validation_error = c.vectors.at("curve_validation_error");
  k.test_error = c.vectors.at("curve_test_error"), k.weight_norm = c.vectors.at("curve_weight_norm");
  read_checkpoint_matrix(path, "w", s.w);
  read_checkpoint_matrix(path, "velocity", s.velocity);
  read_checkpoint_matrix(path, "best_w", s.best_w);
}

// Gradient descent on one point, checkpointed every `every_steps` steps or
// `every_seconds`, and stopped cleanly on a signal. Collective.
FitResult fit_taylor(const LearnerData& data, const TaylorOptions& options, const RandomStreams& streams,
                     const ProcessGrid& grid, TrainingCurve& curve, const Checkpointing& ck) {
  TaylorTrainer trainer(data, options, streams, grid);
  TrainerState state = trainer.initial_state();
  if (ck.resume) restore_state(*ck.resume, ck.results->path(), state);
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto last = start;
  const double seconds_before = state.seconds;
  trainer.run(state, [&](const TrainerState& s) {
    const auto now = clock::now();
    const bool due = (ck.every_steps > 0 && s.step % ck.every_steps == 0) ||
                     (ck.every_seconds > 0 && std::chrono::duration<double>(now - last).count() >= ck.every_seconds);
    const SafePoint sp = safe_point(grid.comm(), due);
    if (!sp.stop && !sp.checkpoint) return;
    ck.results->set_checkpoint(pack_state(ck.point, s, seconds_before + std::chrono::duration<double>(now - start).count()));
    ck.results->commit(sp.stop ? "interrupted" : "running");
    ck.results->clear_checkpoint();
    last = clock::now();
    if (sp.stop) throw Interrupted{};
  });
  curve = state.curve;
  return trainer.result(state);
}

// The learner's rows for one sweep point; an iterative learner's training
// curve into `curve`. Collective.
std::vector<FitResult> fit_point(const Config& config, const Dataset& data, const Representation& rep,
                                 const DistMatrix<double>& u_train,
                                 const std::vector<double>& y, const DistMatrix<double>& u_test,
                                 const std::vector<double>& f_test, const ProcessGrid& grid,
                                 const RandomStreams& streams, TrainingCurve& curve, const Checkpointing& ck) {
  if (config.learner.kind == "taylor")
    return {fit_taylor({u_train, y, u_test, f_test, data.target_variance()}, network_options(config, data.dim()),
                       streams, grid, curve, ck)};
  // Kernel regression on (u_fit, y_fit), scored against f_eval at u_eval.
  const auto fit_kernel = [&](const DistMatrix<double>& u_fit, const std::vector<double>& y_fit,
                              const DistMatrix<double>& u_eval, const std::vector<double>& f_eval) {
    KernelRegressionOptions kopt;
    kopt.kernel = parse_kernel(config.learner.kernel);
    kopt.ridges = config.learner.ridge;
    kopt.solver = parse_solver(config.learner.solver);
    kopt.leave_one_out = config.learner.ridge_selection == "loo";
    kopt.block = config.run.block;
    kopt.single_precision = config.run.precision == "single";
    const double variance = data.target_variance();
    if (kopt.kernel == KernelKind::EmpiricalNtk) {  // W_0 of the order-1 network with learner.width, activation
      const TaylorModel model(network_options(config, data.dim()), u_fit.cols(), streams, grid);
      kopt.kernel = KernelKind::Linear;  // the Gram already is the whole kernel
      auto rows = kernel_regression(EmpiricalNtkGram(model, u_fit, u_eval), y_fit, f_eval, variance, kopt, grid);
      for (auto& r : rows) r.extra["m"] = static_cast<double>(model.width());
      return rows;
    }
    if (const InfiniteKernel* k = rep.infinite_kernel())  // u = raw x, mapped through the closed-form K_h
      return kernel_regression(InfiniteGram(*k, u_fit, u_eval), y_fit, f_eval, variance, kopt, grid);
    return kernel_regression(FeatureGram(u_fit, u_eval), y_fit, f_eval, variance, kopt, grid);
  };
  std::vector<FitResult> rows = fit_kernel(u_train, y, u_test, f_test);
  if (config.learner.ridge_selection == "validation") {
    // Every ridge refitted on the first n - v training points and scored on
    // the last v; the test errors stay those of the fits on all n.
    const int64_t n = u_train.rows(), v = validation_size(config.learner.validation_fraction, n);
    const std::vector<double> y_fit(y.begin(), y.end() - v), y_val(y.end() - v, y.end());
    const auto val = fit_kernel(linalg::copy_rows(u_train, 0, n - v), y_fit, linalg::copy_rows(u_train, n - v, v), y_val);
    for (size_t l = 0; l < rows.size(); ++l) {
      rows[l].extra["validation_error"] = val[l].test_error;
      rows[l].seconds += val[l].seconds;
      rows[l].flops += val[l].flops;
    }
  }
  return rows;
}

}  // namespace

int run_experiment(const Config& config, const RunOptions& opt, const boost::mpi::communicator& comm) {
  check_supported(config);
  check_memory(config, comm);
  check_output(opt, comm);
  // Held to the end: no other run may commit to this output meanwhile (nor
  // between the --resume read of /checkpoint below and its matrices). Once
  // it is ours, the output is checked again: a run we waited for may have
  // created it.
  const OutputLock lock(opt.output, comm);
  check_output(opt, comm);
  ProcessGrid grid(comm, parse_grid_shape(config.run.grid, comm.size(),
                                          config.learner.kind == "taylor" ? GridWork::Tall : GridWork::Square));

  // --resume: the earlier file must come from the same configuration.
  ResultsContents earlier;
  bool have_earlier = false;
  if (opt.resume && fs::exists(opt.output)) {  // every rank sees the same file system here
    earlier = read_results(opt.output, comm);
    const Config stored = parse_config(earlier.config_toml, {}, opt.output + ":/config");
    if (stored.science_toml != config.science_toml)
      throw InputError(fmt::format("{}: --resume with a different configuration than the one that wrote it; "
                                   "use --overwrite or another -o", opt.output));
    have_earlier = true;
  }

  Provenance prov = collect_provenance();
  prov.command_line = opt.command_line;
  prov.mpi_ranks = comm.size();
  prov.threads_per_rank = balance_threads(comm);
  prov.grid = grid.shape_string();
  const bool root = comm.rank() == 0;
  if (root && opt.progress) {
    const std::string w = blas_kernel_warning(prov);
    if (!w.empty()) fmt::print(stderr, "{}\n", w);
  }

  const std::vector<LearnerConfig> candidates = learner_candidates(config.learner);
  const int64_t nc = static_cast<int64_t>(candidates.size());
  std::set<PointKey> done;
  if (have_earlier)
    for (const auto& r : earlier.rows) done.insert(point_key(r));

  const auto dims = config.dims();
  double total_cost = 0;
  int64_t remaining = 0;
  for (int d : dims)
    for (int64_t seed : config.sweep.seeds)
      for (int64_t n : config.sweep.n_train)
        for (int64_t c = 0; c < nc; ++c)
          if (!done.count({d, n, seed, c})) total_cost += point_cost(config, d, n), ++remaining;
  if (have_earlier && earlier.status == "complete" && remaining == 0) {
    // Nothing left: the file, and the provenance of the binary that wrote it, stay as they are.
    if (root && opt.progress) fmt::print(stderr, "{}: complete, nothing to resume\n", opt.output);
    return kExitOk;
  }
  Progress progress(root && opt.progress, total_cost);

  std::unique_ptr<ResultsFile> results;
  const int64_t n_max = *std::max_element(config.sweep.n_train.begin(), config.sweep.n_train.end());
  const int block = config.run.block;
  const std::string learner = learner_label(config);
  const size_t total_points = dims.size() * config.sweep.seeds.size() * config.sweep.n_train.size() * candidates.size();

  for (int d : dims) {
    for (int64_t seed : config.sweep.seeds) {
      bool todo = false;
      for (int64_t n : config.sweep.n_train)
        for (int64_t c = 0; c < nc; ++c) todo = todo || !done.count({d, n, seed, c});
      const RandomStreams streams(static_cast<uint64_t>(config.run.seed), static_cast<uint64_t>(seed));
      const Dataset data(config.data, d, streams);
      if (!results) {
        results = std::make_unique<ResultsFile>(opt.output, grid, config, prov, data.normalization_note());
        if (have_earlier) results->restore(earlier);
      }
      if (config.run.save_data)
        results->add_data_link(fmt::format("d{}_seed{}", d, seed), data_file_name(opt.output, d, seed));
      if (!todo) continue;

      const Representation rep(config.representation, data, streams, grid, block, config.run.precision == "single");
      if (config.run.save_data) {
        const fs::path full = fs::absolute(opt.output).parent_path() / data_file_name(opt.output, d, seed);
        bool exists = root && fs::exists(full);
        boost::mpi::broadcast(comm, exists, 0);
        if (!exists) save_data(opt.output, d, seed, data, rep, n_max, config.data.n_test, grid, block);
      }
      const bool bias = config.learner.input_bias;
      const DistMatrix<double> u_test = rep.inputs(Split::Test, config.data.n_test, bias);
      const std::vector<double> f_test = data.targets(Split::Test, config.data.n_test);

      for (int64_t n : config.sweep.n_train) {
        bool n_todo = false;
        for (int64_t c = 0; c < nc; ++c) n_todo = n_todo || !done.count({d, n, seed, c});
        if (!n_todo) continue;
        const DistMatrix<double> u_train = rep.inputs(Split::Train, n, bias);
        const std::vector<double> y = data.labels(n);

        for (int64_t c = 0; c < nc; ++c) {
          if (done.count({d, n, seed, c})) continue;
          Config point_config = config;
          point_config.learner = candidates[c];
          TrainingCurve curve;
          Checkpointing ck;
          ck.point = nc > 1 ? fmt::format("d{}_n{}_s{}_c{}", d, n, seed, c) : fmt::format("d{}_n{}_s{}", d, n, seed);
          ck.results = results.get();
          ck.every_steps = config.run.checkpoint_every;
          ck.every_seconds = config.run.checkpoint_seconds;
          if (have_earlier && earlier.checkpoint.point == ck.point) ck.resume = &earlier.checkpoint;
          std::vector<FitResult> fits;
          try {
            fits = fit_point(point_config, data, rep, u_train, y, u_test, f_test, grid, streams, curve, ck);
          } catch (const Interrupted&) {
            if (root) fmt::print(stderr, "stopped by a signal inside point {} ({} of {} points done); rerun with --resume to continue\n",
                                 ck.point, done.size(), total_points);
            return kExitInterrupted;
          }
          if (!curve.step.empty())
            results->add_curve({ck.point, d, n, seed, learner, rep.label(), curve.step, curve.train_loss,
                                curve.train_error, curve.validation_error, curve.test_error, curve.weight_norm});
          for (const auto& f : fits) {
            ResultRow row;
            row.d = d, row.n = n, row.seed = seed, row.ridge = f.ridge;
            row.learner = learner, row.input = rep.label(), row.width = rep.width();
            row.test_error = f.test_error, row.train_error = f.train_error;
            row.seconds = f.seconds, row.flops = f.flops, row.status = f.status;
            if (row.status == "ok" && !std::isfinite(row.test_error)) row.status = "non-finite";  // never NaN with ok
            row.extra = f.extra;
            row.extra["target_mean"] = data.raw_mean();
            row.extra["target_sd"] = data.raw_sd();
            if (nc > 1) row.extra["candidate"] = static_cast<double>(c);
            results->add_row(row);
          }
          done.insert({d, n, seed, c});
          if (nc > 1 || config.learner.ridge_selection == "validation")
            mark_selected_candidate(results->mutable_rows(), d, n, seed);
          std::string summary;  // this point's test errors, the selected one marked *
          const auto& all_rows = results->mutable_rows();
          for (auto r = all_rows.end() - static_cast<std::ptrdiff_t>(fits.size()); r != all_rows.end(); ++r) {
            const auto sel = r->extra.find("selected");
            summary += fmt::format(" {:.4g}{}{}", r->test_error, sel != r->extra.end() && sel->second == 1.0 ? "*" : "",
                                   r->status == "ok" ? "" : "(" + r->status + ")");
          }
          results->commit("running");
          progress.point_done(point_cost(config, d, n),
                              fmt::format("[{}/{}] {} {} on {}: test error{} ({:.2f} s)", done.size(), total_points,
                                          ck.point, learner, rep.label(), summary, fits.front().seconds));
          if (safe_point(comm, false).stop) {
            results->commit("interrupted");
            if (root) fmt::print(stderr, "stopped by a signal after {} of {} points; rerun with --resume to continue\n",
                                 done.size(), total_points);
            return kExitInterrupted;
          }
        }
      }
    }
  }
  results->commit("complete");
  return kExitOk;
}

}  // namespace neurep
