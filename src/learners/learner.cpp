#include "neurep/learner.hpp"

#include <cmath>
#include <stdexcept>
#include <utility>

#include "neurep/kernel_learner.hpp"
#include "neurep/linear_learner.hpp"
#include "neurep/taylor_learner.hpp"

namespace neurep {

int64_t smallest_finite(const std::vector<double>& values) {
  int64_t best = -1;
  for (size_t i = 0; i < values.size(); ++i)
    if (std::isfinite(values[i]) && (best < 0 || values[i] < values[static_cast<size_t>(best)]))
      best = static_cast<int64_t>(i);
  return best;
}

std::unique_ptr<Learner> make_learner(const Config& config) {
  // The registry: one line per learner.kind.
  static const std::vector<std::pair<LearnerKind, std::unique_ptr<Learner> (*)(const Config&)>> registry = {
      {LearnerKind::Kernel, make_kernel_learner},
      {LearnerKind::Taylor, make_taylor_learner},
      {LearnerKind::Linear, make_linear_learner},
  };
  for (const auto& [kind, make] : registry)
    if (kind == config.learner.kind()) return make(config);
  throw std::logic_error("make_learner: no learner registered for learner.kind = " + name_of(config.learner.kind()));
}

}  // namespace neurep
