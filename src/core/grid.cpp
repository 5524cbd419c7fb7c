#include "neurep/grid.hpp"

#include <cmath>
#include <fmt/core.h>

#include "neurep/detail/scalapack_imports.hpp"
#include "neurep/errors.hpp"

namespace neurep {

GridShape grid_shape(const GridRequest& request, int nranks, GridWork work) {
  GridShape s;
  if (request.automatic && work == GridWork::Tall) {
    s.rows = nranks;
    return s;
  }
  if (request.automatic) {
    int r = static_cast<int>(std::sqrt(static_cast<double>(nranks)));
    while (r > 1 && nranks % r != 0) --r;
    s.rows = r;
    s.cols = nranks / r;
    return s;
  }
  s.rows = request.rows, s.cols = request.cols;
  if (s.rows < 1 || s.cols < 1 || s.rows * s.cols != nranks)
    throw InputError(fmt::format("run.grid: {}x{} needs {} ranks, but the job has {}", s.rows,
                                 s.cols, s.rows * s.cols, nranks));
  return s;
}

GridShape parse_grid_shape(const std::string& spec, int nranks, GridWork work) {
  return grid_shape(parse_grid_request(spec), nranks, work);
}

ProcessGrid::ProcessGrid(const boost::mpi::communicator& comm, GridShape shape)
    : shape_(shape), comm_(comm, boost::mpi::comm_duplicate) {
  if (shape_.rows * shape_.cols != comm_.size())
    throw InputError(fmt::format("run.grid: {}x{} does not match {} ranks", shape_.rows,
                                 shape_.cols, comm_.size()));
  myrow_ = comm_.rank() / shape_.cols;
  mycol_ = comm_.rank() % shape_.cols;
  row_comm_ = comm_.split(myrow_, mycol_);
  col_comm_ = comm_.split(mycol_, myrow_);
  blacs_handle_ = Csys2blacs_handle(static_cast<MPI_Comm>(comm_));
  context_ = blacs_handle_;
  Cblacs_gridinit(&context_, "Row", shape_.rows, shape_.cols);
  int pr, pc, r, c;
  Cblacs_gridinfo(context_, &pr, &pc, &r, &c);
  if (pr != shape_.rows || pc != shape_.cols || r != myrow_ || c != mycol_)
    throw RuntimeError("BLACS grid does not match the MPI grid layout");
}

ProcessGrid::~ProcessGrid() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (context_ >= 0) Cblacs_gridexit(context_);
  if (blacs_handle_ >= 0) Cfree_blacs_system_handle(blacs_handle_);
}

std::string ProcessGrid::shape_string() const {
  return fmt::format("{}x{}", shape_.rows, shape_.cols);
}

}  // namespace neurep
