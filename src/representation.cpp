#include "neurep/representation.hpp"

#include <fmt/core.h>

#include "neurep/errors.hpp"
#include "neurep/expression.hpp"
#include "neurep/linalg.hpp"

namespace neurep {

Representation::Representation(const RepresentationConfig& config, const Dataset& data,
                               const RandomStreams& streams, const ProcessGrid& grid, int block,
                               bool single_precision)
    : data_(data), grid_(grid), block_(block), single_precision_(single_precision) {
  const int d = data.dim();
  if (config.kind == "none") {
    dim_ = d;
    label_ = "x";
    return;
  }
  if (config.kind != "random")
    throw InputError(fmt::format("representation.kind: unknown kind \"{}\"; accepted: none, random", config.kind));

  const FeatureActivation activation = parse_feature_activation(config.activation);
  const WhitenKind whiten = parse_whiten(config.whiten);
  const std::string depth = config.depth > 1 ? fmt::format(":depth={}", config.depth) : "";
  auto n_unlabeled = [&](int64_t width) {
    const int64_t n = evaluate_size(config.n_unlabeled, d, "representation.n_unlabeled", 0);
    return n == 0 ? 4 * width : n;
  };

  if (config.infinite) {
    if (whiten == WhitenKind::Zca)
      throw InputError("representation.infinite: zca whitening has no closed-form infinite-width limit; "
                       "use whiten = \"center\" or \"none\"");
    kernel_ = std::make_unique<InfiniteKernel>(activation, config.bias, config.depth, d);
    if (whiten == WhitenKind::Center) {
      if (data.config().input == "sphere") {
        kernel_->centre_on_sphere();
      } else {
        const int64_t width = evaluate_size(config.width, d, "representation.width");
        DistMatrix<double> x_unl(grid, n_unlabeled(width), d, block, block);
        data.fill_inputs(Split::Unlabeled, x_unl);
        kernel_->centre_on_sample(std::move(x_unl));
      }
    }
    dim_ = d;
    label_ = fmt::format("h:{}:inf{}{}", config.activation, whiten == WhitenKind::Center ? ":center" : "", depth);
    return;
  }

  width_ = evaluate_size(config.width, d, "representation.width");
  dim_ = width_;
  network_ = std::make_unique<RandomNetwork>(activation, config.bias, width_, config.depth, d, streams);
  if (whiten == WhitenKind::None) {
    whitening_ = std::make_unique<Whitening>(width_);
  } else {
    const DistMatrix<double> g_unl = network_->features(data, Split::Unlabeled, n_unlabeled(width_), grid, block);
    whitening_ = std::make_unique<Whitening>(whiten, g_unl, config.whiten_ridge);
  }
  label_ = fmt::format("h:{}:D={}:{}{}", config.activation, config.width, config.whiten, depth);
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
