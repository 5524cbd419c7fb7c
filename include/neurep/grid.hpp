// ProcessGrid: the Pr x Pc grid of MPI ranks every distributed matrix lives on.
// Grid rows partition samples, grid columns partition hidden units/features
// (SPEC 2.1). The grid owns a duplicated communicator, its row and column
// sub-communicators and the BLACS context bound to the duplicate.
#pragma once

#include <boost/mpi/communicator.hpp>
#include <string>

namespace neurep {

struct GridShape {
  int rows = 1;
  int cols = 1;
};

// The shape "auto" picks: the most square Pr x Pc with Pr <= Pc for square
// work (the n x n kernel), or P x 1 for tall work (the Taylor models' n x q
// inputs and n x m activations split by samples: their two products are then
// local GEMMs plus an all-gather and a reduce-scatter of W, m x q).
enum class GridWork { Square, Tall };

// The shape "PrxPc" names ({0, 0} for "auto"); InputError if malformed. What
// `neurep check` can validate without knowing the number of ranks.
GridShape parse_grid_spec(const std::string& spec);

// "auto" picks the shape for `work`; "PrxPc" forces a shape. Throws
// InputError if the string is malformed or does not multiply to nranks.
GridShape parse_grid_shape(const std::string& spec, int nranks, GridWork work = GridWork::Square);

class ProcessGrid {
 public:
  // Collective over `comm`. Rank r sits at (r / Pc, r % Pc) (row-major).
  ProcessGrid(const boost::mpi::communicator& comm, GridShape shape);
  ~ProcessGrid();
  ProcessGrid(const ProcessGrid&) = delete;
  ProcessGrid& operator=(const ProcessGrid&) = delete;

  int rows() const { return shape_.rows; }
  int cols() const { return shape_.cols; }
  int row() const { return myrow_; }  // this rank's grid row
  int col() const { return mycol_; }  // this rank's grid column
  int size() const { return shape_.rows * shape_.cols; }
  int rank() const { return comm_.rank(); }
  std::string shape_string() const;

  const boost::mpi::communicator& comm() const { return comm_; }
  // Ranks in this rank's grid row (same samples, different units).
  const boost::mpi::communicator& row_comm() const { return row_comm_; }
  // Ranks in this rank's grid column (same units, different samples).
  const boost::mpi::communicator& col_comm() const { return col_comm_; }
  int blacs_context() const { return context_; }

 private:
  GridShape shape_;
  boost::mpi::communicator comm_;
  boost::mpi::communicator row_comm_;
  boost::mpi::communicator col_comm_;
  int myrow_ = 0, mycol_ = 0;
  int blacs_handle_ = -1;
  int context_ = -1;
};

}  // namespace neurep
