#include "neurep/settings.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <cctype>
#include <stdexcept>
#include <type_traits>

#include "neurep/errors.hpp"
#include "neurep/expression.hpp"

namespace neurep {

// One table per enum: the accepted names of its configuration key.
#define NEUREP_ENUM_TABLE(E, ...)                                          \
  template <>                                                              \
  const std::vector<std::pair<const char*, E>>& EnumTable<E>::entries() {  \
    static const std::vector<std::pair<const char*, E>> table = __VA_ARGS__; \
    return table;                                                          \
  }                                                                        \
  template E parse_enum<E>(const std::string&, const std::string&);

template <typename E>
E parse_enum(const std::string& key, const std::string& text) {
  for (const auto& [name, v] : EnumTable<E>::entries())
    if (text == name) return v;
  throw InputError(fmt::format("{}: unknown value \"{}\"; accepted: {}", key, text, fmt::join(names_of<E>(), ", ")));
}

NEUREP_ENUM_TABLE(InputDistribution, {{"sphere", InputDistribution::Sphere}, {"gaussian", InputDistribution::Gaussian}})
NEUREP_ENUM_TABLE(FeatureActivation, {{"step", FeatureActivation::Step},
                                      {"relu", FeatureActivation::Relu},
                                      {"tanh", FeatureActivation::Tanh},
                                      {"erf", FeatureActivation::Erf},
                                      {"quadratic", FeatureActivation::Quadratic},
                                      {"cubic", FeatureActivation::Cubic}})
NEUREP_ENUM_TABLE(WhitenKind, {{"zca", WhitenKind::Zca}, {"center", WhitenKind::Center}, {"none", WhitenKind::None}})
NEUREP_ENUM_TABLE(LearnerKind,
                  {{"kernel", LearnerKind::Kernel}, {"taylor", LearnerKind::Taylor}, {"linear", LearnerKind::Linear}})
NEUREP_ENUM_TABLE(KernelKind, {{"ntk", KernelKind::Ntk},
                               {"ntk-full", KernelKind::NtkFull},
                               {"nngp", KernelKind::Nngp},
                               {"linear", KernelKind::Linear},
                               {"empirical-ntk", KernelKind::EmpiricalNtk}})
NEUREP_ENUM_TABLE(KernelSolver,
                  {{"auto", KernelSolver::Auto},
                   {"cholesky", KernelSolver::Cholesky},
                   {"eigen", KernelSolver::Eigen},
                   {"mixed", KernelSolver::Mixed},
                   {"pcg", KernelSolver::Pcg}})
NEUREP_ENUM_TABLE(RidgeSelection, {{"none", RidgeSelection::None},
                                   {"loo", RidgeSelection::LeaveOneOut},
                                   {"validation", RidgeSelection::Validation}})
NEUREP_ENUM_TABLE(TaylorOrder, {{"1", TaylorOrder::Linear}, {"2", TaylorOrder::Quadratic}, {"full", TaylorOrder::Full}})
NEUREP_ENUM_TABLE(Activation, {{"quadratic", Activation::Quadratic},
                               {"relu2", Activation::Relu2},
                               {"relu", Activation::Relu},
                               {"tanh", Activation::Tanh},
                               {"softplus", Activation::Softplus}})
NEUREP_ENUM_TABLE(OutputSigns, {{"balanced", OutputSigns::Balanced}, {"random", OutputSigns::Random}})
NEUREP_ENUM_TABLE(Schedule,
                  {{"constant", Schedule::Constant}, {"cosine", Schedule::Cosine}, {"linear", Schedule::Linear}})
NEUREP_ENUM_TABLE(Precision, {{"double", Precision::Double}, {"single", Precision::Single}})

#undef NEUREP_ENUM_TABLE

SizeExpr::SizeExpr(std::string text, const std::vector<int>& dims, std::string key, int64_t min)
    : text_(std::move(text)), key_(std::move(key)), min_(min) {
  try {
    (void)evaluate_expression(text_, 16.0);  // the syntax, even without dims
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", key_, e.what()));
  }
  for (int d : dims) values_[d] = evaluate_size(text_, d, key_, min_);
}

int64_t SizeExpr::at(int d) const {
  const auto it = values_.find(d);
  return it != values_.end() ? it->second : evaluate_size(text_, d, key_, min_);
}

GridRequest parse_grid_request(const std::string& spec) {
  GridRequest g;
  if (spec == "auto") return g;
  g.automatic = false;
  const auto x = spec.find('x');
  try {
    if (x == std::string::npos) throw std::invalid_argument("no x");
    size_t p1 = 0, p2 = 0;
    g.rows = std::stoi(spec.substr(0, x), &p1);
    g.cols = std::stoi(spec.substr(x + 1), &p2);
    if (p1 != x || p2 != spec.size() - x - 1 || !std::isdigit(static_cast<unsigned char>(spec[0])) ||
        !std::isdigit(static_cast<unsigned char>(spec[x + 1])))
      throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw InputError(fmt::format("run.grid: '{}' is not \"auto\" or \"PrxPc\" (e.g. \"2x2\")", spec));
  }
  if (g.rows < 1 || g.cols < 1 || g.rows > 1 << 20 || g.cols > 1 << 20)
    throw InputError(fmt::format("run.grid: '{}': Pr and Pc must be positive", spec));
  return g;
}

std::string grid_request_name(const GridRequest& g) {
  return g.automatic ? "auto" : fmt::format("{}x{}", g.rows, g.cols);
}

const NetworkConfig* LearnerConfig::network() const {
  if (const auto* t = taylor()) return &t->network;
  if (const auto* k = kernel(); k && k->kernel == KernelKind::EmpiricalNtk) return &k->network;
  return nullptr;
}

std::vector<LearnerConfig> learner_candidates(const LearnerConfig& l) {
  std::vector<LearnerConfig> out;
  const NetworkConfig* network = l.network();
  const TaylorLearnerConfig* taylor = l.taylor();
  const size_t widths = network ? network->widths.size() : 1;
  const size_t regs = taylor ? taylor->regularizers.size() : 1;
  const size_t rates = taylor ? taylor->learning_rates.size() : 1;
  for (size_t w = 0; w < widths; ++w)
    for (size_t r = 0; r < regs; ++r)
      for (size_t e = 0; e < rates; ++e) {
        LearnerConfig c = l;
        std::visit([&](auto& m) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(m)>, LinearLearnerConfig>)
            if (network) m.network.widths = {network->widths[w]};
        }, c.method);
        if (auto* t = std::get_if<TaylorLearnerConfig>(&c.method)) {
          t->regularizers = {taylor->regularizers[r]};
          t->learning_rates = {taylor->learning_rates[e]};
        }
        out.push_back(std::move(c));
      }
  return out;
}

std::vector<int64_t> doubling_ladder(int64_t n_min, int64_t n_max) {
  std::vector<int64_t> out;
  for (int64_t n = n_min; n < n_max; n *= 2) out.push_back(n);
  out.push_back(n_max);
  return out;
}

std::vector<int> Config::dims() const {
  return sweep.dims.empty() ? std::vector<int>{data.dim} : sweep.dims;
}

}  // namespace neurep
