#include "neurep/grid.hpp"

#include <cctype>
#include <cmath>
#include <fmt/core.h>

#include "neurep/detail/scalapack_imports.hpp"
#include "neurep/errors.hpp"

namespace neurep {

GridShape parse_grid_spec(const std::string& spec) {
  if (spec == "auto") return {0, 0};
  GridShape s;
  const auto x = spec.find('x');
  try {
    if (x == std::string::npos) throw std::invalid_argument("no x");
    size_t p1 = 0, p2 = 0;
    s.rows = std::stoi(spec.substr(0, x), &p1);
    s.cols = std::stoi(spec.substr(x + 1), &p2);
    if (p1 != x || p2 != spec.size() - x - 1 || !std::isdigit(static_cast<unsigned char>(spec[0])) ||
        !std::isdigit(static_cast<unsigned char>(spec[x + 1])))
      throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw InputError(fmt::format("run.grid: '{}' is not \"auto\" or \"PrxPc\" (e.g. \"2x2\")", spec));
  }
  if (s.rows < 1 || s.cols < 1 || s.rows > 1 << 20 || s.cols > 1 << 20)
    throw InputError(fmt::format("run.grid: '{}': Pr and Pc must be positive", spec));
  return s;
}

GridShape parse_grid_shape(const std::string& spec, int nranks, GridWork work) {
  GridShape s;
  if (spec == "auto" && work == GridWork::Tall) {
    s.rows = nranks;
    return s;
  }
  if (spec == "auto") {
    int r = static_cast<int>(std::sqrt(static_cast<double>(nranks)));
    while (r > 1 && nranks % r != 0) --r;
    s.rows = r;
    s.cols = nranks / r;
    return s;
  }
  s = parse_grid_spec(spec);
  if (s.rows * s.cols != nranks)
    throw InputError(fmt::format("run.grid: {}x{} needs {} ranks, but the job has {}", s.rows,
                                 s.cols, s.rows * s.cols, nranks));
  return s;
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
