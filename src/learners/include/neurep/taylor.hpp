// Two-layer networks around a random initialisation, trained by full-batch
// gradient descent (DESIGN 1.3, learner = "taylor"):
//   order 1:      f(u) = (1/sqrt m)     sum_r a_r sigma'(w0_r.u)  (w_r.u)
//   order 2:      f(u) = (1/(2 sqrt m)) sum_r a_r sigma''(w0_r.u) (w_r.u)^2     (Quad)
//   order "full": f(u) = (1/sqrt m)     sum_r a_r [sigma((w0_r + s_r w_r).u) - sigma(w0_r.u)]
// plus, with learner.output_bias, a trained scalar offset c (f(u) + c), with
// loss L(W, c) = (1/2 n_fit) sum_i (f(u_i) + c - y_i)^2 + lambda ||W||_{2,4}^k
// + (weight_decay/2) ||W||_F^2, ||W||_{2,4} = (sum_r |w_r|^4)^{1/4} (c is not
// regularised).
//
// Layout (DESIGN 2.1). The input U (n x q) has samples along grid rows and
// coordinates along grid columns. W, W_0 and the gradient G (m x q) are
// ordinary DistMatrix objects with the *same* blocks: hidden units along grid
// rows, input coordinates along grid columns. Then each product is one PBLAS
// call on the block-cyclic layout, with no redistribution:
//   Z = U W^T  (n x m; pdgemm N,T): samples along grid rows, units along grid columns,
//   G = E^T U  (m x q; pdgemm T,N): the sum over samples happens inside pdgemm.
// Everything between them is elementwise on the local blocks of Z and Z_0 =
// U W_0^T (computed once per data set). Per-sample outputs are local partial
// sums over the units a rank holds, all-reduced over grid.row_comm() (the
// ranks sharing those samples). Per-unit norms of W are reduced over the same
// row communicator (the ranks sharing those units). A step costs 4 n m q flops.
//
// Random quantities are pure functions of the streams (random.hpp), and each
// rank fills only its own blocks: W_0(r, j) = g(TaylorInit, r, j)/sqrt(q);
// W(r, j) = init_scale g(InitialMovement, r, j)/sqrt(q) at the start;
// a_r = +1 for r < ceil(m/2) and -1 after (balanced) or sign(OutputSigns, r, 0);
// s_r at step k = sign(SignFlips, r, 0, k); c = 0 at the start. So training is
// the same on every grid up to floating-point reassociation.
//
// Precision: TaylorBatch, taylor_objective and TaylorTrainer are templates on
// the storage type T of the large matrices (U, Z and the cached sigma terms)
// and of the two products of a pass, instantiated for double and float
// (run.precision = "single"); W, the gradient, the optimiser and every sum
// over units or samples stay double. train_taylor chooses T once, from
// TaylorOptions::single_precision.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "neurep/settings.hpp"
#include "neurep/dist_matrix.hpp"
#include "neurep/learner.hpp"
#include "neurep/linalg.hpp"
#include "neurep/random.hpp"

namespace neurep {

// TaylorOrder, Activation and Schedule: settings.hpp.

// sigma^{(k)}(t) for k = 0, 1, 2:
//   quadratic t^2/2 | relu2 relu(t)^2/2 | relu max(t, 0) | tanh | softplus log(1 + e^t).
// At the kinks (t = 0) the right derivative is taken. Pure.
double activation(Activation sigma, int derivative, double t);

struct TaylorOptions {
  TaylorOrder order = TaylorOrder::Quadratic;
  Activation activation = Activation::Quadratic;
  int64_t width = 512;  // m
  bool sign_randomization = false;
  double init_scale = 0.1;
  bool random_output_signs = false;  // else balanced
  double regularizer = 0.0;          // lambda of ||W||_{2,4}^k
  int reg_power = 4;                 // k
  double weight_decay = 0.0;
  double learning_rate = 0.1;
  double momentum = 0.0;  // heavy ball: v <- momentum v + G, W <- W - eta_t v
  Schedule schedule = Schedule::Constant;
  int64_t steps = 2000;
  int64_t eval_every = 50;
  double validation_fraction = 0.0;
  int64_t patience = 0;  // evaluations without improvement before stopping; 0 = never
  int block = 128;
  // run.precision = "single": train_taylor and the sweep train with
  // TaylorTrainer<float> (half the memory, about twice the GEMM rate).
  bool single_precision = false;
  bool output_bias = false;  // the trained offset c
  // Steps actually taken, when fewer than `steps` (< 0: all): a refit stops
  // at the step the validation split chose, the schedule still spanning `steps`.
  int64_t stop_step = -1;
  // learner.require_converged: a row whose optimisation did not converge
  // (optimisation_converged) has status "not-converged".
  bool require_converged = false;
};

// learner.require_converged: did gradient descent converge at the curve's
// evaluation `best` (the one reported), after `steps_run` steps? All must hold:
// - `best` is after step 0 (the random start is no optimum: a run whose
//   validation error only rose from there learned nothing);
// - at `best` the training error t is within 10 % of the validation error v,
//   |t - v| <= 0.1 v (or |t - v| <= kConvergenceAbsolute): a floor is measured
//   where the fit generalises, not where it overfits or still moves;
// - over the last quarter of the steps run the validation error improved by at
//   most 1 %: its smallest value at evaluations up to 3/4 steps_run exceeds the
//   smallest of all by at most 0.01 of it (or kConvergenceAbsolute).
// Errors are fractions of Var f*, so kConvergenceAbsolute = 1e-4 lets a fit
// that reaches ~0 (to rounding) count as converged. The curve is rank 0's on
// every rank (TaylorTrainer::evaluate), so is the answer. Pure.
constexpr double kConvergenceAbsolute = 1e-4;
bool optimisation_converged(const TrainingCurve& curve, size_t best, int64_t steps_run);

// The options of a Taylor learner (learner.kind = "taylor"; its first
// candidate) at input dimension d. Pure.
TaylorOptions taylor_options(const LearnerConfig& config, int d, int block);
// The order-1 network of `network` (the empirical NTK's) at d. Pure.
TaylorOptions network_options(const NetworkConfig& network, int d, int block);
// "1", "2" or "full", as in the configuration and the learner label.
std::string order_name(TaylorOrder order);
// eta_t of the schedule: constant; cosine eta (1 + cos(pi t/T))/2; linear eta (1 - t/T).
double learning_rate_at(const TaylorOptions& options, int64_t step);

// Which signs s_r the full network uses in a forward pass: those drawn for a
// training step (>= 0), or kEvaluationSigns: s = 1 without sign
// randomisation, and with it the average over s_r = +-1 of the network,
// (sigma(z0 + z) + sigma(z0 - z))/2 - sigma(z0) per unit, the deterministic
// predictor the randomised coupling trains (its linear term cancels).
// Orders 1 and 2 ignore the signs.
constexpr int64_t kEvaluationSigns = -1;

// The fixed part of the network: W_0, the output signs a and the options.
// Constructing it draws W_0 on this rank's blocks only: not collective.
class TaylorModel {
 public:
  TaylorModel(const TaylorOptions& options, int64_t q, const RandomStreams& streams,
              const ProcessGrid& grid);

  const TaylorOptions& options() const { return options_; }
  const ProcessGrid& grid() const { return *grid_; }
  int64_t width() const { return options_.width; }  // m
  int64_t dim() const { return q_; }                // q
  const DistMatrix<double>& w0() const { return w0_; }
  double output_sign(int64_t r) const { return a_[static_cast<size_t>(r)]; }
  // s_r for a training step (1 without sign randomisation). Pure.
  double sign_flip(int64_t r, int64_t step) const;

  // New m x q matrices in W's layout. Not collective.
  DistMatrix<double> zero_movement() const;
  DistMatrix<double> initial_movement() const;  // rows ~ N(0, init_scale^2 I/q)

 private:
  TaylorOptions options_;
  int64_t q_;
  RandomStreams streams_;
  const ProcessGrid* grid_;
  DistMatrix<double> w0_;
  std::vector<double> a_;  // replicated: m numbers
};

// A data set U prepared for a model: Z_0 = U W_0^T is computed once and
// reduced to what the order needs (a_r sigma'(z0)/sqrt m, a_r sigma''(z0)/sqrt m,
// or Z_0 itself and the per-sample constant of the full network). Holds a
// work matrix Z (n x m) that a forward pass fills and backward() reuses.
// T is the storage type of U, Z, the cache and the products (double, or
// float: then U is rounded once and W for each pass). Keeps references to
// the model and to U: both must outlive it. Instantiated for float and double.
template <typename T>
class TaylorBatch {
 public:
  // Collective: one p?gemm.
  TaylorBatch(const TaylorModel& model, const DistMatrix<double>& u);

  const TaylorModel& model() const { return model_; }
  int64_t size() const { return u_.rows(); }
  const DistMatrix<double>& inputs() const { return u_; }
  // Global sample index of each local row of U (the order outputs() uses).
  const std::vector<int64_t>& samples() const { return samples_; }

  // f(u_i) + bias at movement W for the samples of this rank's grid row,
  // indexed by local row; every rank of a grid row gets the same numbers.
  // Collective (one p?gemm, one all-reduce over the grid row).
  const std::vector<double>& outputs(const DistMatrix<double>& w, int64_t signs, double bias = 0.0);
  // f(u_i) + bias for every sample, on every rank (tests, diagnostics). Collective.
  std::vector<double> predictions(const DistMatrix<double>& w, int64_t signs, double bias = 0.0);
  // grad = sum_i c_i grad_W f(u_i) at the W and training-step signs of the
  // last outputs() call, c indexed by local row like outputs(). The work
  // matrix is consumed: call outputs() again before another backward().
  // Collective (one p?gemm).
  void backward(const std::vector<double>& c, DistMatrix<double>& grad);

  // Flops of one forward (and of one backward): 2 n m q.
  double pass_flops() const;

 private:
  // W (m x q) in T for a product: W itself for double, else rounded into w_.
  const DistMatrix<T>& stored(const DistMatrix<double>& w);

  const TaylorModel& model_;
  const DistMatrix<double>& u_;
  bool constant_;             // order 2 with sigma'' constant (quadratic): no cache matrix, see col_scale_
  std::vector<int64_t> samples_;
  linalg::Rounded<T> u_stored_;  // U in T (U itself for double)
  DistMatrix<T> cache_;       // order 1/2: a_r sigma^{(order)}(z0)/sqrt m; full: Z_0 (0 x 0 if constant_)
  std::vector<double> col_scale_;  // constant_: a_r sigma''/sqrt m for each local column of Z
  std::vector<double> f0_;    // full: (1/sqrt m) sum_r a_r sigma(z0_ir), by local row
  DistMatrix<T> z_;           // Z = U W^T of the last forward pass
  DistMatrix<T> w_;           // float: W of a pass, then the gradient's product (0 x 0 for double)
  std::vector<double> out_;
  int64_t z_signs_ = kEvaluationSigns;
  bool z_valid_ = false;
};

// L(W, c) on the first n_fit samples of `batch` (labels y, replicated,
// indexed by global sample) at the signs of `step` and offset c = `bias`;
// with `grad`, also dL/dW (needs a training step >= 0 or a model without
// sign flips), and with `bias_grad` dL/dc. Collective.
template <typename T>
double taylor_objective(TaylorBatch<T>& batch, const std::vector<double>& y, int64_t n_fit,
                        const DistMatrix<double>& w, int64_t step, DistMatrix<double>* grad,
                        double bias = 0.0, double* bias_grad = nullptr);

// Evaluations (TrainingCurve, learner.hpp): step 0, every eval_every, the
// last; train_loss is L(W).

// Everything the training loop carries from one step to the next: what a
// checkpoint has to save to resume bit-identically.
struct TrainerState {
  // Starts at step 0 from the movement `start`, with zero momentum.
  explicit TrainerState(const DistMatrix<double>& start) : w(start), velocity(start), best_w(start) {
    velocity.fill(0.0);
  }

  int64_t step = 0;                // steps taken; W is the movement after them
  DistMatrix<double> w, velocity;  // movement and heavy-ball buffer (m x q)
  DistMatrix<double> best_w;       // W at the reported evaluation so far
  double bias = 0, bias_velocity = 0, best_bias = 0;  // the offset c, the same three (output_bias)
  int64_t best_evaluation = -1;    // its index in the curve
  int64_t evaluations_since_best = 0;
  TrainingCurve curve;
  bool finished = false, diverged = false, stopped_early = false;
  double seconds = 0, flops = 0;  // spent so far (seconds: this rank's)
};

// Called after every step with the state (a checkpoint or a stop check can go here).
using StepHook = std::function<void(const TrainerState&)>;

// Gradient descent on one data set, with the large matrices in T. The
// validation split is the last floor(validation_fraction n) training points
// (so for nested training sets it is always the latest points); with it,
// errors are reported at the best validation evaluation and training stops
// after `patience` evaluations without improvement. Without it, at the last
// evaluation. Divergence is judged on the training loss and the validation
// error only (never the test error), the same on every rank: it ends
// training; with a validation split the evaluation chosen before it is
// reported, with status "diverged-after-best", else status "diverged" and
// NaN errors. Instantiated for float and double.
template <typename T>
class TaylorTrainer {
 public:
  // Collective: prepares the training and test batches (two p?gemm). The
  // matrices and vectors `data` refers to must outlive the trainer.
  TaylorTrainer(const LearnerData& data, const TaylorOptions& options, const RandomStreams& streams,
                const ProcessGrid& grid);

  // Step 0: W = the initial movement. Not collective.
  TrainerState initial_state() const;
  // Trains from `state` until finished. Collective.
  void run(TrainerState& state, const StepHook& hook = {});
  // The results row of a finished state: errors at the reported evaluation,
  // status, and in `extra` m, learning_rate, regularizer (lambda), steps_run,
  // best_step, validation_error, weight_norm (and output_bias = c with the
  // offset; ridge stays NaN). Collective (seconds are the slowest rank's).
  FitResult result(const TrainerState& state) const;

  int64_t n_fit() const { return n_fit_; }
  const TaylorModel& model() const { return model_; }

 private:
  void evaluate(TrainerState& state);

  LearnerData data_;  // references to the caller's inputs and labels
  TaylorOptions options_;
  TaylorModel model_;
  TaylorBatch<T> train_, test_;
  int64_t n_fit_;
};

// f(tag) with tag a float or a double: the storage type of run.precision,
// chosen once here (float when options.single_precision).
template <typename F>
auto with_taylor_precision(const TaylorOptions& options, F&& f) {
  if (options.single_precision) return f(float{});
  return f(double{});
}

// Convenience: initial_state, run, result in the precision of
// options.single_precision; the curve into `curve` if given. Collective.
FitResult train_taylor(const LearnerData& data, const TaylorOptions& options,
                       const RandomStreams& streams, const ProcessGrid& grid,
                       TrainingCurve* curve = nullptr, const StepHook& hook = {});

}  // namespace neurep
