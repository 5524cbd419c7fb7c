#include "neurep/kernel_learner.hpp"

#include <algorithm>
#include <cmath>

#include "neurep/empirical_ntk.hpp"
#include "neurep/infinite_gram.hpp"
#include "neurep/kernel_regression.hpp"
#include "neurep/kernel_solver.hpp"
#include "neurep/linalg.hpp"
#include "neurep/taylor.hpp"

namespace neurep {
namespace {

class KernelLearner : public Learner {
 public:
  explicit KernelLearner(const Config& c)
      : k_(*c.learner.kernel()), validation_fraction_(c.learner.validation_fraction), block_(c.run.block),
        single_(c.run.precision == Precision::Single), seed_(static_cast<uint64_t>(c.run.seed)) {}

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
    // A block of kernel rows and one of test rows (at most kMatrixFreeBlockWords
    // per rank each) and the CG vectors, replicated (F is in memory_words).
    const double nn = static_cast<double>(n);
    return 2.0 * static_cast<double>(kMatrixFreeBlockWords) + 8.0 * nn;
  }

  double cost(int, int64_t n, int64_t n_test) const override {
    return std::pow(static_cast<double>(n), 3) / 3.0 + 2.0 * static_cast<double>(n * n_test) * 64;
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
};

}  // namespace

std::unique_ptr<Learner> make_kernel_learner(const Config& config) { return std::make_unique<KernelLearner>(config); }

}  // namespace neurep
