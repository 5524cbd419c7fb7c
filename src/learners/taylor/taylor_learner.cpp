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
  explicit TaylorLearner(const Config& c) : config_(c), t_(*c.learner.taylor()) {}

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

  PointOutputs fit(const PointInputs& in, PointCheckpoints& checkpoints) const override {
    TaylorOptions options = taylor_options(config_.learner, in.d, config_.run.block);
    options.single_precision = config_.run.precision == Precision::Single;
    TaylorTrainer trainer(in.data, options, in.streams, in.grid);
    TrainerState state = trainer.initial_state();
    if (const Checkpoint* earlier = checkpoints.earlier())
      load_state(*earlier, [&](const std::string& name, DistMatrix<double>& a) { checkpoints.load_matrix(name, a); },
                 state);
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const double seconds_before = state.seconds;
    trainer.run(state, [&](const TrainerState& s) {
      checkpoints.after_step(s.step, [&] {
        return save_state(s, seconds_before + std::chrono::duration<double>(clock::now() - start).count());
      });
    });
    PointOutputs out;
    out.curve = state.curve;
    out.rows = {trainer.result(state)};
    return out;
  }

 private:
  Config config_;  // this candidate's
  TaylorLearnerConfig t_;
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
    v = static_cast<std::decay_t<decltype(v)>>(c.scalars.at(name));
  });
  TrainingCurve::for_each_column(s.curve, [&](const char* column, std::vector<double>& v) {
    v = c.vectors.at(curve_key(column));
  });
  for_each_matrix(s, [&](const char* name, DistMatrix<double>& m) { load_matrix(name, m); });
}

std::unique_ptr<Learner> make_taylor_learner(const Config& config) { return std::make_unique<TaylorLearner>(config); }

}  // namespace neurep
