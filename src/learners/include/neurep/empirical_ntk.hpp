// The empirical NTK (DESIGN 1.3, kernel = "empirical-ntk"): the tangent kernel
// of the finite network at its initialisation,
//   K(u, u') = (1/m) sum_r sigma'(w0_r.u) sigma'(w0_r.u') <u, u'>  =  (S S^T/m) o (U U^T),
// with the same W_0 as learner.kind = "taylor" (taylor.hpp). It is exactly the
// kernel of the order-1 Taylor model, whose gradient descent from W = 0
// converges to the ridgeless solution of this kernel regression.
//
// It is a GramSource whose Gram already is the full kernel: use it with the
// `linear` outer kernel. S = sigma'(U W_0^T) is kept for the training and test
// samples (n x m and n_test x m, samples along grid rows, units along grid columns).
#pragma once

#include "neurep/kernel_regression.hpp"
#include "neurep/taylor.hpp"

namespace neurep {

class EmpiricalNtkGram : public TypedGramSource<EmpiricalNtkGram> {
 public:
  // Collective: S for both sets (two pdgemm). Keeps references to the inputs.
  EmpiricalNtkGram(const TaylorModel& model, const DistMatrix<double>& u_train,
                   const DistMatrix<double>& u_test);

  int64_t n_train() const override { return u_train_.rows(); }
  int64_t n_test() const override { return u_test_.rows(); }
  // In T: float products on float copies of S and U in single precision.
  template <typename T>
  void train(DistMatrix<T>& k) const;  // syrk, then U U^T by column panels
  template <typename T>
  void test_rows(DistMatrix<T>& k, int64_t first) const;  // two gemm
  std::vector<double> train_diagonal() const override;
  std::vector<double> test_diagonal() const override;
  double flops() const override;

 private:
  std::vector<double> diagonal(const DistMatrix<double>& s, const DistMatrix<double>& u) const;

  double m_;
  const DistMatrix<double>& u_train_;
  const DistMatrix<double>& u_test_;
  DistMatrix<double> s_train_, s_test_;
};

}  // namespace neurep
