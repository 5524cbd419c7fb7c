// What every learner receives and returns, and the Learner interface the
// sweep driver calls: the learner's input u (raw x or a representation h(x),
// samples along grid rows) with replicated labels in, one results row per
// fitted model (and an iterative learner's training curve) out. Learners are
// made by one registry (make_learner, learner.cpp): adding one is a class
// deriving from Learner plus one line there.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "neurep/settings.hpp"
#include "neurep/cost.hpp"
#include "neurep/dist_matrix.hpp"
#include "neurep/grid.hpp"
#include "neurep/random.hpp"

namespace neurep {

class InfiniteKernel;  // representation_kernel.hpp

struct LearnerData {
  const DistMatrix<double>& u_train;  // n x q
  const std::vector<double>& y_train;  // n labels, replicated
  const DistMatrix<double>& u_test;   // n_test x q
  const std::vector<double>& f_test;   // noise-free test targets, replicated
  double target_variance;              // errors are MSE / target_variance
};

// One row of /results (the sweep driver adds d, n, seed, learner, input).
struct FitResult {
  double ridge = std::nan("");  // the kernel ridge lambda; NaN for other learners
  double test_error = std::nan("");
  double train_error = std::nan("");
  double seconds = 0;
  double flops = 0;
  std::string status = "ok";
  // Further numeric columns (e.g. chosen hyperparameters); every row of a
  // run carries the same extra keys.
  std::map<std::string, double> extra;
};

// The index of the smallest finite value, or -1 when none is finite: how
// every "smallest validation error" is chosen (a NaN is never selected).
int64_t smallest_finite(const std::vector<double>& values);

// Evaluations of an iterative learner, one entry per evaluation step: the
// datasets of /curves/<point>. train_loss is the objective; the errors are
// mean squared errors divided by the target variance (validation: NaN
// without a validation split).
struct TrainingCurve {
  std::vector<double> step, train_loss, train_error, validation_error, test_error, weight_norm;

  // f(name, column) for each column, in file order: the one list of them
  // (results file, checkpoints).
  template <typename Curve, typename F>
  static void for_each_column(Curve& c, F&& f) {
    f("step", c.step);
    f("train_loss", c.train_loss);
    f("train_error", c.train_error);
    f("validation_error", c.validation_error);
    f("test_error", c.test_error);
    f("weight_norm", c.weight_norm);
  }
};

// The state of an unfinished sweep point as the results file stores it
// (/checkpoint): numbers, vectors and distributed matrices by name. Matrices
// are stored whole, in global row-major order, so a checkpoint resumes on
// any grid (and bit-identically on the same grid). Learners fill it from
// their typed state and back (e.g. TaylorLearner's save/load).
struct Checkpoint {
  std::string point;  // the sweep point it belongs to, e.g. d16_n1024_s0
  std::map<std::string, double> scalars;
  std::map<std::string, std::vector<double>> vectors;
  std::map<std::string, const DistMatrix<double>*> matrices;  // for writing; not owned

  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& point& scalars& vectors;  // matrices are read from the file collectively
  }
};

// Where an iterative learner checkpoints the point it is fitting; the sweep
// driver implements it over the results file.
class PointCheckpoints {
 public:
  virtual ~PointCheckpoints() = default;
  // The state an earlier run saved for this point, or null.
  virtual const Checkpoint* earlier() const = 0;
  // Reads matrix `name` of earlier() into `a` (this rank's blocks). Collective.
  virtual void load_matrix(const std::string& name, DistMatrix<double>& a) const = 0;
  // After each step: commits `save()` when a checkpoint is due or a stop
  // signal arrived, and after a stop throws Interrupted. Collective.
  virtual void after_step(int64_t step, const std::function<Checkpoint()>& save) = 0;
};

// Thrown on every rank at once when a stop signal arrives inside a point,
// after the point's state has been committed.
struct Interrupted {};

// An evaluation inside an iterative point, for the run layer's progress
// (the learner never prints): the step of the evaluation, the step this
// process started the point from (0, or a checkpoint's), the step it ends at,
// the training loss and the validation error (NaN without a split).
// An iterative kernel solver (pcg) reports its iterations the same way: the
// step is the iteration, last_step the iteration it projects to stop at (from
// the residual's rate so far, at most max_iterations), `residual` the largest
// relative residual of the ridges still iterating, and `label` which fit and
// how many ridges have converged.
struct Evaluation {
  int64_t step = 0, start_step = 0, last_step = 0;
  double train_loss = std::nan(""), validation_error = std::nan("");
  double residual = std::nan("");
  std::string label, note;
};
using EvaluationObserver = std::function<void(const Evaluation&)>;

// One sweep point as a learner sees it.
struct PointInputs {
  LearnerData data;
  int d;                                  // input dimension of x
  const RandomStreams& streams;           // of this (d, seed)
  const ProcessGrid& grid;
  const InfiniteKernel* infinite_kernel;  // set: u is raw x and the kernel is the representation's K_h
  EvaluationObserver on_evaluation = {};  // set by the run layer: called on every rank after each evaluation
};

struct PointOutputs {
  std::vector<FitResult> rows;
  TrainingCurve curve;  // empty for a direct learner
};

class Learner {
 public:
  virtual ~Learner() = default;
  // The learner column of /results, e.g. "kernel:ntk" or "taylor:order=2".
  virtual std::string label() const = 0;
  // The grid shape run.grid = "auto" picks for it.
  virtual GridWork grid_work() const = 0;
  // 8-byte words of its largest arrays at a point, summed over all ranks (the memory check).
  virtual double memory_words(int d, int64_t n, int64_t n_test) const = 0;
  // 8-byte words every rank holds in full besides its share of memory_words
  // (replicated vectors, a per-rank block; e.g. the matrix-free kernel solver's).
  virtual double rank_words(int d, int64_t n, int64_t n_test) const { return 0; }
  // Expected work of a point (neurep plan, the ETA; cost.hpp). An upper
  // bound where the work depends on the data (early stopping, convergence).
  virtual Cost cost(int d, int64_t n, int64_t n_test) const = 0;
  // Do its rows carry a validation_error on which the driver marks the selected row?
  virtual bool selects_rows() const { return false; }
  // Fits one sweep point. Collective; may throw Interrupted.
  virtual PointOutputs fit(const PointInputs& in, PointCheckpoints& checkpoints) const = 0;
  // learner.refit: this candidate, once the validation split has chosen it,
  // trained again on all n points (no split) for `steps` steps, the step
  // count it chose (its selected row's best_step); null for a learner
  // without a refit.
  virtual std::unique_ptr<Learner> refit(int64_t /*steps*/) const { return nullptr; }
};

// The learner of a configuration (its learner.kind; one candidate). The registry.
std::unique_ptr<Learner> make_learner(const Config& config);

}  // namespace neurep
