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

  Cost cost(int d, int64_t n, int64_t n_test) const override {
    // Gradient descent (TaylorTrainer::run): a step is two products over the
    // n training rows, Z = U W^T and G = E^T U (2 n m q flops each), and two
    // element-wise passes over Z (the forward terms, then E in place of Z),
    // plus the update of W; an evaluation is a forward pass over the n
    // training and the n_test test rows. Quad with a quadratic activation
    // keeps no cache matrix; the others read one beside Z in every pass, and
    // the full network evaluates the activation per element. Preparing the
    // cache is one product and one activation pass over the training and
    // the test rows. Early stopping (patience) can only make it cheaper.
    const TaylorOptions o = taylor_options(config_.learner, d, config_.run.block);
    const double m = static_cast<double>(o.width), q = static_cast<double>(input_dim(d));
    const double nn = static_cast<double>(n), nt = static_cast<double>(n_test);
    const int64_t last = stop_step_ >= 0 ? std::min(stop_step_, o.steps) : o.steps;
    const double steps = static_cast<double>(last);
    const double evaluations = static_cast<double>(last / o.eval_every + 1 + (last % o.eval_every ? 1 : 0));
    const bool cached = !(o.order == TaylorOrder::Quadratic && o.activation == Activation::Quadratic);
    const double act = o.order == TaylorOrder::Full ? activation_passes(o.activation) : 0.0;
    const double term = kTermPasses + (cached ? 1.0 : 0.0) + act;  // a pass of the terms, per element of Z
    // A product with a dimension of a few units or coordinates runs below
    // the DGEMM rate: at s / (s + 12) of it, s = min(m, q) (fitted on 2
    // cores: q = 12, m = 512 and q = 91, m = 8), float at twice it.
    const double single = config_.run.precision == Precision::Single ? 0.5 : 1.0;
    const double thin = std::min(m, q) / (std::min(m, q) + 12.0);
    // A pass over `rows` rows: the product and the terms, from the caches
    // as far as Z, the cache matrix and U (all ranks' together: a bound) fit
    // in them (in_caches).
    const auto pass = [&](double rows) {
      Cost c;
      c.flops = single * 2.0 * rows * m * q / thin;
      const double elements = rows * m * (kProductPasses + term) + rows * q;  // and U read once
      const double held = in_caches(8.0 * single * rows * (m * (cached ? 2.0 : 1.0) + q));
      c.cached = held * elements;
      c.elements = (1.0 - held) * elements;
      c.calls = rows * m * q > kThreadedProduct ? 1 : 0;  // the product's threads
      // The terms are threaded from 2^22 local entries: the cores change hands twice.
      c.handovers = rows * m >= 4194304.0 ? 2.0 : 0.0;
      return c;
    };
    Cost step = 2.0 * pass(nn);
    step.elements += 3.0 * m * q;  // the momentum update
    Cost evaluation = pass(nn) + pass(nt);
    evaluation.elements += 2.0 * m * q;  // the penalty, the best W's copy

    Cost c = steps * step + evaluations * evaluation;
    if (cached) c += pass(nn + nt) + Cost{0, (nn + nt) * m * activation_passes(o.activation), 0, 0};
    c.calls += kPointCalls;
    return c;
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
  // Element passes over Z (n x m) of a product (BLAS zeroes or packs it and
  // writes or reads it) and of the forward or backward terms (read, write).
  // Fitted with the rates of `neurep plan` to Taylor runs on 2 cores (n m from
  // 1e5 to 1e6, q from 12 to 91, m from 8 to 512; bench/plan_accuracy.py).
  static constexpr double kProductPasses = 2, kTermPasses = 2;
  // The share of a pass over matrices of `bytes` that runs from the caches
  // (cost.hpp's cached elements): all of it up to 8 MiB, none from 32 MiB,
  // linear in between. On the 2-core development machine (32 MiB of L3,
  // shared with other jobs) a pass ran at 4.8-6.9 G elements/s over 8 MiB,
  // 3.5 (once 6.4) over 16 MiB and 2.2-2.3 over 32 and 64 MiB.
  static double in_caches(double bytes) {
    constexpr double kMiB = 1 << 20;
    return std::clamp((32.0 * kMiB - bytes) / (24.0 * kMiB), 0.0, 1.0);
  }
  // BLAS threads a product above this m n k (OpenBLAS's threshold).
  static constexpr double kThreadedProduct = 262144;
  // A point's fixed overheads (cost.hpp's calls): set-up, the commit of its rows.
  static constexpr double kPointCalls = 10;
  // Element passes of one activation value: a polynomial or a max is one
  // more operation, tanh and softplus an exponential (about 10).
  static double activation_passes(Activation a) {
    return a == Activation::Tanh || a == Activation::Softplus ? 10.0 : 1.0;
  }
  // q: the learner's input dimension at d (D of a finite random
  // representation, else d; plus learner.input_bias's constant coordinate).
  int64_t input_dim(int d) const {
    const RandomRepresentationConfig* r = config_.representation.random();
    return (r && !r->infinite ? r->width.at(d) : d) + (config_.learner.input_bias ? 1 : 0);
  }

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
        if (in.on_evaluation) {
          Evaluation e;
          e.step = static_cast<int64_t>(s.curve.step[reported]), e.start_step = start_step, e.last_step = last_step;
          e.train_loss = s.curve.train_loss[reported], e.validation_error = s.curve.validation_error[reported];
          in.on_evaluation(e);
        }
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
