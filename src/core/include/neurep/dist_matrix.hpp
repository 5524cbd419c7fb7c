// DistMatrix<T>: a dense matrix on the 2-D block-cyclic layout of ScaLAPACK.
//
// Ownership is one formula: global row i lives on grid row (i / mb) % Pr, at
// local row (i / (mb Pr)) mb + i % mb; columns likewise with nb and Pc. The
// first block sits on grid row 0 and column 0 (rsrc = csrc = 0). Local storage
// is column-major with leading dimension lld() >= 1, as PBLAS expects.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "neurep/grid.hpp"

namespace neurep {

// Number of rows (or columns) of an n-long dimension, cut in blocks of nb,
// owned by grid coordinate `iproc` of `nprocs` (ScaLAPACK's NUMROC).
int64_t local_extent(int64_t n, int nb, int iproc, int nprocs);

// Global index of local index `li` on grid coordinate `iproc` of `nprocs`
// (blocks of nb; ScaLAPACK's INDXL2G with isrcproc = 0).
inline int64_t global_index(int64_t li, int nb, int iproc, int nprocs) {
  return ((li / nb) * nprocs + iproc) * int64_t(nb) + li % nb;
}

// The ScaLAPACK descriptor of an m x n matrix with the given blocks on `grid`,
// with local leading dimension lld. The only place descriptors are made;
// throws RuntimeError for layouts ScaLAPACK cannot describe (32-bit overflow).
std::array<int, 9> make_descriptor(const ProcessGrid& grid, int64_t m, int64_t n, int mb, int nb,
                                   int64_t lld);

// An allocator whose vector::resize leaves new elements default-initialised
// (for double: unwritten), for DistMatrix::uninitialized.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() noexcept = default;
  template <typename U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

template <typename T>
class DistMatrix {
 public:
  // Entries set to zero.
  DistMatrix(const ProcessGrid& grid, int64_t m, int64_t n, int mb, int nb) : DistMatrix(grid, m, n, mb, nb, true) {}

  // Entries left unset, for a matrix that is written before it is read
  // (a product with beta = 0, the lower triangle of a kernel). Its pages are
  // only backed by memory where they are first written: by the product's
  // threads, in parallel, and never for an n x n kernel's unused upper triangle.
  static DistMatrix uninitialized(const ProcessGrid& grid, int64_t m, int64_t n, int mb, int nb) {
    return DistMatrix(grid, m, n, mb, nb, false);
  }

  const ProcessGrid& grid() const { return *grid_; }
  int64_t rows() const { return m_; }
  int64_t cols() const { return n_; }
  int row_block() const { return mb_; }
  int col_block() const { return nb_; }
  int64_t local_rows() const { return local_rows_; }
  int64_t local_cols() const { return local_cols_; }
  int64_t lld() const { return lld_; }
  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  std::array<int, 9> descriptor() const { return make_descriptor(*grid_, m_, n_, mb_, nb_, lld_); }

  // Index maps (local <-> global), pure functions of the layout.
  int row_owner(int64_t i) const { return static_cast<int>((i / mb_) % grid_->rows()); }
  int col_owner(int64_t j) const { return static_cast<int>((j / nb_) % grid_->cols()); }
  bool owns(int64_t i, int64_t j) const {
    return row_owner(i) == grid_->row() && col_owner(j) == grid_->col();
  }
  int64_t local_row(int64_t i) const { return (i / (int64_t(mb_) * grid_->rows())) * mb_ + i % mb_; }
  int64_t local_col(int64_t j) const { return (j / (int64_t(nb_) * grid_->cols())) * nb_ + j % nb_; }
  int64_t global_row(int64_t li) const { return global_index(li, mb_, grid_->row(), grid_->rows()); }
  int64_t global_col(int64_t lj) const { return global_index(lj, nb_, grid_->col(), grid_->cols()); }

  T& local(int64_t li, int64_t lj) { return data_[static_cast<size_t>(li + lj * lld_)]; }
  const T& local(int64_t li, int64_t lj) const { return data_[static_cast<size_t>(li + lj * lld_)]; }

  // Calls f(i, j, value&) for every locally owned entry (global indices).
  template <typename F>
  void for_each_local(F&& f) {
    for (int64_t lj = 0; lj < local_cols_; ++lj) {
      const int64_t j = global_col(lj);
      for (int64_t li = 0; li < local_rows_; ++li) f(global_row(li), j, local(li, lj));
    }
  }

  void fill(T value) { std::fill(data_.begin(), data_.end(), value); }

 private:
  DistMatrix(const ProcessGrid& grid, int64_t m, int64_t n, int mb, int nb, bool zero)
      : grid_(&grid), m_(m), n_(n), mb_(mb), nb_(nb) {
    local_rows_ = local_extent(m, mb, grid.row(), grid.rows());
    local_cols_ = local_extent(n, nb, grid.col(), grid.cols());
    lld_ = local_rows_ > 0 ? local_rows_ : 1;
    if (zero)
      data_.assign(static_cast<size_t>(lld_ * local_cols_), T(0));
    else
      data_.resize(static_cast<size_t>(lld_ * local_cols_));
  }

  const ProcessGrid* grid_;
  int64_t m_, n_;
  int mb_, nb_;
  int64_t local_rows_ = 0, local_cols_ = 0, lld_ = 1;
  std::vector<T, DefaultInitAllocator<T>> data_;
};

}  // namespace neurep
