#include "neurep/experiment.hpp"

#include <boost/mpi/collectives.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "neurep/data.hpp"
#include "neurep/errors.hpp"
#include "neurep/extension.hpp"
#include "neurep/grid.hpp"
#include "neurep/hdf5.hpp"
#include "neurep/output.hpp"
#include "neurep/agreement.hpp"
#include "neurep/progress.hpp"
#include "neurep/provenance.hpp"
#include "neurep/representation.hpp"
#include "neurep/search.hpp"
#include "neurep/signals.hpp"
#include "neurep/sweep.hpp"
#include "neurep/threads.hpp"

namespace neurep {
namespace fs = std::filesystem;

std::string default_output(const std::string& config_path) {
  return fs::path(config_path).stem().string() + ".h5";
}

namespace {

using PointKey = SweepPlan::PointKey;

// Decides on rank 0 whether the output may be written, so every rank agrees.
void check_output(const RunOptions& opt, const boost::mpi::communicator& comm) {
  std::string error;
  if (comm.rank() == 0) {
    try {
      const fs::path dir = fs::absolute(opt.output).parent_path();
      const std::string name = fs::path(opt.output).filename().string();
      // FILE.prev, FILE.lock and FILE.data/ sit beside it: the longest suffix must fit.
      const long name_max = fs::is_directory(dir) ? ::pathconf(dir.c_str(), _PC_NAME_MAX) : 255;
      const bool exists = fs::exists(opt.output);
      if ((opt.resume || opt.extend) && opt.overwrite)
        error = fmt::format("--{} and --overwrite exclude each other", opt.extend ? "extend" : "resume");
      else if (name.empty() || fs::is_directory(opt.output))
        error = fmt::format("{}: the output is a folder; give a file name (-o FOLDER/NAME.h5)", opt.output);
      else if (name_max > 0 && static_cast<long>(name.size() + std::string(".prev").size()) > name_max)
        error = fmt::format(
            "{}: the output's file name has {} bytes; with \".prev\" added it must fit the file "
            "system's limit of {} bytes",
            opt.output, name.size(), name_max);
      else if (opt.extend && !exists)
        error = fmt::format("{}: --extend needs the results file to extend, and there is none; run without --extend "
                            "to start it", opt.output);
      else if (exists && !opt.resume && !opt.extend && !opt.overwrite)
        error =
            fmt::format("{}: the output exists; pass --resume to continue it or --overwrite to replace it", opt.output);
      else if (!fs::is_directory(dir))
        error = fmt::format("{}: the output folder {} does not exist", opt.output, dir.string());
    } catch (const fs::filesystem_error& e) {
      error = fmt::format("{}: unusable output path: {}", opt.output, e.code().message());
    }
  }
  boost::mpi::broadcast(comm, error, 0);
  if (!error.empty()) throw InputError(error);
}

// Does the data file at `path` exist with the n_max training points of this sweep? (Rank 0.)
bool data_file_holds(const std::string& path, int64_t n_max) {
  if (!fs::exists(path)) return false;
  try {
    std::vector<double> y;
    std::vector<std::string> unused;
    h5::File::open_serial(path).root().read_column("y_train", y, unused);
    return static_cast<int64_t>(y.size()) == n_max;
  } catch (const std::exception&) {
    return false;  // unreadable: written again
  }
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
      if (!ec)
        free = fmt::format("; {:.1f} MiB free on its file system", static_cast<double>(space.available) / (1 << 20));
    }
    boost::mpi::broadcast(grid.comm(), free, 0);
    throw CollectiveError(fmt::format("cannot write the data file {} ({}){}", path, e.what(), free));
  }
  grid.comm().barrier();
  if (grid.rank() == 0) fs::rename(path + ".tmp", path);
  grid.comm().barrier();
}

// Among the rows of (d, n, seed) so far (candidates, or a kernel's ridges),
// the one with the smallest finite validation error gets selected = 1, the
// others 0 (smallest_finite: a NaN is never selected). A refit row, once
// there, stands for the candidate it refitted and is the selected one.
void mark_selected(std::vector<ResultRow>& rows, int64_t d, int64_t n, int64_t seed) {
  std::vector<ResultRow*> group;
  std::vector<double> errors;
  ResultRow* refit = nullptr;
  for (auto& r : rows) {
    if (r.d != d || r.n != n || r.seed != seed) continue;
    r.extra["selected"] = 0.0;
    if (is_refit(r)) {
      refit = &r;
      continue;
    }
    const auto it = r.extra.find("validation_error");
    group.push_back(&r);
    errors.push_back(it == r.extra.end() ? std::nan("") : it->second);
  }
  const int64_t best = smallest_finite(errors);
  if (refit)
    refit->extra["selected"] = 1.0;
  else if (best >= 0)
    group[static_cast<size_t>(best)]->extra["selected"] = 1.0;
}

// learner.refit: the candidate that the validation split chose for (d, n,
// seed) among `rows`, trained again on all n points for the number of steps
// it chose (Learner::refit); its row has refit = 1, the chosen candidate and
// its validation error, and the fit's test error. Without a choice (no
// candidate has a finite validation error) a row of status "no-choice". The
// choice is rank 0's, broadcast. Collective; may throw Interrupted.
PointOutputs refit_point(const Learners& learners, const std::vector<ResultRow>& rows, int64_t d, int64_t n,
                         int64_t seed, const PointInputs& inputs, PointCheckpoints& checkpoints) {
  // candidate, best step, validation error, whether its optimisation did not converge
  double choice[4] = {-1, 0, std::nan(""), 0};
  for (const auto& r : rows)
    if (r.d == d && r.n == n && r.seed == seed && !is_refit(r) && r.extra.count("selected") &&
        r.extra.at("selected") == 1.0) {
      const auto c = r.extra.find("candidate");
      choice[0] = c == r.extra.end() ? 0.0 : c->second;
      choice[1] = r.extra.at("best_step"), choice[2] = r.extra.at("validation_error");
      choice[3] = r.status == "not-converged" ? 1.0 : 0.0;
    }
  boost::mpi::broadcast(inputs.grid.comm(), choice, 4, 0);
  const std::unique_ptr<Learner> refit =
      choice[0] < 0 ? nullptr : learners[static_cast<size_t>(choice[0])]->refit(std::llround(choice[1]));
  PointOutputs out;
  if (refit) {
    out = refit->fit(inputs, checkpoints);
  } else {
    out.rows.resize(1);
    out.rows[0].status = "no-choice";
  }
  FitResult& fit = out.rows.front();
  // learner.require_converged: the refit has no split to judge on; it trains the chosen candidate for the
  // chosen steps, so the candidate's verdict is its own.
  if (choice[3] == 1.0 && fit.status == "ok") fit.status = "not-converged";
  fit.extra["refit"] = 1.0;
  fit.extra["validation_error"] = choice[2];
  if (learners.size() > 1) fit.extra["candidate"] = choice[0] < 0 ? std::nan("") : choice[0];
  return out;
}

// Checkpoints of the point in progress, committed to the results file every
// `every_steps` steps or `every_seconds`, and a clean stop on a signal.
class ResultsCheckpoints : public PointCheckpoints {
 public:
  ResultsCheckpoints(std::string point, const Checkpoint* earlier, ResultsFile& results, const ProcessGrid& grid,
                     const RunConfig& run, Progress& progress)
      : point_(std::move(point)), earlier_(earlier), results_(results), grid_(grid), progress_(progress),
        every_steps_(run.checkpoint_every),
        every_seconds_(run.checkpoint_seconds), last_(std::chrono::steady_clock::now()) {}

  const Checkpoint* earlier() const override { return earlier_; }
  void load_matrix(const std::string& name, DistMatrix<double>& a) const override {
    read_checkpoint_matrix(results_.path(), name, a);
  }
  void after_step(int64_t step, const std::function<Checkpoint()>& save) override {
    const auto now = std::chrono::steady_clock::now();
    const bool due = (every_steps_ > 0 && step % every_steps_ == 0) ||
                     (every_seconds_ > 0 && std::chrono::duration<double>(now - last_).count() >= every_seconds_);
    const SafePoint sp = safe_point(grid_.comm(), due);
    if (!sp.stop && !sp.checkpoint) return;
    Checkpoint c = save();
    c.point = point_;
    results_.set_checkpoint(std::move(c));
    results_.commit(sp.stop ? "interrupted" : "running");
    results_.clear_checkpoint();
    progress_.checkpoint(point_, step, sp.stop);
    if (sp.stop) throw Interrupted{};
    if (grid_.comm().rank() == 0) test_wait_after("checkpoint");
    last_ = std::chrono::steady_clock::now();
  }

 private:
  std::string point_;
  const Checkpoint* earlier_;
  ResultsFile& results_;
  const ProcessGrid& grid_;
  Progress& progress_;
  int64_t every_steps_;
  double every_seconds_;
  std::chrono::steady_clock::time_point last_;
};

// The points of the search at (d, seed) so far, from the rows in the file: every n
// whose candidates are all done, with the test error of the row its run selected
// (its only row, else the one with selected = 1; none, or a diverged fit: +inf).
// The search decides where to put the next n on these test errors; which row a
// point reports is decided on the validation split, as in a grid (mark_selected).
std::vector<SearchPoint> search_points(const std::vector<ResultRow>& rows, int d, int64_t seed,
                                       const SweepPlan& plan) {
  std::map<int64_t, std::vector<const ResultRow*>> by_n;
  for (const auto& r : rows)
    if (r.d == d && r.seed == seed) by_n[r.n].push_back(&r);
  std::vector<SearchPoint> out;
  for (const auto& [n, group] : by_n) {
    if (plan.pending(d, seed, n)) continue;  // a candidate still to run
    const ResultRow* chosen = group.size() == 1 ? group.front() : nullptr;
    for (const ResultRow* r : group)
      if (const auto it = r->extra.find("selected"); it != r->extra.end() && it->second == 1.0) chosen = r;
    const double inf = std::numeric_limits<double>::infinity();
    out.push_back({n, chosen && chosen->status != "diverged" ? chosen->test_error : inf});
  }
  return out;
}

// The rows of one fitted point, with the columns the driver adds.
ResultRow make_row(const FitResult& f, int d, int64_t n, int64_t seed, const std::string& learner,
                   const Representation& rep, const Dataset& data) {
  ResultRow row;
  row.d = d, row.n = n, row.seed = seed, row.ridge = f.ridge;
  row.learner = learner, row.input = rep.label(), row.width = rep.width();
  row.test_error = f.test_error, row.train_error = f.train_error;
  row.seconds = f.seconds, row.flops = f.flops, row.status = f.status;
  if (row.status == "ok" && !std::isfinite(row.test_error)) row.status = "non-finite";  // never NaN with ok
  row.extra = f.extra;
  row.extra["target_mean"] = data.raw_mean();
  row.extra["target_sd"] = data.raw_sd();
  return row;
}

// This point's test errors for the progress line, the selected one marked *;
// several rows (a kernel's ridges) each labelled with its ridge.
std::string summary(const std::vector<ResultRow>& rows) {
  std::string out;
  for (const auto& r : rows) {
    const auto sel = r.extra.find("selected");
    out += fmt::format(" {}{:.4g}{}{}", rows.size() > 1 ? fmt::format("ridge={:g}: ", r.ridge) : "", r.test_error,
                       sel != r.extra.end() && sel->second == 1.0 ? "*" : "",
                       r.status == "ok" ? "" : "(" + r.status + ")");
  }
  return out;
}

// A Taylor candidate's settings for the progress lines (" m=16 learning_rate=0.05", and its
// regularizer when that has several values); " refit" for the refit; "" without candidates.
std::string candidate_setting(const Config& config, int64_t c, int d) {
  const TaylorLearnerConfig* all = config.learner.taylor();
  if (!all || c < 0) return c == SweepPlan::kRefit ? " refit" : "";
  const std::vector<LearnerConfig> candidates = learner_candidates(config.learner);
  if (candidates.size() < 2) return "";
  const TaylorLearnerConfig& t = *candidates[static_cast<size_t>(c)].taylor();
  std::string out = fmt::format(" m={} learning_rate={:g}", t.network.widths.front().at(d), t.learning_rates.front());
  if (all->regularizers.size() > 1) out += fmt::format(" regularizer={:g}", t.regularizers.front());
  return out;
}

}  // namespace

int run_experiment(const Config& config, const RunOptions& opt, const boost::mpi::communicator& comm) {
  // Resources, before anything is written.
  const Learners learners = make_learners(config);
  const Learner& first = *learners.front();
  check_resources(config, learners, comm);
  check_output(opt, comm);
  // Held to the end: no other run may commit to this output meanwhile (nor
  // between the --resume read of /checkpoint below and its matrices). Once
  // it is ours, the output is checked again: a run we waited for may have
  // created it.
  const OutputLock lock(opt.output, comm);
  check_output(opt, comm);
  ProcessGrid grid(comm, grid_shape(config.run.grid, comm.size(), first.grid_work()));

  // --resume: the earlier file must come from the same configuration;
  // --extend: from one the configuration extends (extension.hpp).
  ResultsContents earlier;
  bool have_earlier = false;
  std::string extension;  // what --extend adds, for the file's history
  if ((opt.resume || opt.extend) && fs::exists(opt.output)) {  // every rank sees the same file system here
    earlier = read_results(opt.output, comm);
    const Config stored = parse_config(earlier.config_toml, {}, opt.output + ":/config", /*stored=*/true);
    if (opt.extend)
      extension = extend_results(earlier, stored, config, opt.output);
    else if (stored.science_toml != config.science_toml)
      throw InputError(fmt::format("{}: --resume with a different configuration than the one that wrote it ({}); "
                                   "use --overwrite or another -o", opt.output,
                                   fmt::join(config_differences(stored, config), "; ")));
    have_earlier = true;
  }

  Provenance prov = collect_provenance();
  prov.command_line = opt.command_line;
  prov.mpi_ranks = comm.size();
  prov.threads_per_rank = balance_threads(comm);
  prov.grid = grid.shape_string();
  if (have_earlier) {  // the sweep's generations: created, then each extension
    prov.history = earlier.attributes["history"];
    if (!extension.empty()) {
      if (prov.history.empty())
        prov.history = fmt::format("{} created by: {}\n", earlier.attributes["created"], earlier.attributes["command_line"]);
      prov.history += fmt::format("{} extended by: {}: {}\n", prov.created, opt.command_line, extension);
    }
  }
  const bool root = comm.rank() == 0;
  if (root && opt.progress) {
    const std::string w = blas_kernel_warning(prov);
    if (!w.empty()) fmt::print(stderr, "{}\n", w);
  }

  // Plan: every point, those an earlier run finished, the cost of the rest.
  std::set<PointKey> done;
  if (have_earlier)
    for (const auto& r : earlier.rows) done.insert(point_key(r));
  SweepPlan plan(config, learners, std::move(done));
  if (have_earlier && opt.extend && earlier.checkpoint.point != first_pending_point(config, plan))
    earlier.checkpoint = Checkpoint{};  // another point runs first (--extend): it starts again
  const bool searches = config.sweep.searches();
  bool finished = plan.finished();
  if (searches) {  // every (d, seed) search over: decided from the rows alone
    finished = true;
    for (int d : config.dims())
      for (int64_t seed : config.sweep.seeds)
        finished = finished && next_search_step(config.sweep.search, d, search_points(earlier.rows, d, seed, plan)).done;
  }
  if (have_earlier && earlier.status == "complete" && finished) {
    // Nothing left: the file, and the provenance of the binary that wrote it, stay as they are.
    if (root && opt.progress)
      fmt::print(stderr, "{}: complete, {}\n", opt.output,
                 opt.extend ? "and the configuration adds nothing to its sweep: nothing to do" : "nothing to resume");
    return kExitOk;
  }
  Progress progress(root && opt.progress, config.run.log, opt.resume || opt.extend, plan.remaining_cost(), comm);
  SearchWork search_work;  // the ETA of the searches: their bounds, scaled by what finished ones spent
  if (searches)
    for (int d : config.dims())
      for (int64_t seed : config.sweep.seeds) search_work.add(d, seed, plan.search_bound(d, seed));
  progress.run_started(opt.output, have_earlier, plan.done(), plan.total());

  // Run.
  std::unique_ptr<ResultsFile> results;
  const int64_t n_max = *std::max_element(config.sweep.n_train.begin(), config.sweep.n_train.end());
  const int block = config.run.block;
  const std::string learner = first.label();
  const int64_t nc = plan.candidates();
  const bool refits = plan.points().back() == SweepPlan::kRefit;  // learner.refit
  std::vector<ComplexityRow> complexity;  // the searches finished so far (sweep.target_error)

  for (int d : config.dims()) {
    for (int64_t seed : config.sweep.seeds) {
      const RandomStreams streams(static_cast<uint64_t>(config.run.seed), static_cast<uint64_t>(seed));
      const Dataset data(config.data, d, streams);
      if (!results) {
        results = std::make_unique<ResultsFile>(opt.output, grid, config, prov, data.normalization_note());
        if (have_earlier) results->restore(earlier);
      }
      if (config.run.save_data)
        results->add_data_link(fmt::format("d{}_seed{}", d, seed), data_file_name(opt.output, d, seed));
      // The next n to compute at (d, seed), 0 when there is none: on a grid the
      // first with a point still to run; in a search the search's decision on
      // the rows so far (rank 0's, which every rank holds after a commit),
      // recording its result in /complexity when it is over.
      auto next_n = [&]() -> int64_t {
        if (!searches) {
          for (int64_t n : config.sweep.n_train)
            if (plan.pending(d, seed, n)) return n;
          return 0;
        }
        const SearchStep step = next_search_step(config.sweep.search, d, search_points(results->rows(), d, seed, plan));
        const int64_t n = from_rank0(comm, step.done ? int64_t(0) : step.next_n);
        if (n == 0) {
          for (ComplexityRow r : step.results) {
            r.d = d, r.seed = seed, r.learner = learner;
            for (const auto& row : results->rows())
              if (row.d == d && row.seed == seed) r.input = row.input;
            complexity.push_back(std::move(r));
          }
          results->set_complexity(complexity);
          search_work.finished(d, seed);  // the ETA: what the search did not need, and what the others will not
          progress.expect_total(search_work.expected_total());
        }
        return n;
      };
      int64_t next = next_n();
      if (next == 0) continue;

      const Representation rep(config.representation, data, streams, grid, block, config.run.precision == Precision::Single);
      if (config.run.save_data) {
        const fs::path full = fs::absolute(opt.output).parent_path() / data_file_name(opt.output, d, seed);
        // One of a sweep with another largest n (before --extend) is written again.
        bool exists = root && data_file_holds(full.string(), n_max);
        boost::mpi::broadcast(comm, exists, 0);
        if (!exists) save_data(opt.output, d, seed, data, rep, n_max, config.data.n_test, grid, block);
      }
      // The input as the progress lines show it: D as its value (the label has its expression).
      const std::string shown = rep.width() > 0 ? fmt::format("{} (D={})", rep.label(), rep.width()) : rep.label();
      const bool bias = config.learner.input_bias;
      const DistMatrix<double> u_test = rep.inputs(Split::Test, config.data.n_test, bias);
      const std::vector<double> f_test = data.targets(Split::Test, config.data.n_test);

      for (int64_t n = next; n != 0; n = next_n()) {
        const DistMatrix<double> u_train = rep.inputs(Split::Train, n, bias);
        const std::vector<double> y = data.labels(n);
        const PointInputs inputs{{u_train, y, u_test, f_test, data.target_variance()}, d, streams, grid,
                                 rep.infinite_kernel()};

        for (int64_t c : plan.points()) {
          if (!plan.pending(d, seed, n, c)) continue;
          const bool is_refit_point = c == SweepPlan::kRefit;
          const std::string point = plan.point_name(d, n, seed, c);
          ResultsCheckpoints checkpoints(point, have_earlier && earlier.checkpoint.point == point ? &earlier.checkpoint : nullptr,
                                         *results, grid, config.run, progress);
          PointInputs point_inputs = inputs;
          point_inputs.on_evaluation = [&](const Evaluation& e) { progress.evaluation(point, e); };
          progress.point_started(point, fmt::format("{}{} on {}", learner, candidate_setting(config, c, d), shown));
          PointOutputs out;
          try {
            out = is_refit_point ? refit_point(learners, results->rows(), d, n, seed, point_inputs, checkpoints)
                                 : learners[static_cast<size_t>(c)]->fit(point_inputs, checkpoints);
          } catch (const Interrupted&) {
            if (root) fmt::print(stderr, "stopped by a signal inside point {} ({} of {} points done); rerun with --resume to continue\n",
                                 point, plan.done(), plan.total());
            progress.run_finished("interrupted", plan.done(), plan.total());
            return kExitInterrupted;
          }
          if (!out.curve.step.empty()) {
            Curve curve;
            static_cast<TrainingCurve&>(curve) = std::move(out.curve);
            curve.name = point, curve.d = d, curve.n = n, curve.seed = seed, curve.learner = learner, curve.input = rep.label();
            results->add_curve(std::move(curve));
          }
          for (const auto& f : out.rows) {
            ResultRow row = make_row(f, d, n, seed, learner, rep, data);
            if (nc > 1 && !is_refit_point) row.extra["candidate"] = static_cast<double>(c);
            if (refits) row.extra.emplace("refit", 0.0);
            results->add_row(std::move(row));
          }
          plan.mark_done(d, seed, n, c);
          if (nc > 1 || first.selects_rows()) mark_selected(results->mutable_rows(), d, n, seed);
          results->commit("running");
          const std::vector<ResultRow> point_rows(results->rows().end() - static_cast<std::ptrdiff_t>(out.rows.size()),
                                                  results->rows().end());
          if (searches) {
            search_work.spent(d, seed, plan.weight(d, n, c));
            progress.expect_total(search_work.expected_total());
          }
          progress.point_done(plan.weight(d, n, c), point,
                              fmt::format("[{}/{}] {} {}{} on {}: test error{} ({:.2f} s)", plan.done(), plan.total(),
                                          point, learner, candidate_setting(config, c, d), shown,
                                          summary(point_rows), out.rows.front().seconds),
                              point_rows);
          if (root) test_wait_after("point");
          if (safe_point(comm, false).stop) {
            results->commit("interrupted");
            progress.run_finished("interrupted", plan.done(), plan.total());
            if (root) fmt::print(stderr, "stopped by a signal after {} of {} points; rerun with --resume to continue\n",
                                 plan.done(), plan.total());
            return kExitInterrupted;
          }
        }
      }
    }
  }
  order_rows(results->mutable_rows(), config, plan);  // after --extend, the order of one run
  results->commit("complete");
  progress.run_finished("complete", plan.done(), plan.total());
  return kExitOk;
}

}  // namespace neurep
