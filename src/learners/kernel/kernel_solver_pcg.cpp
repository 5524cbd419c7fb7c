#include "neurep/kernel_solver_pcg.hpp"

#include <fmt/core.h>
#include <boost/mpi/collectives.hpp>
#include <boost/mpi/collectives/all_gatherv.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <type_traits>

#include "neurep/agreement.hpp"
#include "neurep/detail/scalapack_imports.hpp"
#include "neurep/errors.hpp"
#include "neurep/kernel_solver.hpp"
#include "neurep/linalg.hpp"

namespace neurep {

namespace {

// Sums of `part` over the ranks, reduced on rank 0 and broadcast: the same bits everywhere.
void shared_sum(const boost::mpi::communicator& comm, std::vector<double>& v) {
  std::vector<double> total(comm.rank() == 0 ? v.size() : 0);
  if (comm.rank() == 0)
    boost::mpi::reduce(comm, v.data(), static_cast<int>(v.size()), total.data(), std::plus<double>(), 0);
  else
    boost::mpi::reduce(comm, v.data(), static_cast<int>(v.size()), std::plus<double>(), 0);
  if (comm.rank() == 0) v.swap(total);
  boost::mpi::broadcast(comm, v.data(), static_cast<int>(v.size()), 0);
}

double dot(const double* a, const double* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

RowLayout::RowLayout(int64_t n, int block, const ProcessGrid& grid)
    : comm_(grid.comm()), n_(n), block_(block), rank_(grid.rank()), ranks_(grid.size()),
      local_(local_extent(n, block, grid.rank(), grid.size())) {}

std::vector<double> RowLayout::local_part(const double* x, int64_t ncols) const {
  std::vector<double> out(static_cast<size_t>(local_ * ncols));
  for (int64_t c = 0; c < ncols; ++c)
    for (int64_t li = 0; li < local_; ++li) out[static_cast<size_t>(li + c * local_)] = x[global_row(li) + c * n_];
  return out;
}

void RowLayout::gather(const std::vector<double>& local, int64_t ncols, double* x) const {
  std::vector<int> sizes(static_cast<size_t>(ranks_)), displs(sizes.size());
  int total = 0;
  for (int p = 0; p < ranks_; ++p) {
    displs[p] = total;
    sizes[p] = static_cast<int>(local_extent(n_, block_, p, ranks_) * ncols);
    total += sizes[p];
  }
  std::vector<double> all(static_cast<size_t>(total));
  boost::mpi::all_gatherv(comm_, local.data(), all.data(), sizes, displs);
  for (int p = 0; p < ranks_; ++p) {
    const int64_t rows = sizes[p] / std::max<int64_t>(ncols, 1);
    const double* part = all.data() + displs[p];
    for (int64_t c = 0; c < ncols; ++c)
      for (int64_t li = 0; li < rows; ++li) x[global_index(li, block_, p, ranks_) + c * n_] = part[li + c * rows];
  }
}

KernelOperator::KernelOperator(const GramSource& gram, KernelKind kind, std::vector<double> diag,
                               const ProcessGrid& grid, int block, int64_t rows_per_block)
    : gram_(gram), kind_(kind), diag_(std::move(diag)), grid_(grid), block_(block), n_(gram.n_train()),
      layout_(n_, block, grid) {
  kdiag_.resize(diag_.size());
  for (size_t i = 0; i < diag_.size(); ++i) kdiag_[i] = kernel_value(kind, diag_[i], diag_[i], diag_[i]);
  const int64_t unit = static_cast<int64_t>(block) * grid.rows();
  chunk_ = rows_per_block > 0 ? std::min((rows_per_block + unit - 1) / unit, (n_ + unit - 1) / unit) * unit
                              : default_rows_per_block(n_, block, grid.rows(), grid.size());
  // The Gram source's flops are those of its training half (n^2 q, a
  // triangle) plus the test kernel; a product computes the same triangle.
  const double n = static_cast<double>(n_);
  flops_ = gram.flops() * n / (n + 2.0 * static_cast<double>(gram.n_test())) + 2.0 * n * n;
}

int64_t KernelOperator::default_rows_per_block(int64_t n, int block, int grid_rows, int ranks) {
  // Blocks of whole row units (local copies of the inputs' rows), at most
  // 2^25 words (256 MB) per rank.
  const int64_t unit = static_cast<int64_t>(block) * grid_rows;
  const int64_t budget = kMatrixFreeBlockWords * ranks / std::max<int64_t>(n, 1);
  // Up to 16 blocks of at least 1024 rows (fewer, larger blocks only cost
  // kernel entries: a product computes (1 + 1/blocks)/2 of K; more, smaller
  // ones cost the per-block overheads of the product of the inputs).
  const int64_t sixteenth = (std::max<int64_t>(n / 16, 1024) + unit - 1) / unit * unit;
  const int64_t rows = std::max(unit, std::min(budget / unit * unit, sixteenth));
  return std::min(rows, (n + unit - 1) / unit * unit);
}

double KernelOperator::product_entries(int64_t n, int64_t rows_per_block) {
  double entries = 0;  // rows [first, first + m) up to column first + m
  for (int64_t first = 0; first < n; first += rows_per_block) {
    const int64_t m = std::min(rows_per_block, n - first);
    entries += static_cast<double>(m) * static_cast<double>(first + m);
  }
  return entries;
}

DistMatrix<double> KernelOperator::rows(const std::vector<int64_t>& idx, int64_t ncols) const {
  const int64_t m = static_cast<int64_t>(idx.size());
  auto g = DistMatrix<double>::uninitialized(grid_, m, ncols, block_, block_);
  gram_.train_gram_rows(g, idx);
  std::vector<double> a(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) a[i] = diag_[static_cast<size_t>(idx[i])];
  apply_kernel(kind_, g, a, diag_, /*lower_only=*/false);
  // K(i, i) exactly as the stored kernel has it (t = 1 without rounding).
  for (int64_t li = 0; li < g.local_rows(); ++li) {
    const int64_t i = idx[static_cast<size_t>(g.global_row(li))];
    if (i < ncols && g.col_owner(i) == grid_.col()) g.local(li, g.local_col(i)) = kdiag_[static_cast<size_t>(i)];
  }
  return g;
}

std::vector<double> KernelOperator::apply(const std::vector<double>& x, int64_t ncols) const {
  // K is symmetric: each block of rows [first, first + m) is built only up
  // to its last column, G = K(rows, 0 : first + m), and serves twice:
  // y(rows) += G x(0 : first + m) and y(0 : first) += G(:, 0 : first)^T x(rows).
  std::vector<double> y(static_cast<size_t>(n_ * ncols), 0.0);
  std::vector<double> xl, xr, yl, yt;
  int64_t ldx = 0;
  const int inc = static_cast<int>(ncols);
  const double one = 1, zero = 0;
  for (int64_t first = 0; first < n_; first += chunk_) {
    const int64_t m = std::min(chunk_, n_ - first);
    std::vector<int64_t> idx(static_cast<size_t>(m));
    std::iota(idx.begin(), idx.end(), first);
    const DistMatrix<double> g = rows(idx, first + m);
    const int64_t lr = g.local_rows(), lc = g.local_cols();
    if (xl.empty()) {  // the rows of X for every local column of a whole row of K
      ldx = local_extent(n_, block_, grid_.col(), grid_.cols());
      xl.resize(static_cast<size_t>(std::max<int64_t>(ldx, 1) * ncols));
      for (int64_t c = 0; c < ncols; ++c)
        for (int64_t lj = 0; lj < ldx; ++lj)
          xl[lj + c * ldx] = x[static_cast<size_t>(global_index(lj, block_, grid_.col(), grid_.cols()) + c * n_)];
    }
    if (lr == 0 || lc == 0) continue;
    const int ilr = static_cast<int>(lr), ilc = static_cast<int>(lc), lda = static_cast<int>(g.lld());
    const int ildx = static_cast<int>(std::max<int64_t>(ldx, 1));
    yl.assign(static_cast<size_t>(lr * ncols), 0.0);
    dgemm_("N", "N", &ilr, &inc, &ilc, &one, g.data(), &lda, xl.data(), &ildx, &zero, yl.data(), &ilr);
    for (int64_t c = 0; c < ncols; ++c)
      for (int64_t li = 0; li < lr; ++li) y[static_cast<size_t>(first + g.global_row(li) + c * n_)] += yl[li + c * lr];
    // The columns left of the block: the transpose.
    int64_t left = 0;  // local columns with a global index below `first` (a prefix)
    while (left < lc && g.global_col(left) < first) ++left;
    if (left == 0) continue;
    xr.resize(static_cast<size_t>(lr * ncols));
    for (int64_t c = 0; c < ncols; ++c)
      for (int64_t li = 0; li < lr; ++li) xr[li + c * lr] = x[static_cast<size_t>(first + g.global_row(li) + c * n_)];
    yt.assign(static_cast<size_t>(left * ncols), 0.0);
    const int ileft = static_cast<int>(left);
    dgemm_("T", "N", &ileft, &inc, &ilr, &one, g.data(), &lda, xr.data(), &ilr, &zero, yt.data(), &ileft);
    for (int64_t c = 0; c < ncols; ++c)
      for (int64_t lj = 0; lj < left; ++lj) y[static_cast<size_t>(g.global_col(lj) + c * n_)] += yt[lj + c * left];
  }
  shared_sum(grid_.comm(), y);
  return y;
}

std::vector<double> KernelOperator::columns(const std::vector<int64_t>& idx) const {
  // K(idx, :) on the grid; column j sits in grid column (j / block) % Pc and
  // belongs to rank (j / block) % P of the same grid column, at grid row
  // (local block of j in its grid column) % Pr. Each rank of a grid column
  // sends its rows of idx for the columns of grid row `to` (zeros elsewhere:
  // one nonzero per entry, so the sum is exact) to that rank.
  const int64_t m = static_cast<int64_t>(idx.size());
  const DistMatrix<double> g = rows(idx, n_);
  const int pr = grid_.rows();
  const int64_t lc = g.local_cols();
  std::vector<double> out;
  for (int to = 0; to < pr; ++to) {
    std::vector<int64_t> mine;  // local columns of g that rank (to, pc) owns, in order
    for (int64_t lj = 0; lj < lc; ++lj)
      if ((lj / block_) % pr == to) mine.push_back(lj);
    const int64_t cnt = static_cast<int64_t>(mine.size());
    std::vector<double> part(static_cast<size_t>(cnt * m), 0.0);
    for (int64_t t = 0; t < m; ++t) {
      if (g.row_owner(t) != grid_.row()) continue;
      const int64_t li = g.local_row(t);
      for (int64_t k = 0; k < cnt; ++k) part[static_cast<size_t>(k + t * cnt)] = g.local(li, mine[k]);
    }
    if (grid_.row() == to) {
      out.resize(part.size());
      boost::mpi::reduce(grid_.col_comm(), part.data(), static_cast<int>(part.size()), out.data(), std::plus<double>(),
                         to);
    } else {
      boost::mpi::reduce(grid_.col_comm(), part.data(), static_cast<int>(part.size()), std::plus<double>(), to);
    }
  }
  if (static_cast<int64_t>(out.size()) != layout_.local_rows() * m)
    throw RuntimeError("KernelOperator::columns: the grid's columns do not match the row layout");
  return out;
}

namespace {

template <typename V>
void broadcast_vector(const boost::mpi::communicator& comm, std::vector<V>& v) {
  uint64_t size = v.size();
  boost::mpi::broadcast(comm, size, 0);
  v.resize(size);
  if (size > 0) boost::mpi::broadcast(comm, v.data(), static_cast<int>(size), 0);
}

}  // namespace

NystromPreconditioner::NystromPreconditioner(const KernelOperator& k, int64_t rank, uint64_t seed, Landmarks how)
    : n_(k.size()), layout_(&k.layout()) {
  if (rank <= 0) return;
  if (rank > n_) throw InputError(fmt::format("learner.preconditioner_rank: {} exceeds n = {}", rank, n_));
  const boost::mpi::communicator& comm = k.grid().comm();
  const bool root = comm.rank() == 0;
  const RowLayout& lay = *layout_;
  const int64_t nloc = lay.local_rows();
  std::vector<double> d = k.kernel_diagonal();  // the residual diagonal, replicated
  const double floor = 1e-12 * *std::max_element(d.begin(), d.end());
  std::mt19937_64 rng(seed);
  std::vector<int64_t> order;  // uniform: a random permutation, taken in turn
  if (how == Landmarks::Uniform && root) {
    order.resize(static_cast<size_t>(n_));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
  }
  size_t taken = 0;
  const int64_t block = std::min<int64_t>(rank, 32);
  f_.reserve(static_cast<size_t>(nloc * rank));
  int empty_blocks = 0;
  while (r_ < rank && empty_blocks < 3) {
    const int64_t b = std::min(block, rank - r_);
    std::vector<int64_t> s;  // this block's candidate pivots, chosen on rank 0
    if (root) {
      if (how == Landmarks::Uniform) {
        while (static_cast<int64_t>(s.size()) < b && taken < order.size()) s.push_back(order[taken++]);
      } else if (std::accumulate(d.begin(), d.end(), 0.0) > floor) {
        std::discrete_distribution<int64_t> pick(d.begin(), d.end());
        for (int64_t t = 0; t < b; ++t) {
          const int64_t i = pick(rng);
          if (std::find(s.begin(), s.end(), i) == s.end()) s.push_back(i);
        }
      }
    }
    broadcast_vector(comm, s);
    if (s.empty()) break;
    const int64_t m = static_cast<int64_t>(s.size());
    std::vector<double> c = k.columns(s);  // this rank's rows of K(:, S), nloc x m
    // The rows S of a local nloc x cols matrix, m x cols on every rank (one
    // owner per row: the sum is exact and rank 0's bits are broadcast).
    auto rows_s = [&](const std::vector<double>& a, int64_t cols) {
      std::vector<double> out(static_cast<size_t>(m * cols), 0.0);
      for (int64_t t = 0; t < m; ++t)
        if (lay.owner(s[t]) == comm.rank())
          for (int64_t j = 0; j < cols; ++j) out[t + j * m] = a[static_cast<size_t>(lay.local_row(s[t]) + j * nloc)];
      shared_sum(comm, out);
      return out;
    };
    if (r_ > 0) {  // C -= F F(S, :)^T
      const std::vector<double> fs = rows_s(f_, r_);
      const int in = static_cast<int>(nloc), im = static_cast<int>(m), ir = static_cast<int>(r_);
      const double minus = -1, one = 1;
      if (nloc > 0) dgemm_("N", "T", &in, &im, &ir, &minus, f_.data(), &in, fs.data(), &im, &one, c.data(), &in);
    }
    // Partial Cholesky of the block, pivots in sampled order. Each step is
    // the same arithmetic on every row, so C(S, :) (replicated) evolves
    // exactly as its owners' rows do, and the pivots and multipliers read
    // from it are the same on every rank.
    std::vector<double> cs = rows_s(c, m);  // m x m
    int64_t added = 0;
    for (int64_t t = 0; t < m; ++t) {
      const double piv = cs[t + t * m];
      if (!(piv > floor)) continue;
      const double scale = 1.0 / std::sqrt(piv);
      double* col = &c[static_cast<size_t>(t * nloc)];
      double* cols = &cs[static_cast<size_t>(t * m)];
      for (int64_t i = 0; i < nloc; ++i) col[i] *= scale;
      for (int64_t i = 0; i < m; ++i) cols[i] *= scale;
      for (int64_t u = t + 1; u < m; ++u) {
        const double w = cols[u];
        double* other = &c[static_cast<size_t>(u * nloc)];
        double* others = &cs[static_cast<size_t>(u * m)];
        for (int64_t i = 0; i < nloc; ++i) other[i] -= w * col[i];
        for (int64_t i = 0; i < m; ++i) others[i] -= w * cols[i];
      }
      f_.insert(f_.end(), col, col + nloc);
      for (int64_t i = 0; i < nloc; ++i) {
        double& di = d[static_cast<size_t>(lay.global_row(i))];
        di = std::max(0.0, di - col[i] * col[i]);
      }
      landmarks_.push_back(s[t]);
      ++added;
    }
    // The residual diagonal of every row for the next pivots.
    lay.gather(lay.local_part(d.data(), 1), 1, d.data());
    r_ += added;
    empty_blocks = added == 0 ? empty_blocks + 1 : 0;
    if (how == Landmarks::Uniform) {
      uint64_t left = root ? order.size() - taken : 0;
      boost::mpi::broadcast(comm, left, 0);
      if (left == 0) break;
    }
  }
  residual_trace_ = from_rank0(comm, std::accumulate(d.begin(), d.end(), 0.0));
  shared_comm_ = &comm;
}

void NystromPreconditioner::prepare(const std::vector<double>& shifts) {
  shifts_ = shifts;
  factors_.assign(shifts.size(), {});
  if (r_ == 0) return;
  const int64_t nloc = layout_->local_rows();
  const int in = static_cast<int>(nloc), ir = static_cast<int>(r_);
  // F^T F's lower triangle: every rank's rows, summed on rank 0 and broadcast.
  std::vector<double> gram(static_cast<size_t>(r_ * r_), 0.0);
  if (nloc > 0) {
    const double one = 1, zero = 0;
    dsyrk_("L", "T", &ir, &in, &one, f_.data(), &in, &zero, gram.data(), &ir);
  }
  shared_sum(*shared_comm_, gram);
  const bool root = shared_comm_->rank() == 0;
  for (size_t l = 0; l < shifts.size(); ++l) {
    std::vector<double>& m = factors_[l];
    m = gram;
    int info = 0;
    if (root) {
      for (int64_t i = 0; i < r_; ++i) m[static_cast<size_t>(i + i * r_)] += shifts[l];
      dpotrf_("L", &ir, m.data(), &ir, &info);
    }
    boost::mpi::broadcast(*shared_comm_, info, 0);
    if (info != 0)
      throw RuntimeError(fmt::format("Nystrom preconditioner: s I + F^T F is not positive definite (info = {})", info));
    boost::mpi::broadcast(*shared_comm_, m.data(), static_cast<int>(m.size()), 0);
  }
}

void NystromPreconditioner::apply(std::vector<double>& v, const std::vector<char>& active) const {
  if (r_ == 0) return;
  std::vector<int64_t> cols;  // the active columns
  for (size_t l = 0; l < shifts_.size(); ++l)
    if (active[l]) cols.push_back(static_cast<int64_t>(l));
  if (cols.empty()) return;
  const RowLayout& lay = *layout_;
  const int64_t nloc = lay.local_rows(), na = static_cast<int64_t>(cols.size());
  // This rank's rows of the active columns, and F^T v summed over the ranks.
  std::vector<double> vl(static_cast<size_t>(nloc * na));
  for (int64_t a = 0; a < na; ++a) {
    const std::vector<double> part = lay.local_part(&v[static_cast<size_t>(cols[a] * n_)], 1);
    std::copy(part.begin(), part.end(), vl.begin() + a * nloc);
  }
  std::vector<double> w(static_cast<size_t>(r_ * na), 0.0);
  const int in = static_cast<int>(nloc), ir = static_cast<int>(r_), ina = static_cast<int>(na), one_i = 1;
  const int ldv = static_cast<int>(std::max<int64_t>(nloc, 1));
  const double one = 1, zero = 0, minus = -1;
  if (nloc > 0) dgemm_("T", "N", &ir, &ina, &in, &one, f_.data(), &in, vl.data(), &ldv, &zero, w.data(), &ir);
  shared_sum(*shared_comm_, w);
  for (int64_t a = 0; a < na; ++a) {
    int info = 0;
    dpotrs_("L", &ir, &one_i, factors_[cols[a]].data(), &ir, &w[static_cast<size_t>(a * r_)], &ir, &info);
  }
  if (nloc > 0) dgemm_("N", "N", &in, &ina, &ir, &minus, f_.data(), &in, w.data(), &ir, &one, vl.data(), &ldv);
  for (int64_t a = 0; a < na; ++a) {
    const double inv = 1.0 / shifts_[cols[a]];
    for (int64_t i = 0; i < nloc; ++i) vl[static_cast<size_t>(i + a * nloc)] *= inv;
  }
  // Every rank's rows back into the replicated columns.
  std::vector<double> all(static_cast<size_t>(n_ * na));
  lay.gather(vl, na, all.data());
  for (int64_t a = 0; a < na; ++a)
    std::copy(all.begin() + a * n_, all.begin() + (a + 1) * n_, v.begin() + cols[a] * n_);
}

void pcg_solve(const KernelOperator& k, const NystromPreconditioner& pre, const std::vector<double>& y,
               const std::vector<double>& shifts, double tolerance, int64_t max_iterations, CgState& st,
               const std::function<void(const CgState&)>& after_iteration) {
  const boost::mpi::communicator& comm = k.grid().comm();
  const int64_t n = k.size(), nl = static_cast<int64_t>(shifts.size());
  const size_t total = static_cast<size_t>(n * nl);
  const double ynorm = std::sqrt(dot(y.data(), y.data(), n));
  auto col = [&](std::vector<double>& v, int64_t l) { return &v[static_cast<size_t>(l * n)]; };
  std::vector<char> active(static_cast<size_t>(nl));
  auto update_active = [&] {
    for (int64_t l = 0; l < nl; ++l) active[l] = st.converged[l] == 0;
  };
  std::vector<double> z;
  if (!st.started()) {
    st.iteration = 0;
    st.x.assign(total, 0.0);
    st.r.resize(total);
    for (int64_t l = 0; l < nl; ++l) std::copy(y.begin(), y.end(), col(st.r, l));
    st.residual.assign(nl, ynorm > 0 ? 1.0 : 0.0);
    st.iterations.assign(nl, 0.0);
    st.converged.assign(nl, ynorm > 0 ? 0.0 : 1.0);
    update_active();
    z = st.r;
    pre.apply(z, active);
    st.p = z;
    st.rz.assign(nl, 0.0);
    for (int64_t l = 0; l < nl; ++l) st.rz[l] = dot(col(st.r, l), col(z, l), n);
    boost::mpi::broadcast(comm, st.rz.data(), static_cast<int>(nl), 0);
  }
  update_active();
  while (st.iteration < max_iterations && std::any_of(active.begin(), active.end(), [](char a) { return a; })) {
    std::vector<double> q = k.apply(st.p, nl);
    std::vector<double> alpha(nl, 0.0), beta(nl, 0.0);
    for (int64_t l = 0; l < nl; ++l) {
      if (!active[l]) continue;
      double* ql = col(q, l);
      const double* pl = col(st.p, l);
      for (int64_t i = 0; i < n; ++i) ql[i] += shifts[l] * pl[i];
      alpha[l] = st.rz[l] / dot(pl, ql, n);
    }
    boost::mpi::broadcast(comm, alpha.data(), static_cast<int>(nl), 0);
    ++st.iteration;
    for (int64_t l = 0; l < nl; ++l) {
      if (!active[l]) continue;
      if (!std::isfinite(alpha[l]) || !(alpha[l] > 0)) {  // breakdown: K + s I not numerically positive definite
        st.converged[l] = -1;
        continue;
      }
      double *xl = col(st.x, l), *rl = col(st.r, l);
      const double *pl = col(st.p, l), *ql = col(q, l);
      for (int64_t i = 0; i < n; ++i) xl[i] += alpha[l] * pl[i], rl[i] -= alpha[l] * ql[i];
      st.residual[l] = std::sqrt(dot(rl, rl, n)) / ynorm;
      st.iterations[l] = static_cast<double>(st.iteration);
    }
    boost::mpi::broadcast(comm, st.residual.data(), static_cast<int>(nl), 0);
    for (int64_t l = 0; l < nl; ++l)
      if (active[l] && st.converged[l] == 0 && st.residual[l] <= tolerance) st.converged[l] = 1;
    update_active();
    z = st.r;
    pre.apply(z, active);
    std::vector<double> rz(st.rz);
    for (int64_t l = 0; l < nl; ++l) {
      if (!active[l]) continue;
      rz[l] = dot(col(st.r, l), col(z, l), n);
      beta[l] = rz[l] / st.rz[l];
    }
    boost::mpi::broadcast(comm, rz.data(), static_cast<int>(nl), 0);
    boost::mpi::broadcast(comm, beta.data(), static_cast<int>(nl), 0);
    for (int64_t l = 0; l < nl; ++l) {
      if (!active[l]) continue;
      double* pl = col(st.p, l);
      const double* zl = col(z, l);
      for (int64_t i = 0; i < n; ++i) pl[i] = zl[i] + beta[l] * pl[i];
    }
    st.rz = rz;
    if (after_iteration) after_iteration(st);
  }
}

namespace {

// The numbers and vectors of a CgState in /checkpoint, each named once.
template <typename State, typename F>
void for_each_vector(State& s, F&& f) {
  f("x", s.x);
  f("r", s.r);
  f("p", s.p);
  f("rz", s.rz);
  f("residual", s.residual);
  f("iterations", s.iterations);
  f("converged", s.converged);
}

// An iteration as the run's progress sees it (Evaluation, learner.hpp): the
// largest residual of the ridges still iterating, and the iteration at which
// it reaches the tolerance if it keeps falling at its mean rate so far (the
// residual starts at 1), at most max_iterations. The same on every rank.
Evaluation progress(const CgState& s, int64_t start, const IterativeSolverConfig& it, int fit) {
  Evaluation e;
  e.step = s.iteration, e.start_step = start;
  double worst = 0;
  int64_t converged = 0;
  for (size_t l = 0; l < s.residual.size(); ++l)
    if (s.converged[l] == 0)
      worst = std::isnan(s.residual[l]) || s.residual[l] > worst ? s.residual[l] : worst;  // NaN stays
    else
      converged += s.converged[l] > 0;
  e.residual = worst;
  e.last_step = it.max_iterations;
  const double rate = std::pow(worst, 1.0 / static_cast<double>(std::max<int64_t>(s.iteration, 1)));
  if (worst > 0 && rate < 1) {
    const double more = std::ceil(std::log(it.tolerance / worst) / std::log(rate));
    if (more < static_cast<double>(it.max_iterations - s.iteration))
      e.last_step = s.iteration + std::max<int64_t>(0, static_cast<int64_t>(more));
  }
  if (worst == 0) e.last_step = s.iteration;
  e.label = fit ? "pcg (validation fit)" : "pcg";
  e.note = fmt::format("{}/{} ridges converged", converged, s.residual.size());
  return e;
}

// Matrix-free conjugate gradients for every ridge at once (one kernel
// product per iteration serves them all), preconditioned by one Nystrom
// approximation whose landmarks every ridge shares.
class PcgSolver : public TypedRidgeSolver<PcgSolver> {
 public:
  template <typename T>
  void run(const SolveProblem& p, Solution<T>& sol, Phases& ph) const {
    if constexpr (!std::is_same_v<T, double>) {
      refuse_single_precision(KernelSolver::Pcg);
    } else {
      solve_double(p, sol, ph);
    }
  }
  bool matrix_free() const override { return true; }

 private:
  void solve_double(const SolveProblem& p, Solution<double>& sol, Phases& ph) const {
    const int64_t n = p.gram.n_train(), nr = static_cast<int64_t>(p.shift.size());
    const double nd = static_cast<double>(n);
    PhaseClock clock;
    clock.start();
    const KernelOperator op(p.gram, p.kernel, p.diag, p.grid, p.block);
    NystromPreconditioner pre(op, std::min(p.iterative.preconditioner_rank, n), p.seed);
    pre.prepare(p.shift);
    clock.stop(ph.factor);
    const double r = static_cast<double>(pre.rank());
    sol.flops += r * op.product_flops() / nd + nd * r * r;  // r kernel columns and the partial Cholesky
    clock.start();
    CgState st;
    if (p.checkpoints)
      if (const Checkpoint* earlier = p.checkpoints->earlier()) load_state(*earlier, p.fit, st);
    const int64_t start = st.iteration;
    const auto after_iteration = [&](const CgState& s) {
      if (p.on_evaluation) p.on_evaluation(progress(s, start, p.iterative, p.fit));
      if (p.checkpoints) p.checkpoints->after_step(s.iteration, [&] { return save_state(s, p.fit); });
    };
    pcg_solve(op, pre, p.y, p.shift, p.iterative.tolerance, p.iterative.max_iterations, st, after_iteration);
    clock.stop(ph.solve);
    sol.flops += static_cast<double>(st.iteration) * (op.product_flops() + 4.0 * nd * r * static_cast<double>(nr));
    for (int64_t l = 0; l < nr; ++l) {
      const double* x = &st.x[static_cast<size_t>(l * n)];
      sol.coef.for_each_local([&](int64_t i, int64_t j, double& c) {
        if (j == l) c = x[i];
      });
      sol.extra[l]["residual"] = st.residual[l];
      sol.extra[l]["iterations"] = st.iterations[l];
      sol.extra[l]["preconditioner_rank"] = r;
      if (st.converged[l] == 0) sol.status[l] = "not-converged";
      if (st.converged[l] < 0) sol.status[l] = "cg-breakdown";
    }
  }
};

}  // namespace

Checkpoint save_state(const CgState& s, int fit) {
  Checkpoint c;
  c.scalars["cg_fit"] = static_cast<double>(fit);
  c.scalars["iteration"] = static_cast<double>(s.iteration);
  for_each_vector(s, [&](const char* name, const std::vector<double>& v) { c.vectors[name] = v; });
  return c;
}

bool load_state(const Checkpoint& c, int fit, CgState& s) {
  const auto it = c.scalars.find("cg_fit");
  if (it == c.scalars.end() || it->second != static_cast<double>(fit)) return false;
  s.iteration = static_cast<int64_t>(c.scalars.at("iteration"));
  for_each_vector(s, [&](const char* name, std::vector<double>& v) { v = c.vectors.at(name); });
  return true;
}

std::unique_ptr<RidgeSolver> make_pcg_solver() {
  return std::make_unique<PcgSolver>();
}

}  // namespace neurep
