// The kernel learner's Gram source for the infinite-width representation:
// the closed-form K_h of representation_kernel.hpp on the raw inputs. It
// lives with the learners (it is what kernel regression consumes), so the
// representation layer does not depend on kernel regression.
#pragma once

#include <vector>

#include "neurep/kernel_regression.hpp"
#include "neurep/representation_kernel.hpp"

namespace neurep {

// The Gram source of a kernel learner on the infinite-width representation:
// the (centred) K_h of the raw inputs, plus 1 for the learner's constant
// coordinate (h.h' + 1, as for finite features with input_bias).
class InfiniteGram : public TypedGramSource<InfiniteGram> {
 public:
  // u_train, u_test: the raw inputs, n x d or n x (d + 1) with the learner's
  // constant column last (what Representation::inputs returns for an
  // infinite representation). Collective. `kernel` must outlive this object.
  InfiniteGram(const InfiniteKernel& kernel, const DistMatrix<double>& u_train, const DistMatrix<double>& u_test);

  int64_t n_train() const override { return x_train_.rows(); }
  int64_t n_test() const override { return x_test_.rows(); }
  // The raw inner products by syrk/gemm in T (float copies of x in single
  // precision), then K entrywise in double arithmetic, stored as T.
  template <typename T>
  void train(DistMatrix<T>& k) const;
  template <typename T>
  void test_rows(DistMatrix<T>& k, int64_t first) const;
  std::vector<double> train_diagonal() const override;
  std::vector<double> test_diagonal() const override;
  double flops() const override;
  void train_gram_rows(DistMatrix<double>& k, const std::vector<int64_t>& rows) const override;

 private:
  // K(i, j) from the raw inner product, in place on the local entries.
  template <typename T>
  void map(DistMatrix<T>& g, const std::vector<double>& sq_row, const std::vector<double>& m_row,
           const std::vector<double>& sq_col, const std::vector<double>& m_col, bool lower_only) const;
  std::vector<double> diagonal(const std::vector<double>& sq, const std::vector<double>& m) const;

  const InfiniteKernel& kernel_;
  DistMatrix<double> x_train_, x_test_;
  double constant_ = 0;
  std::vector<double> sq_train_, sq_test_, m_train_, m_test_;
};

}  // namespace neurep
