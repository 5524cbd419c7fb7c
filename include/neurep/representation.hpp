// The learner's input u: the raw input x (representation.kind = "none") or
// the fixed random representation h(x) (SPEC 1.2), optionally with a
// constant coordinate appended (learner.input_bias).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "neurep/config.hpp"
#include "neurep/data.hpp"
#include "neurep/dist_matrix.hpp"
#include "neurep/grid.hpp"

namespace neurep {

class Representation {
 public:
  // Collective: a finite representation estimates its whitening statistics here.
  Representation(const RepresentationConfig& config, const Dataset& data, const RandomStreams& streams,
                 const ProcessGrid& grid, int block);

  // Dimension of u without the constant coordinate: d, or D.
  int64_t dim() const { return dim_; }
  // D for a random representation, 0 for raw input.
  int64_t width() const { return width_; }
  // The input column of /results: "x", "h:step:D=2*d^2:zca", "h:relu:inf".
  const std::string& label() const { return label_; }

  // The first n inputs of a split as an n x (dim [+1]) matrix. Collective.
  DistMatrix<double> inputs(Split split, int64_t n, bool constant_column) const;

 private:
  const Dataset& data_;
  const ProcessGrid& grid_;
  int block_;
  int64_t dim_ = 0;
  int64_t width_ = 0;
  std::string label_;
};

}  // namespace neurep
