#include "neurep/representation.hpp"

#include <fmt/core.h>

#include "neurep/errors.hpp"
#include "neurep/linalg.hpp"

namespace neurep {

Representation::Representation(const RepresentationConfig& config, const Dataset& data,
                               const RandomStreams& streams, const ProcessGrid& grid, int block,
                               bool single_precision)
    : data_(data), grid_(grid), block_(block), single_precision_(single_precision) {
  const int d = data.dim();
  const RandomRepresentationConfig* random = config.random();
  if (!random) {
    dim_ = d;
    label_ = "x";
    return;
  }
  const RandomRepresentationConfig& c = *random;
  const std::string depth = c.depth > 1 ? fmt::format(":depth={}", c.depth) : "";

  if (c.infinite) {  // validate() has excluded zca and the activations without a closed form
    kernel_ = std::make_unique<InfiniteKernel>(c.activation, c.bias, c.depth, d);
    if (c.whiten == WhitenKind::Center) {
      if (data.config().input == InputDistribution::Sphere) {
        kernel_->centre_on_sphere();
      } else {
        DistMatrix<double> x_unl(grid, c.unlabeled_at(d), d, block, block);
        data.fill_inputs(Split::Unlabeled, x_unl);
        kernel_->centre_on_sample(std::move(x_unl));
      }
    }
    dim_ = d;
    label_ = fmt::format("h:{}:inf{}{}", name_of(c.activation), c.whiten == WhitenKind::Center ? ":center" : "", depth);
    return;
  }

  width_ = c.width.at(d);
  dim_ = width_;
  network_ = std::make_unique<RandomNetwork>(c.activation, c.bias, width_, c.depth, d, streams);
  if (c.whiten == WhitenKind::None) {
    whitening_ = std::make_unique<Whitening>(width_);
  } else {
    const DistMatrix<double> g_unl = network_->features(data, Split::Unlabeled, c.unlabeled_at(d), grid, block);
    whitening_ = std::make_unique<Whitening>(c.whiten, g_unl, c.whiten_ridge);
  }
  label_ = fmt::format("h:{}:D={}:{}{}", name_of(c.activation), c.width.text(), name_of(c.whiten), depth);
}

DistMatrix<double> Representation::inputs(Split split, int64_t n, bool constant_column) const {
  if (!network_) {
    DistMatrix<double> u(grid_, n, dim_ + (constant_column ? 1 : 0), block_, block_);
    data_.fill_inputs(split, u, constant_column);
    return u;
  }
  DistMatrix<double> h = whitening_->apply(network_->features(data_, split, n, grid_, block_), single_precision_);
  if (!constant_column) return h;
  DistMatrix<double> u(grid_, n, width_ + 1, block_, block_);
  u.for_each_local([&](int64_t, int64_t j, double& v) { v = j == width_ ? 1.0 : 0.0; });
  linalg::copy_leading_columns(h, u);
  return u;
}

}  // namespace neurep
