// The PBLAS/ScaLAPACK operations neurep uses, typed over DistMatrix.
// All functions are collective over the matrices' grid. Breakdown of a
// factorisation is a returned `info`, never an exception; argument errors
// (info < 0) throw RuntimeError.
#pragma once

#include <optional>
#include <type_traits>
#include <vector>

#include "neurep/dist_matrix.hpp"

namespace neurep::linalg {

enum class Op { N, T };

// C = alpha op(A) op(B) + beta C.
template <typename T>
void gemm(Op opa, Op opb, T alpha, const DistMatrix<T>& a, const DistMatrix<T>& b, T beta,
          DistMatrix<T>& c);

// Lower triangle of C = alpha A A^T + beta C (A is n x k), or with op = T of
// C = alpha A^T A + beta C (A is k x n): half the flops of the gemm.
template <typename T>
void syrk_lower(T alpha, const DistMatrix<T>& a, T beta, DistMatrix<T>& c, Op op = Op::N);

// Cholesky of the lower triangle, in place. Returns ScaLAPACK's info
// (> 0: the leading minor of that order is not positive definite).
template <typename T>
int potrf_lower(DistMatrix<T>& a);

// Solves A X = B with the factor from potrf_lower; B is overwritten by X.
template <typename T>
void potrs_lower(const DistMatrix<T>& factor, DistMatrix<T>& b);

// Eigendecomposition of the symmetric matrix whose lower triangle is in `a`
// (destroyed): eigenvalues ascending in `w` (on every rank, widened to
// double), eigenvectors in `z`. Returns info.
template <typename T>
int syevd_lower(DistMatrix<T>& a, std::vector<double>& w, DistMatrix<T>& z);

// The routines above exist for T = double (pd*, d*) and T = float (ps*, s*).

}  // namespace neurep::linalg

namespace neurep::linalg {

// The whole matrix, column-major, on every rank. Collective; for small
// matrices, diagnostics and tests.
template <typename T>
std::vector<double> gather_all(const DistMatrix<T>& a);

// Column j of the matrix on every rank. Collective.
template <typename T>
std::vector<double> gather_column(const DistMatrix<T>& a, int64_t j);

// Sets every column of `a` to the replicated vector v (length a.rows()),
// rounded to a's type. Local.
template <typename T>
void fill_columns(DistMatrix<T>& a, const std::vector<double>& v);

// Adds `shift` to the diagonal (in double, then rounded to a's type). Local.
template <typename T>
void add_to_diagonal(DistMatrix<T>& a, double shift);

// Copies the leading min(a.cols(), b.cols()) columns of `a` into `b`, which
// has a's rows, blocks and grid (where a column lives does not depend on how
// many columns follow it, so this is a local copy). Local.
template <typename T>
void copy_leading_columns(const DistMatrix<T>& a, DistMatrix<T>& b);

// b <- a entry by entry, rounded to b's type; a and b have the same shape,
// blocks and grid (so this is a local copy). Local, threaded.
template <typename To, typename From>
void convert(const DistMatrix<From>& a, DistMatrix<To>& b) {
  const int64_t lr = a.local_rows(), lc = a.local_cols();
#pragma omp parallel for schedule(static) if (lr * lc >= (int64_t(1) << 22))
  for (int64_t lj = 0; lj < lc; ++lj)
    for (int64_t li = 0; li < lr; ++li) b.local(li, lj) = static_cast<To>(a.local(li, lj));
}

// `a` in precision To, consuming it: `a` itself when the types agree, else a
// copy rounded (or widened) entry by entry, `a` being released on return --
// so a product can change precision without both copies outliving the call.
// Local, threaded.
template <typename To, typename From>
DistMatrix<To> converted(DistMatrix<From> a) {
  if constexpr (std::is_same_v<To, From>) {
    return a;
  } else {
    auto b = DistMatrix<To>::uninitialized(a.grid(), a.rows(), a.cols(), a.row_block(), a.col_block());
    convert(a, b);
    return b;
  }
}

// Rows [first, first + count) of `a` as a matrix of their own, with a's
// blocks and grid. Where `first` is a multiple of a.row_block() * grid rows
// the rows are whole local blocks, at local offset first / grid rows, and
// this is a local copy; elsewhere ScaLAPACK redistributes them (p?gemr2d).
// Collective.
template <typename T>
DistMatrix<T> copy_rows(const DistMatrix<T>& a, int64_t first, int64_t count);

// A double matrix in precision T: the matrix itself when T is double, else a
// rounded copy (linalg::convert) that lives as long as this object -- how a
// single-precision path runs its products on float copies of double inputs
// while the double path copies nothing. Local.
template <typename T>
class Rounded {
 public:
  explicit Rounded(const DistMatrix<double>& a) : a_(&a) {
    if constexpr (!std::is_same_v<T, double>) {
      copy_.emplace(DistMatrix<T>::uninitialized(a.grid(), a.rows(), a.cols(), a.row_block(), a.col_block()));
      convert(a, *copy_);
    }
  }
  const DistMatrix<T>& operator*() const {
    if constexpr (std::is_same_v<T, double>) return *a_;
    else return *copy_;
  }

 private:
  const DistMatrix<double>* a_;
  std::optional<DistMatrix<T>> copy_;
};

}  // namespace neurep::linalg

namespace neurep::linalg {

// C = alpha A B + beta C with A symmetric, given by its lower triangle
// (the upper one is never read). Collective. (Issue 17: mixed-precision residuals.)
void symm_lower(double alpha, const DistMatrix<double>& a, const DistMatrix<double>& b, double beta,
                DistMatrix<double>& c);

// The basic least-squares solution of min |A x - b| (A m x k, m >= k; b
// m x 1) by QR with column pivoting, A P = Q R (pdgeqpf, pdormqr, pdtrtrs;
// LAPACK dgeqp3, dormqr, dtrtrs on one process): the numerical rank r counts
// the |R_ii| above rcond |R_11|; R_11 x_1 = (Q^T b)_1 gives the coefficients
// of the r pivot columns and the others are 0. For a full-rank A it is the
// least-squares solution; for a rank-deficient one the fit on the rows of A
// is still the projection of b on A's columns. A and b are overwritten. The
// numbers are rank 0's on every rank (the rank decides the solve). Collective.
struct LeastSquares {
  std::vector<double> x;           // k coefficients, in A's column order
  int64_t rank = 0;                // r
  std::vector<double> r_diagonal;  // |R_ii|, in pivot order (non-increasing)
};
LeastSquares least_squares(DistMatrix<double>& a, DistMatrix<double>& b, double rcond);

// The diagonal of `a` (min(rows, cols) entries) on every rank. Collective.
std::vector<double> diagonal(const DistMatrix<double>& a);

// Rows `rows` (global indices, any order) of `a` as a matrix of their own,
// with a's blocks and grid: copy_rows for a contiguous range, else the rows
// are summed onto every rank (|rows| x a.cols() words). Collective.
DistMatrix<double> select_rows(const DistMatrix<double>& a, const std::vector<int64_t>& rows);

}  // namespace neurep::linalg
