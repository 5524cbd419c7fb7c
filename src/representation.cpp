#include "neurep/representation.hpp"

#include "neurep/errors.hpp"

namespace neurep {

Representation::Representation(const RepresentationConfig& config, const Dataset& data,
                               const RandomStreams& streams, const ProcessGrid& grid, int block)
    : data_(data), grid_(grid), block_(block) {
  if (config.kind != "none")
    throw InputError("representation.kind: \"random\" is not implemented yet; accepted: none");
  dim_ = data.dim();
  label_ = "x";
}

DistMatrix<double> Representation::inputs(Split split, int64_t n, bool constant_column) const {
  DistMatrix<double> u(grid_, n, dim_ + (constant_column ? 1 : 0), block_, block_);
  data_.fill_inputs(split, u, constant_column);
  return u;
}

}  // namespace neurep
