// The PBLAS/ScaLAPACK operations neurep uses, typed over DistMatrix.
// All functions are collective over the matrices' grid. Breakdown of a
// factorisation is a returned `info`, never an exception; argument errors
// (info < 0) throw RuntimeError.
#pragma once

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
void syrk_lower(double alpha, const DistMatrix<double>& a, double beta, DistMatrix<double>& c, Op op = Op::N);

// Cholesky of the lower triangle, in place. Returns ScaLAPACK's info
// (> 0: the leading minor of that order is not positive definite).
int potrf_lower(DistMatrix<double>& a);

// Solves A X = B with the factor from potrf_lower; B is overwritten by X.
void potrs_lower(const DistMatrix<double>& factor, DistMatrix<double>& b);

// Eigendecomposition of the symmetric matrix whose lower triangle is in `a`
// (destroyed): eigenvalues ascending in `w` (on every rank), eigenvectors in `z`.
// Returns info.
int syevd_lower(DistMatrix<double>& a, std::vector<double>& w, DistMatrix<double>& z);

}  // namespace neurep::linalg

namespace neurep::linalg {

// The whole matrix, column-major, on every rank. Collective; for small
// matrices, diagnostics and tests.
std::vector<double> gather_all(const DistMatrix<double>& a);

// Column j of the matrix on every rank. Collective.
std::vector<double> gather_column(const DistMatrix<double>& a, int64_t j);

// Sets every column of `a` to the replicated vector v (length a.rows()). Local.
void fill_columns(DistMatrix<double>& a, const std::vector<double>& v);

// Adds `shift` to the diagonal. Local.
void add_to_diagonal(DistMatrix<double>& a, double shift);

// Copies the leading min(a.cols(), b.cols()) columns of `a` into `b`, which
// has a's rows, blocks and grid (where a column lives does not depend on how
// many columns follow it, so this is a local copy). Local.
void copy_leading_columns(const DistMatrix<double>& a, DistMatrix<double>& b);

// b <- a entry by entry, rounded to b's type; a and b have the same shape,
// blocks and grid (so this is a local copy). Local, threaded.
template <typename To, typename From>
void convert(const DistMatrix<From>& a, DistMatrix<To>& b) {
  const int64_t lr = a.local_rows(), lc = a.local_cols();
#pragma omp parallel for schedule(static) if (lr * lc >= (int64_t(1) << 22))
  for (int64_t lj = 0; lj < lc; ++lj)
    for (int64_t li = 0; li < lr; ++li) b.local(li, lj) = static_cast<To>(a.local(li, lj));
}

// Rows [first, first + count) of `a` as a matrix of their own, with a's
// blocks and grid. Where `first` is a multiple of a.row_block() * grid rows
// the rows are whole local blocks, at local offset first / grid rows, and
// this is a local copy; elsewhere ScaLAPACK redistributes them (pdgemr2d).
// Collective.
DistMatrix<double> copy_rows(const DistMatrix<double>& a, int64_t first, int64_t count);

}  // namespace neurep::linalg
