#include "neurep/taylor_learner.hpp"

#include <algorithm>
#include <chrono>

namespace neurep {
namespace {

// The numbers and matrices of a TrainerState in /checkpoint, each named once
// (the curve is TrainingCurve's columns, prefixed "curve_").
template <typename State, typename F>
void for_each_scalar(State& s, F&& f) {
  f("step", s.step);
  f("best_evaluation", s.best_evaluation);
  f("evaluations_since_best", s.evaluations_since_best);
  f("finished", s.finished);
  f("diverged", s.diverged);
  f("stopped_early", s.stopped_early);
  f("seconds", s.seconds);
  f("flops", s.flops);
  f("bias", s.bias);  // the offset c (output_bias)
  f("bias_velocity", s.bias_velocity);
  f("best_bias", s.best_bias);
}

// Scalars a checkpoint of an earlier version may lack; they keep their initial value.
bool added_later(const std::string& name) {
  return name == "bias" || name == "bias_velocity" || name == "best_bias";
}

template <typename State, typename F>
void for_each_matrix(State& s, F&& f) {
  f("w", s.w);
  f("velocity", s.velocity);
  f("best_w", s.best_w);
}

std::string curve_key(const char* column) { return std::string("curve_") + column; }

class TaylorLearner : public Learner {
 public:
  // stop_step >= 0: a refit, stopped after that many steps (TaylorOptions::stop_step).
  explicit TaylorLearner(const Config& c, int64_t stop_step = -1)
      : config_(c), t_(*c.learner.taylor()), stop_step_(stop_step) {}

  std::string label() const override { return "taylor:order=" + name_of(t_.order); }
  GridWork grid_work() const override { return GridWork::Tall; }

  double memory_words(int d, int64_t n, int64_t n_test) const override {
    // Z_0 terms and Z for the training and test sets (taylor.hpp).
    const double m = static_cast<double>(t_.network.widths.front().at(d));
    return 2.0 * static_cast<double>(n + n_test) * m * (config_.run.precision == Precision::Single ? 0.5 : 1.0);
  }

  double cost(int d, int64_t n, int64_t) const override {  // 4 n m q a step, q ~ d for the ETA
    const double m = static_cast<double>(t_.network.widths.front().at(d));
    return 4.0 * static_cast<double>(t_.steps) * static_cast<double>(n) * m * d;
  }

  // With learner.refit the validation split chooses a row even without candidates.
  bool selects_rows() const override { return t_.refit; }

  std::unique_ptr<Learner> refit(int64_t steps) const override {
    Config c = config_;
    c.learner.validation_fraction = 0;
    TaylorLearnerConfig& t = std::get<TaylorLearnerConfig>(c.learner.method);
    // No split to judge convergence on: the refit row takes the candidate's verdict (refit_point).
    t.patience = 0, t.refit = false, t.require_converged = false;
    return std::make_unique<TaylorLearner>(c, steps);
  }

  PointOutputs fit(const PointInputs& in, PointCheckpoints& checkpoints) const override {
    TaylorOptions options = taylor_options(config_.learner, in.d, config_.run.block);
    options.single_precision = config_.run.precision == Precision::Single;
    options.stop_step = stop_step_;
    // The storage type is chosen once, here.
    return with_taylor_precision(options,
                                 [&](auto precision) { return fit_as<decltype(precision)>(options, in, checkpoints); });
  }

 private:
  // Gradient descent with the large matrices in T, checkpointed through `checkpoints`. Collective.
  template <typename T>
  PointOutputs fit_as(const TaylorOptions& options, const PointInputs& in, PointCheckpoints& checkpoints) const {
    TaylorTrainer<T> trainer(in.data, options, in.streams, in.grid);
    TrainerState state = trainer.initial_state();
    if (const Checkpoint* earlier = checkpoints.earlier())
      load_state(*earlier, [&](const std::string& name, DistMatrix<double>& a) { checkpoints.load_matrix(name, a); },
                 state);
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const double seconds_before = state.seconds;
    // The evaluations the observer has not seen (a resumed point's earlier ones it never sees).
    const int64_t start_step = state.step;
    const int64_t last_step = stop_step_ >= 0 ? std::min(stop_step_, options.steps) : options.steps;
    size_t reported = state.curve.step.size();
    const auto report = [&](const TrainerState& s) {
      for (; reported < s.curve.step.size(); ++reported)
        if (in.on_evaluation)
          in.on_evaluation({static_cast<int64_t>(s.curve.step[reported]), start_step, last_step,
                            s.curve.train_loss[reported], s.curve.validation_error[reported]});
    };
    trainer.run(state, [&](const TrainerState& s) {
      report(s);
      checkpoints.after_step(s.step, [&] {
        return save_state(s, seconds_before + std::chrono::duration<double>(clock::now() - start).count());
      });
    });
    report(state);
    PointOutputs out;
    out.curve = state.curve;
    out.rows = {trainer.result(state)};
    return out;
  }

  Config config_;  // this candidate's
  TaylorLearnerConfig t_;
  int64_t stop_step_;
};

}  // namespace

Checkpoint save_state(const TrainerState& s, double seconds) {
  Checkpoint c;
  for_each_scalar(s, [&](const char* name, const auto& v) { c.scalars[name] = static_cast<double>(v); });
  c.scalars["seconds"] = seconds;
  TrainingCurve::for_each_column(s.curve, [&](const char* column, const std::vector<double>& v) {
    c.vectors[curve_key(column)] = v;
  });
  for_each_matrix(s, [&](const char* name, const DistMatrix<double>& m) { c.matrices[name] = &m; });
  return c;
}

void load_state(const Checkpoint& c, const std::function<void(const std::string&, DistMatrix<double>&)>& load_matrix,
                TrainerState& s) {
  for_each_scalar(s, [&](const char* name, auto& v) {
    const auto it = c.scalars.find(name);
    if (it == c.scalars.end() && added_later(name)) return;
    v = static_cast<std::decay_t<decltype(v)>>(c.scalars.at(name));
  });
  TrainingCurve::for_each_column(s.curve, [&](const char* column, std::vector<double>& v) {
    v = c.vectors.at(curve_key(column));
  });
  for_each_matrix(s, [&](const char* name, DistMatrix<double>& m) { load_matrix(name, m); });
}

std::unique_ptr<Learner> make_taylor_learner(const Config& config) { return std::make_unique<TaylorLearner>(config); }

}  // namespace neurep
