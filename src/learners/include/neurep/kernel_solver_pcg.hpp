// The matrix-free kernel solver (learner.solver = "pcg", issue 17), a
// RidgeSolver of kernel_solver.hpp: preconditioned conjugate gradients for
// (K + shift I) alpha = y where K is never stored. Each product K X builds K's lower triangle in blocks of rows from
// the Gram source (one product of the inputs plus the kernel map per block)
// and accumulates the block times X and its transpose times X, so the memory
// per rank is one block of rows (at most 256 MB) besides the inputs (n q / P,
// block-distributed), the preconditioner's share and the vectors. The
// preconditioner is a rank-r Nystrom approximation K ~ F F^T whose landmarks
// are chosen by randomly pivoted Cholesky (Chen, Epperly, Tropp, Webber 2023;
// blocks of pivots) or uniformly, applied by the Woodbury identity
//   (F F^T + s I)^{-1} v = (v - F (s I + F^T F)^{-1} F^T v) / s.
// F is distributed by rows (RowLayout: n r / P words per rank), so F^T v is a
// local product plus an r-vector sum; the r x r factors are replicated.
// Vectors (n x L, a column per ridge) are replicated on every rank (~6 n L
// words: x, r, p, z, K p, y); products are summed on rank 0 and broadcast,
// and every decision (pivots, convergence) is taken from values rank 0
// computed or broadcast, so all ranks follow the same path. The CG state
// (CgState) is checkpointed through PointCheckpoints like a Taylor model's
// (save_state/load_state) and resumed bit-identically.
#pragma once

#include <boost/mpi/communicator.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "neurep/kernel_regression.hpp"
#include "neurep/kernels.hpp"
#include "neurep/learner.hpp"

namespace neurep {

// The rows of an n-long dimension in blocks of `block`, dealt to the ranks of
// `grid` in turn (block b to rank b mod P): block-cyclic over all P ranks.
// Rank (pr, pc) of the grid holds blocks that are columns of grid column pc
// of a matrix with `block` x `block` blocks, so a kernel row block's columns
// reach their owner within the grid column.
class RowLayout {
 public:
  RowLayout(int64_t n, int block, const ProcessGrid& grid);
  int64_t size() const { return n_; }
  int64_t local_rows() const { return local_; }
  int64_t global_row(int64_t li) const { return global_index(li, block_, rank_, ranks_); }
  int owner(int64_t i) const { return static_cast<int>((i / block_) % ranks_); }
  int64_t local_row(int64_t i) const { return (i / (int64_t(block_) * ranks_)) * block_ + i % block_; }
  // x's local rows (x n x ncols, column-major) as local_rows() x ncols. Local.
  std::vector<double> local_part(const double* x, int64_t ncols) const;
  // Every rank's `local` (local_rows() x ncols) into x (n x ncols) on every
  // rank, the same bits everywhere. Collective.
  void gather(const std::vector<double>& local, int64_t ncols, double* x) const;

 private:
  const boost::mpi::communicator& comm_;
  int64_t n_;
  int block_, rank_, ranks_;
  int64_t local_;
};

// K of the training samples as an operator. Keeps a reference to `gram`.
class KernelOperator {
 public:
  // diag: the Gram source's train_diagonal() (the inner products' diagonal).
  // rows_per_block: rows of K per block of a product, rounded up to whole
  // units of block x grid rows; 0: as many as fit in 2^25 words (256 MB) per rank.
  KernelOperator(const GramSource& gram, KernelKind kind, std::vector<double> diag, const ProcessGrid& grid, int block,
                 int64_t rows_per_block = 0);
  int64_t size() const { return n_; }
  const ProcessGrid& grid() const { return grid_; }
  // K(i, i) of the outer kernel, replicated.
  const std::vector<double>& kernel_diagonal() const { return kdiag_; }
  // K X for X n x ncols, column-major and the same on every rank; the result likewise. Collective.
  std::vector<double> apply(const std::vector<double>& x, int64_t ncols) const;
  // K(:, idx)'s rows of this rank in layout(), local_rows() x |idx|
  // column-major. Collective.
  std::vector<double> columns(const std::vector<int64_t>& idx) const;
  // How the preconditioner's rows are distributed.
  const RowLayout& layout() const { return layout_; }
  // Rows of K per block of a product.
  int64_t rows_per_block() const { return chunk_; }
  // The rows per block when the constructor is given none: up to 16 blocks
  // of whole units of block x grid rows, at least 1024 rows, at most
  // kMatrixFreeBlockWords words per rank. Pure.
  static int64_t default_rows_per_block(int64_t n, int block, int grid_rows, int ranks);
  // Kernel entries one product computes with blocks of `rows_per_block` rows
  // (each block up to its last column: with B equal blocks n^2 (1 + 1/B)/2). Pure.
  static double product_entries(int64_t n, int64_t rows_per_block);
  // Flops of one product with one column (Gram product and the accumulation).
  double product_flops() const { return flops_; }

 private:
  // K(idx, 0 : ncols) with the kernel map applied and K(i, i) exact.
  DistMatrix<double> rows(const std::vector<int64_t>& idx, int64_t ncols) const;
  const GramSource& gram_;
  KernelKind kind_;
  std::vector<double> diag_, kdiag_;
  const ProcessGrid& grid_;
  int block_;
  int64_t n_, chunk_;
  RowLayout layout_;
  double flops_ = 0;
};

enum class Landmarks { RandomlyPivotedCholesky, Uniform };

// The rank-r Nystrom preconditioner, F (n x r) distributed by rows as the
// operator's layout(), the r x r factors replicated.
class NystromPreconditioner {
 public:
  // Collective; keeps a reference to k.layout(). rank = 0: no preconditioner (identity). Pivots whose residual
  // diagonal is below 1e-12 of K's largest diagonal entry are rejected, so the
  // accepted rank can be below the requested one when K has lower numerical rank.
  NystromPreconditioner(const KernelOperator& k, int64_t rank, uint64_t seed,
                        Landmarks how = Landmarks::RandomlyPivotedCholesky);
  int64_t rank() const { return r_; }
  const std::vector<int64_t>& landmarks() const { return landmarks_; }
  // Factors s_l I + F^T F for every shift (on rank 0, broadcast). Collective.
  void prepare(const std::vector<double>& shifts);
  // In place, column l of v (n x L, replicated) <- (F F^T + s_l I)^{-1} v_l
  // for the columns with active[l], the same bits on every rank. Collective.
  void apply(std::vector<double>& v, const std::vector<char>& active) const;
  // Words of F this rank holds (its rows times the rank): n r / P up to a
  // block of rows, the term of the memory model (Learner::memory_words).
  int64_t local_words() const { return static_cast<int64_t>(f_.size()); }
  // |K - F F^T|'s trace: the residual diagonal's sum after the last pivot.
  double residual_trace() const { return residual_trace_; }

 private:
  int64_t n_, r_ = 0;
  const RowLayout* layout_ = nullptr;
  std::vector<double> f_;  // this rank's rows of F, layout_->local_rows() x r, column-major
  std::vector<int64_t> landmarks_;
  std::vector<double> shifts_;
  std::vector<std::vector<double>> factors_;  // Cholesky factors of s_l I + F^T F (r x r)
  double residual_trace_ = 0;
  const boost::mpi::communicator* shared_comm_ = nullptr;
};

// The state of the iteration for every ridge (all vectors n x L column-major),
// everything needed to resume it.
struct CgState {
  int64_t iteration = 0;
  std::vector<double> x, r, p;     // solution, residual, search direction
  std::vector<double> rz;          // r . z per ridge
  std::vector<double> residual;    // |r| / |y| per ridge
  std::vector<double> iterations;  // iterations each ridge took (stops growing when it converges)
  std::vector<double> converged;   // 1 when |r| / |y| <= tolerance
  bool started() const { return !x.empty(); }
};

// A CG state as a /checkpoint (the driver names the point) and back, by one
// list of its fields; `fit` tells the fits of a point apart (0: on all n,
// 1: the refit of ridge_selection = "validation") and is saved with it.
// load_state returns false (and leaves `state` alone) when `checkpoint` is
// not a CG state of that fit.
Checkpoint save_state(const CgState& state, int fit);
bool load_state(const Checkpoint& checkpoint, int fit, CgState& state);

// (K + shifts[l] I) x_l = y for every shift, from `state` (fresh when
// !state.started(), else resumed as saved). After each iteration
// `after_iteration(state)` is called on every rank (checkpoints, signals; it
// may throw to stop). Stops when every ridge converged or after max_iterations.
// Collective.
void pcg_solve(const KernelOperator& k, const NystromPreconditioner& pre, const std::vector<double>& y,
               const std::vector<double>& shifts, double tolerance, int64_t max_iterations, CgState& state,
               const std::function<void(const CgState&)>& after_iteration = {});

}  // namespace neurep
