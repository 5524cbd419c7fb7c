// The learner's input u: the raw input x (representation.kind = "none") or
// the fixed random representation h(x) (DESIGN 1.2), optionally with a
// constant coordinate appended (learner.input_bias).
//
// A random representation is built once per (d, seed): the random network
// (random_features.hpp), and the whitening statistics estimated on
// n_unlabeled fresh unlabelled inputs (whitening.hpp). The same map is then
// applied to training, test and any later inputs. With infinite = true there
// are no features: the representation is its closed-form kernel
// (representation_kernel.hpp), and inputs() returns the raw x that an
// InfiniteGram maps through it.
//
// With single_precision (run.precision = "single") the zca whitening's
// product, the one heavy step per set of inputs, runs in float
// (Whitening::apply); the random layers (whose step units would flip on a
// float pre-activation near 0) and the whitening statistics stay double.
// inputs() returns DistMatrix<double> in either precision -- holding
// float-accurate values in single -- since the learners round it to float
// themselves.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "neurep/settings.hpp"
#include "neurep/data.hpp"
#include "neurep/dist_matrix.hpp"
#include "neurep/grid.hpp"
#include "neurep/random_features.hpp"
#include "neurep/representation_kernel.hpp"
#include "neurep/whitening.hpp"

namespace neurep {

class Representation {
 public:
  // Collective: a finite representation with zca or center whitening
  // computes its unlabelled features and statistics here; an infinite one
  // centred on a sample (Gaussian inputs) its centring means. Bad
  // configuration (widths, activations without a closed form) -> InputError.
  Representation(const RepresentationConfig& config, const Dataset& data, const RandomStreams& streams,
                 const ProcessGrid& grid, int block, bool single_precision = false);

  // Dimension of u without the constant coordinate: d (raw or infinite), or D.
  int64_t dim() const { return dim_; }
  // D for a finite random representation; 0 for raw input and infinite width.
  int64_t width() const { return width_; }
  // The input column of /results: "x", "h:step:D=2*d^2:zca", "h:relu:inf"
  // (":center" appended for a centred infinite kernel, ":depth=L" for L > 1).
  const std::string& label() const { return label_; }
  bool infinite() const { return kernel_ != nullptr; }
  bool single_precision() const { return single_precision_; }

  // The first n inputs of a split as an n x (dim [+1]) matrix: h(x) for a
  // finite representation, x otherwise. Collective.
  DistMatrix<double> inputs(Split split, int64_t n, bool constant_column) const;

  // The parts, for diagnostics, output and tests (null when absent).
  const RandomNetwork* network() const { return network_.get(); }
  const Whitening* whitening() const { return whitening_.get(); }
  const InfiniteKernel* infinite_kernel() const { return kernel_.get(); }

 private:
  const Dataset& data_;
  const ProcessGrid& grid_;
  int block_;
  bool single_precision_;
  int64_t dim_ = 0;
  int64_t width_ = 0;
  std::string label_;
  std::unique_ptr<RandomNetwork> network_;
  std::unique_ptr<Whitening> whitening_;
  std::unique_ptr<InfiniteKernel> kernel_;
};

}  // namespace neurep
