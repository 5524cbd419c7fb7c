#include "neurep/kernel_learner.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include "neurep/empirical_ntk.hpp"
#include "neurep/infinite_gram.hpp"
#include "neurep/kernel_regression.hpp"
#include "neurep/kernel_solver.hpp"
#include "neurep/kernel_solver_pcg.hpp"
#include "neurep/linalg.hpp"
#include "neurep/taylor.hpp"

namespace neurep {
namespace {

class KernelLearner : public Learner {
 public:
  explicit KernelLearner(const Config& c)
      : k_(*c.learner.kernel()), validation_fraction_(c.learner.validation_fraction), block_(c.run.block),
        single_(c.run.precision == Precision::Single), seed_(static_cast<uint64_t>(c.run.seed)),
        input_bias_(c.learner.input_bias) {
    const RandomRepresentationConfig* r = c.representation.random();
    infinite_ = r && r->infinite;
    if (r && !r->infinite) width_ = [w = r->width](int d) { return w.at(d); };
  }

  std::string label() const override { return "kernel:" + name_of(k_.kernel); }
  GridWork grid_work() const override { return GridWork::Square; }

  double memory_words(int, int64_t n, int64_t n_test) const override {
    // K; or for the eigendecomposition K, its eigenvectors and pdsyevd's
    // workspace (2 local n x n blocks: LWORK >= 1 + 6n + 2 np nq). The test
    // kernel (at most min(n_test, n) x n) only lives once K has been freed.
    const bool eigen = k_.solver == KernelSolver::Eigen || k_.ridge_selection == RidgeSelection::LeaveOneOut;
    const double nn = static_cast<double>(n), nt = static_cast<double>(n_test);
    if (k_.solver == KernelSolver::Mixed) return nn * nn * 1.5 + std::min(nt, nn) * nn;  // K in double beside its float copy
    if (k_.solver == KernelSolver::Pcg)  // K is never stored; F (n x r), distributed by rows; the rest: rank_words
      return nn * static_cast<double>(k_.iterative.preconditioner_rank);
    return (nn * nn * (eigen ? 4.0 : 1.0) + std::min(nt, nn) * nn) * (single_ ? 0.5 : 1.0);
  }

  double rank_words(int, int64_t n, int64_t) const override {
    if (k_.solver != KernelSolver::Pcg) return 0;
    // One block of kernel rows at a time (the training products' and, after
    // them, the test predictions': never both), at most kMatrixFreeBlockWords
    // per rank and at most all n padded rows, and the CG vectors, replicated
    // (F, distributed by rows, is in memory_words).
    const double nn = static_cast<double>(n), rows = std::ceil(nn / block_) * block_;
    return std::min(static_cast<double>(kMatrixFreeBlockWords), rows * nn) + 8.0 * nn;
  }

  Cost cost(int d, int64_t n, int64_t n_test) const override {
    Cost c = fit_cost(d, static_cast<double>(n), static_cast<double>(n_test));
    if (k_.ridge_selection == RidgeSelection::Validation) {
      const double v = static_cast<double>(validation_size(validation_fraction_, n));
      c += fit_cost(d, static_cast<double>(n) - v, v);
    }
    c.calls += kPointCalls;
    return c;
  }

  // CG iterations a pcg point is planned with: at most max_iterations, else
  // a number per decade of the tolerance (at least one decade) by the
  // preconditioner's rank, the most any ridge needed in the runs of
  // bench/RESULTS.md (NTK on x, d = 16-32, ridges 1e-6 and 1e-3; they grow
  // slowly with n): rank >= 1024: 23 at 1e-10, 21 and 26 at 1e-8, so 3 per
  // decade; rank >= 256: 32-39 at 1e-10 (n = 2048-8192), so 4; rank >= 64:
  // 100 at 1e-10, so 10; below 64 (and none): 140 at 1e-10, so 14.
  int64_t expected_iterations() const {
    const int64_t r = k_.iterative.preconditioner_rank;
    const double per_decade = r >= 1024 ? 3.0 : r >= 256 ? 4.0 : r >= 64 ? 10.0 : 14.0;
    const double decades = std::max(1.0, -std::log10(k_.iterative.tolerance));
    return std::min<int64_t>(k_.iterative.max_iterations, static_cast<int64_t>(std::ceil(per_decade * decades)));
  }

  bool selects_rows() const override { return k_.ridge_selection == RidgeSelection::Validation; }

  PointOutputs fit(const PointInputs& in, PointCheckpoints& checkpoints) const override {
    const LearnerData& data = in.data;
    PointOutputs out;
    out.rows = fit_kernel(in, checkpoints, 0, data.u_train, data.y_train, data.u_test, data.f_test);
    if (k_.ridge_selection == RidgeSelection::Validation) {
      // Every ridge refitted on the first n - v training points and scored on
      // the last v; the test errors stay those of the fits on all n.
      const DistMatrix<double>& u = data.u_train;
      const std::vector<double>& y = data.y_train;
      const int64_t n = u.rows(), v = validation_size(validation_fraction_, n);
      const std::vector<double> y_fit(y.begin(), y.end() - v), y_val(y.end() - v, y.end());
      const auto val =
          fit_kernel(in, checkpoints, 1, linalg::copy_rows(u, 0, n - v), y_fit, linalg::copy_rows(u, n - v, v), y_val);
      for (size_t l = 0; l < out.rows.size(); ++l) {
        out.rows[l].extra["validation_error"] = val[l].test_error;
        out.rows[l].seconds += val[l].seconds;
        out.rows[l].flops += val[l].flops;
      }
    }
    return out;
  }

 private:
  // A point's fixed overheads (grid set-up, small ScaLAPACK calls, the commit
  // of its rows), in calls (cost.hpp).
  static constexpr double kPointCalls = 20;
  // `count` blocks of `entries` kernel entries each, products of inner
  // dimension q: a threaded call each for the product of the inputs and the
  // product with the coefficients, and two handovers where the map is
  // threaded (apply_kernel: from 2^14 entries; BLAS: above 262144 m n k).
  static Cost blocks(double count, double entries, double q) {
    Cost c;
    c.calls = count * ((entries * q > 262144.0 ? 1.0 : 0.0) + (entries > 262144.0 ? 1.0 : 0.0));
    c.handovers = entries >= 16384.0 ? 2.0 * count : 0.0;
    return c;
  }

  // Does the kernel map its inner products (not for the linear kernel)?
  bool maps() const { return k_.kernel != KernelKind::Linear; }

  // The work of one fit on n points scored at n_eval (kernel_regression):
  // the Gram (n^2 q flops, the lower triangle's n^2/2 map entries), the
  // solver's, the test kernel (2 n_eval n q flops, n_eval n entries) and the
  // predictions for every ridge. q: the Gram's inner dimension.
  Cost fit_cost(int d, double n, double n_eval) const {
    const double q = gram_dim(d), L = static_cast<double>(k_.ridges.size());
    const double entry_map = maps() ? 1.0 : 0.0, inner = gram_maps();
    Cost c;
    // The test kernel and the predictions, in blocks of at most n rows (for
    // pcg at most its block budget): per block the product of the inputs,
    // the map and the product with the coefficients (three calls; two
    // handovers between the threaded map and the products).
    c.flops += 2.0 * n_eval * n * (q + L);
    c.entries += n_eval * n * (entry_map + inner);
    c.elements += n_eval * n;
    const double unit = block_;
    double chunk = std::max(unit, std::floor(n / unit) * unit);
    if (solver() == KernelSolver::Pcg)
      chunk = std::min(chunk, std::max(unit, std::floor(static_cast<double>(kMatrixFreeBlockWords) / n / unit) * unit));
    c += blocks(std::ceil(n_eval / std::min(chunk, std::max(n_eval, 1.0))), std::min(chunk, n_eval) * n, q);
    // The Gram: its product and map (one block).
    c += blocks(1, n * n, q);
    const double entries_k = n * n / 2.0;  // K's lower triangle
    switch (solver()) {
      case KernelSolver::Pcg: {
        // The Nystrom preconditioner: r columns of K (n r entries), randomly
        // pivoted Cholesky on them (n r^2 flops), s I + F^T F per ridge.
        const double r = static_cast<double>(k_.iterative.preconditioner_rank), it = static_cast<double>(expected_iterations());
        c.flops += 2.0 * n * r * q + 2.0 * n * r * r + L * r * r * r / 3.0;
        c.entries += n * r * (entry_map + inner);
        // Each iteration: one product K X (X: a column per ridge) over the
        // blocks of rows of K's lower triangle (default_rows_per_block,
        // product_entries), each entry a product of the inputs (2q flops),
        // the map and two accumulations per ridge (4L flops). Memory-bound:
        // the entries at the measured rate of such a product (products,
        // cost.hpp: the outer kernel's map, the memory passes, the blocks'
        // calls and handovers), the flops at the DGEMM rate (which that rate
        // excludes); the infinite representation's inner map per entry; the
        // preconditioner's 4 n r flops per ridge; the vectors' element
        // operations; a reduction and a broadcast.
        const auto nn = static_cast<int64_t>(n);
        const double per_product =
            KernelOperator::product_entries(nn, KernelOperator::default_rows_per_block(nn, block_, 1, 1));
        c.flops += it * (per_product * (2.0 * q + 4.0 * L) + 4.0 * n * r * L);
        c.products += it * per_product;
        c.entries += it * per_product * inner;
        c.elements += it * 10.0 * n * L;
        c.calls += it * 4.0;  // the reduction, the broadcast, the preconditioner
        return c;
      }
      case KernelSolver::Mixed: {
        // K in double, its float copy factored (n^3/3 at twice the rate) per
        // ridge, refinement steps: a double residual K x (reads K: n^2
        // elements) and a float triangular solve pair (2 n^2 flops at
        // BLAS-2 speed: counted as elements).
        const double steps = static_cast<double>(std::min<int64_t>(k_.iterative.max_iterations, 3));
        c.flops += n * n * q + L * n * n * n / 6.0;
        c.entries += entries_k * (entry_map + inner);
        c.elements += n * n + L * (n * n + steps * 3.0 * n * n);
        return c;
      }
      case KernelSolver::Eigen:
        // pdsyevd on few cores: as much as 50-100 Cholesky factorisations
        // (learner.solver's documentation): 25 n^3, once for every ridge.
        c.flops += n * n * q + 25.0 * n * n * n;
        c.entries += entries_k * (entry_map + inner);
        c.elements += n * n + L * 2.0 * n * n;
        return c;
      default:
        // Cholesky: K kept, copied and factored per ridge (n^3/3), two
        // triangular solves (2 n^2, BLAS-2: counted as elements).
        c.flops += n * n * q + L * n * n * n / 3.0 * (single_ ? 0.5 : 1.0);
        c.entries += entries_k * (entry_map + inner);
        c.elements += n * n + L * 3.0 * n * n;
        return c;
    }
  }

  // The solver a point uses (auto: eigen for leave-one-out, else Cholesky; make_ridge_solver).
  KernelSolver solver() const {
    if (k_.solver == KernelSolver::Auto)
      return k_.ridge_selection == RidgeSelection::LeaveOneOut ? KernelSolver::Eigen : KernelSolver::Cholesky;
    return k_.solver;
  }

  // The inner dimension of the Gram's inner products at d: D of a finite
  // random representation, m q for the empirical NTK, else d; plus the
  // constant coordinate of learner.input_bias.
  double gram_dim(int d) const {
    const double bias = input_bias_ ? 1.0 : 0.0;
    if (k_.kernel == KernelKind::EmpiricalNtk)
      return static_cast<double>(k_.network.widths.front().at(d)) * (width_ ? static_cast<double>(width_(d)) : d + bias);
    return (width_ ? static_cast<double>(width_(d)) : d) + bias;
  }
  // Extra map evaluations per entry: the infinite-width representation's K_h
  // under the outer kernel.
  double gram_maps() const { return infinite_ ? 1.0 : 0.0; }

  // Kernel regression on (u_fit, y_fit), scored against f_eval at u_eval;
  // `fit` numbers the fits of a point for an iterative solver's checkpoints. Collective.
  std::vector<FitResult> fit_kernel(const PointInputs& in, PointCheckpoints& checkpoints, int fit,
                                    const DistMatrix<double>& u_fit,
                                    const std::vector<double>& y_fit, const DistMatrix<double>& u_eval,
                                    const std::vector<double>& f_eval) const {
    KernelRegressionOptions opt;
    opt.kernel = k_.kernel;
    opt.ridges = k_.ridges;
    opt.solver = k_.solver;
    opt.leave_one_out = k_.ridge_selection == RidgeSelection::LeaveOneOut;
    opt.block = block_;
    opt.single_precision = single_;
    opt.iterative = k_.iterative;
    opt.seed = seed_ ^ (static_cast<uint64_t>(in.d) << 32);  // pcg's landmarks
    opt.checkpoints = &checkpoints;
    opt.fit = fit;
    opt.on_evaluation = in.on_evaluation;
    const double variance = in.data.target_variance;
    if (k_.kernel == KernelKind::EmpiricalNtk) {  // W_0 of the order-1 network with learner.m, activation
      const TaylorModel model(network_options(k_.network, in.d, block_), u_fit.cols(), in.streams, in.grid);
      opt.kernel = KernelKind::Linear;  // the Gram already is the whole kernel
      auto rows = kernel_regression(EmpiricalNtkGram(model, u_fit, u_eval), y_fit, f_eval, variance, opt, in.grid);
      for (auto& r : rows) r.extra["m"] = static_cast<double>(model.width());
      return rows;
    }
    if (in.infinite_kernel)  // u = raw x, mapped through the closed-form K_h
      return kernel_regression(InfiniteGram(*in.infinite_kernel, u_fit, u_eval), y_fit, f_eval, variance, opt, in.grid);
    return kernel_regression(FeatureGram(u_fit, u_eval), y_fit, f_eval, variance, opt, in.grid);
  }

  KernelLearnerConfig k_;
  double validation_fraction_;
  int block_;
  bool single_;
  uint64_t seed_;  // run.seed
  bool input_bias_, infinite_;
  std::function<int64_t(int)> width_;  // D at d of a finite random representation, else empty
};

}  // namespace

std::unique_ptr<Learner> make_kernel_learner(const Config& config) { return std::make_unique<KernelLearner>(config); }

}  // namespace neurep
