// Kernel ridge regression (DESIGN 1.3): (K + n lambda' I) alpha = y with
// lambda' = lambda * mean(diag K), f(u) = sum_i alpha_i K(u, u_i).
//
// The kernel is an outer inner-product kernel (kernels.hpp) applied to an
// inner Gram matrix supplied by a GramSource: U U^T for raw inputs or finite
// representations, the closed-form K_h for the infinite-width representation.
// By default one Cholesky (pdpotrf/pdpotrs) per ridge, with growing jitter
// if K is not numerically positive definite. With solver = Eigen or
// leave-one-out: one eigendecomposition (pdsyevd) serves all ridges and gives
// exact leave-one-out errors for choosing a ridge on the training set alone;
// on few cores it costs as much as 50-100 factorisations (bench/RESULTS.md).
// solver = Mixed: a float factorisation refined to double accuracy
// (kernel_solver_mixed.hpp); solver = Pcg: matrix-free preconditioned conjugate
// gradients, K never stored (kernel_solver_pcg.hpp).
// Test predictions for all ridges are one pdgemm per block of test rows; the
// blocks are at most n rows, so the test kernel never needs more memory than
// K did. In single precision the same
// path runs on float storage (ps* routines; KernelRegressionOptions).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "neurep/kernels.hpp"
#include "neurep/learner.hpp"

namespace neurep {

// Inner products between samples, as the outer kernel's arguments, stored
// in double or, for run.precision = "single", in float (computed by float
// PBLAS products on float copies of the inputs).
class GramSource {
 public:
  virtual ~GramSource() = default;
  virtual int64_t n_train() const = 0;
  virtual int64_t n_test() const = 0;
  // K(i, j) for training samples; at least the lower triangle. Collective.
  virtual void train_gram(DistMatrix<double>& k) const = 0;
  virtual void train_gram(DistMatrix<float>& k) const = 0;
  // K(i, j) for test sample i and training sample j. Collective.
  template <typename T>
  void test_gram(DistMatrix<T>& k) const { test_gram_rows(k, 0); }
  // Rows [first, first + k.rows()) of the test Gram, so that kernel
  // regression can predict in row blocks without holding all of it (kernel
  // regression starts them at multiples of k.row_block() * grid rows, where
  // linalg::copy_rows is a local copy). Collective.
  virtual void test_gram_rows(DistMatrix<double>& k, int64_t first) const = 0;
  virtual void test_gram_rows(DistMatrix<float>& k, int64_t first) const = 0;
  // K(i, i) for the training and the test samples (of the double inputs), replicated. Collective.
  virtual std::vector<double> train_diagonal() const = 0;
  virtual std::vector<double> test_diagonal() const = 0;
  // Flops of one train_gram + test_gram (for the flop count of a point).
  virtual double flops() const = 0;
  // Rows `rows` (global training indices) of the training Gram against the
  // first k.cols() training samples (all of them or a prefix), k being
  // rows.size() x k.cols(); the diagonal entries (rows[i], rows[i]) may differ
  // from train_gram's by rounding. For the matrix-free solver
  // (kernel_solver_pcg.hpp); InputError where a source has none. Collective.
  virtual void train_gram_rows(DistMatrix<double>& k, const std::vector<int64_t>& rows) const;
};

// A GramSource whose two precisions are one member template each of Derived,
//   template <typename T> void train(DistMatrix<T>& k) const;
//   template <typename T> void test_rows(DistMatrix<T>& k, int64_t first) const;
// instantiated for T = double and float (one code path, not two copies).
template <typename Derived>
class TypedGramSource : public GramSource {
 public:
  void train_gram(DistMatrix<double>& k) const final { self().train(k); }
  void train_gram(DistMatrix<float>& k) const final { self().train(k); }
  void test_gram_rows(DistMatrix<double>& k, int64_t first) const final { self().test_rows(k, first); }
  void test_gram_rows(DistMatrix<float>& k, int64_t first) const final { self().test_rows(k, first); }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

// G = U U^T by PBLAS (syrk for the training Gram, gemm for the test one).
class FeatureGram : public TypedGramSource<FeatureGram> {
 public:
  FeatureGram(const DistMatrix<double>& u_train, const DistMatrix<double>& u_test)
      : u_train_(u_train), u_test_(u_test) {}
  int64_t n_train() const override { return u_train_.rows(); }
  int64_t n_test() const override { return u_test_.rows(); }
  template <typename T>
  void train(DistMatrix<T>& k) const;
  template <typename T>
  void test_rows(DistMatrix<T>& k, int64_t first) const;
  std::vector<double> train_diagonal() const override;
  std::vector<double> test_diagonal() const override;
  double flops() const override;
  void train_gram_rows(DistMatrix<double>& k, const std::vector<int64_t>& rows) const override;

 private:
  const DistMatrix<double>& u_train_;
  const DistMatrix<double>& u_test_;
};

struct KernelRegressionOptions {
  KernelKind kernel = KernelKind::Ntk;
  std::vector<double> ridges{1e-6};
  KernelSolver solver = KernelSolver::Auto;
  // Leave-one-out validation of every ridge, exact and almost free from the
  // eigendecomposition (which it therefore implies): each row gets the LOO
  // error in extra["validation_error"], and extra["selected"] = 1 on the ridge with
  // the smallest one (0 on the others).
  bool leave_one_out = false;
  int block = 128;
  // run.precision = "single": the Gram, K (and the test kernel), its
  // factorisation (Cholesky or eigendecomposition), the coefficients and the
  // predictions stored and computed in float -- half the memory of K, so
  // twice the n^2 fits; the kernel map's arithmetic, the error sums and every
  // reported number stay double.
  bool single_precision = false;
  // solver = Mixed or Pcg: stop at this relative residual, after at most
  // max_iterations; Pcg: the Nystrom preconditioner's rank and the seed of
  // its landmarks. Each row gets extra["residual"] and extra["iterations"]
  // (Pcg also extra["preconditioner_rank"], the rank it reached).
  IterativeSolverConfig iterative{1e-10, 1000, 256};
  uint64_t seed = 0;
  // Pcg: where its state is checkpointed and an earlier run's is found (null:
  // nowhere), and which fit of the point this is (0: all n, 1: the refit of
  // ridge_selection = "validation").
  PointCheckpoints* checkpoints = nullptr;
  int fit = 0;
  // Pcg: called on every rank after each iteration (the run's progress), or empty.
  EvaluationObserver on_evaluation = {};
};

// Fits one model per ridge and returns a row each (ridge, errors, status;
// seconds and flops of the whole point on every row). Collective.
std::vector<FitResult> kernel_regression(const GramSource& gram, const std::vector<double>& y_train,
                                         const std::vector<double>& f_test, double target_variance,
                                         const KernelRegressionOptions& options,
                                         const ProcessGrid& grid);

}  // namespace neurep
