#include "neurep/linalg.hpp"

#include <fmt/core.h>

#include <algorithm>

#include "neurep/detail/scalapack_imports.hpp"
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
}  // namespace

template <>
void gemm<double>(Op opa, Op opb, double alpha, const DistMatrix<double>& a,
                  const DistMatrix<double>& b, double beta, DistMatrix<double>& c) {
  const int m = static_cast<int>(c.rows()), n = static_cast<int>(c.cols());
  const int k = static_cast<int>(opa == Op::N ? a.cols() : a.rows());
  const int one = 1;
  auto da = a.descriptor(), db = b.descriptor(), dc = c.descriptor();
  pdgemm_(op_char(opa), op_char(opb), &m, &n, &k, &alpha, a.data(), &one, &one, da.data(),
          b.data(), &one, &one, db.data(), &beta, c.data(), &one, &one, dc.data());
}

template <>
void gemm<float>(Op opa, Op opb, float alpha, const DistMatrix<float>& a,
                 const DistMatrix<float>& b, float beta, DistMatrix<float>& c) {
  const int m = static_cast<int>(c.rows()), n = static_cast<int>(c.cols());
  const int k = static_cast<int>(opa == Op::N ? a.cols() : a.rows());
  const int one = 1;
  auto da = a.descriptor(), db = b.descriptor(), dc = c.descriptor();
  psgemm_(op_char(opa), op_char(opb), &m, &n, &k, &alpha, a.data(), &one, &one, da.data(),
          b.data(), &one, &one, db.data(), &beta, c.data(), &one, &one, dc.data());
}

void syrk_lower(double alpha, const DistMatrix<double>& a, double beta, DistMatrix<double>& c) {
  const int n = static_cast<int>(a.rows()), k = static_cast<int>(a.cols()), one = 1;
  auto da = a.descriptor(), dc = c.descriptor();
  pdsyrk_("L", "N", &n, &k, &alpha, a.data(), &one, &one, da.data(), &beta, c.data(), &one, &one,
          dc.data());
}

int potrf_lower(DistMatrix<double>& a) {
  const int n = static_cast<int>(a.rows()), one = 1;
  auto da = a.descriptor();
  int info = 0;
  pdpotrf_("L", &n, a.data(), &one, &one, da.data(), &info);
  check_info("pdpotrf", info);
  return info;
}

void potrs_lower(const DistMatrix<double>& factor, DistMatrix<double>& b) {
  const int n = static_cast<int>(factor.rows()), nrhs = static_cast<int>(b.cols()), one = 1;
  auto da = factor.descriptor(), db = b.descriptor();
  int info = 0;
  pdpotrs_("L", &n, &nrhs, factor.data(), &one, &one, da.data(), b.data(), &one, &one, db.data(),
           &info);
  check_info("pdpotrs", info);
}

int syevd_lower(DistMatrix<double>& a, std::vector<double>& w, DistMatrix<double>& z) {
  const int n = static_cast<int>(a.rows()), one = 1;
  auto da = a.descriptor(), dz = z.descriptor();
  w.assign(static_cast<size_t>(n), 0.0);
  int info = 0, lwork = -1, liwork = -1;
  double wq = 0;
  int iwq = 0;
  pdsyevd_("V", "L", &n, a.data(), &one, &one, da.data(), w.data(), z.data(), &one, &one,
           dz.data(), &wq, &lwork, &iwq, &liwork, &info);
  check_info("pdsyevd (query)", info);
  // The workspace query under-reports when n is below the block size: the
  // back-transformation (PDORMTR) then rejects its LWORK. Add PDORMTR's own
  // documented requirement, bounding its local extents by np + nb and nq + nb.
  const int nb = a.row_block(), np = static_cast<int>(a.local_rows()), nq = static_cast<int>(a.local_cols());
  const int trilwmin = 3 * n + std::max(nb * (np + 1), 3 * nb);
  const int documented = std::max(1 + 6 * n + 2 * np * nq, trilwmin) + 2 * n;
  const int ormtr = std::max(nb * (nb - 1) / 2, (np + nq + 2 * nb) * nb) + nb * nb;
  lwork = std::max(static_cast<int>(wq) + 1, documented) + ormtr;
  liwork = std::max(iwq, 7 * n + 8 * a.grid().cols() + 2);
  std::vector<double> work(static_cast<size_t>(lwork));
  std::vector<int> iwork(static_cast<size_t>(liwork));
  pdsyevd_("V", "L", &n, a.data(), &one, &one, da.data(), w.data(), z.data(), &one, &one,
           dz.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
  check_info("pdsyevd", info);
  return info;
}

}  // namespace linalg
}  // namespace neurep

#include <boost/mpi/collectives.hpp>

namespace neurep::linalg {

std::vector<double> gather_all(const DistMatrix<double>& a) {
  std::vector<double> part(static_cast<size_t>(a.rows() * a.cols()), 0.0), all(part.size());
  for (int64_t lj = 0; lj < a.local_cols(); ++lj)
    for (int64_t li = 0; li < a.local_rows(); ++li)
      part[static_cast<size_t>(a.global_row(li) + a.global_col(lj) * a.rows())] = a.local(li, lj);
  boost::mpi::all_reduce(a.grid().comm(), part.data(), static_cast<int>(part.size()), all.data(),
                         std::plus<double>());
  return all;
}

std::vector<double> gather_column(const DistMatrix<double>& a, int64_t j) {
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

void fill_columns(DistMatrix<double>& a, const std::vector<double>& v) {
  a.for_each_local([&](int64_t i, int64_t, double& x) { x = v[static_cast<size_t>(i)]; });
}

void add_to_diagonal(DistMatrix<double>& a, double shift) {
  const int64_t n = std::min(a.rows(), a.cols());
  for (int64_t i = 0; i < n; ++i)
    if (a.owns(i, i)) a.local(a.local_row(i), a.local_col(i)) += shift;
}

void copy_leading_columns(const DistMatrix<double>& a, DistMatrix<double>& b) {
  if (a.rows() != b.rows() || a.row_block() != b.row_block() || a.col_block() != b.col_block() ||
      &a.grid() != &b.grid())
    throw RuntimeError("copy_leading_columns: the matrices differ in rows, blocks or grid");
  const int64_t lc = std::min(a.local_cols(), b.local_cols());
  for (int64_t lj = 0; lj < lc; ++lj)
    std::copy(a.data() + lj * a.lld(), a.data() + lj * a.lld() + a.local_rows(), b.data() + lj * b.lld());
}

}  // namespace neurep::linalg
