#include "neurep/linalg.hpp"

#include <boost/mpi/datatype.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <type_traits>
#include <string>

#include "neurep/detail/scalapack_imports.hpp"
#include "neurep/agreement.hpp"
#include "neurep/errors.hpp"

namespace neurep {

int64_t local_extent(int64_t n, int nb, int iproc, int nprocs) {
  // NUMROC with isrcproc = 0, in 64-bit arithmetic.
  const int64_t nblocks = n / nb;
  int64_t extent = (nblocks / nprocs) * nb;
  const int64_t extra = nblocks % nprocs;
  if (iproc < extra)
    extent += nb;
  else if (iproc == extra)
    extent += n % nb;
  return extent;
}

std::array<int, 9> make_descriptor(const ProcessGrid& grid, int64_t m, int64_t n, int mb, int nb,
                                   int64_t lld) {
  constexpr int64_t kMax = 2147483647;
  if (m > kMax || n > kMax || lld > kMax || mb < 1 || nb < 1)
    throw RuntimeError(fmt::format("a {} x {} matrix (blocks {} x {}, lld {}) cannot be described "
                                   "to ScaLAPACK with 32-bit integers", m, n, mb, nb, lld));
  std::array<int, 9> desc{};
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ld = static_cast<int>(lld);
  const int zero = 0, ctxt = grid.blacs_context();
  int info = 0;
  descinit_(desc.data(), &mi, &ni, &mb, &nb, &zero, &zero, &ctxt, &ld, &info);
  if (info != 0) throw RuntimeError(fmt::format("descinit failed with info = {}", info));
  return desc;
}

}  // namespace neurep

// PBLAS asks pilaenv_ for the panel width k of the rank-k updates its
// pdgemm/pdsyrk are made of; the reference PBLAS hard-codes 32, which makes
// an n x m product re-read C every 32 columns of k and run memory-bound at
// about half the DGEMM rate (bench/RESULTS.md). Defined here, in the
// executable, it preempts the shared library's definition (ELF symbol
// interposition) -- the same change HPC installations patch into pilaenv.f.
// Every rank of a run uses the same value, as PBLAS requires.
extern "C" int pilaenv_(const int*, const char*) { return 256; }

namespace neurep {
namespace linalg {
namespace {
const char* op_char(Op op) { return op == Op::N ? "N" : "T"; }
void check_info(const char* routine, int info) {
  if (info < 0) throw RuntimeError(fmt::format("{}: argument {} is invalid", routine, -info));
}

// On a 1 x 1 grid the block-cyclic layout is LAPACK's column-major layout
// with leading dimension lld(), so the BLAS/LAPACK routine is called on the
// local array directly: PBLAS on one process still cuts products into panels
// that re-read C, and its triangular solve with one right-hand side takes
// ten times longer than dpotrs (bench/RESULTS.md). Same results up to
// reassociation; bit-identical from run to run, as the grid rule asks.
template <typename T>
bool one_process(const DistMatrix<T>& a) {
  return a.grid().size() == 1;
}

// The BLAS and PBLAS products of each precision.
void blas_gemm(const char* ta, const char* tb, const int* m, const int* n, const int* k, const double* alpha,
               const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c,
               const int* ldc) {
  dgemm_(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void blas_gemm(const char* ta, const char* tb, const int* m, const int* n, const int* k, const float* alpha,
               const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
               const int* ldc) {
  sgemm_(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void pgemr2d(const int* m, const int* n, const double* a, const int* ia, const int* ja, const int* desca, double* b,
             const int* ib, const int* jb, const int* descb, const int* ictxt) {
  pdgemr2d_(m, n, a, ia, ja, desca, b, ib, jb, descb, ictxt);
}
void pgemr2d(const int* m, const int* n, const float* a, const int* ia, const int* ja, const int* desca, float* b,
             const int* ib, const int* jb, const int* descb, const int* ictxt) {
  psgemr2d_(m, n, a, ia, ja, desca, b, ib, jb, descb, ictxt);
}
void pblas_gemm(const char* ta, const char* tb, const int* m, const int* n, const int* k, const double* alpha,
                const double* a, const int* desca, const double* b, const int* descb, const double* beta, double* c,
                const int* descc) {
  const int one = 1;
  pdgemm_(ta, tb, m, n, k, alpha, a, &one, &one, desca, b, &one, &one, descb, beta, c, &one, &one, descc);
}
void pblas_gemm(const char* ta, const char* tb, const int* m, const int* n, const int* k, const float* alpha,
                const float* a, const int* desca, const float* b, const int* descb, const float* beta, float* c,
                const int* descc) {
  const int one = 1;
  psgemm_(ta, tb, m, n, k, alpha, a, &one, &one, desca, b, &one, &one, descb, beta, c, &one, &one, descc);
}

// Scratch buffers of the row-grid products below, kept from call to call: a
// training step calls both products with the same sizes, and fresh
// multi-megabyte vectors every step cost their page faults and zeroing
// (bench/RESULTS.md). They grow to the largest product's needs. Local.
template <typename T>
T* scratch(int slot, size_t size) {
  thread_local std::vector<T> buffers[2];
  std::vector<T>& b = buffers[slot];
  if (b.size() < size) b.resize(size);
  return b.data();
}

// Copies rank p's local rows (lr x cols, leading dimension lr) to their
// global rows of `to` (leading dimension ld), or back with to_global =
// false: block-cyclic rows come in runs of mb consecutive global rows.
template <typename T>
void move_rows(T* local, T* global, int64_t lr, int64_t cols, int64_t ld, int p, int mb, int pr, bool to_global) {
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t li = 0; li < lr; li += mb) {
      T* l = local + li + j * lr;
      T* g = global + global_index(li, mb, p, pr) + j * ld;
      const int64_t len = std::min<int64_t>(mb, lr - li);
      if (to_global) std::copy(l, l + len, g);
      else std::copy(g, g + len, l);
    }
}

// On a Pr x 1 grid every rank holds whole rows of every matrix, and the
// two products of the Taylor models need no PBLAS panels:
//   C = A B^T (N,T): a local product with all of B, the small m x k factor,
//                    gathered once (Allgatherv);
//   C = A^T B (T,N): local products A_loc^T B_loc, summed over the ranks
//                    straight into C's block rows (one Reduce_scatter).
// Returns false for other shapes and layouts (PBLAS does those). Collective.
template <typename T>
bool row_grid_gemm(Op opa, Op opb, T alpha, const DistMatrix<T>& a, const DistMatrix<T>& b, T beta,
                   DistMatrix<T>& c) {
  const ProcessGrid& grid = c.grid();
  const int pr = grid.rows();
  if (grid.cols() != 1 || pr < 2) return false;
  const MPI_Comm comm = MPI_Comm(grid.comm());  // rank = grid row when Pc = 1
  const int m = static_cast<int>(c.rows()), n = static_cast<int>(c.cols());
  std::vector<int> counts(pr), displs(pr);
  if (opa == Op::N && opb == Op::T && a.row_block() == c.row_block() && b.lld() == std::max<int64_t>(1, b.local_rows())) {
    const int k = static_cast<int>(a.cols()), mb = b.row_block();
    // All of B (n x k), column-major with leading dimension n, from every rank's block rows.
    for (int p = 0, off = 0; p < pr; ++p) {
      counts[p] = static_cast<int>(local_extent(n, mb, p, pr) * k), displs[p] = off, off += counts[p];
    }
    const size_t size = static_cast<size_t>(int64_t(n) * k);
    T* gathered = scratch<T>(0, size);
    T* all = scratch<T>(1, size);
    MPI_Allgatherv(b.data(), counts[grid.row()], boost::mpi::get_mpi_datatype<T>(), gathered, counts.data(), displs.data(),
                   boost::mpi::get_mpi_datatype<T>(), comm);
    for (int p = 0; p < pr; ++p)
      move_rows(gathered + displs[p], all, local_extent(n, mb, p, pr), k, n, p, mb, pr, true);
    const int lr = static_cast<int>(c.local_rows()), lda = static_cast<int>(a.lld()), ldc = static_cast<int>(c.lld());
    if (lr > 0) blas_gemm("N", "T", &lr, &n, &k, &alpha, a.data(), &lda, all, &n, &beta, c.data(), &ldc);
    return true;
  }
  if (opa == Op::T && opb == Op::N && a.row_block() == b.row_block()) {
    const int k = static_cast<int>(a.local_rows()), mb = c.row_block();
    // This rank's share of the sum, m x n; then each rank's block rows of it, in its local order.
    const size_t size = static_cast<size_t>(int64_t(m) * n);
    T* part = scratch<T>(0, size);
    T* send = scratch<T>(1, size);
    const int lda = static_cast<int>(a.lld()), ldb = static_cast<int>(b.lld());
    const T zero = 0;
    if (k > 0) blas_gemm("T", "N", &m, &n, &k, &alpha, a.data(), &lda, b.data(), &ldb, &zero, part, &m);
    else std::fill(part, part + size, zero);
    for (int p = 0, off = 0; p < pr; ++p) {
      const int64_t lr = local_extent(m, mb, p, pr);
      counts[p] = static_cast<int>(lr * n), displs[p] = off, off += counts[p];
      move_rows(send + displs[p], part, lr, n, m, p, mb, pr, false);
    }
    const int64_t lr = c.local_rows();
    if (beta == T(0) && c.lld() == std::max<int64_t>(1, lr)) {
      MPI_Reduce_scatter(send, c.data(), counts.data(), boost::mpi::get_mpi_datatype<T>(), MPI_SUM, comm);
      return true;
    }
    std::vector<T> mine(static_cast<size_t>(lr * n));
    MPI_Reduce_scatter(send, mine.data(), counts.data(), boost::mpi::get_mpi_datatype<T>(), MPI_SUM, comm);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t li = 0; li < lr; ++li) c.local(li, j) = beta * c.local(li, j) + mine[li + j * lr];
    return true;
  }
  return false;
}

template <typename T>
void gemm_any(Op opa, Op opb, T alpha, const DistMatrix<T>& a, const DistMatrix<T>& b, T beta, DistMatrix<T>& c) {
  const int m = static_cast<int>(c.rows()), n = static_cast<int>(c.cols());
  const int k = static_cast<int>(opa == Op::N ? a.cols() : a.rows());
  if (one_process(c)) {
    const int lda = static_cast<int>(a.lld()), ldb = static_cast<int>(b.lld()), ldc = static_cast<int>(c.lld());
    blas_gemm(op_char(opa), op_char(opb), &m, &n, &k, &alpha, a.data(), &lda, b.data(), &ldb, &beta, c.data(), &ldc);
    return;
  }
  if (row_grid_gemm(opa, opb, alpha, a, b, beta, c)) return;
  auto da = a.descriptor(), db = b.descriptor(), dc = c.descriptor();
  pblas_gemm(op_char(opa), op_char(opb), &m, &n, &k, &alpha, a.data(), da.data(), b.data(), db.data(), &beta,
             c.data(), dc.data());
}

}  // namespace

template <>
void gemm<double>(Op opa, Op opb, double alpha, const DistMatrix<double>& a, const DistMatrix<double>& b,
                  double beta, DistMatrix<double>& c) {
  gemm_any(opa, opb, alpha, a, b, beta, c);
}

template <>
void gemm<float>(Op opa, Op opb, float alpha, const DistMatrix<float>& a, const DistMatrix<float>& b, float beta,
                 DistMatrix<float>& c) {
  gemm_any(opa, opb, alpha, a, b, beta, c);
}

namespace {
// The syrk and the drivers of each precision: the BLAS/LAPACK routine on a
// 1 x 1 grid (one_process), the PBLAS/ScaLAPACK one otherwise.
void blas_syrk(const char* tr, const int* n, const int* k, const double* alpha, const double* a, const int* lda,
               const double* beta, double* c, const int* ldc) {
  dsyrk_("L", tr, n, k, alpha, a, lda, beta, c, ldc);
}
void blas_syrk(const char* tr, const int* n, const int* k, const float* alpha, const float* a, const int* lda,
               const float* beta, float* c, const int* ldc) {
  ssyrk_("L", tr, n, k, alpha, a, lda, beta, c, ldc);
}
void pblas_syrk(const char* tr, const int* n, const int* k, const double* alpha, const double* a, const int* desca,
                const double* beta, double* c, const int* descc) {
  const int one = 1;
  pdsyrk_("L", tr, n, k, alpha, a, &one, &one, desca, beta, c, &one, &one, descc);
}
void pblas_syrk(const char* tr, const int* n, const int* k, const float* alpha, const float* a, const int* desca,
                const float* beta, float* c, const int* descc) {
  const int one = 1;
  pssyrk_("L", tr, n, k, alpha, a, &one, &one, desca, beta, c, &one, &one, descc);
}
void lapack_potrf(const int* n, double* a, const int* lda, int* info) { dpotrf_("L", n, a, lda, info); }
void lapack_potrf(const int* n, float* a, const int* lda, int* info) { spotrf_("L", n, a, lda, info); }
void scalapack_potrf(const int* n, double* a, const int* desca, int* info) {
  const int one = 1;
  pdpotrf_("L", n, a, &one, &one, desca, info);
}
void scalapack_potrf(const int* n, float* a, const int* desca, int* info) {
  const int one = 1;
  pspotrf_("L", n, a, &one, &one, desca, info);
}
void lapack_potrs(const int* n, const int* nrhs, const double* a, const int* lda, double* b, const int* ldb, int* info) {
  dpotrs_("L", n, nrhs, a, lda, b, ldb, info);
}
void lapack_potrs(const int* n, const int* nrhs, const float* a, const int* lda, float* b, const int* ldb, int* info) {
  spotrs_("L", n, nrhs, a, lda, b, ldb, info);
}
void scalapack_potrs(const int* n, const int* nrhs, const double* a, const int* desca, double* b, const int* descb,
                     int* info) {
  const int one = 1;
  pdpotrs_("L", n, nrhs, a, &one, &one, desca, b, &one, &one, descb, info);
}
void scalapack_potrs(const int* n, const int* nrhs, const float* a, const int* desca, float* b, const int* descb,
                     int* info) {
  const int one = 1;
  pspotrs_("L", n, nrhs, a, &one, &one, desca, b, &one, &one, descb, info);
}
void lapack_syevd(const int* n, double* a, const int* lda, double* w, double* work, const int* lwork, int* iwork,
                  const int* liwork, int* info) {
  dsyevd_("V", "L", n, a, lda, w, work, lwork, iwork, liwork, info);
}
void lapack_syevd(const int* n, float* a, const int* lda, float* w, float* work, const int* lwork, int* iwork,
                  const int* liwork, int* info) {
  ssyevd_("V", "L", n, a, lda, w, work, lwork, iwork, liwork, info);
}
void scalapack_syevd(const int* n, double* a, const int* desca, double* w, double* z, const int* descz, double* work,
                     const int* lwork, int* iwork, const int* liwork, int* info) {
  const int one = 1;
  pdsyevd_("V", "L", n, a, &one, &one, desca, w, z, &one, &one, descz, work, lwork, iwork, liwork, info);
}
void scalapack_syevd(const int* n, float* a, const int* desca, float* w, float* z, const int* descz, float* work,
                     const int* lwork, int* iwork, const int* liwork, int* info) {
  const int one = 1;
  pssyevd_("V", "L", n, a, &one, &one, desca, w, z, &one, &one, descz, work, lwork, iwork, liwork, info);
}
// The routine's name in messages: "dpotrf", "pspotrf", ...
template <typename T>
std::string routine(const char* name, bool parallel) {
  return std::string(parallel ? "p" : "") + (std::is_same_v<T, double> ? "d" : "s") + name;
}
}  // namespace

template <typename T>
void syrk_lower(T alpha, const DistMatrix<T>& a, T beta, DistMatrix<T>& c, Op op) {
  const int n = static_cast<int>(op == Op::N ? a.rows() : a.cols());
  const int k = static_cast<int>(op == Op::N ? a.cols() : a.rows());
  if (one_process(c)) {
    const int lda = static_cast<int>(a.lld()), ldc = static_cast<int>(c.lld());
    blas_syrk(op_char(op), &n, &k, &alpha, a.data(), &lda, &beta, c.data(), &ldc);
    return;
  }
  auto da = a.descriptor(), dc = c.descriptor();
  pblas_syrk(op_char(op), &n, &k, &alpha, a.data(), da.data(), &beta, c.data(), dc.data());
}

template <typename T>
int potrf_lower(DistMatrix<T>& a) {
  const int n = static_cast<int>(a.rows());
  int info = 0;
  if (one_process(a)) {
    const int lda = static_cast<int>(a.lld());
    lapack_potrf(&n, a.data(), &lda, &info);
  } else {
    auto da = a.descriptor();
    scalapack_potrf(&n, a.data(), da.data(), &info);
    // Whether the factorisation broke down decides the jitter, hence every
    // later collective: one answer for all ranks.
    info = from_rank0(a.grid().comm(), info);
  }
  check_info(routine<T>("potrf", !one_process(a)).c_str(), info);
  return info;
}

template <typename T>
void potrs_lower(const DistMatrix<T>& factor, DistMatrix<T>& b) {
  const int n = static_cast<int>(factor.rows()), nrhs = static_cast<int>(b.cols());
  int info = 0;
  if (one_process(b)) {
    const int lda = static_cast<int>(factor.lld()), ldb = static_cast<int>(b.lld());
    lapack_potrs(&n, &nrhs, factor.data(), &lda, b.data(), &ldb, &info);
  } else {
    auto da = factor.descriptor(), db = b.descriptor();
    scalapack_potrs(&n, &nrhs, factor.data(), da.data(), b.data(), db.data(), &info);
  }
  check_info(routine<T>("potrs", !one_process(b)).c_str(), info);
}

template <typename T>
int syevd_lower(DistMatrix<T>& a, std::vector<double>& w_out, DistMatrix<T>& z) {
  const int n = static_cast<int>(a.rows());
  std::vector<T> w(static_cast<size_t>(n), T(0));
  int info = 0, lwork = -1, liwork = -1;
  T wq = 0;
  int iwq = 0;
  if (one_process(a)) {  // LAPACK's syevd leaves the eigenvectors in `a`; its workspace is freed before the copy
    const int lda = static_cast<int>(a.lld());
    lapack_syevd(&n, a.data(), &lda, w.data(), &wq, &lwork, &iwq, &liwork, &info);
    check_info("syevd (query)", info);
    lwork = static_cast<int>(wq) + 1, liwork = iwq;
    {
      std::vector<T> work(static_cast<size_t>(lwork));
      std::vector<int> iwork(static_cast<size_t>(liwork));
      lapack_syevd(&n, a.data(), &lda, w.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
    }
    check_info(routine<T>("syevd", false).c_str(), info);
    copy_leading_columns(a, z);
    w_out.assign(w.begin(), w.end());
    return info;
  }
  auto da = a.descriptor(), dz = z.descriptor();
  scalapack_syevd(&n, a.data(), da.data(), w.data(), z.data(), dz.data(), &wq, &lwork, &iwq, &liwork, &info);
  check_info("pxsyevd (query)", info);
  // The workspace query under-reports when n is below the block size: the
  // back-transformation (PxORMTR) then rejects its LWORK. Add PxORMTR's own
  // documented requirement, bounding its local extents by np + nb and nq + nb.
  const int nb = a.row_block(), np = static_cast<int>(a.local_rows()), nq = static_cast<int>(a.local_cols());
  const int trilwmin = 3 * n + std::max(nb * (np + 1), 3 * nb);
  const int documented = std::max(1 + 6 * n + 2 * np * nq, trilwmin) + 2 * n;
  const int ormtr = std::max(nb * (nb - 1) / 2, (np + nq + 2 * nb) * nb) + nb * nb;
  lwork = std::max(static_cast<int>(wq) + 1, documented) + ormtr;
  liwork = std::max(iwq, 7 * n + 8 * a.grid().cols() + 2);
  std::vector<T> work(static_cast<size_t>(lwork));
  std::vector<int> iwork(static_cast<size_t>(liwork));
  scalapack_syevd(&n, a.data(), da.data(), w.data(), z.data(), dz.data(), work.data(), &lwork, iwork.data(), &liwork,
                  &info);
  // Each rank holds its own copy of the eigenvalues, equal only up to
  // rounding; they decide the jitter (and the status string): rank 0's for all.
  info = from_rank0(a.grid().comm(), info);
  check_info(routine<T>("syevd", true).c_str(), info);
  w_out.assign(w.begin(), w.end());
  w_out = from_rank0(a.grid().comm(), std::move(w_out));
  return info;
}

template void syrk_lower(double, const DistMatrix<double>&, double, DistMatrix<double>&, Op);
template void syrk_lower(float, const DistMatrix<float>&, float, DistMatrix<float>&, Op);
template int potrf_lower(DistMatrix<double>&);
template int potrf_lower(DistMatrix<float>&);
template void potrs_lower(const DistMatrix<double>&, DistMatrix<double>&);
template void potrs_lower(const DistMatrix<float>&, DistMatrix<float>&);
template int syevd_lower(DistMatrix<double>&, std::vector<double>&, DistMatrix<double>&);
template int syevd_lower(DistMatrix<float>&, std::vector<double>&, DistMatrix<float>&);

}  // namespace linalg
}  // namespace neurep

#include <boost/mpi/collectives.hpp>

namespace neurep::linalg {

template <typename T>
std::vector<double> gather_all(const DistMatrix<T>& a) {
  std::vector<double> part(static_cast<size_t>(a.rows() * a.cols()), 0.0), all(part.size());
  for (int64_t lj = 0; lj < a.local_cols(); ++lj)
    for (int64_t li = 0; li < a.local_rows(); ++li)
      part[static_cast<size_t>(a.global_row(li) + a.global_col(lj) * a.rows())] = a.local(li, lj);
  boost::mpi::all_reduce(a.grid().comm(), part.data(), static_cast<int>(part.size()), all.data(),
                         std::plus<double>());
  return all;
}

template <typename T>
std::vector<double> gather_column(const DistMatrix<T>& a, int64_t j) {
  std::vector<double> part(static_cast<size_t>(a.rows()), 0.0), all(part.size());
  if (a.col_owner(j) == a.grid().col()) {
    const int64_t lj = a.local_col(j);
    for (int64_t li = 0; li < a.local_rows(); ++li)
      part[static_cast<size_t>(a.global_row(li))] = a.local(li, lj);
  }
  boost::mpi::all_reduce(a.grid().comm(), part.data(), static_cast<int>(part.size()), all.data(),
                         std::plus<double>());
  return all;
}

template <typename T>
void fill_columns(DistMatrix<T>& a, const std::vector<double>& v) {
  a.for_each_local([&](int64_t i, int64_t, T& x) { x = static_cast<T>(v[static_cast<size_t>(i)]); });
}

template <typename T>
void add_to_diagonal(DistMatrix<T>& a, double shift) {
  const int64_t n = std::min(a.rows(), a.cols());
  for (int64_t i = 0; i < n; ++i)
    if (a.owns(i, i)) {
      T& v = a.local(a.local_row(i), a.local_col(i));
      v = static_cast<T>(static_cast<double>(v) + shift);
    }
}

template <typename T>
void copy_leading_columns(const DistMatrix<T>& a, DistMatrix<T>& b) {
  if (a.rows() != b.rows() || a.row_block() != b.row_block() || a.col_block() != b.col_block() ||
      &a.grid() != &b.grid())
    throw RuntimeError("copy_leading_columns: the matrices differ in rows, blocks or grid");
  const int64_t lc = std::min(a.local_cols(), b.local_cols());
  for (int64_t lj = 0; lj < lc; ++lj)
    std::copy(a.data() + lj * a.lld(), a.data() + lj * a.lld() + a.local_rows(), b.data() + lj * b.lld());
}

template <typename T>
DistMatrix<T> copy_rows(const DistMatrix<T>& a, int64_t first, int64_t count) {
  if (first < 0 || count < 0 || first + count > a.rows())
    throw RuntimeError(fmt::format("copy_rows: rows {} + {} of {}", first, count, a.rows()));
  DistMatrix<T> b(a.grid(), count, a.cols(), a.row_block(), a.col_block());
  const int64_t unit = static_cast<int64_t>(a.row_block()) * a.grid().rows();
  if (first % unit != 0) {
    const int m = static_cast<int>(count), n = static_cast<int>(a.cols()), ia = static_cast<int>(first + 1), one = 1;
    const auto da = a.descriptor(), db = b.descriptor();
    const int ctxt = a.grid().blacs_context();
    if (m > 0 && n > 0) pgemr2d(&m, &n, a.data(), &ia, &one, da.data(), b.data(), &one, &one, db.data(), &ctxt);
    return b;
  }
  const int64_t offset = first / a.grid().rows();
  for (int64_t lj = 0; lj < b.local_cols(); ++lj)
    std::copy(a.data() + lj * a.lld() + offset, a.data() + lj * a.lld() + offset + b.local_rows(),
              b.data() + lj * b.lld());
  return b;
}

#define NEUREP_LINALG_HELPERS(T)                                                  \
  template std::vector<double> gather_all(const DistMatrix<T>&);                  \
  template std::vector<double> gather_column(const DistMatrix<T>&, int64_t);      \
  template void fill_columns(DistMatrix<T>&, const std::vector<double>&);         \
  template void add_to_diagonal(DistMatrix<T>&, double);                          \
  template void copy_leading_columns(const DistMatrix<T>&, DistMatrix<T>&);       \
  template DistMatrix<T> copy_rows(const DistMatrix<T>&, int64_t, int64_t);
NEUREP_LINALG_HELPERS(double)
NEUREP_LINALG_HELPERS(float)
#undef NEUREP_LINALG_HELPERS

}  // namespace neurep::linalg

namespace neurep::linalg {

void symm_lower(double alpha, const DistMatrix<double>& a, const DistMatrix<double>& b, double beta,
                DistMatrix<double>& c) {
  const int m = static_cast<int>(c.rows()), n = static_cast<int>(c.cols());
  if (m == 0 || n == 0) return;
  if (a.grid().size() == 1) {
    const int lda = static_cast<int>(a.lld()), ldb = static_cast<int>(b.lld()), ldc = static_cast<int>(c.lld());
    dsymm_("L", "L", &m, &n, &alpha, a.data(), &lda, b.data(), &ldb, &beta, c.data(), &ldc);
    return;
  }
  const int one = 1;
  const auto da = a.descriptor(), db = b.descriptor(), dc = c.descriptor();
  pdsymm_("L", "L", &m, &n, &alpha, a.data(), &one, &one, da.data(), b.data(), &one, &one, db.data(), &beta,
          c.data(), &one, &one, dc.data());
}

DistMatrix<double> select_rows(const DistMatrix<double>& a, const std::vector<int64_t>& rows) {
  const int64_t count = static_cast<int64_t>(rows.size());
  bool contiguous = count > 0;
  for (int64_t i = 1; i < count && contiguous; ++i) contiguous = rows[i] == rows[0] + i;
  if (contiguous) return copy_rows(a, rows[0], count);
  // Each rank contributes the entries it owns; the sum is the rows, on every rank.
  std::vector<double> part(static_cast<size_t>(count * a.cols()), 0.0), all(part.size());
  for (int64_t r = 0; r < count; ++r) {
    const int64_t i = rows[r];
    if (i < 0 || i >= a.rows()) throw RuntimeError(fmt::format("select_rows: row {} of {}", i, a.rows()));
    if (a.row_owner(i) != a.grid().row()) continue;
    const int64_t li = a.local_row(i);
    for (int64_t lj = 0; lj < a.local_cols(); ++lj) part[static_cast<size_t>(r + a.global_col(lj) * count)] = a.local(li, lj);
  }
  boost::mpi::all_reduce(a.grid().comm(), part.data(), static_cast<int>(part.size()), all.data(), std::plus<double>());
  DistMatrix<double> b(a.grid(), count, a.cols(), a.row_block(), a.col_block());
  b.for_each_local([&](int64_t i, int64_t j, double& v) { v = all[static_cast<size_t>(i + j * count)]; });
  return b;
}

}  // namespace neurep::linalg

namespace neurep::linalg {

LeastSquares least_squares(DistMatrix<double>& a, DistMatrix<double>& b, double rcond) {
  const int m = static_cast<int>(a.rows()), k = static_cast<int>(a.cols()), one = 1;
  if (b.rows() != a.rows() || b.cols() != 1 || b.row_block() != a.row_block() || &b.grid() != &a.grid() || m < k)
    throw RuntimeError("least_squares: A must be tall, b one column with A's rows, row blocks and grid");
  const bool serial = one_process(a);
  const ProcessGrid& grid = a.grid();
  std::vector<int> pivots(static_cast<size_t>(std::max<int64_t>(1, a.local_cols())), 0);
  std::vector<double> tau(pivots.size()), work;
  int info = 0, lwork = -1;
  double query = 0;
  const auto da = a.descriptor(), db = b.descriptor();
  const int lda = static_cast<int>(a.lld()), ldb = static_cast<int>(b.lld());
  // A P = Q R.
  const auto factor = [&](double* w) {
    if (serial) dgeqp3_(&m, &k, a.data(), &lda, pivots.data(), tau.data(), w, &lwork, &info);
    else pdgeqpf_(&m, &k, a.data(), &one, &one, da.data(), pivots.data(), tau.data(), w, &lwork, &info);
  };
  factor(&query);
  check_info(serial ? "dgeqp3 (query)" : "pdgeqpf (query)", info);
  lwork = static_cast<int>(query) + 1, work.resize(static_cast<size_t>(lwork));
  factor(work.data());
  check_info(serial ? "dgeqp3" : "pdgeqpf", info);

  LeastSquares out;
  // The permutation (pivot i is original column p[i], 1-based), from the grid row 0 ranks, which hold
  // each local column's entry once.
  std::vector<double> part(static_cast<size_t>(k), 0.0), perm(part.size());
  if (grid.row() == 0)
    for (int64_t lj = 0; lj < a.local_cols(); ++lj) part[static_cast<size_t>(a.global_col(lj))] = pivots[static_cast<size_t>(lj)];
  boost::mpi::all_reduce(grid.comm(), part.data(), k, perm.data(), std::plus<double>());
  out.r_diagonal = diagonal(a);
  for (double& r : out.r_diagonal) r = std::abs(r);
  // The rank decides the solve below and the row's status: rank 0's for all.
  out.r_diagonal = from_rank0(grid.comm(), std::move(out.r_diagonal));
  perm = from_rank0(grid.comm(), std::move(perm));
  const double threshold = rcond * (k > 0 ? out.r_diagonal[0] : 0.0);
  while (out.rank < k && out.r_diagonal[static_cast<size_t>(out.rank)] > threshold) ++out.rank;

  // b <- Q^T b, then R_11 x_1 = b_1.
  lwork = -1;
  const auto apply_qt = [&](double* w) {
    if (serial) dormqr_("L", "T", &m, &one, &k, a.data(), &lda, tau.data(), b.data(), &ldb, w, &lwork, &info);
    else pdormqr_("L", "T", &m, &one, &k, a.data(), &one, &one, da.data(), tau.data(), b.data(), &one, &one, db.data(), w,
                  &lwork, &info);
  };
  apply_qt(&query);
  check_info(serial ? "dormqr (query)" : "pdormqr (query)", info);
  lwork = static_cast<int>(query) + 1, work.assign(static_cast<size_t>(lwork), 0.0);
  apply_qt(work.data());
  check_info(serial ? "dormqr" : "pdormqr", info);
  const int r = static_cast<int>(out.rank);
  if (r > 0) {
    if (serial) dtrtrs_("U", "N", "N", &r, &one, a.data(), &lda, b.data(), &ldb, &info);
    else pdtrtrs_("U", "N", "N", &r, &one, a.data(), &one, &one, da.data(), b.data(), &one, &one, db.data(), &info);
    check_info(serial ? "dtrtrs" : "pdtrtrs", info);  // info > 0 (an exact zero) cannot happen above the threshold
  }
  const std::vector<double> z = from_rank0(grid.comm(), gather_column(b, 0));
  out.x.assign(static_cast<size_t>(k), 0.0);
  for (int64_t i = 0; i < out.rank; ++i) out.x[static_cast<size_t>(std::llround(perm[static_cast<size_t>(i)]) - 1)] = z[static_cast<size_t>(i)];
  return out;
}

std::vector<double> diagonal(const DistMatrix<double>& a) {
  const int64_t k = std::min(a.rows(), a.cols());
  std::vector<double> part(static_cast<size_t>(k), 0.0), all(part.size());
  for (int64_t i = 0; i < k; ++i)
    if (a.owns(i, i)) part[static_cast<size_t>(i)] = a.local(a.local_row(i), a.local_col(i));
  boost::mpi::all_reduce(a.grid().comm(), part.data(), static_cast<int>(part.size()), all.data(), std::plus<double>());
  return all;
}

}  // namespace neurep::linalg
