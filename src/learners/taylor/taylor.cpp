#include "neurep/taylor.hpp"

#include <boost/mpi/collectives.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <type_traits>

#include "neurep/agreement.hpp"
#include "neurep/errors.hpp"
#include "neurep/linalg.hpp"

namespace neurep {

using linalg::Op;

double activation(Activation sigma, int derivative, double t) {
  switch (sigma) {
    case Activation::Quadratic:
      return derivative == 0 ? 0.5 * t * t : derivative == 1 ? t : 1.0;
    case Activation::Relu2: {
      const double r = t > 0 ? t : 0.0;
      return derivative == 0 ? 0.5 * r * r : derivative == 1 ? r : (t >= 0 ? 1.0 : 0.0);
    }
    case Activation::Relu:
      return derivative == 0 ? (t > 0 ? t : 0.0) : derivative == 1 ? (t >= 0 ? 1.0 : 0.0) : 0.0;
    case Activation::Tanh: {
      const double th = std::tanh(t);
      return derivative == 0 ? th : derivative == 1 ? 1 - th * th : -2 * th * (1 - th * th);
    }
    case Activation::Softplus: {
      if (derivative == 0) return t > 0 ? t + std::log1p(std::exp(-t)) : std::log1p(std::exp(t));
      const double s = 1.0 / (1.0 + std::exp(-t));
      return derivative == 1 ? s : s * (1 - s);
    }
  }
  return 0.0;
}

namespace {

// Sums of squared differences f_i - target_i over this batch's samples below
// and from `split`, over all samples of the grid. Collective.
template <typename T>
std::pair<double, double> squared_errors(const TaylorBatch<T>& batch, const std::vector<double>& f,
                                         const std::vector<double>& target, int64_t split) {
  double sums[2] = {0, 0}, total[2];
  const auto& samples = batch.samples();
  for (size_t li = 0; li < samples.size(); ++li) {
    const double r = f[li] - target[static_cast<size_t>(samples[li])];
    sums[samples[li] < split ? 0 : 1] += r * r;
  }
  // Ranks of one grid row hold the same samples: summing down a grid column counts each once.
  boost::mpi::all_reduce(batch.inputs().grid().col_comm(), sums, 2, total, std::plus<double>());
  return {total[0], total[1]};
}

// |w_r|^2 for this rank's rows of W, by local row. Collective over the grid row.
std::vector<double> unit_norms_squared(const DistMatrix<double>& w) {
  std::vector<double> part(static_cast<size_t>(w.local_rows()), 0.0), total(part.size());
  for (int64_t lj = 0; lj < w.local_cols(); ++lj)
    for (int64_t li = 0; li < w.local_rows(); ++li) part[li] += w.local(li, lj) * w.local(li, lj);
  boost::mpi::all_reduce(w.grid().row_comm(), part.data(), static_cast<int>(part.size()),
                         total.data(), std::plus<double>());
  return total;
}

// The regularisers lambda ||W||_{2,4}^k + (wd/2) ||W||_F^2 and what their gradient needs.
struct Penalty {
  double value = 0;
  double norm4 = 0;              // sum_r |w_r|^4
  std::vector<double> unit_sq;   // |w_r|^2 by local row
};

Penalty penalty(const TaylorOptions& opt, const DistMatrix<double>& w) {
  Penalty p;
  p.unit_sq = unit_norms_squared(w);
  double local[2] = {0, 0}, total[2];  // sum |w_r|^4, sum |w_r|^2 over this grid row's units
  for (double s : p.unit_sq) local[0] += s * s, local[1] += s;
  boost::mpi::all_reduce(w.grid().col_comm(), local, 2, total, std::plus<double>());
  p.norm4 = total[0];
  p.value = opt.regularizer * std::pow(p.norm4, opt.reg_power / 4.0) + 0.5 * opt.weight_decay * total[1];
  return p;
}

}  // namespace

TaylorOptions taylor_options(const LearnerConfig& l, int d, int block) {
  const TaylorLearnerConfig& c = std::get<TaylorLearnerConfig>(l.method);
  TaylorOptions o = network_options(c.network, d, block);
  o.order = c.order;
  o.random_output_signs = c.output_signs == OutputSigns::Random;
  o.schedule = c.schedule;
  o.sign_randomization = c.sign_randomization;
  o.init_scale = c.init_scale;
  o.regularizer = c.regularizers.front();
  o.reg_power = c.reg_power;
  o.weight_decay = c.weight_decay;
  o.learning_rate = c.learning_rates.front();
  o.momentum = c.momentum;
  o.steps = c.steps;
  o.eval_every = c.eval_every;
  o.validation_fraction = l.validation_fraction;
  o.patience = c.patience;
  o.output_bias = c.output_bias;
  o.require_converged = c.require_converged;
  return o;
}

bool optimisation_converged(const TrainingCurve& c, size_t best, int64_t steps_run) {
  // Step 0 is the random start: a run whose best evaluation it is has learned nothing.
  if (best >= c.step.size() || !(c.step[best] > 0)) return false;
  const double t = c.train_error[best], v = c.validation_error[best];
  if (!(std::abs(t - v) <= std::max(0.1 * v, kConvergenceAbsolute))) return false;  // NaN: not converged
  double early = std::numeric_limits<double>::infinity(), all = early;
  for (size_t e = 0; e < c.step.size(); ++e) {
    const double x = c.validation_error[e];
    if (!std::isfinite(x)) continue;
    all = std::min(all, x);
    if (4.0 * c.step[e] <= 3.0 * static_cast<double>(steps_run)) early = std::min(early, x);
  }
  return early - all <= std::max(0.01 * early, kConvergenceAbsolute);
}

TaylorOptions network_options(const NetworkConfig& network, int d, int block) {
  TaylorOptions o;
  o.order = TaylorOrder::Linear;
  o.activation = network.activation;
  o.width = network.widths.front().at(d);
  o.block = block;
  return o;
}

std::string order_name(TaylorOrder order) { return name_of(order); }

double learning_rate_at(const TaylorOptions& o, int64_t step) {
  const double x = o.steps > 0 ? static_cast<double>(step) / static_cast<double>(o.steps) : 0.0;
  switch (o.schedule) {
    case Schedule::Constant: return o.learning_rate;
    case Schedule::Cosine: return o.learning_rate * 0.5 * (1.0 + std::cos(M_PI * x));
    case Schedule::Linear: return o.learning_rate * (1.0 - x);
  }
  return o.learning_rate;
}

// ---------------------------------------------------------------------------
// TaylorModel

TaylorModel::TaylorModel(const TaylorOptions& options, int64_t q, const RandomStreams& streams,
                         const ProcessGrid& grid)
    : options_(options), q_(q), streams_(streams), grid_(&grid),
      w0_(grid, options.width, q, options.block, options.block) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q));
  w0_.for_each_local([&](int64_t r, int64_t j, double& v) {
    v = scale * streams_.gaussian(Stream::TaylorInit, static_cast<uint64_t>(r), static_cast<uint64_t>(j));
  });
  const int64_t m = options.width;
  a_.resize(static_cast<size_t>(m));
  for (int64_t r = 0; r < m; ++r)
    a_[r] = options.random_output_signs ? streams_.sign(Stream::OutputSigns, static_cast<uint64_t>(r), 0)
                                        : (r < (m + 1) / 2 ? 1.0 : -1.0);
}

double TaylorModel::sign_flip(int64_t r, int64_t step) const {
  if (!options_.sign_randomization) return 1.0;
  return streams_.sign(Stream::SignFlips, static_cast<uint64_t>(r), 0, static_cast<uint64_t>(step));
}

DistMatrix<double> TaylorModel::zero_movement() const {
  return DistMatrix<double>(*grid_, options_.width, q_, options_.block, options_.block);
}

DistMatrix<double> TaylorModel::initial_movement() const {
  DistMatrix<double> w = zero_movement();
  const double scale = options_.init_scale / std::sqrt(static_cast<double>(q_));
  if (scale != 0.0)
    w.for_each_local([&](int64_t r, int64_t j, double& v) {
      v = scale * streams_.gaussian(Stream::InitialMovement, static_cast<uint64_t>(r), static_cast<uint64_t>(j));
    });
  return w;
}

// ---------------------------------------------------------------------------
// TaylorBatch

namespace {

// The elementwise work of a pass on the local blocks of Z and of the cache,
// in the storage precision T (double, or float with run.precision = "single";
// the arithmetic is double either way). Threaded over blocks of local rows
// (forward) or columns (backward); each output sums over the units in the
// same order whatever the threads, so results do not depend on them.

// Below this many local entries a pass is too short to gain from threads:
// worse, idle OpenMP workers spin for a while after each parallel region and
// take the cores from the BLAS threads of the next product, which costs small
// problems several times their step time (bench/RESULTS.md).
constexpr int64_t kThreadedEntries = int64_t(1) << 22;

// part[li] = sum over this rank's units r of the unit's term in f(u_i).
// With col_scale (order 2, sigma'' constant) the cache is that one number per column.
template <typename T>
void forward_terms(const TaylorModel& model, const DistMatrix<T>& cache, const std::vector<double>& col_scale,
                   const DistMatrix<T>& z, int64_t signs, std::vector<double>& part) {
  const TaylorOptions& opt = model.options();
  const int64_t lr = z.local_rows(), lc = z.local_cols();
  const double inv_sqrt_m = 1.0 / std::sqrt(static_cast<double>(model.width()));
  const bool averaged = signs < 0 && opt.sign_randomization;
  constexpr int64_t kRows = 512;
#pragma omp parallel for schedule(static) if (lr * lc >= kThreadedEntries)
  for (int64_t r0 = 0; r0 < lr; r0 += kRows) {
    const int64_t r1 = std::min(lr, r0 + kRows);
    for (int64_t lj = 0; lj < lc; ++lj) {
      const T* zc = &z.local(0, lj);
      const T* cc = col_scale.empty() ? &cache.local(0, lj) : nullptr;
      switch (opt.order) {
        case TaylorOrder::Linear:
          for (int64_t li = r0; li < r1; ++li) part[li] += static_cast<double>(cc[li]) * static_cast<double>(zc[li]);
          break;
        case TaylorOrder::Quadratic:
          if (!cc) {
            const double cs = col_scale[static_cast<size_t>(lj)];
            for (int64_t li = r0; li < r1; ++li) {
              const double zv = zc[li];
              part[li] += 0.5 * cs * zv * zv;
            }
            break;
          }
          for (int64_t li = r0; li < r1; ++li) {
            const double zv = zc[li];
            part[li] += 0.5 * static_cast<double>(cc[li]) * zv * zv;
          }
          break;
        case TaylorOrder::Full: {
          const int64_t r = z.global_col(lj);
          const double ar = model.output_sign(r) * inv_sqrt_m;
          const double s = signs < 0 ? 1.0 : model.sign_flip(r, signs);
          for (int64_t li = r0; li < r1; ++li) {
            const double z0 = cc[li], zv = zc[li];
            part[li] += averaged ? 0.5 * ar * (activation(opt.activation, 0, z0 + zv) + activation(opt.activation, 0, z0 - zv))
                                 : ar * activation(opt.activation, 0, z0 + s * zv);
          }
          break;
        }
      }
    }
  }
}

// Z <- E, E_ir = c_i df_i/dz_ir, in place.
template <typename T>
void backward_terms(const TaylorModel& model, const DistMatrix<T>& cache, const std::vector<double>& col_scale,
                    DistMatrix<T>& z, const std::vector<double>& c, int64_t signs) {
  const TaylorOptions& opt = model.options();
  const int64_t lr = z.local_rows(), lc = z.local_cols();
  const double inv_sqrt_m = 1.0 / std::sqrt(static_cast<double>(model.width()));
#pragma omp parallel for schedule(static) if (lr * lc >= kThreadedEntries)
  for (int64_t lj = 0; lj < lc; ++lj) {
    T* zc = &z.local(0, lj);
    const T* cc = col_scale.empty() ? &cache.local(0, lj) : nullptr;
    switch (opt.order) {
      case TaylorOrder::Linear:
        for (int64_t li = 0; li < lr; ++li) zc[li] = static_cast<T>(c[li] * static_cast<double>(cc[li]));
        break;
      case TaylorOrder::Quadratic:
        if (!cc) {
          const double cs = col_scale[static_cast<size_t>(lj)];
          for (int64_t li = 0; li < lr; ++li) zc[li] = static_cast<T>(static_cast<double>(zc[li]) * (c[li] * cs));
          break;
        }
        for (int64_t li = 0; li < lr; ++li)
          zc[li] = static_cast<T>(static_cast<double>(zc[li]) * (c[li] * static_cast<double>(cc[li])));
        break;
      case TaylorOrder::Full: {
        const int64_t r = z.global_col(lj);
        const double s = signs < 0 ? 1.0 : model.sign_flip(r, signs);
        const double ars = model.output_sign(r) * inv_sqrt_m * s;
        for (int64_t li = 0; li < lr; ++li)
          zc[li] = static_cast<T>(c[li] * ars * activation(opt.activation, 1, static_cast<double>(cc[li]) + s * static_cast<double>(zc[li])));
        break;
      }
    }
  }
}

// Z_0 = U W_0^T (in `cache`) becomes what the order needs; f0 for the full network (by local row, this rank's units).
template <typename T>
void prepare_cache(const TaylorModel& model, DistMatrix<T>& cache, std::vector<double>& f0_part) {
  const TaylorOptions& opt = model.options();
  const double inv_sqrt_m = 1.0 / std::sqrt(static_cast<double>(model.width()));
  if (opt.order == TaylorOrder::Full) {
    f0_part.assign(static_cast<size_t>(cache.local_rows()), 0.0);
    for (int64_t lj = 0; lj < cache.local_cols(); ++lj) {
      const double ar = model.output_sign(cache.global_col(lj)) * inv_sqrt_m;
      for (int64_t li = 0; li < cache.local_rows(); ++li)
        f0_part[li] += ar * activation(opt.activation, 0, static_cast<double>(cache.local(li, lj)));
    }
  } else {
    const int derivative = opt.order == TaylorOrder::Linear ? 1 : 2;
    cache.for_each_local([&](int64_t, int64_t r, T& v) {
      v = static_cast<T>(model.output_sign(r) * inv_sqrt_m * activation(opt.activation, derivative, static_cast<double>(v)));
    });
  }
}

// A matrix of T with `rows` x `cols` entries in the given blocks (0 x 0 when unused).
template <typename T>
DistMatrix<T> matrix_if(const ProcessGrid& grid, bool used, int64_t rows, int64_t cols, int mb, int nb) {
  return used ? DistMatrix<T>(grid, rows, cols, mb, nb) : DistMatrix<T>(grid, 0, 0, 1, 1);
}

// sigma'' is one constant for the quadratic activation: then the Quad model's
// cache a_r sigma''(z0_ir)/sqrt m is a number per unit, and neither Z_0 nor an
// n x m cache is needed (a third less memory traffic per step).
bool constant_curvature(const TaylorOptions& o) {
  return o.order == TaylorOrder::Quadratic && o.activation == Activation::Quadratic;
}

template <typename T>
constexpr bool kRounds = !std::is_same_v<T, double>;  // W is rounded into a T matrix for each pass

}  // namespace

template <typename T>
TaylorBatch<T>::TaylorBatch(const TaylorModel& model, const DistMatrix<double>& u)
    : model_(model), u_(u), constant_(constant_curvature(model.options())), u_stored_(u),
      cache_(matrix_if<T>(u.grid(), !constant_, u.rows(), model.width(), u.row_block(), model.w0().row_block())),
      z_(u.grid(), u.rows(), model.width(), u.row_block(), model.w0().row_block()),
      w_(matrix_if<T>(u.grid(), kRounds<T>, model.width(), model.dim(), model.w0().row_block(),
                      model.w0().col_block())) {
  if (u.cols() != model.dim() || u.col_block() != model.w0().col_block() || &u.grid() != &model.grid())
    throw RuntimeError(fmt::format("TaylorBatch: inputs {} x {} (column block {}) do not fit a model of "
                                   "dimension {} (block {}) on the same grid",
                                   u.rows(), u.cols(), u.col_block(), model.dim(), model.w0().col_block()));
  samples_.resize(static_cast<size_t>(u.local_rows()));
  for (int64_t li = 0; li < u.local_rows(); ++li) samples_[li] = u.global_row(li);

  std::vector<double> part;
  if (constant_) {
    // Z's local columns are the units r = global_col(lj).
    const ProcessGrid& grid = u.grid();
    const int nb = model_.w0().row_block();
    const double curvature = activation(model_.options().activation, 2, 0.0);
    const double inv_sqrt_m = 1.0 / std::sqrt(static_cast<double>(model_.width()));
    col_scale_.resize(static_cast<size_t>(local_extent(model_.width(), nb, grid.col(), grid.cols())));
    for (size_t lj = 0; lj < col_scale_.size(); ++lj)
      col_scale_[lj] = model_.output_sign(global_index(static_cast<int64_t>(lj), nb, grid.col(), grid.cols())) *
                       inv_sqrt_m * curvature;
  } else {
    linalg::gemm(Op::N, Op::T, T(1), *u_stored_, stored(model_.w0()), T(0), cache_);  // Z_0
    prepare_cache(model_, cache_, part);
  }
  if (model_.options().order == TaylorOrder::Full) {
    f0_.resize(samples_.size());
    boost::mpi::all_reduce(u.grid().row_comm(), part.data(), static_cast<int>(part.size()), f0_.data(),
                           std::plus<double>());
  }
}

template <typename T>
const DistMatrix<T>& TaylorBatch<T>::stored(const DistMatrix<double>& w) {
  if constexpr (kRounds<T>) {
    linalg::convert(w, w_);
    return w_;
  } else {
    return w;
  }
}

template <typename T>
double TaylorBatch<T>::pass_flops() const {
  return 2.0 * static_cast<double>(u_.rows()) * static_cast<double>(model_.width()) *
         static_cast<double>(u_.cols());
}

template <typename T>
const std::vector<double>& TaylorBatch<T>::outputs(const DistMatrix<double>& w, int64_t signs, double bias) {
  std::vector<double> part(static_cast<size_t>(u_.local_rows()), 0.0);
  linalg::gemm(Op::N, Op::T, T(1), *u_stored_, stored(w), T(0), z_);
  forward_terms(model_, cache_, col_scale_, z_, signs, part);
  out_.assign(part.size(), 0.0);
  boost::mpi::all_reduce(u_.grid().row_comm(), part.data(), static_cast<int>(part.size()), out_.data(),
                         std::plus<double>());
  if (model_.options().order == TaylorOrder::Full)
    for (size_t li = 0; li < out_.size(); ++li) out_[li] -= f0_[li];
  if (bias != 0.0)
    for (double& v : out_) v += bias;
  z_signs_ = signs;
  z_valid_ = true;
  return out_;
}

template <typename T>
std::vector<double> TaylorBatch<T>::predictions(const DistMatrix<double>& w, int64_t signs, double bias) {
  const std::vector<double>& f = outputs(w, signs, bias);
  std::vector<double> part(static_cast<size_t>(size()), 0.0), all(part.size());
  if (u_.grid().col() == 0)  // one copy of each grid row's outputs
    for (size_t li = 0; li < f.size(); ++li) part[static_cast<size_t>(samples_[li])] = f[li];
  boost::mpi::all_reduce(u_.grid().comm(), part.data(), static_cast<int>(part.size()), all.data(),
                         std::plus<double>());
  return all;
}

template <typename T>
void TaylorBatch<T>::backward(const std::vector<double>& c, DistMatrix<double>& grad) {
  const TaylorOptions& opt = model_.options();
  if (!z_valid_) throw RuntimeError("TaylorBatch::backward without a forward pass before it");
  if (opt.order == TaylorOrder::Full && opt.sign_randomization && z_signs_ < 0)
    throw RuntimeError("TaylorBatch::backward: the sign-averaged network is for evaluation only");
  // E = df_i/dz_ir c_i, in place of Z; then grad = E^T U.
  backward_terms(model_, cache_, col_scale_, z_, c, z_signs_);
  if constexpr (kRounds<T>) {
    linalg::gemm(Op::T, Op::N, T(1), z_, *u_stored_, T(0), w_);
    linalg::convert(w_, grad);
  } else {
    linalg::gemm(Op::T, Op::N, T(1), z_, *u_stored_, T(0), grad);
  }
  z_valid_ = false;
}

template class TaylorBatch<double>;
template class TaylorBatch<float>;

// ---------------------------------------------------------------------------
// Loss


template <typename T>
double taylor_objective(TaylorBatch<T>& batch, const std::vector<double>& y, int64_t n_fit,
                        const DistMatrix<double>& w, int64_t step, DistMatrix<double>* grad, double bias,
                        double* bias_grad) {
  const TaylorOptions& opt = batch.model().options();
  const std::vector<double>& f = batch.outputs(w, step, bias);
  const double fit_sq = squared_errors(batch, f, y, n_fit).first;
  const Penalty pen = penalty(opt, w);
  const double loss = fit_sq / (2.0 * static_cast<double>(n_fit)) + pen.value;
  if (!grad && !bias_grad) return loss;

  std::vector<double> c(f.size(), 0.0);
  const auto& samples = batch.samples();
  for (size_t li = 0; li < f.size(); ++li)
    if (samples[li] < n_fit) c[li] = (f[li] - y[static_cast<size_t>(samples[li])]) / static_cast<double>(n_fit);
  if (bias_grad) {  // dL/dc = sum_i c_i; ranks of one grid row hold the same samples: sum down a grid column
    double part = 0;
    for (double v : c) part += v;
    boost::mpi::all_reduce(batch.inputs().grid().col_comm(), part, *bias_grad, std::plus<double>());
  }
  if (!grad) return loss;
  batch.backward(c, *grad);

  // d/dw_r of lambda N^{k/4}, N = sum_r |w_r|^4: lambda k N^{k/4 - 1} |w_r|^2 w_r; of (wd/2)|W|^2: wd w_r.
  const double reg = opt.regularizer > 0 && pen.norm4 > 0
                         ? opt.regularizer * opt.reg_power * std::pow(pen.norm4, opt.reg_power / 4.0 - 1.0)
                         : 0.0;
  if (reg != 0.0 || opt.weight_decay != 0.0)
    for (int64_t lj = 0; lj < grad->local_cols(); ++lj)
      for (int64_t li = 0; li < grad->local_rows(); ++li)
        grad->local(li, lj) += (reg * pen.unit_sq[li] + opt.weight_decay) * w.local(li, lj);
  return loss;
}

template double taylor_objective(TaylorBatch<double>&, const std::vector<double>&, int64_t, const DistMatrix<double>&,
                                 int64_t, DistMatrix<double>*, double, double*);
template double taylor_objective(TaylorBatch<float>&, const std::vector<double>&, int64_t, const DistMatrix<double>&,
                                 int64_t, DistMatrix<double>*, double, double*);

// ---------------------------------------------------------------------------
// Training

template <typename T>
TaylorTrainer<T>::TaylorTrainer(const LearnerData& data, const TaylorOptions& options,
                                const RandomStreams& streams, const ProcessGrid& grid)
    : data_(data), options_(options), model_(options, data.u_train.cols(), streams, grid),
      train_(model_, data.u_train), test_(model_, data.u_test),
      n_fit_(data.u_train.rows() - validation_size(options.validation_fraction, data.u_train.rows())) {
  if (static_cast<int64_t>(data.y_train.size()) != data.u_train.rows() ||
      static_cast<int64_t>(data.f_test.size()) != data.u_test.rows())
    throw RuntimeError("TaylorTrainer: labels and inputs differ in length");
}

template <typename T>
TrainerState TaylorTrainer<T>::initial_state() const {
  return TrainerState(model_.initial_movement());
}

template <typename T>
void TaylorTrainer<T>::evaluate(TrainerState& s) {
  const int64_t n = train_.size(), n_val = n - n_fit_, nt = test_.size();
  const double var = data_.target_variance;
  const auto [fit_sq, val_sq] =
      squared_errors(train_, train_.outputs(s.w, kEvaluationSigns, s.bias), data_.y_train, n_fit_);
  const double test_sq =
      squared_errors(test_, test_.outputs(s.w, kEvaluationSigns, s.bias), data_.f_test, nt).first;
  const Penalty pen = penalty(options_, s.w);
  s.flops += train_.pass_flops() + test_.pass_flops();

  // The reductions above run per grid column and may differ in the last bit
  // between columns; the curve decides divergence, the best evaluation and
  // early stopping (and is written to the file): rank 0's values for all.
  const std::vector<double> point = from_rank0(
      model_.grid().comm(),
      std::vector<double>{fit_sq / (2.0 * static_cast<double>(n_fit_)) + pen.value, fit_sq / static_cast<double>(n_fit_) / var,
                          n_val > 0 ? val_sq / static_cast<double>(n_val) / var : std::nan(""),
                          test_sq / static_cast<double>(nt) / var, std::pow(pen.norm4, 0.25)});
  TrainingCurve& c = s.curve;
  c.step.push_back(static_cast<double>(s.step));
  c.train_loss.push_back(point[0]);
  c.train_error.push_back(point[1]);
  c.validation_error.push_back(point[2]);
  c.test_error.push_back(point[3]);
  c.weight_norm.push_back(point[4]);
  const int64_t e = static_cast<int64_t>(c.step.size()) - 1;

  // Judged on the training loss and the validation error, never on the test error.
  if (on_any_rank(model_.grid().comm(), !std::isfinite(c.train_loss.back()) ||
                                     (n_val > 0 && !std::isfinite(c.validation_error.back())))) {
    s.diverged = s.finished = true;
    return;
  }
  // Without validation the latest evaluation is the reported one.
  if (n_val == 0 || s.best_evaluation < 0 || c.validation_error[e] < c.validation_error[s.best_evaluation]) {
    s.best_evaluation = e;
    s.best_w = s.w;
    s.best_bias = s.bias;
    s.evaluations_since_best = 0;
  } else if (++s.evaluations_since_best >= options_.patience && options_.patience > 0) {
    s.stopped_early = s.finished = true;
  }
}

template <typename T>
void TaylorTrainer<T>::run(TrainerState& s, const StepHook& hook) {
  const auto t0 = std::chrono::steady_clock::now();
  DistMatrix<double> grad = model_.zero_movement();
  const double mu = options_.momentum;
  const int64_t last = options_.stop_step >= 0 ? std::min(options_.stop_step, options_.steps) : options_.steps;
  while (!s.finished) {
    const int64_t t = s.step;
    if (t % options_.eval_every == 0 || t >= last) {
      evaluate(s);
      if (s.finished) break;
    }
    if (t >= last) {
      s.finished = true;
      break;
    }
    double bias_grad = 0;
    const double loss = taylor_objective(train_, data_.y_train, n_fit_, s.w, t, &grad, s.bias,
                                         options_.output_bias ? &bias_grad : nullptr);
    s.flops += 2.0 * train_.pass_flops();
    if (on_any_rank(model_.grid().comm(), !std::isfinite(loss))) {
      evaluate(s);  // the curve shows where it happened
      s.diverged = s.finished = true;
      break;
    }
    const double eta = learning_rate_at(options_, t);
    for (int64_t lj = 0; lj < grad.local_cols(); ++lj)
      for (int64_t li = 0; li < grad.local_rows(); ++li) {
        double& v = s.velocity.local(li, lj);
        v = mu * v + grad.local(li, lj);
        s.w.local(li, lj) -= eta * v;
      }
    if (options_.output_bias) {
      s.bias_velocity = mu * s.bias_velocity + bias_grad;
      s.bias -= eta * s.bias_velocity;
    }
    s.step = t + 1;
    if (hook) hook(s);
  }
  s.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <typename T>
FitResult TaylorTrainer<T>::result(const TrainerState& s) const {
  FitResult r;
  const ProcessGrid& grid = model_.grid();
  boost::mpi::all_reduce(grid.comm(), s.seconds, r.seconds, boost::mpi::maximum<double>());
  r.flops = s.flops;
  const TrainingCurve& c = s.curve;
  // A diverged run keeps the evaluation its validation split chose before; without a split it has none.
  const bool validated = n_fit_ < train_.size();
  const bool have = s.best_evaluation >= 0 && (!s.diverged || validated);
  r.status = !s.diverged ? "ok" : have ? "diverged-after-best" : "diverged";
  const size_t e = have ? static_cast<size_t>(s.best_evaluation) : 0;
  if (options_.require_converged && have && !optimisation_converged(c, e, s.step)) r.status = "not-converged";
  const double nan = std::nan("");
  r.train_error = have ? c.train_error[e] : nan;
  r.test_error = have ? c.test_error[e] : nan;
  r.extra["m"] = static_cast<double>(options_.width);
  r.extra["learning_rate"] = options_.learning_rate;
  r.extra["regularizer"] = options_.regularizer;
  r.extra["steps_run"] = static_cast<double>(s.step);
  r.extra["best_step"] = have ? c.step[e] : nan;
  r.extra["validation_error"] = have ? c.validation_error[e] : nan;
  r.extra["weight_norm"] = have ? c.weight_norm[e] : nan;
  if (options_.output_bias) r.extra["output_bias"] = have ? s.best_bias : nan;
  return r;
}

template class TaylorTrainer<double>;
template class TaylorTrainer<float>;

FitResult train_taylor(const LearnerData& data, const TaylorOptions& options, const RandomStreams& streams,
                       const ProcessGrid& grid, TrainingCurve* curve, const StepHook& hook) {
  return with_taylor_precision(options, [&](auto precision) {
    TaylorTrainer<decltype(precision)> trainer(data, options, streams, grid);
    TrainerState state = trainer.initial_state();
    trainer.run(state, hook);
    if (curve) *curve = state.curve;
    return trainer.result(state);
  });
}

}  // namespace neurep
